"""Which FreeSWITCH nodes' recordings a recording service takes (``HIBIKI_RECORDING_NODES``).

With two data centers both sites' recording services see every RecordingStopped on the stretched
event stream, but a recording's WAV is in the spool of its own site only (the share its FreeSWITCH
nodes write). Each site's service therefore takes the recordings of its own site's nodes: those
whose ``meta.node`` (FreeSWITCH-Hostname; on the host network, the voice host's name) matches one
of its patterns (names or shell-style patterns, ``voice-dc1-*``, compared without case). An event
that names no node is taken (service fails open: the spool decides, nothing is left unrecorded).
No pattern (the default, one site): every node.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

PATTERN = re.compile(r"[A-Za-z0-9*?][A-Za-z0-9.*?_-]{0,252}")


class BadNodePattern(ValueError):
    pass


@dataclass(frozen=True)
class Nodes:
    patterns: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Nodes:
        """Comma-separated host names or patterns (letters, digits, ``.-_``, ``*`` and ``?``)."""
        patterns = []
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            if not PATTERN.fullmatch(item):
                raise BadNodePattern(f"{item[:64]!r}: a host name or a pattern of letters, digits, '.-_*?'")
            patterns.append(item.lower())
        return cls(tuple(patterns))

    def takes(self, node: str) -> bool:
        if not self.patterns or not node:
            return True
        name = node.lower()
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns)
