"""The emulator against the real Hibiki directory service: a device of a user made through the
admin API registers (sip_auth answered by the directory), and an extension call rings through
``bridge user/<ext>@<domain>`` -> ``user_call`` -> the dial-string -> ``${sofia_contact()}`` to
that device's contact, as FreeSWITCH 1.10 would."""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fsemu import FreeSwitchEmulator
from fsemu.post_vars import whitelist
from hibiki.common.auth import TokenAuthority
from support.directory import directory_config, running_directory

DOMAIN = "tsubame.example.jp"
PASSWORD = "twelve chars!"
XML_CURL_CONF = Path(__file__).resolve().parents[2] / "freeswitch" / "conf" / "autoload_configs" / "xml_curl.conf.xml"


@dataclasses.dataclass
class Pbx:
    fsapi: str
    tenant: str
    caller: dict[str, Any]
    callee: dict[str, Any]


@pytest.fixture
async def pbx(tmp_path: Path, nats_server: Any, nats_client: Any, authority: TokenAuthority) -> AsyncIterator[Pbx]:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority, "tsubame") as d:
        await d.post("/api/v1/tenants", {"id": "tsubame", "domain": DOMAIN})
        caller = await d.post("/api/v1/tenants/tsubame/users", {"username": "sato", "extension": "1000"})
        callee = await d.post("/api/v1/tenants/tsubame/users", {"username": "suzuki", "extension": "1001"})
        await d.post("/api/v1/tenants/tsubame/devices", {"user_id": caller["id"], "sip_username": "d1000",
                                                         "password": PASSWORD})
        for device in ("d1001", "d1001soft"):           # a desk phone and a softphone
            await d.post("/api/v1/tenants/tsubame/devices", {"user_id": callee["id"], "sip_username": device,
                                                             "password": PASSWORD})
        yield Pbx(d.fsapi, "tsubame", caller, callee)


async def place(emu: FreeSwitchEmulator, pbx: Pbx, endpoints: dict[str, object] | None = None) -> Any:
    variables = {"hibiki_tenant": pbx.tenant, "hibiki_user": pbx.caller["id"], "domain_name": DOMAIN}
    call = await emu.place_call(destination="1001", caller_id_number="1000", domain=DOMAIN, dialplan_url=pbx.fsapi,
                                variables=variables, answering_endpoints=endpoints)
    await asyncio.wait_for(call.finished, 10)
    return call


async def test_a_registered_device_is_rung_through_user_expansion(pbx: Pbx) -> None:
    async with FreeSwitchEmulator(directory_url=pbx.fsapi, directory_post_vars=whitelist(XML_CURL_CONF)) as emu:
        refused = await emu.register("d1001", DOMAIN, "not the password", network_ip="192.0.2.50")
        assert refused.rejected and refused.user is None   # no a1-hash for a digest that does not verify (403)
        desk = await emu.register("d1001", DOMAIN, PASSWORD, device_contact="sip:d1001@192.0.2.51:5060;transport=udp",
                                  network_ip="192.0.2.51", user_agent="Yealink SIP-T46U")
        assert desk.ok and desk.registration is not None
        assert desk.registration.variables["hibiki_user"] == pbx.callee["id"]     # the user's variables kept
        contact = desk.registration.endpoint
        assert contact == "sofia/internal/sip:d1001@192.0.2.51:5060;transport=udp"
        assert await emu.api.execute("sofia_contact", f"*/d1001@{DOMAIN}") == contact

        call = await place(emu, pbx, {contact: 1})
        assert ("bridge", f"user/1001@{DOMAIN}") in call.executed
        assert call.channel.executed_bridges == [contact]
        user_leg = call.channel.originations[0]
        assert user_leg.endpoint == f"user/1001@{DOMAIN}" and user_leg.dial_string is not None
        assert user_leg.dial_string.startswith(f"{{^^:sip_invite_domain={DOMAIN}:presence_id=1001@{DOMAIN}}}")
        assert user_leg.dial_string.endswith(f"{contact},error/user_not_registered")   # the softphone is not registered
        device_leg = next(leg for leg in call.channel.originations if leg.endpoint == contact)
        assert device_leg.variables["sip_invite_domain"] == DOMAIN
        assert device_leg.variables["hibiki_user"] == pbx.callee["id"]
        assert call.variables["dialed_user"] == "1001" and call.hangup_cause == "NORMAL_CLEARING"
        assert "voicemail" not in [app for app, _ in call.executed]
        request = emu.directory.requests[-1]
        assert dict(request.params)["action"] == "user_call" and dict(request.params)["user"] == "1001"
        assert request.body is not None and b"&action=user_call&" in request.body

        # both phones registered: they ring together, the softphone answers
        soft = await emu.register("d1001soft", DOMAIN, PASSWORD, device_contact="sip:d1001soft@192.0.2.52:5062",
                                  network_ip="192.0.2.52")
        assert soft.registration is not None
        both = await place(emu, pbx, {soft.registration.endpoint: 1})
        assert both.channel.executed_bridges == [soft.registration.endpoint]

        # nobody registered: FreeSWITCH ends the bridge with USER_NOT_REGISTERED, the directory's
        # dialplan takes the user to voicemail
        for reg in (desk, soft):
            assert reg.registration is not None
            gone = await emu.unregister(reg.registration.sip_user, DOMAIN, PASSWORD,
                                        device_contact=reg.registration.contact.split("<")[1].rstrip(">"),
                                        network_ip=reg.registration.network_ip)
            assert gone.ok
        assert emu.registrations == []
        alone = await place(emu, pbx, {contact: 1})
        assert [leg.outcome for leg in alone.channel.originations] == ["USER_NOT_REGISTERED"] * 3
        assert alone.executed[-1] == ("voicemail", f"default {DOMAIN} 1001")
