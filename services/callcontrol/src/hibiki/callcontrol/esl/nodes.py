"""The FreeSWITCH nodes of a data center: settings, one ``NodeConnection`` each, and
which node a call lives on.

Settings (``HIBIKI_CALLCONTROL_*``, the names ``deploy/k8s`` and ``freeswitch/`` use):

* ``FREESWITCH_NODES``: comma list of ``name=host:port`` (also ``host:port``, ``host`` and
  ``name=[ipv6]:port``; port 8021; the name defaults to the host). Empty: no node.
* ``FREESWITCH_PASSWORD`` (or ``FREESWITCH_PASSWORD_FILE``): mod_event_socket's password
  (``hibiki_esl_password`` in ``freeswitch/conf/vars.xml``; ``hibiki up`` generates one). Unset,
  FreeSWITCH's shipped ``ClueCon`` is used for nodes on loopback only: with a node anywhere else,
  an unset or placeholder password (``ClueCon``, the repository's ``CHANGE-ME-esl``) stops the
  service at start (``ConfigError``).
* ``FREESWITCH_API_TIMEOUT``: seconds an ``api`` command may take (default 5).

``uuid_*`` commands must go to the node that owns the channel: ``NodePool`` learns it from
the connection each channel event arrives on (forgotten at CHANNEL_HANGUP_COMPLETE), lists
``show channels`` after every (re)connection to catch up on what it missed, and asks the
connected nodes (``uuid_getvar <uuid> uuid``) about a call it has not seen.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hibiki.callcontrol.esl.errors import CallNotFound, NodeError, NodeUnavailable
from hibiki.callcontrol.esl.inbound import EventHandler, NodeConnection
from hibiki.callcontrol.esl.model import NodeAddress, NodeEvent, NodeState
from hibiki.common.config import Env
from hibiki.common.errors import ConfigError
from hibiki.common.logging import get_logger
from hibiki.common.digits import ascii_digits

log = get_logger("hibiki.callcontrol.esl.nodes")
DEV_PASSWORD = "ClueCon"  # mod_event_socket's shipped default (conf/vanilla/autoload_configs/event_socket.conf.xml)
# Passwords anyone can read: FreeSWITCH's default and those written in freeswitch/conf/vars.xml and deploy/k8s.
PLACEHOLDER_PASSWORDS = frozenset({DEV_PASSWORD, "CHANGE-ME-esl", "CHANGE-ME", ""})
_NAME = re.compile(r"^[A-Za-z0-9:][A-Za-z0-9_.:-]{0,62}$")
_CALL_UUID = re.compile(r"^[^\s]{1,128}$")
_CORE_UUID = re.compile(r"^[0-9a-fA-F-]{36}$")
_ENDED_MEMORY = 4096  # recently hung-up calls, so a late event does not bring one back


def parse_nodes(text: str) -> tuple[NodeAddress, ...]:
    """``fs1=10.0.0.5:8021,fs2=[2001:db8::5]`` -> addresses; ``ValueError`` says what is wrong."""
    nodes: list[NodeAddress] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, target = part.partition("=")
        if not eq:
            name, target = "", part
        host, port = _host_port(target.strip(), part)
        name = name.strip() or host
        if not _NAME.match(name):
            raise ValueError(f"{part!r}: node name {name!r} must be letters, digits, '.', '_', ':' or '-'")
        if any(n.name == name for n in nodes):
            raise ValueError(f"{part!r}: node name {name!r} is used twice")
        nodes.append(NodeAddress(name, host, port))
    return tuple(nodes)


def _host_port(target: str, part: str) -> tuple[str, int]:
    if target.startswith("["):
        host, bracket, rest = target[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{part!r}: expected [ipv6]:port")
        port_text = rest[1:]
    elif target.count(":") > 1:  # a bare IPv6 address, default port
        host, port_text = target, ""
    else:
        host, _, port_text = target.partition(":")
    if not host:
        raise ValueError(f"{part!r}: no host")
    if not port_text:
        return host, 8021
    if not (ascii_digits(port_text)) or not 0 < int(port_text) <= 65535:
        raise ValueError(f"{part!r}: {port_text!r} is not a TCP port (1-65535)")
    return host, int(port_text)


def _on_this_machine(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class FsNodeSettings:
    nodes: tuple[NodeAddress, ...] = ()
    password: str = field(default=DEV_PASSWORD, repr=False)
    api_timeout: float = 5.0
    password_set: bool = False  # False: the development default is in use

    @classmethod
    def from_env(cls, env: Env) -> FsNodeSettings:
        """From ``env`` (scoped to the service); ``ConfigError`` names the variable at fault."""
        try:
            nodes = parse_nodes(env.optional("FREESWITCH_NODES") or "")
        except ValueError as exc:
            raise ConfigError(f"{env.key('FREESWITCH_NODES')}: {exc}") from None
        password = env.optional("FREESWITCH_PASSWORD")
        password_file = env.optional("FREESWITCH_PASSWORD_FILE")
        if password is None and password_file is not None:
            try:
                password = Path(password_file).expanduser().read_text(encoding="utf-8").strip("\r\n")
            except OSError as exc:
                raise ConfigError(f"{env.key('FREESWITCH_PASSWORD_FILE')}: cannot read {password_file}: "
                                  f"{exc.strerror}") from None
        if password is not None and (not password or "\n" in password or "\r" in password):
            raise ConfigError(f"{env.key('FREESWITCH_PASSWORD')} must be one non-empty line")
        remote = [n for n in nodes if not _on_this_machine(n.host)]
        if remote and (password is None or password.strip() in PLACEHOLDER_PASSWORDS):
            what = "is not set" if password is None else "is a placeholder anyone can read"
            raise ConfigError(f"{env.key('FREESWITCH_PASSWORD')} {what}: refusing to send it to {remote[0]} "
                              f"(not on loopback); set the password of hibiki_esl_password in freeswitch/conf/vars.xml")
        return cls(nodes, password or DEV_PASSWORD, env.number("FREESWITCH_API_TIMEOUT", 5.0, minimum=0.1),
                   password is not None)

    @property
    def remote_nodes_on_dev_password(self) -> list[NodeAddress]:
        return [] if self.password_set else [n for n in self.nodes if not _on_this_machine(n.host)]


class NodePool:
    """Every configured node, by name. A component: ``start`` returns without waiting for
    the nodes (they connect in the background), ``stop`` closes them all."""

    def __init__(self, connections: Sequence[NodeConnection], registry: CollectorRegistry | None = None) -> None:
        self._connections = {c.name: c for c in connections}
        self._registry = registry
        self._collector = NodePoolCollector(self)
        self._calls: dict[str, str] = {}                       # call UUID -> node name
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._resyncing: dict[str, set[str]] = {}              # node -> UUIDs seen while listing
        self._synced_at: dict[str, int] = {}                  # node -> its `connects` when last listed
        self._cores: dict[str, str] = {}                      # node -> its Core-UUID (global_getvar, events)
        self._sync_changed = asyncio.Event()
        for connection in connections:
            connection.watch(self._track)
            connection.on_connect(self._resync)

    @classmethod
    def from_settings(cls, settings: FsNodeSettings, registry: CollectorRegistry | None = None,
                      **options: Any) -> NodePool:
        if settings.remote_nodes_on_dev_password:
            log.warning("fs_password_default", nodes=[str(n) for n in settings.remote_nodes_on_dev_password],
                        reason=f"HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD is not set: using {DEV_PASSWORD!r}, "
                               "FreeSWITCH's development default")
        return cls([NodeConnection(address, settings.password, api_timeout=settings.api_timeout, **options)
                    for address in settings.nodes], registry)

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self._connections)

    def connection(self, node: str) -> NodeConnection:
        try:
            return self._connections[node]
        except KeyError:
            raise NodeUnavailable(node, "no such node in HIBIKI_CALLCONTROL_FREESWITCH_NODES") from None

    def states(self) -> list[NodeState]:
        return [c.state for c in self._connections.values()]

    async def gone(self, node: str, within: float = 1.0) -> bool:
        """Whether the inbound event socket to ``node`` is down, waiting up to ``within`` seconds
        for it to drop: a node that dies closes a call's outbound socket and this one together,
        and either may be read first. False for a node not configured here or still connected
        after ``within`` (only the call's own socket broke)."""
        connection = self._connections.get(node)
        if connection is None:
            return False
        try:
            await connection.wait_until(lambda state: not state.connected, within)
        except TimeoutError:
            return False
        return True

    def on(self, name: str, handler: EventHandler) -> None:
        """``handler`` for events named ``name`` (see ``NodeConnection.on``) from every node."""
        for connection in self._connections.values():
            connection.on(name, handler)

    async def start(self) -> None:
        if not self._connections:
            log.info("fs_nodes_none", reason="HIBIKI_CALLCONTROL_FREESWITCH_NODES is empty: no inbound event socket")
        if self._registry is not None:
            try:
                self._registry.register(self._collector)
            except ValueError:  # another pool in this process (tests) already exports them
                log.warning("fs_node_metrics_not_registered", reason="metric names already registered")
                self._registry = None
        await asyncio.gather(*(c.start() for c in self._connections.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self._connections.values()), return_exceptions=True)
        if self._registry is not None:
            self._registry.unregister(self._collector)
            self._registry = None

    async def readiness(self) -> dict[str, bool]:
        """Ready when some node is connected: one node down must not take every controller
        out of service. With no node configured nothing can vouch for a call on the outbound
        event socket (``esl.trust``), so the controller is not ready."""
        return {"freeswitch": any(c.connected for c in self._connections.values())}

    def node_with_core(self, core_uuid: str) -> str | None:
        """The connected node whose Core-UUID is ``core_uuid`` (each FreeSWITCH start has its own)."""
        for name, core in self._cores.items():
            if core and core == core_uuid and self._connections[name].connected:
                return name
        return None

    # ---- commands -----------------------------------------------------------------------
    async def api_on(self, node: str, command: str, timeout: float | None = None) -> str:
        return await self.connection(node).api(command, timeout)

    async def bgapi_on(self, node: str, command: str, timeout: float | None = None) -> str:
        return await self.connection(node).bgapi(command, timeout)

    async def api_any(self, command: str, timeout: float | None = None) -> str:
        """On the first connected node, in configuration order; a node that turns out to be
        down (the command was not sent) passes it on to the next."""
        for connection in self._connections.values():
            if connection.connected:
                try:
                    return await connection.api(command, timeout)
                except NodeUnavailable:
                    continue
        raise NodeUnavailable("*", "no FreeSWITCH node is connected")

    async def api_for_call(self, call_uuid: str, command: str, timeout: float | None = None) -> str:
        """``command`` (``uuid_kill <uuid>``, ``uuid_bridge ...``) on the node that owns the call."""
        node = self.node_of(call_uuid) or await self.locate(call_uuid)
        if node is None:
            raise CallNotFound("*", f"no connected node has call {call_uuid}")
        return await self.api_on(node, command, timeout)

    def node_of(self, call_uuid: str) -> str | None:
        return self._calls.get(call_uuid)

    async def locate(self, call_uuid: str, timeout: float = 2.0) -> str | None:
        """Ask every connected node whether it has the call (``uuid_getvar <uuid> uuid``)."""
        if not _CALL_UUID.match(call_uuid):
            raise ValueError(f"not a call UUID: {call_uuid!r}")
        connected = [c for c in self._connections.values() if c.connected]
        replies = await asyncio.gather(*(c.api(f"uuid_getvar {call_uuid} uuid", timeout) for c in connected),
                                       return_exceptions=True)
        for connection, reply in zip(connected, replies):
            if isinstance(reply, str) and reply.strip() == call_uuid:
                self._calls[call_uuid] = connection.name
                return connection.name
        return None

    def calls_on(self, node: str) -> int:
        return sum(1 for owner in self._calls.values() if owner == node)

    async def wait_synced(self, node: str, timeout: float = 10.0) -> None:
        """Wait until the node is connected and its channels were listed since it (re)connected."""
        connection = self.connection(node)
        async with asyncio.timeout(timeout):
            while not (connection.connected and self._synced_at.get(node) == connection.state.connects):
                await self._sync_changed.wait()

    # ---- which node a call lives on -----------------------------------------------------
    def _track(self, event: NodeEvent) -> None:
        core = event.get("Core-UUID")
        if core and self._cores.get(event.node) != core:
            self._cores[event.node] = core
        call_uuid = event.call_uuid
        if not call_uuid:
            return
        seen = self._resyncing.get(event.node)
        if seen is not None:
            seen.add(call_uuid)
        if event.name == "CHANNEL_HANGUP_COMPLETE":
            self._forget(call_uuid)
        elif call_uuid not in self._ended:
            self._calls[call_uuid] = event.node

    def _forget(self, call_uuid: str) -> None:
        self._calls.pop(call_uuid, None)
        self._ended[call_uuid] = None
        if len(self._ended) > _ENDED_MEMORY:
            self._ended.popitem(last=False)

    async def _resync(self, connection: NodeConnection) -> None:
        node, generation = connection.name, connection.state.connects
        seen: set[str] = set()
        self._resyncing[node] = seen
        try:
            core = (await connection.api("global_getvar core_uuid")).strip()
            if _CORE_UUID.match(core):
                self._cores[node] = core
            listing = await connection.api("show channels")
        except NodeError as exc:
            log.warning("fs_node_resync_failed", node=node, error=str(exc))
            return
        finally:
            self._resyncing.pop(node, None)
        live = channel_uuids(listing)
        for call_uuid, owner in list(self._calls.items()):
            if owner == node and call_uuid not in live and call_uuid not in seen:
                del self._calls[call_uuid]  # hung up while we were away
        for call_uuid in live:
            if call_uuid not in self._ended:
                self._calls[call_uuid] = node
        self._synced_at[node] = generation
        self._sync_changed.set()
        self._sync_changed = asyncio.Event()


def channel_uuids(listing: str) -> set[str]:
    """UUIDs in ``show channels`` (CSV, header ``uuid,direction,...``, then ``N total.``)."""
    found: set[str] = set()
    for line in listing.splitlines():
        first = line.split(",", 1)[0].strip()
        if "," in line and first and first != "uuid":
            found.add(first)
    return found


class NodePoolCollector(Collector):
    """Per-node gauges and counters, read from the connections' state at scrape time."""

    def __init__(self, pool: NodePool) -> None:
        self._pool = pool

    def collect(self) -> Iterable[Metric]:
        label = ["node"]
        up = GaugeMetricFamily("hibiki_callcontrol_fs_node_up",
                               "1 when the inbound event socket to the node is connected and authenticated",
                               labels=label)
        calls = GaugeMetricFamily("hibiki_callcontrol_fs_node_calls", "Calls known to live on the node", labels=label)
        counters = {
            "connects": CounterMetricFamily("hibiki_callcontrol_fs_node_connects",
                                            "Successful connections (reconnections included)", labels=label),
            "failures": CounterMetricFamily("hibiki_callcontrol_fs_node_connect_failures",
                                            "Failed connection attempts", labels=label),
            "drops": CounterMetricFamily("hibiki_callcontrol_fs_node_drops", "Established connections lost",
                                         labels=label),
            "events": CounterMetricFamily("hibiki_callcontrol_fs_node_events", "Events received", labels=label),
            "dropped_events": CounterMetricFamily("hibiki_callcontrol_fs_node_dropped_events",
                                                  "Events dropped because handlers fell behind", labels=label),
            "command_timeouts": CounterMetricFamily("hibiki_callcontrol_fs_node_command_timeouts",
                                                    "api/bgapi commands that got no reply in time", labels=label),
        }
        for state in self._pool.states():
            up.add_metric([state.node], 1.0 if state.connected else 0.0)
            calls.add_metric([state.node], float(self._pool.calls_on(state.node)))
            for attribute, family in counters.items():
                family.add_metric([state.node], float(getattr(state, attribute)))
        yield up
        yield calls
        yield from counters.values()
