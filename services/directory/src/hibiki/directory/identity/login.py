"""The console login (ADM-04): password, then TOTP or a recovery code, lockout, sessions.

    result = await logins.password(tenant, login, password, address)   # Session | Pending
    session = await logins.second_factor(ticket, code, address)        # TOTP code or recovery code

Lockout: failures (a wrong password, a wrong code) are counted per (tenant, login as typed)
over a sliding window, whether the login exists or not, so a locked answer says nothing about
which logins exist; ``login_max_failures`` in ``login_window`` locks that login until the
oldest failure leaves the window. An address with ``address_max_failures`` failures in the
window is refused for every login (a password spray). A right password clears only its own
login's failures. Unknown logins spend the time of a real hash check.

Sessions: a session token (``sid``) lives ``idle`` seconds and is renewed at the directory while
the session is in use, never past ``absolute`` seconds after the login; logout, a disabled user
and a changed password revoke it on every service (``hibiki.common.revocation``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hibiki.common.auth import Claims, InvalidToken, TokenAuthority, csrf_digest
from hibiki.common.revocation import user_key
from hibiki.directory.identity import passwords, totp
from hibiki.directory.storage.audit import AuditTrail, Entry
from hibiki.directory.storage.identity import IdentityStore

Revoke = Callable[[str, float, "float | None"], Awaitable[None]]
TICKET_SECONDS = 300


@dataclass(frozen=True)
class Limits:
    idle_seconds: float = 1800
    absolute_seconds: float = 43200
    login_max_failures: int = 5
    login_window: float = 900
    address_max_failures: int = 50


class LoginRefused(Exception):
    def __init__(self, status: int, error_id: str, message: str, retry_after: int = 0, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error_id, self.message, self.retry_after, self.field = \
            status, error_id, message, retry_after, field


@dataclass(frozen=True)
class Session:
    token: str
    csrf: str
    sid: str
    expires_at: float          # this token's end (idle)
    session_ends_at: float     # the session's absolute end
    user: dict[str, Any]
    recovery_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pending:
    status: str                # totp_required | totp_enrolment_required
    ticket: str
    otpauth_uri: str = ""
    qr_svg: str = ""
    secret: str = ""


INVALID = "the tenant, login ID or password is wrong"


class Logins:
    def __init__(self, store: IdentityStore, trail: AuditTrail, authority: TokenAuthority, revoke: Revoke,
                 limits: Limits) -> None:
        self.store, self.trail, self.authority, self._revoke, self.limits = store, trail, authority, revoke, limits

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def _audit(self, tenant: str, actor: str, action: str, address: str, outcome: str = "ok",
                     user: Mapping[str, Any] | None = None, after: Any = None) -> None:
        roles = list(user["roles"]) if user else []
        await self._run(self.trail.append, Entry(tenant, actor, action, "session", str(user["id"]) if user else "",
                                                 roles, None, after, address, outcome))

    # lockout
    async def _check_lock(self, tenant: str, login: str, address: str) -> None:
        now = time.time()
        since = now - self.limits.login_window
        own = await self._run(self.store.failures, tenant, login, since)
        if len(own) >= self.limits.login_max_failures:
            wait = int(own[-self.limits.login_max_failures] + self.limits.login_window - now) + 1
            raise LoginRefused(429, "locked", "too many failed attempts: try again later", retry_after=max(wait, 1))
        spray = await self._run(self.store.address_failures, address, since)
        if len(spray) >= self.limits.address_max_failures:
            wait = int(spray[-self.limits.address_max_failures] + self.limits.login_window - now) + 1
            raise LoginRefused(429, "locked", "too many failed attempts: try again later", retry_after=max(wait, 1))

    async def _fail(self, tenant: str, login: str, address: str, action: str, user: Mapping[str, Any] | None) -> None:
        await self._run(self.store.add_failure, tenant, login, address, time.time())
        await self._audit(tenant if user else tenant, login, action, address, "refused", user)

    # the flow
    async def password(self, tenant: str, login: str, password: str, address: str) -> Session | Pending:
        login = login.strip().lower()
        await self._check_lock(tenant, login, address)
        user = await self._run(self.store.find, tenant, login)
        right = await self._run(passwords.verify, user["password_hash"] if user else None, password)
        if not user or not right or not user["enabled"]:
            await self._fail(tenant, login, address, "login", user)
            raise LoginRefused(401, "invalid-credentials", INVALID)
        await self._run(self.store.clear_failures, tenant, login, time.time() - self.limits.login_window)
        policy = await self._run(self.store.policy, tenant)
        if user["totp_secret"]:
            return Pending("totp_required", self._ticket(user, "password"))
        if policy.mfa_required:
            secret = totp.new_secret()
            await self._run(self.store.patch, tenant, user["id"], {"totp_pending": secret})
            uri = totp.provisioning_uri(secret, tenant, login)
            return Pending("totp_enrolment_required", self._ticket(user, "password"), uri, totp.qr_svg(uri), secret)
        return await self._open(user, address, "login")

    def _ticket(self, user: Mapping[str, Any], what: str) -> str:
        return self.authority.issue_ticket("login", str(user["id"]), TICKET_SECONDS, tenant=str(user["tenant_id"]),
                                           checked=what)

    async def _ticket_user(self, ticket: str) -> dict[str, Any]:
        try:
            data = self.authority.verify_ticket(ticket, "login")
        except InvalidToken:
            raise LoginRefused(401, "invalid-ticket", "log in again: the login has expired", field="ticket") from None
        try:
            return dict(await self._run(self.store.get, str(data["tenant"]), str(data["sub"])))
        except Exception:
            raise LoginRefused(401, "invalid-ticket", "log in again: the login has expired", field="ticket") from None

    async def second_factor(self, ticket: str, code: str, address: str, recovery: bool = False) -> Session:
        user = await self._ticket_user(ticket)
        tenant, login = str(user["tenant_id"]), str(user["login"])
        await self._check_lock(tenant, login, address)
        if not user["enabled"]:
            raise LoginRefused(401, "invalid-credentials", INVALID)
        if recovery:
            if not user["totp_secret"] or not await self._run(self.store.use_recovery_code, user["id"], code):
                await self._fail(tenant, login, address, "login.recovery", user)
                raise LoginRefused(401, "invalid-code", "the recovery code is wrong or was used", field="code")
            return await self._open(user, address, "login.recovery")
        secret = user["totp_secret"] or user["totp_pending"]
        step = totp.accepted_step(secret, code, int(user["totp_last_step"])) if secret else None
        if step is None or not await self._run(self.store.use_totp_step, user["id"], step):
            await self._fail(tenant, login, address, "login.totp", user)
            raise LoginRefused(401, "invalid-code", "the code is wrong or was already used", field="code")
        codes: tuple[str, ...] = ()
        if not user["totp_secret"]:               # the enrolment is confirmed by its first code
            await self._run(self.store.patch, tenant, user["id"], {"totp_secret": secret, "totp_pending": None})
            codes = tuple(await self._run(self.store.replace_recovery_codes, user["id"]))
            await self._audit(tenant, login, "totp.enrol", address, "ok", user)
        return await self._open(user, address, "login.totp", codes)

    async def _open(self, user: Mapping[str, Any], address: str, action: str, codes: tuple[str, ...] = ()) -> Session:
        now = time.time()
        ends = now + self.limits.absolute_seconds
        sid = await self._run(self.store.open_session, user, now, ends, address)
        await self._audit(str(user["tenant_id"]), str(user["login"]), action, address, "ok", user, {"session": sid[:8]})
        return self.token(user, sid, ends, now, codes)

    def token(self, user: Mapping[str, Any], sid: str, ends: float, now: float, codes: tuple[str, ...] = ()) -> Session:
        csrf = secrets.token_urlsafe(24)
        expires = min(now + self.limits.idle_seconds, ends)
        claims = Claims(str(user["login"]), "user", str(user["tenant_id"]), tuple(user["roles"]), session=sid,
                        scope=tuple(user["scope"]), csrf=csrf_digest(csrf),
                        directory_user=str(user.get("directory_user_id") or ""), issued_at=now)
        return Session(self.authority.issue(claims, expires_at=expires), csrf, sid, expires, ends, dict(user), codes)

    async def renew(self, claims: Claims) -> Session:
        """A fresh token for a session still open and in use (not idle, not past its absolute end)."""
        now = time.time()
        row = await self._run(self.store.session, claims.session) if claims.session else None
        if row is None or row["ended_at"] is not None or row["expires_at"] <= now \
                or row["last_seen_at"] + self.limits.idle_seconds <= now:
            raise LoginRefused(401, "session-ended", "the session has ended: log in again")
        user = await self._run(self.store.get, row["tenant_id"], row["user_id"])
        if not user["enabled"]:
            raise LoginRefused(401, "session-ended", "the session has ended: log in again")
        await self._run(self.store.touch_session, claims.session, now)
        return self.token(user, claims.session, float(row["expires_at"]), now)

    async def logout(self, claims: Claims, address: str) -> None:
        row = await self._run(self.store.end_session, claims.session, time.time(), "logout")
        if row is not None:
            await self._revoke(f"s.{claims.session}", float(row["expires_at"]), None)
            await self._run(self.trail.append, Entry(claims.tenant, claims.subject, "logout", "session",
                                                     str(row["user_id"]), claims.roles, None, None, address))

    async def tenant_deleted(self, tenant: str) -> None:
        """A deleted tenant's console users, sessions and API tokens end on every service."""
        tokens = await self._run(self.store.tokens, tenant)
        for user in await self._run(self.store.remove_tenant, tenant):
            await self.revoke_user(user, "tenant-deleted")
        for token in tokens:
            await self._revoke(f"t.{token['id']}", float(token["expires_at"]), None)

    async def revoke_user(self, user: Mapping[str, Any], reason: str) -> None:
        """End every session and API token of ``user`` on every service (disabled, deleted, password changed)."""
        now = time.time()
        await self._run(self.store.end_sessions_of, user["id"], now, reason)
        await self._revoke(user_key(str(user["tenant_id"]), str(user["login"])), now + 366 * 86400, now)
