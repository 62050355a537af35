"""Call recording on the real FreeSWITCH (REC-01, REC-02): the recording policy set over the admin
API by a recording administrator decides which calls are recorded; a recorded call hears the
notice first, then FreeSWITCH writes a stereo WAV into the spool
(``<spool>/<tenant>/<yyyy>/<mm>/<dd>/<recording id>.wav``) with the caller on channel 1 and the
other party on channel 2, and callcontrol hands it on as ``hibiki.<tenant>.recording.stopped``.
The recording service (started by ``hibiki up``) then compresses, encrypts and stores it, publishes
``hibiki.<tenant>.recording.stored`` and removes the spool WAV: each test follows the whole path, as
a person would, by downloading the audio through the recordings API with a ``recording-admin``
token, decoding it (pydub, the ffmpeg of imageio-ffmpeg) and checking each channel.
The phones: the carrier (sipp) speaks a recorded a-law voice, the user's phone (baresip) a
440 Hz tone, so each channel's spectrum says whose it is."""

from __future__ import annotations

import json
import os
import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg  # type: ignore[import-untyped]
import numpy as np
import pytest
from pydub import AudioSegment

from hibiki.events.v1 import call_pb2, recording_pb2
from support.switch import sipp
from support.switch.bench import DirectoryApi, Extension, SwitchBench
from support.switch.esl import EslEvent

AudioSegment.converter = imageio_ffmpeg.get_ffmpeg_exe()    # the ffmpeg the project installs (PyPI)

T = "rokuon"
RECORDED_DID = "0424930000"      # the tenant records inbound calls: this number too
UNRECORDED_DID = "0424930001"    # its own policy: none
IVR_DID = "0424930002"           # its own policy: none; the queue its IVR leads to: all
QUEUE_DID = "0424930003"         # straight to the queue (policy all)
IVR_USER_DID = "0424930004"      # an IVR (the tenant's policy: all) whose 2 transfers to user 2002
NOTICE = "system/recording_notice.wav"


@pytest.fixture(scope="module")
def people(bench: SwitchBench) -> dict[str, Extension]:
    bench.tenant(T)
    people = {ext: bench.extension(T, ext)[0] for ext in ("2001", "2002")}
    for number in (RECORDED_DID, UNRECORDED_DID):
        bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": number, "target_kind": "user",
                                                           "target": people["2002"].user_id})
    bench.directory.post(f"/api/v1/tenants/{T}/ivrs", {
        "id": "madoguchi", "name": "窓口", "root_menu": "top",
        "menus": [{"id": "top", "name": "トップ", "greeting": {"text": "窓口です。1を押してください。"},
                   "choices": {"1": {"queue": {"queue_id": "desk"}}}}]})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": IVR_DID, "target_kind": "ivr", "target": "madoguchi"})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": QUEUE_DID, "target_kind": "queue", "target": "desk"})
    bench.directory.post(f"/api/v1/tenants/{T}/ivrs", {
        "id": "uketsuke", "name": "受付", "root_menu": "top",
        "menus": [{"id": "top", "name": "トップ", "greeting": {"text": "受付です。2を押してください。"},
                   "choices": {"2": {"extension": "2002"}}}]})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": IVR_USER_DID, "target_kind": "ivr",
                                                       "target": "uketsuke"})
    bench.acd.put(f"/api/v1/tenants/{T}/queues/desk", {"offer_timeout_seconds": 10, "wrap_up_limit_seconds": 1})
    bench.acd.put(f"/api/v1/tenants/{T}/agents/801", {"skills": {}, "queues": ["desk"]})
    return people


@pytest.fixture(scope="module")
def recording_admin(bench: SwitchBench, people: dict[str, Extension]) -> DirectoryApi:
    token = bench.stack.token("kiroku-kanri", T, ("recording-admin",))
    return DirectoryApi(bench.stack.directory_url, token, bench.events)


def spool(bench: SwitchBench) -> Path:
    return Path(bench.stack.env.get("HIBIKI_RECORDING_SPOOL_DIR") or bench.stack.freeswitch_env()[
        "HIBIKI_RECORDING_SPOOL_DIR"])


def wavs(bench: SwitchBench) -> set[Path]:
    return set((spool(bench) / T).rglob("*.wav")) if (spool(bench) / T).exists() else set()


@dataclass
class Stored:
    """A recording as the recording service keeps it: its index row (the API's metadata), its
    RecordingStored event and the downloaded audio decoded to stereo PCM."""
    row: dict[str, Any]
    event: recording_pb2.RecordingStored
    caller: np.ndarray
    other: np.ndarray
    rate: int

    @property
    def seconds(self) -> float:
        return self.caller.size / self.rate


def channels(audio: bytes) -> tuple[np.ndarray, np.ndarray, int]:
    """The two channels of a downloaded recording (Opus in Ogg), decoded by ffmpeg."""
    segment = AudioSegment.from_file(BytesIO(audio), format="ogg", codec="opus")   # codec: no ffprobe needed
    assert segment.channels == 2 and segment.sample_width == 2, (segment.channels, segment.sample_width)
    frames = np.frombuffer(segment.raw_data, dtype="<i2").astype(np.float64)
    return frames[0::2], frames[1::2], segment.frame_rate


