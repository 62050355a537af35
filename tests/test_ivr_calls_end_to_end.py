"""IVRs on calls, nothing stubbed: the real directory (its admin API builds the tenant, a user,
a ring group, schedules and the IVRs; GetIvr over gRPC decides the schedule switches), callcontrol
(its real ``main``), real NATS and the FreeSWITCH emulator. callcontrol reaches the directory's
gRPC through a TCP link (tests/support/links.py) that counts the requests it carries and can
hold the answers back (a slow directory); no ACD listens, so a queued caller stays on music.

Calls run the emulator's dialplan ``dialplan()``, which sends number 7200 to callcontrol's
socket and routes whatever callcontrol transfers to a ``routed`` extension, so what callcontrol
does on the socket is what the assertions see (the directory's own dialplan on such calls:
tests/test_ivr_end_to_end.py). Callers press keys from a script: one entry per
``play_and_get_digits`` the call runs, a key or ``None`` (no key: the read times out)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from fsemu import FreeSwitchEmulator
from fsemu.emulator import Call
from hibiki.callcontrol.app import main
from hibiki.callcontrol.config import CallControlConfig
from hibiki.callcontrol.esl.outbound import SessionLimits
from hibiki.callcontrol.ivr.source import DirectoryIvrSource, IvrUnavailable, ServiceToken
from hibiki.common.auth import TokenAuthority
from hibiki.events.v1 import call_pb2, recording_pb2
from support.directory import Directory, directory_config, running_directory
from support.fsnode import emulator_node, vouching
from support.links import Link, link
from support.servers import free_port, running

FALLBACK = [("answer", ""), ("playback", "ivr/ivr-all_circuits_busy.wav"), ("hangup", "NORMAL_TEMPORARY_FAILURE")]
NOTICE = "この通話は録音されます。"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS_OPEN = {"weekly": {d: [{"start": "00:00", "end": "24:00"}] for d in DAYS},
               "closed_on_public_holidays": False, "year_end": None}
ALWAYS_CLOSED = {"weekly": {}, "closed_on_public_holidays": False, "year_end": None}
Json = dict[str, Any]


# ---- the IVRs (the admin API's JSON) ------------------------------------------------------
def menu(menu_id: str, choices: Json, **fields: Any) -> Json:
    return {"id": menu_id, "name": f"{menu_id} menu", "greeting": {"sound": f"ivr/{menu_id}.wav"},
            "choices": choices, **fields}


def city_hall(group: str, **fields: Any) -> Json:
    """Three levels: main -1-> services -2-> detail, whose keys leave the IVR every way."""
    return {"id": "hotline", "name": "代表", "root_menu": "main", "menus": [
        menu("main", {"1": {"menu": "services"}, "9": {"external": "0312345678"}}),
        menu("services", {"2": {"menu": "detail"}, "0": {"back": True}}),
        menu("detail", {"3": {"extension": "2100"}, "4": {"ring_group": group}, "5": {"voicemail": "2100"},
                        "6": {"queue": {"queue_id": "water", "priority": 3, "skills": ["ja", "water"]}},
                        "0": {"back": True}}),
    ], **fields}


# ---- the calls ----------------------------------------------------------------------------
def dialplan(socket: str, tenant: str, app: str = "ivr:hotline") -> str:
    return f"""<document type="freeswitch/xml"><section name="dialplan"><context name="default">
<extension name="ivr"><condition field="destination_number" expression="^(7200)$">
  <action application="set" data="hibiki_tenant={tenant}"/>
  <action application="set" data="hibiki_app={app}"/>
  <action application="socket" data="{socket} async full"/>
  <action application="answer"/>
  <action application="playback" data="ivr/ivr-all_circuits_busy.wav"/>
  <action application="hangup" data="NORMAL_TEMPORARY_FAILURE"/>
</condition></extension>
<extension name="routed"><condition field="destination_number" expression="^(.+)$">
  <action application="log" data="INFO routed $1"/>
  <action application="hangup" data="NORMAL_CLEARING"/>
