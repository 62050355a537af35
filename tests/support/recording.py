"""Recording test helpers: WAV spool files like FreeSWITCH's, RecordingStopped events, the
recording service as a real process, an S3-compatible server (moto's server mode)."""

from __future__ import annotations

import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import uuid
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from google.protobuf.timestamp_pb2 import Timestamp

from hibiki.common import bus
from hibiki.events.v1 import meta_pb2, recording_pb2
from support.servers import free_port
from hibiki.stack.ports import wait_for_port


def make_wav(path: Path, seconds: float = 2.0, channels: int = 2, rate: int = 8000) -> Path:
    """A spool file as FreeSWITCH writes it: 16-bit PCM, caller left, the other party right."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(seconds * rate)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        sample = [struct.pack("<h", int(9000 * math.sin(2 * math.pi * f * i / rate))) for i in range(frames)
                  for f in (440, 660)[:channels]]
        wav.writeframes(b"".join(sample))
    return path


def spool_path(spool: Path, tenant: str, recording_id: str, at: datetime) -> Path:
    return spool / tenant / f"{at:%Y/%m/%d}" / f"{recording_id}.wav"


def _stamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def stopped(tenant: str, recording_id: str, path: Path, *, started: datetime | None = None, seconds: float = 2.0,
            call_id: str | None = None, **fields: Any) -> recording_pb2.RecordingStopped:
    started = started or datetime.now(UTC) - timedelta(seconds=seconds)
    call_id = call_id or str(uuid.uuid4())
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{recording_id}/stopped"))
    values: dict[str, Any] = dict(direction=1, caller_number="0311112222", callee_number="2001", did="0462511111",
                                  queue_id="support", agent_id="agent-7", user="2001", channels=2, sample_rate=8000,
                                  part=1, reason=recording_pb2.RECORDING_REASON_POLICY)
    values.update(fields)
    return recording_pb2.RecordingStopped(
        meta=meta_pb2.EventMeta(id=event_id, tenant=tenant, occurred_at=_stamp(datetime.now(UTC)),
                                source="tests", call_uuid=call_id),
        recording_id=recording_id, call_id=call_id, leg_uuid=call_id, spool_path=str(path),
        started_at=_stamp(started), stopped_at=_stamp(started + timedelta(seconds=seconds)),
        recorded_ms=int(seconds * 1000), **values)


async def publish_stopped(js: Any, event: recording_pb2.RecordingStopped) -> None:
    await bus.publish(js, bus.subject(event.meta.tenant, "recording", "stopped"), event.SerializeToString(),
                      event.meta.id)


def decode_ogg(data: bytes, tmp: Path) -> wave.Wave_read:
    """The stored audio decoded back to WAV by the project's ffmpeg: it is playable audio."""
    import imageio_ffmpeg

    source, target = tmp / f"{uuid.uuid4()}.ogg", tmp / f"{uuid.uuid4()}.wav"
    source.write_bytes(data)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(source), str(target)], check=True)
    return wave.open(str(target), "rb")


class ServiceProcess:
    """``hibiki serve recording`` as a real process on a free port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.port = env, log, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, **extra: str) -> None:
        env = {**os.environ, **self.env, **extra, "HIBIKI_RECORDING_PORT": str(self.port)}
        if not extra.get("HIBIKI_RECORDING_KILL_AFTER"):
            env.pop("HIBIKI_RECORDING_KILL_AFTER", None)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "hibiki.stack.cli", "serve", "recording"],
                                            env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"recording exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("recording not ready")

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class MotoServer:
    """moto's S3-compatible server (``moto[server]`` from PyPI, no root) on a free loopback port."""

    def __init__(self, log: Path) -> None:
        self.port, self.log = free_port(), log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)], stdout=out,
                                            stderr=subprocess.STDOUT)
        wait_for_port(self.port, timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def long_wav(path: Path, seconds: float) -> Path:
    """A stereo 8 kHz spool file, built from one second of two tones repeated (fast to write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = 8000
    second = b"".join(struct.pack("<hh", int(9000 * math.sin(2 * math.pi * 440 * i / rate)),
                                  int(9000 * math.sin(2 * math.pi * 660 * i / rate))) for i in range(rate))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(second * int(seconds))
    return path
