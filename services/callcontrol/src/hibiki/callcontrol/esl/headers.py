"""Event headers decoded when read, not when received.

FreeSWITCH serializes an event with every channel variable (~170 headers), each value
URL-encoded; callcontrol reads a handful of them (``Event-Name``, ``Unique-ID``,
``Application-UUID``, a few ``variable_*``). Decoding every value of every event was the
largest single cost of the event-socket threads (py-spy, issue 11), so a block is only split
into lines (and checked) when it arrives, and a value is URL-decoded the first time it is
read, then kept. What a reader sees is exactly what eager decoding gave (a property test
holds the two together): the block is split on line ends *before* any value is decoded, as
libesl does, so an encoded ``%0A`` in a value never makes a header of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar, overload
from urllib.parse import unquote

T = TypeVar("T")


class Headers(Mapping[str, str]):
    """Read-only ``name -> value``; ``raw`` holds the values as received (left spaces off)."""

    __slots__ = ("_raw", "_decoded", "_strip")

    def __init__(self, raw: dict[str, str], *, strip: bool = False) -> None:
        self._raw = raw
        self._decoded: dict[str, str] = {}
        self._strip = strip      # outbound sessions strip the decoded value too (libesl trims)

    def _decode(self, name: str, value: str) -> str:
        if "%" in value:
            value = unquote(value)
        if self._strip:
            value = value.strip()
        self._decoded[name] = value
        return value

    def __getitem__(self, name: str) -> str:
        try:
            return self._decoded[name]
        except KeyError:
            return self._decode(name, self._raw[name])

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, default: str, /) -> str: ...
    @overload
    def get(self, name: str, default: T, /) -> str | T: ...

    def get(self, name: str, default: Any = None, /) -> Any:
        value = self._decoded.get(name)
        if value is not None:
            return value
        raw = self._raw.get(name)
        return default if raw is None else self._decode(name, raw)

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"Headers({len(self._raw)} headers)"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def split_block(text: str) -> dict[str, str]:
    """``Name: value`` lines of a block, values still encoded (left spaces off); lines without
    a colon are skipped (the inbound reading: ``switch_event_serialize``'s output only)."""
    raw: dict[str, str] = {}
    for line in text.split("\n"):
        name, colon, value = line.partition(":")
        if colon:
            raw[name] = value.lstrip(" ")
    return raw
