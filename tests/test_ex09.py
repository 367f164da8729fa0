"""The checkers of exercise 09 pass right answers and fail wrong ones with useful messages.

Given local images and names of the tests' own (``t09-...``, never the exercise's), when a checker runs a learner's
function, then it passes or names what to change, and leaves nothing behind either way. 9.1 and 9.3 run real tasks
behind a real listener (seconds each); 9.2 pushes to a real registry. The rules of 9.1 and the lifecycle policies of
9.2 are also judged without a lab, from plain data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ecslab
from ecslab import ecr as ecr_tools
from ecslab import network
from ecslab.checks import CheckFailed, NotDone, ex09, setup

REPOSITORY = "t09-app"


def nothing_left(lab: ecslab.Lab, prefix: str) -> bool:
    clusters = setup.clusters_with_prefix(lab, prefix)
    balancers = [b for b in lab.elbv2.describe_load_balancers()["LoadBalancers"] if b["LoadBalancerName"].startswith(prefix)]
    groups = [g for g in lab.elbv2.describe_target_groups()["TargetGroups"] if g["TargetGroupName"].startswith(prefix)]
    security_groups = [g for g in lab.ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith(prefix)]
    definitions = lab.ecs.list_task_definitions(familyPrefix=prefix, status="ACTIVE")["taskDefinitionArns"]
    repositories = [r for r in lab.ecr.describe_repositories()["repositories"] if r["repositoryName"].startswith(prefix)]
    local = [tag for image in lab.docker.api.images() for tag in image.get("RepoTags") or [] if tag.startswith(prefix)]
    return (
        not clusters
        and not balancers
        and not groups
        and not security_groups
        and not definitions
        and not repositories
        and not local
    )


# -- 9.1 without a lab: the rules, read exactly ----------------------------------------------------


def group(group_id: str, *permissions: dict[str, Any]) -> dict[str, Any]:
    return {"GroupId": group_id, "GroupName": group_id, "IpPermissions": list(permissions)}


def tcp(port: int, cidr: str | None = None, source: str | None = None, to_port: int | None = None) -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": to_port or port}
    if cidr:
        permission["IpRanges"] = [{"CidrIp": cidr}]
    if source:
        permission["UserIdGroupPairs"] = [{"GroupId": source}]
    return permission


RIGHT_ALB = group("sg-alb", tcp(80, cidr="0.0.0.0/0"))
RIGHT_TASKS = group("sg-tasks", tcp(8080, source="sg-alb"))


def test_the_pairs_rules_are_right() -> None:
    assert ex09.rules_problem(RIGHT_ALB, RIGHT_TASKS) is None
    with_ipv6 = group("sg-alb", {**tcp(80, cidr="0.0.0.0/0"), "Ipv6Ranges": [{"CidrIpv6": "::/0"}]})
    assert ex09.rules_problem(with_ipv6, RIGHT_TASKS) is None


@pytest.mark.parametrize(
    "alb, tasks, message",
    [
        (group("sg-alb"), RIGHT_TASKS, "admits no TCP 80 from anywhere"),
        (group("sg-alb", tcp(80, cidr="10.0.0.0/8")), RIGHT_TASKS, "admits no TCP 80 from anywhere"),
        (group("sg-alb", tcp(80, cidr="0.0.0.0/0"), tcp(22, cidr="0.0.0.0/0")), RIGHT_TASKS, "also admits tcp 22"),
        (RIGHT_ALB, group("sg-tasks", tcp(8080, cidr="0.0.0.0/0")), "anyone on the internet could call a task directly"),
        (RIGHT_ALB, group("sg-tasks", tcp(8080, source="sg-alb"), tcp(8080, cidr="172.31.0.0/16")), "anything in 172.31.0.0/16"),
        (RIGHT_ALB, group("sg-tasks"), "admits no TCP 8080 from the load balancer's group"),
        (RIGHT_ALB, group("sg-tasks", tcp(8080, source="sg-other")), "it names sg-other instead"),
        (RIGHT_ALB, group("sg-tasks", {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-alb"}]}), "all traffic"),
        (RIGHT_ALB, group("sg-tasks", tcp(0, source="sg-alb", to_port=65535)), "more than the app needs"),
        (RIGHT_ALB, group("sg-tasks", tcp(8080, source="sg-alb"), tcp(8080, source="sg-tasks")), "also admits tcp 8080"),
    ],
    ids=[
        "alb-closed",
        "alb-private-range",
        "alb-ssh",
        "tasks-open",
        "tasks-vpc-range",
        "tasks-closed",
        "tasks-other-group",
        "tasks-all-traffic",
        "tasks-all-ports",
        "tasks-self",
    ],
)
def test_wrong_rules_are_named(alb: dict[str, Any], tasks: dict[str, Any], message: str) -> None:
    problem = ex09.rules_problem(alb, tasks)
    assert problem is not None and message in problem


# -- 9.2 without a lab: the lifecycle policy, evaluated ----------------------------------------------


def lifecycle(*rules: dict[str, Any]) -> str:
    return json.dumps({"rules": [{"rulePriority": number, **rule} for number, rule in enumerate(rules, 1)]})


def untagged(count_type: str = "sinceImagePushed", number: int = 7) -> dict[str, Any]:
    selection: dict[str, Any] = {"tagStatus": "untagged", "countType": count_type, "countNumber": number}
    if count_type != "imageCountMoreThan":
        selection["countUnit"] = "days"
    return {"selection": selection, "action": {"type": "expire"}}


def releases(count_type: str = "imageCountMoreThan", number: int = 5, **tags: Any) -> dict[str, Any]:
    selection: dict[str, Any] = {"tagStatus": "tagged", "countType": count_type, "countNumber": number}
    selection |= tags or {"tagPrefixList": ["v"]}
    if count_type != "imageCountMoreThan":
        selection["countUnit"] = "days"
    return {"selection": selection, "action": {"type": "expire"}}


def test_the_right_policy_passes_however_it_is_written() -> None:
    assert ex09.policy_problem(ex09.EXPECTED_POLICY) is None
    assert ex09.policy_problem(lifecycle(releases(), untagged())) is None  # the other order: the rules select apart
    assert ex09.policy_problem(lifecycle(untagged(), releases(tagPatternList=["v*"]))) is None


@pytest.mark.parametrize(
    "policy, message",
    [
        ("{not json", "ECR would refuse"),
        (lifecycle(untagged()), "keeps release v"),
        (lifecycle(releases()), "keeps an untagged image pushed 30 days ago"),
        (lifecycle(untagged(number=6), releases()), "delete an untagged image pushed 6.5 days ago"),
        (lifecycle(untagged(number=8), releases()), "keeps an untagged image pushed 7.5 days ago"),
        (lifecycle(untagged("imageCountMoreThan", 3), releases()), "in a busy week"),
        (lifecycle(untagged(), releases(number=4)), "delete release v4"),
        (lifecycle(untagged(), releases("sinceImagePushed", 50)), "would delete release v4"),
        (lifecycle(untagged(), releases(tagPrefixList=["v", "dev"])), "keeps release v"),
        (
            lifecycle(
                untagged(),
                {
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5},
                    "action": {"type": "expire"},
                },
            ),
            "must stay",
        ),
        (
            lifecycle({**untagged(), "action": {"type": "transition", "targetStorageClass": "archive"}}, releases()),
            "would archive",
        ),
    ],
    ids=[
        "not-json",
        "no-release-rule",
        "no-untagged-rule",
        "6-days",
        "8-days",
        "untagged-by-count",
        "keep-4",
        "releases-by-age",
        "dev-is-not-a-release",
        "any-rule",
        "archive",
    ],
)
def test_wrong_policies_are_named(policy: str, message: str) -> None:
    problem = ex09.policy_problem(policy)
    assert problem is not None and message in problem, problem


# -- with a lab ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local(lab: ecslab.Lab) -> Iterator[dict[str, str]]:
    found = ex09.prepare_images(lab, REPOSITORY, show_progress=False)
    yield found
    ex09.clean_up(lab, REPOSITORY)


def create_groups(lab: Any, vpc_id: str, name: str, *, tasks_from: str = "alb") -> tuple[str, str]:
    """A configurable answer to 9.1 (right with the defaults; ``tasks_from="anywhere"`` opens the tasks' group)."""
    alb = lab.ec2.create_security_group(GroupName=f"{name}-alb", Description="alb", VpcId=vpc_id)["GroupId"]
    tasks = lab.ec2.create_security_group(GroupName=f"{name}-tasks", Description="tasks", VpcId=vpc_id)["GroupId"]
    lab.ec2.authorize_security_group_ingress(GroupId=alb, IpPermissions=[tcp(80, cidr="0.0.0.0/0")])
    source = {"source": alb} if tasks_from == "alb" else {"cidr": "0.0.0.0/0"}
    lab.ec2.authorize_security_group_ingress(GroupId=tasks, IpPermissions=[tcp(8080, **source)])
    return alb, tasks


def with_the_helper(lab: Any, vpc_id: str, name: str) -> tuple[str, str]:
    return network.create_web_security_groups(lab.ec2, vpc_id, prefix=name)


def check_groups(answer: Callable[..., Any], lab: ecslab.Lab, name: str) -> Any:
    return ex09.check_security_groups(answer, lab, name=name)


@pytest.mark.lab
def test_right_security_groups_pass(lab: ecslab.Lab, local: dict[str, str]) -> None:
    name = setup.fresh_name("t09-sg")
    passed = check_groups(create_groups, lab, name)
    assert "answered 20 of 20 requests" in passed.message and nothing_left(lab, name)


@pytest.mark.lab
@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda *args: create_groups(*args, tasks_from="anywhere"), "anyone on the internet could call a task directly"),
        (with_the_helper, "not with ecslab's create_web_security_groups"),
        (lambda *args: create_groups(*args)[0], "return the two groups' IDs"),
    ],
    ids=["tasks-open-to-all", "the-helper", "one-id"],
)
def test_wrong_security_groups_are_explained(
    lab: ecslab.Lab, local: dict[str, str], answer: Callable[..., Any], message: str
) -> None:
    name = setup.fresh_name("t09-sg")
    helper = network.create_web_security_groups
    with pytest.raises(CheckFailed, match=message):
        check_groups(answer, lab, name)
    assert network.create_web_security_groups is helper  # given back afterwards
    assert nothing_left(lab, name)


