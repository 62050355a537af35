"""The report's figures, from the sums the store returns for each group (CC-08).

Which calls count (every one of a tenant's inbound calls in the period, test calls never):

    incoming        every inbound call (着信件数)
    offered         inbound calls that reached the center: an IVR choice, a queue, a person,
                    or hung up in the IVR or a queue (after-hours announcements, refused calls
                    and calls straight to voicemail are incoming but not offered)
    answered        offered calls a person answered (transferred calls were answered first)
    abandoned       hung up in a queue (abandoned_queue) or in the IVR (abandoned_ivr)
    abandon rate    abandoned / offered
    node lost       left a queue because its FreeSWITCH node was lost (node_lost): not the
                    caller's doing nor the center's, so neither offered, abandoned nor in the
                    service level; counted apart
    service level   answered within the answer time / (answered + abandoned in a queue)
    speed of answer the time in queue(s) until the agent answered; for a call answered without
                    a queue, its ringing time. ASA is its mean over answered calls
    AHT             (talk + after-call work) / answered;  ATT: talk / answered
    average hold    hold / answered
    transfers       answered calls transferred away
    FCR             answered, not transferred, with a disposition that is not one of the
                    tenant's unresolved ones / answered (Toshima's 一次回答率; transfers are
                    取り次ぎ, never resolved at first contact)
Averages are seconds with 3 decimals; rates are shares (0-1) with 4 decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hibiki.analytics.reports.sla import SlaTargets, breaches

SUMS = ("incoming", "offered", "answered", "abandoned", "abandoned_queue", "abandoned_ivr", "within_target",
        "transfers", "overflowed", "resolved", "answer_ms", "talk_ms", "acw_ms", "hold_ms",
        "node_lost")
COLUMNS = ("key", "incoming", "offered", "answered", "abandoned", "abandoned_queue", "abandoned_ivr",
           "abandon_rate", "service_level", "asa_seconds", "aht_seconds", "att_seconds", "avg_hold_seconds",
           "transfers", "overflowed", "fcr_rate", "breaches", "node_lost")


@dataclass(frozen=True)
class ReportRow:
    key: str
    incoming: int
    offered: int
    answered: int
    abandoned: int
    abandoned_queue: int
    abandoned_ivr: int
    abandon_rate: float | None
    service_level: float | None
    asa_seconds: float | None
    aht_seconds: float | None
    att_seconds: float | None
    avg_hold_seconds: float | None
    transfers: int
    overflowed: int
    fcr_rate: float | None
    breaches: tuple[str, ...]
    node_lost: int

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["breaches"] = list(self.breaches)
        return out


def _ratio(top: int, bottom: int, digits: int = 4) -> float | None:
    return round(top / bottom, digits) if bottom else None


def _mean_seconds(total_ms: int, count: int) -> float | None:
    return round(total_ms / count / 1000, 3) if count else None


def row(key: str, sums: dict[str, int], targets: SlaTargets) -> ReportRow:
    answered = sums["answered"]
    abandon_rate = _ratio(sums["abandoned"], sums["offered"])
    service_level = _ratio(sums["within_target"], answered + sums["abandoned_queue"])
    aht = _mean_seconds(sums["talk_ms"] + sums["acw_ms"], answered)
    att = _mean_seconds(sums["talk_ms"], answered)
    return ReportRow(
        key, sums["incoming"], sums["offered"], answered, sums["abandoned"], sums["abandoned_queue"],
        sums["abandoned_ivr"], abandon_rate, service_level, _mean_seconds(sums["answer_ms"], answered), aht, att,
        _mean_seconds(sums["hold_ms"], answered), sums["transfers"], sums["overflowed"],
        _ratio(sums["resolved"], answered), tuple(breaches(targets, service_level, abandon_rate, aht, att)),
        sums["node_lost"])


def total(rows: list[dict[str, int]]) -> dict[str, int]:
    return {name: sum(r[name] for r in rows) for name in SUMS}
