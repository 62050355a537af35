"""What a phone heard, from its recording: the level of one tone (the real-switch supervision tests:
who hears whom)."""

from __future__ import annotations

import math
import wave
from pathlib import Path


def level_db(path: Path, start: float, end: float, hz: int) -> float:
    """The RMS level (dBFS) of the ``hz`` component of ``path`` between ``start`` and ``end`` s (Goertzel)."""
    with wave.open(str(path)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        w.setpos(min(w.getnframes(), int(start * rate)))
        raw = w.readframes(max(0, int((end - start) * rate)))
    samples = [int.from_bytes(raw[i:i + 2], "little", signed=True) / 32768.0
               for i in range(0, len(raw) - 1, 2 * channels)]
    if not samples:
        return -120.0
    coeff = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    amplitude = 2 * math.sqrt(max(power, 0.0)) / len(samples)
    return 20 * math.log10(max(amplitude / math.sqrt(2), 1e-6))