def stored(bench: SwitchBench, mark: int, stopped: recording_pb2.RecordingStopped,
           timeout: float = 30) -> Stored:
    """Wait for ``hibiki.<t>.recording.stored`` of ``stopped``, check the spool WAV is gone, then read
    the index row and download the audio through the recordings API with a recording-admin token."""
    subject = f"hibiki.{T}.recording.stored"
    deadline = time.monotonic() + timeout
    event = None
    while event is None:
        found = [recording_pb2.RecordingStored.FromString(e.data) for e in bench.events.matching(subject, after=mark)]
        event = next((e for e in found if e.recording_id == stopped.recording_id), None)
        if event is None:
            assert time.monotonic() < deadline, f"no {subject} for {stopped.recording_id}:\n" + \
                bench.stack.log("recording")[-3000:]
            time.sleep(0.2)
    assert event.meta.tenant == T and event.codec == "opus" and event.size_bytes > 0
    while Path(stopped.spool_path).exists():          # removed right after the stored event
        assert time.monotonic() < deadline + 5, f"the spool WAV {stopped.spool_path} is still there once stored"
        time.sleep(0.1)
    base = f"http://127.0.0.1:{bench.stack.port('RECORDING_PORT')}/api/v1/tenants/{T}"
    admin = {"Authorization": "Bearer " + bench.stack.token("kiroku-kanri", T, ("recording-admin",))}
    with httpx.Client(base_url=base, headers=admin, timeout=15) as api:
        row = api.get(f"/recordings/{stopped.recording_id}")
        assert row.status_code == 200, row.text
        download = api.get(f"/recordings/{stopped.recording_id}/download")
        assert download.status_code == 200, download.text
        assert download.headers["content-type"].startswith("audio/ogg")
        assert 0 < len(download.content) < event.size_bytes       # size_bytes: the sealed (encrypted) object
        searched = api.get("/recordings", params={"number": stopped.caller_number} if stopped.caller_number else {})
        assert stopped.recording_id in [r["recording_id"] for r in searched.json()["recordings"]], searched.text
    caller, other, rate = channels(download.content)
    return Stored(row.json(), event, caller, other, rate)


def check_row(found: Stored, stopped: recording_pb2.RecordingStopped) -> None:
    """The index row carries the call's facts as the stopped event gave them, its length the audio's."""
    row = found.row
    assert row["recording_id"] == stopped.recording_id and row["call_id"] == stopped.call_id, row
    assert row["tenant"] == T and row["channels"] == 2 and row["codec"] == "opus", row
    assert row["caller_number"] == stopped.caller_number and row["did"] == stopped.did, row
    assert row["queue_id"] == stopped.queue_id and row["user_id"] == stopped.user, row
    assert row["direction"] == {call_pb2.CALL_DIRECTION_INBOUND: "inbound",
                                call_pb2.CALL_DIRECTION_INTERNAL: "internal",
                                call_pb2.CALL_DIRECTION_OUTBOUND: "outbound"}[stopped.direction], row
    assert row["reason"] == {recording_pb2.RECORDING_REASON_POLICY: "policy",
                             recording_pb2.RECORDING_REASON_ON_DEMAND: "on-demand"}[stopped.reason], row
    assert row["size_bytes"] == found.event.size_bytes and row["sha256"] == found.event.sha256, row
    assert row["duration_ms"] == found.event.duration_ms, row
    assert abs(row["duration_ms"] / 1000 - found.seconds) < 0.5, (row["duration_ms"], found.seconds)
    if stopped.recorded_ms:                                  # what FreeSWITCH said it wrote: the whole WAV was read
        assert abs(row["duration_ms"] - stopped.recorded_ms) < 500, (row["duration_ms"], stopped.recorded_ms)
    for column, moment in (("start_time", stopped.started_at), ("end_time", stopped.stopped_at)):
        kept = datetime.fromisoformat(row[column]) - moment.ToDatetime(UTC)        # the index keeps milliseconds
        assert abs(kept) < timedelta(milliseconds=1), (column, row[column], moment.ToJsonString())


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples ** 2))) if samples.size else 0.0


def tone_share(samples: np.ndarray, rate: int, hz: float = 440.0) -> float:
    """The share of the signal's energy within 40 Hz of ``hz``."""
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    total = spectrum[freqs > 50].sum()
    return float(spectrum[np.abs(freqs - hz) < 40].sum() / total) if total else 0.0


def stopped_events(bench: SwitchBench, mark: int, count: int, timeout: float = 30) -> list[recording_pb2.RecordingStopped]:
    if count:
        bench.events.wait(f"hibiki.{T}.recording.stopped", after=mark, count=count, timeout=timeout)
    time.sleep(1.0)
    return [recording_pb2.RecordingStopped.FromString(e.data)
            for e in bench.events.matching(f"hibiki.{T}.recording.stopped", after=mark)]


@contextmanager
def record_events(bench: SwitchBench, name: str) -> Iterator[list[EslEvent]]:
    """RECORD_START / RECORD_STOP as the switch sent them while the block runs; with
    ``HIBIKI_CAPTURE_RECORDINGS=<dir>`` also written to ``<dir>/<name>.json`` (how
    tests/fixtures/freeswitch/record_stop was made)."""
    esl = bench.fs.esl()
    esl.subscribe("RECORD_START RECORD_STOP")
    seen: list[EslEvent] = []
    try:
        yield seen
    finally:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                seen.append(esl.events.get(timeout=0.3))
            except queue.Empty:
                if any(e.name == "RECORD_STOP" for e in seen):
                    break
        esl.close()
        where = os.environ.get("HIBIKI_CAPTURE_RECORDINGS")
        if where:
            Path(where).mkdir(parents=True, exist_ok=True)
            (Path(where) / f"{name}.json").write_text(json.dumps([e.headers for e in seen], indent=1,
                                                                 ensure_ascii=False))


