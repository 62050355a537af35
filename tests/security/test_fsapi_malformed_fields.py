"""Issue 10, item 13, replayed: ``%00`` or ``%ff`` in ``Caller-Destination-Number`` (a phone can send
it: an INVITE to ``%ff2002``) gave a plain-text 500 and a reset connection. Every field /fsapi reads,
with every kind of bad escape, is now FreeSWITCH's "not found" document (HTTP 200) and a log line
with the call's UUID; a property test checks that nothing but ``BadRequest`` (answered so) can
come out of parsing and answering any value in any field.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from fsemu.xml_curl import XmlCurlClient
from hibiki.common.auth import TokenAuthority
from hibiki.directory import documents
from hibiki.directory.fsapi import answer
from hibiki.directory.guard import AuthGuard
from hibiki.directory.view import DeviceEntry, DirectoryView, TenantView, UserEntry
from hibiki.directory.xmlcurl import POSTED_FIELDS, BadRequest, parse
from support.directory import Directory, directory_config, running_directory

NOT_FOUND = documents.NOT_FOUND.encode()
BAD = ["%00", "%ff", "%c3%28", "%ed%a0%80", "%f8%88%80%80%80", "1%002", "%ff2002", "%", "%zz", "%e3%81"]


@pytest.fixture
async def directory(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> AsyncIterator[Directory]:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority, "mal") as d:
        await d.post("/api/v1/tenants", {"id": "mal", "domain": "mal.example.jp"})
        user = await d.post("/api/v1/tenants/mal/users", {"username": "u1", "extension": "2002"})
        await d.post("/api/v1/tenants/mal/devices", {"user_id": user["id"], "sip_username": "2002",
                                                     "password": "a long password"})
        yield d


def dialplan(call_uuid: str, field: str, raw: str) -> bytes:
    """A dialplan request of a user's call with one field's value replaced by ``raw`` (already encoded);
    when that field is one of the two that carry the call's UUID, the other still does."""
    client = XmlCurlClient("http://x/fsapi")
    fields = {"Unique-ID": call_uuid, "Channel-Call-UUID": call_uuid, "variable_hibiki_tenant": "mal",
              "variable_hibiki_user": "nobody", "action": "", "user": "2002", "domain": "mal.example.jp"}
    body = client.dialplan_body(destination_number="2002", caller_id_number="2002", **{
        k.replace("-", "__"): v for k, v in fields.items()}).decode()
    pairs = [p.partition("=") for p in body.split("&")]
    out, replaced = [], False
    for key, _, value in pairs:
        if key == field and not replaced:
            value, replaced = raw, True
        out.append(f"{key}={value}")
    if not replaced:
        out.append(f"{field}={raw}")
    return "&".join(out).encode()


async def test_bad_escapes_in_every_field_are_not_found_and_logged(directory: Directory) -> None:
    fs = XmlCurlClient(directory.fsapi)
    statuses: dict[int, int] = {}
    wrong_answers = unlogged = 0
    sent = 0
    with structlog.testing.capture_logs() as logs:
        for field in POSTED_FIELDS + ("section", "hostname", "key_value"):
            for bad in BAD:
                call_uuid = str(uuid.uuid4())
                reply = await fs.post(dialplan(call_uuid, field, bad))
                sent += 1
                statuses[reply.status] = statuses.get(reply.status, 0) + 1
                if reply.body != NOT_FOUND:
                    wrong_answers += 1
                named = {call_uuid, bad}   # "%zz" is no escape: a UUID field with it is logged as such
                unlogged += not any(e.get("call_uuid") in named for e in logs)
                logs.clear()
    print(f"\nrequests with a bad escape: {sent}; HTTP statuses: {statuses}; answers other than not found: "
          f"{wrong_answers}; without a log line: {unlogged}")
    assert statuses == {200: sent} and wrong_answers == 0 and unlogged == 0
    # the service is still there and answers a good request
    good = await XmlCurlClient(directory.fsapi).dialplan(destination_number="0312345678", caller_id_number="0312345678",
                                                         context="public")
    assert good.status == 200


def small_view() -> DirectoryView:
    view = DirectoryView()
    user = UserEntry("u1", "u1", extension="2002", devices=("2002",))
    view.replace(TenantView("mal", "mal.example.jp", 1, users={"u1": user}, extensions={"2002": "u1"},
                            usernames={"u1": "u1"}, devices={"2002": DeviceEntry("2002", "0" * 32, "u1")}))
    return view


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(POSTED_FIELDS), value=st.binary(max_size=12), section=st.sampled_from(["dialplan", "directory"]),
       action=st.sampled_from(["sip_auth", "user_call", "", "group_call", "voicemail-lookup"]), trusted=st.booleans())
def test_any_value_in_any_field_is_an_answer_or_bad_request(field: str, value: bytes, section: str, action: str,
                                                          trusted: bool) -> None:
    body = (f"section={section}&tag_name=domain&key_name=name&key_value=mal.example.jp&action={action}"
            f"&user=2002&domain=mal.example.jp&Caller-Destination-Number=2002&variable_hibiki_tenant=mal"
            f"&{quote(field)}={quote(value)}").encode()
    try:
        request = parse(body)
        result = answer(request, small_view(), AuthGuard(), datetime.now(UTC), trusted=trusted)
    except BadRequest:
        return   # answered with the not-found document and logged by the endpoint
    assert result.outcome in ("found", "not_found") and result.document.startswith("<document")


# Characters Python calls digits (str.isdigit) that int() refuses or that are no ASCII digit: a phone can
# dial them (an INVITE to *71%C2%B2), and int('²') raised ValueError inside /fsapi (a 500, survival routing).
UNICODE_DIGITS = ["²", "³", "¹", "①", "٣", "５", "𝟙", "2²", "20²"]


async def test_unicode_digits_in_a_dialled_number_are_answered_not_crashed(directory: Directory) -> None:
    fs = XmlCurlClient(directory.fsapi)
    statuses: dict[int, int] = {}
    sent = 0
    for digits in UNICODE_DIGITS:
        for prefix in ("*71", "*72", "*50", "*8", "", "0"):
            reply = await fs.post(dialplan(str(uuid.uuid4()), "Caller-Destination-Number", quote(prefix + digits)))
            sent += 1
            statuses[reply.status] = statuses.get(reply.status, 0) + 1
            assert reply.body.startswith(b"<document"), (prefix, digits, reply.body[:200])
    print(f"\ndialled numbers with non-ASCII digits: {sent}; HTTP statuses: {statuses}")
    assert statuses == {200: sent}
    for days in ("²", "٣", "１"):
        reply = await directory.api.get("/api/v1/tenants/mal/schedules/none/calendar", params={"days": days})
        assert reply.status_code in (400, 404), (days, reply.status_code, reply.text)
