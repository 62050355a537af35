"""Console users' passwords: argon2id hashes and the rules a city's security policy asks for.

Rules (:func:`problems`): at least ``min_length`` characters (the tenant's identity policy,
default 12) and at most 256, not containing the login ID, not one of the commonly used or
breached passwords shipped in ``common_passwords.txt`` (compared without case, digits or
symbols at the ends), not one of the user's last ``history`` passwords.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MAX_LENGTH = 256
_hasher = PasswordHasher()          # argon2id, the library's defaults (RFC 9106 low-memory profile)
_DUMMY = _hasher.hash("hibiki: a password no one has")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; with no stored hash, spends the same time and says no
    (an unknown login must not answer faster than a known one)."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@functools.cache
def common_passwords() -> frozenset[str]:
    text = (Path(__file__).with_name("common_passwords.txt")).read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _core(password: str) -> str:
    """The password without case and without digits and symbols at its ends ("Password123!" -> "password")."""
    return re.sub(r"^[\W\d_]+|[\W\d_]+$", "", password.lower())


def problems(password: str, login: str, min_length: int, previous: Iterable[str] = ()) -> list[str]:
    """What is wrong with ``password`` for ``login`` (empty: acceptable). ``previous``: stored hashes."""
    found: list[str] = []
    if len(password) < min_length:
        found.append(f"at least {min_length} characters")
    if len(password) > MAX_LENGTH:
        found.append(f"at most {MAX_LENGTH} characters")
    if login and login.lower() in password.lower():
        found.append("must not contain the login ID")
    common = common_passwords()
    if password.lower() in common or _core(password) in common or len(set(password)) < 4:
        found.append("is a commonly used password")
    if not found and any(verify(stored, password) for stored in previous):
        found.append("was used recently")
    return found
