"""Call-control settings, from HIBIKI_CALLCONTROL_* (and shared HIBIKI_*) variables."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from hibiki.common.config import Env, data_dir

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class CallControlConfig:
    host: str
    port: int            # HTTP: health, metrics
    esl_port: int        # outbound event socket FreeSWITCH connects to
    esl_allow: tuple[Network, ...]
    nats_url: str
    data_dir: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> CallControlConfig:
        env = Env.load("callcontrol", environ)
        shared = Env.load("", environ)
        return cls(
            host=env.text("HOST", "127.0.0.1"),
            port=env.port("PORT", 8085),
            esl_port=env.port("ESL_PORT", 8084),
            esl_allow=env.networks("ESL_ALLOW", "127.0.0.0/8,::1/128"),
            nats_url=shared.text("NATS_URL", "nats://127.0.0.1:4222"),
            data_dir=data_dir(shared),
        )
