"""Checking a spooled recording and compressing it: pydub over the ffmpeg PyPI's imageio-ffmpeg ships.

A spool file is what FreeSWITCH wrote (WAV, 1 or 2 channels). :func:`probe` reads its header and
length with Python's ``wave`` without trusting the event; :func:`transcode` writes Opus in Ogg (the default) to ``out``.
Both raise :class:`BadAudio` for a file that is not audio we can keep.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg  # type: ignore[import-untyped]
from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError

AudioSegment.converter = imageio_ffmpeg.get_ffmpeg_exe()
FFMPEG = AudioSegment.converter
CODECS = {"opus": ("ogg", "libopus", "audio/ogg"), "mp3": ("mp3", "libmp3lame", "audio/mpeg"),
          "wav": ("wav", "pcm_s16le", "audio/wav")}


class BadAudio(Exception):
    """The spool file is not a recording we can keep (empty, truncated, not audio)."""


@dataclass(frozen=True)
class Probe:
    duration_ms: int
    channels: int
    sample_rate: int


def probe(path: Path) -> Probe:
    """The WAV's header and length, read by Python's ``wave`` (no subprocess, nothing trusted)."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, rate, frames, width = wav.getnchannels(), wav.getframerate(), wav.getnframes(), wav.getsampwidth()
    except (wave.Error, EOFError, OSError) as exc:
        raise BadAudio(f"not a readable WAV: {str(exc) or type(exc).__name__}") from None
    if channels not in (1, 2):
        raise BadAudio(f"{channels} channels (1 or 2 expected)")
    if width not in (1, 2, 3, 4) or not 4000 <= rate <= 192000:
        raise BadAudio(f"unsupported sample format ({width} bytes at {rate} Hz)")
    actual = (path.stat().st_size - 44) // (channels * width)    # a header FreeSWITCH did not finish
    frames = min(frames, actual) if frames > actual > 0 else frames
    if frames <= 0:
        raise BadAudio("no audio")
    return Probe(frames * 1000 // rate, channels, rate)


# libopus's default ("audio") narrows the stereo image below ~32 kbit/s: one party's voice then leaks into
# the other's channel (a 440 Hz tone on channel 2 came back on a silent channel 1 at -26 dB). "voip" codes
# telephone speech and keeps the two channels apart at 24 kbit/s.
ENCODER_OPTIONS = {"opus": ["-application", "voip"]}


def transcode(source: Path, out: Path, codec: str = "opus", bitrate: str = "24k") -> None:
    """``source`` compressed into ``out`` (both channels kept, each party on its own)."""
    fmt, encoder, _ = CODECS[codec]
    try:
        segment = AudioSegment.from_wav(str(source))
        segment.export(str(out), format=fmt, codec=encoder, bitrate=bitrate if codec != "wav" else None,
                       parameters=ENCODER_OPTIONS.get(codec))
    except (CouldntDecodeError, OSError) as exc:
        raise BadAudio(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


def media_type(codec: str) -> str:
    return CODECS[codec][2]
