"""The NATS bootstrap: connect, the JetStream event stream, publishing and durable consumers.

Subjects are ``hibiki.<tenant>.<domain>.<event>``; payloads are protobuf messages from
``hibiki.events.v1``. Every event carries an id that is also the JetStream
``Nats-Msg-Id``, so a re-sent event is stored once, and consumers are durable and
acknowledge only after their (idempotent) handler succeeded: a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from hibiki.common.config import Env
from hibiki.common.errors import StartupError
from hibiki.common.logging import get_logger

EVENTS_STREAM = "HIBIKI_EVENTS"
EVENTS_SUBJECTS = ["hibiki.>"]
# Callcontrol's heartbeats of the FreeSWITCH nodes it is connected to (``FsNodeHeartbeat``):
# core NATS, outside the events stream (not stored), read by the ACD (README "Failover between
# data centers").
FS_NODE_HEARTBEAT = "hibiki_system.fs_node.heartbeat"
log = get_logger(__name__)
T = TypeVar("T")
MAX_REPLICAS = 5  # JetStream's limit for a stream or bucket


def replicas(environ: Mapping[str, str] | None = None) -> int:
    """``HIBIKI_NATS_REPLICAS``: copies JetStream keeps of the event stream and of every key-value
    bucket the services create (1 for one server, the default; 3 on a clustered NATS). Read when a
    stream or bucket is created: an existing one keeps its count (``nats stream edit --replicas``)."""
    return Env.load("NATS", environ).integer("REPLICAS", 1, minimum=1, maximum=MAX_REPLICAS)


def subject(tenant: str, domain: str, event: str) -> str:
    """``hibiki.<tenant>.<domain>.<event>``; tokens may not contain NATS wildcards or dots."""
    for token in (tenant, domain, event):
        if not token or any(c in token for c in ".*> \t\r\n"):
            raise ValueError(f"invalid subject token {token!r}")
    return f"hibiki.{tenant}.{domain}.{event}"


async def connect(url: str, name: str, timeout: float = 5.0) -> Client:
    """Connect to NATS or raise :class:`StartupError` with one clear line."""
    async def _quiet(_: Exception) -> None:
        return None

    try:
        return await asyncio.wait_for(
            nats.connect(
                url, name=name, connect_timeout=min(timeout, 2.0), allow_reconnect=True,
                max_reconnect_attempts=-1, reconnect_time_wait=0.5, error_cb=_quiet,
            ),
            timeout,
        )
    except (OSError, asyncio.TimeoutError, nats.errors.NoServersError, nats.errors.Error) as exc:
        reason = str(exc) or type(exc).__name__
        raise StartupError(f"cannot reach NATS at {url}: {reason}") from None


async def ensure_events_stream(js: JetStreamContext, *, storage: StorageType = StorageType.FILE,
                               max_age_seconds: float = 7 * 24 * 3600, num_replicas: int | None = None,
                               stop: asyncio.Event | None = None, max_delay: float = 10.0) -> None:
    """Create (or leave as is) the stream that stores every Hibiki event, with ``num_replicas``
    copies (default: ``HIBIKI_NATS_REPLICAS``).

    Until the stream answers with a leader (a clustered NATS electing it, or its meta leader, as
    when a site's servers come up one after the other), waits and tries again: :func:`retry_unavailable`."""
    config = StreamConfig(
        name=EVENTS_STREAM, subjects=EVENTS_SUBJECTS, storage=storage,
        max_age=max_age_seconds, duplicate_window=120.0,
        num_replicas=replicas() if num_replicas is None else num_replicas,
    )

    async def ensure() -> None:
        try:
            info = await js.stream_info(EVENTS_STREAM)
        except NotFoundError:
            info = await js.add_stream(config)
        if info.cluster is not None and not info.cluster.leader:
            # a replica answers for a stream without a leader: nothing could be published to it yet
            raise Leaderless(f"the stream {EVENTS_STREAM} has no leader")

    await retry_unavailable(f"the JetStream stream {EVENTS_STREAM}", ensure, stop=stop, max_delay=max_delay)


class Leaderless(nats.errors.Error):
    """A JetStream stream answered, without a leader (an election under way)."""


async def retry_unavailable(what: str, call: Callable[[], Awaitable[T]], *, stop: asyncio.Event | None = None,
                            max_delay: float = 10.0) -> T:
    """``call()`` at startup, again while JetStream cannot answer it (a leader being elected: the
    request times out, has no responders, is answered 503): 0.5 s doubling up to ``max_delay``, one
    warning line ``jetstream_unavailable`` per attempt (``what``, the error, ``retry_in``), no
    traceback. :class:`StartupError` if ``stop`` is set meanwhile, or at once when JetStream refuses
    the request (a bad request: a setting to fix, not a moment to wait)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            result = await call()
        except BadRequestError as exc:
            raise StartupError(f"JetStream refuses {what}: {exc.description or exc}") from None
        except (nats.errors.Error, asyncio.TimeoutError) as exc:
            delay = min(max_delay, 0.5 * 2 ** min(attempt - 1, 10))
            log.warning("jetstream_unavailable", what=what, attempt=attempt, error=type(exc).__name__,
                        reason=str(exc)[:200], retry_in=delay)
            if stop is None:
                await asyncio.sleep(delay)
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                raise StartupError(f"stopped while waiting for {what} ({attempt} attempts)") from None
            continue
        if attempt > 1:
            log.info("jetstream_available", what=what, attempts=attempt)
        return result


async def publish(js: JetStreamContext, subject_: str, payload: bytes, event_id: str) -> None:
    """Publish once: JetStream drops a duplicate with the same id within its window."""
    await js.publish(subject_, payload, headers={"Nats-Msg-Id": event_id})


async def publish_in_order(js: JetStreamContext, messages: Sequence[tuple[str, bytes, str]],
                           timeout: float = 5.0) -> list[BaseException | None]:
    """``(subject, payload, event_id)`` messages, each published once like ``publish``, sent one
    after the other on the connection (so stored in this order) without waiting for each one's
    acknowledgement before sending the next: one round trip for the lot instead of one each.
    Per message, None once JetStream acknowledged it, else the failure."""
    acks: list[asyncio.Future[Any] | BaseException] = []
    for subject_, payload, event_id in messages:
        try:
            acks.append(await js.publish_async(subject_, payload, headers={"Nats-Msg-Id": event_id}))
        except Exception as exc:   # not even sent (connection closed, too many pending)
            acks.append(exc)

    async def settled(ack: asyncio.Future[Any] | BaseException) -> BaseException | None:
        if isinstance(ack, BaseException):
            return ack
        try:
            await asyncio.wait_for(ack, timeout)
        except Exception as exc:
            return exc
        return None
    return list(await asyncio.gather(*(settled(a) for a in acks)))


Handler = Callable[[str, bytes], Awaitable[None]]


class Unavailable(Exception):
    """Something a handler needs does not answer for now (a store, a database; while it is down or
    fails over): expected, so :class:`DurableConsumer` logs it as one warning line, no traceback
    (:attr:`event`, ``event_handler_unavailable`` unless told, with the tenant of the subject, the
    delay and :attr:`fields`), and hands the message out again after a growing delay. Any other
    exception of a handler is unexpected and logged with its traceback."""

    event = "event_handler_unavailable"

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.fields: dict[str, object] = {}

    def about(self, event: str | None = None, **fields: object) -> Unavailable:
        """This exception, logged as ``event`` with ``fields`` (the call, the recording...)."""
        if event:
            self.event = event
        self.fields.update(fields)
        return self


@dataclass
class DurableConsumer:
    """A pull consumer that survives restarts: it resumes where its last ack left off.

    ``handler(subject, payload)`` must be idempotent: a message whose handler raised is
    redelivered after 1 s (its traceback logged); one whose handler raised :class:`Unavailable`
    after 1 s doubling up to ``max_retry_delay`` while that lasts (one warning line each time), the
    consumer pausing as long before its next message.
    """

    js: JetStreamContext
    durable: str
    filter_subject: str
    handler: Handler
    batch: int = 100
    ack_wait: float = 30.0
    max_retry_delay: float = 8.0
    _retry_delay: float = field(default=0.0, init=False, repr=False)

    async def run(self, stop: asyncio.Event) -> None:
        config = ConsumerConfig(
            durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
            filter_subject=self.filter_subject, ack_wait=self.ack_wait, max_ack_pending=10_000,
        )

        async def subscribe() -> Any:
            return await self.js.pull_subscribe(self.filter_subject, durable=self.durable, stream=EVENTS_STREAM,
                                                config=config)
        try:     # while the stream's or the consumer's leader is elected: wait rather than consume nothing
            sub = await retry_unavailable(f"the consumer {self.durable}", subscribe, stop=stop)
        except StartupError as exc:
            if not stop.is_set():     # refused (a bad request): said, not lost in a task nobody awaits
                log.error("consumer_refused", consumer=self.durable, reason=str(exc)[:500])
            return
        try:
            while not stop.is_set():
                try:
                    messages = await sub.fetch(self.batch, timeout=0.5)
                except (asyncio.TimeoutError, nats.errors.TimeoutError):
                    continue
                except nats.errors.Error as exc:
                    # the consumer's leader is gone and not yet elected again (a server or a data
                    # center lost: "no responders"), the connection is reconnecting: try again,
                    # rather than end the loop and consume nothing more
                    log.warning("consumer_fetch_failed", consumer=self.durable, error=type(exc).__name__,
                                reason=str(exc)[:200])
                    await asyncio.sleep(1.0)
                    continue
                for msg in messages:
                    pause = await self._handle(msg)
                    if pause:    # what the handler needs is down: do not spin through the rest meanwhile
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(stop.wait(), pause)
        finally:
            await sub.unsubscribe()

    async def _handle(self, msg: Any) -> float:
        """Handled and acknowledged (0), else handed out again later: the seconds to wait."""
        try:
            await self.handler(msg.subject, msg.data)
        except Unavailable as exc:
            self._retry_delay = min(self.max_retry_delay, max(1.0, self._retry_delay * 2))
            tokens = msg.subject.split(".")
            fields: dict[str, object] = {"tenant": tokens[1][:64] if len(tokens) > 2 else "", **exc.fields}
            log.warning(exc.event, consumer=self.durable, subject=msg.subject[:200], error=type(exc).__name__,
                        reason=str(exc)[:500], retry_in=self._retry_delay, **fields)
            await msg.nak(delay=self._retry_delay)
            return self._retry_delay
        except Exception:
            log.exception("event_handler_failed", consumer=self.durable, subject=msg.subject)
            await msg.nak(delay=1.0)
            return 0.0
        self._retry_delay = 0.0
        await msg.ack()
        return 0.0
