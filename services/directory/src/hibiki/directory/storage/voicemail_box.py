"""A user's voicemail messages as FreeSWITCH's mod_voicemail keeps them (PBX-10, listening in the
web UI): its index ``voicemail_default.db`` (SQLite, table ``voicemail_msgs``: one row per message
with the mailbox ``username`` = the extension, ``domain`` = the tenant's SIP domain, ``uuid``, caller,
``created_epoch``, ``message_len`` and ``file_path`` on the node) and the WAV files under
``storage/voicemail/default/<domain>/<extension>/``. Both are mounted from the node (read-only
for listing; a delete removes the row and the file, as mod_voicemail's own purge does, so the
phone's count and menu no longer have it: checked on FreeSWITCH 1.10.12, where a row only marked
``flags='delete'`` was still counted by ``vm_boxcount``).

A row's file is served only when it lies in the mailbox's own folder under the configured
voicemail directory: a path is never taken from the row as it stands."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from hibiki.common.digits import ascii_digits

UUID = re.compile(r"[0-9a-fA-F-]{8,64}")
FILE = re.compile(r"msg_[0-9A-Za-z_-]{1,80}\.(wav|mp3)")


class VoicemailUnavailable(Exception):
    """The store is not configured or cannot be read."""


@dataclass(frozen=True)
class Message:
    id: str
    received_at: int
    seconds: int
    caller_name: str
    caller_number: str
    folder: str
    read: bool

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "received_at": self.received_at, "seconds": self.seconds, "caller_name": self.caller_name,
                "caller_number": self.caller_number, "folder": self.folder, "read": self.read}


class VoicemailBox:
    def __init__(self, db: Path | None, root: Path | None) -> None:
        self.db, self.root = db, root

    def _connect(self, write: bool = False) -> sqlite3.Connection:
        if self.db is None or self.root is None:
            raise VoicemailUnavailable("HIBIKI_DIRECTORY_VOICEMAIL_DB and HIBIKI_DIRECTORY_VOICEMAIL_DIR are not set")
        if not self.db.is_file():
            raise VoicemailUnavailable("FreeSWITCH's voicemail index is not there (no message was ever left?)")
        try:
            conn = sqlite3.connect(f"file:{self.db}?mode={'rw' if write else 'ro'}", uri=True, timeout=5)
        except sqlite3.Error as exc:
            raise VoicemailUnavailable(str(exc)) from None
        return conn

    def messages(self, domain: str, extension: str) -> list[Message]:
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT uuid, created_epoch, message_len, cid_name, cid_number, in_folder, read_epoch FROM voicemail_msgs"
                " WHERE domain = ? AND username = ? AND coalesce(flags, '') != 'delete' ORDER BY created_epoch DESC",
                (domain, extension)).fetchall()
        except sqlite3.Error as exc:
            raise VoicemailUnavailable(str(exc)) from None
        finally:
            conn.close()
        return [Message(str(r[0]), int(r[1] or 0), int(r[2] or 0), str(r[3] or ""), str(r[4] or ""), str(r[5] or ""),
                        bool(r[6])) for r in rows if UUID.fullmatch(str(r[0]))]

    def audio(self, domain: str, extension: str, message_id: str) -> Path | None:
        """The message's file, or None when there is no such message of this mailbox."""
        if not UUID.fullmatch(message_id):
            return None
        conn = self._connect()
        try:
            row = conn.execute("SELECT file_path FROM voicemail_msgs WHERE domain = ? AND username = ? AND uuid = ?"
                               " AND coalesce(flags, '') != 'delete'", (domain, extension, message_id)).fetchone()
        except sqlite3.Error as exc:
            raise VoicemailUnavailable(str(exc)) from None
        finally:
            conn.close()
        return self._file(domain, extension, str(row[0])) if row else None

    def _file(self, domain: str, extension: str, stored: str) -> Path | None:
        assert self.root is not None
        name = stored.rsplit("/", 1)[-1]
        if not FILE.fullmatch(name) or "/" in domain or domain in (".", "..") or not ascii_digits(extension):
            return None
        folder = (self.root / "default" / domain / extension).resolve()
        path = (folder / name).resolve()
        if path.parent != folder or not str(path).startswith(str(self.root.resolve()) + "/") or not path.is_file():
            return None
        return path

    def delete(self, domain: str, extension: str, message_id: str) -> bool:
        path = self.audio(domain, extension, message_id)
        conn = self._connect(write=True)
        try:
            with conn:
                done = conn.execute("DELETE FROM voicemail_msgs WHERE domain = ? AND username = ? AND uuid = ?",
                                    (domain, extension, message_id)).rowcount
        except sqlite3.Error as exc:
            raise VoicemailUnavailable(str(exc)) from None
        finally:
            conn.close()
        if done and path is not None:
            path.unlink(missing_ok=True)
        return bool(done)
