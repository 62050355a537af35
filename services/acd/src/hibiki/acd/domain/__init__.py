"""The ACD's domain (CC-01, CC-02, CC-03): queues, agents and waiting calls, pure and event-driven.

No I/O, no clock, no asyncio: the service passes ``now`` into every command and publishes the
events the command returns. One ``Acd`` per tenant (one writer at a time; ``to_state`` and
``Acd.from_state`` carry it over a restart).

``acd`` (``Acd``, composing the parts below), ``configure`` (queues and agents set up),
``calls`` (calls and offers), ``agents`` (login, states, dispositions), ``clock`` (``tick``, the
timers fired), ``reads`` (agent, call and queue snapshots), ``snapshot`` (``to_state`` and
``from_state``), ``core`` (the routing rules: matching, offers, misses, overflow, maximum wait,
wrap-up), ``records`` (the state the parts share, lookups by id), ``index`` (ready agents and
waiting calls per queue, heaps), ``timers`` (deadlines), ``queues`` (a queue at run time, its
counters and routing profile), ``profiles`` (time bands and seasons), ``model`` (queue and agent
configuration), ``entities`` (the mutable records), ``events`` (what commands return), ``views``
(snapshots), ``codec`` (configuration as plain dicts), ``enums``, ``errors``.
"""

from hibiki.acd.domain.acd import Acd
from hibiki.acd.domain.enums import AgentState, CallState, LeaveReason, Strategy
from hibiki.acd.domain.errors import (
    AcdError,
    AgentBusy,
    CallExists,
    DeviceInUse,
    DispositionRequired,
    InvalidArgument,
    InvalidState,
    NoSuchOffer,
    UnknownAgent,
    UnknownCall,
    UnknownDevice,
    UnknownQueue,
)
from hibiki.acd.domain.events import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallLeft,
    CallOverflowed,
    DispositionSaved,
    Enqueued,
    Event,
    Offered,
    OfferMissed,
    OfferReleased,
    Requeued,
    WrapUpExpired,
)
from hibiki.acd.domain.model import AgentProfile, MaxWait, Overflow, QueueConfig
from hibiki.acd.domain.profiles import RoutingProfile, Season, TimeBand, choose_profile
from hibiki.acd.domain.views import AgentView, CallView, QueueStats, WaitingCall

__all__ = [
    "AcdError", "Acd", "AgentBusy", "AgentProfile", "AgentState", "AgentStateChanged", "AgentView", "CallAnswered",
    "CallEnded", "CallExists", "CallLeft", "CallOverflowed", "CallState", "CallView", "DeviceInUse",
    "DispositionRequired", "DispositionSaved", "Enqueued", "Event", "InvalidArgument", "InvalidState", "LeaveReason",
    "MaxWait", "NoSuchOffer", "Offered", "OfferMissed", "OfferReleased", "Overflow", "QueueConfig", "QueueStats",
    "Requeued", "RoutingProfile", "Season", "Strategy", "TimeBand", "UnknownAgent", "UnknownCall", "UnknownDevice", "UnknownQueue",
    "WaitingCall", "WrapUpExpired", "choose_profile",
]
