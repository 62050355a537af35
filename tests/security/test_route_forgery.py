"""Issue 10, item 3: a phone with no outbound classes dialled ``hibiki_route_external_09012345678``
and got ``bridge(sofia/gateway/<carrier>/09012345678)`` with the IVR's classes. ``hibiki_route_*``
is now honoured only on a channel whose ``hibiki_route_grant`` (a channel variable callcontrol
sets before it transfers; a caller cannot set channel variables) names that very destination.

The directory answers the emulator as it answers FreeSWITCH (mod_xml_curl, the project's
``enable-post-var`` list); every attempt is counted by the bridges to the carrier it produced.
The real-switch version (a sipp phone dialling it) is in tests/freeswitch/test_route_forgery.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fsemu import FreeSwitchEmulator
from fsemu.post_vars import whitelist
from hibiki.common.auth import TokenAuthority
from support.directory import directory_config, running_directory

DOMAIN = "sado.example.jp"
XML_CURL_CONF = Path(__file__).resolve().parents[2] / "freeswitch" / "conf" / "autoload_configs" / "xml_curl.conf.xml"
TARGETS = ["hibiki_route_external_09012345678", "hibiki_route_external_0990123456",
           "hibiki_route_external_0012125551234"]


async def test_a_caller_cannot_dial_an_internal_route(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                      authority: TokenAuthority) -> None:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority, "sado") as d:
        await d.post("/api/v1/tenants", {"id": "sado", "domain": DOMAIN, "outbound_gateway": "carrier1"})
        phone = await d.post("/api/v1/tenants/sado/users", {"username": "lobby", "extension": "1000",
                                                            "outbound_classes": []})

        async def dial(destination: str, **variables: str) -> Any:
            async with FreeSwitchEmulator(directory_url=d.fsapi, directory_post_vars=whitelist(XML_CURL_CONF)) as emu:
                call = await emu.place_call(
                    destination=destination, caller_id_number="1000", domain=DOMAIN, dialplan_url=d.fsapi,
                    variables={"hibiki_tenant": "sado", "hibiki_user": phone["id"], "domain_name": DOMAIN, **variables},
                    answering_endpoints={f"sofia/gateway/carrier1/{t.rsplit('_', 1)[1]}": 1 for t in TARGETS})
                await asyncio.wait_for(call.finished, 10)
                return call

        def carrier_legs(call: Any) -> int:
            return sum(1 for app, data in call.executed if app == "bridge" and "sofia/gateway/" in data)

        attempts = {
            "dialled": {},
            # what a phone controls reaches FreeSWITCH as prefixed variables (sip_h_*, sip_i_*), never the grant
            "SIP header X-Hibiki-Route-Grant": {"sip_h_X-Hibiki-Route-Grant": "{target}",
                                                "sip_i_x_hibiki_route_grant": "{target}"},
            "a grant for another destination": {"hibiki_route_grant": "hibiki_route_external_0312345678"},
            "an empty grant": {"hibiki_route_grant": ""},
        }
        legs: dict[str, int] = {}
        for name, variables in attempts.items():
            for target in TARGETS:
                call = await dial(target, **{k: v.format(target=target) for k, v in variables.items()})
                legs[f"{name}: {target}"] = carrier_legs(call)
                assert call.hangup_cause == "UNALLOCATED_NUMBER", (name, target, call.executed)
        granted = await dial(TARGETS[0], hibiki_route_grant=TARGETS[0])    # control: as callcontrol hands it back
        refused_premium = await dial(TARGETS[1], hibiki_route_grant=TARGETS[1])
    for attempt, count in legs.items():
        print(f"carrier legs from a forged route ({attempt}): {count}")
    print(f"carrier legs when callcontrol hands the call back: {carrier_legs(granted)}; "
          f"premium through an IVR: {carrier_legs(refused_premium)} ({refused_premium.hangup_cause})")
    assert sum(legs.values()) == 0
    assert carrier_legs(granted) == 1
    assert carrier_legs(refused_premium) == 0 and refused_premium.hangup_cause == "OUTGOING_CALL_BARRED"
