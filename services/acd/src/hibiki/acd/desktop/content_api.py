"""The desktop's content over HTTP: talk scripts per queue, the FAQ, and the screen pop's extras.

    GET|PUT|DELETE /api/v1/tenants/{tenant}/queues/{queue_id}/script         role rule ``acd``
    GET|POST       /api/v1/tenants/{tenant}/faq                              role rule ``acd``
    GET|PUT|DELETE /api/v1/tenants/{tenant}/faq/{article_id}                 role rule ``acd``
    GET|PUT|DELETE /api/v1/tenants/{tenant}/desk_settings                    role rule ``acd``
    GET /api/v1/tenants/{tenant}/agents/{agent_id}/faq?q=                     the agent (or ``acd`` read)
    GET /api/v1/tenants/{tenant}/agents/{agent_id}/desk_settings              the agent (or ``acd`` read)
    GET /api/v1/tenants/{tenant}/agents/{agent_id}/pop?queue_id=              the agent (or ``acd`` read)
    GET /api/v1/tenants/{tenant}/agents/{agent_id}/phonebook?q=               the agent (or ``acd`` read)

``pop`` answers for the agent's own call only: the caller number is the ACD's (the call offered to,
talking with or in wrap-up of the agent), never the request's (a ``number`` parameter is ignored),
so an agent cannot read another number's contacts or call history; with no such call it looks
nothing up. The script is the call's queue's, or ``queue_id``'s when the agent is a member of it.
It answers the queue's script and the phonebook contacts whose number matches the caller's,
asked of the directory's HTTP API (``/phonebook/search``) with the ACD's service token within
``HIBIKI_ACD_DESKTOP_PEER_TIMEOUT``: a slow or dead directory leaves ``contacts`` empty with
``contacts_error`` set; likewise the caller's previous calls from analytics' ``/calls/history?number=``
(``HIBIKI_ACD_ANALYTICS_HTTP``) in ``calls`` / ``calls_error``. The offer itself never waits for it (the page asks once the offer came).
"""

from __future__ import annotations

import asyncio
import secrets
import time
import unicodedata
from collections.abc import Awaitable
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.acd.desktop.content import DeskContent
from hibiki.acd.desktop.textsearch import Article, search
from hibiki.acd.http.common import READ, WRITE, BadRequest, authorization, guard, operation, parsed
from hibiki.acd.runtime.buckets import valid_id
from hibiki.acd.runtime.router import Router
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.logging import get_logger

from hibiki.common.openapi import ApiRoute

log = get_logger("hibiki.acd.desktop")
TOKEN_TTL_SECONDS = 3600


class ScriptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field("", max_length=200)
    text: str = Field(min_length=1, max_length=20000, description="the talk script (plain text, shown as written)")


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, pattern="^[A-Za-z0-9_-]{1,64}$", description="given or made up on create")
    title: str = Field(min_length=1, max_length=300)
    body: str = Field("", max_length=20000)
    tags: list[str] = Field(default_factory=list, max_length=20)


MAX_CHOICES = 20
LABEL_MAX = 40


def _label(value: str) -> str:
    """A label as shown in a menu: trimmed, one line, no control, format or unassigned characters."""
    value = value.strip()
    bad = next((c for c in value if unicodedata.category(c)[0] in ("C", "Z") and c != " "), None)
    if bad is not None:
        raise ValueError(f"a label may not hold the character U+{ord(bad):04X}")
    return value


class ChoiceIn(BaseModel):
    """One entry of a menu: its id (what is stored with the call or the state) and its labels."""
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern="^[A-Za-z0-9_-]{1,32}$", description="1-32 letters, digits, '-' or '_'")
    label: str = Field(min_length=1, max_length=LABEL_MAX, description="shown in Japanese")
    label_en: str = Field("", max_length=LABEL_MAX, description="shown in English (the Japanese label when empty)")

    _clean = field_validator("label", "label_en")(_label)

    @model_validator(mode="after")
    def _named(self) -> "ChoiceIn":
        if not self.label:
            raise ValueError("label: a label is required")
        return self


def _unique(choices: list[ChoiceIn]) -> list[ChoiceIn]:
    for key in ("id", "label"):
        seen: set[str] = set()
        for c in choices:
            if getattr(c, key) in seen:
                raise ValueError(f"the {key} {getattr(c, key)!r} appears twice")
            seen.add(getattr(c, key))
    return choices


