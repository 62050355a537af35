"""Directory settings, from HIBIKI_DIRECTORY_* (and shared HIBIKI_*) variables."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from hibiki.common.config import Env, data_dir
from hibiki.common.errors import ConfigError
from hibiki.common.digits import ascii_digits

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PLACEHOLDER_PASSWORDS = frozenset({"CHANGE-ME-fsapi", "CHANGE-ME"})   # freeswitch/conf/vars.xml, deploy/k8s


@dataclass(frozen=True)
class DirectoryConfig:
    host: str
    port: int
    grpc_port: int
    database_url: str
    journal: Path | None        # SQLite's change journal (storage/journal.py); None: "off"
    nats_url: str
    data_dir: Path
    fsapi_allow: tuple[Network, ...]
    fsapi_user: str | None
    fsapi_password: str | None
    fsapi_max_body: int
    resync_seconds: float
    auth_max_failures: int
    auth_window_seconds: float
    auth_block_seconds: float
    auth_scanner_usernames: int
    callcontrol_address: str
    session_idle_seconds: float = 1800.0
    session_max_seconds: float = 43200.0
    login_max_failures: int = 5
    login_window_seconds: float = 900.0
    login_address_max_failures: int = 50
    voicemail_db: Path | None = None        # FreeSWITCH's db/voicemail_default.db (mounted from the node)
    voicemail_dir: Path | None = None       # FreeSWITCH's storage/voicemail (mounted from the node)
    acd_http: str = "http://127.0.0.1:8081"          # the console's queues and agents pages go there
    analytics_http: str = "http://127.0.0.1:8083"    # a user's page's call history comes from there
    callcontrol_http: str = "http://127.0.0.1:8085"  # the IVR test mode's greetings (the prompt store)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> DirectoryConfig:
        env = Env.load("directory", environ)
        shared = Env.load("", environ)
        root = data_dir(shared)
        user, password = env.optional("FSAPI_USER"), env.optional("FSAPI_PASSWORD")
        if bool(user) != bool(password):
            raise ConfigError(f"{env.key('FSAPI_USER')} and {env.key('FSAPI_PASSWORD')} must be set together")
        if password is not None and password in PLACEHOLDER_PASSWORDS:
            raise ConfigError(f"{env.key('FSAPI_PASSWORD')} is a placeholder written in the repository: "
                              "choose a secret (hibiki up generates one)")
        return cls(
            host=env.text("HOST", "127.0.0.1"),
            port=env.port("PORT", 8080),
            grpc_port=env.port("GRPC_PORT", 50052),
            database_url=env.text("DATABASE_URL", f"sqlite:///{root / 'directory.sqlite'}"),
            journal=None if env.text("JOURNAL", "") == "off" else env.path("JOURNAL", root / "directory.journal"),
            nats_url=shared.text("NATS_URL", "nats://127.0.0.1:4222"),
            data_dir=root,
            fsapi_allow=env.networks("FSAPI_ALLOW", "127.0.0.1/32,::1/128"),
            fsapi_user=user,
            fsapi_password=password,
            fsapi_max_body=env.integer("FSAPI_MAX_BODY", 65536, minimum=1024),
            resync_seconds=env.number("RESYNC_SECONDS", 30.0, minimum=0.1),
            auth_max_failures=env.integer("AUTH_MAX_FAILURES", 10, minimum=1),
            auth_window_seconds=env.number("AUTH_WINDOW_SECONDS", 60.0, minimum=1.0),
            auth_block_seconds=env.number("AUTH_BLOCK_SECONDS", 600.0, minimum=1.0),
            auth_scanner_usernames=env.integer("AUTH_SCANNER_USERNAMES", 5, minimum=2),
            callcontrol_address=_host_port(env, "CALLCONTROL_ADDRESS", "127.0.0.1:8084"),
            session_idle_seconds=env.number("SESSION_IDLE_SECONDS", 1800.0, minimum=10.0),
            session_max_seconds=env.number("SESSION_MAX_SECONDS", 43200.0, minimum=10.0),
            login_max_failures=env.integer("LOGIN_MAX_FAILURES", 5, minimum=1),
            login_window_seconds=env.number("LOGIN_WINDOW_SECONDS", 900.0, minimum=1.0),
            login_address_max_failures=env.integer("LOGIN_ADDRESS_MAX_FAILURES", 50, minimum=1),
            voicemail_db=_path(env.optional("VOICEMAIL_DB")),
            voicemail_dir=_path(env.optional("VOICEMAIL_DIR")),
            acd_http=_http(env, "ACD_HTTP", "http://127.0.0.1:8081"),
            analytics_http=_http(env, "ANALYTICS_HTTP", "http://127.0.0.1:8083"),
            callcontrol_http=_http(env, "CALLCONTROL_HTTP", "http://127.0.0.1:8085"),
        )


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _http(env: Env, name: str, default: str) -> str:
    value = env.text(name, default).rstrip("/")
    if not value.startswith(("http://", "https://")) or "?" in value or "#" in value:
        raise ConfigError(f"{env.key(name)}={value!r} is not an http(s) base URL")
    return value


def _host_port(env: Env, name: str, default: str) -> str:
    value = env.text(name, default)
    host, _, port = value.rpartition(":")
    if not host or not (ascii_digits(port)) or not 0 < int(port) < 65536:
        raise ConfigError(f"{env.key(name)}={value!r} is not host:port")
    return value
