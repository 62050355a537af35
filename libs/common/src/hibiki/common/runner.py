"""Running a service process: logging, signals, and one clear line on a fatal error."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable

from hibiki.common.config import Env
from hibiki.common.errors import HibikiError, StartupError
from hibiki.common.logging import configure, get_logger

Main = Callable[[asyncio.Event], Awaitable[None]]


def run_service(service: str, main: Main) -> int:
    """Run ``main(stop)`` until SIGINT/SIGTERM sets ``stop``; return the exit code.

    A :class:`HibikiError` (bad setting, busy port, unreachable NATS, ...) is reported as
    one line ``hibiki <service>: error: <what is wrong>`` and exit code 2; a stop asked for
    while the service still waits for a dependency at startup (JetStream electing a leader)
    is a clean stop: exit code 0.
    """
    try:
        level = Env.load().text("LOG_LEVEL", "info")
        configure(service, level)
        return asyncio.run(_main(service, main))
    except HibikiError as exc:
        print(f"hibiki {service}: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 130


async def _main(service: str, main: Main) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    get_logger().info("service_starting")
    try:
        await main(stop)
    except StartupError as exc:
        if not stop.is_set():
            raise
        # asked to stop (SIGTERM, Ctrl-C) while still waiting for a dependency: a clean stop
        get_logger().info("service_stopped", during="startup", detail=str(exc)[:200])
        return 0
    get_logger().info("service_stopped")
    return 0
