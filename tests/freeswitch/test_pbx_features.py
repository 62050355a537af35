"""What a city's staff notice on their phones, on a real FreeSWITCH: every device of a user rings,
ring groups at once and in turn, forwarding, pickup, park and blind transfer."""

from __future__ import annotations

import time

import pytest

from support.switch.baresip import Baresip
from support.switch.bench import Extension, SwitchBench

T = "pbx"


@pytest.fixture(scope="module")
def tenant(bench: SwitchBench) -> str:
    bench.tenant(T)
    return T


_next = iter(range(5000, 5999))


def person(bench: SwitchBench, devices: int = 1, **fields: object) -> list[Extension]:
    return bench.extension(T, str(next(_next)), devices=devices, **fields)


def talk(a: Baresip, b: Baresip) -> None:
    """Both sides hear each other (RTP arrived at each phone)."""
    a.wait("CALL_RTPESTAB")
    b.wait("CALL_RTPESTAB")


def test_every_device_of_a_user_rings(bench: SwitchBench, tenant: str) -> None:
    desk, soft = person(bench, devices=2)
    desk_phone = bench.baresip(desk, auto_answer=False)
    soft_phone = bench.baresip(soft, auto_answer=False)
    caller = bench.baresip(person(bench)[0], auto_answer=False)
    caller.dial(desk.extension)
    desk_phone.wait("CALL_INCOMING")
    soft_phone.wait("CALL_INCOMING")
    soft_phone.answer()                          # the softphone takes it: the desk phone stops ringing
    desk_phone.wait("CALL_CLOSED")
    caller.wait("CALL_ESTABLISHED")
    talk(caller, soft_phone)
    caller.hangup()
    soft_phone.wait("CALL_CLOSED")


def test_ring_group_at_once(bench: SwitchBench, tenant: str) -> None:
    a, b = person(bench)[0], person(bench)[0]
    group = bench.directory.post(f"/api/v1/tenants/{T}/ring_groups", {
        "name": "counter", "extension": "5901", "strategy": "simultaneous", "ring_seconds": 20,
        "members": [a.user_id, b.user_id]})
    pa, pb = bench.baresip(a, auto_answer=False), bench.baresip(b, auto_answer=False)
    caller = bench.baresip(person(bench)[0], auto_answer=False)
    caller.dial(group["extension"])
    pa.wait("CALL_INCOMING")
    pb.wait("CALL_INCOMING")
    pb.answer()
    pa.wait("CALL_CLOSED")
    talk(caller, pb)
    caller.hangup()


def test_ring_group_in_turn(bench: SwitchBench, tenant: str) -> None:
    a, b = person(bench)[0], person(bench)[0]
    group = bench.directory.post(f"/api/v1/tenants/{T}/ring_groups", {
        "name": "inturn", "extension": "5902", "strategy": "sequential", "ring_seconds": 5,
        "members": [a.user_id, b.user_id]})
    pa, pb = bench.baresip(a, auto_answer=False), bench.baresip(b, auto_answer=False)
    caller = bench.baresip(person(bench)[0], auto_answer=False)
    caller.dial(group["extension"])
    first = pa.wait("CALL_INCOMING")
    assert not pb.saw("CALL_INCOMING")           # only the first member rings
    stopped = pa.wait("CALL_CLOSED", timeout=10)
    second = pb.wait("CALL_INCOMING", timeout=10)
    assert 4 <= stopped.at - first.at <= 8, stopped.at - first.at
    assert second.at >= stopped.at - 0.5
    pb.answer()
    talk(caller, pb)
    caller.hangup()


def test_forward_always(bench: SwitchBench, tenant: str) -> None:
    target = person(bench)[0]
    user = person(bench, forward_always=target.extension)[0]
    pu = bench.baresip(user, auto_answer=False)
    pt = bench.baresip(target)
    caller = bench.baresip(person(bench)[0], auto_answer=False)
    caller.dial(user.extension)
    pt.wait("CALL_ESTABLISHED")
    talk(caller, pt)
    assert not pu.saw("CALL_INCOMING")
    caller.hangup()


