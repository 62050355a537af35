"""Digits as a phone, a header or a setting means them: ASCII 0-9 only.

``str.isdigit()`` alone also accepts superscripts and other scripts' digits ('²', '٣', '３'), which
``int()`` then refuses or reads as a number nobody typed; every check of untrusted text uses this."""

from __future__ import annotations


def ascii_digits(text: str) -> bool:
    """True when ``text`` is one or more of 0-9 and nothing else."""
    return text.isascii() and text.isdigit()
