"""Agent codes (CC-02): ``*50<agent>``, ``*59``, ``*51``, ``*52``, ``*53[reason]``, ``*55<case type>``
dialled from a user's phone go to callcontrol (``hibiki_app=agent:...``) with the phone as
``hibiki_agent_device``, through the real xml_curl interface and the FreeSWITCH emulator."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsemu import FreeSwitchEmulator
from hibiki.common.auth import TokenAuthority
from hibiki.directory.features import AGENT_CODES, agent_code
from support.directory import directory_config, routed, running_directory
from support.servers import free_port

DOMAIN = "kanazawa.example.jp"
REFUSE_TONE = "tone_stream://%(500,100,480,620);loops=2"
WELL_FORMED = re.compile(r"\*(50[0-9]{1,16}|59|51|52|53[0-9]{0,8}|55[0-9]{1,8})")


@dataclasses.dataclass
class Office:
    fsapi: str
    tenant: str
    users: dict[str, dict[str, Any]]
    callcontrol: str


@pytest.fixture
async def office(tmp_path: Path, nats_server: Any, nats_client: Any,
                 authority: TokenAuthority) -> AsyncIterator[Office]:
    callcontrol = f"127.0.0.1:{free_port()}"     # nobody listens: the fallback runs
    config = directory_config(tmp_path, nats_server, callcontrol_address=callcontrol)
    async with running_directory(config, nats_client, authority, "kanazawa") as d:
        await d.post("/api/v1/tenants", {"id": "kanazawa", "domain": DOMAIN})
        seat = await d.post("/api/v1/tenants/kanazawa/users", {"username": "seat01", "extension": "3001"})
        shared = await d.post("/api/v1/tenants/kanazawa/users", {"username": "seat02"})   # no extension
        yield Office(d.fsapi, "kanazawa", {"seat": seat, "shared": shared}, callcontrol)


async def place(office: Office, destination: str, user: str | None = "seat") -> Any:
    variables = {"hibiki_tenant": office.tenant, "domain_name": DOMAIN}
    if user is not None:
        variables["hibiki_user"] = office.users[user]["id"]
    async with FreeSwitchEmulator() as emu:
        call = await emu.place_call(destination=destination, caller_id_number="3001", domain=DOMAIN,
                                    dialplan_url=office.fsapi, variables=variables)
        await asyncio.wait_for(call.finished, 10)
        return call


def handed_to_callcontrol(office: Office, app: str, device: str) -> list[tuple[str, str]]:
    return [("set", f"hibiki_app={app}"), ("set", f"hibiki_domain={DOMAIN}"),
            ("set", f"hibiki_agent_device={device}"), ("set", f"hibiki_handoff={app}"),
            ("sched_transfer", "+5 hibiki_handoff_missed XML default"),
            ("socket", f"{office.callcontrol} async full"), ("sched_cancel", ""), ("unset", "hibiki_handoff"),
            ("answer", ""), ("playback", REFUSE_TONE), ("hangup", "NORMAL_TEMPORARY_FAILURE")]


@pytest.mark.parametrize(("dialled", "app"), [
    ("*501234", "agent:login:1234"), ("*59", "agent:logout:"), ("*51", "agent:ready:"),
    ("*52", "agent:not_ready:"), ("*5307", "agent:break:07"), ("*53", "agent:break:"),
    ("*55101", "agent:disposition:101"),
])
async def test_agent_codes_go_to_callcontrol_with_the_phone(office: Office, dialled: str, app: str) -> None:
    call = await place(office, dialled)
    # callcontrol is not there: socket fails and the caller hears the refusal tone, not silence
    assert routed(call.executed) == handed_to_callcontrol(office, app, "3001")
    assert call.variables["hibiki_agent_device"] == "3001"
    assert call.hangup_cause == "NORMAL_TEMPORARY_FAILURE"


async def test_a_user_without_an_extension_is_the_device_by_username(office: Office) -> None:
    call = await place(office, "*5042", user="shared")
    assert routed(call.executed) == handed_to_callcontrol(office, "agent:login:42", "seat02")


@pytest.mark.parametrize("dialled", ["*50", "*55", "*5912", "*5112", "*50１２", "*50abc", "*53x", "*54", "*56",
                                     "*50" + "1" * 17, "*53" + "1" * 9])
async def test_malformed_agent_codes_are_no_feature_codes(office: Office, dialled: str) -> None:
    call = await place(office, dialled)
    assert not any(app == "socket" for app, _ in call.executed)
    assert call.hangup_cause in ("UNALLOCATED_NUMBER", "NO_ROUTE_DESTINATION")


async def test_agent_codes_need_a_known_user(office: Office) -> None:
    call = await place(office, "*501234", user=None)
    assert not any(app == "socket" for app, _ in call.executed)


async def test_the_existing_codes_keep_their_meaning(office: Office) -> None:
    assert ("voicemail", f"check default {DOMAIN}") in (await place(office, "*98")).executed
    assert ("voicemail", f"check default {DOMAIN} 3001") in (await place(office, "*97")).executed


# ---- parsing: only well-formed codes are recognised ---------------------------------------
DIALLED = st.one_of(
    st.text(alphabet="*0123456789#abc１٣", max_size=24),
    st.builds(lambda code, rest: code + rest, st.sampled_from(sorted(AGENT_CODES)),
              st.text(alphabet="0123456789", max_size=20)),
    st.builds(lambda code, rest: code + rest, st.sampled_from(sorted(AGENT_CODES)), st.text(max_size=10)),
)


@given(DIALLED)
def test_only_well_formed_codes_are_recognised(dialled: str) -> None:
    parsed = agent_code(dialled)
    assert (parsed is not None) == bool(WELL_FORMED.fullmatch(dialled))
    if parsed is not None:
        action, digits = parsed
        assert AGENT_CODES[dialled[:3]][0] == action and dialled == dialled[:3] + digits


@given(st.sampled_from(sorted(AGENT_CODES)), st.text(alphabet="0123456789", min_size=1, max_size=8))
def test_codes_round_trip(code: str, digits: str) -> None:
    action, _, allowed, _ = AGENT_CODES[code]
    assert agent_code(code + digits) == ((action, digits) if allowed else None)