def test_only_a_recording_admin_sets_the_policy(bench: SwitchBench, people: dict[str, Extension],
                                                recording_admin: DirectoryApi) -> None:
    """REC-06: the configuration administrator may read the policy, not change it."""
    config_admin = bench.stack.token("settei-kanri", T, ("admin",))
    url = f"{bench.stack.directory_url}/api/v1/tenants/{T}/recording_policy"
    refused = httpx.put(url, json={"tenant": {"inbound": "all"}}, headers={"Authorization": f"Bearer {config_admin}"})
    assert refused.status_code == 403 and refused.json()["error_id"] == "forbidden", refused.text
    assert httpx.get(url, headers={"Authorization": f"Bearer {config_admin}"}).json()["tenant"]["inbound"] == "none"
    policy = recording_admin.put(f"/api/v1/tenants/{T}/recording_policy", {
        "tenant": {"inbound": "all", "outbound": "none"},
        "dids": {UNRECORDED_DID: {"inbound": "none"}, IVR_DID: {"inbound": "none"}},
        "queues": {"desk": {"inbound": "all"}}})
    assert policy["tenant"] == {"inbound": "all", "outbound": "none"}
    assert policy["notice"] == NOTICE


def test_an_inbound_call_is_recorded_in_stereo_after_the_notice(
        bench: SwitchBench, people: dict[str, Extension], recording_admin: DirectoryApi) -> None:
    staff = bench.baresip(people["2002"])
    before, mark, log_mark = wavs(bench), bench.events.mark(), bench.fs.log_mark()
    # the carrier speaks (4.7 s of voice) once the notice (5.3 s) is over and the phone has answered
    with record_events(bench, "inbound_policy_all") as switch:
        bench.carrier_call(RECORDED_DID, caller="0312345678", speak_after_ms=6500, talk_ms=6000)
        staff.wait("CALL_CLOSED", timeout=30)
    assert [e.name for e in switch] == ["RECORD_START", "RECORD_STOP"]
    (event,) = stopped_events(bench, mark, 1)
    path = Path(event.spool_path)
    day = time.strftime("%Y/%m/%d", time.gmtime(event.started_at.seconds))
    assert path == spool(bench) / T / day / f"{event.recording_id}.wav"

    # the notice played on the caller's channel before the bridge; the answering leg recorded itself
    apps = bench.fs.applications(log_mark, event.call_id)
    names = [app for app, _ in apps]
    notice_at = next(i for i, (app, data) in enumerate(apps) if app == "playback" and data.endswith(NOTICE))
    assert notice_at < names.index("bridge") and "record_session" not in names, names
    assert [app for app, _ in bench.fs.applications(log_mark, event.leg_uuid)].count("record_session") == 1

    found = stored(bench, mark, event)
    assert wavs(bench) == before                                       # the spool WAV went into the store
    check_row(found, event)
    caller, staff_side, rate, seconds = found.caller, found.other, found.rate, found.seconds
    assert event.sample_rate == 8000 and event.channels == 2
    print(f"\n  {path.name} -> stored {found.event.codec} {found.event.size_bytes} bytes, decoded at {rate} Hz: "
          f"{seconds:.1f} s, caller rms {rms(caller):.0f} (440 Hz share "
          f"{tone_share(caller, rate):.2f}), staff rms {rms(staff_side):.0f} (440 Hz share "
          f"{tone_share(staff_side, rate):.2f}); recorded_ms={event.recorded_ms}")
    assert 5 < seconds < 20
    assert rms(caller) > 100 and rms(staff_side) > 100                  # both parties carry audio
    assert tone_share(staff_side, rate) > 0.8                          # channel 2: the phone's 440 Hz tone
    # channel 1: the carrier's voice, not the tone (0.09 stored; 0.16-0.17 when Opus leaked channel 2 into it)
    assert tone_share(caller, rate) < 0.13

    assert event.reason == recording_pb2.RECORDING_REASON_POLICY and event.policy_scope == "tenant"
    assert event.meta.tenant == T and event.leg_uuid == event.meta.call_uuid != event.call_id   # the user's leg
    assert event.direction == call_pb2.CALL_DIRECTION_INBOUND and event.did == RECORDED_DID
    assert event.caller_number == "0312345678" and event.user == people["2002"].user_id
    assert event.callee_number == "2002" and found.row["callee_number"] == "2002" and not event.agent_id
    assert event.started_at.ToMicroseconds() < event.stopped_at.ToMicroseconds()
    assert abs((event.stopped_at.ToMicroseconds() - event.started_at.ToMicroseconds()) / 1e6 - seconds) < 1.5
    assert event.recorded_ms and abs(event.recorded_ms / 1000 - seconds) < 1.5


def test_no_recording_where_the_policy_says_none(bench: SwitchBench, people: dict[str, Extension],
                                                 recording_admin: DirectoryApi) -> None:
    staff = bench.baresip(people["2002"])
    before, mark, log_mark = wavs(bench), bench.events.mark(), bench.fs.log_mark()
    bench.carrier_call(UNRECORDED_DID, talk_ms=3000)
    staff.wait("CALL_CLOSED", timeout=30)
    assert stopped_events(bench, mark, 0) == []
    assert wavs(bench) == before
    names = [app for app, _ in bench.fs.applications(log_mark)]
    assert "bridge" in names and "record_session" not in names and "playback" not in names


