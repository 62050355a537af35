"""``just bench directory``: the directory's ``/fsapi`` under a realistic mod_xml_curl mix.

What runs (all on 127.0.0.1, in a temporary directory removed afterwards):

- a nats-server with JetStream; a SQLite store of ``--tenants`` x ``--users`` (one desk phone each);
- the directory service (``hibiki serve directory``) pinned to one CPU core, and beside it, on
  the same core, a constant endpoint on the same server stack (``benchmarks/_constant_app.py``);
- the load generator in this process, pinned to another core: ``--connections`` keep-alive
  connections flat out, constant and directory alternating (A B B A) so drift hits both alike,
  then the directory alone at half its own throughput (paced) for the latency of a server with
  headroom;
- a second directory replica on the same store and NATS, for the time a change made through
  the admin API takes to be answered by both; and a directory on an empty store, for memory.

It measures and prints; it exits 0 whether or not the targets are met, 2 when it cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

from benchmarks import _mix, _propagation
from benchmarks._load import Load, Result, delayed_ack_stall_ms
from benchmarks._processes import (Child, directory_command, directory_env, free_port, fsapi_url, run_in_workdir,
                                  wait_port)
from benchmarks._store import create_empty, populate
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.stack.nats_server import nats_server_command

PREPARED_REQUESTS = 10_000
CHANGES = 20
TARGET_SHARE, TARGET_P99_MS, TARGET_PROPAGATION_MS = 0.70, 5.0, 1000.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench directory", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per endpoint (default 10)")
    p.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections (default 32)")
    p.add_argument("--tenants", type=int, default=100, help="tenants in the store (default 100)")
    p.add_argument("--users", type=int, default=1000, help="users per tenant (default 1000)")
    p.add_argument("--all-fields", action="store_true",
                   help="post every request field, as a FreeSWITCH without the shipped enable-post-var whitelist does")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.seconds <= 0 or args.connections < 1 or args.tenants < 1 or args.users < 2:
        print("bench directory: error: --seconds > 0, --connections >= 1, --tenants >= 1, --users >= 2", file=sys.stderr)
        return 2
    return run_in_workdir("directory", lambda work, children: _run(args, work, children))


def _cores() -> tuple[int, set[int]]:
    """The server's core and the load generator's (the same one on a single-CPU machine)."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[0], {cpus[1] if len(cpus) > 1 else cpus[0]}


def _run(args: argparse.Namespace, work: Path, children: list[Child]) -> None:
    server_core, client_cores = _cores()
    os.sched_setaffinity(0, client_cores)     # children inherit this unless pinned elsewhere
    secret = secrets.token_urlsafe(36)        # 48 characters

    nats_port = free_port()
    children.append(Child("nats-server", nats_server_command("127.0.0.1", nats_port, work / "nats"), work / "nats.log"))
    wait_port(nats_port, 15)
    nats_url = f"nats://127.0.0.1:{nats_port}"

    started = time.perf_counter()
    (work / "data").mkdir()
    users = populate(work / "data" / "directory.sqlite", args.tenants, args.users)
    (work / "empty").mkdir()
    create_empty(work / "empty" / "directory.sqlite")
    print(f"store: {args.tenants} tenants x {args.users} users written in {time.perf_counter() - started:.1f} s",
          flush=True)

    def directory(name: str, data: str, cores: set[int] | None) -> tuple[Child, int]:
        port = free_port()
        child = Child(name, directory_command(), work / f"{name}.log",
                      directory_env(work / data, nats_url, port, secret), cores)
        children.append(child)
        return child, port

    started = time.perf_counter()
    empty, empty_port = directory("directory-empty", "empty", client_cores)
    service, service_port = directory("directory", "data", {server_core})
    constant_port = free_port()
    constant = Child("constant endpoint", [sys.executable, "-m", "benchmarks._constant_app", str(constant_port)],
                     work / "constant.log", {}, {server_core})
    children.append(constant)
    for child, port in ((empty, empty_port), (service, service_port), (constant, constant_port)):
        child.wait_healthy(port, 600)
    print(f"directory ready in {time.perf_counter() - started:.1f} s", flush=True)
    memory = (service.rss_mb(), empty.rss_mb())
    empty.stop()

    allowed = _mix.post_vars(args.all_fields)
    requests = _mix.build(users, fsapi_url(service_port), PREPARED_REQUESTS, allowed=allowed)
    stall = {name: delayed_ack_stall_ms(port, requests[0][1]) for name, port in
             (("constant", constant_port), ("directory", service_port))}
    flat, server_cpu = asyncio.run(_flat_out(requests, args, {"constant": (constant, constant_port),
                                                              "directory": (service, service_port)}))
    paced_rate = flat["directory"].rate / 2
    paced = asyncio.run(Load(requests, args.connections, paced_rate).run(service_port, args.seconds / 2, 0.5))
    constant.stop()

    replica, replica_port = directory("directory-replica", "data", client_cores)
    replica.wait_healthy(replica_port, 600)
    token = TokenAuthority(secret.encode()).issue(Claims("bench", "service"))
    changes = asyncio.run(_propagation.measure([service_port, replica_port], nats_url, token, users, CHANGES))

    sizes = sorted(len(body) for _, body in requests)
    print(f"requests: {'every field' if not allowed else f'the {len(allowed)} enable-post-var fields of freeswitch/conf'}"
          f", {sizes[len(sizes) // 2]:,} bytes median on the wire")
    _report(args, flat, server_cpu, paced, paced_rate, changes, memory, stall)


