"""What the admin API accepts and returns (pydantic models, also the OpenAPI schemas)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_TOKEN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_EXTENSION = re.compile(r"^[1-9][0-9]{1,7}$")
_DOMAIN = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
DeviceKind = Literal["desk_phone", "softphone", "smartphone", "tablet"]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):  # PostgreSQL text cannot hold U+0000, and no name needs it
            raise ValueError("may not contain the NUL character (U+0000)")
        return value


def _extension(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if not _EXTENSION.match(value):
        raise ValueError("an extension is 2-8 digits and does not start with 0")
    if len(value) == 3 and value[0] == "1":
        raise ValueError("three-digit numbers starting with 1 are special services (110, 119, 171, ...)")
    return value


RestrictionClass = Literal["domestic", "mobile", "free", "ip", "navi", "special", "premium", "international"]
DEFAULT_CLASSES: tuple[RestrictionClass, ...] = ("domestic", "mobile", "free", "ip", "navi", "special")
_GATEWAY = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_FORWARD = r"^(\+?[0-9]{2,20})?$"
_PHONE = r"^[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){5}$|^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class TenantIn(Strict):
    id: str = Field(pattern=_TOKEN, description="short id, e.g. 'nagaoka'")
    domain: str = Field(pattern=_DOMAIN, max_length=255, description="the tenant's SIP domain; cannot change later")
    name: str = Field(default="", max_length=255)
    representative_number: str = Field(default="", max_length=32)
    outbound_gateway: str = Field(default="", pattern=r"^$|" + _GATEWAY,
                                  description="FreeSWITCH gateway for calls to the public network")
    language: Literal["ja", "en"] = Field(default="ja", description="what callers hear: system prompts, voicemail")


class TenantPatch(Strict):
    name: str | None = Field(default=None, max_length=255)
    representative_number: str | None = Field(default=None, max_length=32)
    outbound_gateway: str | None = Field(default=None, pattern=r"^$|" + _GATEWAY)
    language: Literal["ja", "en"] | None = None


class TenantOut(BaseModel):
    id: str
    domain: str
    name: str
    representative_number: str
    outbound_gateway: str
    language: str
    version: int


class UserIn(Strict):
    username: str = Field(pattern=_TOKEN)
    display_name: str = Field(default="", max_length=255)
    display_name_kana: str = Field(default="", max_length=255)
    email: str = Field(default="", max_length=255)
    extension: str | None = None
    direct_number: str = Field(default="", max_length=32)
    caller_id_policy: Literal["representative", "direct"] = "representative"
    outbound_classes: list[RestrictionClass] = Field(default_factory=lambda: list(DEFAULT_CLASSES),
                                                     description="what the user may call; emergency always passes")
    service_class_id: str | None = Field(default=None, description="a named class of service; overrides outbound_classes")
    forward_always: str = Field(default="", pattern=_FORWARD, description="extension or number; empty: off")
    forward_busy: str = Field(default="", pattern=_FORWARD)
    forward_no_answer: str = Field(default="", pattern=_FORWARD)
    forward_no_answer_seconds: int = Field(default=20, ge=5, le=120)
    forward_unregistered: str = Field(default="", pattern=_FORWARD)
    pickup_group: str = Field(default="", pattern=r"^$|" + _TOKEN, description="users of a group answer each other's calls (*8)")
    park_group: str = Field(default="", pattern=r"^$|" + _TOKEN, description="park lot for *70/*71N (default: main)")
    voicemail_enabled: bool = True
    voicemail_pin: str = Field(default="", pattern=r"^[0-9]{0,16}$")

    @field_validator("extension")
    @classmethod
    def _check_extension(cls, value: str | None) -> str | None:
        return _extension(value)


class UserPatch(Strict):
    display_name: str | None = Field(default=None, max_length=255)
    display_name_kana: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=255)
    extension: str | None = None
    direct_number: str | None = Field(default=None, max_length=32)
    caller_id_policy: Literal["representative", "direct"] | None = None
    outbound_classes: list[RestrictionClass] | None = None
    service_class_id: str | None = None
    forward_always: str | None = Field(default=None, pattern=_FORWARD)
    forward_busy: str | None = Field(default=None, pattern=_FORWARD)
    forward_no_answer: str | None = Field(default=None, pattern=_FORWARD)
    forward_no_answer_seconds: int | None = Field(default=None, ge=5, le=120)
    forward_unregistered: str | None = Field(default=None, pattern=_FORWARD)
    pickup_group: str | None = Field(default=None, pattern=r"^$|" + _TOKEN)
    park_group: str | None = Field(default=None, pattern=r"^$|" + _TOKEN)
    voicemail_enabled: bool | None = None
    voicemail_pin: str | None = Field(default=None, pattern=r"^[0-9]{0,16}$")

    @field_validator("extension")
    @classmethod
    def _check_extension(cls, value: str | None) -> str | None:
        return _extension(value)


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    display_name_kana: str
    email: str
    extension: str | None
    direct_number: str
    caller_id_policy: str
    outbound_classes: list[str]
    service_class_id: str | None
    forward_always: str
    forward_busy: str
    forward_no_answer: str
    forward_no_answer_seconds: int
    forward_unregistered: str
    pickup_group: str
    park_group: str
    voicemail_enabled: bool


class DeviceIn(Strict):
    user_id: str
    kind: DeviceKind = "desk_phone"
    sip_username: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    password: str = Field(min_length=12, max_length=128, description="SIP password; only its a1-hash is kept")
    label: str = Field(default="", max_length=255)
    enabled: bool = True
    phone: str | None = Field(default=None, pattern=_PHONE, description="hardware id (MAC) of the desk phone")
    line_key: int | None = Field(default=None, ge=1, le=64, description="the key of that phone this device is")

    @model_validator(mode="after")
    def _line_key_needs_phone(self) -> DeviceIn:
        if (self.phone is None) != (self.line_key is None):
            raise ValueError("phone and line_key go together")
        return self


class DevicePatch(Strict):
    kind: DeviceKind | None = None
    password: str | None = Field(default=None, min_length=12, max_length=128)
    label: str | None = Field(default=None, max_length=255)
    enabled: bool | None = None
    phone: str | None = Field(default=None, pattern=_PHONE)
    line_key: int | None = Field(default=None, ge=1, le=64)


class DeviceOut(BaseModel):
    id: str
    user_id: str
    kind: str
    sip_username: str
    label: str
    enabled: bool
    phone: str | None
    line_key: int | None


TargetKind = Literal["user", "voicemail", "announcement", "ring_group", "ivr", "queue"]


class Target(Strict):
    kind: TargetKind
    target: str = Field(min_length=1, max_length=255)


class ScheduleIn(Strict):
    name: str = Field(pattern=r"^[^\s/]{1,64}$")
    definition: dict[str, Any] = Field(description="weekly hours, holidays, year-end, seasons, special days, override")


class SchedulePatch(Strict):
    name: str | None = Field(default=None, pattern=r"^[^\s/]{1,64}$")
    definition: dict[str, Any] | None = None


class ScheduleOut(BaseModel):
    id: str
    name: str
    definition: dict[str, Any]


class DidIn(Strict):
    number: str = Field(min_length=1, max_length=40, description="any Japanese notation; stored normalized")
    label: str = Field(default="", max_length=255)
    schedule_id: str | None = None
    target_kind: TargetKind
    target: str = Field(min_length=1, max_length=255, description="user id, or a prompt for announcements")
    closed_kind: TargetKind | None = None
    closed_target: str = Field(default="", max_length=255)
    branches: dict[str, Target] = Field(default_factory=dict, description="schedule branch -> target, e.g. override:disaster")


class DidPatch(Strict):
    label: str | None = Field(default=None, max_length=255)
    schedule_id: str | None = None
    target_kind: TargetKind | None = None
    target: str | None = Field(default=None, min_length=1, max_length=255)
    closed_kind: TargetKind | None = None
    closed_target: str | None = Field(default=None, max_length=255)
    branches: dict[str, Target] | None = None


class DidOut(BaseModel):
    id: str
    number: str
    label: str
    schedule_id: str | None
    target_kind: str
    target: str
    closed_kind: str | None
    closed_target: str
    branches: dict[str, Any]


class RingGroupIn(Strict):
    name: str = Field(pattern=r"^[^\s/]{1,64}$")
    extension: str | None = None
    strategy: Literal["simultaneous", "sequential"] = "simultaneous"
    ring_seconds: int = Field(default=20, ge=5, le=300)
    members: list[str] = Field(min_length=1, max_length=100, description="user ids, in ringing order")
    no_answer_kind: TargetKind | None = None
    no_answer_target: str = Field(default="", max_length=255)

    @field_validator("extension")
    @classmethod
    def _check_extension(cls, value: str | None) -> str | None:
        return _extension(value)


class RingGroupPatch(Strict):
    name: str | None = Field(default=None, pattern=r"^[^\s/]{1,64}$")
    extension: str | None = None
    strategy: Literal["simultaneous", "sequential"] | None = None
    ring_seconds: int | None = Field(default=None, ge=5, le=300)
    members: list[str] | None = Field(default=None, min_length=1, max_length=100)
    no_answer_kind: TargetKind | None = None
    no_answer_target: str | None = Field(default=None, max_length=255)

    @field_validator("extension")
    @classmethod
    def _check_extension(cls, value: str | None) -> str | None:
        return _extension(value)


class RingGroupOut(BaseModel):
    id: str
    name: str
    extension: str | None
    strategy: str
    ring_seconds: int
    members: list[str]
    no_answer_kind: str | None
    no_answer_target: str


class ContactIn(Strict):
    name: str = Field(min_length=1, max_length=255)
    name_kana: str = Field(default="", max_length=255, description="reading, for search and sorting")
    organization: str = Field(default="", max_length=255)
    numbers: list[str] = Field(min_length=1, max_length=10, description="any Japanese notation; stored normalized")
    tags: list[str] = Field(default_factory=list, max_length=20)
    note: str = Field(default="", max_length=1000)


class ContactPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    name_kana: str | None = Field(default=None, max_length=255)
    organization: str | None = Field(default=None, max_length=255)
    numbers: list[str] | None = Field(default=None, min_length=1, max_length=10)
    tags: list[str] | None = Field(default=None, max_length=20)
    note: str | None = Field(default=None, max_length=1000)


class ContactOut(BaseModel):
    id: str
    name: str
    name_kana: str
    organization: str
    numbers: list[str]
    tags: list[str]
    note: str


class ServiceClassIn(Strict):
    name: str = Field(pattern=r"^[^\s/]{1,64}$")
    classes: list[RestrictionClass] = Field(description="what its users may call; emergency always passes")


class ServiceClassPatch(Strict):
    name: str | None = Field(default=None, pattern=r"^[^\s/]{1,64}$")
    classes: list[RestrictionClass] | None = None


class ServiceClassOut(BaseModel):
    id: str
    name: str
    classes: list[str]



# Carrier gateways: what mod_sofia needs for one SIP trunk (sofia.c parse_gateways).
_HOST = r"^\[[0-9A-Fa-f:.]{2,45}\]$|" + _DOMAIN        # a host name, an IPv4 address or a bracketed IPv6 one
_SIP_USER = r"^[A-Za-z0-9+._~!$&'()*=,-]{0,128}$"       # a SIP user part: no blank, quote, angle, '@' or ':'
_SECRET = r"^[^\x00-\x1f\x7f]*$"                       # anything printable (XML cannot carry the rest)
_INBOUND = r"^(auto_to_user|auto|\+?[0-9]{2,32})?$"
Transport = Literal["udp", "tcp", "tls"]


def _host(value: str | None) -> str | None:
    if value and value.startswith("["):
        try:
            ipaddress.IPv6Address(value[1:-1])
        except ValueError:
            raise ValueError("not an IPv6 address in brackets") from None
    return value


def _ping(value: int | None) -> int | None:
    if value is not None and 0 < value < 5:
        raise ValueError("ping is off (0) or at least every 5 seconds")
    return value


class GatewayIn(Strict):
    model_config = ConfigDict(serialize_by_alias=True)   # "register" is the API's name (BaseModel has a register)

    name: str = Field(pattern=_GATEWAY,
                      description="FreeSWITCH's gateway name (sofia/gateway/<name>/...); unique on the platform")
    profile: str = Field(default="internal", pattern=_GATEWAY, description="the sofia profile that loads it")
    proxy: str = Field(max_length=255, pattern=_HOST, description="the carrier's SIP host name or address")
    port: int | None = Field(default=None, ge=1, le=65535, description="empty: 5060, or the host's DNS SRV records")
    realm: str = Field(default="", max_length=255, pattern=r"^$|" + _HOST, description="empty: the proxy")
    transport: Transport = "udp"
    username: str = Field(default="", pattern=_SIP_USER, description="required when register is true")
    password: str = Field(default="", max_length=128, pattern=_SECRET, json_schema_extra={"writeOnly": True},
                          description="write-only, never returned; required when register is true")
    register_: bool = Field(default=True, alias="register",
                            description="register with the carrier (else it trusts this node by address)")
    expire_seconds: int = Field(default=3600, ge=30, le=86400, description="registration lifetime in seconds")
    caller_id_in_from: bool = Field(default=False, description="the caller's number in From (else the username)")
    from_user: str = Field(default="", pattern=_SIP_USER, description="empty: the username")
    from_domain: str = Field(default="", max_length=255, pattern=r"^$|" + _HOST, description="empty: the proxy")
    extension: str = Field(default="", pattern=_INBOUND,
                           description="the number inbound calls land on; auto_to_user: the To user; empty: the username")
    ping_seconds: int = Field(default=0, ge=0, le=3600, description="SIP OPTIONS ping interval; 0: off")
    enabled: bool = Field(default=True, description="a disabled gateway is not handed to FreeSWITCH")

    @field_validator("proxy", "realm", "from_domain")
    @classmethod
    def _check_host(cls, value: str) -> str | None:
        return _host(value)

    @field_validator("ping_seconds")
    @classmethod
    def _check_ping(cls, value: int) -> int | None:
        return _ping(value)


class GatewayPatch(Strict):
    model_config = ConfigDict(serialize_by_alias=True)

    profile: str | None = Field(default=None, pattern=_GATEWAY)
    proxy: str | None = Field(default=None, max_length=255, pattern=_HOST)
    port: int | None = Field(default=None, ge=1, le=65535, description="null: the default")
    realm: str | None = Field(default=None, max_length=255, pattern=r"^$|" + _HOST)
    transport: Transport | None = None
    username: str | None = Field(default=None, pattern=_SIP_USER)
    password: str | None = Field(default=None, max_length=128, pattern=_SECRET, json_schema_extra={"writeOnly": True})
    register_: bool | None = Field(default=None, alias="register")
    expire_seconds: int | None = Field(default=None, ge=30, le=86400)
    caller_id_in_from: bool | None = None
    from_user: str | None = Field(default=None, pattern=_SIP_USER)
    from_domain: str | None = Field(default=None, max_length=255, pattern=r"^$|" + _HOST)
    extension: str | None = Field(default=None, pattern=_INBOUND)
    ping_seconds: int | None = Field(default=None, ge=0, le=3600)
    enabled: bool | None = None

    @field_validator("proxy", "realm", "from_domain")
    @classmethod
    def _check_host(cls, value: str | None) -> str | None:
        return _host(value)

    @field_validator("ping_seconds")
    @classmethod
    def _check_ping(cls, value: int | None) -> int | None:
        return _ping(value)


class GatewayOut(BaseModel):
    """A gateway as the API shows it: the password only as ``password_set``."""

    model_config = ConfigDict(serialize_by_alias=True)

    id: str
    name: str
    profile: str
    proxy: str
    port: int | None
    realm: str
    transport: str
    username: str
    password_set: bool
    register_: bool = Field(alias="register")
    expire_seconds: int
    caller_id_in_from: bool
    from_user: str
    from_domain: str
    extension: str
    ping_seconds: int
    enabled: bool

    @model_validator(mode="before")
    @classmethod
    def _hide_password(cls, row: Any) -> Any:
        if isinstance(row, dict) and "password" in row:
            row = {k: v for k, v in row.items() if k != "password"} | {"password_set": bool(row["password"])}
        return row


class IvrIn(Strict):
    """An IVR: the proto3 JSON of hibiki.directory.v1.Ivr (proto/hibiki/directory/v1/ivr.proto)."""
    id: str | None = Field(default=None, pattern=r"^[a-z0-9_-]{1,64}$", description="chosen id; default a UUID")
    name: str = Field(min_length=1, max_length=255)
    root_menu: str = Field(description="id of the first menu")
    menus: list[dict[str, Any]] = Field(description="Menu: id, name, greeting, choices (key -> Branch), "
                                                     "timeout_seconds, max_tries, invalid_prompt, timeout_prompt, on_failure")
    recording_notice: dict[str, Any] | None = Field(default=None, description="Prompt played first (REC-02)")


class IvrPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    root_menu: str | None = None
    menus: list[dict[str, Any]] | None = None
    recording_notice: dict[str, Any] | None = None


class IvrOut(BaseModel):
    id: str
    name: str
    root_menu: str
    menus: list[dict[str, Any]]
    recording_notice: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, row: Any) -> Any:
        if isinstance(row, dict) and "definition" in row:
            return {"id": row["id"], "name": row["name"], **row["definition"]}
        return row
