"""The emulator's CHANNEL_HANGUP_COMPLETE of both legs of a bridged call carries the headers the
real FreeSWITCH 1.10.12 sends that call records are made from (the capture of an extension calling
an extension: tests/fixtures/freeswitch/hangup_complete/ext_to_ext.json), with the same meaning."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fsemu import FreeSwitchEmulator
from fsemu.events import Event

CAPTURE = Path(__file__).resolve().parents[1] / "fixtures" / "freeswitch" / "hangup_complete" / "ext_to_ext.json"
# What a call record reads (hibiki.callcontrol.leg_record) and what ties the two legs together
WATCHED = ("Hangup-Cause", "Call-Direction", "Caller-Direction", "Caller-Caller-ID-Number", "Caller-Caller-ID-Name",
           "Caller-Destination-Number", "Caller-Channel-Created-Time", "Caller-Channel-Answered-Time",
           "Caller-Channel-Bridged-Time", "Caller-Channel-Hangup-Time", "Other-Type", "Other-Leg-Unique-ID",
           "Other-Leg-Destination-Number", "Channel-Name", "variable_hibiki_call_id", "variable_hibiki_direction",
           "variable_hibiki_tenant", "variable_originating_leg_uuid", "variable_originator", "variable_last_bridge_to",
           "variable_bridge_uuid", "variable_signal_bond", "variable_dialed_user", "variable_start_uepoch",
           "variable_answer_uepoch", "variable_bridge_uepoch", "variable_progress_uepoch", "variable_end_uepoch",
           "variable_hold_accum_ms", "variable_hold_accum_seconds", "variable_sip_hangup_disposition",
           "variable_sip_term_status", "variable_sip_req_user", "variable_last_app", "variable_call_uuid")
DIALPLAN = """<document type="freeswitch/xml"><section name="dialplan"><context name="default">
<extension name="hibiki-call" continue="true">
 <condition field="${hibiki_call_id}" expression="^$" break="never">
  <action application="export" data="hibiki_call_id=${uuid}"/>
  <anti-action application="export" data="hibiki_call_id=${hibiki_call_id}"/></condition>
 <condition field="${hibiki_direction}" expression="^$" break="never">
  <action application="export" data="hibiki_direction=internal"/>
  <anti-action application="export" data="hibiki_direction=${hibiki_direction}"/></condition>
 <condition field="${hibiki_tenant}" expression="^"><action application="export" data="hibiki_tenant=t1"/></condition>
</extension>
<extension name="x"><condition field="destination_number" expression="^2002$">
 <action application="set" data="hangup_after_bridge=true"/>
 <action application="bridge" data="user/2002@t1.example.jp"/>
</condition></extension></context></section></document>"""


def names(event: Event | dict[str, str]) -> set[str]:
    return set(event) if isinstance(event, dict) else {k for k, _ in event.headers}


async def test_both_legs_carry_what_the_real_switch_sends() -> None:
    real = {e["Caller-Direction"]: e for e in json.loads(CAPTURE.read_text())}
    seen: list[Event] = []
    async with FreeSwitchEmulator() as emu:
        emu.switch.sinks.append(lambda e: seen.append(e) if e.name == "CHANNEL_HANGUP_COMPLETE" else None)
        call = await emu.place_call(destination="2002", caller_id_number="2001", dialplan_xml=DIALPLAN,
                                    variables={"hibiki_tenant": "t1"},
                                    answering_endpoints={"user/2002@t1.example.jp": "answer"})
        await call.wait_for(lambda c: any(app == "bridge" for app, _ in c.executed), 5)
        await asyncio.sleep(0.2)
        call.hangup_by_caller()                    # as in the capture: the caller hangs up
        await asyncio.wait_for(call.finished, 5)
    ours = {e.get("Caller-Direction"): e for e in seen}
    assert sorted(ours) == ["inbound", "outbound"] and len(seen) == 2
    not_here = {"inbound": set(), "outbound": {"variable_last_app"}}   # the capture's hold music (no hold here)
    for role in ("inbound", "outbound"):
        missing = (names(real[role]) & set(WATCHED)) - names(ours[role]) - not_here[role]
        assert not missing, (role, sorted(missing))
    a, b = ours["inbound"], ours["outbound"]
    assert b.get("variable_hibiki_call_id") == a.get("Unique-ID") == a.get("variable_hibiki_call_id")
    assert b.get("variable_originating_leg_uuid") == a.get("Unique-ID") == b.get("Other-Leg-Unique-ID")
    assert a.get("Other-Leg-Unique-ID") == b.get("Unique-ID") == a.get("variable_last_bridge_to")
    assert (a.get("Other-Type"), b.get("Other-Type")) == ("originatee", "originator")
    assert b.get("variable_hibiki_direction") == "internal" and b.get("variable_dialed_user") == "2002"
    assert b.get("Call-Direction") == "outbound" and b.get("variable_sip_hangup_disposition") == "send_bye"
    assert int(b.get("variable_answer_uepoch") or 0) == int(a.get("variable_bridge_uepoch") or 0) > 0
    assert int(b.get("variable_end_uepoch") or 0) <= int(a.get("variable_end_uepoch") or 0)


BLIND = Path(__file__).resolve().parents[1] / "fixtures" / "freeswitch" / "hangup_complete" / "blind_transfer.json"
TRANSFER_DIALPLAN = DIALPLAN.replace('<extension name="x">', """<extension name="y"><condition field="destination_number" expression="^2005$">
 <action application="set" data="hangup_after_bridge=true"/>
 <action application="bridge" data="user/2005@t1.example.jp"/>
