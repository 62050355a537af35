"""Console users, sessions, login failures, recovery codes, API tokens and identity policies in
the configuration store (tables of ``identity_tables.py``). Synchronous: callers run it in a thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hibiki.directory.errors import Conflict, NotFound
from hibiki.directory.identity import passwords, totp
from hibiki.directory.storage.identity_tables import (api_tokens, console_login_failures, console_password_history,
                                                      console_recovery_codes, console_sessions, console_users,
                                                      identity_policies)
from hibiki.directory.storage.tables import users

Row = dict[str, Any]
USER_FIELDS = ("id", "tenant_id", "login", "display_name", "roles", "scope", "directory_user_id", "enabled",
               "created_at", "password_changed_at")


@dataclass(frozen=True)
class Policy:
    mfa_required: bool = False
    password_min_length: int = 12
    password_history: int = 5

    def to_json(self) -> dict[str, Any]:
        return {"mfa_required": self.mfa_required, "password_min_length": self.password_min_length,
                "password_history": self.password_history}


def public(row: Mapping[str, Any]) -> Row:
    """A console user as the API shows it (no hashes, no secrets)."""
    out: Row = {k: row.get(k) for k in USER_FIELDS}
    out["totp_enabled"] = bool(row.get("totp_secret"))
    for name in ("created_at", "password_changed_at"):
        if isinstance(out[name], datetime):
            out[name] = out[name].astimezone(UTC).isoformat()
    return out


class IdentityStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # policies
    def policy(self, tenant: str) -> Policy:
        with self.engine.connect() as conn:
            row = conn.execute(select(identity_policies).where(identity_policies.c.tenant_id == tenant)).mappings().first()
        if row is None:
            return Policy()
        return Policy(bool(row["mfa_required"]), int(row["password_min_length"]), int(row["password_history"]))

    def set_policy(self, tenant: str, policy: Policy) -> tuple[Policy, Policy]:
        before = self.policy(tenant)
        values = {"mfa_required": policy.mfa_required, "password_min_length": policy.password_min_length,
                  "password_history": policy.password_history}
        with self.engine.begin() as conn:
            done = conn.execute(update(identity_policies).where(identity_policies.c.tenant_id == tenant).values(**values))
            if done.rowcount == 0:
                conn.execute(insert(identity_policies).values(tenant_id=tenant, **values))
        return before, policy

    # users
    def find(self, tenant: str, login: str) -> Row | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(console_users).where(console_users.c.tenant_id == tenant,
                                                           console_users.c.login == login)).mappings().first()
        return dict(row) if row else None

    def get(self, tenant: str, user_id: str) -> Row:
        with self.engine.connect() as conn:
            row = conn.execute(select(console_users).where(console_users.c.tenant_id == tenant,
                                                           console_users.c.id == user_id)).mappings().first()
        if row is None:
            raise NotFound("console-user-not-found", f"no console user {user_id!r}")
        return dict(row)

    def users(self, tenant: str) -> list[Row]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(console_users).where(console_users.c.tenant_id == tenant)
                                .order_by(console_users.c.login)).mappings().all()
        return [dict(r) for r in rows]

    def create(self, tenant: str, login: str, password_hash: str, roles: Sequence[str], scope: Sequence[str],
               display_name: str = "", directory_user_id: str | None = None) -> Row:
        now = datetime.now(UTC)
        row: Row = {"id": str(uuid.uuid4()), "tenant_id": tenant, "login": login, "display_name": display_name,
                    "password_hash": password_hash, "roles": list(roles), "scope": list(scope),
                    "directory_user_id": directory_user_id, "enabled": True,
                    "totp_secret": None, "totp_pending": None, "totp_last_step": 0, "password_changed_at": now,
                    "created_at": now}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(console_users).values(**row))
                conn.execute(insert(console_password_history).values(
                    id=str(uuid.uuid4()), user_id=row["id"], password_hash=password_hash, created_at=now))
        except IntegrityError:
            raise Conflict("login-taken", f"the login {login!r} is taken in this tenant", "login") from None
        return row

    def patch(self, tenant: str, user_id: str, values: Mapping[str, Any]) -> tuple[Row, Row]:
        before = self.get(tenant, user_id)
        with self.engine.begin() as conn:
            conn.execute(update(console_users).where(console_users.c.id == user_id).values(**values))
        return before, self.get(tenant, user_id)

    def directory_user_exists(self, tenant: str, user_id: str) -> bool:
        """Whether ``user_id`` is a directory (SIP) user of ``tenant`` (a console user's link)."""
        with self.engine.connect() as conn:
            found = conn.execute(select(users.c.id).where(users.c.tenant_id == tenant, users.c.id == user_id)).first()
        return found is not None

    def remove(self, tenant: str, user_id: str) -> Row:
        before = self.get(tenant, user_id)
        with self.engine.begin() as conn:
            conn.execute(delete(console_users).where(console_users.c.id == user_id))
        return before

    def password_history(self, user_id: str, keep: int) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(console_password_history.c.password_hash)
                                .where(console_password_history.c.user_id == user_id)
                                .order_by(console_password_history.c.created_at.desc()).limit(max(keep, 1))).all()
        return [r[0] for r in rows]

    def set_password(self, user_id: str, password_hash: str) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(update(console_users).where(console_users.c.id == user_id)
                         .values(password_hash=password_hash, password_changed_at=now))
            conn.execute(insert(console_password_history).values(
                id=str(uuid.uuid4()), user_id=user_id, password_hash=password_hash, created_at=now))

    def use_totp_step(self, user_id: str, step: int) -> bool:
        """Record ``step`` as used; False when it (or a later one) already was (a replayed code)."""
        with self.engine.begin() as conn:
            done = conn.execute(update(console_users).where(console_users.c.id == user_id,
                                                            console_users.c.totp_last_step < step)
                                .values(totp_last_step=step))
        return done.rowcount == 1

    # recovery codes
    def replace_recovery_codes(self, user_id: str) -> list[str]:
        codes = totp.recovery_codes()
        with self.engine.begin() as conn:
            conn.execute(delete(console_recovery_codes).where(console_recovery_codes.c.user_id == user_id))
            for code in codes:
                conn.execute(insert(console_recovery_codes).values(
                    id=str(uuid.uuid4()), user_id=user_id, code_hash=totp.code_hash(code), used_at=None))
        return codes

    def use_recovery_code(self, user_id: str, code: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(update(console_recovery_codes).where(
                console_recovery_codes.c.user_id == user_id, console_recovery_codes.c.code_hash == totp.code_hash(code),
                console_recovery_codes.c.used_at.is_(None)).values(used_at=datetime.now(UTC)))
        return done.rowcount == 1

    def recovery_codes_left(self, user_id: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(console_recovery_codes).where(
                console_recovery_codes.c.user_id == user_id, console_recovery_codes.c.used_at.is_(None))).scalar_one())

    # login failures (counted per typed login, known or not, and per address)
    def add_failure(self, tenant: str, login: str, address: str, at: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(console_login_failures).values(tenant_id=tenant, login=login[:64], address=address[:64],
                                                               at=at))

    def failures(self, tenant: str, login: str, since: float) -> list[float]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(console_login_failures.c.at).where(
                console_login_failures.c.tenant_id == tenant, console_login_failures.c.login == login[:64],
                console_login_failures.c.at >= since).order_by(console_login_failures.c.at)).all()
        return [float(r[0]) for r in rows]

    def address_failures(self, address: str, since: float) -> list[float]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(console_login_failures.c.at).where(
                console_login_failures.c.address == address[:64], console_login_failures.c.at >= since)
                .order_by(console_login_failures.c.at)).all()
        return [float(r[0]) for r in rows]

    def clear_failures(self, tenant: str, login: str, before: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(console_login_failures).where(
                console_login_failures.c.tenant_id == tenant, console_login_failures.c.login == login[:64]))
            conn.execute(delete(console_login_failures).where(console_login_failures.c.at < before))

    # sessions
    def open_session(self, user: Mapping[str, Any], now: float, expires_at: float, address: str) -> str:
        sid = uuid.uuid4().hex + uuid.uuid4().hex[:16]
        with self.engine.begin() as conn:
            conn.execute(insert(console_sessions).values(
                id=sid, user_id=user["id"], tenant_id=user["tenant_id"], created_at=now, last_seen_at=now,
                expires_at=expires_at, ended_at=None, ended_reason="", address=address[:64]))
        return sid

    def session(self, sid: str) -> Row | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(console_sessions).where(console_sessions.c.id == sid)).mappings().first()
        return dict(row) if row else None

    def touch_session(self, sid: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(console_sessions).where(console_sessions.c.id == sid).values(last_seen_at=now))

    def end_session(self, sid: str, now: float, reason: str) -> Row | None:
        with self.engine.begin() as conn:
            conn.execute(update(console_sessions).where(console_sessions.c.id == sid,
                                                        console_sessions.c.ended_at.is_(None))
                         .values(ended_at=now, ended_reason=reason))
        return self.session(sid)

    def end_sessions_of(self, user_id: str, now: float, reason: str) -> list[Row]:
        with self.engine.begin() as conn:
            rows = conn.execute(select(console_sessions).where(console_sessions.c.user_id == user_id,
                                                               console_sessions.c.ended_at.is_(None))).mappings().all()
            conn.execute(update(console_sessions).where(console_sessions.c.user_id == user_id,
                                                        console_sessions.c.ended_at.is_(None))
                         .values(ended_at=now, ended_reason=reason))
        return [dict(r) for r in rows]

    def remove_tenant(self, tenant: str) -> list[Row]:
        """Delete a deleted tenant's console users (sessions, codes, history with them), API tokens
        and policy; the users, for revoking what they were issued."""
        gone = self.users(tenant)
        with self.engine.begin() as conn:
            conn.execute(delete(api_tokens).where(api_tokens.c.tenant_id == tenant))
            conn.execute(delete(console_users).where(console_users.c.tenant_id == tenant))
            conn.execute(delete(identity_policies).where(identity_policies.c.tenant_id == tenant))
        return gone

    # API tokens
    def add_token(self, row: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(api_tokens).values(**row))

    def tokens(self, tenant: str) -> list[Row]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_tokens).where(api_tokens.c.tenant_id == tenant)
                                .order_by(api_tokens.c.created_at)).mappings().all()
        return [dict(r) for r in rows]

    def revoke_token(self, tenant: str, token_id: str, now: float) -> Row:
        with self.engine.begin() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.tenant_id == tenant,
                                                        api_tokens.c.id == token_id)).mappings().first()
            if row is None:
                raise NotFound("api-token-not-found", f"no API token {token_id!r}")
            if row["revoked_at"] is None:
                conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=now))
        return dict(row)


__all__ = ["IdentityStore", "Policy", "public", "passwords"]
