"""Agent feature codes on calls: callcontrol (its real ``main``) with the FreeSWITCH emulator,
real NATS and a gRPC ``AcdService`` that keeps agents in a table (token checked by the real
interceptor; the real ACD: tests/test_agent_feature_codes.py). Also the request parsing and
the desk's decisions alone."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsemu import FreeSwitchEmulator
from fsemu.emulator import Call
from hibiki.acd.v1 import acd_pb2, acd_pb2_grpc
from hibiki.callcontrol.agent.desk import Done, Refusal, Refused, apply
from hibiki.callcontrol.agent.request import ACTIONS, NEEDS_DIGITS, TAKES_DIGITS, Action, AgentRequest, parse
from hibiki.callcontrol.app import main
from hibiki.callcontrol.config import CallControlConfig
from hibiki.callcontrol.queue.client import AcdRefused, AcdUnavailable
from hibiki.common.auth import TokenAuthority
from hibiki.common.rpc import GrpcServer
from hibiki.events.v1 import agent_pb2
from support.servers import free_port, running

TENANT = "kanazawa"
CONFIRM = "tone_stream://%(150,100,880);%(150,0,1320)"
REFUSE = "tone_stream://%(500,100,480,620);loops=2"
FALLBACK = [("answer", ""), ("playback", "fallback"), ("hangup", "NORMAL_TEMPORARY_FAILURE")]
S = agent_pb2


class Agents(acd_pb2_grpc.AcdServiceServicer):
    """Agents by id: ``(state, reason, device, call_uuid)``; every request kept in ``asked``."""

    def __init__(self) -> None:
        self.known: dict[str, list[Any]] = {}
        self.asked: list[tuple[str, Any]] = []

    def _snapshot(self, agent_id: str) -> acd_pb2.AgentSnapshot:
        state, reason, device, call = self.known[agent_id]
        return acd_pb2.AgentSnapshot(agent_id=agent_id, state=state, reason=reason, device=device, call_uuid=call)

    async def _agent(self, request: Any, context: Any) -> list[Any]:
        if request.agent_id not in self.known:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown agent {request.agent_id!r}")
        return self.known[request.agent_id]

    async def AgentLogin(self, request: Any, context: Any) -> acd_pb2.AgentSnapshot:  # noqa: N802
        self.asked.append(("AgentLogin", request))
        agent = await self._agent(request, context)
        agent[:3] = [S.AGENT_STATE_READY if request.ready else S.AGENT_STATE_NOT_READY, "", request.device]
        return self._snapshot(request.agent_id)

    async def AgentLogout(self, request: Any, context: Any) -> acd_pb2.AgentSnapshot:  # noqa: N802
        self.asked.append(("AgentLogout", request))
        agent = await self._agent(request, context)
        agent[:3] = [S.AGENT_STATE_LOGGED_OUT, "", ""]
        return self._snapshot(request.agent_id)

    async def SetAgentState(self, request: Any, context: Any) -> acd_pb2.AgentSnapshot:  # noqa: N802
        self.asked.append(("SetAgentState", request))
        agent = await self._agent(request, context)
        if agent[0] == S.AGENT_STATE_AFTER_CALL_WORK and request.state == S.AGENT_STATE_READY:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "save the disposition first")
        agent[:2] = [request.state, request.reason]
        return self._snapshot(request.agent_id)

    async def SaveDisposition(self, request: Any, context: Any) -> acd_pb2.AgentSnapshot:  # noqa: N802
        self.asked.append(("SaveDisposition", request))
        agent = await self._agent(request, context)
        if agent[3] != request.call_uuid:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no disposition to save")
        agent[0], agent[3] = S.AGENT_STATE_READY, ""
        return self._snapshot(request.agent_id)

    async def GetAgentSnapshot(self, request: Any, context: Any) -> acd_pb2.AgentSnapshot:  # noqa: N802
        self.asked.append(("GetAgentSnapshot", request))
        for agent_id, (state, _, device, _) in self.known.items():
            if device == request.device and state != S.AGENT_STATE_LOGGED_OUT:
                return self._snapshot(agent_id)
        await context.abort(grpc.StatusCode.NOT_FOUND, f"nobody on {request.device!r}")
        raise AssertionError("unreachable")

    def methods(self) -> list[str]:
        return [name for name, _ in self.asked]


def dialplan(socket: str, app: str, device: str = "3001") -> str:
    return f"""<document type="freeswitch/xml"><section name="dialplan"><context name="default">
<extension name="agent"><condition field="destination_number" expression="^(.+)$">
  <action application="set" data="hibiki_tenant={TENANT}"/>
  <action application="set" data="hibiki_app={app}"/>
  <action application="set" data="hibiki_agent_device={device}"/>
  <action application="socket" data="{socket} async full"/>
  <action application="answer"/>
  <action application="playback" data="fallback"/>
  <action application="hangup" data="NORMAL_TEMPORARY_FAILURE"/>
