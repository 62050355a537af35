"""callcontrol killed while a caller waits in a queue, on a real FreeSWITCH (CC-11): the caller
must not be left waiting on hold music for an agent nobody will offer any more. A module of its
own: killing a service ends the whole `hibiki up` today (issue 11 defect 6)."""

from __future__ import annotations

import re
import time

from support.switch import sipp
from support.switch.bench import SwitchBench

T = "failq"
NUMBER = "0762208888"


def test_callcontrol_killed_while_a_caller_waits_in_the_queue(bench: SwitchBench) -> None:
    bench.tenant(T)
    bench.acd.put(f"/api/v1/tenants/{T}/queues/water", {})
    bench.directory.post(f"/api/v1/tenants/{T}/dids", {"number": NUMBER, "target_kind": "queue", "target": "water"})
    mark, fs_mark = bench.events.mark(), bench.fs.log_mark()
    call = bench.carrier_call(NUMBER, talk_ms=90000, remote_bye=True, background=True)
    assert isinstance(call, sipp.Sipp)
    bench.events.wait(f"hibiki.{T}.acd.queued", after=mark, timeout=20)
    time.sleep(1)
    killed_at = time.monotonic()
    bench.stack.kill_service("callcontrol")
    result = call.result(timeout=60)
    ended_after = time.monotonic() - killed_at
    log = bench.fs.log_since(fs_mark)
    after_socket = log[log.index("socket("):]
    assert result.ok, result.output + after_socket[-3000:]   # FreeSWITCH ended it: the caller did not wait 90 s
    assert ended_after < 30, ended_after
    assert re.search(r"EXECUTE .* hangup\(", after_socket), after_socket[-3000:]   # the number's fallback route ran