async def _flat_out(requests: list[tuple[str, bytes]], args: argparse.Namespace,
                    targets: dict[str, tuple[Child, int]]) -> tuple[dict[str, Result], dict[str, float]]:
    """Each endpoint flat out, in rounds A B B A of half the time each; merged per endpoint."""
    rounds: dict[str, list[Result]] = {name: [] for name in targets}
    busy: dict[str, float] = dict.fromkeys(targets, 0.0)
    for name in ("constant", "directory", "directory", "constant"):
        child, port = targets[name]
        cpu, wall = child.cpu_seconds(), time.perf_counter()
        rounds[name].append(await Load(requests, args.connections).run(port, args.seconds / 2, 0.5))
        busy[name] += (child.cpu_seconds() - cpu) / (time.perf_counter() - wall) / 2
    return {name: _merge(results) for name, results in rounds.items()}, busy


def _merge(results: list[Result]) -> Result:
    merged = Result(sum(r.seconds for r in results))
    for r in results:
        merged.latencies_ns += r.latencies_ns
        merged.errors += r.errors
        merged.outcomes.update(r.outcomes)
    merged.client_cpu = sum(r.client_cpu * r.seconds for r in results) / merged.seconds
    return merged


def _row(label: str, r: Result, note: str = "") -> str:
    return (f"{label:<32}{r.rate:>9,.0f}{r.percentile_ms(50):>9.2f}{r.percentile_ms(99):>9.2f}"
            f"{r.percentile_ms(99.9):>11.2f}{r.errors:>9}   {note}").rstrip()


def _report(args: argparse.Namespace, flat: dict[str, Result], server_cpu: dict[str, float], paced: Result,
            paced_rate: float, changes: list[_propagation.Propagation], memory: tuple[float, float],
            stall: dict[str, float]) -> None:
    const, dirv = flat["constant"], flat["directory"]
    share = dirv.rate / const.rate if const.rate else 0.0
    users = args.tenants * args.users
    print()
    print(f"directory /fsapi, {args.tenants} tenants x {args.users} users, 1 core, "
          f"{args.connections} connections, {args.seconds:g} s per endpoint")
    print(f"{'':<32}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>11}{'errors':>9}")
    print(_row("constant endpoint", const, f"server core {server_cpu['constant']:.0%} busy"))
    print(_row("directory (mix)", dirv, f"{share:.0%} of constant; server core {server_cpu['directory']:.0%} busy"))
    print(_row(f"directory (mix), paced {paced_rate:,.0f}/s", paced, "half its flat-out rate, open loop"))
    print(f"load generator: {max(const.client_cpu, dirv.client_cpu):.0%} of its own core at most "
          f"(near 100 % would mean the client, not the server, set the pace)")
    if max(stall.values()) > 10:
        print(f"warning: a keep-alive client that delays its ACKs waits {stall['constant']:.0f} ms (constant), "
              f"{stall['directory']:.0f} ms (directory) per answer: the server sends headers and body in two "
              "segments without TCP_NODELAY; this load generator ACKs at once, so the rows above leave that out")
    print("mix: " + ", ".join(f"{kind} {share_} %" for kind, share_ in _mix.MIX)
          + f" ({PREPARED_REQUESTS:,} prepared requests, cycled)")
    print("outcomes: " + "; ".join(
        f"{kind} " + ", ".join(f"{o} {n:,}" for (k, o), n in sorted(dirv.outcomes.items()) if k == kind)
        for kind, _ in _mix.MIX))
    visible = [max(c.visible_ms) for c in changes]
    applied = [max(c.applied_ms) for c in changes if c.applied_ms]
    confirmations = min((len(c.applied_ms) for c in changes), default=0)
    print(f"config change visible on 2 replicas: p50 {statistics.median(visible):.0f} ms, max {max(visible):.0f} ms "
          f"after the API reply ({len(changes)} changes; API reply p50 {statistics.median(c.api_ms for c in changes):.0f} ms; "
          f"config.applied from >= {confirmations} replicas, last p50 "
          f"{statistics.median(applied) if applied else float('nan'):.0f} ms)")
    loaded, empty = memory
    per_100k = (loaded - empty) * 100_000 / users
    rough = " (too few users to extrapolate)" if users < 10_000 else ""
    print(f"memory: {per_100k:.0f} MB RSS per 100,000 users{rough} "
          f"({loaded:.0f} MB with {users:,} users, {empty:.0f} MB empty)")
    p99, p99_paced = dirv.percentile_ms(99), paced.percentile_ms(99)
    print(f"targets: >= {TARGET_SHARE:.0%} of constant: {_verdict(share >= TARGET_SHARE)} ({share:.0%}); "
          f"p99 < {TARGET_P99_MS:g} ms: {_verdict(p99 < TARGET_P99_MS)} flat out ({p99:.2f} ms), "
          f"{_verdict(p99_paced < TARGET_P99_MS)} paced ({p99_paced:.2f} ms); "
          f"propagation < 1 s: {_verdict(max(visible) < TARGET_PROPAGATION_MS)} ({max(visible):.0f} ms)")


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"
