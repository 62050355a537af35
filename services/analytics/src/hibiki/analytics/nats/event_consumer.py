"""The durable JetStream consumer that feeds the analytics tables, in batches.

Messages are gathered until ``max_batch`` of them, or ``max_wait`` seconds after the pull began, or
the end of a backlog: a pull that brought ``early`` messages or more (a tenth of ``max_batch``, at
most 1,000) and whose last message says the stream holds nothing more for the consumer is over at
once (waiting would add few events to a large batch); a trickle is still batched by time (each
batch costs some queries and an insert per table, whatever its size), then
stored as one batch (``Ingestor.store_batch``, in a thread, while the next batch is gathered); each
message is acknowledged only after its batch is stored (while a slow store runs, the messages are kept with in-progress acks, so ``ack_wait``
is also how soon the messages of a killed process come again). If the store fails, nothing of the batch is acknowledged: the messages are redelivered
(after a pause that grows while the store stays down) and stored again, idempotently.

Messages are pulled with JetStream's own pull request (``$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>``,
``{"batch": n, "expires": ns}``) into a plain subscription with a callback: nats-py's
``PullSubscription.fetch`` waits for each message with a task, a timeout task and a uuid of its own
(~30 us of CPU a message on this project's machines, against ~5 us this way). The consumer, its
configuration and the acknowledgements (one ``+ACK`` per message, ``AckPolicy.EXPLICIT``: several
replicas may share the durable) are the same.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from hibiki.analytics.events import IgnoredEvent, InvalidEvent, RawEvent, decode
from hibiki.analytics.ingest import Ingestor
from hibiki.common.bus import EVENTS_STREAM
from hibiki.common.digits import ascii_digits
from hibiki.common.logging import get_logger

SUBJECTS = ["hibiki.*.call.>", "hibiki.*.acd.>", "hibiki.*.agent.>", "hibiki.*.recording.started",
            "hibiki.*.recording.stored"]
DURABLE = "analytics-calls"
log = get_logger("hibiki.analytics.consumer")


class _Pull:
    """One pull request in flight: the messages it brought and whether it is over."""

    def __init__(self, subject: str, wanted: int) -> None:
        self.subject, self.wanted, self.got, self.done = subject, wanted, 0, asyncio.Event()


def _may_be_last(reply: str) -> bool:
    """A cheap test before ``_pending`` (which a backlog would pay on every message)."""
    return reply.endswith(".0") or reply.count(".") == 11


def _pending(reply: str) -> int | None:
    """What the stream still holds for the consumer after this message, from its ack subject
    (``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>``, or the form with
    domain and account hash and a trailing token); None when the subject has neither form."""
    tokens = reply.split(".")
    token = tokens[8] if len(tokens) == 9 else tokens[10] if len(tokens) == 12 else ""
    return int(token) if ascii_digits(token) else None


class EventConsumer:
    def __init__(self, nc: Client, ingestor: Ingestor, *, durable: str = DURABLE, max_batch: int = 10_000,
                 max_wait: float = 0.5, ack_wait: float = 10.0,
                 on_batch: Callable[[int], None] | None = None) -> None:
        self._nc, self._js, self._ingestor = nc, nc.jetstream(), ingestor
        self._durable, self._max_batch, self._max_wait, self._ack_wait = durable, max_batch, max_wait, ack_wait
        self._early = max(1, min(1000, max_batch // 10))
        self._on_batch = on_batch
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.stored_batches = 0
        self._received: list[Msg] = []
        self._pull: _Pull | None = None
        self._inbox = ""
        self._requests = itertools.count()

    async def _subscribe(self) -> Any:
        config = ConsumerConfig(
            durable_name=self._durable, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
            filter_subjects=SUBJECTS, ack_wait=self._ack_wait, max_ack_pending=max(10_000, 4 * self._max_batch))
        await self._js.add_consumer(EVENTS_STREAM, config)
        self._received, self._pull = [], None
        self._inbox = self._nc.new_inbox()
        # room for two batches (one stored, one gathered) and what a late pull still brings
        return await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_message,
                                        pending_msgs_limit=max(65_536, 4 * self._max_batch),
                                        pending_bytes_limit=max(64, self._max_batch // 100) * 1024 * 1024)

    async def _on_message(self, msg: Msg) -> None:
        pull = self._pull
        if msg.reply:                  # a stored event (its reply subject is where it is acknowledged)
            self._received.append(msg)
            if pull is not None:
                pull.got += 1
                if pull.got >= pull.wanted:
                    pull.done.set()
                elif len(self._received) >= self._early and _may_be_last(msg.reply) and _pending(msg.reply) == 0:
                    # a backlog's end: stored without waiting for max_wait (what the pull still
                    # brings later joins the next batch)
                    pull.done.set()
            return
        # a status on this pull's own subject: 404 no messages, 408 expired, 409 (max ack pending,
        # consumer deleted, leader change...): the pull is over (an older pull's status: ignored)
        if pull is not None and msg.subject == pull.subject:
            pull.done.set()

    async def run(self) -> None:
        """Gather a batch while the previous one is being stored (NATS and the engine work at the
        same time); batches are stored one after another, each acknowledged once stored."""
        sub = await self._subscribe()
        failures = 0
        storing: asyncio.Task[bool] | None = None
        stored: list[Any] = []
        try:
            while not self._stop.is_set():
                messages = await self._gather(sub)
                if storing is not None:
                    ok = await storing
                    storing = None
                    if not ok:
                        failures += 1
                        pause = min(30.0, 0.5 * 2 ** min(failures, 6))
                        for msg in stored + messages:       # the batch gathered meanwhile comes again too
                            await msg.nak(delay=pause)
                        try:
                            await asyncio.wait_for(self._stop.wait(), pause)
                        except TimeoutError:
                            pass
                        continue
                    failures = 0
                if messages:
                    stored = messages
                    storing = asyncio.create_task(self._store(messages))
        finally:
            if storing is not None:
                await asyncio.wait({storing})     # stopping: the batch in hand is stored and acknowledged
            await sub.unsubscribe()

    async def _gather(self, sub: Any) -> list[Any]:
        """Up to ``max_batch`` messages: one pull request for what is missing, over when that many
        came, at a backlog's end (``early`` or more in hand and the stream has nothing more), or
        ``max_wait`` after it was made (the server's ``expires``). Nothing yet: an empty batch
        (the caller asks again)."""
        wanted = self._max_batch - len(self._received)
        if wanted > 0 and not self._stop.is_set():
            pull = _Pull(f"{self._inbox}.{next(self._requests)}", wanted)
            self._pull = pull
            request = {"batch": wanted, "expires": int(self._max_wait * 1e9)}
            await self._nc.publish(f"{self._js._prefix}.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.{self._durable}",
                                   json.dumps(request).encode(), reply=pull.subject)
            try:
                # the server ends the pull at ``expires``; a lost answer (NATS restarting) a little later
                await asyncio.wait_for(pull.done.wait(), self._max_wait + 2.0)
            except TimeoutError:
                pass
            self._pull = None
        messages, self._received = self._received[:self._max_batch], self._received[self._max_batch:]
        return messages

    async def _store(self, messages: list[Any]) -> bool:
        now = datetime.now(UTC)
        batch: list[RawEvent] = []
        for msg in messages:
            try:
                batch.append(decode(msg.subject, msg.data, now))
            except IgnoredEvent:
                continue
            except InvalidEvent as exc:
                # never storable: logged and acknowledged with the batch, not retried forever
                log.error("event_rejected", subject=msg.subject, reason=str(exc))
        storing = asyncio.create_task(asyncio.to_thread(self._ingestor.store_batch, batch))
        try:
            while True:
                done, _ = await asyncio.wait({storing}, timeout=self._ack_wait / 3)
                if done:
                    break
                for msg in messages:           # a slow store: keep the batch ours, not redelivered
                    await msg.in_progress()
            result = storing.result()
        except Exception as exc:
            log.error("batch_not_stored", events=len(batch), error=str(exc) or type(exc).__name__)
            return False
        for msg in messages:
            await msg.ack()
        self.stored_batches += 1
        log.debug("batch_stored", events=result.events, calls=len(result.calls), legs=len(result.legs),
                  intervals=len(result.intervals))
        if self._on_batch is not None:
            self._on_batch(len(batch))
        return True

    async def _supervise(self) -> None:
        """``run`` again after a failure (NATS gone, the consumer deleted): never silently stop."""
        while not self._stop.is_set():
            try:
                await self.run()
            except Exception as exc:
                log.error("consumer_failed", consumer=self._durable, error=str(exc) or type(exc).__name__)
                try:
                    await asyncio.wait_for(self._stop.wait(), 1.0)
                except TimeoutError:
                    pass

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        self._stop.set()
        if self._pull is not None:          # the pull in flight ends now, not at max_wait
            self._pull.done.set()
        if self._task:
            await self._task
