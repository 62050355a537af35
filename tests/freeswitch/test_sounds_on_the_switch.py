"""What a caller hears on a fresh install with no sound pack (issue 11, defects 1, 2, 3, 5), on the
real-switch bench: ``hibiki up`` + FreeSWITCH 1.10.12 on ``freeswitch/conf`` with Hibiki's sound
directory (``-sounds freeswitch/sounds``), sipp as the carrier and as a provisioned phone.

Every file FreeSWITCH starts playing is taken from its ``PLAYBACK_START`` events; its log must
show no missing file and no missing language.
"""

from __future__ import annotations

import array
import queue
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.switch.bench import Extension, SwitchBench
from support.switch.freeswitch import SOUNDS

T = "kiyose"
JA, EN = "ja/jp/hibiki", "en/us/hibiki"


@pytest.fixture(scope="module")
def owner(bench: SwitchBench) -> Extension:
    """A tenant with a user 2001 (PIN 4821): a number to the user's voicemail, a number to an IVR
    that cannot run (its greeting is a prompt that does not exist) falling back to that voicemail,
    a number to a queue nobody serves."""
    bench.tenant(T)
    ext = bench.extension(T, "2001", voicemail_pin="4821")[0]
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": "042-491-1111", "target_kind": "voicemail",
                                                       "target": ext.user_id})
    bench.directory.post(f"/api/v1/tenants/{T}/ivrs", {
        "id": "broken", "name": "代表", "root_menu": "top",
        "menus": [{"id": "top", "greeting": {"prompt_id": "u" + "0" * 32}, "choices": {"1": {"extension": "2001"}}}]})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": "042-491-2222", "target_kind": "ivr",
                                                       "target": "broken", "closed_kind": "voicemail",
                                                       "closed_target": ext.user_id})
    bench.acd.put(f"/api/v1/tenants/{T}/queues/lobby", {"strategy": "longest_idle"})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": "042-491-3333", "target_kind": "queue",
                                                       "target": "lobby"})
    return ext


@contextmanager
def playbacks(bench: SwitchBench) -> Iterator[list[tuple[str, str]]]:
    """(call uuid, file) of every PLAYBACK_START while the block runs."""
    esl = bench.fs.esl()
    esl.subscribe("PLAYBACK_START")
    seen: list[tuple[str, str]] = []

    def drain() -> None:
        while True:
            try:
                event = esl.events.get_nowait()
            except queue.Empty:
                return
            if event.name == "PLAYBACK_START":
                seen.append((event.get("Unique-ID"), event.get("Playback-File-Path")))

    try:
        yield seen
        time.sleep(0.3)
    finally:
        drain()
        esl.close()


def ours(played: list[tuple[str, str]], tree: str) -> list[str]:
    """The files played from one language tree of Hibiki's sound directory, relative to it."""
    prefix = f"{SOUNDS}/{tree}/"
    return [path[len(prefix):] for _, path in played if path.startswith(prefix)]


def test_voicemail_in_japanese_leave_then_listen_with_the_pin(bench: SwitchBench, owner: Extension) -> None:
    mark = bench.fs.log_mark()
    with playbacks(bench) as left:
        # A caller from outside hears the greeting, speaks after the tone (8 s of audio), hangs up.
        result = bench.carrier_call("0424911111", speak_after_ms=9000, talk_ms=9000)
        assert result.ok, result.output[-1500:]
    mailbox = bench.fs.root / "storage" / "voicemail" / "default" / owner.domain / owner.extension
    messages = sorted(mailbox.glob("msg_*.wav"))
    assert len(messages) == 1, sorted(mailbox.parent.parent.rglob("*"))
    with wave.open(str(messages[0])) as recorded:
        seconds = recorded.getnframes() / recorded.getframerate()
    with playbacks(bench) as checked:
        # The owner dials *97 on the phone, enters the PIN (once its 8 s of audio are over): the count, the message.
        result = bench.sipp_call(owner, "*97", digits="4821#", before_digits_ms=8500, talk_ms=11000)
        assert result.ok, result.output[-1500:]
    print(f"\nleft a {seconds:.1f} s message hearing {ours(left, JA)}\n*97 played {[p for _, p in checked]}")
    assert seconds >= 3
    assert ours(left, JA)[:2] == ["voicemail/vm-not_available.wav", "voicemail/vm-record_message.wav"]
    heard = ours(checked, JA)
    assert heard[:4] == ["voicemail/vm-enter_pass.wav", "voicemail/vm-count_new.wav", "voicemail/count/1.wav",
                         "voicemail/vm-there_are.wav"], heard
    assert str(messages[0]) in [path for _, path in checked]            # the message itself
    assert not bench.fs.missing_files(mark)