</condition></extension></context></section></document>"""


Keys = list[str | None] | Callable[[int, str], str | None]


class Caller:
    """Presses a key at each play_and_get_digits: the script's next one, or what
    ``script(read number, greeting)`` says (None: no key); may hang up at read ``hang_up_at``."""

    def __init__(self, emu: FreeSwitchEmulator, call: Call, script: Keys, hang_up_at: int | None = None,
                 on_read: Callable[[int], None] | None = None) -> None:
        self.call, self.hang_up_at, self.on_read = call, hang_up_at, on_read
        self.script = script if callable(script) else list(script)
        self.reads: list[str] = []
        emu.switch.sinks.append(self._event)

    def _event(self, event: Any) -> None:
        if (event.name != "CHANNEL_EXECUTE" or event.get("Unique-ID") != self.call.uuid
                or event.get("Application") != "play_and_get_digits"):
            return
        self.reads.append(event.get("Application-Data") or "")
        count = len(self.reads)
        if self.on_read is not None:
            self.on_read(count)
        if count == self.hang_up_at:
            asyncio.get_running_loop().call_soon(self.call.hangup_by_caller)
            return
        if callable(self.script):
            key = self.script(count, self.reads[-1].split(" ")[5])
        else:
            key = self.script[count - 1] if count <= len(self.script) else None
        if key:
            self.call.send_dtmf(key)


class Events:
    def __init__(self, subscription: Any) -> None:
        self._sub = subscription
        self.seen: dict[str, list[bytes]] = {}

    async def wait(self, event: str, count: int = 1, timeout: float = 10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.seen.get(event, [])) < count:
            msg = await self._sub.next_msg(timeout=max(deadline - time.monotonic(), 0.01))
            self.seen.setdefault(msg.subject.rsplit(".", 1)[1], []).append(msg.data)
        return self.seen[event]

    async def settle(self) -> None:
        """Take in what is still on its way (after the events a test waited for)."""
        with contextlib.suppress(Exception):
            while True:
                msg = await self._sub.next_msg(timeout=0.3)
                self.seen.setdefault(msg.subject.rsplit(".", 1)[1], []).append(msg.data)


@dataclasses.dataclass
class Town:
    """A running directory holding ``tenant`` with user 2100 and the ring group ``group`` (窓口)."""

    tenant: str
    directory: Directory
    group: str

    async def add(self, kind: str, body: Json) -> Json:
        return await self.directory.post(f"/api/v1/tenants/{self.tenant}/{kind}", body)


@contextlib.asynccontextmanager
async def town(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority,
               tenant: str) -> AsyncIterator[Town]:
    config = directory_config(tmp_path, nats_server)
    async with running_directory(config, nats_client, authority, tenant) as directory:
        await directory.post("/api/v1/tenants", {"id": tenant, "domain": f"{tenant}.example.jp"})
        staff = await directory.post(f"/api/v1/tenants/{tenant}/users", {"username": "madoguchi", "extension": "2100"})
        group = await directory.post(f"/api/v1/tenants/{tenant}/ring_groups", {"name": "窓口", "members": [staff["id"]]})
        yield Town(tenant, directory, group["id"])


@dataclasses.dataclass
class Rig:
    town: Town
    config: CallControlConfig
    link: Link                      # callcontrol's way to the directory's gRPC
    emu: FreeSwitchEmulator
    events: Events

    @property
    def tenant(self) -> str:
        return self.town.tenant

    @property
    def group(self) -> str:
        return self.town.group

    async def ivr(self, definition: Json) -> Json:
        return await self.town.add("ivrs", definition)

    async def dial(self, script: Keys, *, socket: str | None = None, app: str = "ivr:hotline",
                   hang_up_at: int | None = None, on_read: Callable[[int], None] | None = None) -> tuple[Call, Caller]:
        address = socket or f"127.0.0.1:{self.config.esl_port}"
        call = await self.emu.place_call(destination="7200", caller_id_number="0462521111",
                                         dialplan_xml=dialplan(address, self.tenant, app))
        return call, Caller(self.emu, call, script, hang_up_at, on_read)


@pytest.fixture
def tenant(request: pytest.FixtureRequest) -> str:
    return "t" + format(abs(hash(request.node.name)) % 16**10, "010x")


@contextlib.asynccontextmanager
async def rig(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority, tenant: str, *,
              playback_delay: float = 0.0, emu: FreeSwitchEmulator | None = None, **config: Any) -> AsyncIterator[Rig]:
    """``emu``: a started emulator to use (one that outlives callcontrol), else a new one."""
    sub = await nats_client.subscribe(f"hibiki.{tenant}.call.>")
    await nats_client.flush()  # the server knows the subscription before we act
    try:
        async with town(tmp_path, nats_server, nats_client, authority, tenant) as t, \
                link(t.directory.grpc_address) as grpc_link:
            settings = CallControlConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path),
                                                   "HIBIKI_NATS_URL": nats_server.url})
            async with contextlib.AsyncExitStack() as stack:
                if emu is None:
                    emu = await stack.enter_async_context(FreeSwitchEmulator(playback_delay=playback_delay))
                settings = dataclasses.replace(settings, port=free_port(), esl_port=free_port(),
                                               **{"directory_grpc": grpc_link.address, "freeswitch": emulator_node(emu.esl_port),
                                                  "acd_grpc": f"127.0.0.1:{free_port()}", **config})   # no ACD here
                await stack.enter_async_context(running(main, settings))
                await vouching(settings.port)
                yield Rig(t, settings, grpc_link, emu, Events(sub))
    finally:
        await sub.unsubscribe()


def reads(call: Call) -> list[str]:
    return [data for app, data in call.executed if app == "play_and_get_digits"]


def played(call: Call) -> list[str]:
    return [data for app, data in call.executed if app == "playback"]


# ---- tests --------------------------------------------------------------------------------
async def test_a_three_level_ivr_walked_to_each_way_out(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                        authority: TokenAuthority, tenant: str) -> None:
    async with rig(tmp_path, nats_server, nats_client, authority, tenant) as r:
        await r.ivr(city_hall(r.group))
        ways = {"3": "2100", "4": f"hibiki_route_ring_group_{r.group}", "5": "hibiki_route_voicemail_2100"}
        calls = {key: await r.dial(["1", "2", key]) for key in ways}
        outside, _ = await r.dial(["9"])
        await asyncio.wait_for(asyncio.gather(*(c.finished for c, _ in calls.values()), outside.finished), 20)
        for key, (call, caller) in calls.items():
            assert ("transfer", f"{ways[key]} XML default") in call.executed
            assert call.executed[-2:] == [("log", f"INFO routed {ways[key]}"), ("hangup", "NORMAL_CLEARING")]
            assert call.variables["hibiki_ivr_id"] == "hotline"
            assert call.variables["hibiki_ivr_path"] == f"main:1>services:2>detail:{key}"
            assert "playback_terminators" not in call.variables
            assert [r.split(" ")[5] for r in reads(call)] == ["ivr/main.wav", "ivr/services.wav", "ivr/detail.wav"]
            assert reads(call)[0] == ("1 1 1 5000 none ivr/main.wav silence_stream://250 hibiki_ivr_digit "
                                      "^[19]$ 5000")
            assert not any(app == "socket" for app, _ in call.executed[call.executed.index(("answer", "")) + 1:])
        assert ("transfer", "hibiki_route_external_0312345678 XML default") in outside.executed
        assert outside.variables["hibiki_ivr_path"] == "main:9"
        choices = [call_pb2.MenuChoice.FromString(d) for d in await r.events.wait("menu_choice", 10)]
        entered = [call_pb2.IvrEntered.FromString(d) for d in await r.events.wait("ivr_entered", 4)]
        moved = [call_pb2.CallTransferred.FromString(d) for d in await r.events.wait("transferred", 4)]
    assert {e.ivr_id for e in entered} == {"hotline"} and entered[0].ivr_name == "代表"
    assert {t.to_destination for t in moved} == {*ways.values(), "hibiki_route_external_0312345678"}
    assert {t.from_party for t in moved} == {"ivr:hotline"}
    call, _ = calls["4"]
    mine = [c for c in choices if c.meta.call_uuid == call.uuid]
    assert [c.step.digits for c in mine] == ["1", "2", "4"]
    assert [s.menu_id for s in mine[-1].path] == ["main", "services", "detail"]
    assert mine[-1].step.branch == f"ring_group:{r.group}" and mine[0].step.branch == "menu:services"
    assert mine[-1].step.menu_name == "detail menu" and mine[-1].meta.tenant == tenant
    assert 1 <= r.link.requests <= 4                 # kept after the first answer (calls overlap: a few may ask)


async def test_an_ivr_is_asked_for_once_and_an_edit_reaches_the_next_call(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority, tenant: str) -> None:
    """callcontrol keeps the IVR (no GetIvr per call) until the directory announces a change
    (``config.changed`` on NATS): the next call after an admin's edit runs the edited IVR."""
    async with rig(tmp_path, nats_server, nats_client, authority, tenant) as r:
        await r.ivr(city_hall(r.group))
        await asyncio.sleep(0.2)                     # the creation's announcement has reached callcontrol
        for _ in range(3):
            call, _ = await r.dial(["9"])
            await asyncio.wait_for(call.finished, 10)
            assert ("transfer", "hibiki_route_external_0312345678 XML default") in call.executed
        assert r.link.requests == 1
        edited = city_hall(r.group)
        edited["menus"][0]["choices"]["9"] = {"external": "0398765432"}
        await r.town.directory.put(f"/api/v1/tenants/{tenant}/ivrs/hotline", edited)
        await asyncio.sleep(0.2)                     # the edit's announcement travels on NATS
        call, _ = await r.dial(["9"])
        await asyncio.wait_for(call.finished, 10)
        assert ("transfer", "hibiki_route_external_0398765432 XML default") in call.executed
        assert r.link.requests == 2
        again, _ = await r.dial(["9"])
        await asyncio.wait_for(again.finished, 10)
        assert ("transfer", "hibiki_route_external_0398765432 XML default") in again.executed
        assert r.link.requests == 2


