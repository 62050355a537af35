"""The admin API's own answers and query parameters (pydantic models, described in the OpenAPI
document); the resources' request and response models are in :mod:`hibiki.directory.schemas`."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from hibiki.directory.schemas import TenantOut

Item = TypeVar("Item", bound=BaseModel)


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    limit: int
    offset: int


class Tenants(BaseModel):
    items: list[TenantOut]


class Paging(BaseModel):
    limit: int = Field(default=100, description="clamped to 1..1000; a non-number is invalid-paging (400)")
    offset: int = Field(default=0, description="negative counts as 0")


class SearchQuery(BaseModel):
    q: str = Field(default="", description="any part of a name, kana reading, organisation, tag or number; "
                                           "width, case and hiragana/katakana do not matter")
    limit: int = Field(default=50, ge=1, le=200)


class Hit(BaseModel):
    kind: Literal["user", "contact"]
    id: str
    name: str
    name_kana: str
    organization: str
    numbers: list[str]


class SearchResult(BaseModel):
    query: str
    items: list[Hit]


class PathsQuery(BaseModel):
    from_: str | None = Field(default=None, alias="from",
                              description="ISO 8601 moment with a UTC offset to start from (default now)")


class IvrPath(BaseModel):
    keys: list[str]
    at: str = Field(description="a moment at which these keys lead to this end")
    menus: list[str]
    end: str = Field(description='"extension:1001", "queue:water", "message", "hangup", ...')
    schedule_branches: dict[str, str]


class IvrPaths(BaseModel):
    ivr: str
    from_: str = Field(alias="from")
    paths: list[IvrPath]


class CsvQuery(BaseModel):
    encoding: Literal["utf-8", "shift_jis"] = "utf-8"


class ImportQuery(BaseModel):
    dry_run: bool = False
    encoding: Literal["utf-8", "shift_jis"] | None = Field(
        default=None, description="settles a short file valid in both; detected when absent")


class RowProblem(BaseModel):
    line: int
    field: str | None = None
    error_id: str
    message: str


class ImportResult(BaseModel):
    dry_run: bool
    rows: int
    applied: bool
    errors: list[RowProblem]


class Info(BaseModel):
    service: str
    tenants: int
    caller: str



class BlockOut(BaseModel):
    address: str
    username: str | None = Field(description="user@domain; null: the address-wide block")
    address_wide: bool
    until: str
    seconds_left: int
    failures: int
    last_user: str | None
    last_domain: str | None
    tenant: str | None = Field(default=None, description="in the platform's list only")


class Blocks(BaseModel):
    items: list[BlockOut]


class BlockQuery(BaseModel):
    address: str = Field(description="the blocked client address (required: 400 invalid-address without it)")
    username: str = Field(default="", description="user@<the tenant's domain>; empty: the address-wide block")


FsapiForm = dict[str, Any]
