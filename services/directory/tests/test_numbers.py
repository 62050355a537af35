"""Japanese dialled numbers: normalize, classify, restriction classes, display (PBX-01, PBX-05, PBX-12)."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hibiki.directory.numbers import (
    DID_KINDS,
    InvalidNumber,
    NumberKind,
    classify,
    did_number,
    format_display,
    is_allowed,
    normalize,
    restriction_class,
)

K = NumberKind
HYPHENS = ["-", "\u2010", "\u2011", "\u2212", "\u30fc", "\uff0d"]
SEPARATORS = [*HYPHENS, " ", "\u3000", "(", ")", "."]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


def number_of(prefix: st.SearchStrategy[str], rest: int) -> st.SearchStrategy[str]:
    return st.tuples(prefix, digits(rest)).map("".join)


def geographic() -> st.SearchStrategy[str]:
    special = ("0120", "0170", "0180", "0570", "0990", "091")
    return number_of(st.from_regex(r"0[1-9][1-9]", fullmatch=True), 7).filter(lambda n: not n.startswith(special))


VALID = {
    K.MOBILE: number_of(st.from_regex(r"0[6-9]0[1-9]", fullmatch=True), 7),
    K.IP_PHONE: number_of(st.from_regex(r"050[1-9]", fullmatch=True), 7),
    K.FREE_DIAL: st.one_of(number_of(st.just("0120"), 6), number_of(st.just("0800"), 7)),
    K.NAVI_DIAL: number_of(st.just("0570"), 6),
    K.GEOGRAPHIC: geographic(),
}
valid_numbers = st.one_of(*(st.tuples(st.just(kind), numbers) for kind, numbers in VALID.items()))


@st.composite
def written(draw: st.DrawFn, national: str) -> str:
    """The same number as a person, a phone or a SIP trunk might write it."""
    form = draw(st.sampled_from(["national", "+81", "+81 (0)", "81", "tel", "sip"]))
    body = {"national": national, "+81": "+81" + national[1:], "+81 (0)": "+81(0)" + national[1:],
            "81": "81" + national[1:], "tel": "+81" + national[1:], "sip": national}[form]
    pieces = []
    for char in body:
        pieces.append(char)
        if draw(st.integers(0, 3)) == 0:
            pieces.append(draw(st.sampled_from(SEPARATORS if form not in ("tel", "sip") else ["-", "."])))
    text = "".join(pieces)
    if form == "tel":
        return "tel:" + text + draw(st.sampled_from(["", ";phone-context=example.jp"]))
    if form == "sip":
        return "sip:" + text + "@pbx.example.jp" + draw(st.sampled_from(["", ";user=phone", ";transport=tls"]))
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH)
    return draw(st.sampled_from(["", " ", "\u3000"])) + text + draw(st.sampled_from(["", " "]))


# --- normalize -----------------------------------------------------------------------------

NUMBERISH = st.text(alphabet="0123456789０１２３４５６７８９+＋*#＃-‐−ー－ ()（）.81telsip:@;=a\u3000", max_size=30)


@given(st.one_of(NUMBERISH, st.text(max_size=30)))
def test_normalize_gives_digits_star_hash_and_a_leading_plus_or_raises(raw: str) -> None:
    try:
        result = normalize(raw)
    except InvalidNumber as exc:
        assert isinstance(exc, ValueError) and str(exc)
        return
    assert result and set(result) <= set("0123456789*#+")
    assert "+" not in result[1:]
    assert not result.startswith("+81")


@given(st.one_of(NUMBERISH, st.text(max_size=30)))
def test_normalize_is_idempotent(raw: str) -> None:
    try:
        once = normalize(raw)
    except InvalidNumber:
        return
    assert normalize(once) == once


@pytest.mark.parametrize(("raw", "expected"), [
    ("03-1234-5678", "0312345678"),
    ("03(1234)5678", "0312345678"),
    ("０３−１２３４−５６７８", "0312345678"),
    ("０９０ー１２３４ー５６７８", "09012345678"),
    ("090\u20101234\u20115678", "09012345678"),
    ("\u3000090 1234 5678 ", "09012345678"),
    ("+81 3-1234-5678", "0312345678"),
    ("+81 90-1234-5678", "09012345678"),
    ("＋８１ ９０ １２３４ ５６７８", "09012345678"),
    ("+81 (0)3-1234-5678", "0312345678"),
    ("81312345678", "0312345678"),
    ("sip:0312345678@pbx.example.jp", "0312345678"),
    ("sip:+81312345678@pbx.example.jp;user=phone", "0312345678"),
    ("sip:0312345678;npdi@pbx.example.jp", "0312345678"),
    ("SIP:%2372@pbx.example.jp", "#72"),
    ("tel:+81-3-1234-5678;phone-context=example.jp", "0312345678"),
    ("+1 (212) 555-0100", "+12125550100"),
    ("*72", "*72"),
    ("#7119", "#7119"),
    ("184-03-1234-5678", "1840312345678"),
    ("186 090 1234 5678", "18609012345678"),
    ("1001", "1001"),
])
def test_normalize_examples(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(("raw", "char"), [
    ("03-1234-567A", "'A'"), ("tel:abc", "'a'"), ("090/1234/5678", "'/'"), ("03-1234+5678", "'+'"),
    ("0312345678,,123", "','"),
])
def test_normalize_names_the_bad_character(raw: str, char: str) -> None:
    with pytest.raises(InvalidNumber, match=re.escape(f"invalid character {char}")):
        normalize(raw)


@pytest.mark.parametrize("raw", ["", "   ", "+", "-()-", "sip:@pbx.example.jp"])
def test_normalize_rejects_empty(raw: str) -> None:
    with pytest.raises(InvalidNumber):
        normalize(raw)


# --- classify ------------------------------------------------------------------------------

normalized_strings = st.from_regex(r"\+?[0-9*#]{1,20}", fullmatch=True)


@given(normalized_strings, st.one_of(st.none(), st.sets(st.integers(1, 12), max_size=4)))
def test_classify_is_total_over_normalized_strings(number: str, lengths: set[int] | None) -> None:
    info = classify(number, extension_lengths=lengths)
    assert isinstance(info.kind, NumberKind)
    assert info.normalized == normalize(number)
    assert isinstance(restriction_class(info), str)
    assert isinstance(format_display(number), str)
    if info.e164 is not None:
        assert info.e164.startswith("+") and info.e164[1:].isdigit() and len(info.e164) <= 16
    if info.kind is NumberKind.EMERGENCY:
        assert info.destination in ("110", "118", "119")


@given(valid_numbers.flatmap(lambda kn: st.tuples(st.just(kn[0]), st.just(kn[1]), written(kn[1]))))
def test_any_way_of_writing_a_valid_number_classifies_the_same(case: tuple[NumberKind, str, str]) -> None:
    kind, national, text = case
    info = classify(text)
    assert info.kind is kind, text
    assert info.normalized == national
    assert info.e164 == "+81" + national[1:]


@given(valid_numbers)
def test_e164_round_trips_to_the_domestic_form(case: tuple[NumberKind, str]) -> None:
    _, national = case
    e164 = classify(national).e164
    assert e164 is not None
    assert normalize(e164) == national
    assert classify(e164).kind is classify(national).kind


@given(st.sampled_from(["110", "118", "119"]), st.sampled_from(["", "184", "186"]),
       st.sampled_from(["", "-", " ", "ー"]), st.booleans(),
       st.one_of(st.none(), st.sets(st.integers(1, 12), max_size=4)))
def test_emergency_numbers_are_emergency_whatever_the_prefix(
        number: str, prefix: str, sep: str, wide: bool, lengths: set[int] | None) -> None:
    text = prefix + sep + number
    info = classify(text.translate(FULL_WIDTH) if wide else text, extension_lengths=lengths)
    assert info.kind is NumberKind.EMERGENCY and info.is_emergency
    assert restriction_class(info) == "emergency"
    assert is_allowed(info, set())
    assert info.caller_id == {"": None, "184": "withhold", "186": "present"}[prefix]


@given(valid_numbers, st.sampled_from(["184", "186"]))
def test_caller_id_prefix_is_reported_and_the_rest_classified(case: tuple[NumberKind, str], prefix: str) -> None:
    kind, national = case
    info = classify(prefix + "-" + national)
    assert (info.kind, info.destination, info.e164) == (kind, national, "+81" + national[1:])
    assert info.caller_id == ("withhold" if prefix == "184" else "present")


TABLE = [
    # text, kind, e164, area code, restriction class, display
    ("03-1234-5678", K.GEOGRAPHIC, "+81312345678", "03", "domestic", "03-1234-5678"),  # Tokyo
    ("06-1234-5678", K.GEOGRAPHIC, "+81612345678", "06", "domestic", "06-1234-5678"),  # Osaka
    ("025-123-4567", K.GEOGRAPHIC, "+81251234567", None, "domestic", "0251234567"),  # Niigata
    ("0258-12-3456", K.GEOGRAPHIC, "+81258123456", None, "domestic", "0258123456"),  # Nagaoka
    ("0263-12-3456", K.GEOGRAPHIC, "+81263123456", None, "domestic", "0263123456"),  # Matsumoto/Shiojiri
    ("076-123-4567", K.GEOGRAPHIC, "+81761234567", None, "domestic", "0761234567"),  # Kanazawa
    ("046-123-4567", K.GEOGRAPHIC, "+81461234567", None, "domestic", "0461234567"),  # Zama area
    ("0280-12-3456", K.GEOGRAPHIC, "+81280123456", None, "domestic", "0280123456"),  # 0AB0 but geographic
    ("0120-123-456", K.FREE_DIAL, "+81120123456", None, "free", "0120-123-456"),
    ("0800-123-4567", K.FREE_DIAL, "+818001234567", None, "free", "0800-123-4567"),
    ("0570-000-000", K.NAVI_DIAL, "+81570000000", None, "navi", "0570-000-000"),
    ("0570012345", K.NAVI_DIAL, "+81570012345", None, "navi", "0570-012-345"),
    ("0990-123-456", K.PREMIUM, "+81990123456", None, "premium", "0990-123-456"),
    ("0180-993-123", K.SPECIAL_PREFIX, "+81180993123", None, "special", "0180-993-123"),
    ("0170-00-8300", K.SPECIAL_PREFIX, "+81170008300", None, "special", "0170-008-300"),
    ("090-1234-5678", K.MOBILE, "+819012345678", None, "mobile", "090-1234-5678"),
    ("080-1234-5678", K.MOBILE, "+818012345678", None, "mobile", "080-1234-5678"),
    ("070-1234-5678", K.MOBILE, "+817012345678", None, "mobile", "070-1234-5678"),
    ("060-1234-5678", K.MOBILE, "+816012345678", None, "mobile", "060-1234-5678"),
    ("050-1234-5678", K.IP_PHONE, "+815012345678", None, "ip", "050-1234-5678"),
    ("020-1234-5678", K.M2M, "+812012345678", None, "mobile", "020-1234-5678"),
    ("0204-123-4567", K.PAGER, "+812041234567", None, "mobile", "020-4123-4567"),
    ("010-1-212-555-0100", K.INTERNATIONAL, "+12125550100", None, "international", "+1 2125550100"),
    ("+1 212 555 0100", K.INTERNATIONAL, "+12125550100", None, "international", "+1 2125550100"),
    ("010-44-20-7946-0000", K.INTERNATIONAL, "+442079460000", None, "international", "+44 2079460000"),
    ("010-852-2123-4567", K.INTERNATIONAL, "+85221234567", None, "international", "+852 21234567"),
    ("110", K.EMERGENCY, None, None, "emergency", "110"),
    ("118", K.EMERGENCY, None, None, "emergency", "118"),
    ("119", K.EMERGENCY, None, None, "emergency", "119"),
    ("171", K.SPECIAL_SERVICE, None, None, "special", "171"),
    ("104", K.SPECIAL_SERVICE, None, None, "special", "104"),
    ("184-03-1234-5678", K.GEOGRAPHIC, "+81312345678", "03", "domestic", "184-03-1234-5678"),
    ("*72", K.FEATURE_CODE, None, None, "feature", "*72"),
    ("#7119", K.FEATURE_CODE, None, None, "feature", "#7119"),
    ("1001", K.EXTENSION, None, None, "extension", "1001"),
    ("201", K.EXTENSION, None, None, "extension", "201"),
    # invalid: wrong length for the prefix, unusable country code
    ("03-123", K.INVALID, None, None, "invalid", "03123"),
    ("090-1234-567", K.INVALID, None, None, "invalid", "0901234567"),
    ("0120-123-4567", K.INVALID, None, None, "invalid", "01201234567"),
    ("030-1234-5678", K.INVALID, None, None, "invalid", "03012345678"),
    ("010-0-123456", K.INVALID, None, None, "invalid", "0100123456"),
    ("010-1-212", K.INVALID, None, None, "invalid", "0101212"),
    ("03*1234", K.INVALID, None, None, "invalid", "03*1234"),
    # exists, but not routed by this module
    ("0033-010-1-212-555-0100", K.UNKNOWN, None, None, "unknown", "003301012125550100"),
    ("184", K.UNKNOWN, None, None, "unknown", "184"),
    ("123456789", K.UNKNOWN, None, None, "unknown", "123456789"),
]


@pytest.mark.parametrize(("text", "kind", "e164", "area", "klass", "display"), TABLE)
def test_table(text: str, kind: NumberKind, e164: str | None, area: str | None, klass: str, display: str) -> None:
    info = classify(text)
    assert (info.kind, info.e164, info.area_code) == (kind, e164, area)
    assert restriction_class(info) == klass
    assert format_display(text) == display
    assert info.is_toll_free == (kind is K.FREE_DIAL)


def test_caller_id_prefix_fields() -> None:
    info = classify("184-03-1234-5678")
    assert (info.normalized, info.destination, info.caller_id) == ("1840312345678", "0312345678", "withhold")
    assert classify("186-090-1234-5678").caller_id == "present"
    assert classify("03-1234-5678").caller_id is None


def test_country_code() -> None:
    assert classify("+1 212 555 0100").country_code == "1"
    assert classify("010 7 495 123 4567").country_code == "7"
    assert classify("010-86-10-1234-5678").country_code == "86"
    assert classify("010-886-2-1234-5678").country_code == "886"
    assert classify("010-81-3-1234-5678").country_code == "81"  # dialled as an international call
    assert classify("090-1234-5678").country_code is None


def test_extension_lengths_are_configurable() -> None:
    assert classify("12345").kind is K.EXTENSION
    assert classify("12345", extension_lengths={4}).kind is K.UNKNOWN
    assert classify("2001", extension_lengths={4}).kind is K.EXTENSION
    assert classify("110", extension_lengths={3}).kind is K.EMERGENCY
    assert classify("104", extension_lengths={3}).kind is K.SPECIAL_SERVICE
    assert classify("0312", extension_lengths={4}).kind is K.INVALID


def test_is_allowed_lets_emergency_through_and_nothing_else_unasked() -> None:
    assert is_allowed(classify("119"), ())
    assert not is_allowed(classify("090-1234-5678"), ("domestic", "free"))
    assert is_allowed(classify("090-1234-5678"), ("mobile",))
    assert not is_allowed(classify("010-1-212-555-0100"), ("domestic", "mobile", "free"))
    assert not is_allowed(classify("0033-010-1-212-555-0100"), ("domestic", "mobile", "free"))


@given(st.text(max_size=20))
def test_format_display_never_raises(text: str) -> None:
    assume(text.strip() != "")
    assert isinstance(format_display(text), str)


def test_format_display_of_text_that_is_no_number_is_unchanged() -> None:
    assert format_display(" anonymous ") == "anonymous"


# --- DIDs, representative and direct numbers --------------------------------------------------

@given(st.one_of(NUMBERISH, st.text(max_size=30), valid_numbers.flatmap(lambda kn: written(kn[1]))))
def test_did_number_is_plain_digits_of_a_did_kind_or_refused(raw: str) -> None:
    try:
        number = did_number(raw)
    except InvalidNumber:
        return
    assert number.isdigit() and number.startswith("0") and 10 <= len(number) <= 11, (raw, number)
    assert classify(number).kind in DID_KINDS
    assert did_number(number) == number


@pytest.mark.parametrize("raw", ["046-251-1111", "+81 46-251-1111", "０４６（２５１）１１１１", "tel:+81-46-251-1111",
                                 "(046) 251.1111", " 046 251 1111 "])
def test_did_number_examples(raw: str) -> None:
    assert did_number(raw) == "0462511111"


@pytest.mark.parametrize("raw", ["09012345678", "0990123456", "110", "2001", "046-251-1111^^:x", "0462511111,x",
                                 "+1 212 555 0100", "abc"])
def test_did_number_refuses_what_no_caller_id_can_be(raw: str) -> None:
    with pytest.raises(InvalidNumber):
        did_number(raw)
