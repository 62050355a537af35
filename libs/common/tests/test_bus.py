"""The NATS bootstrap against a real nats-server with JetStream."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from nats.js.api import StorageType

from hibiki.common import bus
from hibiki.common.errors import StartupError
from support.servers import NatsServer, free_port


@pytest.fixture
async def js(nats_client: Any) -> Any:
    context = nats_client.jetstream()
    await bus.ensure_events_stream(context, storage=StorageType.FILE)
    return context


def test_subject_tokens_are_checked() -> None:
    assert bus.subject("t1", "call", "started") == "hibiki.t1.call.started"
    for bad in ("", "a.b", "a*", "a>", "a b"):
        with pytest.raises(ValueError):
            bus.subject(bad, "call", "started")


async def test_unreachable_nats_is_one_clear_error() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    with pytest.raises(StartupError, match=f"cannot reach NATS at {url}"):
        await bus.connect(url, "test", timeout=2.0)


async def test_duplicate_event_ids_are_stored_once(js: Any) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    event_id = str(uuid.uuid4())
    for _ in range(3):
        await bus.publish(js, bus.subject(tenant, "cdr", "created"), b"payload", event_id)
    await bus.publish(js, bus.subject(tenant, "cdr", "created"), b"other", str(uuid.uuid4()))
    info = await js.stream_info(bus.EVENTS_STREAM, subjects_filter=f"hibiki.{tenant}.>")
    assert info.state.subjects == {f"hibiki.{tenant}.cdr.created": 2}


async def test_published_in_order_stored_in_that_order_once(js: Any) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    ids = [str(uuid.uuid4()) for _ in range(300)]
    messages = [(bus.subject(tenant, "acd", "queued" if i % 2 else "offered"), str(i).encode(), ids[i])
                for i in range(300)]
    assert await bus.publish_in_order(js, messages) == [None] * 300
    assert await bus.publish_in_order(js, messages[:10]) == [None] * 10     # duplicates: acknowledged, not stored
    sub = await js.subscribe(f"hibiki.{tenant}.>", ordered_consumer=True)
    stored = [int((await sub.next_msg(timeout=5)).data) for _ in range(300)]
    assert stored == list(range(300))
    info = await js.stream_info(bus.EVENTS_STREAM, subjects_filter=f"hibiki.{tenant}.>")
    assert sum(info.state.subjects.values()) == 300
    failures = await bus.publish_in_order(js, [("nowhere.stored", b"x", str(uuid.uuid4()))], timeout=2.0)
    assert failures[0] is not None   # no stream takes the subject: the failure is told, not raised


async def test_durable_consumer_restart_loses_and_duplicates_nothing(js: Any) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    subject = bus.subject(tenant, "cdr", "created")
    sent = [f"event-{i}".encode() for i in range(40)]
    for payload in sent[:20]:
        await bus.publish(js, subject, payload, str(uuid.uuid4()))

    handled: list[bytes] = []
    half = asyncio.Event()

    async def handler(_: str, data: bytes) -> None:
        handled.append(data)
        if len(handled) == 10:
            half.set()
            raise RuntimeError("crash while handling the 10th event")  # redelivered later

    stop = asyncio.Event()
    consumer = bus.DurableConsumer(js, f"test-{tenant}", f"hibiki.{tenant}.>", handler, batch=5, ack_wait=2.0)
    task = asyncio.create_task(consumer.run(stop))
    await asyncio.wait_for(half.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 10)  # the consumer process goes away part way

    for payload in sent[20:]:  # events keep arriving while nobody consumes
        await bus.publish(js, subject, payload, str(uuid.uuid4()))

    # Everything the first consumer handled was acknowledged, except the event it crashed on.
    acknowledged_before = set(handled) - {handled[9]}
    seen: dict[bytes, int] = {}
    done = asyncio.Event()

    async def second(_: str, data: bytes) -> None:
        seen[data] = seen.get(data, 0) + 1
        if acknowledged_before | set(seen) >= set(sent):
            done.set()

    stop2 = asyncio.Event()
    restarted = bus.DurableConsumer(js, f"test-{tenant}", f"hibiki.{tenant}.>", second, batch=5, ack_wait=2.0)
    task2 = asyncio.create_task(restarted.run(stop2))
    await asyncio.wait_for(done.wait(), 15)
    stop2.set()
    await asyncio.wait_for(task2, 10)
    assert handled[9] in seen                                     # the crashed one came back
    assert acknowledged_before | set(seen) == set(sent)          # nothing lost
    assert not acknowledged_before & set(seen)                   # nothing acknowledged comes back
    assert all(count == 1 for count in seen.values())            # nothing twice after the restart


async def test_stream_survives_a_nats_restart(tmp_path: Any) -> None:
    import nats

    server = NatsServer(tmp_path)
    server.start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await bus.ensure_events_stream(js)
        await bus.publish(js, "hibiki.t1.call.started", b"kept", "id-1")
        await nc.close()
        server.stop()
        server.start()
        nc = await nats.connect(server.url)
        msg = await nc.jetstream().get_last_msg(bus.EVENTS_STREAM, "hibiki.t1.call.started")
        assert msg.data == b"kept"
        await nc.close()
    finally:
        server.stop()


def test_replicas_come_from_hibiki_nats_replicas() -> None:
    from hibiki.common.errors import ConfigError

    assert bus.replicas({}) == 1
    assert bus.replicas({"HIBIKI_NATS_REPLICAS": "3"}) == 3
    for bad in ("0", "6", "three", "-1"):
        with pytest.raises(ConfigError, match="HIBIKI_NATS_REPLICAS"):
            bus.replicas({"HIBIKI_NATS_REPLICAS": bad})


async def test_the_replica_count_reaches_a_clustered_server(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three nats-servers in one JetStream cluster (as deploy/k8s runs them): with
    HIBIKI_NATS_REPLICAS=3 the event stream and a bucket are stored on all three; a standalone
    server would silently keep one copy, so this needs the cluster."""
    import subprocess
    import time

    import nats as nats_lib

    from hibiki.common import revocation
    from hibiki.stack.nats_server import nats_server_command
    from hibiki.stack.ports import wait_for_port

    ports = [free_port() for _ in range(3)]
    routes = [free_port() for _ in range(3)]
    procs = []
    try:
        for i in range(3):
            command = [a for a in nats_server_command("127.0.0.1", ports[i], tmp_path / f"n{i}") if a != "hibiki"]
            command[command.index("-n")] = "--server_name"
            command.insert(command.index("--server_name") + 1, f"n{i}")
            command += ["--cluster_name", "hibiki-test", "--cluster", f"nats://127.0.0.1:{routes[i]}",
                        "--routes", ",".join(f"nats://127.0.0.1:{r}" for j, r in enumerate(routes) if j != i)]
            procs.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in ports:
            wait_for_port(port)
        nc = await nats_lib.connect([f"nats://127.0.0.1:{p}" for p in ports])
        try:
            js = nc.jetstream()
            monkeypatch.setenv("HIBIKI_NATS_REPLICAS", "3")
            deadline = time.monotonic() + 30
            while True:  # the cluster elects its JetStream leader first
                try:
                    await bus.ensure_events_stream(js)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
            await revocation.bucket(js)
            for name in (bus.EVENTS_STREAM, f"KV_{revocation.BUCKET}"):
                info = await js.stream_info(name)
                assert info.config.num_replicas == 3, name
                assert info.cluster is not None and len(info.cluster.replicas or []) == 2, name
        finally:
            await nc.close()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


