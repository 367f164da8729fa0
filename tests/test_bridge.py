"""Finding the Docker bridge's gateway from each shape of `docker network inspect bridge`."""

from __future__ import annotations

from typing import Any

import pytest

from ecslab.lab.bridge import gateway_from_inspect, interface_ipv4

OPTIONS = {"com.docker.network.bridge.name": "docker0"}


def network(configs: list[dict[str, str]] | None, options: dict[str, str] | None = None) -> dict[str, Any]:
    ipam: dict[str, Any] = {"Driver": "default", "Options": None}
    if configs is not None:
        ipam["Config"] = configs
    return {"Name": "bridge", "IPAM": ipam, "Options": OPTIONS if options is None else options}


def no_interface(name: str) -> str | None:
    return None


def owns_nothing(address: str) -> bool:
    return False


def test_the_gateway_key_wins_when_the_engine_reports_it() -> None:
    attrs = network([{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}])
    assert gateway_from_inspect(attrs, interface_address=no_interface, owns_address=owns_nothing) == "172.17.0.1"


def test_an_ipv6_config_first_is_skipped_for_the_ipv4_gateway() -> None:
    attrs = network(
        [{"Subnet": "fd00:dead:beef::/48", "Gateway": "fd00:dead:beef::1"}, {"Subnet": "10.99.0.0/16", "Gateway": "10.99.0.1"}]
    )
    assert gateway_from_inspect(attrs, interface_address=no_interface, owns_address=owns_nothing) == "10.99.0.1"


def test_an_engine_started_for_the_first_time_has_no_gateway_key_so_the_interface_answers() -> None:
    # what docker.io 20.10.24 reports right after it created its default bridge
    attrs = network([{"Subnet": "172.17.0.0/16"}])
    asked: list[str] = []

    def docker0(name: str) -> str | None:
        asked.append(name)
        return "172.17.0.1"

    assert gateway_from_inspect(attrs, interface_address=docker0, owns_address=owns_nothing) == "172.17.0.1"
    assert asked == ["docker0"]


def test_the_interface_named_in_the_options_is_the_one_read() -> None:
    attrs = network([{"Subnet": "192.168.240.0/20"}], options={"com.docker.network.bridge.name": "br-lab"})
    addresses = {"br-lab": "192.168.240.1", "docker0": "172.17.0.1"}
    assert gateway_from_inspect(attrs, interface_address=addresses.get, owns_address=owns_nothing) == "192.168.240.1"


def test_an_interface_address_outside_the_subnet_is_not_taken() -> None:
    attrs = network([{"Subnet": "172.18.0.0/16"}])
    owned = {"172.18.0.1"}
    assert gateway_from_inspect(attrs, interface_address=lambda name: "10.0.0.5", owns_address=owned.__contains__) == "172.18.0.1"


def test_the_first_host_of_the_subnet_is_taken_only_when_this_machine_owns_it() -> None:
    attrs = network([{"Subnet": "172.17.0.0/16"}], options={})
    assert gateway_from_inspect(attrs, interface_address=no_interface, owns_address={"172.17.0.1"}.__contains__) == "172.17.0.1"
    with pytest.raises(RuntimeError, match="does not own 172.17.0.1, the first host of subnet 172.17.0.0/16"):
        gateway_from_inspect(attrs, interface_address=no_interface, owns_address=owns_nothing)


def test_no_ipam_config_names_all_three_ways_in_the_error() -> None:
    for attrs in (network(None), network([]), {"Name": "bridge"}):
        with pytest.raises(RuntimeError) as raised:
            gateway_from_inspect(attrs, interface_address=no_interface, owns_address=owns_nothing)
        message = str(raised.value)
        assert "IPAM has no Config" in message
        assert "interface docker0 has no IPv4 address here" in message
        assert "the bridge has no IPv4 subnet" in message
        assert "docker network inspect bridge" in message and "ip -4 addr show docker0" in message


def test_reading_an_interface_that_does_not_exist_gives_none() -> None:
    assert interface_ipv4("ecslab-none0") is None
    assert interface_ipv4("lo") == "127.0.0.1"
