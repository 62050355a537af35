"""What a prompt is, and the pure rules around one: names, TTS text, cache keys, upload formats.

Nothing here touches the disk, ffmpeg or the synthesiser.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from hibiki.callcontrol.prompts.errors import InvalidRequest, InvalidText

# What every stored prompt is: what FreeSWITCH's mod_sndfile plays without a codec and, on
# G.711 calls (every PSTN carrier here), without resampling either.
SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2          # bytes: signed 16-bit little-endian PCM
CHANNELS = 1

# Bump when the conversion changes what a given input sounds like (rate, loudness target,
# trimming): every TTS cache key changes with it, so cached prompts are made again.
FORMAT_VERSION = 1

DEFAULT_VOICE = "default"
MIN_SPEED, MAX_SPEED = 0.5, 2.0

_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_VOICE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
PROMPT_ID = re.compile(r"^[tu][0-9a-f]{32}$")     # t: text to speech, u: upload


@dataclass(frozen=True)
class Prompt:
    tenant: str
    id: str
    path: Path            # where this process reads the file (absolute)
    playback: str         # the absolute path to give FreeSWITCH's ``playback``
    duration_ms: int
    sample_rate: int

    @property
    def source(self) -> str:
        return "tts" if self.id.startswith("t") else "upload"


@dataclass(frozen=True)
class Speech:
    """What a synthesiser returns: signed 16-bit little-endian mono samples."""

    pcm: bytes
    sample_rate: int


class Synthesiser(Protocol):
    def engine(self, voice: str) -> str:
        """What identifies the sound of ``voice`` (engine and voice versions); raises
        InvalidRequest ``unknown-voice`` for a voice it does not have."""
        ...

    def __call__(self, text: str, voice: str, speed: float) -> Speech: ...


class AudioFormat(StrEnum):
    WAV = "wav"
    MP3 = "mp3"


def sniff_format(data: bytes) -> AudioFormat | None:
    """The container by its magic bytes (a file name can lie): RIFF/WAVE, or MP3 with an
    ID3v2 tag or starting on an MPEG layer III frame header."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return AudioFormat.WAV
    if data[:3] == b"ID3" and len(data) >= 10:
        return AudioFormat.MP3
    if len(data) >= 4 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        version, layer = (data[1] >> 3) & 3, (data[1] >> 1) & 3
        bitrate, rate = data[2] >> 4, (data[2] >> 2) & 3
        if version != 1 and layer == 1 and bitrate not in (0, 15) and rate != 3:
            return AudioFormat.MP3
    return None


def check_tenant(tenant: str) -> str:
    if not _TENANT.match(tenant):
        raise InvalidRequest("invalid-tenant", f"tenant {tenant!r} is not a tenant id (a-z, 0-9, _ and -)")
    return tenant


def check_prompt_id(prompt_id: str) -> str:
    if not PROMPT_ID.match(prompt_id):
        raise InvalidRequest("invalid-prompt-id", f"{prompt_id!r} is not a prompt id")
    return prompt_id


def check_voice(voice: str) -> str:
    if not _VOICE.match(voice):
        raise InvalidRequest("unknown-voice", f"{voice!r} is not a voice name")
    return voice


def check_speed(speed: float) -> float:
    if not (math.isfinite(speed) and MIN_SPEED <= speed <= MAX_SPEED):
        raise InvalidRequest("invalid-speed", f"speed {speed!r} is outside {MIN_SPEED}-{MAX_SPEED}")
    return float(speed)


def clean_text(text: str, max_chars: int) -> str:
    """The text to speak: NFC-normalised and stripped; refused when empty, longer than
    ``max_chars`` or holding a control character (line breaks included: one prompt, one line)."""
    cleaned = unicodedata.normalize("NFC", text).strip()
    if not cleaned:
        raise InvalidText("empty-text", "the text to speak is empty")
    if len(cleaned) > max_chars:
        raise InvalidText("text-too-long", f"the text has {len(cleaned)} characters, more than {max_chars}")
    for position, char in enumerate(cleaned):
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise InvalidText("invalid-text",
                              f"the text holds a control character U+{ord(char):04X} at position {position}")
    return cleaned


def tts_key(text: str, voice: str, speed: float, engine: str) -> str:
    """The cache key of a spoken text: SHA-256 over an unambiguous JSON encoding of every
    input that changes the sound (``repr`` keeps every float distinct)."""
    material = json.dumps([FORMAT_VERSION, engine, voice, repr(float(speed)), text], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def tts_prompt_id(key: str) -> str:
    return "t" + key[:32]


def upload_prompt_id(wav: bytes) -> str:
    """Uploads are named by what they became: the same sound uploaded twice is one prompt."""
    return "u" + hashlib.sha256(wav).hexdigest()[:32]
