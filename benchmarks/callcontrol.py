"""``just bench callcontrol``: IVR calls through callcontrol, next to the emulator's own ceiling.

What runs (all on 127.0.0.1, in a temporary directory removed afterwards):

- a nats-server with JetStream and the directory service (``hibiki serve directory``, its
  gRPC DirectoryService on), holding one tenant with extension 2001 and an IVR whose one
  menu plays a greeting and sends key 1 to extension 2001 (made through the admin API);
- callcontrol (``hibiki serve callcontrol``) pinned to one CPU core, and beside it, on the same
  core, a baseline controller on the same event-socket stack that answers and hangs up
  (``benchmarks/_callcontrol_baseline.py``);
- the load on the other cores: the FreeSWITCH emulator placing calls open loop (started at a
  fixed rate whatever the earlier ones do) for ``--seconds`` at each of ``--rates``, first
  against the baseline, then against callcontrol. A call runs the directory's IVR dialplan
  (``socket ... async full`` then the fallback); the caller presses 1; a working IVR transfers
  it to 2001 (``benchmarks/_callcontrol_load.py``). With two CPUs the emulator, the directory
  and NATS share the second one; with more, the directory and NATS get one and the emulator
  runs in up to ``--load-processes`` processes on the others.

Per round: calls/s offered and completed as expected, where the others ended, call setup and
event-handling latency (p50/p99, at the emulator), the controller's CPU (its core's busy share
and CPU time per call), the load side's and other processes'. The target: the controller is
never the bottleneck below 100 new calls/s on one core. It measures and prints; it exits 0
whether or not the target is met, 2 when it cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import multiprocessing
import os
import secrets
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx

from benchmarks import _callcontrol_load as load
from benchmarks._processes import (Child, SetupError, directory_command, directory_env, free_port, run_in_workdir,
                                  wait_port)
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.stack.nats_server import nats_server_command

TENANT, IVR_ID = "bench", "bench"
IVR = {"id": IVR_ID, "name": "bench", "root_menu": "top",
       "menus": [{"id": "top", "greeting": {"sound": "ivr/ivr-welcome.wav"},
                  "choices": {"1": {"extension": load.DESK}}, "timeout_seconds": 5}]}
TARGET_RATE, TARGET_SHARE, TARGET_BUSY, TARGET_EVENT_P99_MS = 100.0, 0.99, 0.90, 50.0
WARMUP_CALLS, WARMUP_RATE, MAX_LOAD_PROCESSES, IDLE_SECONDS = 40, 20.0, 4, 2.0
LOAD_BUSY_LIMIT, LAG_LIMIT_MS, OTHERS_LIMIT = 0.90, 20.0, 0.10   # beyond these the load side sets the pace
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Controller:
    name: str          # baseline | callcontrol
    label: str
    port: int          # its event socket
    expected: str      # where its calls should end
    child: Child

    @property
    def doc(self) -> ET.Element:
        return load.dialplan(TENANT, IVR_ID, self.port)


@dataclass(frozen=True)
class Layout:
    controller: int         # callcontrol and the baseline
    services: set[int]      # directory, NATS (and this process when the emulator runs in workers)
    load: set[int]          # the emulator
    processes: int          # emulator processes (1: this one)

    def describe(self) -> str:
        def cores(s: set[int]) -> str:
            return f"core{'s' if len(s) > 1 else ''} {','.join(map(str, sorted(s)))}"
        who = "this process" if self.processes == 1 else f"{self.processes} processes"
        text = (f"controllers pinned to core {self.controller}; directory and NATS on {cores(self.services)}; "
                f"emulator ({who}) on {cores(self.load)}")
        return text + (" (one CPU: everything shares it)" if self.controller in self.load else "")


def _rates(text: str) -> list[float]:
    try:
        rates = [float(r) for r in text.split(",") if r.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError(f"{text!r}: every rate must be > 0")
    return rates


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench callcontrol", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="seconds of calls per rate and controller (default 10)")
    p.add_argument("--rates", type=_rates, default=[25.0, 50.0, 100.0, 200.0],
                   help="offered new calls per second, comma-separated (default 25,50,100,200)")
    p.add_argument("--load-processes", type=int, default=None,
                   help=f"emulator processes (default: one per core left after the controller's and the "
                        f"services', at most {MAX_LOAD_PROCESSES}; this process alone on two CPUs)")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.seconds <= 0 or (args.load_processes is not None and args.load_processes < 1):
        print("bench callcontrol: error: --seconds > 0, --load-processes >= 1", file=sys.stderr)
        return 2
    return run_in_workdir("callcontrol", lambda work, children: _run(args, work, children))


def _layout(processes: int | None) -> Layout:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 3:
        rest = {cpus[-1]}
        return Layout(cpus[0], rest, rest, processes or 1)
    spare = cpus[2:]
    return Layout(cpus[0], {cpus[1]}, set(spare), processes or min(len(spare), MAX_LOAD_PROCESSES))


def _run(args: argparse.Namespace, work: Path, children: list[Child]) -> None:
    layout = _layout(args.load_processes)
    os.sched_setaffinity(0, layout.load if layout.processes == 1 else layout.services)
    secret = secrets.token_urlsafe(36)

    nats_port = free_port()
    nats = Child("nats-server", nats_server_command("127.0.0.1", nats_port, work / "nats"), work / "nats.log",
                 cpus=layout.services)
    children.append(nats)
    wait_port(nats_port, 15)
    nats_url = f"nats://127.0.0.1:{nats_port}"

    started = time.perf_counter()
    (work / "directory").mkdir()
    directory_port, grpc_port = free_port(), free_port()
    directory = Child("directory", directory_command(), work / "directory.log",
                      {**directory_env(work / "directory", nats_url, directory_port, secret),
                       "HIBIKI_DIRECTORY_GRPC_PORT": str(grpc_port)}, layout.services)
    children.append(directory)
    esl_port, http_port, baseline_port = free_port(), free_port(), free_port()
    callcontrol = Child("callcontrol", [sys.executable, "-m", "hibiki.stack.cli", "serve", "callcontrol"],
                        work / "callcontrol.log",
                        {"HIBIKI_DATA_DIR": str(work / "callcontrol"), "HIBIKI_NATS_URL": nats_url,
                         "HIBIKI_AUTH_SECRET": secret, "HIBIKI_LOG_LEVEL": "warning",
                         "HIBIKI_CALLCONTROL_PORT": str(http_port), "HIBIKI_CALLCONTROL_ESL_PORT": str(esl_port),
                         "HIBIKI_CALLCONTROL_DIRECTORY_GRPC": f"127.0.0.1:{grpc_port}",
                         # one emulator per call, none with an inbound socket: no node to vouch for them
                         "HIBIKI_CALLCONTROL_ESL_VERIFY": "off"},
                        {layout.controller})
    children.append(callcontrol)
    baseline = Child("baseline controller", [sys.executable, "-m", "benchmarks._callcontrol_baseline",
                                             str(baseline_port)], work / "baseline.log", {}, {layout.controller})
    children.append(baseline)
    directory.wait_healthy(directory_port, 600)
    wait_port(grpc_port, 30)
    _configure(directory_port, grpc_port, TokenAuthority(secret.encode()).issue(Claims("bench", "service")))
    callcontrol.wait_healthy(http_port, 120)
    wait_port(esl_port, 30)
    if baseline.process.poll() is not None:
        raise SetupError(f"baseline controller exited with {baseline.process.returncode} (log: {baseline.log})")
    wait_port(baseline_port, 30)
    print(f"directory, IVR and controllers ready in {time.perf_counter() - started:.1f} s", flush=True)

    controllers = (Controller("baseline", "baseline (answers, hangs up)", baseline_port, load.CONTROLLER_HANGUP,
                              baseline),
                   Controller("callcontrol", "callcontrol (IVR)", esl_port, load.TRANSFERRED, callcontrol))
    services = {"directory": directory, "nats": nats}
    cores = sorted(layout.load | layout.services | {layout.controller})

    def cpu() -> dict[str, float]:
        busy = core_seconds()
        return {**{c.name: c.child.cpu_seconds() for c in controllers},
                **{name: child.cpu_seconds() for name, child in services.items()},
                **{f"core{n}": busy[f"core{n}"] for n in cores}}

    pool = None
    if layout.processes > 1:
        pool = ProcessPoolExecutor(layout.processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=load.worker_init, initargs=(sorted(layout.load),))
    load.quiet_gc()
    rounds: list[tuple[Controller, load.Round]] = []
    idle: dict[str, float] = {}
    try:
        asyncio.run(_measure(args, controllers, cpu, pool, layout.processes, rounds, idle))
    except BrokenProcessPool as exc:
        raise SetupError(f"an emulator process died: {exc}") from None
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    _report(args, layout, rounds, idle)


async def _measure(args: argparse.Namespace, controllers: tuple[Controller, ...], cpu: Callable[[], dict[str, float]],
                   pool: ProcessPoolExecutor | None, processes: int, rounds: list[tuple[Controller, load.Round]],
                   idle: dict[str, float]) -> None:

    async def one(ctl: Controller, rate: float, seconds: float) -> load.Round:
        if pool is None:
            before, own = cpu(), time.process_time()
            result = await load.run_round(ctl.doc, rate, seconds, ctl.expected, time.monotonic() + 0.01)
        else:
            start_at = time.monotonic() + 0.5
            loop = asyncio.get_running_loop()
            jobs = [loop.run_in_executor(pool, functools.partial(
                load.worker_round, TENANT, IVR_ID, ctl.port, rate, seconds, ctl.expected, start_at, k, processes))
                for k in range(processes)]
            await asyncio.sleep(max(0.0, start_at - time.monotonic()))
            before, own = cpu(), time.process_time()
            result = load.Round.merge(await asyncio.gather(*jobs))
            result.cpu["bench"] += time.process_time() - own      # this process, besides the workers
        after = cpu()
        result.cpu.update({name: after[name] - before[name] for name in after})
        return result

    for ctl in controllers:            # connections, imports, caches: not measured
        await one(ctl, WARMUP_RATE, WARMUP_CALLS / WARMUP_RATE)
    await asyncio.sleep(1.5)           # greenswitch sessions linger up to 1 s after their call
    before, started = cpu(), time.monotonic()
    await asyncio.sleep(IDLE_SECONDS)
    after, wall = cpu(), time.monotonic() - started
    idle.update({ctl.name: (after[ctl.name] - before[ctl.name]) / wall for ctl in controllers})
    for rate in args.rates:
        for ctl in controllers:
            result = await one(ctl, rate, args.seconds)
            rounds.append((ctl, result))
            print(f"  {ctl.name:<12} {rate:>6g} calls/s offered: {result.expected(ctl.expected):,} of "
                  f"{result.placed:,} ended as expected", flush=True)
            await asyncio.sleep(0.5)


def _configure(port: int, grpc_port: int, token: str) -> None:
    """The tenant, extension 2001 and the IVR, through the admin API; then wait for GetIvr."""
    from hibiki.common.rpc import token_metadata
    from hibiki.directory.v1 import directory_pb2, directory_pb2_grpc

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", headers=headers, timeout=10) as api:
        for path, body in (("/tenants", {"id": TENANT, "domain": f"{TENANT}.example.jp"}),
                           (f"/tenants/{TENANT}/users", {"username": "desk", "extension": load.DESK}),
                           (f"/tenants/{TENANT}/ivrs", IVR)):
            reply = api.post(path, json=body)
            if reply.status_code != 201:
                raise SetupError(f"directory admin API: POST {path} answered {reply.status_code}: {reply.text[:300]}")
    request = directory_pb2.GetIvrRequest(tenant=TENANT, ivr_id=IVR_ID)
    deadline, last = time.monotonic() + 15, ""
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        while time.monotonic() < deadline:
            try:
                stub.GetIvr(request, metadata=token_metadata(token), timeout=2)
                return
            except grpc.RpcError as exc:
                last = f"{exc.code().name}: {exc.details()}"
            time.sleep(0.05)
    raise SetupError(f"the directory's GetIvr did not return the bench IVR within 15 s ({last})")


def core_seconds() -> dict[str, float]:
    """Busy CPU seconds of every core so far, whoever used them (/proc/stat: user, nice,
    system, irq, softirq, steal), as ``core<N>``."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks = [int(f) for f in fields]
            out[f"core{name[3:]}"] = (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]) / CLOCK_TICKS
    return out


