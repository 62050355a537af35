"""IVR test mode (PBX-18): walk every branch of an IVR before go-live and say where each ended.

    python tools/ivr_test.py TENANT IVR_ID [--directory http://127.0.0.1:8080]
                             [--callcontrol 127.0.0.1:8084] [--from 2026-12-29T09:00:00+09:00]

(``./dev ivr-test TENANT IVR_ID``.) The directory lists every reachable end of the IVR with the
keys and a moment that lead there (``GET /api/v1/tenants/{t}/ivrs/{id}/paths``); each path is
then run as a call on the FreeSWITCH emulator (``tests/fsemu``) against the running callcontrol:
the call carries ``hibiki_ivr_at=<that moment>`` (callcontrol decides schedule switches for that
moment instead of now; only a dialplan can set the variable, a caller cannot) and presses the
keys (an empty key waits for the menu's timeout). The report shows, per path, the keys, the
moment, where the directory says the call goes and where it went; the exit status is 1 when a
path ended elsewhere. The token comes from ``HIBIKI_TOKEN`` or the stack's shared secret
(``HIBIKI_AUTH_SECRET[_FILE]``, else ``var/auth.secret``).

callcontrol acts only on calls of a FreeSWITCH node it keeps an inbound event socket to, so the
emulator is such a node: it listens on ``--node-port`` (default 8029) with the password of
``HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD`` (else FreeSWITCH's default), and callcontrol must list
it: ``HIBIKI_CALLCONTROL_FREESWITCH_NODES=...,ivr-test=127.0.0.1:8029``. The test waits until
callcontrol has connected to it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from fsemu import FreeSwitchEmulator  # noqa: E402

from hibiki.common.auth import Claims, load_authority  # noqa: E402
from hibiki.common.config import Env, data_dir  # noqa: E402

CATCH_ALL = "hibiki-ivr-test-end"


@dataclass(frozen=True)
class Outcome:
    keys: tuple[str, ...]
    at: str
    expected: str
    ended: str
    schedule: str = ""     # the schedule branches the moment gives ("holiday", "season:busy", ...)

    @property
    def ok(self) -> bool:
        return self.expected == self.ended


def dialplan(tenant: str, ivr_id: str, at: str, callcontrol: str, context: str = "public") -> str:
    """What the directory answers for an IVR number (plus ``hibiki_ivr_at``), and an extension
    that catches every transfer out of the IVR, so the test can see where the call went."""
    return f"""<document type="freeswitch/xml"><section name="dialplan"><context name="{context}">
<extension name="ivr"><condition field="destination_number" expression="^hibiki-ivr-test$">
  <action application="set" data="hibiki_tenant={tenant}"/>
  <action application="set" data="hibiki_app=ivr:{ivr_id}"/>
  <action application="set" data="hibiki_ivr_at={at}"/>
  <action application="socket" data="{callcontrol} async full"/>
  <action application="set" data="hibiki_ivr_test_end=handed-back"/>
  <action application="hangup" data="NORMAL_TEMPORARY_FAILURE"/>
</condition></extension>
<extension name="{CATCH_ALL}"><condition field="destination_number" expression="^(.+)$">
  <action application="set" data="hibiki_ivr_test_end=transfer:$1"/>
  <action application="hangup" data="NORMAL_CLEARING"/>
</condition></extension></context></section></document>"""


def where_it_ended(variables: dict[str, str]) -> str:
    """The path's end in the directory's terms (``extension:2001``, ``queue:water``, ``message``)."""
    end = variables.get("hibiki_ivr_test_end", "")
    if end.startswith("transfer:"):
        destination = end[len("transfer:"):]
        for kind in ("ring_group", "voicemail", "external"):
            prefix = f"hibiki_route_{kind}_"
            if destination.startswith(prefix):
                return f"{kind}:{destination[len(prefix):]}"
        return f"extension:{destination}"
    if variables.get("hibiki_queue"):
        return f"queue:{variables['hibiki_queue']}"
    if end == "handed-back":
        return "handed back to the dialplan"
    return "message"


class Presser:
    """The caller: presses the path's next key at each ``play_and_get_digits``; an empty key
    lets that menu's tries run out (no key while the same greeting is asked again)."""

    def __init__(self, emu: FreeSwitchEmulator, call: Any, keys: tuple[str, ...]) -> None:
        self.call, self.keys, self.next, self.waiting_on = call, keys, 0, None
        emu.switch.sinks.append(self._event)

    def _event(self, event: Any) -> None:
        if (event.name != "CHANNEL_EXECUTE" or event.get("Unique-ID") != self.call.uuid
                or event.get("Application") != "play_and_get_digits"):
            return
        asked = event.get("Application-Data") or ""
        if self.waiting_on is not None:
            if asked == self.waiting_on:
                return                       # another try of the menu we let time out
            self.waiting_on, self.next = None, self.next + 1
        if self.next >= len(self.keys):
            return
        key = self.keys[self.next]
        if key:
            self.call.send_dtmf(key)
            self.next += 1
        else:
            self.waiting_on = asked


