"""Each awsvpc task's own address (its ENI's public IP) and the security groups enforced on it (issue 14 item 13).

Fast tests for the address pool and the gates; lab tests for what a learner sees: the public IP in
``describe_network_interfaces``, the app on its container port, a timeout where the groups do not admit the
learner, no public IP without ``assignPublicIp=ENABLED``, no ``networkBindings`` (as AWS reports awsvpc tasks).
"""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ecslab import ecs as ecs_tools
from ecslab.config import LabConfig
from ecslab.lab import manage, task_network
from ecslab.lab.task_network import ADDRESS_LOCKS, POOL, AddressPool, Gate, TaskNetwork
from tests.conftest import LabClients, push_app_image

# -- the address pool -------------------------------------------------------------------------------------


def test_two_labs_never_share_an_address_and_a_freed_one_is_free_again() -> None:
    first, second = AddressPool(aliases=True), AddressPool(aliases=True)
    second.cursor = first.cursor  # both start at the same address: the lock files must keep them apart
    try:
        mine = [first.claim() for _ in range(3)]
        theirs = [second.claim() for _ in range(3)]
        assert not set(mine) & set(theirs)
        for address in mine + theirs:
            assert address not in ("127.0.0.1", "127.0.1.1") and socket.inet_aton(address)
            assert address.split(".")[-1] not in ("0", "255") and int.from_bytes(socket.inet_aton(address), "big") in range(
                int(POOL.network_address), int(POOL.broadcast_address) + 1
            )
        first.release(mine[0])
        assert not (ADDRESS_LOCKS / f"{mine[0]}.lock").exists()
        second.cursor = first.cursor = int.from_bytes(socket.inet_aton(mine[0]), "big") - int(POOL.network_address)
        assert second.claim() == mine[0]  # freed: another lab may have it now
    finally:
        first.release_all()
        second.release_all()


def test_without_loopback_aliases_every_task_shares_127_0_0_1() -> None:
    assert AddressPool(aliases=False).claim() == "127.0.0.1"
    aliases, says = task_network.loopback_aliases()
    doctor = manage.check_task_addresses()
    assert doctor.ok and str(POOL) == manage.TASK_ADDRESS_POOL
    assert (str(POOL) in doctor.detail) == aliases == (str(POOL) in says)  # Linux: True; macOS without an alias: False


# -- the gate ---------------------------------------------------------------------------------------------


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b'{"hello": "world"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[tuple[str, int]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "127.0.0.1", int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_a_closed_gate_times_out_like_a_security_group_and_an_open_one_relays(upstream: tuple[str, int]) -> None:
    network = TaskNetwork("us-east-1", rules=object(), aliases=(True, "test"))  # type: ignore[arg-type]
    address = network.pool.claim()
    gate = Gate("arn:task", "eni-1", address, 8080, 8080, upstream)
    try:
        network._set(gate, False, "blocked")
        started = time.monotonic()
        with pytest.raises(urllib.error.URLError) as dropped:
            urllib.request.urlopen(f"http://{address}:8080/", timeout=1)
        assert isinstance(dropped.value.reason, TimeoutError) and time.monotonic() - started >= 0.9  # no refusal
        network._set(gate, True, "allowed")
        with urllib.request.urlopen(f"http://{address}:8080/", timeout=5) as answer:
            assert answer.read() == b'{"hello": "world"}'
        network._set(gate, False, "blocked again")
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://{address}:8080/", timeout=1)
        assert gate.relayed == 1
    finally:
        network._shut(gate)
        network.stop()
    assert not (ADDRESS_LOCKS / f"{address}.lock").exists()


def test_an_address_another_program_holds_is_said_and_tried_again(upstream: tuple[str, int]) -> None:
    network = TaskNetwork("us-east-1", rules=object(), aliases=(True, "test"))  # type: ignore[arg-type]
    address = network.pool.claim()
    gate = Gate("arn:task", "eni-1", address, 8080, 8080, upstream)
    squatter = socket.socket()
    squatter.bind((address, 8080))
    squatter.listen(1)
    try:
        network._try_set(gate, True, "allowed")
        assert not gate.listening and "cannot listen on" in gate.why and "load balancer" in gate.why
        squatter.close()
        network._try_set(gate, True, "allowed")
        assert gate.listening and gate.open
    finally:
        squatter.close()
        network._shut(gate)
        network.stop()


# -- in the lab ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def task_addresses_on() -> Iterator[None]:
    """The lab this module starts gives awsvpc tasks their own address (read by the lab process at start)."""
    before = os.environ.get(task_network.SWITCH)
    os.environ[task_network.SWITCH] = "on"
    yield
    if before is None:
        os.environ.pop(task_network.SWITCH, None)
    else:
        os.environ[task_network.SWITCH] = before


@pytest.fixture(scope="module")
def lab(task_addresses_on: None, running_isolated_lab: LabConfig) -> LabClients:
    return LabClients(running_isolated_lab)


