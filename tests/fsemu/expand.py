"""``switch_channel_expand_variables_check`` (src/switch_channel.c, v1.10.12), character for
character: ``${var}`` / ``$${var}`` (channel variable, then caller-profile field, then global
variable: ``switch_channel_get_variable_dup``), ``${var:offset:length}``, ``${var[idx]}``
(index ignored: no array variables), the value itself expanded again, ``${api(args)}`` and
``${api args}`` (name and arguments expanded first), escapes ``\\$``, ``\\'``, ``\\\\``, and
the recursion limit of 100.

API functions the emulator does not have are left in the text as ``${name(args)}`` (with their
arguments expanded) instead of FreeSWITCH's empty result, so a test can still see what was asked.
"""
from __future__ import annotations

from typing import Callable

__all__ = ["expand", "Lookup", "ApiFunction"]

Lookup = Callable[[str], "str | None"]
#: (name, arguments) -> output, or None when the emulator has no such API command
ApiFunction = Callable[[str, str], "str | None"]


def _var_check(s: str) -> bool:
    """switch_string_var_check_const: a ``$`` followed (after backslashes) by ``{``."""
    dol = False
    for ch in s:
        if ch == "$":
            dol = True
        elif dol:
            if ch == "{":
                return True
            if ch != "\\":
                dol = False
    return False


def _has_escaped_data(s: str) -> bool:
    """switch_string_has_escaped_data."""
    i = s.find("\\")
    while i != -1 and i < len(s) and s[i] == "\\":
        i += 1
        if i < len(s) and s[i] in "\\nst'":
            return True
        i = s.find("\\", i)
    return False


def _atoi(s: str) -> int:
    s = s.lstrip(" \t\n")
    sign, digits = 1, ""
    if s[:1] in "+-":
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    for ch in s:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0


def expand(data: str, lookup: Lookup, api: ApiFunction | None = None, recur: int = 0) -> str:
    if recur > 100 or not data:
        return data
    if not (_var_check(data) or _has_escaped_data(data)):
        return data
    out: list[str] = []
    n = len(data)
    p = 0
    nv = False
    while p < n:
        glob = False
        vtype = 0
        ch = data[p]
        if ch == "\\":
            nxt = data[p + 1] if p + 1 < n else ""
            if nxt == "$":
                nv = True
                p += 1
                if p + 1 < n and data[p + 1] == "$":
                    p += 1
            elif nxt == "'":
                p += 2
                continue
            elif nxt == "\\":
                out.append("\\")
                p += 2
                continue
        if data[p] == "$" and not nv:
            if p + 1 < n and data[p + 1] == "$":
                p += 1
                glob = True
            if p + 1 < n:
                if data[p + 1] == "{":
                    vtype = 3 if glob else 1
                else:
                    nv = True
            else:
                nv = True
        if nv:
            out.append(data[p])
            nv = False
            p += 1
            continue
        if vtype:
            s = p + 1
            br = 0
            if data[s] == "{":
                br = 1
                s += 1
            e = s
            end = n
            while e < n:
                if br == 1 and data[e] == "}":
                    br = 0
                    end = e
                    e += 1
                    break
                if br > 0:
                    if e != s and data[e] == "{":
                        br += 1
                    elif br > 1 and data[e] == "}":
                        br -= 1
                e += 1
            else:
                end = n
            p = e
            vname = data[s:end]
            vval: str | None = None
            paren = False
            for i, c in enumerate(vname):
                if c == " ":
                    vval, vname = vname[i + 1:], vname[:i].rstrip(" ")
                    break
                if c == "(":
                    vval, vname = vname[i + 1:], vname[:i].rstrip(" ")
                    br, paren = 1, True
                    break
            if vval is not None:
                for i, c in enumerate(vval):
                    if c == "(":
                        br += 1
                    elif br > 1 and c == ")":
                        br -= 1
                    elif br == 1 and c == ")":
                        vval = vval[:i]
                        break
                vtype = 2
            sub_val: str | None = None
            if vtype in (1, 3):
                name = expand(vname, lookup, api, recur + 1)
                offset = ooffset = 0
                if ":" in name:
                    name, _, rest = name.partition(":")
                    offset = _atoi(rest)
                    if ":" in rest:
                        ooffset = _atoi(rest.partition(":")[2])
                if "[" in name and "]" in name[name.index("["):]:
                    name = name[:name.index("[")]
                found = lookup(name)
                if found is not None:
                    sub_val = expand(found, lookup, api, recur + 1)
                    if offset >= 0:
                        sub_val = "" if offset > len(sub_val) else sub_val[offset:]
                    elif abs(offset) <= len(sub_val):
                        sub_val = sub_val[len(sub_val) + offset:]
                    if 0 < ooffset < len(sub_val):
                        sub_val = sub_val[:ooffset]
            else:
                name = expand(vname, lookup, api, recur + 1)
                args = expand(vval or "", lookup, api, recur + 1)
                sub_val = api(name, args) if api is not None else None
                if sub_val is None:  # not emulated: keep the call visible
                    sub_val = "${" + name + (f"({args})" if paren else f" {args}") + "}"
            if sub_val:
                out.append(sub_val)
            if p < n:
                if data[p] == "$":
                    continue
                out.append(data[p])
            p += 1
            continue
        out.append(data[p])
        p += 1
    return "".join(out)
