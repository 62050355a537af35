"""Supervision on the real switch (CC-06): a caller (baresip, 440 Hz) talks to an agent (baresip,
1000 Hz); a supervisor (baresip, 1800 Hz) is rung through callcontrol's supervision API and listens,
then whispers, then barges (the mode switched during the call with PUT). Who hears whom is decided
from the audio each phone received (baresip's ``sndfile`` recording of what it decoded): the level of each tone in the middle of
each phase, printed in dBFS. Then the attacks: another tenant's supervisor, an agent's token, a
device of another tenant and hostile device strings are refused, and no eavesdrop ran."""

from __future__ import annotations

import time
import wave
from pathlib import Path

from support.switch.baresip import Baresip
from support.tones import level_db
from support.switch.bench import SwitchBench
from support.switch.stack import Api

T, OTHER, ATTACKED, STARTS = "sv", "sv2", "sx", "sw"
CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 440, 1000, 1800
PHASE_S = 3.5
HEARD_DB, SILENT_DB = -40.0, -55.0       # a tone heard is well above -40 dBFS; absent well below -55


def agent_leg(bench: SwitchBench, device: str, timeout: float = 10.0) -> str:
    """The channel FreeSWITCH rang the agent's device on: the outbound one with ``dialed_user``
    (the bridge sets ``dialed_user`` on the caller's inbound leg too: that one is not the agent's)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in bench.fs.api("show channels").splitlines()[1:]:
            uuid, direction = (line.split(",") + [""])[:2]
            if len(uuid) == 36 and direction == "outbound" \
                    and bench.fs.api(f"uuid_getvar {uuid} dialed_user").strip() == device:
                return uuid
        time.sleep(0.2)
    raise AssertionError(f"no channel rang {device}:\n{bench.fs.api('show channels')}")


def callcontrol(bench: SwitchBench, user: str, tenant: str, roles: tuple[str, ...]) -> Api:
    return Api(bench.stack.callcontrol_url, bench.stack.token(user, tenant, roles))


def seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def heard(phone: Baresip) -> Path:
    found = sorted(phone.workdir.glob("dump-*-dec.wav"))
    assert found, f"{phone.name} recorded nothing it heard"
    return found[-1]


def test_listen_whisper_barge_who_hears_whom(bench: SwitchBench) -> None:
    bench.tenant(T)
    caller = bench.baresip(bench.extension(T, "2101")[0], tone_hz=CALLER_HZ, record=True)
    agent = bench.baresip(bench.extension(T, "2102")[0], tone_hz=AGENT_HZ, record=True)
    supervisor = bench.baresip(bench.extension(T, "2103")[0], tone_hz=SUPERVISOR_HZ, record=True)
    api = callcontrol(bench, "boss", T, ("supervisor",))
    mark = bench.fs.log_mark()

    caller.dial("2102")
    agent.wait("CALL_ESTABLISHED")
    caller.wait("CALL_ESTABLISHED")
    talk_from = time.monotonic()
    leg = agent_leg(bench, "2102")
    base = f"/api/v1/tenants/{T}/calls/{leg}/supervision"
    started = api.post(base, {"mode": "listen", "device": "2103"}, expect=201)
    sid = started["supervision_id"]
    supervisor.wait("CALL_ESTABLISHED")
    phases = {"listen": time.monotonic()}
    time.sleep(PHASE_S)
    for mode in ("whisper", "barge"):
        assert api.put(f"{base}/{sid}", {"mode": mode}, expect=200)["mode"] == mode
        phases[mode] = time.monotonic()
        time.sleep(PHASE_S)
    end = time.monotonic()
    api.delete(f"{base}/{sid}", expect=204)
    supervisor.wait("CALL_CLOSED")
    time.sleep(0.5)
    caller.hangup()
    agent.wait("CALL_CLOSED")
    time.sleep(0.5)

    assert ("eavesdrop", leg) in bench.fs.applications(mark)
    log = bench.stack.log("callcontrol")
    assert log.count('"supervision_audit"') >= 4 and sid in log

    # The phones' recordings start at their own answer: the caller's and the agent's at talk_from,
    # the supervisor's at phases["listen"] (each within a few tens of ms).
    starts = {"caller": talk_from, "agent": talk_from, "supervisor": phases["listen"]}
    phones = {"caller": caller, "agent": agent, "supervisor": supervisor}
    tones = {"caller": CALLER_HZ, "agent": AGENT_HZ, "supervisor": SUPERVISOR_HZ}
    bounds = {"listen": (phases["listen"], phases["whisper"]), "whisper": (phases["whisper"], phases["barge"]),
              "barge": (phases["barge"], end)}
    measured: dict[tuple[str, str, str], float] = {}
    for mode, (a, b) in bounds.items():
        for who, phone in phones.items():
            for source, hz in tones.items():
                if source != who:
                    db = level_db(heard(phone), a - starts[who] + 1.0, b - starts[who] - 0.5, hz)
                    measured[(mode, who, source)] = db
                    print(f"{mode:8s} {who:10s} hears {source:10s} ({hz:4d} Hz): {db:6.1f} dBFS")
    expected = {   # (mode, listener, source): heard?
        **{(m, "supervisor", s): True for m in bounds for s in ("caller", "agent")},
        **{(m, "caller", "agent"): True for m in bounds}, **{(m, "agent", "caller"): True for m in bounds},
        ("listen", "caller", "supervisor"): False, ("listen", "agent", "supervisor"): False,
        ("whisper", "caller", "supervisor"): False, ("whisper", "agent", "supervisor"): True,
        ("barge", "caller", "supervisor"): True, ("barge", "agent", "supervisor"): True,
    }
    wrong = {k: round(measured[k], 1) for k, hears in expected.items()
             if (measured[k] < HEARD_DB if hears else measured[k] > SILENT_DB)}
    assert not wrong, f"heard (or not) against the mode: {wrong}"


def test_started_in_whisper_then_in_barge(bench: SwitchBench) -> None:
    """The start flags (eavesdrop_whisper_aleg/_bleg on the supervisor's leg), without a switch."""
    bench.tenant(STARTS)
    caller = bench.baresip(bench.extension(STARTS, "2121")[0], tone_hz=CALLER_HZ, record=True)
    agent = bench.baresip(bench.extension(STARTS, "2122")[0], tone_hz=AGENT_HZ, record=True)
    supervisor = bench.baresip(bench.extension(STARTS, "2123")[0], tone_hz=SUPERVISOR_HZ, record=True)
    api = callcontrol(bench, "boss", STARTS, ("tenant-admin",))
    caller.dial("2122")
    agent.wait("CALL_ESTABLISHED")
    caller.wait("CALL_ESTABLISHED")
    leg = agent_leg(bench, "2122")
    base = f"/api/v1/tenants/{STARTS}/calls/{leg}/supervision"
    windows = {}
    for mode in ("whisper", "barge"):
        mark = supervisor.mark()
        sid = api.post(base, {"mode": mode, "device": "2123"}, expect=201)["supervision_id"]
        supervisor.wait("CALL_ESTABLISHED", after=mark)
        windows[mode] = (time.monotonic(), time.monotonic() + PHASE_S)
        time.sleep(PHASE_S)
        api.delete(f"{base}/{sid}", expect=204)
        supervisor.wait("CALL_CLOSED", after=mark)
        time.sleep(0.5)
    ended = time.monotonic()
    caller.hangup()
    agent.wait("CALL_CLOSED")
    time.sleep(0.5)
    measured = {}
    for mode, (a, b) in windows.items():
        for who, phone in (("caller", caller), ("agent", agent)):
            # aligned from the recording's end (the hang-up), not from the answer: on a loaded machine a
            # recording holds only what was decoded, seconds shorter than the call (tests/freeswitch/README.md)
            end = seconds(heard(phone))
            db = level_db(heard(phone), end - (ended - a) + 1.0, end - (ended - b) - 0.5, SUPERVISOR_HZ)
            measured[(mode, who)] = db
            print(f"started in {mode:8s} {who:6s} hears supervisor ({SUPERVISOR_HZ} Hz): {db:6.1f} dBFS")
    assert measured[("whisper", "agent")] > HEARD_DB and measured[("whisper", "caller")] < SILENT_DB
    assert measured[("barge", "agent")] > HEARD_DB and measured[("barge", "caller")] > HEARD_DB


def test_attacks_are_refused_and_no_eavesdrop_runs(bench: SwitchBench) -> None:
    bench.tenant(ATTACKED)
    bench.tenant(OTHER)
    caller = bench.baresip(bench.extension(ATTACKED, "2111")[0])
    agent = bench.baresip(bench.extension(ATTACKED, "2112")[0])
    bench.extension(ATTACKED, "2113")
    outsider = bench.extension(OTHER, "2213")[0]
    bench.baresip(outsider)                       # registered: ringing it would work, were it allowed
    mark = bench.fs.log_mark()
    caller.dial("2112")
    agent.wait("CALL_ESTABLISHED")
    leg = agent_leg(bench, "2112")
    channels = bench.fs.channel_count()
    path = f"/api/v1/tenants/{ATTACKED}/calls/{leg}/supervision"

    refusals = []
    other_boss = callcontrol(bench, "eve", OTHER, ("supervisor",))
    refusals.append(other_boss.post(path, {"mode": "listen", "device": "2213"}, expect=403))
    refusals.append(other_boss.post(f"/api/v1/tenants/{OTHER}/calls/{leg}/supervision",
                                    {"mode": "barge", "device": "2213"}, expect=404))
    for roles in (("agent",), ("viewer",), ("recording-admin",)):
        refusals.append(callcontrol(bench, "a1", ATTACKED, roles).post(path, {"mode": "listen", "device": "2113"},
                                                                 expect=403))
    boss = callcontrol(bench, "boss", ATTACKED, ("supervisor",))
    refusals.append(boss.post(path, {"mode": "listen", "device": outsider.sip_username}, expect=404))
    hostile = ["2113@evil.example", "user/2113", "2113,sofia/gateway/x/0120", "${system(id)}", "2113 &park()",
               "{origination_uuid=x}2113", "[a=b]2113", "../2113", "", "2113\r\nX: y", "２１１３", "a" * 65]
    for device in hostile:
        refusals.append(boss.post(path, {"mode": "listen", "device": device}, expect=422))
    refusals.append(boss.post(path, {"mode": "spy", "device": "2113"}, expect=422))
    refusals.append(boss.post(f"/api/v1/tenants/{ATTACKED}/calls/not-a-uuid/supervision",
                              {"mode": "listen", "device": "2113"}, expect=422))
    refusals.append(boss.put(f"{path}/{leg}", {"mode": "barge"}, expect=404))     # the agent's leg is no supervision
    refusals.append(boss.delete(f"{path}/{leg}", expect=404))
    time.sleep(1.0)
    eavesdrops = [a for a in bench.fs.applications(mark) if a[0] in ("eavesdrop", "three_way")]
    print(f"{len(refusals)} attacks refused; eavesdrops started: {len(eavesdrops)}; "
          f"channels {channels} -> {bench.fs.channel_count()}")
    assert all(r.get("error_id") for r in refusals)
    assert {r["details"].get("field") for r in refusals if r["error_id"] == "invalid-device"} == {"device"}
    assert eavesdrops == []
    assert bench.fs.channel_count() == channels
    caller.hangup()