async def test_an_unavailable_store_is_one_warning_line_an_unexpected_error_a_traceback(js: Any) -> None:
    """A handler raising ``Unavailable`` (a store down): one warning line per attempt with the tenant,
    the fields it gives (the call) and the delay, 1 s doubling to ``max_retry_delay``, no traceback,
    the message handed out again until the store answers; any other error keeps its traceback."""
    import structlog

    tenant = f"t{uuid.uuid4().hex[:8]}"
    attempts: dict[bytes, int] = {}
    stored, done = asyncio.Event(), asyncio.Event()

    class StoreDown(bus.Unavailable):
        pass

    async def handler(_: str, data: bytes) -> None:
        attempts[data] = attempts.get(data, 0) + 1
        if data == b"stored" and attempts[data] <= 4:
            raise StoreDown("s3 at dc1: EndpointConnectionError").about("store_unavailable", call_uuid="call-1")
        if data == b"broken" and attempts[data] == 1:
            raise RuntimeError("a bug")
        (stored if data == b"stored" else done).set()

    await bus.publish(js, bus.subject(tenant, "recording", "stopped"), b"stored", str(uuid.uuid4()))
    stop = asyncio.Event()
    consumer = bus.DurableConsumer(js, f"test-{tenant}", f"hibiki.{tenant}.>", handler, batch=1, ack_wait=30,
                                   max_retry_delay=2.0)
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(consumer.run(stop))
        await asyncio.wait_for(stored.wait(), 60)
        await bus.publish(js, bus.subject(tenant, "recording", "stopped"), b"broken", str(uuid.uuid4()))
        await asyncio.wait_for(done.wait(), 60)
        stop.set()
        await asyncio.wait_for(task, 10)
    assert attempts[b"stored"] == 5                       # handed out again until it was stored
    down = [line for line in logs if line["event"] == "store_unavailable"]
    assert len(down) == 4                                 # one line per attempt
    for line in down:
        assert line["log_level"] == "warning" and "exc_info" not in line
        assert line["tenant"] == tenant and line["call_uuid"] == "call-1"
        assert line["error"] == "StoreDown" and "EndpointConnectionError" in line["reason"]
    assert [line["retry_in"] for line in down] == [1.0, 2.0, 2.0, 2.0]
    failed = [line for line in logs if line["event"] == "event_handler_failed"]
    assert len(failed) == 1 and failed[0]["exc_info"] is True and failed[0]["log_level"] == "error"
    info = await js.consumer_info(bus.EVENTS_STREAM, f"test-{tenant}")
    assert info.num_ack_pending == 0 and info.num_pending == 0     # both acknowledged in the end


