"""Service-to-service and user tokens: HS256 JWTs signed with the shared secret.

A token says who is calling (``sub``), whether it is a service or a user (``kind``),
for which tenant (``tenant``; ``*`` for platform services) and with which roles.
Console sessions and API tokens issued by the directory also carry their session id
(``sid``) or token id (``jti``), a delegated administrator's ``scope``, the directory user a
console user is linked to (``duser``: a self-service user's own page), and a session's
CSRF binding (``csrf``: the SHA-256 of the ``hibiki_csrf`` cookie); such tokens are checked
against the revocation list every service follows (:mod:`hibiki.common.revocation`).
Tickets (``kind`` ticket: a login waiting for its TOTP code) are never accepted as tokens.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import jwt

from hibiki.common import roles as role_rule
from hibiki.common.config import Env
from hibiki.common.errors import ConfigError
from hibiki.common.revocation import Revocations

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
    session: str = ""                     # sid: a console session (cookie or bearer)
    token_id: str = ""                    # jti: an API token
    scope: tuple[str, ...] = ()           # a delegated administrator's groups, users, numbers
    csrf: str = ""                        # SHA-256 (hex) of the session's hibiki_csrf cookie
    directory_user: str = ""              # duser: the directory (SIP) user a console user is linked to
    issued_at: float = field(default=0.0, compare=False)   # when it was issued (not part of equality)

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", role_rule.expand(self.roles))

    def may_act_for(self, tenant: str) -> bool:
        return self.tenant in ("*", tenant)

    def refusal(self, tenant: str, write: bool, resource: str = role_rule.CONFIG) -> str | None:
        """Why this token may not read (or change, ``write``) the tenant's ``resource``; None when
        it may. The one rule of :mod:`hibiki.common.roles`: service tokens for every tenant and
        platform operators may do everything, a tenant's ``admin`` everything in it, its ``viewer``
        read it, ..."""
        return role_rule.refusal(self, tenant, resource, "write" if write else "read")


def csrf_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
        # Sessions and API tokens are refused unless a RevocationWatch keeps this list live.
        self.revocations = Revocations()

    def issue(self, claims: Claims, ttl_seconds: int = 3600, expires_at: float | None = None) -> str:
        now = time.time()
        payload: dict[str, object] = {
            "iss": ISSUER,
            "sub": claims.subject,
            "kind": claims.kind,
            "tenant": claims.tenant,
            "roles": list(claims.roles),
            "iat": claims.issued_at or now,
            "exp": int(expires_at if expires_at is not None else now + ttl_seconds),
        }
        for name, value in (("sid", claims.session), ("jti", claims.token_id), ("csrf", claims.csrf),
                            ("duser", claims.directory_user)):
            if value:
                payload[name] = value
        if claims.scope:
            payload["scope"] = list(claims.scope)
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def derive_key(self, purpose: str) -> bytes:
        """A key for ``purpose`` (e.g. the audit chain's HMAC) derived from the shared secret."""
        import hmac

        return hmac.new(self._secret, f"hibiki key: {purpose}".encode(), hashlib.sha256).digest()

    def issue_ticket(self, purpose: str, subject: str, ttl_seconds: int, **data: str) -> str:
        """A short-lived signed note (e.g. a password checked, the TOTP code still due) that
        :meth:`verify` never accepts as a token."""
        now = int(time.time())
        payload = {"iss": ISSUER, "sub": subject, "kind": "ticket", "purpose": purpose, "iat": now,
                   "exp": now + ttl_seconds, **data}
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def verify_ticket(self, ticket: str, purpose: str) -> dict[str, object]:
        try:
            payload: dict[str, object] = jwt.decode(ticket, self._secret, algorithms=[ALGORITHM], issuer=ISSUER,
                                                    options={"require": ["exp", "iss", "sub"]})
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        if payload.get("kind") != "ticket" or payload.get("purpose") != purpose:
            raise InvalidToken(f"not a {purpose} ticket")
        return payload

    def verify(self, token: str) -> Claims:
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known[1]:
                self._check_revoked(known[0])
                return known[0]
            del self._verified[token]
        claims, expires = self._decode(token)
        self._check_revoked(claims)
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified.clear()
        self._verified[token] = (claims, expires)
        return claims

    def _check_revoked(self, claims: Claims) -> None:
        if not (claims.session or claims.token_id):
            return
        if not self.revocations.live:
            raise InvalidToken("sessions and API tokens are not accepted while the revocation list is unavailable")
        why = self.revocations.revoked(claims.tenant, claims.subject, claims.session, claims.token_id,
                                       claims.issued_at)
        if why is not None:
            raise InvalidToken(why)

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
        scope = payload.get("scope") or []
        if not isinstance(scope, list) or not all(isinstance(s, str) for s in scope):
            raise InvalidToken("scope must be a list of strings")
        return Claims(str(payload["sub"]), kind, str(payload.get("tenant", "*")), tuple(roles),
                      session=str(payload.get("sid", "")), token_id=str(payload.get("jti", "")), scope=tuple(scope),
                      csrf=str(payload.get("csrf", "")), directory_user=str(payload.get("duser", "")),
                      issued_at=float(payload.get("iat", 0) or 0)), expires

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
