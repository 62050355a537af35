"""Several FreeSWITCH nodes at once (two emulators): settings, which node a call lives on,
``uuid_*`` commands routed to it, registration events, readiness and metrics."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from fsemu import FreeSwitchEmulator
from fsemu.events import CoreInfo
from hibiki.callcontrol.esl.errors import CallNotFound, NodeUnavailable
from hibiki.callcontrol.esl.model import Backoff, NodeAddress, NodeEvent
from hibiki.callcontrol.esl.nodes import FsNodeSettings, NodePool, channel_uuids, parse_nodes
from hibiki.common.config import Env
from hibiki.common.errors import ConfigError
from support.recorder import Recorder
from support.servers import free_port

PARKED = ('<document type="freeswitch/xml"><section name="dialplan"><context name="default">'
          '<extension name="x"><condition field="destination_number" expression="^(7200)$">'
          '<action application="set" data="hibiki_tenant=zama"/><action application="answer"/>'
          '<action application="park"/></condition></extension></context></section></document>')


def is_parked(channel: Any) -> bool:
    return bool(channel.variables.get("current_application") == "park")


def settings(**nodes: int) -> FsNodeSettings:
    return FsNodeSettings(tuple(NodeAddress(name, "127.0.0.1", port) for name, port in nodes.items()))


@asynccontextmanager
async def pool_of(config: FsNodeSettings, registry: CollectorRegistry | None = None) -> AsyncIterator[NodePool]:
    pool = NodePool.from_settings(config, registry, backoff=Backoff(0.05, 0.2), idle_timeout=None)
    await pool.start()
    try:
        yield pool
    finally:
        await pool.stop()


def emulator(hostname: str, **options: Any) -> FreeSwitchEmulator:
    return FreeSwitchEmulator(core=CoreInfo(hostname=hostname, switchname=hostname), **options)


def sample(registry: CollectorRegistry, name: str, node: str) -> float | None:
    value = registry.get_sample_value(name, {"node": node})
    return value


# ---- settings -----------------------------------------------------------------------------
def test_node_lists() -> None:
    assert parse_nodes("") == ()
    assert parse_nodes("fs1=10.0.0.5:8021, fs2=[2001:db8::5]:8022,fs3.dc2=fs3.example") == (
        NodeAddress("fs1", "10.0.0.5", 8021), NodeAddress("fs2", "2001:db8::5", 8022),
        NodeAddress("fs3.dc2", "fs3.example", 8021))
    assert parse_nodes("127.0.0.1:8021,::1") == (NodeAddress("127.0.0.1", "127.0.0.1"), NodeAddress("::1", "::1"))
    assert str(NodeAddress("fs2", "2001:db8::5", 8022)) == "fs2=[2001:db8::5]:8022"
    for bad, why in [("fs1=10.0.0.5:80a", "not a TCP port"), ("fs1=h:0", "not a TCP port"), ("fs1=", "no host"),
                     ("a=h1,a=h2", "used twice"), ("bad name=h", "node name"), ("x=[::1", "expected"),
                     ("x=[::1]8021", "expected")]:
        with pytest.raises(ValueError, match=why):
            parse_nodes(bad)


def test_settings_from_the_environment(tmp_path: Path) -> None:
    def load(**values: str) -> FsNodeSettings:
        environ = {f"HIBIKI_CALLCONTROL_{k}": v for k, v in values.items()}
        return FsNodeSettings.from_env(Env.load("callcontrol", environ))

    assert load() == FsNodeSettings((), "ClueCon", 5.0, password_set=False)
    local = load(FREESWITCH_NODES="fs1=127.0.0.1:8021")
    assert local.password == "ClueCon" and "ClueCon" not in repr(local)     # development default, never shown
    assert local.remote_nodes_on_dev_password == []
    assert load(FREESWITCH_NODES="fs1=10.0.0.5").remote_nodes_on_dev_password == [NodeAddress("fs1", "10.0.0.5")]
    # what deploy/k8s gives (the password comes from the hibiki-secrets Secret)
    k8s = load(FREESWITCH_NODES="freeswitch-0.freeswitch.voice-dc1:8021,freeswitch-1.freeswitch.voice-dc1:8021",
               FREESWITCH_PASSWORD="pw", FREESWITCH_API_TIMEOUT="2.5")
    assert [n.name for n in k8s.nodes] == ["freeswitch-0.freeswitch.voice-dc1", "freeswitch-1.freeswitch.voice-dc1"]
    assert (k8s.password, k8s.api_timeout, k8s.remote_nodes_on_dev_password) == ("pw", 2.5, [])
    secret = tmp_path / "esl.password"
    secret.write_text("from-a-file\n")
    assert load(FREESWITCH_NODES="fs1=10.0.0.5", FREESWITCH_PASSWORD_FILE=str(secret)).password == "from-a-file"
    with pytest.raises(ConfigError, match="^HIBIKI_CALLCONTROL_FREESWITCH_NODES: 'fs1=h:x': 'x' is not a TCP port"):
        load(FREESWITCH_NODES="fs1=h:x")
    with pytest.raises(ConfigError, match="^HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD_FILE: cannot read"):
        load(FREESWITCH_NODES="fs1=10.0.0.5", FREESWITCH_PASSWORD_FILE=str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="^HIBIKI_CALLCONTROL_FREESWITCH_API_TIMEOUT='0'"):
        load(FREESWITCH_API_TIMEOUT="0")


def test_channel_listing() -> None:
    listing = ("uuid,direction,created,created_epoch,name,state,cid_name,cid_num,dest,application\n"
               "a-1,inbound,,1,sofia/internal/1000@x,CS_EXECUTE,\"Doe, John\",1000,7200,park\n"
               "b-2,outbound,,1,sofia/internal/1001@x,CS_EXCHANGE_MEDIA,,1001,1001,\n\n2 total.\n")
    assert channel_uuids(listing) == {"a-1", "b-2"}
    assert channel_uuids("\n0 total.\n") == set()


# ---- several nodes ------------------------------------------------------------------------
async def test_two_nodes_each_call_is_driven_on_its_own_node() -> None:
    registry = CollectorRegistry()
    async with emulator("fs-a") as a, emulator("fs-b") as b, \
            pool_of(settings(a=a.esl_port, b=b.esl_port), registry) as pool:
        answers = Recorder()
        pool.on("CHANNEL_ANSWER", answers)
        for node in pool.nodes:
            await pool.wait_synced(node)
        assert await pool.readiness() == {"freeswitch": True}
        call_a = await a.place_call(destination="7200", dialplan_xml=PARKED.replace("zama", "on-a"))
        call_b = await b.place_call(destination="7200", dialplan_xml=PARKED.replace("zama", "on-b"))
        event_a = await answers.wait_for(lambda e: e.call_uuid == call_a.uuid)
        event_b = await answers.wait_for(lambda e: e.call_uuid == call_b.uuid)
        assert (event_a.node, event_a.get("FreeSWITCH-Hostname")) == ("a", "fs-a")
        assert (event_b.node, event_b.get("FreeSWITCH-Hostname")) == ("b", "fs-b")
        assert pool.node_of(call_a.uuid) == "a" and pool.node_of(call_b.uuid) == "b"
        await call_b.wait_for(is_parked)
        assert await pool.api_for_call(call_a.uuid, f"uuid_getvar {call_a.uuid} hibiki_tenant") == "on-a"
        assert await pool.api_for_call(call_b.uuid, f"uuid_getvar {call_b.uuid} hibiki_tenant") == "on-b"
        assert await pool.api_on("b", f"uuid_getvar {call_a.uuid} uuid") == "-ERR No such channel!\n"
        assert [s.hostname for s in pool.states()] == ["fs-a", "fs-b"]
        assert sample(registry, "hibiki_callcontrol_fs_node_calls", "a") == 1.0

        hangups = Recorder()
        pool.on("CHANNEL_HANGUP_COMPLETE", hangups)
        assert await pool.api_for_call(call_b.uuid, f"uuid_kill {call_b.uuid}") == "+OK\n"
        await hangups.wait_for(lambda e: e.call_uuid == call_b.uuid)
        assert pool.node_of(call_b.uuid) is None and call_a.state != "CS_DESTROY"
        with pytest.raises(CallNotFound):
            await pool.api_for_call(call_b.uuid, f"uuid_kill {call_b.uuid}")

        await a.inbound.stop()                                      # node a goes away
        await pool.connection("a").wait_until(lambda s: not s.connected)
        assert "is ready" in await pool.api_any("status")            # b answers
        assert await pool.readiness() == {"freeswitch": True}        # one node is enough
        with pytest.raises(NodeUnavailable, match="^a: not connected"):
            await pool.api_on("a", "status")
        with pytest.raises(NodeUnavailable, match="no such node in HIBIKI_CALLCONTROL_FREESWITCH_NODES"):
            await pool.api_on("c", "status")
        assert sample(registry, "hibiki_callcontrol_fs_node_up", "a") == 0.0
        assert sample(registry, "hibiki_callcontrol_fs_node_up", "b") == 1.0
        assert sample(registry, "hibiki_callcontrol_fs_node_drops_total", "a") == 1.0
        assert sample(registry, "hibiki_callcontrol_fs_node_connects_total", "b") == 1.0

        await b.inbound.stop()
        await pool.connection("b").wait_until(lambda s: not s.connected)
        assert await pool.readiness() == {"freeswitch": False}
        with pytest.raises(NodeUnavailable, match="no FreeSWITCH node is connected"):
            await pool.api_any("status")
        await a.inbound.start()                                     # a is back, calls and all
        await pool.wait_synced("a")
        assert await pool.api_for_call(call_a.uuid, f"uuid_getvar {call_a.uuid} hibiki_tenant") == "on-a"
        assert await pool.readiness() == {"freeswitch": True}
    assert b"hibiki_callcontrol_fs_node_up" not in generate_latest(registry)  # unregistered on stop


async def test_calls_are_known_after_a_reconnection_and_forgotten_when_they_ended_meanwhile() -> None:
    async with emulator("fs-a") as a:
        before = await a.place_call(destination="7200", dialplan_xml=PARKED)   # up before the controller
        await before.wait_for(is_parked)
        async with pool_of(settings(a=a.esl_port)) as pool:
            await pool.wait_synced("a")
            assert pool.node_of(before.uuid) == "a"                         # from `show channels`
            await a.inbound.stop()
            await pool.connection("a").wait_until(lambda s: not s.connected)
            before.hangup_by_caller()                                       # its hangup event is missed
            await before.finished
            await a.inbound.start()
            await pool.wait_synced("a")
            assert pool.node_of(before.uuid) is None
            assert await pool.locate(before.uuid) is None


async def test_a_call_the_pool_never_saw_is_located_by_asking_the_nodes() -> None:
    async with emulator("fs-a") as a, emulator("fs-b") as b, pool_of(settings(a=a.esl_port, b=b.esl_port)) as pool:
        await pool.wait_synced("a")
        await pool.wait_synced("b")
        call = await b.place_call(destination="7200", dialplan_xml=PARKED)
        await call.wait_for(is_parked)
        assert await pool.locate(call.uuid) == "b"
        with pytest.raises(ValueError):
            await pool.locate("two words")


async def test_registration_events_arrive_by_subclass() -> None:
    a1 = hashlib.md5(b"1001:city.example:pw-1001").hexdigest()
    directory = ('<document type="freeswitch/xml"><section name="directory"><domain name="city.example">'
                 '<groups><group name="default"><users><user id="1001"><params>'
                 f'<param name="a1-hash" value="{a1}"/></params></user></users></group></groups>'
                 '</domain></section></document>')
    async with emulator("fs-a", directory_xml=directory) as a, pool_of(settings(a=a.esl_port)) as pool:
        registered, unregistered = Recorder(), Recorder()
        pool.on("sofia::register", registered)
        pool.on("sofia::unregister", unregistered)
        await pool.wait_synced("a")
        assert (await a.register("1001", "city.example", "pw-1001", device_contact="sip:1001@192.0.2.9:5070")).ok
        event = await registered.wait_for(lambda e: e.get("from-user") == "1001")
        assert event.node == "a" and event.get("Event-Name") == "CUSTOM"
        assert event.get("contact") == '"" <sip:1001@192.0.2.9:5070>' and event.get("network-ip") == "127.0.0.1"
        assert (await a.unregister("1001", "city.example", "pw-1001", device_contact="sip:1001@192.0.2.9:5070")).ok
        gone = await unregistered.wait_for(lambda e: e.get("from-user") == "1001")
        assert gone.node == "a" and gone.get("contact") == event.get("contact") and gone.get("expires") == "0"


async def test_bgapi_through_the_pool() -> None:
    async with emulator("fs-a") as a, pool_of(settings(a=a.esl_port)) as pool:
        await pool.wait_synced("a")
        assert (await pool.bgapi_on("a", "show channels count")).strip() == "0 total."


async def test_readiness_without_nodes_and_with_a_node_that_is_down() -> None:
    async with pool_of(FsNodeSettings()) as pool:   # nothing could vouch for a call (esl.trust)
        assert await pool.readiness() == {"freeswitch": False}
        with pytest.raises(NodeUnavailable):
            await pool.api_any("status")
    async with pool_of(settings(down=free_port())) as pool:
        await pool.connection("down").wait_until(lambda s: s.failures >= 1)
        assert await pool.readiness() == {"freeswitch": False}