@pytest.fixture(scope="module")
def setup(lab: LabClients) -> dict[str, str]:
    image = push_app_image(lab, "eni-test")
    lab.ecs.create_cluster(clusterName="eni")
    definition = lab.ecs.register_task_definition(
        **ecs_tools.task_definition("eni", image, execution_role_arn=lab.execution_role_arn)
    )
    subnet = lab.default_subnets(1)[0]
    vpc = lab.ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    public = lab.ec2.create_security_group(GroupName="eni-public", Description="8080 from anywhere", VpcId=vpc)["GroupId"]
    lab.ec2.authorize_security_group_ingress(
        GroupId=public,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    closed = lab.ec2.create_security_group(GroupName="eni-closed", Description="no inbound rule", VpcId=vpc)["GroupId"]
    return {
        "definition": definition["taskDefinition"]["taskDefinitionArn"],
        "subnet": subnet,
        "public": public,
        "closed": closed,
    }


def run(lab: LabClients, setup: dict[str, str], group: str, public_ip: str = "ENABLED") -> dict[str, Any]:
    awsvpc = {"subnets": [setup["subnet"]], "securityGroups": [setup[group]], "assignPublicIp": public_ip}
    arn = lab.ecs.run_task(
        cluster="eni",
        taskDefinition=setup["definition"],
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": awsvpc},
    )["tasks"][0]["taskArn"]
    lab.ecs.get_waiter("tasks_running").wait(cluster="eni", tasks=[arn], WaiterConfig={"Delay": 0.5, "MaxAttempts": 120})
    return dict(lab.ecs.describe_tasks(cluster="eni", tasks=[arn])["tasks"][0])


def stop(lab: LabClients, task: dict[str, Any]) -> dict[str, Any]:
    lab.ecs.stop_task(cluster="eni", task=task["taskArn"])
    lab.ecs.get_waiter("tasks_stopped").wait(
        cluster="eni", tasks=[task["taskArn"]], WaiterConfig={"Delay": 0.5, "MaxAttempts": 120}
    )
    return dict(lab.ecs.describe_tasks(cluster="eni", tasks=[task["taskArn"]])["tasks"][0])


@pytest.mark.lab
def test_an_awsvpc_task_answers_on_its_enis_public_ip_at_the_container_port(lab: LabClients, setup: dict[str, str]) -> None:
    task = run(lab, setup, "public")
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    # then: AWS's shapes, and no host port binding
    assert set(details) >= {"subnetId", "networkInterfaceId", "macAddress", "privateIPv4Address"}
    container = task["containers"][0]
    assert container.get("networkBindings", []) == []
    assert container["networkInterfaces"] == [
        {"attachmentId": task["attachments"][0]["id"], "privateIpv4Address": details["privateIPv4Address"]}
    ]
    interface = lab.ec2.describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])["NetworkInterfaces"][0]
    public_ip = interface["Association"]["PublicIp"]
    assert public_ip.startswith("127.") and public_ip not in ("127.0.0.1", "127.0.1.1")
    assert ecs_tools.task_url(task, ec2=lab.ec2) == f"http://{public_ip}:8080"
    assert ecs_tools.call_task(task, ec2=lab.ec2, timeout=15)["version"] == "v1"
    # and ecslab status says where, and how the lab gives addresses
    addresses = manage.status(lab.config).to_dict()["task_addresses"]
    assert str(POOL) in addresses["says"] and addresses["tasks"][task["taskArn"]]["public_ip"] == public_ip
    assert addresses["tasks"][task["taskArn"]]["gates"][0]["open"] is True
    # when it stops: the interface goes, the address is free again
    stopped = stop(lab, task)
    assert stopped["attachments"][0]["status"] == "DELETED"
    assert not lab.ec2.describe_network_interfaces(
        Filters=[{"Name": "network-interface-id", "Values": [details["networkInterfaceId"]]}]
    )["NetworkInterfaces"]
    assert not (ADDRESS_LOCKS / f"{public_ip}.lock").exists()


@pytest.mark.lab
def test_a_task_whose_groups_do_not_admit_the_learner_does_not_answer(lab: LabClients, setup: dict[str, str]) -> None:
    task = run(lab, setup, "closed")
    public_ip = ecs_tools.task_address(task, lab.ec2)["public_ip"]
    with pytest.raises(ValueError, match="admit no TCP port 8080 from the internet.*inbound rule.*load balancer"):
        ecs_tools.task_url(task, ec2=lab.ec2)
    with pytest.raises(urllib.error.URLError) as dropped:  # dropped, as AWS drops it: a timeout, no refusal
        urllib.request.urlopen(f"http://{public_ip}:8080/", timeout=1.5)
    assert isinstance(dropped.value.reason, TimeoutError)
    # the lab's internal path (its load balancer's) still reaches it
    with urllib.request.urlopen(ecs_tools.lab_internal_task_url(task, config=lab.config) + "/health", timeout=10) as answer:
        assert answer.status == 200
    # an inbound rule opens it within about a second
    lab.ec2.authorize_security_group_ingress(
        GroupId=setup["closed"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    try:
        assert ecs_tools.call_task(task, ec2=lab.ec2, timeout=15)["version"] == "v1"
    finally:
        lab.ec2.revoke_security_group_ingress(
            GroupId=setup["closed"],
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
        stop(lab, task)


@pytest.mark.lab
def test_no_public_ip_without_assign_public_ip_enabled(lab: LabClients, setup: dict[str, str]) -> None:
    task = run(lab, setup, "public", public_ip="DISABLED")
    try:
        assert ecs_tools.task_address(task, lab.ec2)["public_ip"] is None
        assert task["containers"][0].get("networkBindings", []) == []
        with pytest.raises(ValueError, match="no public IP.*assignPublicIp.*ENABLED.*load balancer"):
            ecs_tools.task_url(task, ec2=lab.ec2)
    finally:
        stop(lab, task)
