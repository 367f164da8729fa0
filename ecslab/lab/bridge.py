"""The address at which containers on Docker's default bridge reach this machine.

Containers call it ``host.docker.internal`` (``--add-host host.docker.internal:host-gateway``);
on Linux it is the bridge's gateway, 172.17.0.1 by default. The lab's task-role gateway listens
there and nowhere else off loopback.

``docker network inspect bridge`` does not always say it: an engine that has just created its
default bridge reports ``IPAM.Config = [{"Subnet": "172.17.0.0/16"}]`` with no ``Gateway`` key,
while the bridge's interface (``docker0``) already has ``172.17.0.1/16``. An engine that was
restarted, or configured with ``bip``, shows the key. So the address is found in three ways, in
this order:

1. IPAM's ``Gateway`` (IPv4) when the engine reports it;
2. the IPv4 address of the bridge's interface (``com.docker.network.bridge.name``, usually
   ``docker0``), read from this machine's kernel;
3. the first host of the bridge's IPv4 subnet, when this machine owns that address.

When none gives an address, the error names all three and what each found.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping
from typing import Any

DEFAULT_INTERFACE = "docker0"


def interface_ipv4(name: str) -> str | None:
    """The IPv4 address of network interface ``name`` on this machine, or ``None`` (Linux only)."""
    try:
        import fcntl
        import struct
    except ImportError:  # not Linux: the bridge lives in Docker Desktop's VM
        return None
    siocgifaddr = 0x8915
    request = struct.pack("256s", name.encode()[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            answer = fcntl.ioctl(probe.fileno(), siocgifaddr, request)
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24])


def is_local_address(address: str) -> bool:
    """Whether this machine owns ``address`` (a socket can bind to it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def gateway_from_inspect(
    network: Mapping[str, Any],
    *,
    interface_address: Callable[[str], str | None] = interface_ipv4,
    owns_address: Callable[[str], bool] = is_local_address,
) -> str:
    """The bridge's IPv4 gateway from ``docker network inspect`` output (``network.attrs``).

    ``interface_address`` and ``owns_address`` ask this machine; tests pass their own.
    """
    configs = [config for config in (network.get("IPAM") or {}).get("Config") or [] if isinstance(config, Mapping)]
    ipv4_subnets = [str(config["Subnet"]) for config in configs if config.get("Subnet") and ":" not in str(config["Subnet"])]
    tried: list[str] = []

    for config in configs:
        gateway = str(config.get("Gateway") or "").split("/")[0]
        if gateway and ":" not in gateway:
            return gateway
    tried.append("IPAM has no IPv4 Gateway" if configs else "IPAM has no Config")

    interface = str((network.get("Options") or {}).get("com.docker.network.bridge.name") or DEFAULT_INTERFACE)
    address = interface_address(interface)
    if address and (not ipv4_subnets or any(_in_subnet(address, subnet) for subnet in ipv4_subnets)):
        return address
    tried.append(
        f"interface {interface} has no IPv4 address here"
        if not address
        else f"interface {interface} has {address}, outside the bridge's subnet {', '.join(ipv4_subnets)}"
    )

    for subnet in ipv4_subnets:
        first = str(next(ipaddress.ip_network(subnet, strict=False).hosts()))
        if owns_address(first):
            return first
        tried.append(f"this machine does not own {first}, the first host of subnet {subnet}")
    if not ipv4_subnets:
        tried.append("the bridge has no IPv4 subnet")
    raise RuntimeError(
        "cannot find the Docker bridge's gateway address (where containers reach this machine): "
        + "; ".join(tried)
        + ". Check `docker network inspect bridge` and `ip -4 addr show docker0`; "
        "if the engine runs in another machine or VM (Docker Desktop), run the lab inside the course image."
    )


def _in_subnet(address: str, subnet: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(subnet, strict=False)


def bridge_gateway(docker: Any) -> str:
    """The gateway address of Docker's default bridge, e.g. 172.17.0.1 (see the module's docstring)."""
    return gateway_from_inspect(docker.networks.get("bridge").attrs)
