"""Each awsvpc task's own address, and its security groups obeyed there (notebooks 04 and 05; 06 and 07 rely on it).

On AWS a Fargate task (network mode ``awsvpc``) gets an elastic network interface (ENI) with a private IP in
its subnet and, with ``assignPublicIp=ENABLED`` in a public subnet, a public IP on that interface. ECS reports
no host port bindings for it (``networkBindings`` is empty); a learner reaches the app at
``http://PUBLIC_IP:CONTAINER_PORT``, and only if one of the task's security groups admits that port from where
the learner is. The lab does the same on the loopback interface:

- **An address per task.** Each awsvpc task launched with ``assignPublicIp=ENABLED`` gets a loopback address of
  its own from :data:`POOL` (127.100.0.1-127.103.255.254) as its interface's public IP:
  ``describe_network_interfaces`` shows it as ``Association.PublicIp``, and each container reports the interface
  in ``networkInterfaces`` (``attachmentId``, ``privateIpv4Address``). Linux routes all of 127.0.0.0/8 to the
  loopback interface, so these addresses can be bound without privileges. An address is claimed machine-wide
  with a lock file in :data:`ADDRESS_LOCKS` held with ``fcntl.flock`` (as :mod:`ecslab.lab.private` reserves
  ports), so labs side by side (tests, grading workers) never share one, and a crashed lab's claims end with its
  process. The address is freed, and the interface deleted, when the task stops (AWS: DEPROVISIONING).
- **A gate on that address.** The lab listens on ``PUBLIC_IP:containerPort`` and relays each connection to the
  container (Docker publishes the container port on a free 127.0.0.1 port: the lab's internal path, which its
  load balancer uses). The gate is open while one of the task's security groups admits TCP on that port from
  ``0.0.0.0/0`` (or ``::/0``): the learner's machine counts as the internet, as for the load balancer's
  listeners. Otherwise it is closed as a security group closes a port: nothing answers, not even a refusal. The
  gate keeps listening with its accept queue full (one connection of its own, never accepted), so the kernel
  drops new connections' SYN packets and the client's ``connect`` times out, as on AWS. Rules are read at most
  :data:`ecslab.lab.network.CACHE_SECONDS` old; a connection already relayed keeps going when its rule is
  revoked (security groups are stateful).
- **Fallback.** Where only 127.0.0.1 can be bound (macOS without ``sudo ifconfig lo0 alias 127.100.0.1``; the
  probe is :func:`loopback_aliases`), every task's public IP is 127.0.0.1 and each gate listens on a free port
  there, which the lab reports in ``networkBindings`` (AWS reports none for awsvpc). ``ecslab status`` and
  ``ecslab doctor`` say so.

One asyncio loop thread relays every gate's connections (no thread per task); the ECS agent's tick decides which
gates are open (:meth:`TaskNetwork.sync`). Concurrency: :attr:`TaskNetwork.lock` guards the gates; it is never
held while ``LAB_LOCK`` is taken, and nothing takes it under ``LAB_LOCK``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import ipaddress
import logging
import os
import random
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecslab.lab.fillers import LAB_LOCK
from ecslab.lab.moto import ec2 as moto_ec2
from ecslab.lab.network import SecurityGroupRules

log = logging.getLogger("ecslab.lab.task_network")

ADDRESS_LOCKS = Path(tempfile.gettempdir()) / "ecslab-addresses"
"""The folder of ``ADDRESS.lock`` files every lab on this machine claims task addresses in."""

POOL = ipaddress.IPv4Network("127.100.0.0/14")
"""Where task addresses come from: clear of 127.0.0.1 (the lab's own servers) and 127.0.1.1 (Debian's host name)."""

FALLBACK_ADDRESS = "127.0.0.1"
"""Every task's public IP where no other loopback address can be bound."""

ATTEMPTS = 4096
"""How many addresses a claim tries before giving up."""


SWITCH = "ECSLAB_TASK_ADDRESSES"
"""``on`` (the default): awsvpc tasks get their own address and gate (the lab process reads it at start). ``off``:
the lab before issue 14, each awsvpc task published on a free 127.0.0.1 port reported in ``networkBindings``."""


