"""The bridge between the gevent hub that runs IVR calls and the asyncio loop their I/O needs.
(IVRs on calls, against the real directory: tests/test_ivr_calls_end_to_end.py.)"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import gevent

from hibiki.callcontrol.ivr.bridge import LoopBridge
from hibiki.callcontrol.ivr.source import IvrUnavailable


async def test_the_bridge_waits_on_asyncio_without_blocking_the_hub() -> None:
    loop = asyncio.get_running_loop()
    bridge = LoopBridge(loop)
    results: dict[str, Any] = {}

    async def slow(value: str) -> str:
        await asyncio.sleep(0.2)
        return value

    async def failing() -> str:
        raise IvrUnavailable("ivr-not-found", "no")

    def on_hub() -> None:
        ticks = []
        ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.01)) for _ in range(10)])
        results["value"] = bridge.call(slow("done"), 5)
        results["ticks"] = len(ticks)                  # the hub ran other greenlets meanwhile
        ticker.join()
        try:
            bridge.call(failing(), 5)
        except IvrUnavailable as exc:
            results["error"] = exc.error_id
        try:
            bridge.call(slow("late"), 0.05)
        except TimeoutError:
            results["timeout"] = True

    thread = threading.Thread(target=on_hub)
    thread.start()
    await asyncio.to_thread(thread.join, 10)
    assert results == {"value": "done", "ticks": 10, "error": "ivr-not-found", "timeout": True}
