"""Agent feature codes across services, nothing stubbed (CC-02, CC-03): a user dials
``*50<agent>`` on their phone; the emulator asks the directory's /fsapi, whose dialplan hands
the call to callcontrol (``hibiki_app=agent:login:<agent>``, ``hibiki_agent_device``); callcontrol
logs the agent in on that phone through the ACD's gRPC and plays the confirmation tone. Then
``*52``, ``*51``, ``*53<reason>`` and ``*59`` act for the agent logged in on the phone
(``GetAgentSnapshot`` by device), read back from the ACD's HTTP API; what cannot be done (or an
ACD that is down) is heard as the refusal tone. ``*55<case type>`` ends the wrap-up of a call the
agent took from a queue (CC-03). A request callcontrol cannot read (which the directory never
makes: driven straight into callcontrol with the emulator's dialplan) goes back to the dialplan."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from fsemu import FreeSwitchEmulator
from fsemu.emulator import Call
from hibiki.acd.app import main as acd_main
from hibiki.acd.config import AcdConfig
from hibiki.callcontrol.app import main as callcontrol_main
from hibiki.callcontrol.config import CallControlConfig
from hibiki.common.auth import TokenAuthority
from hibiki.events.v1 import agent_pb2
from support.directory import directory_config, running_directory
from support.fsnode import emulator_node, vouching
from support.servers import free_port, running

DOMAIN = "kanazawa-water.example.jp"
NUMBER = "0762201111"
CONFIRM = "tone_stream://%(150,100,880);%(150,0,1320)"
REFUSE = "tone_stream://%(500,100,480,620);loops=2"
FALLBACK = [("answer", ""), ("playback", "fallback"), ("hangup", "NORMAL_TEMPORARY_FAILURE")]


def dialplan(tenant: str, socket: str, app: str, device: str) -> str:
    """A dialplan the directory never makes: ``hibiki_app`` and the device as given."""
    return f"""<document type="freeswitch/xml"><section name="dialplan"><context name="default">
<extension name="agent"><condition field="destination_number" expression="^(.+)$">
  <action application="set" data="hibiki_tenant={tenant}"/>
  <action application="set" data="hibiki_app={app}"/>
  <action application="set" data="hibiki_agent_device={device}"/>
  <action application="socket" data="{socket} async full"/>
  <action application="answer"/>
  <action application="playback" data="fallback"/>
  <action application="hangup" data="NORMAL_TEMPORARY_FAILURE"/>
