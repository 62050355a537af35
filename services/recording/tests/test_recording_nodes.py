"""Each data center's recording service takes the recordings of its own FreeSWITCH nodes
(``HIBIKI_RECORDING_NODES``; README "Recordings across data centers"): both sites see every
RecordingStopped on the stretched stream, a recording's WAV is in its own site's spool only."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from hibiki.common import bus
from hibiki.common.errors import ConfigError
from hibiki.recording.app import main
from hibiki.recording.config import RecordingConfig
from hibiki.recording.domain.nodes import PATTERN, BadNodePattern, Nodes
from support.recording import make_wav, publish_stopped, spool_path, stopped
from support.servers import free_port, running

HOST = st.from_regex(r"[a-z0-9][a-z0-9.-]{0,30}", fullmatch=True)


@given(st.text(max_size=80))
def test_any_setting_is_patterns_or_a_clear_refusal(text: str) -> None:
    try:
        nodes = Nodes.parse(text)
    except BadNodePattern as exc:
        assert "host name or a pattern" in str(exc)
        return
    assert all(PATTERN.fullmatch(p) for p in nodes.patterns)
    assert nodes.takes("")                                    # an event naming no node: taken


@given(st.lists(HOST, min_size=1, max_size=4), HOST)
def test_names_are_taken_exactly_and_without_case(names: list[str], other: str) -> None:
    nodes = Nodes.parse(" , ".join(n.upper() for n in names))
    assert all(nodes.takes(n) for n in names)
    assert nodes.takes(other) == (other in names)
    assert Nodes.parse("").takes(other)                       # no setting: every node (one site)


def test_patterns_and_a_bad_setting() -> None:
    nodes = Nodes.parse("voice-dc1-*,fs?.tokyo.example")
    assert nodes.takes("voice-dc1-0") and nodes.takes("fs1.tokyo.example")
    assert not nodes.takes("voice-dc2-0") and not nodes.takes("fs10.tokyo.example")
    for bad in ("voice dc1", "a/b", "$(reboot)", "x" * 300, "-x"):
        with pytest.raises(ConfigError, match="HIBIKI_RECORDING_NODES"):
            RecordingConfig.from_env({"HIBIKI_RECORDING_NODES": bad})


@pytest.fixture
def debug_logs() -> Any:
    """Debug lines pass whatever level an earlier test configured (the skip is logged at debug)."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    yield
    structlog.configure(**saved)


@pytest.mark.slow
async def test_the_service_takes_its_own_sites_recordings_only(tmp_path: Path, nats_server: Any, nats_client: Any,
                                                               authority: Any, debug_logs: Any) -> None:
    """dc1's service (``voice-dc1-*``): a recording of a dc1 node is stored, one of a dc2 node is
    acknowledged and left alone, even with a file at its path (the rule decides, not the spool),
    one naming no node is taken; one naming no node whose file is not in this spool (the other
    site's) is acknowledged with an info line, not an error."""
    tenant = f"nodes{uuid.uuid4().hex[:6]}"
    spool = tmp_path / "spool"
    consumer = f"rec-{tenant}"
    config = dataclasses.replace(RecordingConfig.from_env({
        "HIBIKI_DATA_DIR": str(tmp_path / "var"), "HIBIKI_NATS_URL": nats_server.url,
        "HIBIKI_RECORDING_SPOOL_DIR": str(spool), "HIBIKI_RECORDING_CONSUMER": consumer,
        "HIBIKI_RECORDING_NODES": "voice-dc1-*"}), port=free_port())
    js = nats_client.jetstream()
    await bus.ensure_events_stream(js)
    started = datetime.now(UTC) - timedelta(minutes=1)
    recordings: dict[str, tuple[str, Path]] = {}
    for node in ("voice-dc1-0", "voice-dc2-0", ""):
        rid = str(uuid.uuid4())
        event = stopped(tenant, rid, Path("/"), started=started)
        event.meta.node = node
        path = make_wav(spool_path(spool, tenant, rid, started), seconds=1.0)
        event.spool_path = str(path)
        recordings[node] = (rid, path)
        await publish_stopped(js, event)
    elsewhere = str(uuid.uuid4())                             # no node, its file in the other site's spool
    event = stopped(tenant, elsewhere, Path("/"), started=started)
    event.spool_path = str(spool_path(spool, tenant, elsewhere, started))
    await publish_stopped(js, event)
    store = tmp_path / "var" / "recording" / "store" / tenant
    with structlog.testing.capture_logs() as logs:
        async with running(main, config):
            deadline = time.monotonic() + 90
            while recordings["voice-dc1-0"][1].exists() or recordings[""][1].exists():
                assert time.monotonic() < deadline, "dc1's recordings not stored"
                await asyncio.sleep(0.2)
            while (info := await js.consumer_info(bus.EVENTS_STREAM, consumer)).num_pending or info.num_ack_pending:
                assert time.monotonic() < deadline, "the other site's recording not acknowledged"
                await asyncio.sleep(0.2)
    objects = {p.name for p in store.rglob("*.hbr")}
    assert objects == {f"{recordings[n][0]}.ogg.hbr" for n in ("voice-dc1-0", "")}
    other_rid, other_path = recordings["voice-dc2-0"]
    assert other_path.exists()                                # left to dc2 (here: untouched)
    skipped = [line for line in logs if line["event"] == "recording_other_site"]
    assert [(s["recording_id"], s["node"], s["tenant"]) for s in skipped] == [(other_rid, "voice-dc2-0", tenant)]
    assert not [line for line in logs if line["event"] in ("recording_spool_missing", "event_handler_failed")]
    away = [line for line in logs if line["event"] == "recording_not_in_this_spool"]
    assert [(a["recording_id"], a["tenant"], a["log_level"]) for a in away] == [(elsewhere, tenant, "info")]
