"""FreeSWITCH's URL encoding, byte for byte.

Source: src/switch_utils.c (v1.10.12) ``switch_url_encode_opt`` / ``switch_url_encode`` /
``switch_url_decode`` and ``SWITCH_URL_UNSAFE`` from src/include/switch_utils.h.

* Encoding works on the UTF-8 bytes.  A byte is escaped as ``%XX`` (uppercase hex) when it
  is < 0x20 or > 0x7E (C ``char`` is signed, so every byte >= 0x80 is escaped) or is in
  ``SWITCH_URL_UNSAFE``.  ``switch_url_encode`` calls the ``_opt`` variant with
  ``double_encode = FALSE``: a ``%`` already followed by two *uppercase* hex digits is copied
  as is (so ``%41`` survives encoding unchanged and decodes to ``A``).
* The C string ends at the first NUL byte.
* Decoding uses ``sscanf(s + 1, "%2x")`` then always skips 2 characters; we reproduce the
  sscanf quirks (leading white space, a sign, lowercase hex, ``0x`` prefix).
"""
from __future__ import annotations

__all__ = ["UrlDecodeError", "URL_UNSAFE", "url_encode", "url_encode_bytes", "url_decode",
           "url_decode_bytes", "encode_form", "decode_form"]

URL_UNSAFE = b"\r\n #%&+:;<=>?@[\\]^`{|}\""
_HEX_UPPER = b"0123456789ABCDEF"
_C_SPACE = b" \t\n\v\f\r"


class UrlDecodeError(ValueError):
    """Raised when decoded bytes are not valid UTF-8 text (the emulator's own error type)."""


def url_encode_bytes(data: bytes, *, double_encode: bool = False) -> bytes:
    """Encode *data* exactly like ``switch_url_encode_opt``."""
    nul = data.find(b"\0")
    if nul >= 0:
        data = data[:nul]
    out = bytearray()
    n = len(data)
    for i, b in enumerate(data):
        ok = False
        if not double_encode and b == 0x25 and (n - 1 - i) > 1:
            if data[i + 1] in _HEX_UPPER and data[i + 2] in _HEX_UPPER:
                ok = True
        if not ok and (b < 0x20 or b > 0x7E or b in URL_UNSAFE):
            out += b"%" + bytes((_HEX_UPPER[b >> 4], _HEX_UPPER[b & 0x0F]))
        else:
            out.append(b)
    return bytes(out)


def url_encode(text: str, *, double_encode: bool = False) -> str:
    """Encode text (as UTF-8) like FreeSWITCH; the result is pure ASCII."""
    return url_encode_bytes(text.encode("utf-8"), double_encode=double_encode).decode("ascii")


def _sscanf_2x(s: bytes) -> int | None:
    """Emulate glibc ``sscanf(s, "%2x", &tmp)``; return the value or None (no match)."""
    i = 0
    while i < len(s) and s[i] in _C_SPACE:
        i += 1
    width = 2
    neg = False
    if i < len(s) and width and s[i] in b"+-":
        neg = s[i] == 0x2D
        i += 1
        width -= 1
    digits = b""
    if width and i < len(s) and s[i] == 0x30:
        # leading 0, maybe the "0x" prefix
        digits = b"0"
        i += 1
        width -= 1
        if width and i < len(s) and s[i] in b"xX":
            i += 1
            width -= 1
    while width and i < len(s) and chr(s[i]) in "0123456789abcdefABCDEF":
        digits += bytes((s[i],))
        i += 1
        width -= 1
    if not digits:
        return None
    value = int(digits, 16)
    if neg:
        value = (-value) & 0xFFFFFFFF
    return value


def url_decode_bytes(data: bytes) -> bytes:
    """Decode exactly like ``switch_url_decode`` (result truncated at the first NUL)."""
    nul = data.find(b"\0")
    if nul >= 0:
        data = data[:nul]
    if b"%" not in data:
        return data
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b == 0x25 and n - i > 2:
            value = _sscanf_2x(data[i + 1:])
            if value is not None:
                out.append(value & 0xFF)
                i += 3
                continue
        out.append(b)
        i += 1
    nul = out.find(b"\0")
    return bytes(out if nul < 0 else out[:nul])


def url_decode(text: str | bytes) -> str:
    """Decode to text; raise :class:`UrlDecodeError` if the bytes are not UTF-8."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    try:
        return url_decode_bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UrlDecodeError(str(exc)) from exc


def encode_form(pairs: list[tuple[str, str]], *, raw_prefix: int = 5) -> bytes:
    """Build a mod_xml_curl POST body.

    mod_xml_curl.c writes ``hostname=..&section=..&tag_name=..&key_name=..&key_value=..`` with
    ``snprintf`` (not encoded, *raw_prefix* fields), then ``switch_event_build_param_string``
    appends ``name=<switch_url_encode(value)>&`` per header and strips the final ``&``.
    """
    parts: list[bytes] = []
    for idx, (name, value) in enumerate(pairs):
        enc = value.encode("utf-8") if idx < raw_prefix else url_encode_bytes(value.encode("utf-8"))
        parts.append(name.encode("utf-8") + b"=" + enc)
    return b"&".join(parts)


def decode_form(body: bytes) -> list[tuple[str, str]]:
    """Split a form body into its ordered (name, decoded value) list."""
    out: list[tuple[str, str]] = []
    if not body:
        return out
    for part in body.split(b"&"):
        name, _, value = part.partition(b"=")
        try:
            out.append((name.decode("utf-8"), url_decode(value)))
        except UnicodeDecodeError as exc:
            raise UrlDecodeError(str(exc)) from exc
    return out
