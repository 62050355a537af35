"""The daily report per tenant (Toshima's 日次報告): counts per channel and peak agents.

    incoming      着信件数: every inbound call (test calls never)
    answered      応答件数
    abandoned     放棄呼数 (queue + IVR)
    email, fax    メール件数, FAX件数: 0 until e-mail and fax intake (CC-12) exist; ``channels``
                  says which channels were counted
    inquiries     問合せ受付総数: answered calls + e-mails + faxes
    peak_agents   オペレーター配置数（最大）: the most agents logged in (any state but
                  logged_out) at one moment of the day, and when that was first reached
Plus the day's SLA figures and breaches (the report's total row), and the counts per number
called (``by_did``: a dedicated line such as Toshima's COVID-19 dial is reported on its own) and
per case type (``by_disposition``: 分類別の応答件数).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hibiki.analytics.reports.measures import ReportRow

OFF_STATES = frozenset({"logged_out", "unknown"})


def peak_agents(intervals: Sequence[tuple[str, str, datetime, datetime | None]], start: datetime,
                end: datetime) -> tuple[int, datetime | None]:
    """The most agents logged in at once within [start, end), and the first moment it was reached.
    An interval still open (no end) lasts until ``end``; one agent counts once however its
    intervals touch (an end and a start at the same instant do not overlap)."""
    points: list[tuple[datetime, int, str]] = []
    for agent, state, began, ended in intervals:
        if state in OFF_STATES:
            continue
        lo, hi = max(began, start), min(ended or end, end)
        if lo < hi:
            points.append((lo, 1, agent))
            points.append((hi, -1, agent))
    points.sort(key=lambda p: (p[0], p[1]))         # ends before starts at the same instant
    present: dict[str, int] = {}
    best, best_at = 0, None
    for moment, step, agent in points:
        present[agent] = present.get(agent, 0) + step
        if present[agent] == 0:
            del present[agent]
        if len(present) > best:
            best, best_at = len(present), moment
    return best, best_at


def _counts(rows: Sequence[ReportRow]) -> list[dict[str, Any]]:
    return [{"key": r.key, "incoming": r.incoming, "answered": r.answered, "abandoned": r.abandoned} for r in rows]


def daily_report(tenant: str, day: str, total: ReportRow, peak: tuple[int, datetime | None],
                 generated_at: datetime, final: bool, by_did: Sequence[ReportRow] = (),
                 by_disposition: Sequence[ReportRow] = ()) -> dict[str, Any]:
    email = fax = 0
    return {
        "tenant": tenant, "date": day, "generated_at": generated_at.isoformat(), "final": final,
        "channels": ["phone"],
        "incoming": total.incoming, "answered": total.answered, "abandoned": total.abandoned,
        "email": email, "fax": fax, "inquiries": total.answered + email + fax,
        "peak_agents": peak[0], "peak_at": peak[1].isoformat() if peak[1] else None,
        "sla": total.as_dict(),
        "by_did": _counts(by_did), "by_disposition": _counts(by_disposition),
    }
