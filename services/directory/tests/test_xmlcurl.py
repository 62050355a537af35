"""Parsing what mod_xml_curl sends, against the captures of a real FreeSWITCH 1.10."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsemu.post_vars import filter_body, whitelist
from hibiki.directory.xmlcurl import POSTED_FIELDS, BadRequest, parse
from support.servers import FIXTURES, REPO

BODIES = sorted((FIXTURES / "xml_curl").glob("*.body"))


def test_there_are_captures() -> None:
    assert len(BODIES) >= 25


@pytest.mark.parametrize("path", BODIES, ids=lambda p: p.name)
def test_every_capture_parses(path: Path) -> None:
    decoded = path.with_suffix(".decoded.txt")
    request = parse(path.read_bytes())
    assert request.section in ("directory", "dialplan")
    assert request.hostname == "fs"
    if request.section == "directory" and request.get("purpose") != "gateways":
        assert request.domain == "127.0.0.1"
    if decoded.exists():  # one field per line, as FreeSWITCH meant them
        for line in decoded.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key in ("section", "user", "domain", "action", "Event-Date-GMT", "FreeSWITCH-IPv6"):
                assert request.get(key) == value


def test_sip_auth_capture_fields() -> None:
    request = parse((FIXTURES / "xml_curl" / "xml_curl_directory_sip_auth_REGISTER.body").read_bytes())
    assert (request.action, request.user, request.domain) == ("sip_auth", "1001", "127.0.0.1")
    assert request.get("sip_auth_method") == "REGISTER"
    assert request.get("Event-Date-GMT") == "Mon, 23 Nov 2026 07:34:18 GMT"


@pytest.mark.parametrize("body,reason", [
    (b"", "empty body"),
    (b"\xff\xfe", "not UTF-8"),
    (b"hostname=fs&tag_name=", "no section"),
    (b"section=config&x=1", "unknown section"),
    (b"section=directory&novalue", "not form-encoded"),
    (b"section=directory&user=%00", "NUL byte"),
    (b"section=directory&user=%C3%28", "not form-encoded"),
])
def test_malformed_bodies_are_bad_requests(body: bytes, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        parse(body)


def test_truncated_capture_still_parses_or_is_rejected() -> None:
    body = (FIXTURES / "xml_curl" / "xml_curl_directory_sip_auth_INVITE.body").read_bytes()
    for cut in range(0, len(body), 7):
        try:
            request = parse(body[:cut])
        except BadRequest:
            continue
        assert request.section == "directory"


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_bad_request(body: bytes) -> None:
    try:
        request = parse(body)
    except BadRequest:
        return
    assert request.section


@given(st.dictionaries(st.text(min_size=1, max_size=20).filter(lambda k: "\x00" not in k),
                       st.text(max_size=40).filter(lambda v: "\x00" not in v), max_size=8),
       st.sampled_from(["directory", "dialplan"]))
def test_encode_then_parse_round_trips(fields: dict[str, str], section: str) -> None:
    fields = {k: v for k, v in fields.items() if k != "section"}
    body = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in {"section": section, **fields}.items())
    request = parse(body.encode())
    assert request.section == section
    assert {k: request.get(k) for k in fields} == fields


XML_CURL_CONF = REPO / "freeswitch" / "conf" / "autoload_configs" / "xml_curl.conf.xml"
SOURCES = REPO / "services" / "directory" / "src" / "hibiki" / "directory"
ALWAYS_SENT = {"hostname", "section", "tag_name", "key_name", "key_value"}


def test_freeswitch_posts_exactly_the_fields_the_directory_reads() -> None:
    assert whitelist(XML_CURL_CONF) == POSTED_FIELDS
    assert len(set(POSTED_FIELDS)) == len(POSTED_FIELDS)


def test_every_field_the_code_reads_is_posted() -> None:
    """A field read from a request but missing from the whitelist would be "" on a real FreeSWITCH."""
    read = set()
    for path in SOURCES.rglob("*.py"):
        read |= set(re.findall(r"""request\.get\(["']([^"']+)["']""", path.read_text()))
    assert read, "no request.get(...) found: the scan is broken"
    assert read - ALWAYS_SENT <= set(POSTED_FIELDS), read - ALWAYS_SENT - set(POSTED_FIELDS)


@pytest.mark.parametrize("path", BODIES, ids=lambda p: p.name)
def test_whitelisted_body_reads_the_same(path: Path) -> None:
    """What FreeSWITCH posts with the shipped whitelist gives every read field its full-body value."""
    body = path.read_bytes()
    short = filter_body(body, POSTED_FIELDS)
    assert len(short) < len(body) or body.count(b"&") < 30
    full, trimmed = parse(body), parse(short)
    assert trimmed.section == full.section
    for name in (*ALWAYS_SENT, *POSTED_FIELDS):
        assert trimmed.get(name) == full.get(name), name