async def test_the_queue_branch_publishes_the_path_and_holds_the_caller(tmp_path: Path, nats_server: Any,
                                                                        nats_client: Any, authority: TokenAuthority,
                                                                        tenant: str) -> None:
    async with rig(tmp_path, nats_server, nats_client, authority, tenant) as r:
        await r.ivr(city_hall(r.group))
        call, _ = await r.dial(["1", "2", "6"])
        queued = call_pb2.QueueEntered.FromString((await r.events.wait("queue_entered"))[0])
        await call.wait_for(lambda ch: ("playback", "local_stream://default") in ch.executed)
        assert call.variables["hibiki_queue"] == "water"
        assert call.variables["hibiki_ivr_path"] == "main:1>services:2>detail:6"
        call.hangup_by_caller()
        await asyncio.wait_for(call.finished, 10)
        abandoned = call_pb2.CallAbandoned.FromString((await r.events.wait("abandoned"))[0])
    assert queued.queue_id == "water" and queued.priority == 3 and list(queued.skills) == ["ja", "water"]
    assert [(s.menu_id, s.digits) for s in queued.ivr_path] == [("main", "1"), ("services", "2"), ("detail", "6")]
    assert queued.ivr_path[-1].branch == "queue:water" and queued.meta.call_uuid == call.uuid
    assert abandoned.queue_id == "water" and abandoned.wait_ms >= 0 and len(abandoned.ivr_path) == 3
    assert not any(app == "transfer" for app, _ in call.executed)
    assert call.executed[-1][0] != "hangup"          # the caller hung up; nothing of the fallback ran