async def test_a_consumer_started_before_its_stream_answers_waits_for_it(tmp_path: Any) -> None:
    """The consumer's subscription is retried while JetStream cannot answer it (here: no stream
    yet, as when its leader is being elected), instead of ending the consumer's loop."""
    import nats
    import structlog

    server = NatsServer(tmp_path)
    server.start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream(timeout=2)
        got: list[bytes] = []
        arrived = asyncio.Event()

        async def handler(_: str, data: bytes) -> None:
            got.append(data)
            arrived.set()

        stopped = asyncio.Event()      # stopped while waiting: its loop ends, nothing raised
        never = asyncio.create_task(bus.DurableConsumer(js, "never", "hibiki.t2.>", handler).run(stopped))
        await asyncio.sleep(1.0)
        stopped.set()
        await asyncio.wait_for(never, 10)

        stop = asyncio.Event()
        consumer = bus.DurableConsumer(js, "early", "hibiki.t1.>", handler, max_retry_delay=2.0)
        with structlog.testing.capture_logs() as logs:
            task = asyncio.create_task(consumer.run(stop))
            await asyncio.sleep(2.5)
            assert not task.done()
            await bus.ensure_events_stream(js)
            await bus.publish(js, "hibiki.t1.call.started", b"late", "id-late")
            await asyncio.wait_for(arrived.wait(), 30)
            stop.set()
            await asyncio.wait_for(task, 10)
        assert got == [b"late"]
        waits = [line for line in logs if line["event"] == "jetstream_unavailable"]
        assert waits and all(w["what"] == "the consumer early" and "exc_info" not in w for w in waits)

        await nc.close()
    finally:
        server.stop()