def _ms(values: list[float], p: float, width: int = 7) -> str:
    value = load.percentile_ms(values, p)
    return f"{'-' if value != value else f'{value:.1f}':>{width}}"


def _busy(r: load.Round, *names: str) -> float:
    """CPU time of those processes or cores over the round's wall time (1.0: one core)."""
    return sum(r.cpu.get(n, 0.0) for n in names) / r.wall_s if r.wall_s > 0 else 0.0


def _others(r: load.Round) -> float:
    """What processes other than the bench's used of the bench's cores (1.0: one core)."""
    ours = ("baseline", "callcontrol", "directory", "nats", "bench")
    cores = [n for n in r.cpu if n.startswith("core")]
    return max(0.0, _busy(r, *cores) - _busy(r, *ours))


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _report(args: argparse.Namespace, layout: Layout, rounds: list[tuple[Controller, load.Round]],
            idle: dict[str, float]) -> None:
    service_cores = len(layout.load | layout.services)
    print()
    print(f"callcontrol: IVR calls (greeting, key 1 -> transfer to extension {load.DESK}) from the FreeSWITCH "
          f"emulator, open loop, {args.seconds:g} s per rate and controller")
    print(layout.describe())
    print(f"{'':<29}{'rate':>5}{'offered':>9}{'done':>7}{'as':>9}{'':>6}{'setup ms':>14}{'event ms':>14}"
          f"{'controller':>19}{'load':>7}{'lag':>7}{'others':>8}")
    print(f"{'':<29}{'/s':>5}{'/s':>9}{'/s':>7}{'expected':>9}{'fail':>6}{'p50':>7}{'p99':>7}{'p50':>7}{'p99':>7}"
          f"{'busy':>8}{'ms/call':>11}{'busy':>7}{'p99':>7}{'busy':>8}")
    for ctl, r in rounds:
        ok = r.expected(ctl.expected)
        per_call = r.cpu.get(ctl.name, 0.0) / r.placed * 1e3 if r.placed else 0.0
        print(f"{ctl.label:<29}{r.rate:>5g}{r.offered_rate():>9.1f}{r.completed_rate():>7.1f}{ok / r.placed:>9.1%}"
              f"{r.placed - ok:>6}{_ms(r.setup_s, 50)}{_ms(r.setup_s, 99)}{_ms(r.event_s, 50)}{_ms(r.event_s, 99)}"
              f"{_busy(r, ctl.name):>8.0%}{per_call:>11.2f}"
              f"{_busy(r, 'bench', 'directory', 'nats') / service_cores:>7.0%}{_ms(r.lag_s, 99)}"
              f"{_others(r):>8.2f}")
    print("done/s: calls ended as expected per second (first to last such end); setup: from `socket` starting to the "
          "controller's first application (answer); event: from a CHANNEL_EXECUTE_COMPLETE the controller waits for "
          "(answer, play_and_get_digits with the key) to the next application it runs; controller busy: its "
          "process's CPU time / wall time, ms/call: its CPU time per call; load busy: emulator + directory + NATS "
          f"over their {service_cores} core{'s' if service_cores > 1 else ''}; lag: how late the emulator's event loop "
          "ran a 5 ms timer, in ms (high: the load side, not the controller, delays the calls and the figures); "
          "others: CPU the bench's cores gave to processes not its own (/proc/stat), in cores")
    for ctl, r in rounds:
        if ctl.name == "callcontrol":
            print(f"load side at {r.rate:g}/s with callcontrol, in cores: emulator {_busy(r, 'bench'):.2f}, "
                  f"directory {_busy(r, 'directory'):.2f}, NATS {_busy(r, 'nats'):.2f}")
    for ctl, r in rounds:
        if any(o != ctl.expected for o in r.outcomes):
            print(f"where calls ended, {ctl.name} at {r.rate:g}/s: "
                  + ", ".join(f"{o} {n:,}" for o, n in r.outcomes.most_common()))
        if r.offered_rate() < 0.98 * r.rate:
            print(f"note: {ctl.name} at {r.rate:g}/s: the load generator offered only {r.offered_rate():.1f} calls/s "
                  f"(late by up to {r.max_lag_s * 1e3:.0f} ms)")
    if any(_others(r) > OTHERS_LIMIT for _, r in rounds):
        print("warning: other processes used the bench's cores during some rounds (column others): those figures "
              "are disturbed; run again on a quiet machine")
    print(f"controllers idle (no calls, {IDLE_SECONDS:g} s): " + ", ".join(
        f"{name} {share:.1%} of a core" for name, share in idle.items()))
    _verdicts(rounds, service_cores)