async def test_timeouts_and_invalid_keys_are_retried_then_on_failure(tmp_path: Path, nats_server: Any,
                                                                     nats_client: Any, authority: TokenAuthority,
                                                                     tenant: str) -> None:
    patient = {"id": "hotline", "name": "辛抱", "root_menu": "main", "menus": [
        menu("main", {"1": {"extension": "2100"}}, timeout_seconds=7, max_tries=4,
             timeout_prompt={"sound": "ivr/ivr-please_try_again.wav"}, on_failure={"extension": "100"})]}
    strict = {"id": "strict", "name": "厳格", "root_menu": "main",
              "menus": [menu("main", {"1": {"extension": "2100"}}, max_tries=2)]}
    async with rig(tmp_path, nats_server, nats_client, authority, tenant) as r:
        await r.ivr(patient)
        await r.ivr(strict)
        third_try, _ = await r.dial([None, "7", "1"])
        gives_up, _ = await r.dial([None, "#", "8", None])
        fails, _ = await r.dial(["5", None], app="ivr:strict")
        await asyncio.wait_for(asyncio.gather(third_try.finished, gives_up.finished, fails.finished), 20)
        failures = [call_pb2.MenuChoice.FromString(d) for d in await r.events.wait("menu_choice", 3)]
    assert len(reads(third_try)) == 3 and all(" 7000 " in read for read in reads(third_try))
    assert played(third_try) == ["ivr/ivr-please_try_again.wav", "system/invalid_entry.wav"]
    assert ("transfer", "2100 XML default") in third_try.executed
    assert len(reads(gives_up)) == 4
    assert ("transfer", "100 XML default") in gives_up.executed
    assert gives_up.variables["hibiki_ivr_path"] == "main:-"
    assert len(reads(fails)) == 2
    assert played(fails) == ["system/invalid_entry.wav", "system/failed.wav"]
    assert fails.executed[-1] == ("hangup", "NORMAL_CLEARING") and fails.hangup_cause == "NORMAL_CLEARING"
    by_call = {m.meta.call_uuid: m for m in failures}
    assert by_call[gives_up.uuid].step.branch == "failure/extension:100"
    assert by_call[fails.uuid].step.branch == "failure/default" and by_call[fails.uuid].step.digits == ""