@pytest.mark.lab
def test_the_security_groups_stub_is_not_done(lab: ecslab.Lab, local: dict[str, str]) -> None:
    def stub(lab: Any, vpc_id: str, name: str) -> tuple[str, str]:
        raise NotImplementedError()

    with pytest.raises(NotDone):
        check_groups(stub, lab, setup.fresh_name("t09-sg"))


def publish(
    lab: Any,
    name: str,
    local_images: dict[str, str],
    *,
    mutability: str = "IMMUTABLE",
    policy: str | None = None,
    digests: str = "pushed",
) -> dict[str, str]:
    """A configurable answer to 9.2 (right with the defaults)."""
    uri = lab.ecr.create_repository(repositoryName=name, imageTagMutability=mutability)["repository"]["repositoryUri"]
    if policy != "none":
        lab.ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=policy or ex09.EXPECTED_POLICY)
    login = ecr_tools.get_login(lab.ecr)
    pushed = {
        tag: ecr_tools.push_image(lab.docker, local_images[tag], uri, tag, login, show_progress=False).digest
        for tag in ("v1", "v2")
    }
    return pushed if digests == "pushed" else {"v1": "v1", "v2": "v2"}


def check_release(answer: Callable[..., Any], lab: ecslab.Lab, name: str) -> Any:
    return ex09.check_release_repository(answer, lab, name=name)


