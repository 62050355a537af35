"""Checking a spooled recording and compressing it: pydub over the ffmpeg PyPI's imageio-ffmpeg ships.

A spool file is what FreeSWITCH wrote (WAV, 1 or 2 channels). :func:`probe` reads its header and
length without trusting the event; :func:`transcode` writes Opus in Ogg (the default) to ``out``.
Both raise :class:`BadAudio` for a file that is not audio we can keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
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
    try:
        segment = AudioSegment.from_file(str(path))
    except (CouldntDecodeError, IndexError, ValueError) as exc:
        raise BadAudio(f"not readable audio: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if segment.channels not in (1, 2):
        raise BadAudio(f"{segment.channels} channels (1 or 2 expected)")
    if len(segment) <= 0:
        raise BadAudio("no audio")
    return Probe(len(segment), segment.channels, segment.frame_rate)


def transcode(source: Path, out: Path, codec: str = "opus", bitrate: str = "24k") -> None:
    """``source`` compressed into ``out`` (both channels kept)."""
    fmt, encoder, _ = CODECS[codec]
    try:
        segment = AudioSegment.from_file(str(source))
        segment.export(str(out), format=fmt, codec=encoder, bitrate=bitrate if codec != "wav" else None)
    except CouldntDecodeError as exc:
        raise BadAudio(str(exc).splitlines()[0]) from None


def media_type(codec: str) -> str:
    return CODECS[codec][2]
