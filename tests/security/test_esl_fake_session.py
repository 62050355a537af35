"""Issue 10, item 5: anyone who reaches callcontrol's outbound event-socket port could act as
FreeSWITCH (a fake session answering ``connect`` with ``hibiki_app=agent:login:301`` and another
tenant's ``hibiki_tenant`` logged that tenant's agent in). Now a session is trusted only when a
configured node vouches for it (``hibiki.callcontrol.esl.trust``).

Each attack below is made against callcontrol with the emulator as its node; what callcontrol
did for the fake sessions is counted: commands sent to them (other than the ``exit`` that ends a
refused session) and events published for the forged tenant. Controls: a real call through the
node is taken (so the counters can see something), and the same fake session against a
callcontrol with the check off (development mode) gets acted on."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from pathlib import Path
from typing import Any

from fsemu import FreeSwitchEmulator
from hibiki.callcontrol.app import main
from hibiki.callcontrol.config import CallControlConfig
from security.esl_peer import fake_session
from support.fsnode import emulator_node, vouching
from support.servers import free_port, running

HOST = "127.4.0.5"


def forged(core_uuid: str, victim: str, call_uuid: str | None = None, **extra: str) -> dict[str, str]:
    return {"Event-Name": "CHANNEL_DATA", "Core-UUID": core_uuid, "FreeSWITCH-Hostname": "fs",
            "Unique-ID": call_uuid or str(uuid.uuid4()), "Caller-Destination-Number": "*50301",
            "Caller-Caller-ID-Number": "3001", "variable_current_application": "socket",
            "variable_hibiki_app": "agent:login:301", "variable_hibiki_tenant": victim,
            "variable_hibiki_domain": f"{victim}.example.jp", "variable_hibiki_agent_device": "attacker-seat", **extra}


def parked_dialplan(tenant: str) -> str:
    return f"""<document type="freeswitch/xml"><section name="dialplan"><context name="default">
<extension name="park"><condition field="destination_number" expression="^(7000)$">
  <action application="set" data="hibiki_tenant={tenant}"/>
  <action application="answer"/><action application="park"/>
</condition></extension></context></section></document>"""


def handed_dialplan(tenant: str, esl: str, device: str = "3001") -> str:
    return f"""<document type="freeswitch/xml"><section name="dialplan"><context name="default">
<extension name="agent"><condition field="destination_number" expression="^(\\*50301)$">
  <action application="set" data="hibiki_tenant={tenant}"/>
  <action application="set" data="hibiki_app=agent:bogus"/>
  <action application="set" data="hibiki_agent_device={device}"/>
  <action application="socket" data="{esl} async full"/>
  <action application="hangup" data="NORMAL_TEMPORARY_FAILURE"/>
