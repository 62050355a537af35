"""How long a tenant keeps its recordings (REC-03): 3 years unless told, or until handled.

``HIBIKI_RECORDING_RETENTION`` is ``<tenant>=<rule>`` pairs separated by commas, with ``default``
for every other tenant: a rule is a number of days (``1095``) or ``after-handling`` (deleted once
the call's disposition is saved; until then kept ``HANDLING_GRACE`` at most).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from hibiki.common.digits import ascii_digits

DEFAULT_DAYS = 1095
AFTER_HANDLING = "after-handling"
HANDLING_GRACE = timedelta(days=7)
_TENANT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class BadRetention(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    days: int | None            # None: after handling

    def deadline(self, start: datetime, handled_at: datetime | None = None) -> datetime:
        if self.days is not None:
            return start + timedelta(days=self.days)
        return handled_at if handled_at is not None else start + HANDLING_GRACE

    @property
    def after_handling(self) -> bool:
        return self.days is None


@dataclass(frozen=True)
class Retention:
    default: Rule = Rule(DEFAULT_DAYS)
    tenants: dict[str, Rule] = field(default_factory=dict)

    def rule(self, tenant: str) -> Rule:
        return self.tenants.get(tenant, self.default)

    @classmethod
    def parse(cls, text: str) -> Retention:
        default, tenants = Rule(DEFAULT_DAYS), {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, value = item.partition("=")
            name, value = name.strip(), value.strip()
            if not sep or not (name == "default" or _TENANT.match(name)):
                raise BadRetention(f"{item!r}: <tenant>=<days|after-handling> expected")
            if value == AFTER_HANDLING:
                rule = Rule(None)
            elif ascii_digits(value) and 0 < int(value) <= 36500:
                rule = Rule(int(value))
            else:
                raise BadRetention(f"{item!r}: days 1-36500 or {AFTER_HANDLING}")
            if name == "default":
                default = rule
            else:
                tenants[name] = rule
        return cls(default, tenants)
