"""What the ACD's HTTP API accepts (pydantic models, also the OpenAPI schemas).

Every body is checked here before the domain sees it: JSON types as declared (no ``"high"``
for a number, no ``true`` for an integer), finite numbers in working ranges, sizes (names up to
64 characters, up to 100 skills, 200 queues, 32 routing profiles), no NUL or other control
character in any text, identifiers in the ids' alphabet, devices in the SIP username
alphabet (then resolved through the directory), and only the ``max_wait`` destinations
callcontrol can route (an outside number is a domestic one: no premium 0990, no international).
A refusal is 400 with ``error_id`` ``invalid-<field>`` and the ``field`` at fault
(``http.common.parsed``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from hibiki.common.dialstring import DEVICE

ID = r"^[A-Za-z0-9_-]{1,64}$"                      # queue, agent ids (runtime.buckets.valid_id)
TEXT = r"^[^\x00-\x1f\x7f]*$"                       # one line, no control character
NOTE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"      # several lines (tab, newline, return allowed)
EXTENSION = r"[1-9][0-9]{1,7}"
# An outside number callcontrol may send a caller to: domestic (0 + 9 or 10 digits), neither
# premium (0990) nor international (010, +); the directory's dialplan checks it again.
OUTSIDE = re.compile(r"0(?!990)(?!10)[0-9]{9,10}")
DESTINATIONS = {
    "extension": re.compile(EXTENSION), "voicemail": re.compile(EXTENSION), "ring_group": re.compile(ID[1:-1]),
    "queue": re.compile(ID[1:-1]), "message": re.compile(r"[A-Za-z0-9_.-]{1,64}"), "external": OUTSIDE,
}
MAX_SKILLS = 100
Seconds = Annotated[float, Field(strict=True, gt=0, le=86_400, allow_inf_nan=False)]
Id = Annotated[str, Field(pattern=ID)]
SkillName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f:,]+$")]
SkillLevel = Annotated[StrictInt, Field(ge=1, le=100)]
Skills = Annotated[dict[SkillName, SkillLevel], Field(max_length=MAX_SKILLS)]
Priority = Annotated[StrictInt, Field(ge=-1000, le=1000)]
StrategyName = Literal["longest_idle", "skills", "fewest_calls", "ring_all"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Overflow(Strict):
    queue_id: Id
    after_seconds: Seconds


class MaxWait(Strict):
    seconds: Seconds
    destination: str = Field(max_length=80, description="hangup, or extension:|ring_group:|voicemail:|"
                             "external:|queue:|message: and its target")

    @field_validator("destination")
    @classmethod
    def _routable(cls, value: str) -> str:
        if value == "hangup":
            return value
        kind, _, target = value.partition(":")
        pattern = DESTINATIONS.get(kind)
        if pattern is None or pattern.fullmatch(target) is None:
            raise ValueError("a destination is hangup, extension:<ext>, ring_group:<id>, voicemail:<ext>, "
                             "queue:<id>, message:<prompt id> or external:<domestic number> "
                             "(no premium 0990 or international number)")
        return value


class Band(Strict):
    start: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    end: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    weekdays: list[Annotated[StrictInt, Field(ge=0, le=6)]] = Field(default=[0, 1, 2, 3, 4, 5, 6], max_length=7)


class SeasonIn(Strict):
    start: str = Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
    end: str = Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


class Profile(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=TEXT)
    bands: list[Band] = Field(default=[], max_length=32)
    seasons: list[SeasonIn] = Field(default=[], max_length=32)
    strategy: StrategyName | None = None
    priority: Priority | None = None


class QueueIn(Strict):
    """PUT .../queues/{queue_id}: the codec's queue dict (``domain/codec.py``)."""

    id: Id | None = None
    strategy: StrategyName = "longest_idle"
    skills: Skills = {}
    priority: Priority = 0
    overflow: Overflow | None = None
    max_wait: MaxWait | None = None
    service_level_seconds: Seconds = 15.0
    offer_timeout_seconds: Annotated[float, Field(strict=True, gt=0, le=600, allow_inf_nan=False)] = 20.0
    wrap_up_limit_seconds: Annotated[float, Field(strict=True, ge=0, le=86_400, allow_inf_nan=False)] | None = None
    missed_offer_limit: Annotated[StrictInt, Field(ge=1, le=100)] | None = 3
    profiles: list[Profile] = Field(default=[], max_length=32)


class AgentIn(Strict):
    """PUT .../agents/{agent_id}."""

    id: Id | None = None
    skills: Skills = {}
    queues: list[Id] = Field(default=[], max_length=200)


class LoginIn(Strict):
    """POST .../agents/{agent_id}/login: a device the tenant's directory has."""

    device: str = Field(max_length=64, pattern="^" + DEVICE.pattern + "$",
                        description="SIP username, extension or username (resolved through the directory)")
    ready: StrictBool = False


class StateIn(Strict):
    state: Literal["ready", "break", "not_ready"]
    reason: str = Field(default="", max_length=64, pattern=TEXT)


class DispositionIn(Strict):
    call_uuid: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")
    case_type: str = Field(default="", max_length=64, pattern=TEXT)
    note: str = Field(default="", max_length=2000, pattern=NOTE)


def body(model: BaseModel) -> dict[str, Any]:
    """The fields the client sent (the defaults left to the domain)."""
    return model.model_dump(exclude_unset=True)
