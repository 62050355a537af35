"""What the ACD's HTTP API answers (pydantic models, described in its OpenAPI document): the stored
queue and agent definitions (``domain.codec``, ``runtime.configure``) and the domain's views
(``runtime.views``). The request models are in :mod:`hibiki.acd.http.schemas`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

StrategyName = Literal["longest_idle", "skills", "fewest_calls", "ring_all"]
AgentStateName = Literal["logged_out", "ready", "reserved", "ringing", "talking", "after_call_work", "break",
                         "not_ready"]


class Ids(BaseModel):
    """The ids in the ACD's paths (``runtime.buckets.valid_id``; anything else is 400 invalid-id)."""

    tenant: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    queue_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    agent_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class OverflowOut(BaseModel):
    queue_id: str
    after_seconds: float


class MaxWaitOut(BaseModel):
    seconds: float
    destination: str


class BandOut(BaseModel):
    start: str
    end: str
    weekdays: list[int]


class SeasonOut(BaseModel):
    start: str
    end: str


class ProfileOut(BaseModel):
    name: str
    bands: list[BandOut]
    seasons: list[SeasonOut]
    strategy: StrategyName | None
    priority: int | None


class QueueOut(BaseModel):
    id: str
    strategy: StrategyName
    skills: dict[str, int]
    priority: int
    overflow: OverflowOut | None
    max_wait: MaxWaitOut | None
    service_level_seconds: float
    offer_timeout_seconds: float
    wrap_up_limit_seconds: float | None
    missed_offer_limit: int | None
    profiles: list[ProfileOut]


class Queues(BaseModel):
    items: list[QueueOut]


class AgentOut(BaseModel):
    id: str
    skills: dict[str, int]
    queues: list[str]


class Agents(BaseModel):
    items: list[AgentOut]


class AgentView(BaseModel):
    id: str
    state: AgentStateName
    reason: str
    device: str
    state_since: float
    idle_since: float
    call_id: str = Field(description="the call offered or talking; empty when none")
    pending_disposition: str = Field(description="the call whose disposition blocks the next offer, if any")
    wrap_up_until: float | None
    undisposed: list[str]
    calls_handled: int
    missed_offers: int
    skills: dict[str, int]
    queues: list[str]
    serving: list[str] = Field(description="of the configured queues, those whose skills the agent has")
    caller_number: str = Field("", description="the caller number of the call offered, talking or in wrap-up; empty when none")
    call_queue_id: str = Field("", description="that call's queue")


class WaitingCall(BaseModel):
    call_id: str
    caller: str
    priority: int
    waited: float
    node: str = Field("", description="the FreeSWITCH node of the caller's channel (\"\": not known)")


class QueueStats(BaseModel):
    queue_id: str
    profile: str | None
    strategy: StrategyName
    priority: int
    waiting: list[WaitingCall]
    longest_wait: float
    offered: int
    talking: int
    agents_ready: int
    agents_busy: int
    agents_paused: int
    agents_logged_in: int
    entered: int
    answered: int
    answered_in_target: int
    abandoned: int
    overflowed: int
    timed_out: int
    cancelled: int
    service_level: float | None
    node_lost: int = Field(0, description="left when their FreeSWITCH node was lost (out of the service level)")


class Info(BaseModel):
    service: str
    grpc_port: int
    caller: str
    replica: str
    tenants: list[str] = Field(description="the tenants this replica owns now")
