"""Request and answer bodies of the identity API (login, sessions, console users, API tokens, audit)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hibiki.common import roles as role_rule

Login = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
Tenant = Field(min_length=1, max_length=64, pattern=r"^(\*|[a-z0-9][a-z0-9-]{0,62})$")
Role = Literal["platform-operator", "tenant-admin", "delegated-admin", "supervisor", "agent", "recording-admin",
               "auditor", "viewer", "self-service", "platform-admin", "admin", "recording-viewer", "wallboard"]
ASSIGNABLE = set(role_rule.ROLES) | set(role_rule.LEGACY)
DirectoryUser = Field(default=None, min_length=1, max_length=36, pattern=r"^[A-Za-z0-9-]{1,36}$",
                      description="the directory (SIP) user of the same tenant whose own page this console user "
                                  "sees (role self-service)")
ScopeItem = Field(min_length=3, max_length=100, pattern=r"^(group|user|number):[A-Za-z0-9_.+*-]{1,90}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Strict):
    tenant: str = Tenant
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class SecondFactorIn(Strict):
    ticket: str = Field(min_length=1, max_length=2048)
    code: str = Field(min_length=1, max_length=32)


class UserBrief(BaseModel):
    id: str
    login: str
    display_name: str


class SessionOut(BaseModel):
    """A session was opened (the token is in the HttpOnly cookie ``hibiki_session``)."""

    status: Literal["ok"]
    user: UserBrief
    tenant: str
    roles: list[str]
    scope: list[str]
    csrf: str = Field(description="also in the cookie hibiki_csrf: send it as X-Hibiki-CSRF")
    expires_at: float
    session_ends_at: float
    recovery_codes: list[str] = Field(default_factory=list, description="only once, when TOTP was just enrolled")


class PendingOut(BaseModel):
    """The password was right; the TOTP code (or a recovery code) is still due."""

    status: Literal["totp_required", "totp_enrolment_required"]
    ticket: str
    otpauth_uri: str = ""
    qr_svg: str = ""
    secret: str = ""


class MeOut(BaseModel):
    user: UserBrief | None
    subject: str
    kind: str
    tenant: str
    roles: list[str]
    scope: list[str]
    directory_user: str | None = None
    session: bool
    expires_at: float | None = None
    session_ends_at: float | None = None
    totp_enabled: bool = False


class PasswordIn(Strict):
    current: str = Field(min_length=1, max_length=256)
    new: str = Field(min_length=1, max_length=256)


class CodeIn(Strict):
    code: str = Field(min_length=1, max_length=32)


class EnrolOut(BaseModel):
    otpauth_uri: str
    qr_svg: str
    secret: str


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]


class ConsoleUserIn(Strict):
    login: str = Login
    password: str = Field(min_length=1, max_length=256)
    display_name: str = Field(default="", max_length=255)
    roles: list[Role] = Field(min_length=1, max_length=12)
    scope: list[str] = Field(default_factory=list, max_length=500)
    directory_user_id: str | None = DirectoryUser


class ConsoleUserPatch(Strict):
    display_name: str | None = Field(default=None, max_length=255)
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=12)
    scope: list[str] | None = Field(default=None, max_length=500)
    enabled: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=256)
    reset_totp: bool | None = None
    directory_user_id: str | None = Field(default=None, max_length=36, pattern=r"^[A-Za-z0-9-]{0,36}$",
                                          description="the directory user whose own page this is; null or "
                                                      "empty: none")


class ConsoleUserOut(BaseModel):
    id: str
    tenant_id: str
    login: str
    display_name: str
    roles: list[str]
    scope: list[str]
    directory_user_id: str | None = None
    enabled: bool
    totp_enabled: bool
    created_at: str
    password_changed_at: str


class ConsoleUsers(BaseModel):
    items: list[ConsoleUserOut]


class PolicyIn(Strict):
    mfa_required: bool
    password_min_length: int = Field(ge=8, le=128)
    password_history: int = Field(ge=0, le=24)


class PolicyOut(BaseModel):
    mfa_required: bool
    password_min_length: int
    password_history: int


class ApiTokenIn(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
    kind: Literal["user", "integration"]
    user_id: str | None = Field(default=None, max_length=36)
    roles: list[Role] = Field(default_factory=list, max_length=12)
    days: int = Field(default=365, ge=1, le=3650)


class ApiTokenOut(BaseModel):
    id: str
    tenant_id: str
    name: str
    kind: str
    subject: str
    roles: list[str]
    user_id: str | None
    created_by: str
    created_at: float
    expires_at: float
    revoked_at: float | None


class ApiTokenCreated(ApiTokenOut):
    token: str = Field(description="shown once")


class ApiTokens(BaseModel):
    items: list[ApiTokenOut]


class AuditQuery(BaseModel):
    after_seq: int = Field(default=0, ge=0, le=2**62)
    limit: int = Field(default=1000, ge=1, le=100000)


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    tenant: str
    actor: str
    roles: str
    action: str
    resource: str
    resource_id: str
    before: str | None
    after: str | None
    address: str
    outcome: str
    prev_hash: str
    hash: str


class AuditOut(BaseModel):
    items: list[AuditEntryOut]


class AuditProblem(BaseModel):
    seq: int
    problem: str


class AuditVerifyOut(BaseModel):
    tenant: str
    entries: int
    intact: bool
    head: int
    problems: list[AuditProblem]


def scope_problems(scope: list[str]) -> str | None:
    import re

    pattern = re.compile(r"^(group|user|number):[A-Za-z0-9_.+*-]{1,90}$")
    for item in scope:
        if not pattern.fullmatch(item):
            return f"scope item {item[:40]!r}: group:<id>, user:<id> or number:<digits, * at the end>"
    return None


__all__ = ["Any"]