def test_an_ivr_number_whose_ivr_cannot_run_apologises_then_takes_the_numbers_fallback(
        bench: SwitchBench, owner: Extension) -> None:
    """Callcontrol hands the call back (the greeting cannot be played): the Japanese apology,
    then the number's closed-hours target (the voicemail) takes the call."""
    mark = bench.fs.log_mark()
    with playbacks(bench) as played:
        result = bench.carrier_call("0424912222", talk_ms=14000)
        assert result.ok, result.output[-1500:]
    heard = ours(played, JA)
    assert heard[:2] == ["system/apology.wav", "voicemail/vm-not_available.wav"], played
    assert not bench.fs.missing_files(mark)


def test_hold_music_is_the_generated_tune_and_sounds(bench: SwitchBench, owner: Extension, tmp_path: Path) -> None:
    """A caller waiting in a queue gets local_stream://default, which reads the shipped music
    directory; what FreeSWITCH sends the caller, recorded on the channel, is sound."""
    shown = bench.fs.api("local_stream show default")
    assert f"location: {SOUNDS}/music/8000" in shown and "ready:    true" in shown, shown
    recording = tmp_path / "heard.wav"
    mark = bench.fs.log_mark()
    esl = bench.fs.esl()
    esl.subscribe("PLAYBACK_START")
    with playbacks(bench) as played:
        try:
            # the ACD is reachable on the bench: the position/expected-wait announcement comes first
            caller = bench.carrier_call("0424913333", talk_ms=20000, background=True)
            event = esl.wait_event("PLAYBACK_START", timeout=25, **{"Playback-File-Path": "local_stream://default"})
        finally:
            esl.close()
        uuid = event.get("Unique-ID")
        bench.fs.api(f"uuid_setvar {uuid} RECORD_WRITE_ONLY true")
        assert "+OK" in bench.fs.api(f"uuid_record {uuid} start {recording}")
        time.sleep(3)
        bench.fs.api(f"uuid_record {uuid} stop {recording}")
        assert caller.result().ok
    with wave.open(str(recording)) as heard:
        rate = heard.getframerate()
        samples = array.array("h", heard.readframes(heard.getnframes()))
    level = (sum(s * s for s in samples) / max(len(samples), 1)) ** 0.5
    print(f"\nhold music heard: {len(samples) / rate:.1f} s, RMS {level:.0f}, peak {max(map(abs, samples))}")
    assert ("local_stream://default" in [p for _, p in played]) and len(samples) / rate >= 2 and level > 500
    assert not bench.fs.missing_files(mark)


def test_an_english_tenant_hears_english(bench: SwitchBench, owner: Extension) -> None:
    """A number nobody has: the unallocated announcement in the tenant's language; switched to
    English, the same call and the voicemail greeting are English."""
    mark = bench.fs.log_mark()
    with playbacks(bench) as japanese:
        assert bench.sipp_call(owner, "2999", talk_ms=0, remote_bye=True).ok
    bench.directory.patch(f"/api/v1/tenants/{T}", {"language": "en"})
    try:
        with playbacks(bench) as english:
            assert bench.sipp_call(owner, "2999", talk_ms=0, remote_bye=True).ok
            assert bench.carrier_call("0424911111", talk_ms=4000).ok
    finally:
        bench.directory.patch(f"/api/v1/tenants/{T}", {"language": "ja"})
    assert ours(japanese, JA) == ["system/unallocated.wav"], japanese
    assert ours(english, EN)[:2] == ["system/unallocated.wav", "voicemail/vm-not_available.wav"], english
    assert not bench.fs.missing_files(mark)
