"""Recording settings, from HIBIKI_RECORDING_* (and shared HIBIKI_*) variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hibiki.common.config import Env, data_dir


@dataclass(frozen=True)
class RecordingConfig:
    host: str
    port: int
    nats_url: str
    data_dir: Path
    storage_dir: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> RecordingConfig:
        env = Env.load("recording", environ)
        shared = Env.load("", environ)
        root = data_dir(shared)
        return cls(
            host=env.text("HOST", "127.0.0.1"),
            port=env.port("PORT", 8082),
            nats_url=shared.text("NATS_URL", "nats://127.0.0.1:4222"),
            data_dir=root,
            storage_dir=env.path("STORAGE_DIR", root / "recordings"),
        )
