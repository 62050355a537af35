"""A folder's manifest: every file with its size and SHA-256, plus counts; written last, checked
by reading every file again."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAME = "manifest.json"
CHUNK = 1 << 20


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def files_of(root: Path) -> dict[str, dict[str, Any]]:
    return {p.relative_to(root).as_posix(): {"bytes": p.stat().st_size, "sha256": sha256(p)}
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != NAME}


def write(root: Path, kind: str, **about: Any) -> dict[str, Any]:
    document = {"kind": kind, **about, "files": files_of(root)}
    (root / NAME).write_text(json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    return document


@dataclass(frozen=True)
class Problem:
    file: str
    what: str

    def __str__(self) -> str:
        return f"{self.file}: {self.what}"


def verify(root: Path) -> list[Problem]:
    """What does not match the manifest (missing, changed or unlisted files); empty when all do."""
    path = root / NAME
    if not path.is_file():
        return [Problem(NAME, "missing")]
    try:
        listed: dict[str, dict[str, Any]] = json.loads(path.read_text())["files"]
    except (ValueError, KeyError, TypeError):
        return [Problem(NAME, "unreadable")]
    found = files_of(root)
    problems = [Problem(name, "missing") for name in sorted(set(listed) - set(found))]
    problems += [Problem(name, "not in the manifest") for name in sorted(set(found) - set(listed))]
    problems += [Problem(name, "checksum differs") for name in sorted(set(listed) & set(found))
                 if listed[name]["sha256"] != found[name]["sha256"] or listed[name]["bytes"] != found[name]["bytes"]]
    return problems


def load(root: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((root / NAME).read_text())
    return document
