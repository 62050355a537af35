"""callcontrol with the FreeSWITCH emulator as its configured node: callcontrol trusts an
outbound event-socket session only when a node it keeps an inbound socket to vouches for it
(``hibiki.callcontrol.esl.trust``), so every end-to-end rig names the emulator as a node and
waits until callcontrol is connected to it (``/readyz``)."""

from __future__ import annotations

import asyncio

import httpx

from hibiki.callcontrol.esl.model import NodeAddress
from hibiki.callcontrol.esl.nodes import FsNodeSettings


def emulator_node(esl_port: int, name: str = "fs", host: str = "127.0.0.1") -> FsNodeSettings:
    """The emulator listening (inbound event socket) on ``esl_port`` as callcontrol's one node."""
    return FsNodeSettings((NodeAddress(name, host, esl_port),))


async def vouching(http_port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    """Wait until callcontrol (HTTP on ``http_port``) is connected to a node."""
    reply = None
    async with httpx.AsyncClient() as client:
        for _ in range(int(timeout / 0.05)):
            try:
                reply = await client.get(f"http://{host}:{http_port}/readyz")
                if reply.status_code == 200 or reply.json().get("checks", {}).get("freeswitch"):
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"callcontrol never connected to its FreeSWITCH node: {reply.text if reply else 'no reply'}")