def test_forward_no_answer_after_n_seconds(bench: SwitchBench, tenant: str) -> None:
    target = person(bench)[0]
    user = person(bench, forward_no_answer=target.extension, forward_no_answer_seconds=5)[0]
    pu = bench.baresip(user, auto_answer=False)
    pt = bench.baresip(target)
    caller = bench.baresip(person(bench)[0], auto_answer=False)
    caller.dial(user.extension)
    rang = pu.wait("CALL_INCOMING")
    answered = pt.wait("CALL_ESTABLISHED", timeout=15)
    assert 4 <= answered.at - rang.at <= 9, answered.at - rang.at
    talk(caller, pt)
    caller.hangup()


def test_forward_busy(bench: SwitchBench, tenant: str) -> None:
    target = person(bench)[0]
    user = person(bench, forward_busy=target.extension)[0]
    pu = bench.baresip(user, max_calls=1)                 # one call at a time: the next one gets 486
    pt = bench.baresip(target)
    first = bench.baresip(person(bench)[0], auto_answer=False)
    first.dial(user.extension)
    pu.wait("CALL_ESTABLISHED")
    second = bench.baresip(person(bench)[0], auto_answer=False)
    second.dial(user.extension)
    pt.wait("CALL_ESTABLISHED")
    talk(second, pt)
    second.hangup()
    first.hangup()


def test_forward_when_not_registered(bench: SwitchBench, tenant: str) -> None:
    target = person(bench)[0]
    user = person(bench, forward_unregistered=target.extension)[0]   # no phone registered
    pt = bench.baresip(target)
    caller = bench.baresip(person(bench)[0], auto_answer=False)
    caller.dial(user.extension)
    pt.wait("CALL_ESTABLISHED")
    talk(caller, pt)
    caller.hangup()


def test_group_pickup_star_8(bench: SwitchBench, tenant: str) -> None:
    a = person(bench, pickup_group="desk")[0]
    b = person(bench, pickup_group="desk")[0]
    pa, pb = bench.baresip(a, auto_answer=False), bench.baresip(b, auto_answer=False)
    caller = bench.baresip(person(bench)[0], auto_answer=False)
    caller.dial(a.extension)
    pa.wait("CALL_INCOMING")
    pb.dial("*8")
    pb.wait("CALL_ESTABLISHED")
    pa.wait("CALL_CLOSED")
    talk(caller, pb)
    caller.hangup()


def test_directed_pickup(bench: SwitchBench, tenant: str) -> None:
    a, b = person(bench)[0], person(bench)[0]
    pa, pb = bench.baresip(a, auto_answer=False), bench.baresip(b, auto_answer=False)
    caller = bench.baresip(person(bench)[0], auto_answer=False)
    caller.dial(a.extension)
    pa.wait("CALL_INCOMING")
    pb.dial(f"**{a.extension}")
    pb.wait("CALL_ESTABLISHED")
    pa.wait("CALL_CLOSED")
    talk(caller, pb)
    caller.hangup()


def test_blind_transfer(bench: SwitchBench, tenant: str) -> None:
    a, c = person(bench)[0], person(bench)[0]
    pa = bench.baresip(a)
    pc = bench.baresip(c, auto_answer=False)
    caller = bench.baresip(person(bench)[0], auto_answer=False)
    caller.dial(a.extension)
    pa.wait("CALL_ESTABLISHED")
    talk(caller, pa)
    pa.command("transfer", f"sip:{c.extension}@{c.domain}")
    pc.wait("CALL_INCOMING")
    pa.wait("CALL_CLOSED")
    pc.answer()
    mark = caller.mark()
    pc.wait("CALL_RTPESTAB")
    time.sleep(1)
    assert not caller.saw("CALL_CLOSED", after=mark)
    caller.hangup()
    pc.wait("CALL_CLOSED")


def test_park_and_retrieve(bench: SwitchBench, tenant: str) -> None:
    a, b = person(bench)[0], person(bench)[0]
    pa = bench.baresip(a)
    pb = bench.baresip(b, auto_answer=False)
    caller = bench.baresip(person(bench)[0], auto_answer=False)
    caller.dial(a.extension)
    pa.wait("CALL_ESTABLISHED")
    talk(caller, pa)
    mark = bench.fs.log_mark()
    pa.command("transfer", f"sip:*70@{a.domain}")     # park the caller (first free slot: 1)
    pa.wait("CALL_CLOSED")
    bench.fs.wait_log(r"valet_park", mark)
    pb.dial("*711")                                  # retrieve slot 1 from another phone
    pb.wait("CALL_ESTABLISHED")
    talk(caller, pb)
    caller.hangup()
    pb.wait("CALL_CLOSED")
