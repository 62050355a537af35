"""A voicemail message as FreeSWITCH 1.10.12's mod_voicemail leaves it: a row of
``db/voicemail_default.db`` (its ``voicemail_msgs`` table as created by the real switch) and the
WAV under ``storage/voicemail/default/<domain>/<extension>/`` (2 s of 440 Hz at 8 kHz)."""

from __future__ import annotations

import math
import sqlite3
import struct
import time
import uuid
import wave
from pathlib import Path

# As FreeSWITCH 1.10.12 creates it (read from a real switch's db/voicemail_default.db).
SCHEMA = """CREATE TABLE voicemail_msgs (
   created_epoch INTEGER, read_epoch INTEGER, username VARCHAR(255), domain VARCHAR(255), uuid VARCHAR(255),
   cid_name VARCHAR(255), cid_number VARCHAR(255), in_folder VARCHAR(255), file_path VARCHAR(255),
   message_len INTEGER, flags VARCHAR(255), read_flags VARCHAR(255), forwarded_by VARCHAR(255))"""


def leave_message(storage: Path, db: Path, domain: str, extension: str) -> tuple[str, Path]:
    folder = storage / "voicemail" / "default" / domain / extension
    folder.mkdir(parents=True, exist_ok=True)
    message, file_id = str(uuid.uuid4()), str(uuid.uuid4())       # the row's uuid is not the file's (as on the switch)
    path = folder / f"msg_{file_id}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(16000)))
    with sqlite3.connect(db) as conn:
        conn.execute(SCHEMA) if not conn.execute("SELECT 1 FROM sqlite_master WHERE name='voicemail_msgs'").fetchone() else None
        conn.execute("INSERT INTO voicemail_msgs VALUES (?, 0, ?, ?, ?, 'sipp', '0312345678', 'inbox', ?, 2, '', 'B_NORMAL', '')",
                     (int(time.time()) - 60, extension, domain, message, f"/opt/freeswitch/storage/voicemail/default/{domain}/{extension}/{path.name}"))
    return message, path
