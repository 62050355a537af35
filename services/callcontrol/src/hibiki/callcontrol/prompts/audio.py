"""Audio conversion: ffmpeg decodes, downmixes and resamples; pydub trims and sets loudness.

ffmpeg is the static binary of PyPI's ``imageio-ffmpeg`` (``IMAGEIO_FFMPEG_EXE`` overrides it),
so a machine with only Python needs nothing else; pydub's ``AudioSegment.converter`` points
at it too. ffmpeg resamples (with an anti-aliasing filter, unlike pydub's ``audioop.ratecv``)
straight to the stored format; the demuxer is forced to what the magic bytes said and input
comes on a pipe, so ffmpeg never opens a file or URL named inside an upload.

Conditioning, in order: leading and trailing silence (40 dB under the peak) are cut to
``KEEP_SILENCE_MS``; then one gain brings the level to ``TARGET_DBFS`` (RMS) unless that
would push the peak over ``PEAK_CEILING_DBFS``, in which case the peak decides.
"""

from __future__ import annotations

import io
import subprocess
import warnings
import wave
from functools import cache

from hibiki.callcontrol.prompts.errors import ConversionFailed, InvalidAudio
from hibiki.callcontrol.prompts.model import CHANNELS, SAMPLE_WIDTH, AudioFormat, Speech

with warnings.catch_warnings():
    # pydub warns on import that audioop is deprecated and that no ffmpeg is on PATH.
    warnings.simplefilter("ignore")
    from pydub import AudioSegment
    from pydub.silence import detect_leading_silence

import imageio_ffmpeg  # type: ignore[import-untyped]

TARGET_DBFS = -20.0
PEAK_CEILING_DBFS = -1.0
SILENCE_BELOW_PEAK_DB = 40.0
SILENT_DBFS = -60.0        # a peak under this is no sound at all
KEEP_SILENCE_MS = 100
FFMPEG_TIMEOUT_SECONDS = 120.0


@cache
def ffmpeg_exe() -> str:
    exe = str(imageio_ffmpeg.get_ffmpeg_exe())
    AudioSegment.converter = exe
    return exe


def decode_upload(data: bytes, fmt: AudioFormat, *, rate: int, max_seconds: float) -> AudioSegment:
    """An uploaded WAV or MP3 as mono 16-bit audio at ``rate``; InvalidAudio when ffmpeg
    cannot read it, it holds no sample or it lasts longer than ``max_seconds``."""
    return _decode(data, ["-f", fmt.value], rate=rate, max_seconds=max_seconds, what=f"the {fmt.value.upper()} upload")


def decode_speech(speech: Speech, *, rate: int, max_seconds: float) -> AudioSegment:
    return _decode(speech.pcm, ["-f", "s16le", "-ar", str(speech.sample_rate), "-ac", "1"],
                   rate=rate, max_seconds=max_seconds, what="the synthesised speech")


def _decode(data: bytes, input_args: list[str], *, rate: int, max_seconds: float, what: str) -> AudioSegment:
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *input_args, "-i", "pipe:0",
               "-map", "0:a:0", "-t", f"{max_seconds + 1:.3f}", "-ac", str(CHANNELS), "-ar", str(rate),
               "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise ConversionFailed("conversion-timeout",
                               f"ffmpeg took over {FFMPEG_TIMEOUT_SECONDS:.0f} s on {what}") from None
    except OSError as exc:
        raise ConversionFailed("conversion-failed", f"ffmpeg could not be run: {exc}") from exc
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InvalidAudio("undecodable-audio",
                           f"{what} could not be decoded: {reason[-1] if reason else f'ffmpeg exit {done.returncode}'}")
    pcm = done.stdout[: len(done.stdout) - len(done.stdout) % SAMPLE_WIDTH]
    if not pcm:
        raise InvalidAudio("empty-audio", f"{what} holds no audio")
    if len(pcm) > max_seconds * rate * SAMPLE_WIDTH:
        raise InvalidAudio("audio-too-long", f"{what} lasts more than the {max_seconds:g} s a prompt may last")
    return AudioSegment(pcm, sample_width=SAMPLE_WIDTH, frame_rate=rate, channels=CHANNELS)


def condition(audio: AudioSegment) -> AudioSegment:
    """Trimmed and at the target loudness; InvalidAudio ``silent-audio`` when nothing is heard."""
    if audio.rms == 0 or audio.max_dBFS < SILENT_DBFS:
        raise InvalidAudio("silent-audio", "the audio is silent")
    threshold = audio.max_dBFS - SILENCE_BELOW_PEAK_DB
    lead = detect_leading_silence(audio, silence_threshold=threshold, chunk_size=10)
    tail = detect_leading_silence(audio.reverse(), silence_threshold=threshold, chunk_size=10)
    start, end = max(0, lead - KEEP_SILENCE_MS), min(len(audio), len(audio) - tail + KEEP_SILENCE_MS)
    trimmed = audio[start:end]
    gain = min(TARGET_DBFS - trimmed.dBFS, PEAK_CEILING_DBFS - trimmed.max_dBFS)
    return trimmed.apply_gain(gain)


def to_wav(audio: AudioSegment) -> bytes:
    """A canonical PCM WAV file (44-byte header), written with the standard library."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(audio.channels)
        wav.setsampwidth(audio.sample_width)
        wav.setframerate(audio.frame_rate)
        wav.writeframes(audio.raw_data)
    return out.getvalue()
