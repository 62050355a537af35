"""Locating and loading the FreeSWITCH 1.10.12 captures.

Fixture directory: env ``HIBIKI_FS_FIXTURES`` or ``<repo>/../shared/fixtures/freeswitch``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["fixture_dir", "xml_curl_dir", "esl_dir", "read_bytes", "CapturedMessage",
           "session_log_messages", "session_log_commands", "connect_reply_bytes"]


def fixture_dir() -> Path:
    env = os.environ.get("HIBIKI_FS_FIXTURES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "freeswitch"


def xml_curl_dir() -> Path:
    return fixture_dir() / "xml_curl"


def esl_dir() -> Path:
    return fixture_dir() / "esl"


def read_bytes(rel: str) -> bytes:
    return (fixture_dir() / rel).read_bytes()


def connect_reply_bytes() -> bytes:
    return read_bytes("esl/esl_outbound_connect_reply.raw")


@dataclass
class CapturedMessage:
    """One message FreeSWITCH sent, rebuilt from the transcript (``<<`` lines)."""

    lines: list[str] = field(default_factory=list)

    @property
    def raw(self) -> bytes:
        return "\n".join(self.lines).encode("utf-8")

    def outer_headers(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for line in self.lines:
            if not line:
                break
            name, _, value = line.partition(": ")
            out.append((name, value))
        return out

    def body_headers(self) -> list[tuple[str, str]]:
        """Headers of the event body (after the first blank line) if any."""
        if not self.lines or not self.lines[0].startswith("Content-Length"):
            return self.outer_headers()
        idx = self.lines.index("")
        out = []
        for line in self.lines[idx + 1:]:
            if not line:
                break
            name, _, value = line.partition(": ")
            out.append((name, value))
        return out


def _log_lines() -> list[str]:
    return (esl_dir() / "esl_outbound_session.log").read_text(encoding="utf-8").split("\n")


def session_log_messages() -> list[CapturedMessage]:
    """Every message FS sent, in order; each message ends with two empty lines (``\\n\\n``)."""
    msgs: list[CapturedMessage] = []
    cur = CapturedMessage()
    for line in _log_lines():
        if line.startswith("<< ") or line == "<<":
            cur.lines.append(line[3:])
            if len(cur.lines) >= 2 and cur.lines[-1] == "" and cur.lines[-2] == "":
                msgs.append(cur)
                cur = CapturedMessage()
    return msgs


def session_log_commands() -> list[list[str]]:
    """The controller's commands (``>>`` lines), grouped: a new command starts at a line
    without ``: ``."""
    cmds: list[list[str]] = []
    for line in _log_lines():
        if not line.startswith(">> "):
            continue
        text = line[3:]
        if ": " in text and cmds:
            cmds[-1].append(text)
        else:
            cmds.append([text])
    return cmds
