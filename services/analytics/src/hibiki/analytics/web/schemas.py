"""Models of the reports, history and planning API, for its OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hibiki.analytics.reports.query import GROUPINGS

Grouping = Literal["total", "interval", "hour", "day", "dow", "month", "queue", "agent", "did", "disposition",
                   "transfer_target"]
assert tuple(Grouping.__args__) == GROUPINGS  # type: ignore[attr-defined]


class ReportParams(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: str = Field(alias="from", description="first day, YYYY-MM-DD (Asia/Tokyo)")
    to: str | None = Field(default=None, description="last day, included (default: from); at most 3 years")
    by: Grouping = Field(default="total", description="interval = 30 minutes; dow: 1 = Monday ... 7 = Sunday; "
                                                      "transfer_target: where calls were transferred")
    queue: str | None = None
    agent: str | None = None
    did: str | None = None
    disposition: str | None = None
    lang: Literal["ja", "en"] = Field(default="ja", description="column names of CSV and xlsx")
    encoding: Literal["utf-8", "shift_jis"] = Field(default="utf-8", description="CSV only")


class ReportRowModel(BaseModel):
    key: str = Field(description="the group: a time (Asia/Tokyo), weekday number, queue, agent, DID or case type")
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
    breaches: list[str] = Field(description="service_level, abandon_rate, aht, att: the targets this row misses")
    node_lost: int = Field(description="left a queue when their FreeSWITCH node was lost (acd.left node_lost): "
                                       "not offered, not abandoned, out of the service level")


class SlaModel(BaseModel):
    answer_seconds: int = 15
    service_level: float = 0.8
    abandon_rate_max: float = 0.1
    aht_max_seconds: int = 180
    att_max_seconds: int = 120
    fcr_target: float = 0.8
    unresolved_dispositions: list[str] = []


class ReportModel(BaseModel):
    tenant: str
    from_: str = Field(alias="from")
    to: str
    by: str
    targets: SlaModel
    rows: list[ReportRowModel]
    total: ReportRowModel


class DailyCount(BaseModel):
    key: str = Field(description="the DID or the case type")
    incoming: int
    answered: int
    abandoned: int


class DailyModel(BaseModel):
    tenant: str
    date: str
    generated_at: str
    final: bool
    channels: list[str]
    incoming: int
    answered: int
    abandoned: int
    email: int
    fax: int
    inquiries: int
    peak_agents: int
    peak_at: str | None
    sla: ReportRowModel
    by_did: list[DailyCount]
    by_disposition: list[DailyCount]


class DailyParams(BaseModel):
    date: str = Field(description="YYYY-MM-DD (Asia/Tokyo); default: today, not kept until the set time")


class DailyList(BaseModel):
    tenant: str
    days: list[str]


class HistoryParams(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    user: str | None = Field(default=None, description="whose calls; a user token: only its own (the default)")
    kind: Literal["incoming", "outgoing", "missed"] | None = None
    number: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9]+$",
                               description="only calls with this number at the other end")
    from_: str | None = Field(default=None, alias="from", description="first day (default: 30 days ago)")
    to: str | None = Field(default=None, description="last day, included (default: today)")
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)
    lang: Literal["ja", "en"] = "ja"
    encoding: Literal["utf-8", "shift_jis"] = "utf-8"


class HistoryRow(BaseModel):
    call_id: str
    kind: Literal["incoming", "outgoing", "missed"]
    start_time: str
    answer_time: str | None
    end_time: str
    talk_seconds: int
    other_number: str
    other_name: str
    user_id: str
    did: str


class HistoryModel(BaseModel):
    tenant: str
    user: str | None
    calls: list[HistoryRow]


class ErlangParams(BaseModel):
    calls: float = Field(description="calls expected in the interval")
    aht_seconds: float = Field(description="average handle time (talk + after-call work)")
    interval_minutes: int = Field(default=30, ge=1, le=1440)
    target_seconds: float = Field(default=15, description="answer-time target")
    service_level: float = Field(default=0.8, description="share to answer within target_seconds")
    shrinkage: float = Field(default=0.0, description="share of rostered time not on the phones")
    max_occupancy: float = Field(default=1.0)
    agents: int | None = Field(default=None, description="also evaluate exactly this many agents")


class IntervalModel(BaseModel):
    calls: float
    aht_seconds: float
    interval_seconds: float
    target_seconds: float
    traffic: float
    agents: int
    probability_wait: float
    service_level: float
    asa_seconds: float | None
    occupancy: float
    scheduled: int


class ErlangModel(BaseModel):
    needed: IntervalModel
    asked: IntervalModel | None
    table: list[IntervalModel] = Field(description="from the fewest stable agents to a few more than needed")


class ForecastParams(BaseModel):
    date: str = Field(description="the day to plan, YYYY-MM-DD")
    weeks: int = Field(default=8, ge=1, le=156, description="days of the same type looked back on")
    aht_seconds: float | None = Field(default=None, description="default: the history's AHT")
    target_seconds: float = 15
    service_level: float = 0.8
    shrinkage: float = 0.0
    max_occupancy: float = 1.0
    queue: str | None = None


class PlanRowModel(BaseModel):
    slot: int
    start: str
    calls: float
    agents: int
    scheduled: int
    service_level: float
    asa_seconds: float | None
    occupancy: float


class ForecastModel(BaseModel):
    tenant: str
    date: str
    day_type: str
    based_on: list[str]
    aht_seconds: float
    total_calls: float
    peak_scheduled: int
    plan: list[PlanRowModel]


def dump(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` checked against ``model`` as served (aliases: ``from``)."""
    return model.model_validate(data).model_dump(by_alias=True)