async def test_schedule_branches_as_the_directory_decides_them(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                                authority: TokenAuthority, tenant: str) -> None:
    """One IVR per schedule: always open, closed by hand for a holiday (override), closed now.
    (A broken branch, such as a menu that does not exist, never gets this far: the directory
    refuses to store it; the engine's own tests cover what callcontrol does with one.)"""
    def switched(ivr_id: str, schedule_id: str, group: str) -> Json:
        schedule = {"schedule_id": schedule_id, "otherwise": {"voicemail": "2000"}, "branches": {
            "open": {"ring_group": group}, "override:holiday": {"message": {"prompt": {"sound": "ivr/closed.wav"}}}}}
        return {"id": ivr_id, "name": ivr_id, "root_menu": "main",
                "menus": [menu("main", {"1": {"schedule": schedule}}, on_failure={"extension": "100"})]}
    async with rig(tmp_path, nats_server, nats_client, authority, tenant) as r:
        always = await r.town.add("schedules", {"name": "常時", "definition": ALWAYS_OPEN})
        holiday = await r.town.add("schedules", {"name": "臨時休業", "definition": {
            **ALWAYS_OPEN, "override": {"mode": "holiday", "reason": "臨時休業"}}})
        night = await r.town.add("schedules", {"name": "休止", "definition": ALWAYS_CLOSED})
        for ivr_id, schedule in (("open", always), ("holiday", holiday), ("night", night)):
            await r.ivr(switched(ivr_id, schedule["id"], r.group))
        opened, _ = await r.dial(["1"], app="ivr:open")
        on_holiday, _ = await r.dial(["1"], app="ivr:holiday")
        at_night, _ = await r.dial(["1"], app="ivr:night")
        await asyncio.wait_for(asyncio.gather(opened.finished, on_holiday.finished, at_night.finished), 20)
        choices = [call_pb2.MenuChoice.FromString(d) for d in await r.events.wait("menu_choice", 3)]
    assert ("transfer", f"hibiki_route_ring_group_{r.group} XML default") in opened.executed
    assert played(on_holiday) == ["ivr/closed.wav"] and on_holiday.executed[-1] == ("hangup", "NORMAL_CLEARING")
    assert ("transfer", "hibiki_route_voicemail_2000 XML default") in at_night.executed
    branch = {c.meta.call_uuid: c.step.branch for c in choices}
    assert branch[opened.uuid] == f"schedule:{always['id']}=open/ring_group:{r.group}"
    assert branch[on_holiday.uuid] == f"schedule:{holiday['id']}=override:holiday/message"
    assert branch[at_night.uuid] == f"schedule:{night['id']}=otherwise/voicemail:2000"


