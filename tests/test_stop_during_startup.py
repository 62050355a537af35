"""A service asked to stop while it still waits for JetStream at startup stops cleanly (exit 0),
as Kubernetes expects of a pod deleted during a NATS leader election; a real nats-server without
JetStream makes every JetStream request go unanswered, as during an election."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hibiki.stack.nats_server import nats_server_binary
from hibiki.stack.ports import wait_for_port
from support.servers import free_port

SERVICES = {
    "callcontrol": {"HIBIKI_CALLCONTROL_PORT": "{port}", "HIBIKI_CALLCONTROL_ESL_PORT": "{port2}"},
    "analytics": {"HIBIKI_ANALYTICS_PORT": "{port}"},
}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_sigterm_while_waiting_for_jetstream_exits_0(service: str, tmp_path: Path) -> None:
    port = free_port()
    nats = subprocess.Popen([nats_server_binary(), "-a", "127.0.0.1", "-p", str(port)],   # no -js
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        env = {"PATH": "/usr/bin:/bin", "HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": f"nats://127.0.0.1:{port}",
               **{k: v.format(port=free_port(), port2=free_port()) for k, v in SERVICES[service].items()}}
        hibiki = Path(sys.executable).parent / "hibiki"
        process = subprocess.Popen([str(hibiki), "serve", service], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            seen = ""
            assert process.stderr is not None
            while "jetstream_unavailable" not in seen and time.monotonic() < deadline:
                line = process.stderr.readline()
                if not line:
                    break
                seen += line
            assert "jetstream_unavailable" in seen, seen[-2000:]    # it is waiting, and says so
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        assert process.returncode == 0, (seen + err)[-2000:]
        assert "error:" not in err
        assert '"service_stopped"' in err and '"during": "startup"' in err
    finally:
        nats.terminate()
        nats.wait(10)
