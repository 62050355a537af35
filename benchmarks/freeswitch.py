"""``just bench freeswitch``: REGISTERs/s and call setups/s (extension to extension; DID -> IVR ->
queue -> agent) through a real FreeSWITCH 1.10 asking Hibiki, next to the same FreeSWITCH
answering the same requests from static XML, in one run.

What runs (loopback addresses of ``HIBIKI_FS_TEST_NET``, free ports, a temporary directory):

- the stack as ``hibiki up`` starts it and a real FreeSWITCH on the project's ``freeswitch/conf``
  asking its directory over mod_xml_curl (the real-switch tier's bench, ``tests/support/switch``);
- a tenant with ``--users`` users, each with one device, imported as CSV through the admin API:
  half of them call, the other half are called (registered with their contact on one answering
  sipp);
- a second FreeSWITCH on the same configuration whose ``directory`` and ``dialplan`` come from
  static XML files written from Hibiki's own answers: the same users with the same ``a1-hash``
  and variables, the same dialplan actions (``benchmarks/_static_xml.py``);
- for DID -> IVR -> queue -> agent, every called phone is also an agent (ACD HTTP API: a queue
  with no after-call work, the agents logged in and ready on their phones), an IVR whose key 1
  leads to the queue (greeting ``digits/1.wav``) and a DID to it; the static switch answers the
  DID itself: answer, the same ``play_and_get_digits``, a bridge to an agent's phone;
- sipp (``benchmarks/_sipp_load.py``) offering a fixed rate (``-r``) of REGISTERs (challenge and
  digest, every calling user in turn from an injection file), of calls from a calling user to
  a called one (challenge, digest, 200, ACK, ``--hold-ms``, BYE) and of carrier calls to the DID
  (from the carrier address both switches trust; 200, the key 1 as SIP INFO 0.5 s later, at least
  2 s more, BYE), stepping through ``--register-rates``, ``--call-rates`` and ``--did-rates``, each
  step ``--seconds`` long, Hibiki's switch and the static one in turn at each rate (so load from
  elsewhere on the machine hits both alike).

A step is kept up when under 1 % of its transactions failed (a final answer other than the
one expected, or none within 8 s), every call that succeeded was answered by the called or
agent's phone, and the rate offered was reached. Per kind, the figure of a
switch is its highest rate of successful transactions over the steps it kept up; stepping stops
at the first step neither switch kept up, then ``--refine`` bisection steps between each switch's
last rate kept up and its first one not narrow its ceiling down (to 1/8 of that gap by default). The target: Hibiki's figure >= 90 % of the static
one (the services are never the bottleneck of one switch). Both switches get
``fsctl sps --sps`` first: the configuration's ``sessions-per-second`` (50) would otherwise cap
both alike and hide the difference. It measures and prints; it exits 0 whether or not the
target is met, 2 when it cannot run (no FreeSWITCH or sipp: ``../shared/freeswitch/install.sh``).
"""

from __future__ import annotations

from urllib.parse import quote

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import _sipp_load as load
from benchmarks import _static_xml
from benchmarks._switch_tenant import DID, GREETING, TENANT, Phones, provision
from benchmarks._processes import (Child, SetupError, pin_tree, run_in_workdir, tree_cpu_by_name,
                                  tree_cpu_seconds)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.switch import sipp  # noqa: E402
from support.switch.bench import SwitchBench  # noqa: E402
from support.switch.freeswitch import FREESWITCH, FreeSwitch  # noqa: E402
from support.switch.net import pick_bench  # noqa: E402

TARGET = 0.9
LAYOUTS = ("shared", "split")
SWITCH_CORE, STACK_CORE = {0}, {1}
RTP_PORTS = 4000   # per switch: 2 ports per leg, 2 legs per call