async def test_the_recording_notice_comes_first_and_text_is_spoken(tmp_path: Path, nats_server: Any,
                                                                   nats_client: Any, authority: TokenAuthority,
                                                                   tenant: str) -> None:
    recorded = await nats_client.subscribe(f"hibiki.{tenant}.recording.started")
    await nats_client.flush()
    async with rig(tmp_path, nats_server, nats_client, authority, tenant) as r:
        spoken = city_hall(r.group, recording_notice={"text": NOTICE})
        spoken["menus"][0]["greeting"] = {"text": "お電話ありがとうございます。"}
        await r.ivr(spoken)
        call, _ = await r.dial(["9"])
        await asyncio.wait_for(call.finished, 30)
        started = recording_pb2.RecordingStarted.FromString((await recorded.next_msg(timeout=5)).data)
    await recorded.unsubscribe()
    # recording starts only once the notice has been heard (REC-02)
    record = [data for app, data in call.executed if app == "record_session"]
    recording_id = call.variables["hibiki_recording_id"]             # its own id, named in the file
    assert len(record) == 1 and record[0].endswith(f"/{tenant}/{time.strftime('%Y/%m/%d', time.gmtime())}/{recording_id}.wav")
    assert record[0].startswith(r.config.recordings_dir)
    apps_in_order = [app for app, _ in call.executed]
    assert apps_in_order.index("playback") < apps_in_order.index("record_session") < apps_in_order.index(
        "play_and_get_digits")
    assert (started.recording_id, started.meta.call_uuid, started.reason) == (recording_id, call.uuid, "policy")
    media = [(app, data) for app, data in call.executed if app in ("answer", "playback", "play_and_get_digits")]
    assert media[0] == ("answer", "")
    notice, greeting = media[1][1], media[2][1].split(" ")[5]
    assert media[1][0] == "playback" and media[2][0] == "play_and_get_digits"
    root = r.config.prompts_root / tenant
    assert Path(notice).parent == root and Path(notice).is_file() and Path(notice).stat().st_size > 1000
    assert Path(greeting).parent == root and Path(greeting).is_file() and greeting != notice
    assert call.executed.index(("set", "playback_terminators=none")) < call.executed.index(("playback", notice))


async def test_a_caller_hanging_up_in_a_menu_is_abandoned(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                          authority: TokenAuthority, tenant: str) -> None:
    async with rig(tmp_path, nats_server, nats_client, authority, tenant, playback_delay=0.2) as r:
        await r.ivr(city_hall(r.group))
        call, _ = await r.dial(["1"], hang_up_at=2)
        await asyncio.wait_for(call.finished, 10)
        abandoned = call_pb2.CallAbandoned.FromString((await r.events.wait("abandoned"))[0])
        await r.events.settle()
    assert abandoned.queue_id == "" and abandoned.wait_ms >= 200
    assert [(s.menu_id, s.digits) for s in abandoned.ivr_path] == [("main", "1")]
    assert call.executed[-1][0] == "play_and_get_digits"        # nothing ran after the caller left
    assert "queue_entered" not in r.events.seen


async def test_a_caller_hanging_up_while_the_ivr_is_fetched_is_abandoned(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority, tenant: str) -> None:
    async with rig(tmp_path, nats_server, nats_client, authority, tenant) as r:
        await r.ivr(city_hall(r.group))
        r.link.delay = 0.5                           # the directory's answer is on its way
        call, _ = await r.dial(["9"])
        await asyncio.wait_for(r.link.arrived.wait(), 5)
        call.hangup_by_caller()
        await asyncio.wait_for(call.finished, 10)
        abandoned = call_pb2.CallAbandoned.FromString((await r.events.wait("abandoned"))[0])
        await r.events.settle()
    assert abandoned.meta.call_uuid == call.uuid and not abandoned.ivr_path and abandoned.queue_id == ""
    assert "ivr_entered" not in r.events.seen and not reads(call)
    assert not any(app == "answer" for app, _ in call.executed)


async def test_a_dropped_controller_connection_leaves_the_caller_on_the_fallback(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority, tenant: str) -> None:
    async with rig(tmp_path, nats_server, nats_client, authority, tenant, playback_delay=0.1) as r:
        await r.ivr(city_hall(r.group))
        async with link(f"127.0.0.1:{r.config.esl_port}") as socket_link:
            def cut(read: int) -> None:
                if read == 2:                        # in the second menu, the link to callcontrol breaks
                    socket_link.cut()

            call, _ = await r.dial(["1", "2"], socket=socket_link.address, on_read=cut)
            await asyncio.wait_for(call.finished, 10)
        await r.events.settle()
        later, _ = await r.dial(["9"])               # callcontrol itself is fine
        await asyncio.wait_for(later.finished, 10)
    assert call.executed[-3:] == FALLBACK
    assert len(reads(call)) == 2
    assert "abandoned" not in r.events.seen          # the caller did not hang up
    assert ("transfer", "hibiki_route_external_0312345678 XML default") in later.executed


