"""Service-to-service and user tokens: HS256 JWTs signed with the shared secret.

A token says who is calling (``sub``), whether it is a service or a user (``kind``),
for which tenant (``tenant``; ``*`` for platform services) and with which roles.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import jwt

from hibiki.common.config import Env
from hibiki.common.errors import ConfigError

ISSUER = "hibiki"
ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
Kind = Literal["service", "user"]


class InvalidToken(Exception):
    """The token is missing, malformed, expired or not signed by our secret."""


@dataclass(frozen=True)
class Claims:
    subject: str
    kind: Kind
    tenant: str = "*"
    roles: tuple[str, ...] = field(default_factory=tuple)

    def may_act_for(self, tenant: str) -> bool:
        return self.tenant in ("*", tenant)

    def refusal(self, tenant: str, write: bool) -> str | None:
        """Why this token may not read (or change, ``write``) the tenant's data; None when it may.
        Service tokens for every tenant and platform admins may do everything, a tenant's
        ``admin`` everything in it, its ``viewer`` read it."""
        if self.tenant == "*" and (self.kind == "service" or "platform-admin" in self.roles):
            return None
        if not self.may_act_for(tenant):
            return "this token may not act for this tenant"
        if "admin" in self.roles or (not write and "viewer" in self.roles):
            return None
        return "this token's roles do not allow this"


VERIFIED_CACHE = 4096        # distinct tokens remembered as verified


class TokenAuthority:
    """Issues and verifies tokens with one shared secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(f"the auth secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        # Tokens whose signature was checked, with their expiry: a service presents the same
        # token on every request (callcontrol: several per call), and the HMAC and JSON decoding
        # were ~9 % of the ACD's CPU. The expiry is checked on every use; bounded, then cleared.
        self._verified: dict[str, tuple[Claims, float]] = {}

    def issue(self, claims: Claims, ttl_seconds: int = 3600) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "sub": claims.subject,
            "kind": claims.kind,
            "tenant": claims.tenant,
            "roles": list(claims.roles),
            "iat": now,
            "exp": now + ttl_seconds,
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Claims:
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known[1]:
                return known[0]
            del self._verified[token]
        claims, expires = self._decode(token)
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified.clear()
        self._verified[token] = (claims, expires)
        return claims

    def _decode(self, token: str) -> tuple[Claims, float]:
        try:
            payload = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], issuer=ISSUER,
                options={"require": ["exp", "iss", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        kind = payload.get("kind")
        if kind not in ("service", "user"):
            raise InvalidToken("token kind must be 'service' or 'user'")
        roles = payload.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidToken("roles must be a list of strings")
        expires = float(payload["exp"])
        if expires <= time.time():          # the clock the cache uses too
            raise InvalidToken("Signature has expired")
        return Claims(str(payload["sub"]), kind, str(payload.get("tenant", "*")), tuple(roles)), expires

    def verify_header(self, authorization: str | None) -> Claims:
        if not authorization:
            raise InvalidToken("no Authorization header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("Authorization must be 'Bearer <token>'")
        return self.verify(token.strip())


def load_authority(env: Env, data_dir: Path) -> TokenAuthority:
    """The secret comes from HIBIKI_AUTH_SECRET, else HIBIKI_AUTH_SECRET_FILE, else
    ``<data dir>/auth.secret`` which is created on first use (embedded default)."""
    secret = env.optional("AUTH_SECRET")
    if secret:
        return TokenAuthority(secret.encode())
    path = env.path("AUTH_SECRET_FILE", data_dir / "auth.secret")
    if not path.exists():
        if env.optional("AUTH_SECRET_FILE"):
            raise ConfigError(f"{env.key('AUTH_SECRET_FILE')}: {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("x") as fh:
                fh.write(secrets.token_urlsafe(48))
            path.chmod(0o600)
        except FileExistsError:
            pass  # another process of the stack created it first
    return TokenAuthority(path.read_text().strip().encode())
