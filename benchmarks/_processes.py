"""Child processes of a benchmark: started pinned to chosen CPUs, probed, measured, always stopped."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from hibiki.stack.ports import wait_for_port


class SetupError(Exception):
    """The benchmark could not be set up; the message is the one line to print."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Child:
    """One process: ``command`` with extra ``env``, its output in ``log``, pinned to ``cpus``."""

    def __init__(self, name: str, command: list[str], log: Path, env: dict[str, str] | None = None,
                 cpus: Iterable[int] | None = None) -> None:
        self.name, self.log = name, log
        cpu_set = set(cpus) if cpus is not None else None

        def pin() -> None:
            if cpu_set:
                os.sched_setaffinity(0, cpu_set)

        with log.open("wb") as out:
            inherited = {k: v for k, v in os.environ.items() if not k.startswith("HIBIKI_")}  # no stray settings
            self.process = subprocess.Popen(command, env={**inherited, **(env or {})}, stdout=out,
                                            stderr=subprocess.STDOUT, preexec_fn=pin)

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> float:
        """Resident set size now, from /proc/<pid>/status (VmRSS)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise SetupError(f"{self.name}: no VmRSS in /proc/{self.pid}/status")

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_healthy(self, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-3:]
                raise SetupError(f"{self.name} exited with {self.process.returncode}: {' | '.join(tail)}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise SetupError(f"{self.name} did not answer /healthz on port {port} within {timeout:.0f} s (log: {self.log})")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and every descendant alive now (0 for one that ended)."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def tree_cpu_by_name(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) per process of a tree alive now, by name: a service's
    (``... serve <name>``) or the program's (``nats-server``)."""
    seconds: dict[str, float] = {}
    for process in tree_pids(pid):
        try:
            args = Path(f"/proc/{process}/cmdline").read_bytes().split(b"\0")
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in args if a]
        name = words[words.index("serve") + 1] if "serve" in words[:-1] else Path(words[0]).name if words else "?"
        seconds[name] = seconds.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def tree_pids(pid: int) -> list[int]:
    """A process and every descendant alive now."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
        found.append(current)
    return found


def pin_tree(pid: int, cpus: set[int]) -> int:
    """Every thread of a process and of its descendants alive now onto ``cpus`` (what they start
    later inherits it); the threads pinned."""
    pinned = 0
    for process in tree_pids(pid):
        try:
            tasks = [int(t.name) for t in Path(f"/proc/{process}/task").iterdir()]
        except OSError:
            continue
        for tid in tasks:
            try:
                os.sched_setaffinity(tid, cpus)
                pinned += 1
            except OSError:        # ended meanwhile
                continue
    return pinned


def directory_command() -> list[str]:
    return [sys.executable, "-m", "hibiki.stack.cli", "serve", "directory"]


FSAPI_USER, FSAPI_PASSWORD = "freeswitch", "bench-fsapi-password"


def fsapi_url(port: int) -> str:
    """The benchmark directory's /fsapi with FreeSWITCH's credentials in the URL."""
    return f"http://{FSAPI_USER}:{FSAPI_PASSWORD}@127.0.0.1:{port}/fsapi"


def directory_env(data_dir: Path, nats_url: str, port: int, secret: str) -> dict[str, str]:
    return {"HIBIKI_DATA_DIR": str(data_dir), "HIBIKI_NATS_URL": nats_url, "HIBIKI_DIRECTORY_PORT": str(port),
            "HIBIKI_DIRECTORY_FSAPI_USER": FSAPI_USER, "HIBIKI_DIRECTORY_FSAPI_PASSWORD": FSAPI_PASSWORD,
            "HIBIKI_DIRECTORY_GRPC_PORT": "0",
            "HIBIKI_DIRECTORY_DATABASE_URL": f"sqlite:///{data_dir / 'directory.sqlite'}",
            "HIBIKI_LOG_LEVEL": "warning", "HIBIKI_AUTH_SECRET": secret}


def wait_port(port: int, timeout: float) -> None:
    try:
        wait_for_port(port, timeout)
    except TimeoutError as exc:
        raise SetupError(str(exc)) from None


def run_in_workdir(name: str, run: Callable[[Path, list[Child]], None]) -> int:
    """``run(work, children)`` in a fresh temporary directory; stop every child and remove the
    directory afterwards (kept, and its path printed, when ``HIBIKI_BENCH_KEEP=1``: the services'
    logs, FreeSWITCH's log, sipp's files). 0 when it ran, 2 (with a one-line error) when it could
    not set up."""
    work = Path(tempfile.mkdtemp(prefix="hibiki-bench-"))
    keep = os.environ.get("HIBIKI_BENCH_KEEP", "") == "1"
    children: list[Child] = []
    try:
        run(work, children)
        return 0
    except SetupError as exc:
        print(f"bench {name}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        for child in reversed(children):
            child.stop()
        if keep:
            print(f"bench {name}: work directory kept (HIBIKI_BENCH_KEEP=1): {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
