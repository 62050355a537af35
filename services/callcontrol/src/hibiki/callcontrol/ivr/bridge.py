"""The gevent side (one greenlet per call) waiting on the asyncio side (gRPC, prompt store).

``LoopBridge.call(coroutine, timeout)`` runs the coroutine on the service's event loop and
parks only the calling greenlet until it completes: the hub goes on serving every other
call, and the outcome is handed back on the hub's own thread
(``loop.run_callback_threadsafe``), never by blocking it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopBridge:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """The coroutine's result (or exception); ``TimeoutError`` after ``timeout`` seconds."""
        import gevent
        from gevent.event import AsyncResult

        hub = gevent.get_hub()
        outcome: Any = AsyncResult()

        def deliver(done: concurrent.futures.Future[T]) -> None:      # on the hub's thread
            if done.cancelled():
                outcome.set_exception(TimeoutError("cancelled"))
            elif (error := done.exception()) is not None:
                outcome.set_exception(error)
            else:
                outcome.set(done.result())

        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        future.add_done_callback(lambda done: hub.loop.run_callback_threadsafe(deliver, done))
        try:
            result: T = outcome.get(timeout=timeout)
        except gevent.Timeout:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout} s") from None
        except BaseException:
            future.cancel()
            raise
        return result
