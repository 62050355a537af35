"""The gevent side (one greenlet per call) waiting on the asyncio side (gRPC, prompt store).

``LoopBridge.call(coroutine, timeout)`` runs the coroutine on the service's event loop and
parks only the calling greenlet until it completes: the hub goes on serving every other
call, and the outcome is handed back on the hub's own thread
(``loop.run_callback_threadsafe``), never by blocking it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopBridge:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """The coroutine's result (or exception); ``TimeoutError`` after ``timeout`` seconds.

        Two hand-offs and nothing else: the coroutine becomes a task on the loop
        (``call_soon_threadsafe``), and the done task goes back to the hub
        (``run_callback_threadsafe``); no ``concurrent.futures.Future`` (with its lock and
        condition) in between."""
        import gevent
        from gevent.event import AsyncResult

        hub = gevent.get_hub()
        outcome: Any = AsyncResult()
        started: list[asyncio.Task[T]] = []
        abandoned = False

        def deliver(done: asyncio.Task[T]) -> None:      # on the hub's thread
            if done.cancelled():
                outcome.set_exception(TimeoutError("cancelled"))
            elif (error := done.exception()) is not None:
                outcome.set_exception(error)
            else:
                outcome.set(done.result())

        def start() -> None:                             # on the loop
            if abandoned:
                coroutine.close()
                return
            task = self._loop.create_task(coroutine)
            started.append(task)
            task.add_done_callback(lambda done: hub.loop.run_callback_threadsafe(deliver, done))

        def cancel() -> None:                            # on the loop
            for task in started:
                task.cancel()

        try:
            self._loop.call_soon_threadsafe(start)
        except RuntimeError:                             # the loop is closed: the service is stopping
            coroutine.close()
            raise TimeoutError("the service is stopping") from None
        try:
            result: T = outcome.get(timeout=timeout)
        except gevent.Timeout:
            abandoned = True
            self._cancel(cancel)
            raise TimeoutError(f"no answer within {timeout} s") from None
        except BaseException:
            abandoned = True
            self._cancel(cancel)
            raise
        return result

    def _cancel(self, cancel: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(cancel)
        except RuntimeError:
            pass
