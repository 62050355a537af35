"""RFC 2833 digits as a pcap sipp can play (``play_pcap_audio``): one RTP stream (payload type
101) with a fresh timestamp per digit. sipp's own ``dtmf_2833_<d>.pcap`` files all carry the same
RTP timestamp, so FreeSWITCH takes a second digit from them for a repeat of the first and drops it."""

from __future__ import annotations

import struct
from pathlib import Path

EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
PAYLOAD_TYPE = 101
PACKET_MS = 20


def _frame(payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", 4000, 4000, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes([127, 0, 0, 1]),
                     bytes([127, 0, 0, 1])) + udp
    return b"\x00" * 12 + b"\x08\x00" + ip        # Ethernet header, IPv4


def write_digits(path: Path, digits: str, gap_ms: int = 1000, tone_ms: int = 160) -> Path:
    """Each digit ``tone_ms`` long, a new one every ``gap_ms``."""
    packets: list[tuple[float, bytes]] = []
    seq, ssrc = 1000, 0x4849424B
    for n, digit in enumerate(digits):
        start_ms = n * gap_ms
        timestamp = 8 * start_ms + 1600                       # 8 kHz clock, a fresh one per digit
        steps = tone_ms // PACKET_MS
        for i in range(steps + 3):                            # the last duration three times with E set
            end = i >= steps
            duration = 8 * PACKET_MS * min(i + 1, steps)
            marker = 0x80 if i == 0 else 0
            rtp = struct.pack("!BBHII", 0x80, marker | PAYLOAD_TYPE, seq, timestamp, ssrc)
            event = struct.pack("!BBH", EVENTS[digit], (0x80 if end else 0) | 10, duration)
            packets.append((start_ms + PACKET_MS * min(i, steps) + (i - steps) * 5 * end, rtp + event))
            seq += 1
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for at_ms, payload in packets:
            frame = _frame(payload)
            seconds, micros = divmod(int(at_ms * 1000), 1_000_000)
            fh.write(struct.pack("<IIII", 1_700_000_000 + seconds, micros, len(frame), len(frame)) + frame)
    return path