async def run_path(emu: FreeSwitchEmulator, path: dict[str, Any], tenant: str, ivr_id: str, callcontrol: str,
                   queue_wait: float = 0.5, timeout: float = 180.0) -> Outcome:
    keys = tuple(path["keys"])
    branches = ",".join(b for b in path.get("schedule_branches", {}).values() if b)
    call = await emu.place_call(destination="hibiki-ivr-test", caller_id_number="09000000000", context="public",
                                dialplan_xml=dialplan(tenant, ivr_id, path["at"], callcontrol))
    Presser(emu, call, keys)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    if path["end"].startswith("queue:"):
        # the caller waits with music until the ACD takes the call: hang up once queued
        while not call.variables.get("hibiki_queue") and not call.finished.done() and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(queue_wait)
        if not call.finished.done():
            call.hangup_by_caller()
    try:
        await asyncio.wait_for(asyncio.shield(call.finished), max(deadline - loop.time(), 1.0))
    except TimeoutError:
        return Outcome(keys, path["at"], path["end"], "still running after the timeout", branches)
    return Outcome(keys, path["at"], path["end"], where_it_ended(dict(call.variables)), branches)


async def run(directory: str, callcontrol: str, tenant: str, ivr_id: str, token: str,
              start: str | None = None, node_port: int = 8029, node_password: str = "ClueCon",
              connect_timeout: float = 20.0) -> list[Outcome]:
    async with httpx.AsyncClient(base_url=directory, headers={"Authorization": f"Bearer {token}"}) as api:
        reply = await api.get(f"/api/v1/tenants/{tenant}/ivrs/{ivr_id}/paths", params={"from": start} if start else None)
        if reply.status_code != 200:
            raise SystemExit(f"ivr-test: the directory says {reply.status_code}: {reply.text}")
        paths = reply.json()["paths"]
    async with FreeSwitchEmulator(port=node_port, password=node_password) as emu:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + connect_timeout
        while emu.inbound.connections == 0:        # callcontrol connects to its nodes with a backoff
            if loop.time() > deadline:
                raise SystemExit(f"ivr-test: callcontrol did not connect to the test node on port {node_port} within "
                                 f"{connect_timeout:g} s: add ivr-test=127.0.0.1:{node_port} to "
                                 "HIBIKI_CALLCONTROL_FREESWITCH_NODES")
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)                   # its first commands (Core-UUID, channel list)
        return list(await asyncio.gather(*(run_path(emu, p, tenant, ivr_id, callcontrol) for p in paths)))


def report(outcomes: list[Outcome]) -> str:
    lines = [f"{'keys':<16}{'moment':<27}{'schedule':<14}{'expected':<30} ended", "-" * 110]
    for o in outcomes:
        keys = " ".join(k or "(timeout)" for k in o.keys)
        lines.append(f"{keys:<16}{o.at[:25]:<27}{o.schedule or '-':<14}{o.expected:<30} {o.ended}"
                     f"{'' if o.ok else '   <-- FAIL'}")
    failed = sum(not o.ok for o in outcomes)
    lines.append(f"{len(outcomes)} paths, {len(outcomes) - failed} ended where expected, {failed} elsewhere")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="ivr-test", description=__doc__.split("\n\n")[0])
    p.add_argument("tenant")
    p.add_argument("ivr")
    p.add_argument("--directory", default="http://127.0.0.1:8080")
    p.add_argument("--callcontrol", default="127.0.0.1:8084", help="callcontrol's outbound event socket")
    p.add_argument("--from", dest="start", help="first moment to consider (ISO 8601 with offset; default now)")
    p.add_argument("--node-port", type=int, default=8029,
                   help="where the emulator listens as one of callcontrol's FreeSWITCH nodes")
    args = p.parse_args(argv)
    token = os.environ.get("HIBIKI_TOKEN")
    if not token:
        env = Env.load()
        token = load_authority(env, data_dir(env)).issue(Claims("ivr-test", "service"))
    password = os.environ.get("HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD") or "ClueCon"
    outcomes = asyncio.run(run(args.directory, args.callcontrol, args.tenant, args.ivr, token, args.start,
                               args.node_port, password))
    print(report(outcomes))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