def enabled() -> bool:
    return os.environ.get(SWITCH, "on").lower() not in ("off", "0", "false", "no")


def loopback_aliases() -> tuple[bool, str]:
    """Whether this machine lets the lab bind loopback addresses other than 127.0.0.1, and what that means."""
    probe = str(POOL.network_address + 1)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((probe, 0))
    except OSError as error:
        return False, (
            f"only 127.0.0.1 can be bound on this machine's loopback ({probe}: {error.strerror}): Fargate tasks share "
            "127.0.0.1 as their public IP, each on a port of its own reported in networkBindings (AWS reports none for "
            f"awsvpc). For an address per task, as on AWS: `sudo ifconfig lo0 alias {probe} up` (macOS), "
            "one alias per task address, or use the course image"
        )
    return True, f"each Fargate task with a public IP gets a loopback address of its own ({POOL})"


def _try_lock(address: str) -> int | None:
    """The open, locked lock file of ``address``, or None when another lab holds it."""
    try:
        ADDRESS_LOCKS.mkdir(mode=0o1777, exist_ok=True)
        if ADDRESS_LOCKS.stat().st_uid == os.getuid():
            ADDRESS_LOCKS.chmod(0o1777)  # shared by every user's labs, as /tmp is
    except OSError as error:
        raise OSError(f"cannot use {ADDRESS_LOCKS} to claim task addresses: {error}") from error
    path = ADDRESS_LOCKS / f"{address}.lock"
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(descriptor).st_ino != os.stat(path).st_ino:  # the holder removed it before unlocking
            raise BlockingIOError(errno.EAGAIN, "lock file replaced")
    except OSError:
        os.close(descriptor)
        return None
    return descriptor


class AddressPool:
    """Loopback addresses this lab holds, one per task with a public IP (or 127.0.0.1 for all, in fallback)."""

    def __init__(self, aliases: bool) -> None:
        self.aliases = aliases
        self.lock = threading.Lock()
        self.held: dict[str, int] = {}  # address -> its open, locked lock file
        self.cursor = random.randrange(POOL.num_addresses)  # labs start apart, and freed addresses rest a while

    def claim(self) -> str:
        if not self.aliases:
            return FALLBACK_ADDRESS
        with self.lock:
            for step in range(ATTEMPTS):
                offset = (self.cursor + step) % POOL.num_addresses
                value = POOL.network_address + offset
                if int(value) & 0xFF in (0, 255):
                    continue
                address = str(value)
                descriptor = _try_lock(address)
                if descriptor is None:
                    continue
                try:
                    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                        sock.bind((address, 0))
                except OSError:
                    os.close(descriptor)
                    continue
                self.cursor = offset + 1
                self.held[address] = descriptor
                return address
        raise OSError(f"no free loopback address for a task in {POOL} after {ATTEMPTS} tries")

    def release(self, address: str) -> None:
        with self.lock:
            descriptor = self.held.pop(address, None)
        if descriptor is None:
            return
        with contextlib.suppress(OSError):
            (ADDRESS_LOCKS / f"{address}.lock").unlink()  # while still locked: see _try_lock
        os.close(descriptor)

    def release_all(self) -> None:
        for address in list(self.held):
            self.release(address)


