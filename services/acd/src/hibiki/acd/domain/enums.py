"""The states and kinds of the ACD domain (string values: they are also the serialised form)."""

from __future__ import annotations

from enum import StrEnum


class AgentState(StrEnum):
    """CC-02. Mirrors ``hibiki.events.v1.AgentState``."""

    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"                # offered a call, the device not yet ringing
    RINGING = "ringing"
    TALKING = "talking"
    AFTER_CALL_WORK = "after_call_work"  # wrap-up: until the disposition is saved (or the queue's limit)
    BREAK = "break"                      # with a reason
    NOT_READY = "not_ready"              # logged in, not taking calls (also: too many missed offers)


ON_CALL = frozenset({AgentState.RESERVED, AgentState.RINGING, AgentState.TALKING})
PAUSED = frozenset({AgentState.BREAK, AgentState.NOT_READY})


class CallState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"                  # to one agent, or to several at once in a ring-all queue
    TALKING = "talking"


class Strategy(StrEnum):
    """How a queue picks among the ready agents that may take a call (see ``index``)."""

    LONGEST_IDLE = "longest_idle"        # ready the longest
    SKILLS = "skills"                    # highest level in the queue's skills, then ready the longest
    FEWEST_CALLS = "fewest_calls"        # fewest calls answered since login, then ready the longest
    RING_ALL = "ring_all"                # every ready agent at once; the first to answer wins


class LeaveReason(StrEnum):
    """Why a call left the ACD before an agent answered."""

    ABANDONED = "abandoned"              # the caller hung up
    MAX_WAIT = "max_wait"                # the queue's maximum wait: the caller goes to its destination
    CANCELLED = "cancelled"              # taken away by callcontrol (transfer, IVR, shutdown)
    NODE_LOST = "node_lost"              # its FreeSWITCH node is gone (no callcontrol reaches it): no caller left
