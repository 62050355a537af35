"""What a waiting caller is told (CC-01): their place in the queue and the expected wait,
as Japanese text for the prompt machinery (synthesised once per distinct text, then cached).

Position 1 is the next call to be served. The expected wait is rounded up to whole minutes
and capped, so a caller is never promised less than the estimate; under a minute, the caller
is told they will be connected shortly.
"""

from __future__ import annotations

import math

MAX_MINUTES = 30          # beyond this: "30分以上"


def announcement(position: int, expected_wait_ms: int) -> str:
    if position < 1:
        return "まもなく、おつなぎします。"
    parts = ["ただいま、電話が大変混み合っております。",
             "あなたの順番は、" + ("次です。" if position == 1 else f"{position}番目です。")]
    minutes = math.ceil(max(expected_wait_ms, 0) / 60000)
    if minutes > MAX_MINUTES:
        parts.append(f"お待ち時間は、{MAX_MINUTES}分以上の見込みです。")
    elif minutes >= 1 and expected_wait_ms >= 60000:
        parts.append(f"お待ち時間は、およそ{minutes}分です。")
    else:
        parts.append("まもなく、おつなぎします。")
    parts.append("このまま、お待ちください。")
    return "".join(parts)