def test_on_demand_from_the_phone_starts_and_stops(bench: SwitchBench, people: dict[str, Extension]) -> None:
    """Between users (internal calls: on demand), *1 starts a recording and *2 stops it."""
    callee = bench.baresip(people["2002"])
    before, mark = wavs(bench), bench.events.mark()
    # *1 at 1 s, *2 at 4 s after the answer (each key 1.5 s apart), then the caller speaks and hangs up
    with record_events(bench, "internal_on_demand") as switch:
        bench.sipp_call(people["2001"], "2002", digits="*1*2", digit_gap_ms=1500, before_digits_ms=1000,
                        talk_ms=1000)
        callee.wait("CALL_CLOSED", timeout=30)
    assert [e.name for e in switch] == ["RECORD_START", "RECORD_STOP"]
    (event,) = stopped_events(bench, mark, 1)
    assert event.reason == recording_pb2.RECORDING_REASON_ON_DEMAND
    assert event.direction == call_pb2.CALL_DIRECTION_INTERNAL
    found = stored(bench, mark, event)
    assert wavs(bench) == before
    check_row(found, event)
    other, rate, seconds = found.other, found.rate, found.seconds
    print(f"\n  on demand: {seconds:.1f} s recorded between *1 and *2 (recorded_ms={event.recorded_ms}); "
          f"callee rms {rms(other):.0f}")
    assert 1.5 < seconds < 4.5                # stopped by *2, well before the call ended
    assert tone_share(other, rate) > 0.8      # the callee's tone on channel 2


def a_leg_of(bench: SwitchBench, caller: str, timeout: float = 10) -> str:
    """The UUID of the channel ``caller`` placed (FreeSWITCH's ``show channels``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = json.loads(bench.fs.api("show channels as json") or "{}").get("rows", [])
        for row in rows:
            if row.get("cid_num") == caller and row.get("direction") == "inbound" and row.get("callstate") == "ACTIVE":
                return str(row["uuid"])
        time.sleep(0.2)
    raise TimeoutError(f"no active call from {caller}")


def test_on_demand_over_the_api(bench: SwitchBench, people: dict[str, Extension]) -> None:
    """callcontrol's POST .../calls/{uuid}/recording starts and stops a recording (uuid_record); only
    the tenant's call, only where the policy says on demand, only for the roles allowed."""
    callee = bench.baresip(people["2002"])
    before, mark = wavs(bench), bench.events.mark()
    url = f"{bench.stack.callcontrol_url}/api/v1/tenants/{T}/calls/{{}}/recording"
    supervisor = {"Authorization": "Bearer " + bench.stack.token("kantoku", T, ("supervisor",))}
    # every token made before the call (each is a `hibiki token` run: seconds on a loaded machine)
    viewer = {"Authorization": "Bearer " + bench.stack.token("etsuran", T, ("viewer",))}
    other = {"Authorization": "Bearer " + bench.stack.token("yoso", "othercity", ("supervisor",))}
    with record_events(bench, "internal_on_demand_api") as switch:
        call = bench.sipp_call_background(people["2001"], "2002", talk_ms=8000)
        callee.wait("CALL_ESTABLISHED", timeout=15)
        leg = a_leg_of(bench, "2001")
        assert httpx.post(url.format(leg), json={"action": "start"}, headers=viewer).status_code == 403
        assert httpx.post(url.format(leg), json={"action": "start"}, headers=other).status_code == 403
        missing = httpx.post(url.format("0b7e4f7a-8f0c-4d55-9a57-5c1b8d2e6a3f"), json={"action": "start"},
                             headers=supervisor)
        assert missing.status_code == 404 and missing.json()["details"]["field"] == "call_uuid", missing.text
        bad = httpx.post(url.format(leg), json={"action": "rewind"}, headers=supervisor)
        assert bad.status_code == 422 and bad.json()["details"]["field"] == "action", bad.text
        started = httpx.post(url.format(leg), json={"action": "start"}, headers=supervisor)
        assert started.status_code == 201, started.text
        time.sleep(2.5)
        stopped = httpx.post(url.format(leg), json={"action": "stop"}, headers=supervisor)
        assert stopped.status_code == 200 and stopped.json()["recording_id"] == started.json()["recording_id"]
        call.result(timeout=30)
        callee.wait("CALL_CLOSED", timeout=30)
    (event,) = stopped_events(bench, mark, 1)
    assert [e.name for e in switch] == ["RECORD_START", "RECORD_STOP"]
    assert event.recording_id == started.json()["recording_id"] and event.leg_uuid == leg
    assert event.reason == recording_pb2.RECORDING_REASON_ON_DEMAND and event.channels == 2
    found = stored(bench, mark, event)
    assert wavs(bench) == before
    check_row(found, event)
    print(f"\n  over the API: {found.seconds:.1f} s between start and stop")
    assert 1.5 < found.seconds < 4 and tone_share(found.other, found.rate) > 0.8


