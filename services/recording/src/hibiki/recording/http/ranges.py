"""HTTP range requests (RFC 9110 14.2) for playing with seeking: one byte range per request.

:func:`parse` answers the (start, end) inclusive range of a ``Range`` header for a body of
``size`` bytes, None to send the whole body (no header, another unit, several ranges: a server
may ignore those), or raises :class:`Unsatisfiable` (416)."""

from __future__ import annotations

import re

_SPEC = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Unsatisfiable(ValueError):
    pass


def parse(header: str | None, size: int) -> tuple[int, int] | None:
    if not header or "," in header or not header.strip().lower().startswith("bytes"):
        return None
    match = _SPEC.match(header)
    if match is None or len(header) > 200:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:                       # the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise Unsatisfiable(header)
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or (last and end < start):
        raise Unsatisfiable(header)
    return start, min(end, size - 1)