</condition></extension></context></section></document>"""


@dataclasses.dataclass
class Rig:
    config: CallControlConfig
    acd: Agents
    emu: FreeSwitchEmulator

    async def dial(self, app: str, device: str = "3001") -> Call:
        call = await self.emu.place_call(destination="*5x", caller_id_number=device,
                                         dialplan_xml=dialplan(f"127.0.0.1:{self.config.esl_port}", app, device))
        await asyncio.wait_for(call.finished, 10)
        return call


@contextlib.asynccontextmanager
async def rig(tmp_path: Path, nats_server: Any, authority: TokenAuthority, *,
              acd_up: bool = True) -> AsyncIterator[Rig]:
    servicer = Agents()
    server = GrpcServer(authority, "127.0.0.1", free_port(), "test ACD gRPC")
    acd_pb2_grpc.add_AcdServiceServicer_to_server(servicer, server.server)
    if acd_up:
        await server.start()
    settings = CallControlConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url})
    settings = dataclasses.replace(settings, port=free_port(), esl_port=free_port(), acd_timeout=0.5,
                                   acd_grpc=f"127.0.0.1:{server.port if acd_up else free_port()}")
    try:
        async with running(main, settings), FreeSwitchEmulator() as emu:
            yield Rig(settings, servicer, emu)
    finally:
        await server.stop(0)


def after_socket(call: Call) -> list[tuple[str, str]]:
    return call.executed[[app for app, _ in call.executed].index("socket") + 1:]


CONFIRMED = [("answer", ""), ("playback", CONFIRM), ("hangup", "NORMAL_CLEARING")]
REFUSED = [("answer", ""), ("playback", REFUSE), ("hangup", "NORMAL_CLEARING")]


# ---- on calls -----------------------------------------------------------------------------
async def test_an_agent_logs_in_pauses_and_logs_out_from_a_phone(tmp_path: Path, nats_server: Any,
                                                                 authority: TokenAuthority) -> None:
    async with rig(tmp_path, nats_server, authority) as r:
        r.acd.known["1234"] = [S.AGENT_STATE_LOGGED_OUT, "", "", ""]
        login = await r.dial("agent:login:1234")
        assert r.acd.known["1234"][:3] == [S.AGENT_STATE_READY, "", "3001"]
        not_ready = await r.dial("agent:not_ready:")
        assert r.acd.known["1234"][0] == S.AGENT_STATE_NOT_READY
        pause = await r.dial("agent:break:07")
        assert r.acd.known["1234"][:2] == [S.AGENT_STATE_BREAK, "07"]
        ready = await r.dial("agent:ready:")
        assert r.acd.known["1234"][0] == S.AGENT_STATE_READY
        logout = await r.dial("agent:logout:")
        assert r.acd.known["1234"][0] == S.AGENT_STATE_LOGGED_OUT
    for call in (login, not_ready, pause, ready, logout):
        assert after_socket(call) == CONFIRMED, call.executed
        assert call.hangup_cause == "NORMAL_CLEARING"
    first = r.acd.asked[0][1]
    assert (first.tenant, first.agent_id, first.device, first.ready) == (TENANT, "1234", "3001", True)
    assert r.acd.methods() == ["AgentLogin", "GetAgentSnapshot", "SetAgentState", "GetAgentSnapshot",
                               "SetAgentState", "GetAgentSnapshot", "SetAgentState", "GetAgentSnapshot", "AgentLogout"]
    assert all(request.device == "3001" for name, request in r.acd.asked if name == "GetAgentSnapshot")


async def test_refusals_are_heard(tmp_path: Path, nats_server: Any, authority: TokenAuthority) -> None:
    async with rig(tmp_path, nats_server, authority) as r:
        r.acd.known["1234"] = [S.AGENT_STATE_TALKING, "", "3001", "call-1"]
        unknown = await r.dial("agent:login:999")
        elsewhere = await r.dial("agent:ready:", device="3002")       # nobody is logged in on 3002
        talking = await r.dial("agent:disposition:101")               # on a call: nothing to save yet
        r.acd.known["1234"][0] = S.AGENT_STATE_AFTER_CALL_WORK
        too_soon = await r.dial("agent:ready:")                       # the ACD wants the case type first
        saved = await r.dial("agent:disposition:101")
    for call in (unknown, elsewhere, talking, too_soon):
        assert after_socket(call) == REFUSED, call.executed
    assert after_socket(saved) == CONFIRMED
    disposition = [request for name, request in r.acd.asked if name == "SaveDisposition"]
    assert [(d.agent_id, d.call_uuid, d.case_type) for d in disposition] == [("1234", "call-1", "101")]
    assert r.acd.known["1234"][0] == S.AGENT_STATE_READY


async def test_without_the_acd_the_caller_hears_the_refusal(tmp_path: Path, nats_server: Any,
                                                            authority: TokenAuthority) -> None:
    async with rig(tmp_path, nats_server, authority, acd_up=False) as r:
        call = await r.dial("agent:login:1234")
    assert after_socket(call) == REFUSED


@pytest.mark.parametrize("app", ["agent:dance:", "agent:login:", "agent:ready:12", "agent:login:12a",
                                 "agent:break"])
async def test_a_malformed_request_goes_back_to_the_dialplan(tmp_path: Path, nats_server: Any,
                                                             authority: TokenAuthority, app: str) -> None:
    async with rig(tmp_path, nats_server, authority) as r:
        call = await r.dial(app)
    assert after_socket(call) == FALLBACK and r.acd.asked == []


async def test_a_call_without_its_device_goes_back_to_the_dialplan(tmp_path: Path, nats_server: Any,
                                                                   authority: TokenAuthority) -> None:
    async with rig(tmp_path, nats_server, authority) as r:
        call = await r.dial("agent:ready:", device="")
    assert after_socket(call) == FALLBACK and r.acd.asked == []


# ---- parsing ------------------------------------------------------------------------------
@given(st.text(max_size=30))
def test_parse_accepts_only_what_a_feature_code_makes(target: str) -> None:
    request = parse(target)
    if request is not None:
        assert target == f"{request.action.value}:{request.argument}"
        assert request.argument.isascii() and (request.argument.isdigit() or request.argument == "")
        assert bool(request.argument) == (request.action in NEEDS_DIGITS) or request.action is Action.BREAK


@given(st.sampled_from(sorted(ACTIONS)), st.text(alphabet="0123456789", max_size=16))
def test_parse_round_trips(name: str, digits: str) -> None:
    action = ACTIONS[name]
    wanted = (bool(digits) or action not in NEEDS_DIGITS) and (not digits or action in TAKES_DIGITS)
    assert parse(f"{name}:{digits}") == (AgentRequest(action, digits) if wanted else None)


# ---- the desk alone -----------------------------------------------------------------------
class FakeAcd:
    def __init__(self, snapshot: acd_pb2.AgentSnapshot | Exception) -> None:
        self.snapshot = snapshot
        self.done: list[str] = []

    async def agent_login(self, tenant: str, agent_id: str, device: str, ready: bool) -> acd_pb2.AgentSnapshot:
        raise AcdRefused("FAILED_PRECONDITION", "agent 7 is on a call on 3009")

    async def agent_logout(self, tenant: str, agent_id: str) -> acd_pb2.AgentSnapshot:
        raise AssertionError("not in these tests")

    async def set_agent_state(self, tenant: str, agent_id: str, state: Any, reason: str = "") -> acd_pb2.AgentSnapshot:
        self.done.append(f"state {state} {reason}")
        return acd_pb2.AgentSnapshot(agent_id=agent_id, state=state, reason=reason)

    async def save_disposition(self, tenant: str, agent_id: str, call_uuid: str,
                               case_type: str) -> acd_pb2.AgentSnapshot:
        raise AcdRefused("NOT_FOUND", "no disposition")

    async def agent_on_device(self, tenant: str, device: str) -> acd_pb2.AgentSnapshot:
        if isinstance(self.snapshot, Exception):
            raise self.snapshot
        return self.snapshot


async def test_the_desk_says_why() -> None:
    here = acd_pb2.AgentSnapshot(agent_id="7", state=S.AGENT_STATE_AFTER_CALL_WORK, device="3001", call_uuid="c")
    cases = [
        (FakeAcd(here), AgentRequest(Action.LOGIN, "7"), Refusal.REFUSED),
        (FakeAcd(AcdUnavailable("down")), AgentRequest(Action.READY), Refusal.ACD_UNAVAILABLE),
        (FakeAcd(acd_pb2.AgentSnapshot()), AgentRequest(Action.READY), Refusal.NOT_LOGGED_IN),
        (FakeAcd(acd_pb2.AgentSnapshot(agent_id="7", state=S.AGENT_STATE_READY, device="3002")),
         AgentRequest(Action.READY), Refusal.NOT_LOGGED_IN),
        (FakeAcd(here), AgentRequest(Action.DISPOSITION, "5"), Refusal.NOT_PENDING),
        (FakeAcd(acd_pb2.AgentSnapshot(agent_id="7", state=S.AGENT_STATE_READY, device="3001")),
         AgentRequest(Action.DISPOSITION, "5"), Refusal.NOT_PENDING),
    ]
    for acd, request, why in cases:
        result = await apply(acd, TENANT, "3001", request)
        assert isinstance(result, Refused) and result.reason is why, (request, result)
        assert acd.done == []
    acd = FakeAcd(here)
    assert await apply(acd, TENANT, "3001", AgentRequest(Action.BREAK, "3")) == Done("7", "AGENT_STATE_BREAK")
    assert acd.done == [f"state {S.AGENT_STATE_BREAK} 3"]
