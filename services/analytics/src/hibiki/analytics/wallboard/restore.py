"""Where a board starts from when analytics starts (or first sees a tenant):

- today's counters from ClickHouse (:class:`StoredEvents`): the ACD's events of the tenant since
  the day began, as the ingest pipeline stored them raw in ``hibiki.events``, replayed through the
  same decoder and model as the live feed (so the restored board equals the one that saw them:
  per queue, overflows, waits, talk and after-call work; IVR test-mode calls never reach the ACD
  and have no such events), and
- the ACD's present state over its HTTP API (:class:`AcdState`): the queues (each one's service
  level threshold), the agents (their queues and state, since when, their call) and the calls
  waiting now (how long each has waited).

Events that arrive meanwhile are applied after the stored ones; the ACD's state comes after that
(an agent's state only when it is newer than what the board has, a waiting call only when the board
does not know it). The model's changes are idempotent, so a call both restored and seen live
counts once.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from hibiki.analytics.storage.base import Store
from hibiki.analytics.wallboard import model as m
from hibiki.analytics.wallboard.feed import decode
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.logging import get_logger

log = get_logger("hibiki.analytics.wallboard")


KINDS = ("acd.queued", "acd.answered", "acd.left", "acd.overflowed", "acd.ended", "agent.state_changed")


class History(Protocol):
    """The tenant's stored ACD events since a moment, as (subject, protobuf payload), oldest first."""

    def events_since(self, tenant: str, since: float) -> Sequence[tuple[str, bytes]]: ...


class NoHistory:
    """No store: the board starts from the ACD alone."""

    def events_since(self, tenant: str, since: float) -> Sequence[tuple[str, bytes]]:
        return ()


class StoredEvents:
    """``hibiki.events`` (the raw events the ingest pipeline keeps) through the analytics Store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def events_since(self, tenant: str, since: float) -> Sequence[tuple[str, bytes]]:
        rows = self._store.query(
            "SELECT subject, payload FROM hibiki.events WHERE tenant = %(tenant)s AND kind IN %(kinds)s "
            "AND occurred_at >= %(since)s ORDER BY occurred_at, event_id",
            {"tenant": tenant, "kinds": KINDS, "since": dt.datetime.fromtimestamp(since, dt.UTC)})
        return [(str(subject), base64.b64decode(payload)) for subject, payload in rows]


@dataclass
class AcdView:
    thresholds: dict[str, float] = field(default_factory=dict)
    agents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    states: list[tuple[str, m.AgentState, float, str]] = field(default_factory=list)   # id, state, since, call
    waiting: list[m.QueueCall] = field(default_factory=list)


class AcdState(Protocol):
    async def load(self, tenant: str, present: bool = True) -> AcdView:
        """The queues and agents; with ``present``, also every agent's state and the calls waiting."""
        ...


class NoAcd:
    """No ACD configured (``HIBIKI_ANALYTICS_ACD_URL`` empty): boards know what the events say."""

    async def load(self, tenant: str, present: bool = True) -> AcdView:
        return AcdView()


STATE_NAMES = {state.value: state for state in m.AgentState} | {"reserved": m.AgentState.RINGING}


class AcdHttp:
    """The ACD's HTTP API with analytics' own service token (``HIBIKI_ANALYTICS_ACD_URL``)."""

    def __init__(self, url: str, authority: TokenAuthority, timeout: float = 5.0) -> None:
        self._url, self._authority, self._timeout = url.rstrip("/"), authority, timeout

    async def load(self, tenant: str, present: bool = True) -> AcdView:
        token = self._authority.issue(Claims("analytics", "service"), 300)
        view = AcdView()
        async with httpx.AsyncClient(base_url=f"{self._url}/api/v1/tenants/{tenant}", timeout=self._timeout,
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            queues = await _get(http, "/queues")
            agents = await _get(http, "/agents")
            now = time.time()
            for queue in queues.get("items", []):
                view.thresholds[queue["id"]] = float(queue.get("service_level_seconds") or m.DEFAULT_SERVICE_LEVEL_SECONDS)
            for agent in agents.get("items", []):
                view.agents[agent["id"]] = tuple(agent.get("queues", ()))
            if not present:
                return view
            stats = await asyncio.gather(*(_get(http, f"/queues/{q}/stats") for q in view.thresholds))
            for queue_id, stat in zip(view.thresholds, stats):
                for waiting in stat.get("waiting", []):
                    view.waiting.append(m.QueueCall(waiting["call_id"], queue_id, now - float(waiting["waited"])))
            states = await asyncio.gather(*(_get(http, f"/agents/{a}/state") for a in view.agents))
            for agent_id, state in zip(view.agents, states):
                name = STATE_NAMES.get(str(state.get("state", "")))
                if name is not None:
                    view.states.append((agent_id, name, float(state.get("state_since") or 0.0),
                                        str(state.get("call_id") or "")))
        return view


async def _get(http: httpx.AsyncClient, path: str) -> Any:
    reply = await http.get(path)
    if reply.status_code == 404:      # an agent or queue deleted meanwhile, or never logged in
        return {}
    reply.raise_for_status()
    return reply.json()


def apply_acd(board: m.Board, view: AcdView) -> None:
    board.configure(view.thresholds, view.agents)
    for agent_id, state, since, call_id in view.states:
        board.restore_agent(agent_id, state, since, call_id)
    for call in view.waiting:
        board.restore_call(call)


async def load_acd(acd: AcdState, tenant: str, attempts: int = 3, pause: float = 0.5,
                   present: bool = True) -> AcdView | None:
    """The ACD's view, asked again after a failure (a replica taking the tenant over answers 503
    for a moment); None when it could not be had."""
    for attempt in range(attempts):
        try:
            return await acd.load(tenant, present)
        except Exception as exc:
            log.warning("wallboard_restore_acd_failed", tenant=tenant, attempt=attempt + 1,
                        error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            if attempt + 1 < attempts:
                await asyncio.sleep(pause * 2 ** attempt)
    return None


async def restore_history(board: m.Board, tenant: str, history: History, now: float) -> None:
    """Today's stored events into a new board. A failing store is logged and skipped: the board
    goes on with the events (open for service)."""
    try:
        rows = await asyncio.to_thread(history.events_since, tenant, board.day_start(now))
    except Exception as exc:
        log.warning("wallboard_restore_calls_failed", tenant=tenant, error=str(exc) or type(exc).__name__)
        return
    for subject, payload in rows:
        try:
            _, events = decode(subject, payload)
        except ValueError as exc:
            log.warning("wallboard_stored_event_undecodable", tenant=tenant, subject=subject, error=str(exc))
            continue
        for event in events:
            board.apply(event)