def _listening(address: str, port: int, backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class Gate:
    """One container port of one task, on the task's public IP."""

    task_arn: str
    interface_id: str
    address: str
    port: int  # where the learner connects: the container port (the fallback's own port on 127.0.0.1)
    container_port: int
    upstream: tuple[str, int]  # the lab's internal path to the container
    open: bool = False
    why: str = ""
    server: Any = None  # asyncio.Server while open
    closed_sockets: tuple[socket.socket, ...] = ()  # (listener with a full queue, its plug) while closed
    relayed: int = 0

    @property
    def listening(self) -> bool:
        return self.server is not None or bool(self.closed_sockets)


@dataclass
class TaskAddress:
    """What the lab gave one awsvpc task."""

    interface_id: str
    private_ip: str | None
    public_ip: str | None
    gates: list[Gate] = field(default_factory=list)


class TaskNetwork:
    """The awsvpc tasks' public IPs and gates; owned by the ECS agent (:mod:`ecslab.lab.ecs_agent`)."""

    def __init__(self, region: str, rules: SecurityGroupRules | None = None, aliases: tuple[bool, str] | None = None) -> None:
        self.region = region
        self.rules = rules if rules is not None else SecurityGroupRules(region)
        self.aliases, self.says = aliases if aliases is not None else loopback_aliases()
        self.pool = AddressPool(self.aliases)
        self.lock = threading.Lock()
        self.tasks: dict[str, TaskAddress] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None

    # -- the ECS agent's calls (never under LAB_LOCK) ----------------------------------------------------

    def task_running(self, task: Any, internal: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
        """A task's containers run, published at ``internal`` (per container): what ``networkBindings`` shows.

        An awsvpc task's interface gets its public IP (with ``assignPublicIp=ENABLED``) and a gate per TCP port,
        its containers their ``networkInterfaces``; it reports no bindings (but the fallback's). Any other task
        reports its bindings as they are."""
        LAB_LOCK.forbid("waiting for the task gates")
        with LAB_LOCK:
            attachment = next((a for a in getattr(task, "attachments", []) if a.get("type") == "ElasticNetworkInterface"), None)
            if attachment is None:
                return internal
            details = {d["name"]: d["value"] for d in attachment.get("details", [])}
            configuration = (getattr(task, "network_configuration", None) or {}).get("awsvpcConfiguration", {})
            public = str(configuration.get("assignPublicIp", "DISABLED")).upper() == "ENABLED"
            for container in task.containers:
                container.network_interfaces = [
                    {"attachmentId": attachment["id"], "privateIpv4Address": details.get("privateIPv4Address")}
                ]
        interface_id = str(details.get("networkInterfaceId"))
        entry = TaskAddress(interface_id, details.get("privateIPv4Address"), None)
        reported: dict[str, list[dict[str, Any]]] = {name: [] for name in internal}
        if public:
            entry.public_ip = self.pool.claim()
            self.rules.refresh(force=True)  # the interface may be newer than the rules' copy
            for name, bindings in internal.items():
                for binding in bindings:
                    if binding.get("protocol", "tcp") != "tcp":
                        continue
                    gate = Gate(
                        task.task_arn,
                        interface_id,
                        entry.public_ip,
                        int(binding["containerPort"]) if self.aliases else 0,
                        int(binding["containerPort"]),
                        (str(binding["bindIP"]), int(binding["hostPort"])),
                    )
                    self._try_set(gate, *self.rules.interface(interface_id, gate.container_port))
                    entry.gates.append(gate)
                    if not self.aliases:
                        reported[name].append({**binding, "bindIP": FALLBACK_ADDRESS, "hostPort": gate.port})
            with LAB_LOCK:
                moto_ec2.set_public_ip(self.region, interface_id, entry.public_ip)
        with self.lock:
            self.tasks[task.task_arn] = entry
        return reported

    def task_stopped(self, task: Any) -> None:
        """The task stopped: its gates close, its address is freed, its interface deleted (ECS's DEPROVISIONING)."""
        with self.lock:
            entry = self.tasks.pop(task.task_arn, None)
        if entry is not None:
            self._forget(entry)
        with LAB_LOCK:
            for attachment in getattr(task, "attachments", []):
                if attachment.get("type") != "ElasticNetworkInterface":
                    continue
                for detail in attachment.get("details", []):
                    if detail["name"] == "networkInterfaceId":
                        moto_ec2.delete_interface(self.region, detail["value"])
                attachment["status"] = "DELETED"

    def sync(self) -> None:
        """Open the gates the security groups admit the internet to, close the others (the ECS agent's tick)."""
        with self.lock:
            gates = [gate for entry in self.tasks.values() for gate in entry.gates]
        if not gates:
            return
        verdicts = [(gate, *self.rules.interface(gate.interface_id, gate.container_port)) for gate in gates]
        with self.lock:
            live = {id(gate) for entry in self.tasks.values() for gate in entry.gates}
            for gate, allowed, why in verdicts:
                if id(gate) in live and (allowed != gate.open or why != gate.why or not gate.listening):
                    self._try_set(gate, allowed, why)

    def reset(self) -> None:
        """``ecslab reset``: moto forgot every task; close every gate and free every address."""
        with self.lock:
            entries, self.tasks = list(self.tasks.values()), {}
        for entry in entries:
            self._forget(entry)

    def stop(self) -> None:
        self.reset()
        self.pool.release_all()
        if self.loop is not None:

            async def cancel_relays() -> None:  # connections still open end with the lab
                for relay in asyncio.all_tasks():
                    if relay is not asyncio.current_task():
                        relay.cancel()

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(cancel_relays(), self.loop).result(timeout=5)
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.loop = self.thread = None

    # -- what the lab reports ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self.lock:
            tasks = {
                arn: {
                    "network_interface": entry.interface_id,
                    "private_ip": entry.private_ip,
                    "public_ip": entry.public_ip,
                    "gates": [
                        {
                            "address": f"{gate.address}:{gate.port}",
                            "container_port": gate.container_port,
                            "internal": f"{gate.upstream[0]}:{gate.upstream[1]}",
                            "open": gate.open,
                            "why": gate.why,
                            "connections": gate.relayed,
                        }
                        for gate in entry.gates
                    ],
                }
                for arn, entry in self.tasks.items()
            }
        return {"loopback_aliases": self.aliases, "says": self.says, "tasks": tasks}

    # -- gates -------------------------------------------------------------------------------------------

    def _try_set(self, gate: Gate, allowed: bool, why: str) -> None:
        """:meth:`_set`, or, when the address cannot be listened on, say why (the next tick tries again)."""
        try:
            self._set(gate, allowed, why)
        except OSError as error:
            self._shut(gate)
            gate.open = False
            gate.why = (
                f"the lab cannot listen on {gate.address}:{gate.port} ({error.strerror}): another program may listen on port "
                f"{gate.port} of every address (0.0.0.0); stop it, or reach the task through its load balancer"
            )

    def _set(self, gate: Gate, allowed: bool, why: str) -> None:
        """Open or close ``gate`` (the caller holds :attr:`lock`, or owns the gate alone)."""
        gate.why = why
        if allowed == gate.open and gate.listening:
            return
        self._shut(gate)
        if allowed:
            listener = _listening(gate.address, gate.port, 128)
            gate.port = int(listener.getsockname()[1])
            loop = self._loop()
            try:
                gate.server = asyncio.run_coroutine_threadsafe(
                    asyncio.start_server(lambda r, w: self._relay(gate, r, w), sock=listener), loop
                ).result(timeout=10)
            except Exception:
                listener.close()
                raise
        else:
            listener = _listening(gate.address, gate.port, 0)
            gate.port = int(listener.getsockname()[1])
            plug = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                plug.connect((gate.address, gate.port))  # fills the accept queue: later SYNs are dropped
            except OSError:
                plug.close()
                listener.close()
                raise
            gate.closed_sockets = (listener, plug)
        gate.open = allowed

    def _shut(self, gate: Gate) -> None:
        if gate.server is not None and self.loop is not None:
            server, gate.server = gate.server, None

            async def close() -> None:
                server.close()  # the listening socket closes now; connections already relayed go on (stateful)

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=5)
        for sock in gate.closed_sockets:
            sock.close()
        gate.closed_sockets = ()

    def _forget(self, entry: TaskAddress) -> None:
        with self.lock:
            for gate in entry.gates:
                self._shut(gate)
        if entry.public_ip is not None:
            self.pool.release(entry.public_ip)
        with LAB_LOCK:
            moto_ec2.set_public_ip(self.region, entry.interface_id, None)

    def _loop(self) -> asyncio.AbstractEventLoop:
        if self.loop is None:
            loop = asyncio.new_event_loop()
            self.thread = threading.Thread(target=loop.run_forever, name="task-gates", daemon=True)
            self.thread.start()
            self.loop = loop
        return self.loop

    async def _relay(self, gate: Gate, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        gate.relayed += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*gate.upstream)
        except OSError:
            writer.close()
            return

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
                if sink.can_write_eof():
                    sink.write_eof()
            except OSError:
                writer.close()
                upstream_writer.close()

        try:
            await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))
        finally:
            writer.close()
            upstream_writer.close()
