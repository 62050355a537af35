"""URL encoding and the mod_xml_curl client against the captures."""
from __future__ import annotations

import asyncio
import hashlib

import pytest
from hypothesis import given, settings, strategies as st

from fsemu.fixtures import xml_curl_dir
from fsemu.urlencode import UrlDecodeError, decode_form, encode_form, url_decode, url_decode_bytes, url_encode
from fsemu.xml_curl import NOT_FOUND, XmlCurlClient, digest_response, find_user, verify_digest

BODIES = sorted(xml_curl_dir().glob("*.body"))


@pytest.mark.parametrize("path", BODIES, ids=lambda p: p.name)
def test_capture_bodies_reencode_identically(path) -> None:
    body = path.read_bytes()
    assert encode_form(decode_form(body)) == body


def test_decoded_txt_matches() -> None:
    for txt in xml_curl_dir().glob("*.decoded.txt"):
        body = txt.with_name(txt.name.replace(".decoded.txt", ".body")).read_bytes()
        text = txt.read_bytes().decode("utf-8").rstrip("\n")
        assert "\n".join(f"{k}={v}" for k, v in decode_form(body)) == text


def test_known_encodings() -> None:
    assert url_encode("tone_stream://%(1000,0,440)") == "tone_stream%3A//%25(1000,0,440)"
    assert url_encode("+OK\n") == "%2BOK%0A"
    assert url_encode("a%41b") == "a%41b"  # switch_url_encode does not double-encode %XX
    assert url_encode("é") == "%C3%A9"


@given(st.text().filter(lambda s: "\x00" not in s))
def test_roundtrip_double_encoded(text: str) -> None:
    assert url_decode(url_encode(text, double_encode=True)) == text


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="%\x00")))
def test_roundtrip_without_percent(text: str) -> None:
    assert url_decode(url_encode(text)) == text


@given(st.binary())
def test_decode_arbitrary_bytes(data: bytes) -> None:
    try:
        out = url_decode(data)
    except UrlDecodeError:
        return
    assert isinstance(out, str)
    assert b"\x00" not in url_decode_bytes(data)


async def _capture_server(response: bytes):
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        clen = int([ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0].split(b":")[1])
        body = await r.readexactly(clen)
        await got.put(head + body)
        w.write(response)
        await w.drain()
        w.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], got


def _http(status: int, body: bytes) -> bytes:
    return f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


CASES = [  # (capture, kwargs)
    ("xml_curl_directory_sip_auth_REGISTER", "directory", {}),
    ("xml_curl_directory_user_call", "directory", {}),
    ("raw_xml_curl_007_directory", "directory", {}),
    ("raw_xml_curl_012_directory", "directory", {}),
    ("raw_xml_curl_100_directory", "directory", {}),
    ("xml_curl_dialplan_9196", "dialplan", {}),
]


@pytest.mark.parametrize("name,kind,_", CASES)
async def test_client_sends_capture_bytes(name: str, kind: str, _: dict) -> None:
    cap = decode_form((xml_curl_dir() / f"{name}.body").read_bytes())
    d = dict(cap)
    server, port, got = await _capture_server(_http(200, NOT_FOUND.encode()))
    try:
        client = XmlCurlClient(f"http://127.0.0.1:{port}/fsapi", clock=lambda: int(d["Event-Date-Timestamp"]))
        skip = {"hostname", "section", "tag_name", "key_name", "key_value", "Core-UUID", "FreeSWITCH-Hostname",
                "FreeSWITCH-Switchname", "FreeSWITCH-IPv4", "FreeSWITCH-IPv6", "Event-Date-Local", "Event-Date-GMT",
                "Event-Date-Timestamp", "Event-Sequence"}
        extra = {k.replace("-", "__"): v for k, v in cap if k not in skip}
        if kind == "dialplan":
            body = client.dialplan_body(destination_number=d["Caller-Destination-Number"],
                                        caller_id_number=d["Caller-Caller-ID-Number"],
                                        seq=int(d["Event-Sequence"]), **extra)
            resp = await client.post(body)
        else:
            action = d.get("action")
            extra.pop("action", None)
            resp = await client.directory(action=action, seq=int(d["Event-Sequence"]), **extra)
        sent = await asyncio.wait_for(got.get(), 5)
        expected_body = (xml_curl_dir() / f"{name}.body").read_bytes()
        head, body = sent.split(b"\r\n\r\n", 1)
        assert body == expected_body
        hdr = f"POST /fsapi HTTP/1.1\nHost: 127.0.0.1:{port}\nUser-Agent: freeswitch-xml/1.0\nAccept: */*\n" \
              f"Content-Length: {len(expected_body)}\nContent-Type: application/x-www-form-urlencoded"
        assert head.decode().replace("\r\n", "\n") == hdr
        assert resp.status == 200 and resp.not_found
    finally:
        server.close()


def test_capture_headers_shape() -> None:
    for h in xml_curl_dir().glob("raw_*.headers"):
        lines = h.read_text().split("\n")
        assert [ln.split(":")[0] for ln in lines[1:6]] == ["Host", "User-Agent", "Accept", "Content-Length",
                                                           "Content-Type"]


async def test_non_200_and_garbage_are_not_found() -> None:
    for resp_bytes in (_http(500, b"<document/>"), _http(200, b"<not xml"), _http(404, b"")):
        server, port, _ = await _capture_server(resp_bytes)
        try:
            resp = await XmlCurlClient(f"http://127.0.0.1:{port}/fsapi").directory(user="1", domain="d")
            assert resp.not_found
        finally:
            server.close()
    resp = await XmlCurlClient("http://127.0.0.1:1/fsapi").directory(user="1", domain="d")
    assert resp.status == 0 and resp.not_found  # CURL returned error:[7]


async def test_directory_user_and_digest() -> None:
    served = (xml_curl_dir() / "served_directory_response_user2000.xml").read_bytes()
    server, port, _ = await _capture_server(_http(200, served))
    try:
        resp = await XmlCurlClient(f"http://127.0.0.1:{port}/fsapi").directory(
            user="2000", domain="127.0.0.1", action="sip_auth", sip_auth_method="REGISTER")
    finally:
        server.close()
    assert not resp.not_found and resp.xml is not None
    user = find_user(resp.xml, "2000", "127.0.0.1")
    assert user is not None and user.variables["accountcode"] == "2000"
    assert user.a1_hash() == hashlib.md5(b"2000:127.0.0.1:secret2000").hexdigest()
    good = digest_response(hashlib.md5(b"2000:127.0.0.1:secret2000").hexdigest(), "REGISTER", "sip:127.0.0.1", "n",
                           qop="auth", nc="00000001", cnonce="c")
    bad = digest_response(hashlib.md5(b"2000:127.0.0.1:wrong").hexdigest(), "REGISTER", "sip:127.0.0.1", "n",
                          qop="auth", nc="00000001", cnonce="c")
    kw = dict(method="REGISTER", uri="sip:127.0.0.1", nonce="n", qop="auth", nc="00000001", cnonce="c")
    assert verify_digest(user, response=good, **kw)
    assert not verify_digest(user, response=bad, **kw)
    assert find_user(resp.xml, "2999", "127.0.0.1") is None
