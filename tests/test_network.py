"""Security groups: the rule evaluation (pure), the classic web pair, and what the lab enforces."""

from __future__ import annotations

from typing import Any

import pytest

from ecslab import network
from ecslab.config import LabConfig
from ecslab.network import Rule, SecurityGroup, ingress_allows
from tests.conftest import LabClients, push_app_image


def group(group_id: str, *permissions: dict[str, Any], name: str = "g") -> dict[str, Any]:
    return {"GroupId": group_id, "GroupName": name, "VpcId": "vpc-1", "IpPermissions": list(permissions)}


WEB = group("sg-alb", {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, name="alb")
TASKS = group(
    "sg-tasks", {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": "sg-alb"}]}, name="tasks"
)
DEFAULT = group("sg-default", {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-default"}]}, name="default")


def test_a_rule_from_anywhere_admits_the_internet_on_its_port_only() -> None:
    assert ingress_allows([WEB], 80, source_cidr="0.0.0.0/0") == (True, "allowed by sg-alb (alb) rule tcp 80 from 0.0.0.0/0")
    allowed, why = ingress_allows([WEB], 443, source_cidr="0.0.0.0/0")
    assert not allowed and why == "blocked: no inbound rule of sg-alb (alb) admits tcp 443 from 0.0.0.0/0"


def test_a_group_rule_admits_members_of_that_group_and_nobody_else() -> None:
    assert ingress_allows([TASKS], 8080, source_group_ids=["sg-alb"])[0]
    assert not ingress_allows([TASKS], 8080, source_group_ids=["sg-other"])[0]
    assert not ingress_allows([TASKS], 8080, source_cidr="0.0.0.0/0")[0]
    assert not ingress_allows([TASKS], 8080, source_cidr="172.31.0.0/20")[0]


def test_cidr_rules_admit_sources_they_contain_entirely() -> None:
    vpc_only = group("sg-vpc", {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8999, "IpRanges": [{"CidrIp": "172.31.0.0/16"}]})
    assert ingress_allows([vpc_only], 8080, source_cidr="172.31.16.0/20")[0]  # a subnet of the VPC
    assert ingress_allows([vpc_only], 8080, source_cidr="172.31.16.7")[0]  # one address
    assert not ingress_allows([vpc_only], 8080, source_cidr="0.0.0.0/0")[0]  # the internet is bigger
    assert not ingress_allows([vpc_only], 9000, source_cidr="172.31.16.7")[0]  # port out of range
    assert not ingress_allows([vpc_only], 8080, source_cidr="::/0")[0]  # other IP version


def test_all_traffic_and_ipv6_rules() -> None:
    assert ingress_allows([DEFAULT], 8080, source_group_ids=["sg-default"]) == (
        True,
        "allowed by sg-default (default) rule all traffic from sg-default",
    )
    assert not ingress_allows([DEFAULT], 80, source_cidr="0.0.0.0/0")[0]
    v6 = group("sg-v6", {"IpProtocol": "6", "FromPort": 80, "ToPort": 80, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]})
    assert ingress_allows([v6], 80, source_cidr="::/0")[0]
    assert not ingress_allows([v6], 80, source_cidr="0.0.0.0/0")[0]
    udp = group("sg-udp", {"IpProtocol": "udp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
    assert not ingress_allows([udp], 80, source_cidr="0.0.0.0/0")[0]


def test_any_rule_of_any_group_is_enough_and_no_group_blocks() -> None:
    assert ingress_allows([DEFAULT, WEB], 80, source_cidr="0.0.0.0/0")[1].startswith("allowed by sg-alb")
    assert ingress_allows([], 80, source_cidr="0.0.0.0/0") == (False, "blocked: no security group to admit tcp 80 from 0.0.0.0/0")


def test_permissions_are_normalised_one_rule_per_source() -> None:
    both = SecurityGroup.from_aws(
        group(
            "sg-x",
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
                "UserIdGroupPairs": [{"GroupId": "sg-y"}],
            },
        )
    )
    assert both.ingress == (Rule("sg-x", "tcp", 22, 22, cidr="10.0.0.0/8"), Rule("sg-x", "tcp", 22, 22, source_group_id="sg-y"))
    assert [str(r) for r in both.ingress] == ["tcp 22 from 10.0.0.0/8", "tcp 22 from sg-y"]


def test_web_security_groups_are_the_classic_pair_and_idempotent() -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc_id = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        alb_group, task_group = network.create_web_security_groups(ec2, vpc_id)
        ec2.revoke_security_group_ingress(
            GroupId=alb_group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
        assert network.create_web_security_groups(ec2, vpc_id) == (alb_group, task_group)  # the missing rule is back
        found = network.describe_network(ec2, vpc_id)
        assert ingress_allows(found.groups([alb_group]), 80, source_cidr=network.INTERNET)[0]
        assert ingress_allows(found.groups([task_group]), 8080, source_group_ids=[alb_group])[0]
        assert not ingress_allows(found.groups([task_group]), 8080, source_cidr=network.INTERNET)[0]
        assert [len(found.security_groups[g].ingress) for g in (alb_group, task_group)] == [1, 1]
        # what can reach what, as a table and a picture
        subnet = found.subnets[0]
        balancer = {"name": "web", "subnets": [subnet.subnet_id], "security_groups": [alb_group], "ports": [80]}
        tasks = [
            {"name": "in", "subnet": subnet.subnet_id, "security_groups": [task_group], "port": 8080},
            {"name": "out", "subnet": subnet.subnet_id, "security_groups": [alb_group], "port": 8080},
        ]
        rows = network.reachability(found, load_balancers=[balancer], tasks=tasks)
        assert [(r["from"], r["to"], r["verdict"]) for r in rows] == [
            ("internet", "web:80", "allowed"),
            ("web", "in:8080", "allowed"),
            ("web", "out:8080", "blocked"),
        ]
        pytest.importorskip("matplotlib").use("Agg")
        assert network.plot_network(found, load_balancers=[balancer], tasks=tasks) is not None


def test_the_ec2_adapter_gives_moto_aws_defaults_without_a_lab() -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    from ecslab.lab.moto import ec2 as moto_ec2

    with moto.mock_aws():
        moto_ec2.PATCHES.apply(None)
        try:
            ec2 = boto3.client("ec2", region_name="us-east-1")
            vpc_id = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
            gateways = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])
            assert [g["InternetGatewayId"] for g in gateways["InternetGateways"]] == ["igw-" + vpc_id.split("-", 1)[1]]
            default = ec2.describe_security_groups(
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
            )["SecurityGroups"][0]
            members = [pair["GroupId"] for rule in default["IpPermissions"] for pair in rule.get("UserIdGroupPairs", [])]
            assert members == [default["GroupId"]]
            found = moto_ec2.read_security_groups("us-east-1")
            assert default["GroupId"] in found.groups
        finally:
            moto_ec2.PATCHES.remove()


# -- what the lab enforces: one private lab for these tests ------------------------------------------


@pytest.fixture(scope="module")
def lab(running_isolated_lab: LabConfig) -> LabClients:
    return LabClients(running_isolated_lab)


@pytest.fixture(scope="module")
def image(lab: LabClients) -> str:
    return push_app_image(lab, "network-test")


def get(url: str, timeout: float) -> int | str:
    """The status of GET ``url``, or the name of the error when no answer came."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except urllib.error.URLError as error:
        return type(error.reason).__name__
    except OSError as error:
        return type(error).__name__


def eventually(check: Any, timeout: float = 5) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_the_default_vpc_looks_like_aws(lab: LabClients) -> None:
    found = network.describe_network(lab.ec2)
    assert found.is_default and found.internet_gateway_id and all(s.public for s in found.subnets)
    default = found.default_group()
    assert default is not None and [str(r) for r in default.ingress] == [f"all traffic from {default.group_id}"]


def test_a_listener_admits_the_internet_only_when_the_alb_group_does(lab: LabClients) -> None:
    import time

    from ecslab import elb as elb_tools

    # given: an ALB created without security groups, answering 200 itself
    vpc_id, subnets = elb_tools.default_subnets(lab.ec2)
    balancer = lab.elbv2.create_load_balancer(Name="sg-listener", Subnets=subnets[:2], Type="application")["LoadBalancers"][0]
    lab.elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "hi", "ContentType": "text/plain"},
            }
        ],
    )
    url = elb_tools.listener_url(lab, balancer["LoadBalancerArn"])
    default = network.describe_network(lab.ec2).default_group()
    assert default is not None and balancer["SecurityGroups"] == [default.group_id]  # as on AWS
    # then: the default group admits only its members, so the connection gets no answer
    assert get(url, timeout=1) in ("TimeoutError", "timeout")
    started = time.monotonic()
    assert get(url, timeout=10) == "RemoteDisconnected"
    assert 2 < time.monotonic() - started < 6
    # when: the web group goes on, it answers within a second or so
    alb_group, _ = network.create_web_security_groups(lab.ec2, vpc_id, prefix="listener")
    lab.elbv2.set_security_groups(LoadBalancerArn=balancer["LoadBalancerArn"], SecurityGroups=[alb_group])
    assert eventually(lambda: get(url, timeout=5) == 200)
    # when: its rule is revoked, blocked again; authorized, open again
    permission = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    lab.ec2.revoke_security_group_ingress(GroupId=alb_group, IpPermissions=[permission])
    time.sleep(1.2)
    assert get(url, timeout=1) in ("TimeoutError", "timeout")
    lab.ec2.authorize_security_group_ingress(GroupId=alb_group, IpPermissions=[permission])
    assert eventually(lambda: get(url, timeout=5) == 200)
    lab.elbv2.delete_load_balancer(LoadBalancerArn=balancer["LoadBalancerArn"])


def test_tasks_whose_group_does_not_admit_the_alb_time_out(lab: LabClients, image: str) -> None:
    import time

    from ecslab import ecs as ecs_tools
    from ecslab import elb as elb_tools

    # given: the web pair; an ALB in its group; a target group checked every 5 s
    vpc_id, subnets = elb_tools.default_subnets(lab.ec2)
    alb_group, task_group = network.create_web_security_groups(lab.ec2, vpc_id, prefix="targets")
    balancer = lab.elbv2.create_load_balancer(
        Name="sg-targets", Subnets=subnets[:2], SecurityGroups=[alb_group], Type="application"
    )["LoadBalancers"][0]
    group = lab.elbv2.create_target_group(
        Name="sg-targets",
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc_id,
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=2,
    )["TargetGroups"][0]
    lab.elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )
    url = elb_tools.listener_url(lab, balancer["LoadBalancerArn"])
    lab.ecs.create_cluster(clusterName="sg")
    definition = lab.ecs.register_task_definition(
        **ecs_tools.task_definition("sg", image, execution_role_arn=lab.execution_role_arn)
    )["taskDefinition"]["taskDefinitionArn"]

    def service(name: str, awsvpc: dict[str, Any]) -> None:
        lab.ecs.create_service(
            cluster="sg",
            serviceName=name,
            taskDefinition=definition,
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": subnets[:1], **awsvpc}},
            healthCheckGracePeriodSeconds=300,
            loadBalancers=[{"targetGroupArn": group["TargetGroupArn"], "containerName": "web", "containerPort": 8080}],
        )

    try:
        # when: a task in the default group (admits only its own members, not the ALB's group)
        service("closed", {})
        rows = eventually(
            lambda: [r for r in elb_tools.target_health(lab.elbv2, group["TargetGroupArn"]) if r["state"] == "unhealthy"],
            timeout=40,
        )
        # then: its health checks time out, and a request the ALB sends there (failing open) gets 504
        assert [r["reason"] for r in rows] == ["Target.Timeout"]
        assert get(url + "/", timeout=10) == 504
        # when: a task in the task group, with no public IP
        service("open", {"securityGroups": [task_group], "assignPublicIp": "DISABLED"})
        assert eventually(
            lambda: elb_tools.healthy_count(elb_tools.target_health(lab.elbv2, group["TargetGroupArn"])) == 1, timeout=40
        )
        # then: requests reach it through the ALB, never the closed one; it cannot be called directly
        assert {get(url + "/", timeout=5) for _ in range(6)} == {200}
        task = ecs_tools.service_tasks(lab.ecs, "sg", "open")[0]
        with pytest.raises(ValueError, match="no public IP.*load balancer"):
            ecs_tools.call_task(task, ec2=lab.ec2)
        assert [d["name"] for a in task["attachments"] for d in a["details"]] == [
            "subnetId",
            "networkInterfaceId",
            "macAddress",
            "privateDnsName",
            "privateIPv4Address",
        ]
        # when: the task group's rule is revoked, its target times out too
        lab.ec2.revoke_security_group_ingress(
            GroupId=task_group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": alb_group}]}],
        )
        assert eventually(
            lambda: {r["reason"] for r in elb_tools.target_health(lab.elbv2, group["TargetGroupArn"])} == {"Target.Timeout"},
            timeout=40,
        )
    finally:
        for name in ("closed", "open"):
            try:
                lab.ecs.delete_service(cluster="sg", service=name, force=True)
            except Exception:
                pass
        deadline = time.monotonic() + 20
        while lab.ecs.list_tasks(cluster="sg")["taskArns"] and time.monotonic() < deadline:
            time.sleep(0.2)
        lab.elbv2.delete_load_balancer(LoadBalancerArn=balancer["LoadBalancerArn"])
