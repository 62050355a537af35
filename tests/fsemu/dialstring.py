"""String helpers of the FreeSWITCH core that dial strings go through (v1.10.12):
``switch_separate_string`` (single quotes, ``\\`` escapes, ``^^X`` delimiter change, the last
element keeps the rest), ``switch_find_end_paren``, ``switch_event_create_brackets`` (``{..}``,
``<..>``, ``[..]`` variable blocks), the per-leg comma escaping of ``switch_ivr_originate``, and
``switch_true`` / ``switch_false``.  Sources: src/switch_utils.c, src/switch_event.c,
src/switch_ivr_originate.c, src/include/switch_utils.h.
"""
from __future__ import annotations

__all__ = ["separate_string", "find_end_paren", "create_brackets", "split_peers", "switch_true",
           "switch_false", "set_header", "QUOTED_ESC_COMMA", "UNQUOTED_ESC_COMMA"]

QUOTED_ESC_COMMA = "\x01"    # switch_ivr_originate.c
UNQUOTED_ESC_COMMA = "\x02"
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def _is_number(s: str) -> bool:
    body = s[1:] if s[:1] in "+-" else s
    return bool(body) and all(c.isdigit() or c == "." for c in body) and body.count(".") <= 1


def _atoi(s: str) -> int:
    digits = ""
    for ch in s.lstrip("+-"):
        if not ch.isdigit():
            break
        digits += ch
    return (-1 if s.startswith("-") else 1) * int(digits) if digits else 0


def switch_true(expr: str | None) -> bool:
    if expr is None:
        return False
    return expr.lower() in ("yes", "on", "true", "t", "enabled", "active", "allow") or (
        _is_number(expr) and _atoi(expr) != 0)


def switch_false(expr: str | None) -> bool:
    if expr is None:
        return False
    return expr.lower() in ("no", "off", "false", "f", "disabled", "inactive", "disallow") or (
        _is_number(expr) and _atoi(expr) == 0)


def set_header(event: dict[str, str], name: str, value: str | None) -> None:
    """switch_event_add_header_string on an event with EF_UNIQ_HEADERS (REQUEST_PARAMS /
    CHANNEL_DATA made by switch_event_create_plain): the old header goes, the new one is
    appended; an empty value only deletes."""
    for k in [k for k in event if k.lower() == name.lower()]:
        del event[k]
    if value:
        event[name] = value


def _cleanup(item: str, delim: str) -> str:
    """cleanup_separated_string: drop leading blanks, unescape, strip quotes, trailing blanks."""
    out: list[str] = []
    end: int | None = None
    inside = False
    i = 0
    while i < len(item) and item[i] == " ":
        i += 1
    while i < len(item):
        c = item[i]
        esc = False
        if c == "\\" and i + 1 < len(item):
            e = item[i + 1]
            if e in ("'", '"', "\\") or (delim and e == delim) or e in _UNESCAPE:
                i += 1
                out.append(_UNESCAPE.get(e, e))
                end = len(out)
                esc = True
        if not esc:
            if c == "'" and (inside or "'" in item[i + 1:]):
                inside = not inside
                if inside:
                    end = len(out)
            else:
                out.append(c)
                if c != " " or inside:
                    end = len(out)
        i += 1
    return "".join(out[:end]) if end is not None else "".join(out)


def separate_string(buf: str, delim: str, limit: int = 1024) -> list[str]:
    """switch_separate_string for a delimiter other than a blank (separate_string_char_delim)."""
    if not buf or limit <= 0:
        return []
    if buf.startswith("^^") and len(buf) > 3:
        delim, buf = buf[2], buf[3:]
    bounds: list[list[int]] = []      # [start, end] of each element
    inside = False
    looking = False                   # state FIND_DELIM
    i = 0
    while i < len(buf):
        if not looking:
            bounds.append([i, len(buf)])
            looking = True
            if len(bounds) == limit:   # the last element keeps the rest
                break
            continue
        c = buf[i]
        if c == "\\":
            i += 1
        elif c == "'" and (inside or "'" in buf[i + 1:]):
            inside = not inside
        elif c == delim and not inside:
            bounds[-1][1] = i
            looking = False
        i += 1
    return [_cleanup(buf[a:b], delim) for a, b in bounds]


def find_end_paren(s: str, start: int, open_: str, close: str) -> int | None:
    """switch_find_end_paren: index of the matching close for the open at s[start:] (after
    leading blanks), None if there is none."""
    i = start
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s) or s[i] != open_:
        return None
    depth = 1
    j = i + 1
    while j < len(s):
        if s[j] == open_ and open_ != close:
            depth += 1
        elif s[j] == close:
            depth -= 1
            if not depth:
                return j
        j += 1
    return None


def create_brackets(data: str, open_: str, close: str, sep: str, event: dict[str, str]) -> str | None:
    """switch_event_create_brackets: parse one ``{a=1,b=2}`` block at the start of ``data`` into
    ``event`` (``^^X`` makes X the separator); returns the rest, None on a parse error."""
    end = find_end_paren(data, 0, open_, close)
    if end is None:
        return None
    inner = data[data.index(open_) + 1:end]
    if inner.startswith("^^") and len(inner) > 2:
        sep, inner = inner[2], inner[3:]
    for var in separate_string(inner, sep):
        pair = separate_string(var, "=", 2)
        if len(pair) == 2:
            set_header(event, pair[0], pair[1])
    return data[end + 1:]


def split_peers(group: str) -> list[str]:
    """The ``,`` split of one ``|`` group in switch_ivr_originate: commas inside ``[..]`` are
    escaped first (QUOTED_ESC_COMMA inside quotes or a ``[^^`` block, else UNQUOTED_ESC_COMMA,
    which then separates that block's variables)."""
    chars = list(group)
    end: int | None = None
    alt = q = False
    i = 0
    while i < len(chars):
        if end is None and chars[i] == "[":
            end = find_end_paren("".join(chars), i, "[", "]")
            alt = "".join(chars[i + 1:i + 3]) == "^^"
            q = False
        if chars[i] == "'":
            q = not q
        if end is not None and i < end and chars[i] == "," and i > 0 and chars[i - 1] != "\\":
            chars[i] = QUOTED_ESC_COMMA if (q or alt) else UNQUOTED_ESC_COMMA
        if i == end:
            end = None
        i += 1
    return separate_string("".join(chars), ",")