def test_a_queue_call_is_recorded_from_the_queue_after_the_notice(bench: SwitchBench,
                                                                  people: dict[str, Extension]) -> None:
    """DID (policy none) -> IVR (no notice of its own) -> queue (policy all) -> agent: callcontrol
    plays the policy's notice when the call enters the queue; the agent's leg records itself once
    answered: the caller on channel 1, the agent on channel 2."""
    agent_phone = bench.baresip(people["2002"])
    bench.acd.post(f"/api/v1/tenants/{T}/agents/801/login", {"device": "2002", "ready": True})
    try:
        before, mark, log_mark = wavs(bench), bench.events.mark(), bench.fs.log_mark()
        with record_events(bench, "ivr_queue_agent") as switch:
            run = bench.carrier_call(IVR_DID, caller="0312345678", digits="1", before_digits_ms=1500,
                                     speak_after_ms=9000, talk_ms=7000, background=True)
            agent_phone.wait("CALL_ESTABLISHED", timeout=40)
            assert isinstance(run, sipp.Sipp)
            run.result(timeout=60)
            agent_phone.wait("CALL_CLOSED", timeout=30)
        assert [e.name for e in switch] == ["RECORD_START", "RECORD_STOP"]
        (event,) = stopped_events(bench, mark, 1)
        assert event.policy_scope == "queue" and event.reason == recording_pb2.RECORDING_REASON_POLICY
        assert event.queue_id == "desk" and event.did == IVR_DID
        apps = bench.fs.applications(log_mark, event.call_id)
        names = [app for app, _ in apps]
        notice_at = next(i for i, (app, data) in enumerate(apps) if app == "playback" and data.endswith(NOTICE))
        assert names.index("play_and_get_digits") < notice_at < names.index("bridge"), names
        assert "record_session" not in names and event.leg_uuid != event.call_id      # the agent's leg records
        assert "record_session" in [app for app, _ in bench.fs.applications(log_mark, event.leg_uuid)]
        found = stored(bench, mark, event)
        assert wavs(bench) == before
        check_row(found, event)
        caller, agent_side, rate = found.caller, found.other, found.rate
        last = 3 * rate                                                     # the agent talking, at the end
        print(f"\n  queue call: {caller.size / rate:.1f} s; agent's last 3 s 440 Hz share "
              f"{tone_share(agent_side[-last:], rate):.2f}, caller rms {rms(caller):.0f}")
        assert tone_share(agent_side[-last:], rate) > 0.8 and rms(caller) > 100
    finally:
        bench.acd.http.post(f"/api/v1/tenants/{T}/agents/801/logout")


def recordings_api(bench: SwitchBench) -> httpx.Client:
    base = f"http://127.0.0.1:{bench.stack.port('RECORDING_PORT')}/api/v1/tenants/{T}"
    admin = {"Authorization": "Bearer " + bench.stack.token("kiroku-kanri", T, ("recording-admin",))}
    return httpx.Client(base_url=base, headers=admin, timeout=15)


def stored_objects(bench: SwitchBench, recording_id: str) -> list[Path]:
    """The recording's sealed audio in the local store (``HIBIKI_RECORDING_STORAGE_DIR``)."""
    store = Path(bench.stack.env.get("HIBIKI_RECORDING_STORAGE_DIR")
                 or Path(bench.stack.env["HIBIKI_DATA_DIR"]) / "recording" / "store")
    return list(store.rglob(f"{recording_id}.*"))


def check_pair(found: Stored, what: str) -> None:
    """Both parties carry audio: the carrier's voice on channel 1, the answering phone's tone on 2."""
    caller, other, rate = found.caller, found.other, found.rate
    leak = tone_level_db(caller, rate) - tone_level_db(other, rate)
    print(f"\n  {what}: {found.seconds:.1f} s, caller rms {rms(caller):.0f} (440 Hz share "
          f"{tone_share(caller, rate):.2f}), other party rms {rms(other):.0f} (440 Hz share "
          f"{tone_share(other, rate):.2f}); 440 Hz on channel 1 {leak:.1f} dB below channel 2")
    assert rms(caller) > 100 and rms(other) > 100
    assert tone_share(other, rate) > 0.8 and tone_share(caller, rate) < 0.2
    assert leak < -32          # the phone's tone stays out of the caller's channel (Opus' leak was -26 dB)


def tone_level_db(samples: np.ndarray, rate: int, hz: float = 440.0) -> float:
    """The energy within 2 Hz of ``hz``, in dB: a pure tone's line (a voice spreads its energy)."""
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    return float(10 * np.log10(spectrum[np.abs(freqs - hz) < 2].sum() + 1e-9))


