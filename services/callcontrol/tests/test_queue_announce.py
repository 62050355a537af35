"""What a waiting caller hears (announce) and where a maximum wait sends them (transfer_for)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hibiki.callcontrol.queue.announce import MAX_MINUTES, announcement
from hibiki.callcontrol.queue.leaving import transfer_for


def test_position_and_wait_are_said() -> None:
    assert "次です" in announcement(1, 0) and "まもなく" in announcement(1, 0)
    assert "3番目" in announcement(3, 150_000) and "およそ3分" in announcement(3, 150_000)
    assert f"{MAX_MINUTES}分以上" in announcement(40, 3_600_000)
    assert announcement(0, 90_000) == "まもなく、おつなぎします。"      # offered already


@given(st.integers(min_value=2, max_value=10_000), st.integers(min_value=0, max_value=10**9))
def test_every_announcement_names_the_place_and_never_promises_less_than_the_estimate(
        position: int, wait_ms: int) -> None:
    text = announcement(position, wait_ms)
    assert f"{position}番目" in text and text.endswith("このまま、お待ちください。")
    if "およそ" in text:
        minutes = int(text.split("およそ")[1].split("分")[0])
        assert minutes * 60_000 >= wait_ms and minutes <= MAX_MINUTES
    else:
        assert wait_ms < 60_000 or wait_ms > MAX_MINUTES * 60_000


def test_maximum_wait_destinations() -> None:
    assert transfer_for("voicemail:2100") is not None
    assert (transfer_for("extension:2000").kind, transfer_for("extension:2000").target) == ("extension", "2000")  # type: ignore[union-attr]
    assert transfer_for("ring_group:g1").kind == "ring_group"  # type: ignore[union-attr]
    for unusable in ("hangup", "voicemail:", "queue:night", "", "x:1"):
        assert transfer_for(unusable) is None
