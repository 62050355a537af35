"""A gevent hub on a thread of its own, driven from asyncio.

greenswitch is gevent based; the service is asyncio. Like the outbound server, the
inbound connections run on a gevent hub in a separate thread, and the two sides meet
only through thread-safe hand-offs: ``spawn`` and ``call`` queue work on the hub with
``loop.run_callback_threadsafe``; ``call`` returns a ``concurrent.futures.Future`` that
asyncio awaits with ``asyncio.wrap_future``. Greenlets run in a copy of the contextvars
of whoever called ``start`` (so log lines keep the service name).
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import gevent

T = TypeVar("T")


class ThreadStopped(RuntimeError):
    """The hub's thread has ended (or never started): the work was not done."""


def settle(future: concurrent.futures.Future[Any], result: Any = None, error: BaseException | None = None) -> None:
    """Complete ``future`` unless it already is (cancelled by its waiter, or settled)."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except concurrent.futures.InvalidStateError:
        pass


class GeventThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._hub: Any = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._context = contextvars.copy_context()
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._greenlets: set[Any] = set()

    @property
    def running(self) -> bool:
        return self._hub is not None

    def start(self, main: Callable[[], None]) -> None:
        """Run ``main`` as the thread's first greenlet; the thread ends when it returns."""
        self._context = contextvars.copy_context()
        self._thread = threading.Thread(target=self._run, args=(main,), name=self.name, daemon=True)
        self._thread.start()
        self._started.wait(10)

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end; True when it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def spawn(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Start ``fn(*args)`` in a greenlet on the hub (from any thread); False when stopped."""
        with self._lock:
            if self._hub is None:
                return False
            self._hub.loop.run_callback_threadsafe(self._start_greenlet, fn, *args)
            return True

    def call(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``fn`` in a greenlet; its result or exception lands in the returned future."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                if future.set_running_or_notify_cancel():
                    settle(future, fn())
            except gevent.GreenletExit:
                settle(future, error=ThreadStopped(f"{self.name} stopped"))
            except Exception as exc:
                settle(future, error=exc)
            finally:
                with self._lock:
                    self._pending.discard(future)

        with self._lock:
            self._pending.add(future)
        if not self.spawn(run):
            with self._lock:
                self._pending.discard(future)
            settle(future, error=ThreadStopped(f"{self.name} is not running"))
        return future

    def greenlet(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A started greenlet running ``fn(*args)`` (call on the hub's thread only)."""
        return self._start_greenlet(fn, *args)

    def _start_greenlet(self, fn: Callable[..., Any], *args: Any) -> Any:
        g = gevent.Greenlet(fn, *args)
        g.gr_context = self._context.copy()
        self._greenlets.add(g)
        g.link(self._greenlets.discard)
        g.start()
        return g

    def _run(self, main: Callable[[], None]) -> None:
        hub = gevent.get_hub()
        keepalive = hub.loop.async_()  # cross-thread callbacks alone do not keep a loop running
        keepalive.start(lambda: None)
        with self._lock:
            self._hub = hub
        first = self._start_greenlet(main)  # runs before anything spawned after start() returns
        self._started.set()
        try:
            first.join()
        finally:
            with self._lock:
                self._hub = None
                orphans, self._pending = self._pending, set()
            gevent.killall(list(self._greenlets), timeout=2)  # nothing may outlive the hub
            for future in orphans:
                settle(future, error=ThreadStopped(f"{self.name} stopped"))
            keepalive.stop()
            keepalive.close()
            hub.destroy(destroy_loop=True)
