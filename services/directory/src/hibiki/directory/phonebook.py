"""Searching the organisation's directory and the shared phonebook (PBX-13).

Japanese names are matched the way people type them: full- and half-width forms are the
same (NFKC), case does not matter, hiragana matches katakana (さとう finds サトウ), and
numbers match on their digits whatever the hyphens (0258-12 finds 025812...).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_HIRAGANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}   # ぁ..ゖ -> ァ..ヶ


def fold(text: str) -> str:
    """The form names are compared in."""
    spaced = unicodedata.normalize("NFKC", text).casefold()
    return unicodedata.normalize("NFKC", spaced.replace(" ", "")).translate(_HIRAGANA)


def digits(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", text) if c.isdigit())


@dataclass(frozen=True)
class Hit:
    kind: str            # "user" (the organisation) or "contact" (the shared phonebook)
    id: str
    name: str
    name_kana: str
    organization: str
    numbers: tuple[str, ...]


def search(query: str, users: Iterable[Mapping[str, Any]], contacts: Iterable[Mapping[str, Any]],
           limit: int = 50) -> list[Hit]:
    """Users and contacts whose name, reading, organisation, tags or numbers match ``query``,
    users first, each group sorted by reading then name."""
    words = [fold(w) for w in query.split() if w.strip()]
    wanted_digits = digits(query) if query.strip() and all(c.isdigit() or c in "-+() ０１２３４５６７８９" for c in query.strip()) else ""
    found: list[tuple[int, str, Hit]] = []
    candidates = [("user", u, [u.get("display_name", ""), u.get("display_name_kana", ""), u.get("username", "")],
                   [n for n in (u.get("extension") or "", u.get("direct_number", "")) if n]) for u in users]
    candidates += [("contact", c, [c["name"], c.get("name_kana", ""), c.get("organization", ""), *c.get("tags", [])],
                    list(c.get("numbers", []))) for c in contacts]
    for kind, row, texts, numbers in candidates:
        haystack = "\n".join(fold(t) for t in texts)
        if wanted_digits:
            matched = any(wanted_digits in digits(n) for n in numbers)
        else:
            matched = bool(words) and all(w in haystack for w in words)
        if matched:
            name = row.get("display_name") or row.get("name") or row.get("username", "")
            kana = row.get("display_name_kana") or row.get("name_kana") or ""
            hit = Hit(kind, row["id"], name, kana, row.get("organization", ""), tuple(numbers))
            found.append((0 if kind == "user" else 1, fold(kana or name), hit))
    found.sort(key=lambda item: (item[0], item[1]))
    return [hit for _, _, hit in found[:limit]]
