"""The prompt store: audio files FreeSWITCH plays, one directory per tenant.

Layout: ``<root>/<tenant>/<id>.wav``, 16-bit signed PCM, mono, 8000 Hz (``model.SAMPLE_RATE``).
``root`` is ``<HIBIKI_DATA_DIR>/prompts`` by default (``prompts_root``). Ids are derived from
content: ``u<hash of the converted audio>`` for uploads, ``t<hash of the cache key>`` for
spoken text. A file is written to a temporary name beside it, flushed, made world-readable
and renamed over its final name, so a reader (FreeSWITCH, another replica) sees a whole
file or none; two writers of one id write the same bytes, so the last rename wins harmlessly.

FreeSWITCH plays ``Prompt.playback``, an absolute path: in deployment the store's volume is
mounted on every FreeSWITCH node too, at ``playback_root`` (the same path as here when not
given). Only 8 kHz files are written: carriers and desk phones speak G.711, which plays them
untouched; mod_sndfile resamples for wideband calls. Should a 16 kHz variant come,
mod_sndfile looks for ``<dir>/<channel rate>/<file>`` first and then falls back to the
*highest* rate directory it finds, so it must go to ``16000/<id>.wav`` with an 8 kHz copy in
``8000/<id>.wav`` beside it, or narrowband calls would get the downsampled wideband one.

Conversion is CPU work (ffmpeg, speech synthesis): ``PromptStore`` is synchronous and
thread-safe; asyncio callers use ``AsyncPromptStore``, which runs it in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
import wave
from pathlib import Path, PurePosixPath

from hibiki.callcontrol.prompts import audio
from hibiki.callcontrol.prompts.errors import AudioTooLarge, InvalidAudio, InvalidRequest, InvalidText, PromptNotFound
from hibiki.callcontrol.prompts.model import (
    DEFAULT_VOICE,
    PROMPT_ID,
    SAMPLE_RATE,
    Prompt,
    Synthesiser,
    check_prompt_id,
    check_speed,
    check_tenant,
    check_voice,
    clean_text,
    sniff_format,
    tts_key,
    tts_prompt_id,
    upload_prompt_id,
)

MAX_UPLOAD_BYTES = 128 * 1024 * 1024   # ten minutes of 48 kHz stereo 16-bit WAV fit
MAX_SECONDS = 600.0
HOLD_MUSIC_FILE = "hold-music"       # <root>/<tenant>/hold-music: the id of the tenant's hold music prompt
MAX_TEXT_CHARS = 1000
_LOCK_STRIPES = 64


def prompts_root(data_dir: Path) -> Path:
    return data_dir / "prompts"


class PromptStore:
    def __init__(self, root: Path, synthesiser: Synthesiser, *, playback_root: str | None = None,
                 max_upload_bytes: int = MAX_UPLOAD_BYTES, max_seconds: float = MAX_SECONDS,
                 max_text_chars: int = MAX_TEXT_CHARS) -> None:
        self.root = root.resolve()
        self.playback_root = PurePosixPath(playback_root or self.root)
        if not self.playback_root.is_absolute():
            raise ValueError(f"playback_root {playback_root!r} is not an absolute path")
        self._synthesise = synthesiser
        self._max_upload_bytes = max_upload_bytes
        self._max_seconds = max_seconds
        self._max_text_chars = max_text_chars
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    def normalise(self, tenant: str, upload: bytes, filename: str = "") -> Prompt:
        """Store an uploaded WAV or MP3 as a prompt. The format is read from the bytes;
        ``filename`` only names the upload in errors."""
        check_tenant(tenant)
        name = f" {filename!r}" if filename else ""
        if not upload:
            raise InvalidAudio("empty-audio", f"the upload{name} is empty")
        if len(upload) > self._max_upload_bytes:
            raise AudioTooLarge("audio-too-large", f"the upload{name} has {len(upload)} bytes, "
                                                   f"more than the {self._max_upload_bytes} allowed")
        fmt = sniff_format(upload)
        if fmt is None:
            raise InvalidAudio("unsupported-audio-format", f"the upload{name} is neither a WAV nor an MP3 file")
        decoded = audio.decode_upload(upload, fmt, rate=SAMPLE_RATE, max_seconds=self._max_seconds)
        wav = audio.to_wav(audio.condition(decoded))
        prompt_id = upload_prompt_id(wav)
        path = self._path(tenant, prompt_id)
        if not path.exists():
            _write_atomically(path, wav)
        return self._prompt(tenant, prompt_id)

    def speak(self, tenant: str, text: str, voice: str = DEFAULT_VOICE, speed: float = 1.0) -> Prompt:
        """The prompt saying ``text``: synthesised once per (text, voice, speed, engine), then
        served from the store."""
        check_tenant(tenant)
        text = clean_text(text, self._max_text_chars)
        speed = check_speed(speed)
        key = tts_key(text, check_voice(voice), speed, self._synthesise.engine(voice))
        prompt_id = tts_prompt_id(key)
        path = self._path(tenant, prompt_id)
        if not path.exists():
            with self._locks[int(key[:8], 16) % _LOCK_STRIPES]:
                if not path.exists():
                    speech = self._synthesise(text, voice, speed)
                    decoded = audio.decode_speech(speech, rate=SAMPLE_RATE, max_seconds=self._max_seconds)
                    try:
                        conditioned = audio.condition(decoded)
                    except InvalidAudio as exc:
                        raise InvalidText("unspeakable-text", f"the text gave no speech ({exc.message})") from exc
                    _write_atomically(path, audio.to_wav(conditioned))
        return self._prompt(tenant, prompt_id)

    def get(self, tenant: str, prompt_id: str) -> Prompt:
        check_tenant(tenant)
        check_prompt_id(prompt_id)
        return self._prompt(tenant, prompt_id)

    def list_prompts(self, tenant: str) -> list[Prompt]:
        check_tenant(tenant)
        directory = self.root / tenant
        if not directory.is_dir():
            return []
        ids = sorted(p.stem for p in directory.glob("*.wav") if PROMPT_ID.match(p.stem))
        prompts = []
        for prompt_id in ids:
            try:
                prompts.append(self._prompt(tenant, prompt_id))
            except PromptNotFound:      # deleted meanwhile
                continue
        return prompts

    def delete(self, tenant: str, prompt_id: str) -> None:
        check_tenant(tenant)
        check_prompt_id(prompt_id)
        try:
            self._path(tenant, prompt_id).unlink()
        except FileNotFoundError:
            raise PromptNotFound("prompt-not-found", f"tenant {tenant!r} has no prompt {prompt_id!r}") from None

    def hold_music(self, tenant: str) -> Prompt | None:
        """The tenant's own hold music (one of its prompts), or None: the platform's default.
        A chosen prompt deleted since is None too."""
        check_tenant(tenant)
        try:
            prompt_id = (self.root / tenant / HOLD_MUSIC_FILE).read_text(encoding="ascii").strip()
            return self._prompt(tenant, check_prompt_id(prompt_id))
        except (FileNotFoundError, PromptNotFound, InvalidRequest, UnicodeDecodeError):
            return None

    def choose_hold_music(self, tenant: str, prompt_id: str | None) -> Prompt | None:
        """Make one of the tenant's prompts its hold music (None: back to the default)."""
        check_tenant(tenant)
        choice = self.root / tenant / HOLD_MUSIC_FILE
        if prompt_id is None:
            choice.unlink(missing_ok=True)
            return None
        prompt = self.get(tenant, prompt_id)
        _write_atomically(choice, prompt.id.encode("ascii"))
        return prompt

    def playback_path(self, tenant: str, prompt_id: str) -> str:
        """The absolute path FreeSWITCH plays (``playback``, ``play_and_get_digits``)."""
        check_tenant(tenant)
        check_prompt_id(prompt_id)
        return str(self.playback_root / tenant / f"{prompt_id}.wav")

    def _path(self, tenant: str, prompt_id: str) -> Path:
        return self.root / tenant / f"{prompt_id}.wav"

    def _prompt(self, tenant: str, prompt_id: str) -> Prompt:
        path = self._path(tenant, prompt_id)
        try:
            with wave.open(str(path), "rb") as wav:
                frames, rate = wav.getnframes(), wav.getframerate()
        except FileNotFoundError:
            raise PromptNotFound("prompt-not-found", f"tenant {tenant!r} has no prompt {prompt_id!r}") from None
        return Prompt(tenant=tenant, id=prompt_id, path=path, playback=self.playback_path(tenant, prompt_id),
                      duration_ms=round(frames * 1000 / rate), sample_rate=rate)


