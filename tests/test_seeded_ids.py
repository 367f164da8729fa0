"""The IDs a fresh lab hands out repeat exactly, from ``ecslab up`` and after ``ecslab reset``.

Stored notebook outputs (VPC, subnet and security-group IDs, IAM role IDs, load balancer and target
group ARNs, ECS deployment IDs) depend on moto's seeded random numbers being drawn in the same order
every time. :data:`FINGERPRINT` was taken at commit 73b8bda, before the lab learned to start its
parts in the background (issue 17): any change to what the lab draws, or when, shows here as a
changed ID. ``python tests/test_seeded_ids.py`` prints the fingerprint of a fresh private lab.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from ecslab.lab import manage
from ecslab.lab.private import PrivateLab

pytestmark = pytest.mark.lab

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


def fingerprint(lab: PrivateLab) -> dict[str, Any]:
    """The IDs of what notebooks 04-07 make first, in their order: default network, a group, roles, ALB, a service."""
    import boto3

    arguments = lab.boto3_arguments()
    ec2, iam, elbv2, ecs = (boto3.client(name, **arguments) for name in ("ec2", "iam", "elbv2", "ecs"))
    found: dict[str, Any] = {}
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    found["default_vpc"] = vpc
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    found["default_subnets"] = sorted(subnet["SubnetId"] for subnet in subnets)
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    found["default_groups"] = sorted(group["GroupId"] for group in groups)
    found["new_group"] = ec2.create_security_group(GroupName="fp-alb", Description="fingerprint", VpcId=vpc)["GroupId"]
    role = iam.create_role(RoleName="fpExecutionRole", AssumeRolePolicyDocument=TRUST)["Role"]
    iam.attach_role_policy(RoleName="fpExecutionRole", PolicyArn=EXECUTION_POLICY)  # AWS's managed policies are loaded
    found["role"] = [role["RoleId"], role["Arn"]]
    found["role_policies"] = [
        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="fpExecutionRole")["AttachedPolicies"]
    ]
    balancer = elbv2.create_load_balancer(
        Name="fp-alb", Subnets=found["default_subnets"][:2], SecurityGroups=[found["new_group"]], Type="application"
    )["LoadBalancers"][0]
    found["load_balancer"] = [balancer["LoadBalancerArn"], balancer["DNSName"]]
    group = elbv2.create_target_group(
        Name="fp-targets", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip", HealthCheckIntervalSeconds=5
    )["TargetGroups"][0]
    found["target_group"] = group["TargetGroupArn"]
    found["cluster"] = ecs.create_cluster(clusterName="fp-cluster")["cluster"]["clusterArn"]
    task_definition = ecs.register_task_definition(
        family="fp-web",
        containerDefinitions=[{"name": "web", "image": "web:1", "memory": 128, "portMappings": [{"containerPort": 8080}]}],
    )["taskDefinition"]["taskDefinitionArn"]
    found["task_definition"] = task_definition
    service = ecs.create_service(cluster="fp-cluster", serviceName="fp-web", taskDefinition=task_definition, desiredCount=0)
    found["deployment"] = service["service"]["deployments"][0]["id"]
    return found


FINGERPRINT: dict[str, Any] = {
    "default_vpc": "vpc-674970f598f70f342",
    "default_subnets": [
        "subnet-2c169f723d13bca7b",
        "subnet-7abb7d8a8ebef84b9",
        "subnet-a713a0ce8b33759df",
        "subnet-be1b6517c270299d8",
        "subnet-ce95b545a9ca8fc72",
        "subnet-ddec45dfc2f9e08ba",
    ],
    "default_groups": ["sg-e28b2c71535256d6f"],
    "new_group": "sg-39922d7544b3c84ac",
    "role": ["AROARZPUZDIKJ47HMJAJB", "arn:aws:iam::123456789012:role/fpExecutionRole"],
    "role_policies": ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"],
    "load_balancer": [
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/fp-alb/9d9a816004397cda",
        "fp-alb-1.us-east-1.elb.amazonaws.com",
    ],
    "target_group": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/fp-targets/70367ec22bef0392",
    "cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/fp-cluster",
    "task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/fp-web:1",
    "deployment": "ecs-svc/465268712200728678",
}
"""Taken from fresh private labs at 73b8bda (twice, the same both times)."""


def test_a_fresh_lab_hands_out_the_ids_it_always_did() -> None:
    # given: a fresh private lab, called right after `up` returns (what a notebook's first cells do)
    with PrivateLab() as lab:
        # when: the first network, IAM, load balancer and ECS objects are made, then the lab is reset and they are made again
        first = fingerprint(lab)
        manage.reset(lab.config, say=lambda _: None)
        again = fingerprint(lab)
    # then: the same IDs as before the lab's start changed, both times
    assert first == FINGERPRINT
    assert again == FINGERPRINT


if __name__ == "__main__":
    with PrivateLab() as running:
        print(json.dumps(fingerprint(running), indent=4))
    sys.exit(0)
