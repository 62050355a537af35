"""A service starting while JetStream has no leader (README "Failover between data centers"): a
site's services come up while the NATS cluster is still electing, as when the servers of the
sites come back one after the other. The cluster here is the failover tests' three servers (one per
site) holding the event stream with three replicas; dc1's and the witness's servers are killed, so
dc2's server alone has no quorum: neither the stream nor the JetStream meta group has a leader, and
every stream request times out or is answered 503. A directory started on dc2 then waits (one
``jetstream_unavailable`` warning per attempt, no traceback) instead of exiting; once the two
servers are back and elect, it comes up by itself.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.common import bus
from support.failover import Site, nats_cluster, on_nats, site_addresses, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            lines.append({"raw": line})
    return lines


def test_a_service_waits_for_the_events_stream_leader(tmp_path: Path) -> None:
    addresses = site_addresses()
    nodes = nats_cluster(tmp_path, addresses)
    routes = [f"nats://{node.host}:{node.route_port}" for node in nodes.values()]
    site = Site("dc2", addresses["dc2"], tmp_path / "dc2", nodes["dc2"])
    try:
        async def events_stream(_: Any, js: Any) -> int:
            await bus.ensure_events_stream(js, num_replicas=3)
            info = await js.stream_info(bus.EVENTS_STREAM)
            return len(info.cluster.replicas or [])
        wait_until("JetStream cluster", lambda: on_nats(nodes["dc2"].url, events_stream, 30) == 2, 60, 0.5)

        for name in ("dc1", "witness"):          # two of three servers lost: no quorum, no leader
            process = nodes[name].process
            assert process is not None
            process.send_signal(signal.SIGKILL)
            process.wait(10)

        async def leaderless(_: Any, js: Any) -> bool:
            try:
                info = await js.stream_info(bus.EVENTS_STREAM)
            except Exception:       # noqa: BLE001 - no answer: no leader either
                return True
            return not info.cluster.leader
        # dc2, left alone, steps down (it keeps calling itself the leader for a few seconds)
        wait_until("the stream without a leader", lambda: on_nats(nodes["dc2"].url, leaderless, 3), 60, 0.5)
        directory = site.add("directory", {})
        directory.start_in_background()
        # it waits: alive, not ready, telling why once per attempt
        wait_until("two jetstream_unavailable lines",
                   lambda: sum(line.get("event") == "jetstream_unavailable" for line in log_lines(directory.log)) >= 2,
                   90, 0.5)
        assert directory.process is not None and directory.process.poll() is None, directory.log.read_text()[-3000:]
        with pytest.raises(httpx.TransportError):
            httpx.get(directory.url + "/readyz", timeout=2)

        for name in ("dc1", "witness"):
            nodes[name].start([r for r in routes if not r.endswith(f"{nodes[name].host}:{nodes[name].route_port}")])
        wait_until("directory ready", lambda: httpx.get(directory.url + "/readyz", timeout=2).status_code == 200, 120, 0.5)
        assert directory.process.poll() is None

        lines = log_lines(directory.log)
        assert not any("Traceback" in json.dumps(line) for line in lines)
        waited = {line["what"] for line in lines if line.get("event") == "jetstream_unavailable"}
        assert "the JetStream stream HIBIKI_EVENTS" in waited
        for what in waited:      # the events stream, then the revocation bucket if its leader came later
            waits = [line for line in lines if line.get("event") == "jetstream_unavailable" and line["what"] == what]
            assert [w["attempt"] for w in waits] == list(range(1, len(waits) + 1))   # one line per attempt
            assert all(w["level"] == "warning" and w["retry_in"] > 0 and w["error"] for w in waits)
            delays = [w["retry_in"] for w in waits]
            assert delays == sorted(delays) and max(delays) <= 10.0                 # backing off, capped
            assert any(line.get("event") == "jetstream_available" and line["what"] == what
                       and line["attempts"] == len(waits) + 1 for line in lines)
    finally:
        site.stop()
        for node in nodes.values():
            if node.process and node.process.poll() is None:
                node.process.terminate()
                node.process.wait(15)


def test_a_service_stopped_while_waiting_exits_with_one_line(tmp_path: Path) -> None:
    """SIGTERM while waiting for the leader: the process ends at once, a clean stop (exit 0, one
    ``service_stopped`` line saying it was during startup), no error line, no traceback."""
    addresses = site_addresses()
    nodes = nats_cluster(tmp_path, addresses)
    site = Site("dc2", addresses["dc2"], tmp_path / "dc2", nodes["dc2"])
    try:
        for name in ("dc1", "witness"):          # dc2's server alone from the start: no meta leader ever
            process = nodes[name].process
            assert process is not None
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        directory = site.add("directory", {})
        directory.start_in_background()
        wait_until("a jetstream_unavailable line",
                   lambda: any(line.get("event") == "jetstream_unavailable" for line in log_lines(directory.log)),
                   90, 0.5)
        assert directory.process is not None
        directory.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert directory.process.wait(20) == 0
        assert time.monotonic() - started < 15
        text = directory.log.read_text(errors="replace")
        stopped = [line for line in log_lines(directory.log) if line.get("event") == "service_stopped"]
        assert len(stopped) == 1 and stopped[0].get("during") == "startup", stopped
        assert "stopped while waiting for the JetStream stream HIBIKI_EVENTS" in str(stopped[0].get("detail"))
        assert "error:" not in text and "Traceback" not in text
    finally:
        site.stop()
        for node in nodes.values():
            if node.process and node.process.poll() is None:
                node.process.terminate()
                try:
                    node.process.wait(15)
                except subprocess.TimeoutExpired:
                    node.process.kill()
