"""Analytics tests run each on a NATS of their own: the session's stream holds every earlier
test's events, and a new durable consumer (``analytics-calls``) reads a stream from its first
message, so on the shared server a test would wait for the whole session's backlog first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.servers import NatsServer


@pytest.fixture
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()
