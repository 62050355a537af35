"""Japanese text to speech with PyPI's ``pyopenjtalk-plus`` (OpenJTalk and an HTS voice).

The wheel carries its MeCab dictionary, the ``mei_normal`` voice and, through
``sudachidict-core``, Sudachi's dictionary: nothing is downloaded, at install or at run time.
The voice ``default`` is that bundled voice; more voices are ``.htsvoice`` files given by name.
Each voice's identity (engine version, and a digest of a voice file) goes into the cache key,
so a new engine or a replaced voice file makes its prompts anew.

Synthesis takes a fraction of a second of CPU per sentence: call it from a worker thread
(``AsyncPromptStore`` does), never from the asyncio loop or a gevent hub.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
from collections.abc import Mapping
from pathlib import Path

from hibiki.callcontrol.prompts.errors import InvalidRequest, InvalidText
from hibiki.callcontrol.prompts.model import DEFAULT_VOICE, Speech, check_voice

with contextlib.redirect_stdout(io.StringIO()):
    # Without onnxruntime, pyopenjtalk-plus prints a notice on stdout when imported; only its
    # guess between the readings ナニ and ナン of 何 is lost, and stdout is not our log.
    import pyopenjtalk
    from pyopenjtalk.htsengine import HTSEngine
    from pyopenjtalk.version import __version__ as _engine_version


class OpenJTalk:
    def __init__(self, voices: Mapping[str, Path] | None = None) -> None:
        self._files = {check_voice(name): Path(path) for name, path in (voices or {}).items()}
        if DEFAULT_VOICE in self._files:
            raise ValueError(f"the voice name {DEFAULT_VOICE!r} is the bundled voice")
        self._engines: dict[str, HTSEngine] = {}
        self._digests: dict[str, str] = {}
        self._lock = threading.Lock()       # HTSEngine keeps speed and buffers between calls

    @property
    def voices(self) -> frozenset[str]:
        return frozenset({DEFAULT_VOICE, *self._files})

    def engine(self, voice: str) -> str:
        base = f"pyopenjtalk-plus {_engine_version}"
        if voice == DEFAULT_VOICE:
            return base
        path = self._voice_file(voice)
        with self._lock:
            if voice not in self._digests:
                self._digests[voice] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            return f"{base} htsvoice sha256:{self._digests[voice]}"

    def __call__(self, text: str, voice: str, speed: float) -> Speech:
        if voice == DEFAULT_VOICE:
            samples, rate = pyopenjtalk.tts(text, speed=speed)
        else:
            path = self._voice_file(voice)
            labels = pyopenjtalk.extract_fullcontext(text)
            with self._lock:
                engine = self._engines.get(voice)
                if engine is None:
                    engine = self._engines[voice] = HTSEngine(str(path).encode())
                rate = engine.get_sampling_frequency()
                engine.set_speed(speed)
                engine.add_half_tone(0.0)
                samples = engine.synthesize(labels)
        if samples.size == 0:
            raise InvalidText("unspeakable-text", "the text holds nothing to say")
        # HTS produces 16-bit scale floats that can overshoot it: scale down rather than clip.
        peak = max(float(samples.max()), -float(samples.min()), 1.0)
        scale = min(1.0, 32767.0 / peak)
        return Speech(pcm=(samples * scale).round().astype("<i2").tobytes(), sample_rate=int(rate))

    def _voice_file(self, voice: str) -> Path:
        try:
            return self._files[voice]
        except KeyError:
            raise InvalidRequest("unknown-voice", f"there is no voice {voice!r}") from None
