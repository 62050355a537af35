"""The recording service frame: storage checked at start, tokens required."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.common.errors import StartupError
from hibiki.recording.app import main
from hibiki.recording.config import RecordingConfig
from support.servers import free_port, running


def config_for(tmp_path: Path, nats_url: str) -> RecordingConfig:
    return dataclasses.replace(
        RecordingConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_url}), port=free_port())


async def test_storage_and_tokens(tmp_path: Path, nats_server: Any, authority: Any, service_token: str) -> None:
    config = config_for(tmp_path, nats_server.url)
    async with running(main, config):
        assert config.storage_dir.is_dir()
        base = f"http://127.0.0.1:{config.port}"
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"{base}/readyz")
            assert ready.json()["checks"] == {"nats": True, "storage": True}
            assert (await client.get(f"{base}/metrics")).status_code == 401
            ok = await client.get(f"{base}/metrics", headers={"Authorization": f"Bearer {service_token}"})
            assert ok.status_code == 200 and "python_info" in ok.text


async def test_unusable_storage_is_a_startup_error(tmp_path: Path, nats_server: Any, authority: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    config = dataclasses.replace(config_for(tmp_path, nats_server.url), storage_dir=blocker / "recordings")
    with pytest.raises(StartupError, match="recording storage"):
        async with running(main, config):
            pass
