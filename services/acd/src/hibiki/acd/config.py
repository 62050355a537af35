"""ACD settings, from HIBIKI_ACD_* (and shared HIBIKI_*) variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hibiki.common.config import Env, data_dir


@dataclass(frozen=True)
class AcdConfig:
    host: str
    port: int          # HTTP
    grpc_port: int
    nats_url: str
    data_dir: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> AcdConfig:
        env = Env.load("acd", environ)
        shared = Env.load("", environ)
        return cls(
            host=env.text("HOST", "127.0.0.1"),
            port=env.port("PORT", 8081),
            grpc_port=env.port("GRPC_PORT", 50051),
            nats_url=shared.text("NATS_URL", "nats://127.0.0.1:4222"),
            data_dir=data_dir(shared),
        )
