"""Console login over HTTP (ADM-04).

Open (no token): ``POST /api/v1/auth/login`` ``{tenant, login, password}`` -> a session, or
``{"status": "totp_required" | "totp_enrolment_required", "ticket"}``; ``POST /api/v1/auth/totp``
``{ticket, code}`` and ``POST /api/v1/auth/recovery`` ``{ticket, code}`` -> a session.
A session is answered 200 with the user, and two cookies: ``hibiki_session`` (the token;
HttpOnly, SameSite=Strict, Path=/, Secure over TLS) and ``hibiki_csrf`` (readable by the page,
sent back as ``X-Hibiki-CSRF`` on unsafe requests).
With a session or a token: ``GET /api/v1/auth/me``, ``POST /api/v1/auth/renew`` (a fresh token
while the session is in use), ``POST /api/v1/auth/logout``, ``POST /api/v1/auth/password``
``{current, new}``, ``POST /api/v1/auth/totp/enrol`` (secret, otpauth URI, QR code) and
``POST /api/v1/auth/totp/confirm`` ``{code}`` (recovery codes, once).
Refusals: 401 ``invalid-credentials`` (the same for an unknown login, a wrong password and a
disabled user), 429 ``locked`` with ``Retry-After``, 401 ``invalid-code``, 422 ``weak-password``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hibiki.common.auth import Claims
from hibiki.common.http import CSRF_COOKIE, SESSION_COOKIE, error_response
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.directory.http import identity_models as m
from hibiki.directory.identity import passwords, totp
from hibiki.directory.identity.login import LoginRefused, Logins, Pending, Session
from hibiki.directory.storage.audit import Entry
from hibiki.directory.storage.identity import public

OPEN_PATHS = ("/api/v1/auth/login", "/api/v1/auth/totp", "/api/v1/auth/recovery")


class BadBody(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


async def body(request: Request, model: type[BaseModel]) -> Any:
    try:
        raw = await request.json()
    except ValueError:
        raise BadBody("body", "the body is not JSON") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadBody(".".join(str(p) for p in first["loc"]) or "body", first["msg"]) from None


def address(request: Request) -> str:
    return request.client.host if request.client else ""


def set_session(response: Response, request: Request, session: Session) -> None:
    secure = request.url.scheme == "https"
    max_age = max(int(session.session_ends_at - time.time()), 1)
    response.set_cookie(SESSION_COOKIE, session.token, max_age=max_age, path="/", secure=secure, httponly=True,
                        samesite="strict")
    response.set_cookie(CSRF_COOKIE, session.csrf, max_age=max_age, path="/", secure=secure, httponly=False,
                        samesite="strict")


def clear_session(response: Response) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", samesite="strict")


def session_json(session: Session) -> dict[str, Any]:
    user = session.user
    return {"status": "ok", "user": {"id": user["id"], "login": user["login"], "display_name": user["display_name"]},
            "tenant": user["tenant_id"], "roles": list(user["roles"]), "scope": list(user["scope"]),
            "csrf": session.csrf, "expires_at": session.expires_at, "session_ends_at": session.session_ends_at,
            "recovery_codes": list(session.recovery_codes)}


def answered(request: Request, result: Session | Pending) -> Response:
    if isinstance(result, Pending):
        return JSONResponse({"status": result.status, "ticket": result.ticket, "otpauth_uri": result.otpauth_uri,
                             "qr_svg": result.qr_svg, "secret": result.secret},
                            headers={"Cache-Control": "no-store"})
    response = JSONResponse(session_json(result), headers={"Cache-Control": "no-store"})
    set_session(response, request, result)
    return response


def refused(exc: LoginRefused) -> Response:
    response = error_response(exc.status, exc.error_id, exc.message, **({"field": exc.field} if exc.field else {}),
                              **({"retry_after": exc.retry_after} if exc.retry_after else {}))
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


class AuthApi:
    def __init__(self, logins: Logins) -> None:
        self.logins = logins

    async def _guard(self, request: Request, work: Any) -> Response:
        try:
            result: Response = await work()
            return result
        except BadBody as exc:
            return error_response(400 if exc.field == "body" else 422, f"invalid-{exc.field}", exc.message,
                                  field=exc.field)
        except LoginRefused as exc:
            return refused(exc)

    async def login(self, request: Request) -> Response:
        async def work() -> Response:
            data = await body(request, m.LoginIn)
            return answered(request, await self.logins.password(data.tenant, data.login, data.password,
                                                                address(request)))
        return await self._guard(request, work)

    async def totp(self, request: Request) -> Response:
        async def work() -> Response:
            data = await body(request, m.SecondFactorIn)
            return answered(request, await self.logins.second_factor(data.ticket, data.code, address(request)))
        return await self._guard(request, work)

    async def recovery(self, request: Request) -> Response:
        async def work() -> Response:
            data = await body(request, m.SecondFactorIn)
            return answered(request, await self.logins.second_factor(data.ticket, data.code, address(request), True))
        return await self._guard(request, work)

    async def _user(self, claims: Claims) -> dict[str, Any] | None:
        if not claims.session:
            return None
        row = await asyncio.to_thread(self.logins.store.session, claims.session)
        if row is None:
            return None
        return dict(await asyncio.to_thread(self.logins.store.get, row["tenant_id"], row["user_id"]))

    async def me(self, request: Request) -> Response:
        claims: Claims = request.scope["hibiki.claims"]
        user = await self._user(claims)
        row = await asyncio.to_thread(self.logins.store.session, claims.session) if claims.session else None
        return JSONResponse({
            "user": {"id": user["id"], "login": user["login"], "display_name": user["display_name"]} if user else None,
            "subject": claims.subject, "kind": claims.kind, "tenant": claims.tenant, "roles": list(claims.roles),
            "scope": list(claims.scope), "directory_user": claims.directory_user or None,
            "session": bool(claims.session),
            "session_ends_at": float(row["expires_at"]) if row else None,
            "expires_at": None, "totp_enabled": bool(user and user["totp_secret"])})

    async def renew(self, request: Request) -> Response:
        async def work() -> Response:
            session = await self.logins.renew(request.scope["hibiki.claims"])
            response = JSONResponse(session_json(session), headers={"Cache-Control": "no-store"})
            set_session(response, request, session)
            return response
        return await self._guard(request, work)

    async def logout(self, request: Request) -> Response:
        claims: Claims = request.scope["hibiki.claims"]
        if claims.session:
            await self.logins.logout(claims, address(request))
        response = Response(status_code=204)
        clear_session(response)
        return response

    async def password(self, request: Request) -> Response:
        async def work() -> Response:
            data = await body(request, m.PasswordIn)
            claims: Claims = request.scope["hibiki.claims"]
            user = await self._user(claims)
            if user is None:
                raise LoginRefused(403, "forbidden", "a password is changed from a console session")
            if not await asyncio.to_thread(passwords.verify, user["password_hash"], data.current):
                raise LoginRefused(401, "invalid-credentials", "the current password is wrong", field="current")
            policy = await asyncio.to_thread(self.logins.store.policy, user["tenant_id"])
            history = await asyncio.to_thread(self.logins.store.password_history, user["id"], policy.password_history)
            found = await asyncio.to_thread(passwords.problems, data.new, user["login"], policy.password_min_length,
                                            history[:policy.password_history])
            if found:
                raise LoginRefused(422, "weak-password", "the new password: " + "; ".join(found), field="new")
            await asyncio.to_thread(self.logins.store.set_password, user["id"], passwords.hash_password(data.new))
            await self.logins.revoke_user(user, "password-changed")
            await asyncio.to_thread(self.logins.trail.append, Entry(
                user["tenant_id"], user["login"], "password.change", "console_user", user["id"], list(user["roles"]),
                None, None, address(request)))
            now = time.time()
            sid = await asyncio.to_thread(self.logins.store.open_session, user, now,
                                          now + self.logins.limits.absolute_seconds, address(request))
            session = self.logins.token(user, sid, now + self.logins.limits.absolute_seconds, now)
            response = JSONResponse(session_json(session))
            set_session(response, request, session)
            return response
        return await self._guard(request, work)

    async def enrol(self, request: Request) -> Response:
        async def work() -> Response:
            user = await self._user(request.scope["hibiki.claims"])
            if user is None:
                raise LoginRefused(403, "forbidden", "TOTP is enrolled from a console session")
            secret = totp.new_secret()
            await asyncio.to_thread(self.logins.store.patch, user["tenant_id"], user["id"], {"totp_pending": secret})
            uri = totp.provisioning_uri(secret, user["tenant_id"], user["login"])
            return JSONResponse({"otpauth_uri": uri, "qr_svg": totp.qr_svg(uri), "secret": secret},
                                headers={"Cache-Control": "no-store"})
        return await self._guard(request, work)

    async def confirm(self, request: Request) -> Response:
        async def work() -> Response:
            data = await body(request, m.CodeIn)
            user = await self._user(request.scope["hibiki.claims"])
            if user is None or not user["totp_pending"]:
                raise LoginRefused(409, "no-enrolment", "start with POST /api/v1/auth/totp/enrol")
            step = totp.accepted_step(user["totp_pending"], data.code, int(user["totp_last_step"]))
            if step is None or not await asyncio.to_thread(self.logins.store.use_totp_step, user["id"], step):
                raise LoginRefused(401, "invalid-code", "the code is wrong or was already used", field="code")
            before, after = await asyncio.to_thread(self.logins.store.patch, user["tenant_id"], user["id"],
                                                    {"totp_secret": user["totp_pending"], "totp_pending": None})
            codes = await asyncio.to_thread(self.logins.store.replace_recovery_codes, user["id"])
            await asyncio.to_thread(self.logins.trail.append, Entry(
                user["tenant_id"], user["login"], "totp.enrol", "console_user", user["id"], list(user["roles"]),
                public(before), public(after), address(request)))
            return JSONResponse({"recovery_codes": codes}, headers={"Cache-Control": "no-store"})
        return await self._guard(request, work)

    def routes(self) -> list[ApiRoute]:
        tags = ["auth"]
        login_errors = errors(400, 413, 422, s401="wrong tenant, login ID or password (one answer for all)",
                              s429="too many failures: locked for a while (Retry-After)")
        code_errors = errors(400, 413, 422, s401="the ticket expired or the code is wrong",
                             s429="too many failures: locked for a while (Retry-After)")
        session = Operation
        return [
            ApiRoute("/api/v1/auth/login", self.login, "POST", session(
                "Log in with tenant, login ID and password: a session, or the TOTP code still due",
                response=m.SessionOut | m.PendingOut, body=m.LoginIn, errors=login_errors, tags=tags, open=True)),
            ApiRoute("/api/v1/auth/totp", self.totp, "POST", session(
                "The TOTP code of a login (confirms an enrolment too): a session", response=m.SessionOut,
                body=m.SecondFactorIn, errors=code_errors, tags=tags, open=True)),
            ApiRoute("/api/v1/auth/recovery", self.recovery, "POST", session(
                "A recovery code instead of the TOTP code (each works once): a session", response=m.SessionOut,
                body=m.SecondFactorIn, errors=code_errors, tags=tags, open=True)),
            ApiRoute("/api/v1/auth/me", self.me, "GET", session(
                "Who this session or token is: user, tenant, roles, delegated scope", response=m.MeOut,
                errors=errors(403), tags=tags)),
            ApiRoute("/api/v1/auth/renew", self.renew, "POST", session(
                "A fresh session token while the session is open and in use", response=m.SessionOut,
                errors=errors(403), tags=tags)),
            ApiRoute("/api/v1/auth/logout", self.logout, "POST", session(
                "End the session on every service", 204, errors=errors(403), tags=tags)),
            ApiRoute("/api/v1/auth/password", self.password, "POST", session(
                "Change the password (other sessions end; this one gets a new token)", response=m.SessionOut,
                body=m.PasswordIn, errors=errors(400, 403, 413, 422, s401="the current password is wrong"), tags=tags)),
            ApiRoute("/api/v1/auth/totp/enrol", self.enrol, "POST", session(
                "Start a TOTP enrolment: the secret, its otpauth URI and QR code", response=m.EnrolOut,
                errors=errors(403), tags=tags)),
            ApiRoute("/api/v1/auth/totp/confirm", self.confirm, "POST", session(
                "Confirm the enrolment with a first code: the recovery codes, shown once",
                response=m.RecoveryCodesOut, body=m.CodeIn, errors=errors(400, 403, 409, 413, 422, s401="the code is wrong"),
                tags=tags)),
        ]


class RenewCors:
    """Lets the pages of the other services on this host (same scheme and host name, another port)
    renew the session: ``POST /api/v1/auth/renew`` from them is a cross-origin request with
    credentials and the ``X-Hibiki-CSRF`` header, so the browser asks first (``OPTIONS``). Both are
    answered with ``Access-Control-Allow-Origin`` for such an origin only; any other origin gets no
    CORS headers (the browser keeps the answer from it)."""

    PATH = "/api/v1/auth/renew"

    def __init__(self, app: Any) -> None:
        self.app = app

    @staticmethod
    def _allowed(scope: Any) -> str | None:
        headers = {k.decode(): v.decode("latin-1") for k, v in scope["headers"] if k in (b"origin", b"host")}
        origin, host = headers.get("origin", ""), headers.get("host", "")
        scheme, _, rest = origin.partition("://")
        if not rest or scheme != scope.get("scheme", "http"):
            return None
        origin_host = rest.rsplit(":", 1)[0] if not rest.endswith("]") else rest
        own_host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return origin if origin_host and origin_host == own_host else None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.PATH:
            await self.app(scope, receive, send)
            return
        origin = self._allowed(scope)
        cors = [(b"access-control-allow-origin", origin.encode()), (b"access-control-allow-credentials", b"true"),
                (b"vary", b"Origin")] if origin else []
        if scope["method"] == "OPTIONS":
            extra = [(b"access-control-allow-methods", b"POST"), (b"access-control-allow-headers", b"X-Hibiki-CSRF"),
                     (b"access-control-max-age", b"600")] if origin else []
            await send({"type": "http.response.start", "status": 204, "headers": cors + extra})
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Any) -> None:
            if message["type"] == "http.response.start" and cors:
                message = {**message, "headers": [*message.get("headers", []), *cors]}
            await send(message)

        await self.app(scope, receive, with_cors)
