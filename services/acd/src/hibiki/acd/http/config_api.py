"""Queue and agent configuration over HTTP (CC-01), stored in the ``hibiki_acd_config`` bucket.

    GET          /api/v1/tenants/{tenant}/queues                 {"items": [queue, ...]}
    GET|PUT|DELETE /api/v1/tenants/{tenant}/queues/{queue_id}    PUT body: the codec's queue dict
    GET          /api/v1/tenants/{tenant}/queues/{queue_id}/stats   queue_stats (from the owner)
    GET          /api/v1/tenants/{tenant}/agents
    GET|PUT|DELETE /api/v1/tenants/{tenant}/agents/{agent_id}    PUT body: {"skills", "queues"}

Any replica writes the bucket; a write is answered once the owner has applied it (its watch),
so the next request sees it. Deleting a queue or an agent goes to the owner first: the domain
refuses a queue with calls or one another queue overflows to, and a logged-in agent (409).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hibiki.acd.domain import UnknownAgent, UnknownQueue
from hibiki.acd.domain.codec import queue_from_dict, queue_to_dict
from hibiki.acd.http.common import BadRequest, authorization, guard, parsed
from hibiki.acd.http.schemas import AgentIn, QueueIn
from hibiki.acd.runtime.buckets import config_key
from hibiki.acd.runtime.configure import agent_from_dict, agent_to_dict
from hibiki.acd.runtime.replica import NotOwner, Replica
from hibiki.acd.runtime.router import Router
from hibiki.common.logging import get_logger

log = get_logger("hibiki.acd.http.config")


class ConfigApi:
    def __init__(self, replica: Replica, router: Router) -> None:
        self._replica, self._router = replica, router
        self._kv = replica.buckets.config

    # -- reading --------------------------------------------------------------------------------

    def _items(self, request: Request, kind: str) -> dict[str, dict[str, Any]]:
        return self._replica.config.of(request.path_params["tenant"]).items(kind)

    def _one(self, request: Request, kind: str) -> dict[str, Any]:
        item_id = request.path_params[f"{kind}_id"]
        item = self._items(request, kind).get(item_id)
        if item is None:
            raise BadRequest(f"unknown-{kind}", f"no {kind} {item_id}", status=404)
        return item

    async def list_queues(self, request: Request) -> Response:
        items = self._items(request, "queue")
        return JSONResponse({"items": [items[k] for k in sorted(items)]})

    async def get_queue(self, request: Request) -> Response:
        return JSONResponse(self._one(request, "queue"))

    async def list_agents(self, request: Request) -> Response:
        items = self._items(request, "agent")
        return JSONResponse({"items": [items[k] for k in sorted(items)]})

    async def get_agent(self, request: Request) -> Response:
        return JSONResponse(self._one(request, "agent"))

    async def stats(self, request: Request) -> Response:
        p = request.path_params
        return JSONResponse(await self._router.run(p["tenant"], "queue_stats", {"queue_id": p["queue_id"]},
                                                   authorization(request)))

    # -- writing --------------------------------------------------------------------------------

    def _check_id(self, data: dict[str, Any], item_id: str) -> None:
        if data.get("id", item_id) != item_id:
            raise BadRequest("id-mismatch", f"the body's id {data['id']!r} is not the path's {item_id!r}", field="id")

    async def put_queue(self, request: Request) -> Response:
        tenant, queue_id = request.path_params["tenant"], request.path_params["queue_id"]
        _, data = await parsed(request, QueueIn)   # types, ranges, sizes; the domain checks the rest
        self._check_id(data, queue_id)
        config = queue_from_dict({**data, "id": queue_id})
        queues = self._items(request, "queue")
        if config.overflow is not None:
            target = config.overflow.queue_id
            if target not in queues:
                raise BadRequest("unknown-queue", f"queue {queue_id}: overflow queue {target} is not configured",
                                 field="overflow")
            seen: set[str] = {queue_id}
            hop: str | None = target
            while hop is not None and hop in queues:
                if hop in seen:
                    raise BadRequest("overflow-cycle", f"queue {queue_id}: overflow to {target} makes a cycle",
                                     field="overflow")
                seen.add(hop)
                overflow = queues[hop].get("overflow")
                hop = str(overflow["queue_id"]) if isinstance(overflow, dict) and overflow.get("queue_id") else None
        stored = queue_to_dict(config)
        created = queue_id not in queues
        await self._write(request, config_key(tenant, "queue", queue_id), stored)
        return JSONResponse(stored, status_code=201 if created else 200)

    async def put_agent(self, request: Request) -> Response:
        tenant, agent_id = request.path_params["tenant"], request.path_params["agent_id"]
        _, data = await parsed(request, AgentIn)
        self._check_id(data, agent_id)
        stored = agent_to_dict(agent_from_dict(agent_id, data))
        created = agent_id not in self._items(request, "agent")
        await self._write(request, config_key(tenant, "agent", agent_id), stored)
        return JSONResponse(stored, status_code=201 if created else 200)

    async def _write(self, request: Request, key: str, value: dict[str, Any]) -> None:
        revision = await self._kv.put(key, json.dumps(value).encode())
        await self._applied(request, revision)

    async def _applied(self, request: Request, revision: int) -> None:
        """Wait until this replica sees the write and the owner has applied it."""
        tenant = request.path_params["tenant"]
        await self._replica.config_watch.wait_seen(revision, 10.0)
        try:
            await self._router.run(tenant, "sync", {"revision": revision}, authorization(request))
        except NotOwner as exc:   # stored: the tenant's next owner applies it
            log.warning("configuration_not_applied_yet", tenant=tenant, reason=str(exc))

    async def delete_queue(self, request: Request) -> Response:
        return await self._delete(request, "queue", UnknownQueue)

    async def delete_agent(self, request: Request) -> Response:
        return await self._delete(request, "agent", UnknownAgent)

    async def _delete(self, request: Request, kind: str, unknown: type[Exception]) -> Response:
        tenant, item_id = request.path_params["tenant"], request.path_params[f"{kind}_id"]
        self._one(request, kind)
        if kind == "queue":
            users = [q for q, data in self._items(request, "queue").items()
                     if isinstance(data.get("overflow"), dict) and data["overflow"].get("queue_id") == item_id]
            if users:
                raise BadRequest("queue-in-use", f"queue {', '.join(sorted(users))} overflows to {item_id}",
                                 status=409)
        try:
            await self._router.run(tenant, f"remove_{kind}", {f"{kind}_id": item_id}, authorization(request))
        except (UnknownQueue, UnknownAgent) as exc:
            if not isinstance(exc, unknown):   # configured, but the machine never took it: only the entry goes
                raise
        await self._kv.delete(config_key(tenant, kind, item_id))
        status = await self._kv.status()
        await self._applied(request, int(status.stream_info.state.last_seq))
        return Response(status_code=204)

    def routes(self) -> list[Route]:
        base = "/api/v1/tenants/{tenant}"
        return [
            Route(f"{base}/queues", guard(False, self.list_queues), methods=["GET"]),
            Route(f"{base}/queues/{{queue_id}}", guard(False, self.get_queue), methods=["GET"]),
            Route(f"{base}/queues/{{queue_id}}", guard(True, self.put_queue), methods=["PUT"]),
            Route(f"{base}/queues/{{queue_id}}", guard(True, self.delete_queue), methods=["DELETE"]),
            Route(f"{base}/queues/{{queue_id}}/stats", guard(False, self.stats), methods=["GET"]),
            Route(f"{base}/agents", guard(False, self.list_agents), methods=["GET"]),
            Route(f"{base}/agents/{{agent_id}}", guard(False, self.get_agent), methods=["GET"]),
            Route(f"{base}/agents/{{agent_id}}", guard(True, self.put_agent), methods=["PUT"]),
            Route(f"{base}/agents/{{agent_id}}", guard(True, self.delete_agent), methods=["DELETE"]),
        ]
