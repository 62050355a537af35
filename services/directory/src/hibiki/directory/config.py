"""Directory settings, from HIBIKI_DIRECTORY_* (and shared HIBIKI_*) variables."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from hibiki.common.config import Env, data_dir
from hibiki.common.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PLACEHOLDER_PASSWORDS = frozenset({"CHANGE-ME-fsapi", "CHANGE-ME"})   # freeswitch/conf/vars.xml, deploy/k8s


@dataclass(frozen=True)
class DirectoryConfig:
    host: str
    port: int
    grpc_port: int
    database_url: str
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
        )


def _host_port(env: Env, name: str, default: str) -> str:
    value = env.text(name, default)
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{env.key(name)}={value!r} is not host:port")
    return value