async def test_calls_without_an_ivr_are_handed_back(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                    authority: TokenAuthority, tenant: str) -> None:
    """Also a queue call when the ACD cannot be asked for longer than the caller's patience."""
    async with rig(tmp_path, nats_server, nats_client, authority, tenant, queue_enqueue_patience=1.0) as r:
        await r.ivr(city_hall(r.group))
        unknown, _ = await r.dial([], app="ivr:nothing-here")
        await asyncio.wait_for(unknown.finished, 10)
        assert r.link.requests == 1                  # the directory was asked, and has no such IVR
        queue, _ = await r.dial([], app="queue:water")
        bad, _ = await r.dial([], app="ivr:${system(id)}")
        await asyncio.wait_for(asyncio.gather(queue.finished, bad.finished), 10)
        started = await r.events.wait("started", 3)
    for call in (unknown, queue, bad):
        assert call.executed[-3:] == FALLBACK and not reads(call)
    assert len(started) == 3 and r.link.requests == 1    # neither the queue nor a bad IVR id asks it


async def test_a_directory_that_is_down_or_slow_means_the_fallback(tmp_path: Path, nats_server: Any,
                                                                   nats_client: Any, authority: TokenAuthority,
                                                                   tenant: str) -> None:
    async with rig(tmp_path, nats_server, nats_client, authority, tenant, directory_timeout=0.5) as r:
        await r.ivr(city_hall(r.group))
        await r.ivr(city_hall(r.group, id="other", name="別窓口"))
        quick, _ = await r.dial(["9"])               # callcontrol and the directory are connected
        await asyncio.wait_for(quick.finished, 10)
        r.link.delay = 2.0
        began = time.monotonic()
        slow, _ = await r.dial(["9"], app="ivr:other")   # not asked for before: not kept
        await asyncio.wait_for(slow.finished, 10)
        assert time.monotonic() - began < 1.8
        assert r.link.requests == 2                  # it was asked, and too slow to answer
        kept, _ = await r.dial(["9"])                # the IVR kept from the first call needs no answer
        await asyncio.wait_for(kept.finished, 10)
    assert ("transfer", "hibiki_route_external_0312345678 XML default") in quick.executed
    assert ("transfer", "hibiki_route_external_0312345678 XML default") in kept.executed
    assert slow.executed[-3:] == FALLBACK
    (tmp_path / "down").mkdir()
    async with rig(tmp_path / "down", nats_server, nats_client, authority, tenant,
                   directory_grpc=f"127.0.0.1:{free_port()}") as r:     # nothing listens there
        await r.ivr(city_hall(r.group))
        down, _ = await r.dial(["9"])
        await asyncio.wait_for(down.finished, 10)
    assert down.executed[-3:] == FALLBACK


async def test_stopping_callcontrol_hands_queued_callers_back(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                              authority: TokenAuthority, tenant: str) -> None:
    emu = FreeSwitchEmulator()
    await emu.start()           # outlives callcontrol
    # no drain time (HIBIKI_CALLCONTROL_DRAIN_SECONDS=0, or a drain whose time is up): handed back
    async with rig(tmp_path, nats_server, nats_client, authority, tenant, emu=emu, drain_seconds=0.0) as r:
        await r.ivr(city_hall(r.group))
        try:
            call = await emu.place_call(destination="7200", dialplan_xml=dialplan(f"127.0.0.1:{r.config.esl_port}",
                                                                                  tenant))
            Caller(emu, call, ["1", "2", "6"])
            await r.events.wait("queue_entered")
        except BaseException:
            await emu.stop()
            raise
    try:
        await asyncio.wait_for(call.finished, 10)
        assert call.executed[-3:] == FALLBACK
        assert ("playback", "local_stream://default") in call.executed
    finally:
        await emu.stop()