</condition></extension></context></section></document>"""


@dataclasses.dataclass
class Center:
    tenant: str                     # one per test: the ACD's state lives in the session's NATS
    emu: FreeSwitchEmulator
    fsapi: str
    esl: str                        # callcontrol's event socket
    acd: httpx.AsyncClient
    seats: dict[str, str]           # extension -> user id
    dispositions: Any               # NATS subscription: the tenant's agent.disposition_saved
    stop_acd: Callable[[], Awaitable[None]]

    async def dial(self, extension: str, destination: str) -> Call:
        call = await self.emu.place_call(destination=destination, caller_id_number=extension, domain=DOMAIN,
                                         dialplan_url=self.fsapi,
                                         variables={"hibiki_tenant": self.tenant, "hibiki_user": self.seats[extension],
                                                    "domain_name": DOMAIN})
        await asyncio.wait_for(call.finished, 15)
        return call

    async def run_app(self, app: str, device: str) -> Call:
        """``hibiki_app=app`` on ``device`` straight to callcontrol, with a dialplan fallback."""
        call = await self.emu.place_call(destination="*5x", caller_id_number=device or "3001",
                                         dialplan_xml=dialplan(self.tenant, self.esl, app, device))
        await asyncio.wait_for(call.finished, 15)
        return call

    async def agent(self, agent_id: str) -> dict[str, Any]:
        reply = await self.acd.get(f"/tenants/{self.tenant}/agents/{agent_id}/state")
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    async def reach(self, agent_id: str, state: str) -> dict[str, Any]:
        """The agent once the ACD has them in ``state`` (what a call does reaches it by events)."""
        for _ in range(200):
            agent = await self.agent(agent_id)
            if agent["state"] == state:
                return agent
            await asyncio.sleep(0.05)
        raise AssertionError(f"agent {agent_id} is {agent['state']}, not {state}")

    async def queued_call(self, answered_by: str) -> Call:
        """A call from outside to the queue's number, answered at ``answered_by``; it goes on
        until the caller hangs up (``hangup_by_caller``)."""
        return await self.emu.place_call(destination=NUMBER, caller_id_number="09011112222", context="public",
                                         dialplan_url=self.fsapi,
                                         answering_endpoints={f"user/{answered_by}@{DOMAIN}": "answer"})


def after_socket(call: Call) -> list[tuple[str, str]]:
    return list(call.executed[[app for app, _ in call.executed].index("socket") + 1:])


def tone(call: Call) -> str:
    """The tone callcontrol played: it answered, played one tone and hung up."""
    after = after_socket(call)
    assert [app for app, _ in after] == ["answer", "playback", "hangup"], call.executed
    assert after[-1] == ("hangup", "NORMAL_CLEARING") and call.hangup_cause == "NORMAL_CLEARING", call.executed
    return after[1][1]


@contextlib.asynccontextmanager
async def center(tmp_path: Path, nats_server: Any, nats_client: Any,
                 authority: TokenAuthority) -> AsyncIterator[Center]:
    env = {"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}
    tenant = f"kz{uuid.uuid4().hex[:10]}"
    acd = dataclasses.replace(AcdConfig.from_env(env), port=free_port(), grpc_port=free_port())
    control = dataclasses.replace(CallControlConfig.from_env(env), port=free_port(), esl_port=free_port(),
                                  acd_grpc=f"127.0.0.1:{acd.grpc_port}", queue_announce_seconds=0.0)
    directory = directory_config(tmp_path, nats_server, callcontrol_address=f"127.0.0.1:{control.esl_port}")
    acd = dataclasses.replace(acd, directory_grpc=f"127.0.0.1:{directory.grpc_port}")   # resolves logins' devices
    fs_port = free_port()
    control = dataclasses.replace(control, directory_grpc=f"127.0.0.1:{directory.grpc_port}",
                                  freeswitch=emulator_node(fs_port))
    dispositions = await nats_client.subscribe(f"hibiki.{tenant}.agent.disposition_saved")
    await nats_client.flush()  # the server knows the subscriptions before we act
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(dispositions.unsubscribe)
        acd_service = contextlib.AsyncExitStack()      # stopped by the test, or last
        stack.push_async_callback(acd_service.aclose)
        await acd_service.enter_async_context(running(acd_main, acd))
        admin = await stack.enter_async_context(running_directory(directory, nats_client, authority, tenant))
        await stack.enter_async_context(running(callcontrol_main, control))
        acd_api = await stack.enter_async_context(
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{acd.port}/api/v1", headers={"Authorization": f"Bearer {admin.token}"},
                              timeout=20))
        emu = await stack.enter_async_context(FreeSwitchEmulator(port=fs_port))
        await vouching(control.port)

        async def put(path: str, body: dict[str, Any]) -> None:
            reply = await acd_api.put(path, json=body)
            assert reply.status_code in (200, 201), reply.text

        await admin.post("/api/v1/tenants", {"id": tenant, "domain": DOMAIN})
        seats = {}
        for extension in ("3001", "3002"):
            user = await admin.post(f"/api/v1/tenants/{tenant}/users", {"username": f"seat{extension}",
                                                                         "extension": extension})
            seats[extension] = user["id"]
        await admin.post(f"/api/v1/tenants/{tenant}/dids", {"number": NUMBER, "target_kind": "queue",
                                                             "target": "water"})
        await put(f"/tenants/{tenant}/queues/water", {})
        await put(f"/tenants/{tenant}/agents/1234", {"skills": {}, "queues": ["water"]})
        yield Center(tenant, emu, admin.fsapi, f"127.0.0.1:{control.esl_port}",
                     acd_api, seats, dispositions, acd_service.aclose)


async def test_an_agent_logs_in_on_any_seat_and_an_unknown_agent_is_refused(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> None:
    async with center(tmp_path, nats_server, nats_client, authority) as c:
        login = await c.dial("3001", "*501234")
        logged_in = await c.agent("1234")
        unknown = await c.dial("3002", "*509999")
    assert ("set", "hibiki_app=agent:login:1234") in login.executed
    assert login.variables["hibiki_agent_device"] == "3001"
    assert tone(login) == CONFIRM
    assert logged_in["state"] == "ready" and logged_in["device"] == "3001"
    assert tone(unknown) == REFUSE


async def test_an_agent_changes_state_from_the_phone_they_logged_in_on(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> None:
    async with center(tmp_path, nats_server, nats_client, authority) as c:
        assert tone(await c.dial("3001", "*501234")) == CONFIRM
        states: list[tuple[str, str, str, str]] = []
        for code in ("*52", "*5307", "*51", "*52", "*51", "*59"):
            heard = tone(await c.dial("3001", code))
            agent = await c.agent("1234")
            states.append((heard, agent["state"], agent["reason"], agent["device"]))
        not_here = await c.dial("3002", "*51")          # nobody is logged in on 3002
        logged_out = await c.dial("3001", "*52")        # nor on 3001 any more
        no_call = await c.dial("3002", "*55101")
    assert states == [(CONFIRM, "not_ready", "", "3001"), (CONFIRM, "break", "07", "3001"),
                      (CONFIRM, "ready", "", "3001"), (CONFIRM, "not_ready", "", "3001"),
                      (CONFIRM, "ready", "", "3001"), (CONFIRM, "logged_out", "", "")]
    assert tone(not_here) == REFUSE and tone(logged_out) == REFUSE and tone(no_call) == REFUSE


async def test_the_case_type_from_the_phone_ends_after_call_work(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> None:
    async with center(tmp_path, nats_server, nats_client, authority) as c:
        assert tone(await c.dial("3001", "*501234")) == CONFIRM
        too_soon = await c.dial("3001", "*55101")      # no call yet: nothing to save
        taken = await c.queued_call(answered_by="3001")
        talking = await c.reach("1234", "talking")
        on_the_call = await c.dial("3001", "*55101")   # talking: no case type yet
        taken.hangup_by_caller()
        await asyncio.wait_for(taken.finished, 15)
        wrapping = await c.reach("1234", "after_call_work")   # the end of the call reaches the ACD
        not_yet = await c.dial("3001", "*51")          # the ACD wants the case type first
        still = await c.agent("1234")
        saved = await c.dial("3001", "*55101")
        after = await c.agent("1234")
        event = agent_pb2.DispositionSaved.FromString((await c.dispositions.next_msg(timeout=5)).data)
        again = await c.dial("3001", "*55101")
    assert tone(too_soon) == REFUSE
    assert any(app == "bridge" and data.endswith(f"user/3001@{DOMAIN}") for app, data in taken.executed)
    assert talking["device"] == "3001" and tone(on_the_call) == REFUSE
    assert wrapping["pending_disposition"] == taken.uuid
    assert tone(not_yet) == REFUSE and still["state"] == "after_call_work"
    assert tone(saved) == CONFIRM and after["state"] == "ready" and not after["pending_disposition"]
    assert (event.agent_id, event.meta.call_uuid, event.queue_id, event.case_type) == ("1234", taken.uuid, "water",
                                                                                      "101")
    assert tone(again) == REFUSE


async def test_without_the_acd_the_caller_hears_the_refusal(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> None:
    async with center(tmp_path, nats_server, nats_client, authority) as c:
        assert tone(await c.dial("3001", "*501234")) == CONFIRM
        await c.stop_acd()
        pause = await c.dial("3001", "*52")
        login = await c.dial("3002", "*501234")
    assert tone(pause) == REFUSE and tone(login) == REFUSE


async def test_a_malformed_request_or_no_device_goes_back_to_the_dialplan(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> None:
    async with center(tmp_path, nats_server, nats_client, authority) as c:
        assert tone(await c.dial("3001", "*501234")) == CONFIRM
        assert tone(await c.dial("3001", "*52")) == CONFIRM
        before = await c.agent("1234")
        calls = {app: await c.run_app(app, "3001")
                 for app in ("agent:dance:", "agent:login:", "agent:ready:12", "agent:login:12a", "agent:break")}
        calls["no device"] = await c.run_app("agent:ready:", "")
        after = await c.agent("1234")
    for app, call in calls.items():
        assert after_socket(call) == FALLBACK, (app, call.executed)
    assert before["state"] == "not_ready" and after == before      # the ACD was not asked to change anything