def _rates(text: str) -> list[float]:
    rates = [float(r) for r in text.split(",") if r.strip()]
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated positive rates, e.g. 50,100,200")
    return sorted(rates)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench freeswitch", description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=200, help="users of the tenant, half calling, half called (default 200)")
    p.add_argument("--seconds", type=float, default=5.0, help="seconds of load per step (default 5)")
    p.add_argument("--register-rates", type=_rates, default=_rates("50,100,200,400,800"),
                   help="REGISTERs offered per second, one step each (default 50,100,200,400,800)")
    p.add_argument("--call-rates", type=_rates, default=_rates("10,20,40,80,160"),
                   help="calls offered per second, one step each (default 10,20,40,80,160)")
    p.add_argument("--did-rates", type=_rates, default=_rates("5,10,20,40"),
                   help="DID -> IVR -> queue -> agent calls offered per second (default 5,10,20,40)")
    p.add_argument("--refine", type=int, default=3,
                   help="bisection steps between a switch's last rate kept up and its first one not (default 3)")
    p.add_argument("--hold-ms", type=int, default=1000, help="how long each call lasts once answered (default 1000)")
    p.add_argument("--layout", choices=LAYOUTS, default="shared",
                   help="shared (default): every process on both cores as the OS schedules them; split: the "
                        "switch under test, sipp and this driver on core 0, the stack (services, NATS) on core 1 "
                        "(the services on hosts of their own, as in production)")
    p.add_argument("--sps", type=int, default=1000,
                   help="sessions-per-second set on both switches (fsctl sps; 0 keeps the configuration's)")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.users < 2 or args.seconds <= 0 or args.hold_ms < 0 or args.refine < 0:
        print("bench freeswitch: error: --users >= 2, --seconds > 0, --hold-ms >= 0, --refine >= 0", file=sys.stderr)
        return 2
    if args.layout == "split" and not {0, 1} <= os.sched_getaffinity(0):
        print("bench freeswitch: error: --layout split needs cores 0 and 1", file=sys.stderr)
        return 2
    if not FREESWITCH.exists() or not sipp.available():
        print(f"bench freeswitch: error: needs a real FreeSWITCH ({FREESWITCH}) and sipp: run "
              "../shared/freeswitch/install.sh as root", file=sys.stderr)
        return 2
    return run_in_workdir("freeswitch", lambda work, children: _run(args, work, children))


@dataclass(frozen=True)
class Measured:
    """One step on one switch: sipp's figures, the calls the called phones answered, and the
    CPU share (of one core) FreeSWITCH and the stack (``hibiki up``: services and NATS) used."""

    step: load.Step
    answered: int | None
    fs_cpu: float
    stack_cpu: float
    fsapi: int            # requests the directory answered on /fsapi during the step
    fsapi_seconds: float  # the time it took answering them (its own histogram's sum)

    @property
    def kept_up(self) -> bool:
        return self.step.kept_up and (self.answered is None or self.answered >= self.step.successful)


@dataclass
class Switch:
    """One FreeSWITCH under load, its answering sipp and its steps."""

    name: str
    fs: FreeSwitch
    answerer: load.Answerer | None = None
    steps: dict[str, list[Measured]] = field(default_factory=dict)

    def best(self, kind: str) -> float:
        return max((m.step.rate for m in self.steps.get(kind, []) if m.kept_up), default=0.0)