def _load_limited(r: load.Round, service_cores: int) -> str:
    """Why this round says little about the controller, if it does: the load side was saturated
    or other processes took the bench's cores."""
    why = []
    busy, lag = _busy(r, "bench", "directory", "nats") / service_cores, load.percentile_ms(r.lag_s, 99)
    if busy >= LOAD_BUSY_LIMIT:
        why.append(f"load side {busy:.0%} busy")
    if lag >= LAG_LIMIT_MS:
        why.append(f"emulator lag p99 {lag:.0f} ms")
    if _others(r) > OTHERS_LIMIT:
        why.append(f"other processes took {_others(r):.2f} cores")
    return ", ".join(why)


def _verdicts(rounds: list[tuple[Controller, load.Round]], service_cores: int) -> None:
    ivr = [(c, r) for c, r in rounds if c.name == "callcontrol"]
    checked = [(c, r) for c, r in ivr if r.rate <= TARGET_RATE]
    if ivr:
        c, r = checked[-1] if checked else ivr[0]
        cost = r.cpu.get(c.name, 0.0) / r.placed if r.placed else 0.0
        print(f"controller CPU per IVR call at {r.rate:g}/s: {cost * 1e3:.2f} ms: {TARGET_RATE:g} new calls/s would keep "
              f"{cost * TARGET_RATE:.0%} of its core busy; it would run out near "
              f"{1 / cost if cost else float('inf'):,.0f} calls/s")
    rule = (f"controller not the bottleneck up to {TARGET_RATE:g} new calls/s on one core: >= {TARGET_SHARE:.0%} "
            f"as expected, controller < {TARGET_BUSY:.0%} of its core, event p99 < {TARGET_EVENT_P99_MS:g} ms "
            f"at every rate <= {TARGET_RATE:g}/s")
    if not checked:
        print(f"target ({rule}): not checked (no rate <= {TARGET_RATE:g}/s offered)")
        return
    failures, unclear = [], []
    for c, r in checked:
        share, busy, p99 = r.expected(c.expected) / r.placed, _busy(r, c.name), load.percentile_ms(r.event_s, 99)
        problems = ([f"{share:.1%} as expected"] if share < TARGET_SHARE else []) \
            + ([f"controller {busy:.0%} busy"] if busy >= TARGET_BUSY else []) \
            + ([f"event p99 {p99:.1f} ms" if p99 == p99 else "no event measured"]
               if not p99 < TARGET_EVENT_P99_MS else [])
        if not problems:
            continue
        limited = _load_limited(r, service_cores)
        misrouted = r.placed - r.expected(c.expected) - r.outcomes[load.UNFINISHED]
        if misrouted:
            problems.append("calls ended elsewhere: " + ", ".join(
                f"{o} {n:,}" for o, n in r.outcomes.most_common() if o not in (c.expected, load.UNFINISHED)))
        if limited and busy < TARGET_BUSY and not misrouted:
            unclear.append(f"at {r.rate:g}/s: {', '.join(problems)} while {limited}")
        else:
            failures.append(f"at {r.rate:g}/s: {', '.join(problems)}" + (f" (and {limited})" if limited else ""))
    top_c, top = checked[-1]
    reached = top.rate >= TARGET_RATE
    if failures:
        verdict, summary = "FAIL", "; ".join(failures + unclear)
    elif unclear:
        verdict = "INCONCLUSIVE"
        summary = ("; ".join(unclear) + ": the load side, not only the controller, set these figures; "
                   "more cores (the emulator spreads over them) or a quiet machine would tell")
    else:
        verdict = "PASS" if reached else f"PASS up to {top.rate:g}/s only"
        summary = (f"at {top.rate:g}/s: {top.expected(top_c.expected) / top.placed:.1%} as expected, controller "
                   f"{_busy(top, top_c.name):.0%} busy, event p99 {load.percentile_ms(top.event_s, 99):.1f} ms")
    if not reached:
        summary += f"; {TARGET_RATE:g}/s itself was not offered"
    print(f"target ({rule}): {verdict} ({summary})")