</condition></extension></context></section></document>"""


def config(tmp_path: Path, nats_url: str, **changes: Any) -> CallControlConfig:
    base = CallControlConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_url,
                                       "HIBIKI_CALLCONTROL_HOST": HOST})
    return dataclasses.replace(base, port=free_port(), esl_port=free_port(), acd_grpc=f"127.4.0.9:{free_port()}",
                               directory_grpc=f"127.4.0.9:{free_port()}", **changes)


async def test_a_fake_session_makes_callcontrol_do_nothing(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                           authority: Any) -> None:
    victim = f"v{uuid.uuid4().hex[:8]}"
    events = await nats_client.subscribe(f"hibiki.{victim}.>")
    await nats_client.flush()
    async with FreeSwitchEmulator(host=HOST) as emu:
        control = config(tmp_path, nats_server.url, freeswitch=emulator_node(emu.esl_port, host=HOST))
        emu_core = emu.switch.core.core_uuid
        async with running(main, control):
            await vouching(control.port, host=HOST)
            # a real call of another tenant, parked on the node (not in socket)
            parked = await emu.place_call(destination="7000", dialplan_xml=parked_dialplan("other"))
            # a real call of the victim, in socket towards a controller that is not callcontrol
            elsewhere = await asyncio.start_server(lambda r, w: None, "127.4.0.9", 0)
            port = elsewhere.sockets[0].getsockname()[1]
            in_socket = await emu.place_call(destination="*50301",
                                             dialplan_xml=handed_dialplan(victim, f"127.4.0.9:{port}"))
            # a value holding the separator of the node's one eval answer (trust.SEPARATOR): the
            # session reports exactly what the channel has, yet the answer no longer splits right
            shifted = await emu.place_call(destination="*50301", dialplan_xml=handed_dialplan(
                victim, f"127.4.0.9:{port}", device="3001|:|socket"))
            for _ in range(100):
                if all(c.channel.variables.get("current_application") == "socket" for c in (in_socket, shifted)):
                    break
                await asyncio.sleep(0.02)
            attacks = {
                "unknown Core-UUID": forged(str(uuid.uuid4()), victim),
                "node's Core-UUID, no such channel": forged(emu_core, victim),
                "node's Core-UUID, a parked channel": forged(emu_core, victim, parked.uuid),
                "a channel in socket, tenant forged": forged(emu_core, victim, in_socket.uuid,
                                                             variable_hibiki_app="agent:bogus",
                                                             variable_hibiki_agent_device="3001",
                                                             variable_hibiki_domain="",
                                                             variable_hibiki_tenant=f"{victim}x"),
                "a channel in socket, app forged": forged(emu_core, victim, in_socket.uuid,
                                                          variable_hibiki_domain=""),
                "not even a UUID": forged(emu_core, victim, "../../etc"),
                "a channel in socket, a value with eval's separator": forged(
                    emu_core, victim, shifted.uuid, variable_hibiki_app="agent:bogus", variable_hibiki_domain="",
                    variable_hibiki_agent_device="3001|:|socket"),
            }
            commands = {name: await fake_session(HOST, control.esl_port, channel, linger=3)
                        for name, channel in attacks.items()}
            acted = {name: [c for c in sent if c != "exit"] for name, sent in commands.items()}
            await nats_client.flush()
            published = events.pending_msgs
            # control: a real call through the node is taken (CallStarted for the victim tenant)
            real = await emu.place_call(destination="*50301",
                                        dialplan_xml=handed_dialplan(victim, f"{HOST}:{control.esl_port}"))
            await asyncio.wait_for(real.finished, 10)
            started = await events.next_msg(timeout=5)
            elsewhere.close()
            parked.hangup_by_caller()
            in_socket.hangup_by_caller()
            shifted.hangup_by_caller()
    for name, sent in acted.items():
        print(f"fake session ({name}): actions taken {len(sent)}")
    print(f"events published for the forged tenant: {published}")
    assert all(not sent for sent in acted.values()), acted
    assert published == 0
    assert started.subject == f"hibiki.{victim}.call.started"


async def test_control_without_the_check_the_same_session_is_acted_on(tmp_path: Path, nats_server: Any,
                                                                      nats_client: Any, authority: Any) -> None:
    """What the check prevents: with ``HIBIKI_CALLCONTROL_ESL_VERIFY=off`` (development only) the
    fake session is believed and callcontrol starts the agent application for the forged tenant."""
    victim = f"v{uuid.uuid4().hex[:8]}"
    events = await nats_client.subscribe(f"hibiki.{victim}.call.started")
    await nats_client.flush()
    control = config(tmp_path, nats_server.url, esl_verify=False)
    async with running(main, control):
        sent = await fake_session(HOST, control.esl_port, forged(str(uuid.uuid4()), victim), linger=3)
        started = await events.next_msg(timeout=5)
    acted = [c for c in sent if c != "exit"]
    print(f"fake session with the check off: actions taken {len(acted)} ({', '.join(c.split(chr(10))[0] for c in acted[:4])})")
    assert acted and started.subject.endswith(".call.started")
