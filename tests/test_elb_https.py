"""HTTPS in the lab's ALB: an ACM certificate from the lab's CA, TLS on the listener, the 80 -> 443 redirect.

The pure parts (redirect ``Location``, TLS versions per policy) are tested without a lab; the rest on
one private lab for the module, through plain boto3 and real TLS handshakes.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecslab import elb as elb_tools
from ecslab.config import LabConfig
from ecslab.lab.elb import redirect_location, tls_versions
from tests.conftest import LabClients

DOMAIN = "shop.example.com"

# -- without a lab ---------------------------------------------------------------------------------------


def test_redirect_to_https_names_the_local_port_of_the_443_listener() -> None:
    config = {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}
    location = redirect_location(config, "HTTP", 80, f"{DOMAIN}:50123", "/cart?item=7", {80: 50123, 443: 50999})
    assert location == f"https://{DOMAIN}:50999/cart?item=7"


def test_redirect_keeps_what_it_does_not_set_and_fills_keywords() -> None:
    config = {"Host": "www.#{host}", "Path": "/new/#{path}", "Query": "#{query}&from=#{port}", "StatusCode": "HTTP_302"}
    location = redirect_location(config, "HTTP", 80, "example.com", "/old?a=1", {})
    assert location == "http://www.example.com:80/new/old?a=1&from=80"
    # a port no listener of the load balancer has stays as it is (nothing in the lab listens there)
    assert redirect_location({"Port": "8443"}, "HTTP", 80, "example.com", "/", {80: 50123}) == "http://example.com:8443/"


def test_tls_versions_follow_the_policy_name() -> None:
    assert tls_versions("ELBSecurityPolicy-TLS13-1-2-2021-06") == (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
    assert tls_versions("ELBSecurityPolicy-TLS13-1-3-2021-06") == (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3)
    assert tls_versions(None) == (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)  # API default ELBSecurityPolicy-2016-08


# -- on a lab --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(running_isolated_lab: LabConfig) -> LabClients:
    return LabClients(running_isolated_lab)


def _issued_certificate(lab: LabClients, domain: str) -> str:
    acm = lab.client("acm")
    arn = str(acm.request_certificate(DomainName=domain, ValidationMethod="DNS")["CertificateArn"])
    acm.get_waiter("certificate_validated").wait(CertificateArn=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return arn


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = f"proto={self.headers.get('X-Forwarded-Proto')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def https_stack(lab: LabClients) -> Iterator[dict[str, Any]]:
    """An ALB admitting 80 and 443 from anywhere; HTTPS 443 forwarding to a tiny server here; HTTP 80 redirecting."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    vpc, subnets = elb_tools.default_subnets(lab.ec2)
    group = lab.ec2.create_security_group(GroupName="https-alb", Description="80 and 443 from anywhere", VpcId=vpc)["GroupId"]
    lab.ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]} for port in (80, 443)
        ],
    )
    balancer = lab.elbv2.create_load_balancer(Name="https", Subnets=subnets[:2], SecurityGroups=[group], Type="application")
    balancer_arn = balancer["LoadBalancers"][0]["LoadBalancerArn"]
    target_group = lab.elbv2.create_target_group(
        Name="https-app", Protocol="HTTP", Port=server.server_address[1], VpcId=vpc, TargetType="ip", HealthCheckIntervalSeconds=5
    )["TargetGroups"][0]["TargetGroupArn"]
    lab.elbv2.register_targets(TargetGroupArn=target_group, Targets=[{"Id": "127.0.0.1", "Port": server.server_address[1]}])
    certificate = _issued_certificate(lab, DOMAIN)
    https = lab.elbv2.create_listener(
        LoadBalancerArn=balancer_arn,
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )["Listeners"][0]
    lab.elbv2.create_listener(
        LoadBalancerArn=balancer_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}],
    )
    deadline = time.monotonic() + 60
    while [row["state"] for row in elb_tools.target_health(lab.elbv2, target_group)] != ["healthy"]:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    yield {
        "balancer": balancer_arn,
        "https": https,
        "certificate": certificate,
        "https_url": elb_tools.listener_url(lab, balancer_arn, 443),
        "http_url": elb_tools.listener_url(lab, balancer_arn, 80),
        "ca": elb_tools.ca_bundle(lab),
    }
    elb_tools.delete_load_balancer(lab.elbv2, "https")
    lab.elbv2.delete_target_group(TargetGroupArn=target_group)
    server.shutdown()
    server.server_close()


@pytest.mark.lab
def test_the_certificate_acm_issued_comes_from_the_lab_ca(lab: LabClients, https_stack: dict[str, Any]) -> None:
    acm = lab.client("acm")
    described = acm.describe_certificate(CertificateArn=https_stack["certificate"])["Certificate"]
    assert described["Status"] == "ISSUED" and described["DomainName"] == DOMAIN
    chain = acm.get_certificate(CertificateArn=https_stack["certificate"])["CertificateChain"]
    with open(https_stack["ca"]) as file:
        assert file.read().strip() in chain


@pytest.mark.lab
def test_https_listener_verifies_with_the_lab_ca_for_its_domain(https_stack: dict[str, Any]) -> None:
    assert https_stack["https_url"].startswith("https://127.0.0.1:")
    reply = elb_tools.request(https_stack["https_url"] + "/", host=DOMAIN, cafile=https_stack["ca"])
    assert (reply.status, reply.body) == (200, "proto=https")


