"""What the recordings API takes and answers (its OpenAPI document is made from these)."""

from __future__ import annotations

from datetime import datetime

from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

EARLIEST, LATEST = datetime(1970, 1, 1).astimezone(), datetime(2299, 12, 31).astimezone()


def _in_range(value: datetime) -> datetime:
    if not EARLIEST <= value <= LATEST:
        raise ValueError("must be between 1970 and 2299")
    return value


When = Annotated[AwareDatetime, AfterValidator(_in_range)]


class Ids(BaseModel):
    tenant: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    recording_id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class TenantId(BaseModel):
    tenant: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class SearchQuery(BaseModel):
    """Every filter is optional; times carry their UTC offset (``2026-12-07T09:00:00+09:00``)."""

    start: When | None = Field(None, alias="from", description="recordings started at or after")
    end: When | None = Field(None, alias="to", description="recordings started before")
    agent: str | None = Field(None, max_length=128)
    number: str | None = Field(None, max_length=128, description="caller, callee or DID, as stored")
    queue: str | None = Field(None, max_length=128)
    disposition: str | None = Field(None, max_length=128)
    limit: int = Field(100, ge=1, le=500)


class AuditQuery(BaseModel):
    start: When | None = Field(None, alias="from")
    end: When | None = Field(None, alias="to")


class RecordingOut(BaseModel):
    tenant: str
    recording_id: str
    call_id: str
    part: int
    start_time: datetime
    end_time: datetime
    duration_ms: int
    channels: int
    direction: str
    caller_number: str
    callee_number: str
    did: str
    queue_id: str
    agent_id: str
    user_id: str
    disposition: str
    reason: str
    codec: str
    size_bytes: int
    sha256: str
    delete_after: datetime


class SearchOut(BaseModel):
    recordings: list[RecordingOut]


class AuditOut(BaseModel):
    at: datetime
    event_id: str
    actor: str
    roles: list[str]
    action: str
    recording_id: str
    remote: str
    detail: str
    writer: str = Field(description="the writer whose hash chain holds the entry (a run of a replica)")
    seq: int = Field(description="its place in that chain (1, 2, ...; 0: written before the chain)")
    prev_hash: str
    hash: str


class AuditTrail(BaseModel):
    entries: list[AuditOut]


class AuditChainOut(BaseModel):
    writer: str
    entries: int
    head: int


class AuditProblemOut(BaseModel):
    writer: str
    seq: int
    problem: str = Field(description="altered | missing | reordered | truncated")


class AuditVerifyOut(BaseModel):
    tenant: str
    entries: int
    unchained: int = Field(description="rows written before the chain existed (not verifiable)")
    intact: bool
    chains: list[AuditChainOut]
    problems: list[AuditProblemOut]


class KeyOut(BaseModel):
    key_id: str
    key_ids: list[str]


class FormIds(BaseModel):
    tenant: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    form_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")


class CriterionIn(BaseModel):
    id: str = Field(max_length=32, description="a-z, 0-9, '_', '-'")
    label: str = Field(max_length=200)
    weight: float = Field(1.0, gt=0, le=100)


class FormIn(BaseModel):
    """A score form (REC-05): criteria with weights, scores 1..scale."""

    name: str = Field(max_length=200)
    scale: int = Field(5, ge=2, le=10)
    criteria: list[CriterionIn] = Field(min_length=1, max_length=30)


class FormOut(FormIn):
    form_id: str


class FormsOut(BaseModel):
    forms: list[FormOut]


class EvaluationIn(BaseModel):
    form_id: str = Field(max_length=32)
    scores: dict[str, int] = Field(description="criterion id -> 1..scale, every criterion once", max_length=30)
    comment: str = Field("", max_length=2000)


class EvaluationOut(BaseModel):
    evaluation_id: str
    recording_id: str
    agent_id: str
    queue_id: str
    at: datetime
    evaluator: str
    form_id: str
    form_name: str
    scale: int
    scores: dict[str, int]
    weights: dict[str, float]
    total: float = Field(description="weighted mean on 0..100")
    comment: str


class EvaluationsOut(BaseModel):
    evaluations: list[EvaluationOut]


class ScoresQuery(BaseModel):
    start: When | None = Field(None, alias="from")
    end: When | None = Field(None, alias="to")
    agent: str | None = Field(None, max_length=128)
    by: str = Field("month", pattern="^(day|week|month)$")


class PeriodOut(BaseModel):
    agent_id: str
    period: str = Field(description="the day, the week's Monday or the month's first day (Asia/Tokyo)")
    evaluations: int
    average: float
    lowest: float
    highest: float


class ScoresOut(BaseModel):
    by: str
    periods: list[PeriodOut]
