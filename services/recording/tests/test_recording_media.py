"""Compressing a stereo recording keeps the parties apart: what one says must not come back on the
other's channel (REC-02: the caller on channel 1, the other party on channel 2)."""

from __future__ import annotations

import wave
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from pydub import AudioSegment

from hibiki.recording.domain import media

RATE = 8000


def stereo_wav(path: Path, left: np.ndarray, right: np.ndarray) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(np.stack([left, right], 1).astype("<i2").tobytes())


def decoded(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    segment = AudioSegment.from_file(BytesIO(path.read_bytes()), format="ogg", codec="opus")
    assert segment.channels == 2
    frames = np.frombuffer(segment.raw_data, dtype="<i2").astype(np.float64)
    return frames[0::2], frames[1::2], segment.frame_rate


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples ** 2)))


@pytest.mark.parametrize("silent", ["left", "right"])
def test_one_party_does_not_leak_into_the_silent_channel(tmp_path: Path, silent: str) -> None:
    seconds = 5
    t = np.arange(RATE * seconds) / RATE
    tone = 9400 * np.sqrt(2) * np.sin(2 * np.pi * 440 * t)         # a loud phone on one channel
    quiet = np.zeros_like(tone)
    left, right = (quiet, tone) if silent == "left" else (tone, quiet)
    stereo_wav(tmp_path / "call.wav", left, right)
    probe = media.probe(tmp_path / "call.wav")
    assert (probe.channels, probe.sample_rate, probe.duration_ms) == (2, RATE, seconds * 1000)

    media.transcode(tmp_path / "call.wav", tmp_path / "call.ogg", "opus", "24k")
    out_left, out_right, rate = decoded(tmp_path / "call.ogg")
    still, loud = (out_left, out_right) if silent == "left" else (out_right, out_left)
    leak_db = 20 * np.log10(max(rms(still), 1e-9) / rms(loud))
    print(f"\n  opus 24k: {silent} channel silent, the other at rms {rms(loud):.0f}: leak {rms(still):.1f} rms "
          f"({leak_db:.0f} dB), {out_left.size / rate:.2f} s")
    assert abs(out_left.size / rate - seconds) < 0.1
    assert rms(loud) > 5000
    assert leak_db < -45                    # libopus's "audio" default leaked at -26 dB here
