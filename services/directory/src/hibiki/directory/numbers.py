"""What a dialled Japanese number is: for routing and outbound restrictions (PBX-01, PBX-05, PBX-12).

Pure functions, no I/O. The rules follow the MIC (総務省) numbering plan as published:

* 総務省「電気通信番号制度」, table 電気通信番号の種別
  (https://www.soumu.go.jp/main_sosiki/joho_tsusin/top/tel_number/), summarising
  電気通信番号規則 (令和元年総務省令第4号) and 電気通信番号計画 (令和元年総務省告示第6号):
  固定電話番号 0ABCDEFGHJ (10 digits); 付加的役務電話番号 0AB0DEFGHJ(K) with AB = 12, 17, 18,
  57, 99 (10 digits) and 80 (11 digits); 音声伝送携帯電話番号 070/080/090 + C≠0 (11 digits);
  特定IP電話番号 050 + C≠0 (11); データ伝送携帯電話番号 (M2M) 020 + C∉{0,4} (11) or 0200 (14);
  無線呼出番号 (pager) 0204 (11); FMC電話番号 0600 (11); 特定接続電話番号 091CDE… (≤ 13);
  事業者識別番号 00XY / 002YZ / 0091XY; 付加的役務識別番号 1XY; 緊急通報番号 110, 118, 119.
* 電気通信番号計画の一部を変更する件 (令和6年総務省告示第441号, 2024-12-20): 060 + C≠0
  (11 digits) added to 音声伝送携帯電話番号; carriers start using it from July 2026.
* 総務省「電話番号に関するQ&A」: 010 is the international prefix, 0 the domestic prefix,
  1XY the special-service numbers; 184 / 186 before a number withhold / present caller ID.
* ITU-T E.164 and its list of assigned country codes (1-3 digits, at most 15 digits in all).
* RFC 3966 (tel URI, visual separators) and RFC 3261 (SIP URI user part, %-escapes).

Deliberately not done, because it needs tables this module does not carry: the area code of
a geographic number (given only for 03 and 06: no longer area code begins with them),
carrier selection (00XY…, reported as UNKNOWN), and local dialling without the area code.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from enum import Enum
from typing import Literal
from urllib.parse import unquote
from hibiki.common.digits import ascii_digits

CallerId = Literal["withhold", "present"]


class InvalidNumber(ValueError):
    """The text cannot be a dialled number."""


class NumberKind(Enum):
    EMERGENCY = "emergency"              # 110 police, 118 coast guard, 119 fire/ambulance
    SPECIAL_SERVICE = "special_service"  # other 1XY: 104, 117, 171, 177, 188, 189, ...
    FREE_DIAL = "free_dial"              # 0120 + 6, 0800 + 7 (着信課金)
    NAVI_DIAL = "navi_dial"              # 0570 + 6 (統一番号)
    PREMIUM = "premium"                  # 0990 + 6 (情報料代理徴収)
    SPECIAL_PREFIX = "special_prefix"    # 0170 / 0180 + 6 (付加的役務), 091… (特定接続)
    MOBILE = "mobile"                    # 060/070/080/090 + C≠0, 11 digits
    PAGER = "pager"                      # 0204, 11 digits (無線呼出)
    M2M = "m2m"                          # 020 data-only, 11 or 14 digits
    IP_PHONE = "ip_phone"                # 050 + C≠0, 11 digits
    GEOGRAPHIC = "geographic"            # 0ABCDEFGHJ, 10 digits
    INTERNATIONAL = "international"      # 010 + country code + number, or +cc (cc ≠ 81)
    EXTENSION = "extension"              # internal number
    FEATURE_CODE = "feature_code"        # starts with * or #
    UNKNOWN = "unknown"                  # may exist but is not routed here (00XY, 0600, 1XY…)
    INVALID = "invalid"                  # cannot be a number (wrong length, bad country code)


@dataclass(frozen=True)
class NumberInfo:
    normalized: str                  # what normalize() made of the input, prefixes included
    kind: NumberKind
    destination: str                 # the number to route: normalized without a 184/186 prefix
    caller_id: CallerId | None = None
    area_code: str | None = None     # with its leading 0; only when certain (03, 06)
    e164: str | None = None          # +81… for domestic numbers, +cc… for international ones
    country_code: str | None = None  # international numbers only

    @property
    def is_toll_free(self) -> bool:
        return self.kind is NumberKind.FREE_DIAL

    @property
    def is_emergency(self) -> bool:
        return self.kind is NumberKind.EMERGENCY


DEFAULT_EXTENSION_LENGTHS = range(2, 9)
EMERGENCY_NUMBERS = frozenset({"110", "118", "119"})
CALLER_ID_PREFIXES: dict[str, CallerId] = {"184": "withhold", "186": "present"}

_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff0d\uff70"
_TRANSLATE = str.maketrans(
    {**{chr(0xFF10 + d): str(d) for d in range(10)}, "\uff0b": "+", "\uff0a": "*", "\uff03": "#",
     **{c: None for c in _HYPHENS + "()\uff08\uff09."}})
_URI = re.compile(r"(?i)(?:tel|sips?):")
_ALLOWED = frozenset("0123456789*#+")

# Domestic numbers by MIC category, first match wins (geographic last: it is the remainder).
_DOMESTIC: tuple[tuple[re.Pattern[str], NumberKind], ...] = tuple(
    (re.compile(pattern), kind) for pattern, kind in (
        (r"0120\d{6}|0800\d{7}", NumberKind.FREE_DIAL),
        (r"0570\d{6}", NumberKind.NAVI_DIAL),
        (r"0990\d{6}", NumberKind.PREMIUM),
        (r"01[78]0\d{6}|091\d{3,10}", NumberKind.SPECIAL_PREFIX),
        (r"0[6-9]0[1-9]\d{7}", NumberKind.MOBILE),
        (r"050[1-9]\d{7}", NumberKind.IP_PHONE),
        (r"0204\d{7}", NumberKind.PAGER),
        (r"020[1-35-9]\d{7}|0200\d{10}", NumberKind.M2M),
        (r"0600\d{7}|00\d+", NumberKind.UNKNOWN),  # FMC numbers; carrier selection 00XY…
        (r"0[1-9][1-9]\d{7}", NumberKind.GEOGRAPHIC),
    ))
# ITU-T E.164 country codes of one and two digits; every other valid code has three.
_CC_SHORT = frozenset(
    "1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split())
_AREA_CODES_KNOWN = ("03", "06")
_RESTRICTION = {
    NumberKind.EMERGENCY: "emergency", NumberKind.FREE_DIAL: "free", NumberKind.GEOGRAPHIC: "domestic",
    NumberKind.MOBILE: "mobile", NumberKind.PAGER: "mobile", NumberKind.M2M: "mobile",
    NumberKind.IP_PHONE: "ip", NumberKind.NAVI_DIAL: "navi", NumberKind.PREMIUM: "premium",
    NumberKind.INTERNATIONAL: "international", NumberKind.SPECIAL_SERVICE: "special",
    NumberKind.SPECIAL_PREFIX: "special", NumberKind.EXTENSION: "extension",
    NumberKind.FEATURE_CODE: "feature", NumberKind.UNKNOWN: "unknown", NumberKind.INVALID: "invalid",
}


def normalize(raw: str) -> str:
    """Digits, ``*``, ``#`` and a leading ``+`` only; +81 / 81 become the domestic 0 form.

    Accepts full-width digits, every kind of hyphen, spaces, parentheses, dots, and the user
    part of tel:/sip:/sips: URIs. 184/186 prefixes and feature codes are kept. Idempotent.
    Raises InvalidNumber naming the first character that cannot be part of a number.
    """
    text = raw.strip()
    if _URI.match(text):
        user = text.split(":", 1)[1]
        text = unquote(user.split("@", 1)[0].split(";", 1)[0])
    text = "".join(c for c in text.translate(_TRANSLATE) if not c.isspace())
    for position, char in enumerate(text):
        if char not in _ALLOWED or (char == "+" and position > 0):
            where = "'+' is only allowed first" if char == "+" else f"U+{ord(char):04X}"
            raise InvalidNumber(f"invalid character {char!r} ({where}) in {raw!r}")
    if text in ("", "+"):
        raise InvalidNumber(f"no number in {raw!r}")
    if text.startswith("+81"):
        return _national(text[3:])
    if text.startswith("81") and ascii_digits(text) and len(_national(text[2:])) in (10, 11):
        return _national(text[2:])
    return text


DID_KINDS = frozenset({NumberKind.GEOGRAPHIC, NumberKind.FREE_DIAL, NumberKind.IP_PHONE, NumberKind.NAVI_DIAL})


def did_number(raw: str) -> str:
    """A number callers reach the platform on, as stored and as sent for caller ID: a DID,
    a tenant's representative number, a user's direct number. ``046-251-1111``, ``+81 46 251 1111``
    and full-width digits all give ``0462511111``. InvalidNumber when it cannot be one."""
    info = classify(raw)
    if info.kind not in DID_KINDS:
        raise InvalidNumber(f"{raw!r} is a {info.kind.value} number, not one a DID can be")
    return info.destination


def _national(significant: str) -> str:
    """0 + the national significant number; tolerates the written '+81 (0)3…' form."""
    return significant if significant.startswith("0") else "0" + significant


def classify(number: str, extension_lengths: Collection[int] | None = None) -> NumberInfo:
    """Classify a dialled number (raw or normalized). Raises InvalidNumber only from normalize().

    ``extension_lengths`` are the tenant's extension lengths (default 2 to 8 digits). An
    extension never starts with 0, and three-digit numbers starting with 1 are always 1XY
    services, so 110/118/119 cannot be shadowed by an extension.
    """
    normalized = normalize(number)
    prefix, rest = normalized[:3], normalized[3:]
    if prefix in CALLER_ID_PREFIXES and (rest.startswith("0") or (len(rest) == 3 and rest[0] == "1")):
        info = _classify(rest)
        return replace(info, normalized=normalized, caller_id=CALLER_ID_PREFIXES[prefix])
    lengths = DEFAULT_EXTENSION_LENGTHS if extension_lengths is None else extension_lengths
    one_xy = len(normalized) == 3 and normalized[0] == "1"
    if ascii_digits(normalized) and normalized[0] != "0" and not one_xy and len(normalized) in lengths:
        return NumberInfo(normalized, NumberKind.EXTENSION, normalized)
    return _classify(normalized)


def _classify(number: str) -> NumberInfo:
    kind = _kind(number)
    if kind is NumberKind.INTERNATIONAL:
        return _international(number, number[1:] if number.startswith("+") else number[3:])
    if kind in (NumberKind.EMERGENCY, NumberKind.SPECIAL_SERVICE, NumberKind.FEATURE_CODE,
                NumberKind.UNKNOWN, NumberKind.INVALID):
        return NumberInfo(number, kind, number)
    area = next((code for code in _AREA_CODES_KNOWN if number.startswith(code)), None)
    return NumberInfo(number, kind, number, e164="+81" + number[1:],
                      area_code=area if kind is NumberKind.GEOGRAPHIC else None)


def _kind(number: str) -> NumberKind:
    if number[0] in "*#":
        return NumberKind.FEATURE_CODE
    if number.startswith(("+", "010")):
        return NumberKind.INTERNATIONAL  # checked further by _international()
    if not ascii_digits(number):
        return NumberKind.INVALID
    if number[0] == "1":
        if len(number) != 3 or number in CALLER_ID_PREFIXES:
            return NumberKind.UNKNOWN  # 1XY codes may be longer; 184/186 alone are no call
        return NumberKind.EMERGENCY if number in EMERGENCY_NUMBERS else NumberKind.SPECIAL_SERVICE
    if number[0] != "0":
        return NumberKind.UNKNOWN  # not an extension length; local dialling is not supported
    return next((kind for pattern, kind in _DOMESTIC if pattern.fullmatch(number)), NumberKind.INVALID)


def _international(number: str, digits: str) -> NumberInfo:
    """``digits`` is country code + national number (what follows 010 or +)."""
    if not ascii_digits(digits) or digits[0] == "0":
        return NumberInfo(number, NumberKind.INVALID, number)
    cc = next((digits[:n] for n in (1, 2) if digits[:n] in _CC_SHORT), digits[:3])
    if len(digits) - len(cc) < 4 or len(digits) > 15:
        return NumberInfo(number, NumberKind.INVALID, number)
    return NumberInfo(number, NumberKind.INTERNATIONAL, number, e164="+" + digits, country_code=cc)


def restriction_class(info: NumberInfo) -> str:
    """The outbound class of service a number falls in (toll_allow-style checks).

    "emergency" is a class of its own and is never to be blocked; see is_allowed().
    Geographic numbers are "domestic": telling local from long distance needs the area-code
    table and the caller's own area, which this module does not have.
    """
    return _RESTRICTION[info.kind]


def is_allowed(info: NumberInfo, allowed_classes: Collection[str]) -> bool:
    """Whether a caller with these classes may dial the number; emergency numbers always pass."""
    return info.kind is NumberKind.EMERGENCY or restriction_class(info) in allowed_classes


def format_display(number: str) -> str:
    """A readable hyphenated form: 090-1234-5678, 0120-123-456, 0800-123-4567, 03-1234-5678.

    Geographic numbers stay unhyphenated unless their area code is known. Text that is not a
    number is returned stripped, unchanged: this is for display, never for routing.
    """
    try:
        info = classify(number)
    except InvalidNumber:
        return number.strip()
    shown = _hyphenate(info)
    if info.caller_id is not None:
        return info.normalized[:3] + "-" + shown
    return shown


def _hyphenate(info: NumberInfo) -> str:
    n, kind = info.destination, info.kind
    if kind is NumberKind.INTERNATIONAL and info.country_code and info.e164:
        return f"+{info.country_code} {info.e164[1 + len(info.country_code):]}"
    if kind is NumberKind.GEOGRAPHIC and info.area_code:
        return "-".join((info.area_code, n[len(info.area_code):6], n[6:]))
    if len(n) == 11 and kind in (NumberKind.MOBILE, NumberKind.IP_PHONE, NumberKind.PAGER, NumberKind.M2M):
        return f"{n[:3]}-{n[3:7]}-{n[7:]}"
    if kind in (NumberKind.FREE_DIAL, NumberKind.NAVI_DIAL, NumberKind.PREMIUM) or (
            kind is NumberKind.SPECIAL_PREFIX and n[:4] in ("0170", "0180")):
        return f"{n[:4]}-{n[4:7]}-{n[7:]}"
    return n
