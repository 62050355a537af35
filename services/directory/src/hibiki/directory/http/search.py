"""``GET /api/v1/tenants/{tenant}/phonebook/search?q=``: the organisation and the shared
phonebook in one list, for the desk phone, the softphone and the web console."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common.openapi import ApiRoute, Operation
from hibiki.directory.errors import ConfigStoreError
from hibiki.directory.http.admin import READ, AdminApi
from hibiki.directory.http.models import SearchQuery, SearchResult
from hibiki.directory.phonebook import search
from hibiki.directory.storage.tables import contacts, users
from hibiki.common.digits import ascii_digits


def search_route(admin: AdminApi) -> ApiRoute:
    def load(tenant: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        admin.repo.get_tenant(tenant)  # 404 for an unknown tenant
        with admin.repo.engine.connect() as conn:
            people = [dict(r) for r in conn.execute(select(users).where(users.c.tenant_id == tenant)).mappings()]
            book = [dict(r) for r in conn.execute(select(contacts).where(contacts.c.tenant_id == tenant)).mappings()]
        return people, book

    async def handler(request: Request) -> Response:
        query = request.query_params.get("q", "")
        limit = request.query_params.get("limit", "50")
        if not ascii_digits(limit) or not 1 <= int(limit) <= 200:
            raise ConfigStoreError("invalid-paging", "limit must be a whole number from 1 to 200")
        people, book = await asyncio.to_thread(load, request.path_params["tenant"])
        hits = search(query, people, book, limit=int(limit))
        return JSONResponse({"query": query, "items": [dataclasses.asdict(h) for h in hits]})

    return ApiRoute("/api/v1/tenants/{tenant}/phonebook/search", admin.endpoint(False, handler), "GET", Operation(
        "Search the organisation's users and the shared phonebook in one list", response=SearchResult,
        query=SearchQuery, errors=READ, tags=["phonebook"]))