class DeskSettingsIn(BaseModel):
    """The tenant's menus on the desktop: case types of the disposition form, reasons for not
    ready and for a break (1-20 each, ids and labels unique within a list)."""
    model_config = ConfigDict(extra="forbid")
    case_types: list[ChoiceIn] = Field(min_length=1, max_length=MAX_CHOICES)
    not_ready_reasons: list[ChoiceIn] = Field(min_length=1, max_length=MAX_CHOICES)
    break_reasons: list[ChoiceIn] = Field(min_length=1, max_length=MAX_CHOICES)

    _distinct = field_validator("case_types", "not_ready_reasons", "break_reasons")(_unique)


class FaqQuery(BaseModel):
    q: str = Field(max_length=200, description="words in any script or width (folded: NFKC, kana, case)")


class PhonebookQuery(BaseModel):
    q: str = Field(min_length=1, max_length=100, description="a name, reading or number (the directory's search)")


class PopQuery(BaseModel):
    queue_id: str = Field("", max_length=64, pattern="^[A-Za-z0-9_-]*$",
                          description="the queue whose script to show with no call (the agent must be a member)")


class DirectoryContacts:
    """The phonebook entries of a number, from the directory's HTTP API, bounded by ``timeout``."""

    def __init__(self, base_url: str, authority: TokenAuthority, timeout: float) -> None:
        self.base_url, self._authority, self.timeout = base_url.rstrip("/"), authority, timeout
        self._token, self._expires = "", 0.0

    def bearer(self) -> str:
        if time.time() >= self._expires - 300:
            self._token = self._authority.issue(Claims("acd", "service"), TOKEN_TTL_SECONDS)
            self._expires = time.time() + TOKEN_TTL_SECONDS
        return self._token

    async def of_number(self, tenant: str, number: str, limit: int = 5) -> list[dict[str, Any]]:
        """The directory's phonebook search for ``number`` (or any words). Raises ``httpx.HTTPError``
        (a timeout among them) or ``ValueError`` when it cannot answer."""
        if not self.base_url:
            raise ValueError("no directory HTTP URL is configured (HIBIKI_ACD_DIRECTORY_HTTP)")
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout) as client:
            reply = await client.get(f"/api/v1/tenants/{tenant}/phonebook/search",
                                     params={"q": number, "limit": str(limit)},
                                     headers={"authorization": f"Bearer {self.bearer()}"})
        reply.raise_for_status()
        items = reply.json().get("items", [])
        return [{k: item.get(k) for k in ("kind", "id", "name", "name_kana", "organization", "numbers")}
                for item in items if isinstance(item, dict)][:limit]


class CallHistory:
    """The caller's previous calls, from analytics' ``/calls/history?number=`` (last 30 days), bounded by ``timeout``."""

    def __init__(self, base_url: str, bearer: DirectoryContacts) -> None:
        self.base_url, self._bearer = base_url.rstrip("/"), bearer

    async def of_number(self, tenant: str, number: str) -> list[dict[str, Any]]:
        if not self.base_url:
            raise ValueError("no analytics HTTP URL is configured (HIBIKI_ACD_ANALYTICS_HTTP)")
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self._bearer.timeout) as client:
            reply = await client.get(f"/api/v1/tenants/{tenant}/calls/history", params={"number": number, "limit": "10"},
                                     headers={"authorization": f"Bearer {self._bearer.bearer()}"})
        reply.raise_for_status()
        calls = reply.json().get("calls", [])
        return [{k: c.get(k) for k in ("call_id", "kind", "start_time", "talk_seconds", "other_number", "user_id")}
                for c in calls if isinstance(c, dict)][:10]


async def _asked(peer: str, event: str, tenant: str,
                 asking: Awaitable[list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], str]:
    """What a peer answered, or nothing and why (logged): the pop goes out without that part."""
    try:
        return await asking, ""
    except (httpx.HTTPError, ValueError) as exc:
        log.warning(event, tenant=tenant, reason=str(exc)[:200])
        return [], f"{peer} did not answer: {type(exc).__name__}"


def _check(name: str, value: str) -> None:
    if not valid_id(value):
        raise BadRequest("invalid-id", f"{name} must be 1-64 letters, digits, '-' or '_'", field=name)


def _query(model: type[BaseModel], request: Request) -> Any:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "query"
        raise BadRequest(f"invalid-{field.replace('_', '-')}", f"{field}: {first['msg']}", field=field) from None