def test_did_queue_agent_recorded_searched_played_and_deleted(bench: SwitchBench, people: dict[str, Extension],
                                                              recording_admin: DirectoryApi) -> None:
    """Issue 13's real-switch test: DID -> queue -> agent, recorded after the notice (the agent's
    leg records itself once answered: caller on channel 1, agent on 2); both channels carry audio;
    the file is indexed, found by agent and played through the API (with a range); deleting it
    leaves no audio, no row and exactly one audit entry."""
    agent_phone = bench.baresip(people["2002"])
    bench.acd.post(f"/api/v1/tenants/{T}/agents/801/login", {"device": "2002", "ready": True})
    try:
        before, mark, log_mark = wavs(bench), bench.events.mark(), bench.fs.log_mark()
        with record_events(bench, "did_queue_agent") as switch:
            run = bench.carrier_call(QUEUE_DID, caller="0312340013", speak_after_ms=8000, talk_ms=7000,
                                     background=True)
            agent_phone.wait("CALL_ESTABLISHED", timeout=40)
            assert isinstance(run, sipp.Sipp)
            run.result(timeout=60)
            agent_phone.wait("CALL_CLOSED", timeout=30)
        assert [e.name for e in switch] == ["RECORD_START", "RECORD_STOP"]
        (event,) = stopped_events(bench, mark, 1)
    finally:
        bench.acd.http.post(f"/api/v1/tenants/{T}/agents/801/logout")
    assert event.policy_scope == "queue" and event.reason == recording_pb2.RECORDING_REASON_POLICY
    assert (event.queue_id, event.agent_id, event.did, event.caller_number) == ("desk", "801", QUEUE_DID, "0312340013")
    assert event.leg_uuid != event.call_id                                                # the agent's leg
    # the notice played on the caller's channel, then the agent's leg was bridged and recorded itself
    caller_apps = bench.fs.applications(log_mark, event.call_id)
    names = [app for app, _ in caller_apps]
    notice_at = next(i for i, (app, data) in enumerate(caller_apps) if app == "playback" and data.endswith(NOTICE))
    assert notice_at < names.index("bridge") and "record_session" not in names, names
    assert [app for app, _ in bench.fs.applications(log_mark, event.leg_uuid)].count("record_session") == 1
    rid = event.recording_id
    found = stored(bench, mark, event)
    assert wavs(bench) == before
    check_row(found, event)
    check_pair(found, "DID -> queue -> agent")
    assert found.row["agent_id"] == "801" and 5 < found.seconds < 12

    with recordings_api(bench) as api:
        by_agent = api.get("/recordings", params={"agent": "801", "queue": "desk"}).json()["recordings"]
        assert rid in [r["recording_id"] for r in by_agent]
        assert rid not in [r["recording_id"] for r in api.get("/recordings", params={"agent": "802"}).json()["recordings"]]
        whole = api.get(f"/recordings/{rid}/audio")
        assert whole.status_code == 200 and whole.headers["content-type"].startswith("audio/ogg")
        part = api.get(f"/recordings/{rid}/audio", headers={"Range": "bytes=100-1099"})
        assert part.status_code == 206 and part.content == whole.content[100:1100]
        assert part.headers["content-range"] == f"bytes 100-1099/{len(whole.content)}"
        assert len(stored_objects(bench, rid)) == 1

        deleted = api.delete(f"/recordings/{rid}")
        assert deleted.status_code == 204, deleted.text
        assert stored_objects(bench, rid) == []                                 # no audio
        assert api.get(f"/recordings/{rid}").status_code == 404                 # no row
        assert api.get(f"/recordings/{rid}/audio").status_code == 404
        assert rid not in [r["recording_id"] for r in api.get("/recordings", params={"agent": "801"}).json()["recordings"]]
        assert api.delete(f"/recordings/{rid}").status_code == 404              # a second delete finds nothing
        trail = api.get("/recording-audit").json()["entries"]
    deletions = [e for e in trail if e["recording_id"] == rid and e["action"] == "delete"]
    assert len(deletions) == 1 and deletions[0]["actor"] == "kiroku-kanri", deletions
    assert [e["action"] for e in trail if e["recording_id"] == rid].count("play") == 2


def test_a_transferred_queue_call_is_recorded_per_pair(bench: SwitchBench, people: dict[str, Extension],
                                                       recording_admin: DirectoryApi) -> None:
    """DID -> queue -> agent A (801 on 2002), who transfers the caller (REFER) to B (2001): two
    recordings, one per caller/agent pair, both of the same call, each stereo with both parties."""
    a_phone = bench.baresip(people["2002"])
    b_phone = bench.baresip(people["2001"])
    bench.acd.post(f"/api/v1/tenants/{T}/agents/801/login", {"device": "2002", "ready": True})
    try:
        before, mark = wavs(bench), bench.events.mark()
        with record_events(bench, "queue_transfer") as switch:
            # the carrier keeps talking from 7 s after its answer to the end (4 x 4.7 s)
            run = bench.carrier_call(QUEUE_DID, caller="0312340014", speak_after_ms=7000, speak_times=4,
                                     talk_ms=3000, background=True)
            a_phone.wait("CALL_ESTABLISHED", timeout=40)
            time.sleep(5)
            a_phone.command("transfer", f"sip:{people['2001'].extension}@{people['2001'].domain}")
            b_phone.wait("CALL_ESTABLISHED", timeout=20)
            a_phone.wait("CALL_CLOSED", timeout=20)
            assert isinstance(run, sipp.Sipp)
            run.result(timeout=60)
            b_phone.wait("CALL_CLOSED", timeout=30)
        assert [e.name for e in switch].count("RECORD_STOP") == 2, [e.name for e in switch]
        events = stopped_events(bench, mark, 2)
    finally:
        bench.acd.http.post(f"/api/v1/tenants/{T}/agents/801/logout")
    assert len(events) == 2, events
    first, second = sorted(events, key=lambda e: e.started_at.ToMicroseconds())
    assert first.call_id == second.call_id and first.leg_uuid != second.leg_uuid            # one call, two pairs
    assert first.recording_id != second.recording_id and first.call_id not in (first.leg_uuid, second.leg_uuid)
    assert first.agent_id == "801" and first.queue_id == second.queue_id == "desk"
    assert second.user == people["2001"].user_id and second.caller_number == "0312340014"
    assert second.agent_id == "" and (first.callee_number, second.callee_number) == ("2002", "2001")   # a user, no agent
    assert first.stopped_at.ToMicroseconds() <= second.started_at.ToMicroseconds() + 500_000
    for event, what in ((first, "agent A (before the transfer)"), (second, "B (after the transfer)")):
        found = stored(bench, mark, event)
        check_row(found, event)
        check_pair(found, what)
        assert found.seconds > 3
    assert wavs(bench) == before
    with recordings_api(bench) as api:
        rows = api.get("/recordings", params={"number": "0312340014"}).json()["recordings"]
    assert sorted(r["recording_id"] for r in rows) == sorted(e.recording_id for e in events)
    assert {r["call_id"] for r in rows} == {first.call_id}