@pytest.mark.slow
async def test_two_hundred_callers_in_the_ivr_at_once(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                      authority: TokenAuthority, tenant: str) -> None:
    """Nobody presses a key in the first menu (its tries run out and it starts again) until all
    200 callers are in it; then each goes on to its own end."""
    ends = {"3": "2100", "5": "hibiki_route_voicemail_2100"}
    waiting: set[str] = set()
    # Everything shares this one process (the emulator, NATS, the directory, callcontrol), so a
    # burst of 200 GetIvr (and 200 node checks, one eval each) gets more than the production deadlines.
    async with rig(tmp_path, nats_server, nats_client, authority, tenant, playback_delay=0.2,
                   directory_timeout=30.0, esl_limits=SessionLimits(handshake_timeout=30.0)) as r:
        lobby = city_hall(r.group)
        lobby["menus"][0].update(max_tries=10, on_failure={"menu": "main"})    # start again ("repeat" is refused)
        await r.ivr(lobby)
        ends["4"] = f"hibiki_route_ring_group_{r.group}"

        def caller(n: int) -> Callable[[int, str], str | None]:
            def press(read: int, greeting: str) -> str | None:
                if greeting == "ivr/main.wav":
                    waiting.add(str(n))
                    return "1" if len(waiting) == 200 else None
                return "2" if greeting == "ivr/services.wav" else "345"[n % 3]
            return press

        calls = [await r.dial(caller(n)) for n in range(200)]
        await asyncio.wait_for(asyncio.gather(*(c.finished for c, _ in calls)), 120)
        await r.events.wait("menu_choice", 600, timeout=30)
        await r.events.settle()
    choices = [call_pb2.MenuChoice.FromString(d) for d in r.events.seen["menu_choice"]]
    assert len(waiting) == 200                   # all of them in the IVR at the same time
    for n, (call, _) in enumerate(calls):
        assert ("transfer", f"{ends['345'[n % 3]]} XML default") in call.executed, call.executed
        assert call.variables["hibiki_ivr_path"].endswith(f"main:1>services:2>detail:{'345'[n % 3]}")
    pressed = [c for c in choices if c.step.digits]             # the others: tries run out, start again
    assert len(pressed) == 600 and len({c.meta.call_uuid for c in pressed}) == 200
    assert all(c.step.branch == "failure/menu:main" for c in choices if not c.step.digits)
    assert 1 <= r.link.requests <= 200          # callcontrol keeps the IVR: only callers before its first answer ask


# ---- the directory client -----------------------------------------------------------------
async def test_the_directory_client_refreshes_its_token_and_maps_errors(
        tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority, tenant: str) -> None:
    now = [1000.0]
    token = ServiceToken(authority, ttl_seconds=600, refresh_before=60, clock=lambda: now[0])
    async with town(tmp_path, nats_server, nats_client, authority, tenant) as t, \
            link(t.directory.grpc_address) as grpc_link:
        await t.add("ivrs", city_hall(t.group))
        source = DirectoryIvrSource(grpc_link.address, token, timeout=0.5)
        await source.start()
        try:
            first = await source.get(tenant, "hotline")
            assert first.menus[0].id == "main" and first.tenant == tenant and first.version > 0
            first_token = token.current()
            now[0] += 539
            assert token.current() == first_token and token.issued == 1
            now[0] += 2                                   # within a minute of expiry: a new one
            assert (await source.get(tenant, "hotline")).version == first.version and token.issued == 2
            with pytest.raises(IvrUnavailable) as missing:
                await source.get(tenant, "nothing")
            assert missing.value.error_id == "ivr-not-found"
            grpc_link.delay = 2.0
            began = time.monotonic()
            with pytest.raises(IvrUnavailable) as slow:
                await source.get(tenant, "hotline")
            assert slow.value.error_id == "directory-unavailable" and time.monotonic() - began < 1.5
            forged = DirectoryIvrSource(t.directory.grpc_address, ServiceToken(TokenAuthority(b"x" * 40)))
            await forged.start()
            with pytest.raises(IvrUnavailable) as refused:
                await forged.get(tenant, "hotline")
            await forged.stop()
            assert refused.value.error_id == "directory-refused"
        finally:
            await source.stop()
    with pytest.raises(ValueError):
        ServiceToken(authority, ttl_seconds=60, refresh_before=60)