class AsyncPromptStore:
    """The store for asyncio callers: every call runs in a worker thread, conversions at
    most ``max_conversions`` at a time so uploads cannot take every thread of the loop."""

    def __init__(self, store: PromptStore, max_conversions: int = 2) -> None:
        self.store = store
        self._conversions = asyncio.Semaphore(max_conversions)

    async def normalise(self, tenant: str, upload: bytes, filename: str = "") -> Prompt:
        async with self._conversions:
            return await asyncio.to_thread(self.store.normalise, tenant, upload, filename)

    async def speak(self, tenant: str, text: str, voice: str = DEFAULT_VOICE, speed: float = 1.0) -> Prompt:
        async with self._conversions:
            return await asyncio.to_thread(self.store.speak, tenant, text, voice, speed)

    async def get(self, tenant: str, prompt_id: str) -> Prompt:
        return await asyncio.to_thread(self.store.get, tenant, prompt_id)

    async def list_prompts(self, tenant: str) -> list[Prompt]:
        return await asyncio.to_thread(self.store.list_prompts, tenant)

    async def delete(self, tenant: str, prompt_id: str) -> None:
        await asyncio.to_thread(self.store.delete, tenant, prompt_id)

    async def hold_music(self, tenant: str) -> Prompt | None:
        return await asyncio.to_thread(self.store.hold_music, tenant)

    async def choose_hold_music(self, tenant: str, prompt_id: str | None) -> Prompt | None:
        return await asyncio.to_thread(self.store.choose_hold_music, tenant, prompt_id)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)       # FreeSWITCH reads it as another user; mkstemp made it 0600
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
