"""When parts of Hibiki fail under a real FreeSWITCH (CC-11): callcontrol killed while a caller
is in an IVR (the caller is not left in silence), and the directory unreachable (FreeSWITCH's
static survival routing, ``dialplan/fallback.xml``, takes the carrier's calls).

The tests run in this order and the first one ends the stack (``hibiki up`` stops everything
when one service dies, issue 11 defect 6)."""

from __future__ import annotations

import re
import time

import pytest

from support.switch import sipp
from support.switch.bench import SwitchBench

T = "fail"
NUMBER = "0762209999"
# Inbound carrier calls go to the bench's carrier (a sipp UAS) while Hibiki cannot answer.
FREESWITCH_ENV = {"HIBIKI_FS_SURVIVAL_DESTINATION": "sofia/internal/reception@{carrier}"}
LONG_GREETING = "お電話ありがとうございます。" * 8


@pytest.fixture(scope="module")
def tenant(bench: SwitchBench) -> str:
    bench.tenant(T)
    bench.directory.post(f"/api/v1/tenants/{T}/ivrs", {
        "id": "main", "name": "代表", "root_menu": "top",
        "menus": [{"id": "top", "name": "トップ", "greeting": {"text": LONG_GREETING},
                   "choices": {"1": {"message": {"prompt": {"text": "ありがとうございました。"}}}}}]})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": NUMBER, "target_kind": "ivr", "target": "main"})
    return T


def test_callcontrol_killed_while_a_caller_is_in_the_ivr(bench: SwitchBench, tenant: str) -> None:
    mark, fs_mark = bench.events.mark(), bench.fs.log_mark()
    call = bench.carrier_call(NUMBER, talk_ms=60000, remote_bye=True, background=True)
    assert isinstance(call, sipp.Sipp)
    bench.events.wait(f"hibiki.{T}.call.ivr_entered", after=mark, timeout=15)
    bench.fs.wait_log(r"play_and_get_digits\(", fs_mark)
    killed_at = time.monotonic()
    bench.stack.kill_service("callcontrol")
    result = call.result(timeout=40)
    ended_after = time.monotonic() - killed_at
    # The greeting callcontrol started plays on (FreeSWITCH does not break it when the socket
    # closes), then the number's fallback route runs and FreeSWITCH ends the call: the caller
    # is never left in silence and does not wait out the 60 s.
    assert result.ok, result.output
    assert ended_after < 40, ended_after
    log = bench.fs.log_since(fs_mark)
    after_socket = log[log.index("socket("):]
    assert re.search(r"EXECUTE .* (playback|bridge|transfer)\(", after_socket), after_socket[-3000:]
    assert re.search(r"EXECUTE .* hangup\(|Hangup sofia", after_socket)


def test_directory_unreachable_survival_routing(bench: SwitchBench, tenant: str) -> None:
    bench.stack.stop()                                 # no /fsapi: FreeSWITCH falls back to its static XML
    fs_mark = bench.fs.log_mark()
    reception = bench.carrier_uas()
    caller = bench.carrier_call(NUMBER, talk_ms=2000)
    assert isinstance(caller, sipp.SippResult)
    answered = reception.result()
    assert caller.ok and caller.final() == 200, caller.output
    assert answered.ok and answered.requests("INVITE")[0].startswith("INVITE sip:reception@"), answered.output
    log = bench.fs.log_since(fs_mark)
    assert "survival routing for 0762209999 in public" in log
    assert "CURL returned error" in log or "Received HTTP error" in log