def _run(args: argparse.Namespace, work: Path, children: list[Child]) -> None:
    started = time.monotonic()
    bench = SwitchBench(work / "hibiki")
    _widen_rtp(bench.fs)
    static_fs: FreeSwitch | None = None
    switches: list[Switch] = []
    try:
        try:
            bench.start()
        except RuntimeError as exc:
            raise SetupError(str(exc).splitlines()[0]) from None
        phones = provision(bench, args.users)
        domain = bench.domain(TENANT)
        print(f"hibiki up and FreeSWITCH on {bench.fs.sip} in {bench.startup_seconds:.1f} s; "
              f"{args.users} users imported", flush=True)
        try:
            fs_env = bench.stack.freeswitch_env()     # /fsapi answers only FreeSWITCH's credentials
            credentials = (f"{quote(fs_env['HIBIKI_DIRECTORY_FSAPI_USER'], safe='')}:"
                           f"{quote(fs_env['HIBIKI_DIRECTORY_FSAPI_PASSWORD'], safe='')}@")
            fsapi = bench.stack.directory_url.replace("http://", f"http://{credentials}", 1) + "/fsapi"
            conf = _static_xml.write(work / "static-conf", fsapi, domain,
                                     phones.calling + phones.called, [p.extension for p in phones.called],
                                     [_static_xml.did_context(DID, GREETING, phones.called[0].extension, domain)])
        except RuntimeError as exc:
            raise SetupError(str(exc)) from None
        net = pick_bench()
        while net.base == bench.net.base:
            net = pick_bench()
        static_fs = FreeSwitch(work / "static", net, conf=conf)
        _widen_rtp(static_fs)
        try:
            static_fs.start(bench.freeswitch_env())
        except RuntimeError as exc:
            raise SetupError(f"the static FreeSWITCH: {exc}") from None
        switches += [Switch("hibiki", bench.fs), Switch("static", static_fs)]
        for sw in switches:
            if args.sps:
                sw.fs.api(f"fsctl sps {args.sps}")
            _register_called(sw, work, domain, phones)
        print(f"static FreeSWITCH on {static_fs.sip}; called phones registered on both "
              f"({time.monotonic() - started:.0f} s)", flush=True)
        if args.layout == "split":
            _split(bench, switches)
        _measure(args, switches, work, domain, phones, bench)
        _report(args, switches, phones)
    finally:
        for sw in switches:
            if sw.answerer is not None:
                sw.answerer.stop()
        if static_fs is not None:
            static_fs.stop()
        bench.stop()


def _split(bench: SwitchBench, switches: list[Switch]) -> None:
    """``--layout split``: both switches, their answering sipps and this driver (so every sipp it
    starts) on core 0; the stack (``hibiki up``: services and NATS, restarts included) on core 1."""
    assert bench.stack.process is not None
    stack = pin_tree(bench.stack.process.pid, STACK_CORE)
    switch = sum(pin_tree(sw.fs.process.pid, SWITCH_CORE) for sw in switches if sw.fs.process is not None)
    os.sched_setaffinity(0, SWITCH_CORE)
    pin_tree(os.getpid(), SWITCH_CORE)
    if bench.stack.process.pid == os.getpid():
        raise SetupError("the stack runs in this process: cannot split it from the switch")
    print(f"layout split: switches, sipp and the driver on core {min(SWITCH_CORE)} ({switch} switch threads), "
          f"the stack on core {min(STACK_CORE)} ({stack} threads)", flush=True)


def _widen_rtp(fs: FreeSwitch) -> None:
    start = int(fs.own_env["HIBIKI_FS_RTP_START_PORT"])
    fs.own_env["HIBIKI_FS_RTP_END_PORT"] = str(start + RTP_PORTS)


def _register_called(sw: Switch, work: Path, domain: str, phones: Phones) -> None:
    """The called phones registered with the answering sipp as their contact (each once)."""
    root = work / "sipp" / sw.name
    sw.answerer = load.Answerer(root, sw.fs.bench.phone(3))
    inf = load.injection(root / "called.csv", [(p.extension, p.extension, p.password) for p in phones.called])
    count = len(phones.called)
    step = load.run(root, "register-called", load.register_scenario(domain, sw.answerer.contact), inf, sw.fs.sip,
                    sw.fs.bench.phone(1), min(50.0, count), count)
    if step.successful != count:
        raise SetupError(f"{sw.name}: {step.successful} of {count} called phones registered "
                         f"(sipp errors in {root / 'register-called.errors.log'})")


