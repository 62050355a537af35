"""Registration and extension-to-extension calls on a real FreeSWITCH through Hibiki."""

from __future__ import annotations

import time

from support.switch.bench import SwitchBench, rtp_stats


def test_registration_with_the_provisioned_password(bench: SwitchBench) -> None:
    bench.tenant("reg")
    ext = bench.extension("reg", "1001")[0]
    result = bench.sipp_register(ext)
    assert result.ok, result.output
    assert result.responses()[-2:] == [401, 200]
    assert f"{ext.sip_username}@{ext.domain}" in bench.fs.registrations()
    other = bench.extension("reg", "1002")[0]
    bench.baresip(other)   # a second phone, baresip this time
    assert f"{other.sip_username}@{other.domain}" in bench.fs.registrations()


def test_wrong_password_refused(bench: SwitchBench) -> None:
    bench.tenant("wrong")
    ext = bench.extension("wrong", "1001")[0]
    result = bench.sipp_register(ext, password=ext.password + "x", final=403)
    assert result.final() == 403, result.messages
    assert f"{ext.sip_username}@{ext.domain}" not in bench.fs.registrations()


def test_extension_to_extension_rtp_both_ways(bench: SwitchBench) -> None:
    bench.tenant("e2e")
    alice = bench.baresip(bench.extension("e2e", "2001")[0], auto_answer=False)
    bob = bench.baresip(bench.extension("e2e", "2002")[0])
    mark = bench.fs.log_mark()
    with bench.hangups() as hangups:
        alice.dial("2002")
        answered = bob.wait("CALL_ESTABLISHED")
        assert "2001" in answered.peer, answered.data
        alice.wait("CALL_ESTABLISHED")
        bob.wait("CALL_RTPESTAB")      # each phone hears the other
        alice.wait("CALL_RTPESTAB")
        time.sleep(2)                  # they talk for two seconds
        alice.hangup()
        bob.wait("CALL_CLOSED")
    apps = [app for app, _ in bench.fs.applications(mark)]
    assert "bridge" in apps
    assert bench.fs.missing_files(mark) == []
    legs = [rtp_stats(e) for e in hangups]
    assert len(legs) == 2 and all(packets_in > 20 and packets_out > 20 for packets_in, packets_out in legs), legs