@pytest.mark.lab
def test_a_right_release_repository_passes(lab: ecslab.Lab, local: dict[str, str]) -> None:
    name = setup.fresh_name("t09-rel")
    passed = check_release(publish, lab, name)
    assert "a second push of v1 was refused" in passed.message and "cannot be overwritten" in passed.message
    assert nothing_left(lab, name)


@pytest.mark.lab
@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda *args: publish(*args, mutability="MUTABLE"), "tags are MUTABLE"),
        (lambda *args: publish(*args, policy="none"), "no lifecycle policy"),
        (lambda *args: publish(*args, policy=lifecycle(untagged())), "keeps release v"),
        (lambda *args: publish(*args, digests="tags"), "return the pushes' digests"),
    ],
    ids=["mutable", "no-policy", "half-a-policy", "tags-not-digests"],
)
def test_wrong_release_repositories_are_explained(
    lab: ecslab.Lab, local: dict[str, str], answer: Callable[..., Any], message: str
) -> None:
    name = setup.fresh_name("t09-rel")
    with pytest.raises(CheckFailed, match=message):
        check_release(answer, lab, name)
    assert nothing_left(lab, name)


def roll(
    lab: Any,
    cluster: str,
    service: str,
    repository: str,
    tag: str,
    *,
    image: str = "digest",
    wait: bool = True,
    minimum: int | None = None,
) -> str:
    """A configurable answer to 9.3 (right with the defaults; ``image="tag"`` names the image by its tag)."""
    uri = lab.ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    digest = lab.ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"][0]["imageDigest"]
    current = lab.ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
    definition = lab.ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    fields = ("family", "containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities", "executionRoleArn")
    revision = {key: definition[key] for key in fields if key in definition}
    revision["containerDefinitions"][0]["image"] = f"{uri}@{digest}" if image == "digest" else f"{uri}:{tag}"
    arn = lab.ecs.register_task_definition(**revision)["taskDefinition"]["taskDefinitionArn"]
    extra: dict[str, Any] = {}
    if minimum is not None:
        extra["deploymentConfiguration"] = {"minimumHealthyPercent": minimum, "maximumPercent": 100}
    lab.ecs.update_service(cluster=cluster, service=service, taskDefinition=arn, **extra)
    if wait:
        lab.ecs.get_waiter("services_stable").wait(
            cluster=cluster, services=[service], WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    return str(arn)


def check_roll(answer: Callable[..., Any], lab: ecslab.Lab, name: str) -> Any:
    return ex09.check_roll_out(answer, lab, name=name)


@pytest.mark.lab
def test_a_right_rollout_passes(lab: ecslab.Lab, local: dict[str, str]) -> None:
    name = setup.fresh_name("t09-roll")
    passed = check_roll(roll, lab, name)
    assert "no request failed" in passed.message and "run the digest v2 was pushed with" in passed.message
    assert nothing_left(lab, name)


@pytest.mark.lab
@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda *args: roll(*args, image="tag"), "names the image by its tag"),
        (lambda *args: roll(*args, wait=False), "still answered by \\['v1'\\].*services_stable"),
        (lambda *args: roll(*args, minimum=0), "requests failed during your rollout.*minimumHealthyPercent is 0"),
    ],
    ids=["by-tag", "no-wait", "minimum-0"],
)
def test_wrong_rollouts_are_explained(lab: ecslab.Lab, local: dict[str, str], answer: Callable[..., Any], message: str) -> None:
    name = setup.fresh_name("t09-roll")
    with pytest.raises(CheckFailed, match=message):
        check_roll(answer, lab, name)
    assert nothing_left(lab, name)
