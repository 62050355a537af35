"""Generate Hibiki's sound directory (``just sounds``): system prompts, voicemail prompts, hold music.

    python tools/gen_sounds.py [--out DIR] [--force]

``freeswitch/sounds`` is FreeSWITCH's ``sounds_dir`` for Hibiki (start FreeSWITCH with
``-sounds <it>`` or copy it there). Every prompt's text is in ``freeswitch/sounds/prompts.toml``
(plus the number series made here); each becomes an 8 kHz mono 16-bit WAV, levelled and trimmed
like callcontrol's prompts:

- ``ja/jp/hibiki/...`` with pyopenjtalk-plus (the project's TTS, offline, in the virtualenv);
- ``en/us/hibiki/...`` with espeak-ng (``apt-get install espeak-ng``; only needed to remake
  the English files);
- ``music/8000/hibiki-hold.wav``: a tune computed here (no sample, no licence).

``MANIFEST.tsv`` records, per file, a digest of what it was made from (engine, text) and of the
file itself. A file whose source is unchanged is kept, so a run remakes only what changed (or
everything with ``--force``); the tests compare the manifest with the catalogue and the files.
The files are committed: a FreeSWITCH node needs no TTS, only this directory (about 6 MB).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import subprocess
import sys
import tempfile
import tomllib
import wave
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOUNDS = ROOT / "freeswitch" / "sounds"
CATALOGUE = SOUNDS / "prompts.toml"
MANIFEST = "MANIFEST.tsv"
RATE = 8000
PREFIXES = {"ja": "ja/jp/hibiki", "en": "en/us/hibiki"}
HOLD_MUSIC = "music/8000/hibiki-hold.wav"
MAX_COUNT = 99          # voicemail/count/0..99 and voicemail/nth/1..99; beyond: .../many.wav
JA_DIGITS = ("ゼロ", "いち", "に", "さん", "よん", "ご", "ろく", "なな", "はち", "きゅう")
ENGINES = {"ja": "pyopenjtalk-plus default voice", "en": "espeak-ng en-us 150wpm", "music": "hibiki-tune 1"}


def catalogue(path: Path = CATALOGUE) -> dict[str, dict[str, str]]:
    """Every generated file (relative to the sound directory) -> (language, text)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    entries: dict[str, dict[str, str]] = {}
    for lang, prefix in PREFIXES.items():
        texts: dict[str, str] = dict(data[lang])
        for n in range(10):
            texts[f"digits/{n}.wav"] = JA_DIGITS[n] if lang == "ja" else str(n)
        for n in range(MAX_COUNT + 1):
            texts[f"voicemail/count/{n}.wav"] = f"{n}件" if lang == "ja" else str(n)
            if n:
                texts[f"voicemail/nth/{n}.wav"] = f"{n}件目" if lang == "ja" else str(n)
        entries.update({f"{prefix}/{rel}": {"lang": lang, "text": text} for rel, text in texts.items()})
    entries[HOLD_MUSIC] = {"lang": "music", "text": ""}
    return entries


def source_digest(lang: str, text: str) -> str:
    return hashlib.sha256(f"{ENGINES[lang]}\n{text}".encode()).hexdigest()[:16]


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def read_manifest(out: Path) -> dict[str, tuple[str, str]]:
    path = out / MANIFEST
    if not path.exists():
        return {}
    rows = (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line and line[0] != "#")
    return {row[0]: (row[1], row[2]) for row in rows}


def write_manifest(out: Path, rows: dict[str, tuple[str, str]]) -> None:
    lines = ["# path\tsource (engine + text)\tfile (sha256, first 16 hex digits)"]
    lines += [f"{name}\t{source}\t{data}" for name, (source, data) in sorted(rows.items())]
    (out / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")


def japanese(text: str) -> bytes:
    from hibiki.callcontrol.prompts.audio import condition, decode_speech, to_wav
    from hibiki.callcontrol.prompts.tts import OpenJTalk
    speech = OpenJTalk()(text, "default", 1.0)
    return to_wav(condition(decode_speech(speech, rate=RATE, max_seconds=60)))


def english(text: str) -> bytes:
    from hibiki.callcontrol.prompts.audio import condition, decode_upload, to_wav
    from hibiki.callcontrol.prompts.model import AudioFormat
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "out.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True)
        return to_wav(condition(decode_upload(wav.read_bytes(), AudioFormat.WAV, rate=RATE, max_seconds=60)))


# A slow, quiet tune over four chords (C, Am, F, G), one bar each, played twice: 32 s at 60 bpm.
_CHORDS = ((60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62))
_MELODY = ((72, 76, 79, 76), (72, 69, 72, 76), (77, 76, 72, 69), (71, 74, 79, 74))


def hold_music(seconds_per_beat: float = 1.0) -> bytes:
    import numpy as np
    beat = int(RATE * seconds_per_beat)
    t = np.arange(beat) / RATE
    envelope = np.minimum(1.0, t / 0.03) * np.exp(-2.2 * t)         # a soft plucked note

    def tone(midi: int, length: int) -> np.ndarray:
        f = 440.0 * 2 ** ((midi - 69) / 12)
        tt = np.arange(length) / RATE
        return np.sin(2 * np.pi * f * tt) + 0.3 * np.sin(4 * np.pi * f * tt)

    bars = []
    for chord, melody in zip(_CHORDS * 2, _MELODY * 2, strict=True):
        pad = sum(tone(m, 4 * beat) for m in chord) / len(chord)
        pad *= 0.35 * np.minimum(1.0, np.arange(4 * beat) / (0.4 * RATE))[::1] * np.minimum(
            1.0, (4 * beat - np.arange(4 * beat)) / (0.4 * RATE))
        lead = np.concatenate([tone(m, beat) * envelope for m in melody])
        bars.append(pad + 0.6 * lead)
    signal = np.concatenate(bars)
    signal = signal / max(float(np.abs(signal).max()), 1e-9) * 0.3          # about -10 dBFS peak
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes((signal * 32767).round().astype("<i2").tobytes())
    return out.getvalue()


MAKERS: dict[str, Callable[[str], bytes]] = {"ja": japanese, "en": english, "music": lambda _text: hold_music()}


def generate(out: Path = SOUNDS, *, force: bool = False, langs: frozenset[str] = frozenset(MAKERS)) -> list[str]:
    """Make every file whose source changed (or is missing); returns the names made."""
    entries = catalogue()
    manifest = read_manifest(out)
    made = []
    for name, entry in sorted(entries.items()):
        source = source_digest(entry["lang"], entry["text"])
        path = out / name
        if entry["lang"] not in langs or (not force and path.exists() and manifest.get(name, ("",))[0] == source):
            continue
        data = MAKERS[entry["lang"]](entry["text"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        manifest[name] = (source, file_digest(data))
        made.append(name)
    write_manifest(out, {name: row for name, row in manifest.items() if name in entries})
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SOUNDS)
    parser.add_argument("--force", action="store_true", help="remake every file")
    parser.add_argument("--lang", action="append", choices=sorted(MAKERS), help="only these (repeatable)")
    args = parser.parse_args(argv)
    made = generate(args.out, force=args.force, langs=frozenset(args.lang or MAKERS))
    print(f"{len(made)} file(s) made in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