def test_a_queue_call_transferred_to_an_agent_names_that_agent(bench: SwitchBench, people: dict[str, Extension],
                                                               recording_admin: DirectoryApi) -> None:
    """DID -> queue -> agent A (801 on 2002), who transfers the caller to 2001 where agent 802 is
    logged in (not ready: the ACD does not offer it the call): the target's recording is 802's, its
    index row carries agent_id 802 (callcontrol asks the ACD whose phone the leg rang) and a search
    by agent finds it."""
    a_phone = bench.baresip(people["2002"])
    b_phone = bench.baresip(people["2001"])
    bench.acd.put(f"/api/v1/tenants/{T}/agents/802", {"skills": {}, "queues": ["desk"]})
    bench.acd.post(f"/api/v1/tenants/{T}/agents/801/login", {"device": "2002", "ready": True})
    bench.acd.post(f"/api/v1/tenants/{T}/agents/802/login", {"device": "2001", "ready": False})
    try:
        mark = bench.events.mark()
        run = bench.carrier_call(QUEUE_DID, caller="0312340016", speak_after_ms=7000, speak_times=3,
                                 talk_ms=3000, background=True)
        a_phone.wait("CALL_ESTABLISHED", timeout=40)
        time.sleep(4)
        a_phone.command("transfer", f"sip:{people['2001'].extension}@{people['2001'].domain}")
        b_phone.wait("CALL_ESTABLISHED", timeout=20)
        a_phone.wait("CALL_CLOSED", timeout=20)
        assert isinstance(run, sipp.Sipp)
        run.result(timeout=60)
        b_phone.wait("CALL_CLOSED", timeout=30)
        events = stopped_events(bench, mark, 2)
    finally:
        for agent in ("801", "802"):
            bench.acd.http.post(f"/api/v1/tenants/{T}/agents/{agent}/logout")
    first, second = sorted(events, key=lambda e: e.started_at.ToMicroseconds())
    assert first.call_id == second.call_id and (first.agent_id, second.agent_id) == ("801", "802"), events
    assert second.queue_id == "desk" and second.user == people["2001"].user_id and second.callee_number == "2001"
    found = stored(bench, mark, second)
    check_row(found, second)
    check_pair(found, "agent 802 (the transfer target)")
    assert found.row["agent_id"] == "802" and found.row["call_id"] == first.call_id
    with recordings_api(bench) as api:
        by_agent = api.get("/recordings", params={"agent": "802"}).json()["recordings"]
    assert [r["recording_id"] for r in by_agent] == [second.recording_id]


def test_a_did_call_transferred_between_users_is_recorded_per_pair(bench: SwitchBench, people: dict[str, Extension],
                                                                   recording_admin: DirectoryApi) -> None:
    """DID (tenant policy all) -> user 2002, who transfers the caller (blind, REFER) to user 2001:
    after the notice, two recordings, one per caller/user pair, both of the call's id, each stereo
    with the caller on channel 1 and that user on channel 2; the index rows name each user."""
    first_phone = bench.baresip(people["2002"])
    second_phone = bench.baresip(people["2001"])
    before, mark, log_mark = wavs(bench), bench.events.mark(), bench.fs.log_mark()
    with record_events(bench, "did_user_transfer") as switch:
        # the notice (5.3 s), then the carrier keeps talking to the end (4 x 4.7 s)
        run = bench.carrier_call(RECORDED_DID, caller="0312340015", speak_after_ms=6500, speak_times=4,
                                 talk_ms=3000, background=True)
        first_phone.wait("CALL_ESTABLISHED", timeout=40)
        time.sleep(5)
        first_phone.command("transfer", f"sip:{people['2001'].extension}@{people['2001'].domain}")
        second_phone.wait("CALL_ESTABLISHED", timeout=20)
        first_phone.wait("CALL_CLOSED", timeout=20)
        assert isinstance(run, sipp.Sipp)
        run.result(timeout=60)
        second_phone.wait("CALL_CLOSED", timeout=30)
    assert [e.name for e in switch].count("RECORD_STOP") == 2, [e.name for e in switch]
    events = stopped_events(bench, mark, 2)
    assert len(events) == 2, events
    first, second = sorted(events, key=lambda e: e.started_at.ToMicroseconds())
    assert first.call_id == second.call_id and first.call_id not in (first.leg_uuid, second.leg_uuid)
    assert first.recording_id != second.recording_id and first.leg_uuid != second.leg_uuid
    assert (first.user, second.user) == (people["2002"].user_id, people["2001"].user_id)
    assert (first.callee_number, second.callee_number) == ("2002", "2001")
    assert first.did == second.did == RECORDED_DID and not first.queue_id and not second.queue_id
    assert first.policy_scope == second.policy_scope == "tenant"
    assert first.reason == second.reason == recording_pb2.RECORDING_REASON_POLICY
    assert first.stopped_at.ToMicroseconds() <= second.started_at.ToMicroseconds() + 500_000
    apps = bench.fs.applications(log_mark, first.call_id)
    notice_at = next(i for i, (app, data) in enumerate(apps) if app == "playback" and data.endswith(NOTICE))
    assert notice_at < [app for app, _ in apps].index("bridge")
    for event, what in ((first, "user 2002 (before the transfer)"), (second, "user 2001 (after the transfer)")):
        found = stored(bench, mark, event)
        check_row(found, event)
        check_pair(found, what)
        assert found.seconds > 3 and found.row["user_id"] == event.user
    assert wavs(bench) == before
    with recordings_api(bench) as api:
        rows = api.get("/recordings", params={"number": "0312340015"}).json()["recordings"]
    assert sorted(r["recording_id"] for r in rows) == sorted(e.recording_id for e in events)
    assert {r["call_id"] for r in rows} == {first.call_id}


