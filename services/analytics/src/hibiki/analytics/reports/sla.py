"""A tenant's SLA targets (CC-10) and which of a report row's figures breach them.

Defaults are Toshima's service-level definition (別紙3): answered within 15 s, abandoned under
10 % a month, average handle time (talk + after-call work) at most 3 minutes, average talk time
at most 2 minutes; first-contact resolution 80 % is an effort target, reported but never a
breach. The share of calls that must be answered within the answer time is not in Toshima's
table: 80 % by default (the usual 80/15), configurable like the rest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hibiki.analytics.reports.query import InvalidParameter

BREACHES = ("service_level", "abandon_rate", "aht", "att")


@dataclass(frozen=True)
class SlaTargets:
    answer_seconds: int = 15                 # the service level's answer time
    service_level: float = 0.80              # share of calls answered within answer_seconds
    abandon_rate_max: float = 0.10           # abandoned / offered stays under this (a month)
    aht_max_seconds: int = 180
    att_max_seconds: int = 120
    fcr_target: float = 0.80                 # effort target: shown, never a breach
    unresolved_dispositions: tuple[str, ...] = field(default_factory=tuple)   # case types that are not resolved

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["unresolved_dispositions"] = list(self.unresolved_dispositions)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SlaTargets:
        """Checked: unknown keys, wrong types and out-of-range values name their field."""
        known = set(cls.__dataclass_fields__)
        for key in data:
            if key not in known:
                raise InvalidParameter(str(key)[:64] or "body", f"unknown field {str(key)[:64]!r}", "unknown-field")
        base = cls()
        values: dict[str, Any] = {}
        for name in ("answer_seconds", "aht_max_seconds", "att_max_seconds"):
            v = data.get(name, getattr(base, name))
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 86_400:
                raise InvalidParameter(name, f"{name} must be a whole number of seconds 0-86400")
            values[name] = v
        for name in ("service_level", "abandon_rate_max", "fcr_target"):
            v = data.get(name, getattr(base, name))
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1:
                raise InvalidParameter(name, f"{name} must be a share between 0 and 1")
            values[name] = float(v)
        unresolved = data.get("unresolved_dispositions", [])
        if not isinstance(unresolved, list) or len(unresolved) > 100 or not all(
                isinstance(u, str) and 0 < len(u) <= 64 and u.isprintable() for u in unresolved):
            raise InvalidParameter("unresolved_dispositions", "unresolved_dispositions must be a list of at most "
                                   "100 case types (printable, 1-64 characters)")
        return cls(**values, unresolved_dispositions=tuple(unresolved))


def breaches(targets: SlaTargets, service_level: float | None, abandon_rate: float | None,
             aht: float | None, att: float | None) -> list[str]:
    """The targets a row misses (a figure without calls misses nothing)."""
    out = []
    if service_level is not None and service_level < targets.service_level:
        out.append("service_level")
    if abandon_rate is not None and abandon_rate >= targets.abandon_rate_max:
        out.append("abandon_rate")
    if aht is not None and aht > targets.aht_max_seconds:
        out.append("aht")
    if att is not None and att > targets.att_max_seconds:
        out.append("att")
    return out
