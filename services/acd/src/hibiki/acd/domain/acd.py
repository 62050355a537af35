"""``Acd``: one tenant's queues, agents and waiting calls as a pure, event-driven state machine.

Every command takes the time ``now`` (seconds since the epoch; the machine has no clock of its
own), validates (an error leaves the machine untouched), applies, and returns the events it
decided, in order: an ``Offered`` in the reply is the routing decision (see ``core`` for the
rules). ``tick(now)`` fires the timers that are due; the service calls it at ``next_deadline()``
and may call it before every command (nothing is polled: no timer, no tick). ``to_state()`` and
``Acd.from_state()`` persist and restore the whole machine as plain dicts.

The class only composes; each part is a mixin over ``Core`` (itself over ``Records``):

- ``configure.Configuration``: ``configure_queue``, ``remove_queue``, ``configure_agent``,
  ``remove_agent``, ``reset_counters``;
- ``calls.CallCommands``: ``enqueue``, ``cancel``, ``call_ended``, ``ringing``, ``answer``,
  ``reject``;
- ``agents.AgentCommands``: ``login``, ``logout``, ``set_ready``, ``set_break``,
  ``set_not_ready``, ``set_state``, ``save_disposition``;
- ``clock.Clock``: ``tick``, ``next_deadline``;
- ``reads.Reads``: ``queue_ids``, ``queue_config``, ``agent``, ``agent_on``, ``agents``, ``call``,
  ``calls``, ``position``, ``queue_stats``;
- ``snapshot.Snapshot``: ``to_state``, ``from_state``.

``Acd(tenant, timezone="Asia/Tokyo")`` (``records.Records``) raises ``InvalidArgument`` for an
empty tenant or an unknown timezone.
"""

from __future__ import annotations

from hibiki.acd.domain.agents import AgentCommands
from hibiki.acd.domain.calls import CallCommands
from hibiki.acd.domain.clock import Clock
from hibiki.acd.domain.configure import Configuration
from hibiki.acd.domain.reads import Reads
from hibiki.acd.domain.snapshot import STATE_VERSION, Snapshot

__all__ = ["STATE_VERSION", "Acd"]


class Acd(Configuration, CallCommands, AgentCommands, Clock, Reads, Snapshot):
    """One tenant's ACD: the commands, the clock, the reads and persistence over one ``Core``."""