class ContentApi:
    def __init__(self, content: DeskContent, contacts: DirectoryContacts, history: CallHistory,
                 router: Router) -> None:
        self._content, self._contacts, self._history, self._router = content, contacts, history, router

    async def get_script(self, request: Request) -> Response:
        p = request.path_params
        script = await self._content.script(p["tenant"], p["queue_id"])
        if script is None:
            raise BadRequest("unknown-script", f"queue {p['queue_id']} has no talk script", status=404)
        return JSONResponse(script)

    async def put_script(self, request: Request) -> Response:
        p = request.path_params
        body, _ = await parsed(request, ScriptIn)
        saved = await self._content.put_script(p["tenant"], p["queue_id"], body.title, body.text)
        log.info("talk_script_saved", tenant=p["tenant"], queue_id=p["queue_id"])
        return JSONResponse(saved)

    async def delete_script(self, request: Request) -> Response:
        p = request.path_params
        if not await self._content.delete_script(p["tenant"], p["queue_id"]):
            raise BadRequest("unknown-script", f"queue {p['queue_id']} has no talk script", status=404)
        return Response(status_code=204)

    async def list_faq(self, request: Request) -> Response:
        return JSONResponse({"items": await self._content.articles(request.path_params["tenant"])})

    async def create_faq(self, request: Request) -> Response:
        body, _ = await parsed(request, ArticleIn)
        tenant = request.path_params["tenant"]
        article_id = body.id or secrets.token_hex(8)
        if await self._content.article(tenant, article_id) is not None:
            raise BadRequest("article-exists", f"article {article_id} exists", status=409, field="id")
        saved = await self._content.put_article(tenant, article_id, body.title, body.body, body.tags)
        return JSONResponse(saved, status_code=201)

    async def get_faq(self, request: Request) -> Response:
        p = request.path_params
        _check("article_id", p["article_id"])
        article = await self._content.article(p["tenant"], p["article_id"])
        if article is None:
            raise BadRequest("unknown-article", f"no article {p['article_id']}", status=404)
        return JSONResponse(article)

    async def put_faq(self, request: Request) -> Response:
        p = request.path_params
        _check("article_id", p["article_id"])
        body, _ = await parsed(request, ArticleIn)
        if body.id not in (None, p["article_id"]):
            raise BadRequest("invalid-id", "the body's id differs from the path's", field="id")
        saved = await self._content.put_article(p["tenant"], p["article_id"], body.title, body.body, body.tags)
        return JSONResponse(saved)

    async def delete_faq(self, request: Request) -> Response:
        p = request.path_params
        _check("article_id", p["article_id"])
        if not await self._content.delete_article(p["tenant"], p["article_id"]):
            raise BadRequest("unknown-article", f"no article {p['article_id']}", status=404)
        return Response(status_code=204)

    async def get_settings(self, request: Request) -> Response:
        return JSONResponse(await self._content.settings(request.path_params["tenant"]))

    async def put_settings(self, request: Request) -> Response:
        body, _ = await parsed(request, DeskSettingsIn)
        tenant = request.path_params["tenant"]
        saved = await self._content.put_settings(tenant, body.model_dump())
        log.info("desk_settings_saved", tenant=tenant, case_types=len(body.case_types),
                 not_ready_reasons=len(body.not_ready_reasons), break_reasons=len(body.break_reasons))
        return JSONResponse(saved)

    async def delete_settings(self, request: Request) -> Response:
        await self._content.delete_settings(request.path_params["tenant"])
        return Response(status_code=204)

    async def search_faq(self, request: Request) -> Response:
        query: FaqQuery = _query(FaqQuery, request)
        rows = await self._content.articles(request.path_params["tenant"])
        by_id = {r["id"]: r for r in rows}
        hits = search(query.q, [Article(r["id"], r["title"], r.get("body", ""), tuple(r.get("tags", []))) for r in rows])
        return JSONResponse({"query": query.q, "items": [{**by_id[h.article.id], "score": round(h.score, 3)}
                                                         for h in hits]})

    async def pop(self, request: Request) -> Response:
        query: PopQuery = _query(PopQuery, request)
        tenant, agent_id = request.path_params["tenant"], request.path_params["agent_id"]
        if "number" in request.query_params:
            log.info("pop_number_ignored", tenant=tenant, agent_id=agent_id)
        agent = await self._router.run(tenant, "agent", {"agent_id": agent_id}, authorization(request))
        number = str(agent.get("caller_number") or "")[:32]
        member_of = set(agent.get("queues") or ()) | set(agent.get("serving") or ())
        queue_id = str(agent.get("call_queue_id") or "") or (query.queue_id if query.queue_id in member_of else "")
        script = await self._content.script(tenant, queue_id) if queue_id else None
        contacts: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        error = calls_error = ""
        digits = "".join(c for c in number if c.isdigit() or c == "+")
        if any(c.isdigit() for c in digits):
            (contacts, error), (calls, calls_error) = await asyncio.gather(
                _asked("the directory", "pop_contacts_unavailable", tenant, self._contacts.of_number(tenant, digits)),
                _asked("analytics", "pop_history_unavailable", tenant, self._history.of_number(tenant, digits)))
        return JSONResponse({"number": number, "call_id": agent.get("call_id") or agent.get("pending_disposition") or "",
                             "queue_id": queue_id, "script": script,
                             "contacts": contacts, "contacts_error": error, "calls": calls, "calls_error": calls_error})

    async def phonebook(self, request: Request) -> Response:
        query: PhonebookQuery = _query(PhonebookQuery, request)
        tenant = request.path_params["tenant"]
        try:
            items = await self._contacts.of_number(tenant, query.q, limit=20)
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("phonebook_unavailable", tenant=tenant, reason=str(exc)[:200])
            raise BadRequest("directory-unavailable", f"the directory did not answer: {type(exc).__name__}",
                             status=503) from None
        return JSONResponse({"query": query.q, "items": items})

    def routes(self) -> list[ApiRoute]:
        t, tags = "/api/v1/tenants/{tenant}", ["agent desktop"]
        script, faq = f"{t}/queues/{{queue_id}}/script", f"{t}/faq"
        agent = f"{t}/agents/{{agent_id}}"
        settings = f"{t}/desk_settings"
        return [
            ApiRoute(settings, guard(False, self.get_settings), "GET", operation(
                "The desktop's case types and reasons (the defaults, stored: false, when never set)", errors=READ, tags=tags)),
            ApiRoute(settings, guard(True, self.put_settings), "PUT", operation(
                "Set the desktop's case types, not-ready and break reasons", body=DeskSettingsIn, errors=WRITE, tags=tags)),
            ApiRoute(settings, guard(True, self.delete_settings), "DELETE", operation(
                "Back to the default case types and reasons", ok=204, errors=WRITE, tags=tags)),
            ApiRoute(f"{agent}/desk_settings", guard(False, self.get_settings, agent_self=True), "GET", operation(
                "The case types and reasons the agent's desktop offers", errors=READ, tags=tags)),
            ApiRoute(script, guard(False, self.get_script), "GET", operation("A queue's talk script", errors=READ, tags=tags)),
            ApiRoute(script, guard(True, self.put_script), "PUT", operation(
                "Set a queue's talk script (shown in the desktop's screen pop)", body=ScriptIn, errors=WRITE, tags=tags)),
            ApiRoute(script, guard(True, self.delete_script), "DELETE", operation(
                "Remove a queue's talk script", ok=204, errors=WRITE, tags=tags)),
            ApiRoute(faq, guard(False, self.list_faq), "GET", operation("The tenant's FAQ articles", errors=READ, tags=tags)),
            ApiRoute(faq, guard(True, self.create_faq), "POST", operation(
                "Add an FAQ article", ok=201, body=ArticleIn, errors=WRITE, tags=tags)),
            ApiRoute(f"{faq}/{{article_id}}", guard(False, self.get_faq), "GET", operation(
                "An FAQ article", errors=READ, tags=tags)),
            ApiRoute(f"{faq}/{{article_id}}", guard(True, self.put_faq), "PUT", operation(
                "Replace (or create) an FAQ article", body=ArticleIn, errors=WRITE, tags=tags)),
            ApiRoute(f"{faq}/{{article_id}}", guard(True, self.delete_faq), "DELETE", operation(
                "Remove an FAQ article", ok=204, errors=WRITE, tags=tags)),
            ApiRoute(f"{agent}/faq", guard(False, self.search_faq, agent_self=True), "GET", operation(
                "Search the FAQ (Japanese: width, kana and case folded, bigram matching)", query=FaqQuery,
                errors=READ, tags=tags)),
            ApiRoute(f"{agent}/phonebook", guard(False, self.phonebook, agent_self=True), "GET", operation(
                "The phonebook (the directory's search) for the desktop's dialling", query=PhonebookQuery,
                errors=READ, tags=tags)),
            ApiRoute(f"{agent}/pop", guard(False, self.pop, agent_self=True), "GET", operation(
                "The screen pop's extras for the agent's own call (offered, talking or in wrap-up): the queue's "
                "talk script, the caller's phonebook contacts and previous calls; nothing looked up with no call",
                query=PopQuery, errors=READ, tags=tags)),
        ]
