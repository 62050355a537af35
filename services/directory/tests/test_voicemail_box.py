"""The voicemail store reader (FreeSWITCH's index and files) against hostile rows: whatever
``file_path`` a row holds (absolute paths elsewhere, ``..``, another mailbox, a symlink laid in
the mailbox pointing out), only a file of the mailbox's own folder is ever served; the attack
is performed and counted."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hibiki.directory.storage.voicemail_box import VoicemailBox

SCHEMA = """CREATE TABLE voicemail_msgs (created_epoch INTEGER, read_epoch INTEGER, username VARCHAR(255),
   domain VARCHAR(255), uuid VARCHAR(255), cid_name VARCHAR(255), cid_number VARCHAR(255), in_folder VARCHAR(255),
   file_path VARCHAR(255), message_len INTEGER, flags VARCHAR(255), read_flags VARCHAR(255), forwarded_by VARCHAR(255))"""
DOMAIN = "kiyose.example.jp"


def store(tmp_path: Path) -> tuple[VoicemailBox, Path, Path]:
    root = tmp_path / "storage" / "voicemail"
    mine = root / "default" / DOMAIN / "2001"
    mine.mkdir(parents=True)
    (root / "default" / DOMAIN / "2999").mkdir(parents=True)
    (root / "default" / DOMAIN / "2999" / "msg_theirs.wav").write_bytes(b"RIFF theirs")
    (mine / "msg_mine.wav").write_bytes(b"RIFF mine")
    (tmp_path / "secret.wav").write_bytes(b"secret")
    os.symlink(tmp_path / "secret.wav", mine / "msg_link.wav")
    db = tmp_path / "voicemail_default.db"
    with sqlite3.connect(db) as conn:
        conn.execute(SCHEMA)
    return VoicemailBox(db, root), db, mine


def add(db: Path, uuid: str, path: str, extension: str = "2001") -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO voicemail_msgs VALUES (1, 0, ?, ?, ?, '', '', 'inbox', ?, 1, '', '', '')",
                     (extension, DOMAIN, uuid, path))


def test_hostile_rows_serve_nothing_outside_the_mailbox(tmp_path: Path) -> None:
    box, db, mine = store(tmp_path)
    add(db, "00000000-0000-0000-0000-000000000001", f"/anywhere/on/the/node/{DOMAIN}/2001/msg_mine.wav")
    attacks = ["/etc/passwd", f"{tmp_path}/secret.wav", "../../../../secret.wav", "msg_../../secret.wav",
               f"/x/{DOMAIN}/2999/msg_theirs.wav/../../2999/msg_theirs.wav", "msg_link.wav", "", "/",
               "msg_mine.wav\x00.txt", "..\\..\\secret.wav"]
    for n, path in enumerate(attacks, start=2):
        add(db, f"00000000-0000-0000-0000-{n:012d}", path)
    served = box.audio(DOMAIN, "2001", "00000000-0000-0000-0000-000000000001")
    assert served == (mine / "msg_mine.wav").resolve()
    refused = [path for n, path in enumerate(attacks, start=2)
               if box.audio(DOMAIN, "2001", f"00000000-0000-0000-0000-{n:012d}") is None]
    print(f"\n{len(refused)} of {len(attacks)} hostile file paths served nothing")
    assert refused == attacks
    # another mailbox's message, asked by its id through this mailbox: not found
    add(db, "00000000-0000-0000-0000-000000000999", "msg_theirs.wav", extension="2999")
    assert box.audio(DOMAIN, "2001", "00000000-0000-0000-0000-000000000999") is None
    assert box.delete(DOMAIN, "2001", "00000000-0000-0000-0000-000000000999") is False
    assert (tmp_path / "storage" / "voicemail" / "default" / DOMAIN / "2999" / "msg_theirs.wav").exists()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.text(max_size=120), message=st.text(max_size=80), domain=st.sampled_from([DOMAIN, "..", ".", "a/b", ""]),
       extension=st.sampled_from(["2001", "..", "2001/..", "", "2999"]))
def test_whatever_the_row_says_a_served_file_is_in_its_own_mailbox(tmp_path: Path, path: str, message: str,
                                                                   domain: str, extension: str) -> None:
    box, _, _ = store(tmp_path / os.urandom(6).hex())
    found = box._file(domain, extension, path)
    assert box.root is not None
    if found is not None:
        assert found.parent == (box.root / "default" / domain / extension).resolve()
        assert found.is_file() and not found.is_symlink() and found.name.startswith("msg_")
    assert box.audio(domain, extension, message) is None or message.replace("-", "").isalnum()