@pytest.mark.lab
def test_https_refuses_a_name_the_certificate_does_not_carry(https_stack: dict[str, Any]) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch|doesn't match"):
        elb_tools.request(https_stack["https_url"], host="other.example.com", cafile=https_stack["ca"])
    with pytest.raises(ssl.SSLCertVerificationError):  # the system's trust store does not know the lab's CA
        elb_tools.request(https_stack["https_url"], host=DOMAIN)


@pytest.mark.lab
def test_tls13_only_policy_refuses_a_tls12_client(lab: LabClients, https_stack: dict[str, Any]) -> None:
    lab.elbv2.modify_listener(ListenerArn=https_stack["https"]["ListenerArn"], SslPolicy="ELBSecurityPolicy-TLS13-1-3-2021-06")
    try:
        url = https_stack["https_url"]
        deadline = time.monotonic() + 10
        while True:  # the lab serves the listener again with its new policy within a loop tick
            url = elb_tools.listener_url(lab, https_stack["balancer"], 443)
            context = ssl.create_default_context(cafile=https_stack["ca"])
            context.maximum_version = ssl.TLSVersion.TLSv1_2
            port = int(url.rsplit(":", 1)[1])
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                    with context.wrap_socket(raw, server_hostname=DOMAIN):
                        pass
            except ssl.SSLError:
                break
            assert time.monotonic() < deadline, "a TLS 1.2 client still connects"
            time.sleep(0.3)
    finally:
        lab.elbv2.modify_listener(
            ListenerArn=https_stack["https"]["ListenerArn"], SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06"
        )


@pytest.mark.lab
def test_http_redirects_to_the_https_listener_the_learner_can_reach(lab: LabClients, https_stack: dict[str, Any]) -> None:
    reply = elb_tools.request(https_stack["http_url"] + "/cart?item=7", host=DOMAIN)
    https_url = elb_tools.listener_url(lab, https_stack["balancer"], 443)
    local_port = https_url.rsplit(":", 1)[1]
    assert (reply.status, reply.reason) == (301, "Moved Permanently")
    assert reply.headers["location"] == f"https://{DOMAIN}:{local_port}/cart?item=7"
    followed = elb_tools.request(reply.headers["location"].replace(DOMAIN, "127.0.0.1", 1), host=DOMAIN, cafile=https_stack["ca"])
    assert followed.status == 200


@pytest.mark.lab
def test_listener_settings_aws_refuses(lab: LabClients, https_stack: dict[str, Any]) -> None:
    actions = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]
    refusals = {
        "no certificate": (
            dict(Protocol="HTTPS", Port=8443),
            "ValidationError",
            "A certificate must be specified for HTTPS listeners",
        ),
        "certificate on HTTP": (
            dict(Protocol="HTTP", Port=8080, Certificates=[{"CertificateArn": https_stack["certificate"]}]),
            "ValidationError",
            "A certificate cannot be specified for HTTP listeners",
        ),
        "unknown policy": (
            dict(
                Protocol="HTTPS",
                Port=8443,
                SslPolicy="ELBSecurityPolicy-Made-Up",
                Certificates=[{"CertificateArn": https_stack["certificate"]}],
            ),
            "SSLPolicyNotFound",
            "ELBSecurityPolicy-Made-Up",
        ),
        "missing certificate": (
            dict(Protocol="HTTPS", Port=8443, Certificates=[{"CertificateArn": https_stack["certificate"][:-4] + "0000"}]),
            "CertificateNotFound",
            "not found",
        ),
    }
    for what, (settings, code, words) in refusals.items():
        with pytest.raises(ClientError) as refused:
            lab.elbv2.create_listener(LoadBalancerArn=https_stack["balancer"], DefaultActions=actions, **settings)
        assert refused.value.response["Error"]["Code"] == code, what
        assert words in refused.value.response["Error"]["Message"], what
    listeners = lab.elbv2.describe_listeners(LoadBalancerArn=https_stack["balancer"])["Listeners"]
    http_listener = next(entry["ListenerArn"] for entry in listeners if entry["Port"] == 80)
    with pytest.raises(ClientError, match="A certificate must be specified for HTTPS listeners"):
        lab.elbv2.modify_listener(ListenerArn=http_listener, Protocol="HTTPS", Port=80)
    assert sorted(entry["Port"] for entry in listeners) == [80, 443]
    assert {entry["Port"]: entry.get("SslPolicy") for entry in listeners} == {
        80: None,
        443: "ELBSecurityPolicy-TLS13-1-2-2021-06",
    }


@pytest.mark.lab
def test_a_rule_added_a_moment_ago_admits_at_once(lab: LabClients, https_stack: dict[str, Any]) -> None:
    """The lab's copy of the security groups may be a second old; a refusal is re-checked against moto first
    (notebook 06 opens port 443 and shakes hands in the next cell)."""
    group = lab.elbv2.describe_load_balancers(LoadBalancerArns=[https_stack["balancer"]])["LoadBalancers"][0]["SecurityGroups"][0]
    url = elb_tools.listener_url(lab, https_stack["balancer"], 443)  # a changed policy is served again on a new local port
    rule = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    lab.ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=rule)
    try:
        time.sleep(1.2)  # older than the lab's copy may be: the next connection reads the groups without 443
        with pytest.raises((TimeoutError, ssl.SSLError, OSError)):
            elb_tools.request(url, host=DOMAIN, cafile=https_stack["ca"], timeout=0.5)
    finally:
        lab.ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=rule)
    reply = elb_tools.request(url + "/", host=DOMAIN, cafile=https_stack["ca"])
    assert reply.status == 200