</condition></extension><extension name="x">""")


async def test_a_blind_transfer_by_the_answering_phone_leaves_what_the_real_switch_leaves() -> None:
    """2001 calls 2002, 2002's phone blind-transfers 2001 to 2005 (REFER), 2005 answers: the legs
    carry the transfer as in the real capture (blind_transfer.json), and a call record reads the
    transferor's leg as transferred to 2005 from both."""
    from hibiki.callcontrol.leg_record import result_hint
    from hibiki.events.v1 import call_pb2

    from fsemu.originate import BlindTransfer

    real = json.loads(BLIND.read_text())
    real_transferor = next(e for e in real if e.get("variable_transfer_destination"))
    real_caller = next(e for e in real if e["Caller-Direction"] == "inbound")
    seen: list[Event] = []
    async with FreeSwitchEmulator() as emu:
        emu.switch.sinks.append(lambda e: seen.append(e) if e.name == "CHANNEL_HANGUP_COMPLETE" else None)
        call = await emu.place_call(destination="2002", caller_id_number="2001", dialplan_xml=TRANSFER_DIALPLAN,
                                    variables={"hibiki_tenant": "t1"},
                                    answering_endpoints={"user/2002@t1.example.jp": BlindTransfer(after=0.1, to="2005"),
                                                         "user/2005@t1.example.jp": 0.1})
        await asyncio.wait_for(call.finished, 5)
    bridges = [data for app, data in call.executed if app == "bridge"]
    assert bridges == ["user/2002@t1.example.jp", "user/2005@t1.example.jp"]
    legs = {e.get("Caller-Destination-Number"): e for e in seen}
    transferor, caller = legs["2002"], legs["2005"]    # the caller's leg was routed again, to 2005
    assert transferor.get("Caller-Direction") == "outbound" and caller.get("Caller-Direction") == "inbound"
    for name in ("variable_transfer_disposition", "variable_transfer_destination", "variable_sip_hangup_disposition",
                 "Hangup-Cause"):
        assert transferor.get(name) == real_transferor[name], name
    assert transferor.get("variable_transfer_to") == f"blind:{call.uuid}"
    assert real_transferor["variable_transfer_to"] == f"blind:{real_caller['Unique-ID']}"
    assert ":bl_xfer:2005/" in (caller.get("variable_transfer_source") or "") and ":bl_xfer:2005/" in \
        real_caller["variable_transfer_source"]
    assert (caller.get("variable_sip_refer_to") or "").startswith("sip:2005@")
    assert real_caller["variable_sip_refer_to"].startswith("sip:2005@")
    transferred = (call_pb2.CALL_RESULT_HINT_TRANSFERRED, "2005")
    assert result_hint(dict(transferor.headers)) == result_hint(real_transferor) == transferred
    assert result_hint(dict(caller.headers))[0] != call_pb2.CALL_RESULT_HINT_TRANSFERRED