def _measure(args: argparse.Namespace, switches: list[Switch], work: Path, domain: str, phones: Phones,
             bench: SwitchBench) -> None:
    pairs = [(p.extension, phones.called[i % len(phones.called)].extension, p.password)
             for i, p in enumerate(phones.calling)]
    callers = [(f"0312{i:06d}", DID, "-") for i in range(len(phones.calling))]
    did_hold = max(args.hold_ms, 2000)   # the agent answers well before the caller hangs up
    kinds: list[tuple[str, list[float], Callable[[Switch], str], int, list[tuple[str, str, str]], int]] = [
        ("REGISTER", args.register_rates, lambda sw: load.register_scenario(domain), 0, pairs, 2),
        ("call", args.call_rates, lambda sw: load.call_scenario(domain, args.hold_ms), args.hold_ms, pairs, 2),
        ("DID", args.did_rates, lambda sw: load.carrier_scenario(sw.fs.sip, 500, did_hold), did_hold + 500,
         callers, 0)]   # (kind, rates, scenario, hold, injection rows, phone address number or 0: the carrier)
    assert bench.stack.process is not None
    stack_pid = bench.stack.process.pid
    for kind, rates, scenario, hold_ms, rows, phone in kinds:
        def step(sw: Switch, rate: float) -> bool:
            local_ip = sw.fs.bench.phone(phone) if phone else bench.net.carrier   # the carrier both trust
            measured = _step(args, sw, work, kind, scenario(sw), rows, rate, hold_ms, stack_pid, bench, local_ip)
            sw.steps.setdefault(kind, []).append(measured)
            return measured.kept_up

        going, failed_at = list(switches), {}
        for rate in rates:
            for sw in going:
                if not step(sw, rate):
                    failed_at[sw.name] = rate
            going = [sw for sw in going if sw.name not in failed_at]
            if not going:
                break
        for _ in range(args.refine):   # bisect between the last rate kept up and the first one not
            for sw in switches:
                kept = [m.step.offered_rate for m in sw.steps[kind] if m.kept_up]
                if sw.name in failed_at and kept:
                    middle = round((max(kept) + failed_at[sw.name]) / 2, 1)
                    if middle not in (max(kept), failed_at[sw.name]) and not step(sw, middle):
                        failed_at[sw.name] = middle


def _fsapi_totals(bench: SwitchBench) -> tuple[int, float]:
    """(requests answered, seconds spent answering) on ``/fsapi`` so far, from the directory's ``/metrics``."""
    text = bench.directory.http.get("/metrics").text
    requests = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("hibiki_fsapi_requests_total{"))
    seconds = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("hibiki_fsapi_seconds_sum"))
    return int(requests), seconds


def _step(args: argparse.Namespace, sw: Switch, work: Path, kind: str, scenario: str,
          pairs: list[tuple[str, str, str]], rate: float, hold_ms: int, stack_pid: int,
          bench: SwitchBench, local_ip: str) -> Measured:
    assert sw.fs.process is not None and sw.answerer is not None
    root = work / "sipp" / sw.name
    inf = load.injection(root / f"{kind}.csv", pairs)
    answered, fsapi = sw.answerer.answered(), _fsapi_totals(bench)
    by_name = tree_cpu_by_name(stack_pid)
    fs_cpu, stack_cpu, wall = tree_cpu_seconds(sw.fs.process.pid), tree_cpu_seconds(stack_pid), time.monotonic()
    step = load.run(root, f"{kind}-{rate:g}", scenario, inf, sw.fs.sip, local_ip, rate,
                    max(1, round(rate * args.seconds)), hold_ms)
    wall = time.monotonic() - wall
    fs_cpu = (tree_cpu_seconds(sw.fs.process.pid) - fs_cpu) / wall
    stack_cpu = (tree_cpu_seconds(stack_pid) - stack_cpu) / wall
    services = {name: (cpu - by_name.get(name, 0.0)) / wall for name, cpu in tree_cpu_by_name(stack_pid).items()}
    _settle(sw.fs)
    _quiet(bench)
    if kind != "REGISTER":
        time.sleep(1.2)   # the answering sipp writes its statistics every second
    requests, seconds = _fsapi_totals(bench)
    measured = Measured(step, sw.answerer.answered() - answered if kind != "REGISTER" else None, fs_cpu, stack_cpu,
                        requests - fsapi[0], seconds - fsapi[1])
    print(f"{kind} {sw.name} {rate:g}/s: {step.successful:,} ok, {step.failed:,} failed, "
          f"{step.rate:,.1f}/s{'' if measured.kept_up else ' (not kept up)'}; fs cpu {fs_cpu:.0%}, stack cpu "
          f"{stack_cpu:.0%} ({', '.join(f'{n} {c:.0%}' for n, c in sorted(services.items(), key=lambda i: -i[1]) if c >= 0.005)})"
          f"; load {os.getloadavg()[0]:.1f}", flush=True)
    return measured