def test_an_ivr_transfer_to_a_user_is_recorded_per_pair(bench: SwitchBench, people: dict[str, Extension],
                                                        recording_admin: DirectoryApi) -> None:
    """DID -> IVR (the tenant's policy: all) -> 2 -> user 2002: the notice, the IVR's part recorded
    on the caller's channel until the transfer, then the user's leg records itself (caller on channel
    1, the user on 2), both of the call's id."""
    phone = bench.baresip(people["2002"])
    before, mark = wavs(bench), bench.events.mark()
    run = bench.carrier_call(IVR_USER_DID, caller="0312340017", digits="2", before_digits_ms=8000,
                             speak_after_ms=13000, talk_ms=6000, background=True)
    phone.wait("CALL_ESTABLISHED", timeout=40)
    assert isinstance(run, sipp.Sipp)
    run.result(timeout=60)
    phone.wait("CALL_CLOSED", timeout=30)
    events = stopped_events(bench, mark, 2)
    assert len(events) == 2, events
    ivr_part, pair = sorted(events, key=lambda e: e.started_at.ToMicroseconds())
    assert ivr_part.leg_uuid == ivr_part.call_id == pair.call_id != pair.leg_uuid
    assert (pair.user, pair.callee_number, pair.agent_id) == (people["2002"].user_id, "2002", "")
    assert pair.policy_scope == ivr_part.policy_scope == "tenant" and pair.did == IVR_USER_DID
    assert ivr_part.stopped_at.ToMicroseconds() <= pair.started_at.ToMicroseconds() + 500_000
    found = stored(bench, mark, pair)
    check_row(found, pair)
    check_pair(found, "IVR -> user 2002")
    stored(bench, mark, ivr_part)
    assert wavs(bench) == before


def test_an_outbound_call_transferred_by_the_user_is_recorded_per_pair(bench: SwitchBench,
                                                                       people: dict[str, Extension],
                                                                       recording_admin: DirectoryApi) -> None:
    """User 2001 (its own policy: outbound all) calls a carrier number and transfers the carrier
    (blind, REFER) to user 2002: two recordings of the call's id, one per pair: 2001's channel
    (2001 on channel 1, the carrier on 2) until the transfer, then 2002's leg recording itself (the
    carrier on channel 1, 2002 on 2); the index rows name each user."""
    bench.carrier_gateway(T, "rokuon-carrier")
    current = recording_admin.get(f"/api/v1/tenants/{T}/recording_policy")
    recording_admin.put(f"/api/v1/tenants/{T}/recording_policy", {
        **{k: current[k] for k in ("tenant", "dids", "queues", "notice")},
        "users": {**current.get("users", {}), people["2001"].user_id: {"outbound": "all"}}})
    first_phone = bench.baresip(people["2001"])
    second_phone = bench.baresip(people["2002"])
    carrier = bench.carrier_uas(speak_times=4)          # the carrier talks (4 x 4.7 s) until 2002 hangs up
    before, mark, log_mark = wavs(bench), bench.events.mark(), bench.fs.log_mark()
    with record_events(bench, "outbound_transfer") as switch:
        first_phone.dial("0312340019")
        first_phone.wait("CALL_ESTABLISHED", timeout=30)
        time.sleep(5)
        first_phone.command("transfer", f"sip:{people['2002'].extension}@{people['2002'].domain}")
        second_phone.wait("CALL_ESTABLISHED", timeout=20)
        first_phone.wait("CALL_CLOSED", timeout=20)
        time.sleep(5)
        second_phone.hangup()
        second_phone.wait("CALL_CLOSED", timeout=20)
        carrier.result(timeout=30)          # hung up while still talking (sipp calls that BYE unexpected)
    assert [e.name for e in switch].count("RECORD_STOP") == 2, [e.name for e in switch]
    events = stopped_events(bench, mark, 2)
    assert len(events) == 2, events
    first, second = sorted(events, key=lambda e: e.started_at.ToMicroseconds())
    assert first.call_id == second.call_id == first.leg_uuid != second.leg_uuid    # 2001's channel, then 2002's leg
    assert (first.user, second.user) == (people["2001"].user_id, people["2002"].user_id)
    assert second.callee_number == "2002"
    assert first.direction == second.direction == call_pb2.CALL_DIRECTION_OUTBOUND
    assert first.policy_scope == second.policy_scope == "user"
    assert first.reason == second.reason == recording_pb2.RECORDING_REASON_POLICY
    assert first.stopped_at.ToMicroseconds() <= second.started_at.ToMicroseconds() + 500_000
    assert "playback" not in [app for app, _ in bench.fs.applications(log_mark, first.call_id)]   # no notice
    own = stored(bench, mark, first)
    check_row(own, first)
    user_side, carrier_side, rate = own.caller, own.other, own.rate
    print(f"\n  2001 -> carrier: {own.seconds:.1f} s, user rms {rms(user_side):.0f} (440 Hz share "
          f"{tone_share(user_side, rate):.2f}), carrier rms {rms(carrier_side):.0f} (440 Hz share "
          f"{tone_share(carrier_side, rate):.2f})")
    assert own.seconds > 3 and rms(user_side) > 100 and rms(carrier_side) > 100
    assert tone_share(user_side, rate) > 0.8 and tone_share(carrier_side, rate) < 0.2
    found = stored(bench, mark, second)
    check_row(found, second)
    check_pair(found, "carrier -> user 2002 (after the transfer)")
    assert found.seconds > 3 and found.row["user_id"] == second.user
    assert wavs(bench) == before
    with recordings_api(bench) as api:
        rows = api.get("/recordings", params={"number": "2002"}).json()["recordings"]
    assert second.recording_id in {r["recording_id"] for r in rows if r["call_id"] == first.call_id}, rows
