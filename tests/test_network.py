"""Security groups: the rule evaluation (pure), the classic web pair, and what the lab enforces."""

from __future__ import annotations

from typing import Any

import pytest

from ecslab import network
from ecslab.network import Rule, SecurityGroup, ingress_allows


def group(group_id: str, *permissions: dict[str, Any], name: str = "g") -> dict[str, Any]:
    return {"GroupId": group_id, "GroupName": name, "VpcId": "vpc-1", "IpPermissions": list(permissions)}


WEB = group("sg-alb", {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, name="alb")
TASKS = group("sg-tasks", {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": "sg-alb"}]}, name="tasks")
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
    assert ingress_allows([DEFAULT], 8080, source_group_ids=["sg-default"]) == (True, "allowed by sg-default (default) rule all traffic from sg-default")
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
    both = SecurityGroup.from_aws(group("sg-x", {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                                 "IpRanges": [{"CidrIp": "10.0.0.0/8"}], "UserIdGroupPairs": [{"GroupId": "sg-y"}]}))
    assert both.ingress == (Rule("sg-x", "tcp", 22, 22, cidr="10.0.0.0/8"), Rule("sg-x", "tcp", 22, 22, source_group_id="sg-y"))
    assert [str(r) for r in both.ingress] == ["tcp 22 from 10.0.0.0/8", "tcp 22 from sg-y"]


def test_web_security_groups_are_the_classic_pair_and_idempotent() -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc_id = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        alb_group, task_group = network.create_web_security_groups(ec2, vpc_id)
        ec2.revoke_security_group_ingress(GroupId=alb_group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        assert network.create_web_security_groups(ec2, vpc_id) == (alb_group, task_group)  # the missing rule is back
        found = network.describe_network(ec2, vpc_id)
        assert ingress_allows(found.groups([alb_group]), 80, source_cidr=network.INTERNET)[0]
        assert ingress_allows(found.groups([task_group]), 8080, source_group_ids=[alb_group])[0]
        assert not ingress_allows(found.groups([task_group]), 8080, source_cidr=network.INTERNET)[0]
        assert [len(found.security_groups[g].ingress) for g in (alb_group, task_group)] == [1, 1]
