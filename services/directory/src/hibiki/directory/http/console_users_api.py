"""Console users, the tenant's identity policy and API tokens over the admin API (ADM-02/04).

- ``GET|POST /api/v1/tenants/{tenant}/console_users``, ``GET|PATCH|DELETE .../{id}``: console users
  (tenant ``*``: platform operators), each optionally linked to one directory (SIP) user of the
  tenant (``directory_user_id``: whose own page ``/me`` shows; the role ``self-service`` needs it). Creating and changing them needs ``console-users`` write
  (a tenant administrator); a role is given only by someone who holds every right it has, and
  ``platform-operator`` only in tenant ``*``. Disabling, deleting and a password set by an
  administrator end the user's sessions and API tokens on every service.
- ``GET|PUT /api/v1/tenants/{tenant}/identity_policy``: TOTP required, password length and history.
- ``GET|POST /api/v1/tenants/{tenant}/api_tokens``, ``DELETE .../{id}``: API tokens per user (the
  user's roles) and per integration (roles given), listed without their secret, revocable.
Every change is written to the audit trail with its before and after.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common import roles as role_rule
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.directory.errors import ConfigStoreError, Invalid
from hibiki.directory.http import identity_models as m
from hibiki.directory.http.admin import Forbidden, guarded
from hibiki.directory.http.auth_api import BadBody, address, body
from hibiki.directory.identity import passwords
from hibiki.directory.identity.login import Logins
from hibiki.directory.storage.audit import Entry
from hibiki.directory.storage.identity import Policy, public

Handler = Callable[[Request], Awaitable[Response]]


def _refusal(resource: str, write: bool) -> Callable[[Claims, str], str | None]:
    def check(claims: Claims, tenant: str) -> str | None:
        return claims.refusal(tenant, write, resource)
    return check


def may_grant(claims: Claims, tenant: str, roles: list[str]) -> str | None:
    """Why ``claims`` may not give ``roles`` in ``tenant`` (no one gives rights they lack)."""
    if role_rule.PLATFORM_OPERATOR in role_rule.expand(roles) and tenant != "*":
        return "platform-operator is a role of tenant '*' only"
    if role_rule.is_platform(claims):
        return None
    for role in role_rule.expand(roles):
        for resource, actions in role_rule.RULES.get(role, {}).items():
            for action in actions:
                if not role_rule.allows(claims.roles, resource, action):
                    return f"this token may not give the role {role!r}"
    return None


class ConsoleUsersApi:
    def __init__(self, logins: Logins, authority: TokenAuthority) -> None:
        self.logins, self.store, self.trail, self.authority = logins, logins.store, logins.trail, authority

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def _audit(self, request: Request, action: str, resource: str, resource_id: str, before: Any,
                     after: Any) -> None:
        claims: Claims = request.scope["hibiki.claims"]
        await self._run(self.trail.append, Entry(request.path_params["tenant"], claims.subject, action, resource,
                                                 resource_id, list(claims.roles), before, after, address(request)))

    async def _body(self, request: Request, model: type[BaseModel]) -> Any:
        try:
            return await body(request, model)
        except BadBody as exc:
            raise Invalid(f"invalid-{exc.field}", exc.message, exc.field) from None

    async def _check_password(self, tenant: str, login: str, password: str, user_id: str | None) -> str:
        policy = await self._run(self.store.policy, tenant)
        history = await self._run(self.store.password_history, user_id, policy.password_history) if user_id else []
        found = await self._run(passwords.problems, password, login, policy.password_min_length,
                                history[:policy.password_history])
        if found:
            raise Invalid("weak-password", "password: " + "; ".join(found), "password")
        return str(await self._run(passwords.hash_password, password))

    async def _check_link(self, tenant: str, roles: list[str], directory_user: str | None) -> None:
        """A link names a directory user of the same tenant; self-service needs one (its whole page)."""
        if directory_user and not await self._run(self.store.directory_user_exists, tenant, directory_user):
            raise Invalid("invalid-directory_user_id", "directory_user_id: no such user in this tenant",
                          "directory_user_id")
        if role_rule.SELF_SERVICE in roles and not directory_user:
            raise Invalid("invalid-directory_user_id",
                          "directory_user_id: the self-service role needs the directory user whose page it is",
                          "directory_user_id")

    def _grant(self, request: Request, roles: list[str], scope: list[str]) -> None:
        why = may_grant(request.scope["hibiki.claims"], request.path_params["tenant"], roles)
        if why is not None:
            raise Forbidden(why)
        problem = m.scope_problems(scope)
        if problem is not None:
            raise Invalid("invalid-scope", problem, "scope")

    # console users
    async def list_users(self, request: Request) -> Response:
        rows = await self._run(self.store.users, request.path_params["tenant"])
        return JSONResponse({"items": [public(r) for r in rows]})

    async def create_user(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        data = await self._body(request, m.ConsoleUserIn)
        self._grant(request, list(data.roles), data.scope)
        await self._check_link(tenant, list(data.roles), data.directory_user_id)
        login = data.login.lower()
        hashed = await self._check_password(tenant, login, data.password, None)
        row = await self._run(self.store.create, tenant, login, hashed, list(data.roles), data.scope, data.display_name,
                              data.directory_user_id)
        await self._audit(request, "console_user.create", "console_user", row["id"], None, public(row))
        return JSONResponse(public(row), status_code=201)

    async def get_user(self, request: Request) -> Response:
        p = request.path_params
        return JSONResponse(public(await self._run(self.store.get, p["tenant"], p["id"])))

    async def patch_user(self, request: Request) -> Response:
        p = request.path_params
        data = await self._body(request, m.ConsoleUserPatch)
        current = await self._run(self.store.get, p["tenant"], p["id"])
        values: dict[str, Any] = {}
        if data.roles is not None or data.scope is not None:
            self._grant(request, list(data.roles or current["roles"]), list(data.scope or []))
            why = may_grant(request.scope["hibiki.claims"], p["tenant"], list(current["roles"]))
            if why is not None:
                raise Forbidden(why)
        for name in ("display_name", "roles", "scope", "enabled"):
            value = getattr(data, name)
            if value is not None:
                values[name] = list(value) if isinstance(value, list) else value
        link = current.get("directory_user_id")
        relinked = "directory_user_id" in data.model_fields_set       # null or "": no directory user
        if relinked:
            link = values["directory_user_id"] = data.directory_user_id or None
        if data.roles is not None or relinked:
            await self._check_link(p["tenant"], list(data.roles or current["roles"]), link)
        if data.reset_totp:
            values.update(totp_secret=None, totp_pending=None)
        if data.password is not None:
            values["password_hash"] = await self._check_password(p["tenant"], current["login"], data.password,
                                                                 current["id"])
        before, after = await self._run(self.store.patch, p["tenant"], p["id"], values) if values else (current, current)
        if data.password is not None:
            await self._run(self.store.set_password, current["id"], values["password_hash"])
        if data.enabled is False or data.password is not None or data.roles is not None or data.scope is not None \
                or data.reset_totp or before.get("directory_user_id") != after.get("directory_user_id"):
            await self.logins.revoke_user(after, "changed-by-admin")
        await self._audit(request, "console_user.change", "console_user", p["id"], public(before), public(after))
        return JSONResponse(public(after))

    async def delete_user(self, request: Request) -> Response:
        p = request.path_params
        current = await self._run(self.store.get, p["tenant"], p["id"])
        why = may_grant(request.scope["hibiki.claims"], p["tenant"], list(current["roles"]))
        if why is not None:
            raise Forbidden(why)
        await self.logins.revoke_user(current, "deleted")
        before = await self._run(self.store.remove, p["tenant"], p["id"])
        await self._audit(request, "console_user.delete", "console_user", p["id"], public(before), None)
        return Response(status_code=204)

    # policy
    async def get_policy(self, request: Request) -> Response:
        return JSONResponse((await self._run(self.store.policy, request.path_params["tenant"])).to_json())

    async def put_policy(self, request: Request) -> Response:
        data = await self._body(request, m.PolicyIn)
        policy = Policy(data.mfa_required, data.password_min_length, data.password_history)
        before, after = await self._run(self.store.set_policy, request.path_params["tenant"], policy)
        await self._audit(request, "identity_policy.change", "identity_policy", "", before.to_json(), after.to_json())
        return JSONResponse(after.to_json())

    # API tokens
    @staticmethod
    def _token_out(row: dict[str, Any]) -> dict[str, Any]:
        return {k: row[k] for k in ("id", "tenant_id", "name", "kind", "subject", "roles", "user_id", "created_by",
                                    "created_at", "expires_at", "revoked_at")}

    async def list_tokens(self, request: Request) -> Response:
        rows = await self._run(self.store.tokens, request.path_params["tenant"])
        return JSONResponse({"items": [self._token_out(r) for r in rows]})

    async def create_token(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        claims: Claims = request.scope["hibiki.claims"]
        data = await self._body(request, m.ApiTokenIn)
        if data.kind == "user":
            if not data.user_id:
                raise Invalid("invalid-user_id", "a user token names its console user", "user_id")
            user = await self._run(self.store.get, tenant, data.user_id)
            subject, roles, scope = str(user["login"]), list(user["roles"]), list(user["scope"])
            linked = str(user.get("directory_user_id") or "")
        else:
            if not data.roles:
                raise Invalid("invalid-roles", "an integration token names its roles", "roles")
            if role_rule.SELF_SERVICE in data.roles:
                raise Invalid("invalid-roles", "self-service is a console user's role (their own page)", "roles")
            subject, roles, scope, linked = f"integration:{data.name}", list(data.roles), [], ""
        why = may_grant(claims, tenant, roles)
        if why is not None:
            raise Forbidden(why)
        now = time.time()
        row = {"id": str(uuid.uuid4()), "tenant_id": tenant, "user_id": data.user_id if data.kind == "user" else None,
               "name": data.name, "kind": data.kind, "subject": subject, "roles": roles, "scope": scope,
               "created_by": claims.subject, "created_at": now, "expires_at": now + data.days * 86400,
               "revoked_at": None}
        await self._run(self.store.add_token, row)
        token = self.authority.issue(Claims(subject, "user", tenant, tuple(roles), token_id=row["id"],
                                            scope=tuple(scope), directory_user=linked, issued_at=now),
                                     expires_at=row["expires_at"])
        await self._audit(request, "api_token.create", "api_token", row["id"], None, self._token_out(row))
        return JSONResponse({**self._token_out(row), "token": token}, status_code=201)

    async def revoke_token(self, request: Request) -> Response:
        p = request.path_params
        row = await self._run(self.store.revoke_token, p["tenant"], p["id"], time.time())
        await self.logins._revoke(f"t.{row['id']}", float(row["expires_at"]), None)
        await self._audit(request, "api_token.revoke", "api_token", row["id"], self._token_out(row), None)
        return Response(status_code=204)

    def routes(self) -> list[ApiRoute]:
        users, tokens = "/api/v1/tenants/{tenant}/console_users", "/api/v1/tenants/{tenant}/api_tokens"
        policy = "/api/v1/tenants/{tenant}/identity_policy"
        read = errors(400, 403, 404, 503)
        write = errors(400, 403, 404, 409, 413, 422, 503)
        cu = role_rule.CONSOLE_USERS

        def g(write_: bool, work: Handler) -> Handler:
            return guarded(write_, work, refusal=_refusal(cu, write_))

        t = ["console users"]
        return [
            ApiRoute(users, g(False, self.list_users), "GET", Operation(
                "List console users", response=m.ConsoleUsers, errors=read, tags=t)),
            ApiRoute(users, g(True, self.create_user), "POST", Operation(
                "Create a console user", 201, m.ConsoleUserOut, body=m.ConsoleUserIn, errors=write, tags=t)),
            ApiRoute(users + "/{id}", g(False, self.get_user), "GET", Operation(
                "Read a console user", response=m.ConsoleUserOut, errors=read, tags=t)),
            ApiRoute(users + "/{id}", g(True, self.patch_user), "PATCH", Operation(
                "Change a console user (roles, scope, enabled, password, reset TOTP)", response=m.ConsoleUserOut,
                body=m.ConsoleUserPatch, errors=write, tags=t)),
            ApiRoute(users + "/{id}", g(True, self.delete_user), "DELETE", Operation(
                "Delete a console user (its sessions and tokens end)", 204, errors=read, tags=t)),
            ApiRoute(policy, g(False, self.get_policy), "GET", Operation(
                "The tenant's identity policy", response=m.PolicyOut, errors=read, tags=t)),
            ApiRoute(policy, g(True, self.put_policy), "PUT", Operation(
                "Set the tenant's identity policy (TOTP required, password rules)", response=m.PolicyOut,
                body=m.PolicyIn, errors=write, tags=t)),
            ApiRoute(tokens, g(False, self.list_tokens), "GET", Operation(
                "List API tokens (without their secret)", response=m.ApiTokens, errors=read, tags=t)),
            ApiRoute(tokens, g(True, self.create_token), "POST", Operation(
                "Create an API token for a console user or an integration (the token is shown once)", 201,
                m.ApiTokenCreated, body=m.ApiTokenIn, errors=write, tags=t)),
            ApiRoute(tokens + "/{id}", g(True, self.revoke_token), "DELETE", Operation(
                "Revoke an API token on every service", 204, errors=read, tags=t)),
        ]


__all__ = ["ConsoleUsersApi", "ConfigStoreError"]
