"""TOTP (RFC 6238, 30 s, 6 digits) for console logins, the enrolment QR code, recovery codes.

A code is accepted for the current step or one step either side (clock drift), and never twice:
the step of the last accepted code is stored, and a code of that step or an earlier one is refused.
Recovery codes are 10 random codes of 10 characters, shown once, stored as SHA-256 (they are
random, so a fast hash is enough), each usable once.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import time

import pyotp
import segno
from hibiki.common.digits import ascii_digits

ISSUER = "Hibiki"
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"      # no 0/o, 1/l/i


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, tenant: str, login: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=f"{login}@{tenant}", issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an SVG QR code (for the enrolment page; its alt text is the secret)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True,
                                    title="TOTP QR code")
    return out.getvalue().decode()


def accepted_step(secret: str, code: str, last_step: int, at: float | None = None) -> int | None:
    """The time step ``code`` belongs to when it is valid and newer than ``last_step``; else None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not (ascii_digits(code)):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    step = int(now // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if candidate > last_step and secrets.compare_digest(totp.at(candidate * totp.interval), code):
            return candidate
    return None


def recovery_codes() -> list[str]:
    return ["".join(secrets.choice(_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODES)]


def code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").replace(" ", "").encode()).hexdigest()