def _quiet(bench: SwitchBench, timeout: float = 30.0) -> None:
    """Wait until Hibiki's switch has stopped asking /fsapi (work queued in FreeSWITCH during a
    step, such as voicemail's message counts after REGISTERs, would load the next step)."""
    deadline, last = time.monotonic() + timeout, _fsapi_totals(bench)[0]
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _fsapi_totals(bench)[0]
        if now == last:
            return
        last = now


def _settle(fs: FreeSwitch, timeout: float = 20.0) -> None:
    """Wait until the switch has no channel left from the step before."""
    deadline = time.monotonic() + timeout
    while fs.channel_count() > 0 and time.monotonic() < deadline:
        time.sleep(0.2)


def _report(args: argparse.Namespace, switches: list[Switch], phones: Phones) -> None:
    print()
    print(f"bench freeswitch: FreeSWITCH 1.10 x 2 (Hibiki's over mod_xml_curl; static XML), {len(phones.calling)} "
          f"calling and {len(phones.called)} called users, {args.seconds:g} s per step, calls held "
          f"{args.hold_ms} ms, sessions-per-second {args.sps or 'as configured'}, load average at the end "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("layout: " + ("shared: switches, sipp and the stack on the same cores (the services compete with the "
                        "switch under test)" if args.layout == "shared" else
                        f"split: the switch under test and sipp on core {min(SWITCH_CORE)} (the static switch "
                        f"the same core), the stack on core {min(STACK_CORE)} (services on other hosts, as in "
                        "production)"))
    print(f"{'':<10}{'switch':<8}{'offered/s':>10}{'sent':>8}{'ok':>8}{'failed':>8}{'answered':>9}{'ok/s':>9}"
          f"{'200 ms':>9}{'fs cpu':>8}{'stack cpu':>10}{'fsapi/ok':>9}{'fsapi ms':>9}  kept up")
    for kind in ("REGISTER", "call", "DID"):
        for sw in switches:
            for m in sorted(sw.steps.get(kind, []), key=lambda m: m.step.offered_rate):
                s = m.step
                print(f"{kind:<10}{sw.name:<8}{s.offered_rate:>10g}{s.offered:>8,}{s.successful:>8,}{s.failed:>8,}"
                      f"{'' if m.answered is None else f'{m.answered:,}':>9}{s.rate:>9,.1f}{s.response_ms:>9.1f}"
                      f"{m.fs_cpu:>8.0%}{m.stack_cpu:>10.0%}{m.fsapi / max(s.successful, 1):>9.1f}"
                      f"{m.fsapi_seconds / m.fsapi * 1000 if m.fsapi else 0:>9.2f}  {'yes' if m.kept_up else 'no'}")
    print("(ok/s: successful transactions per second over the step; answered: calls the called phones' sipp "
          "answered and ended; 200 ms: mean time from the request with the digest to its 200; cpu: share of one "
          "core, the stack being hibiki up's services and NATS, idle on the static switch's steps; fsapi/ok: /fsapi "
          "requests per successful transaction, 0 on the static switch; fsapi ms: the directory's mean time answering "
          "one, from its /metrics)")
    hibiki, static = switches
    for kind, label in (("REGISTER", "REGISTERs/s"), ("call", "call setups/s (extension to extension)"),
                        ("DID", "call setups/s (DID -> IVR -> queue -> agent)")):
        h, b = hibiki.best(kind), static.best(kind)
        ratio = h / b if b else 0.0
        ceiling = all(m.kept_up for sw in switches for m in sw.steps.get(kind, []))
        note = " (both kept up with every rate offered: the ceiling is above it, raise the rates)" if ceiling else ""
        verdict = "PASS" if b and ratio >= TARGET else "FAIL"
        print(f"{label}: hibiki {h:,.1f}, static XML {b:,.1f}, ratio {ratio:.0%}; target >= {TARGET:.0%}: "
              f"{verdict} (layout {args.layout}){note}")
