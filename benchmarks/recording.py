"""``./dev bench recording``: how fast recordings are kept, how much room they take, how fast they are found.

What runs (one process, in a temporary directory):

1. ``--files`` spool files of ``--seconds`` each (stereo 8 kHz 16-bit WAV as FreeSWITCH writes them;
   two parties taking turns, pink noise shaped like speech, made by ffmpeg before the clock starts).
2. The recording service's own steps on each, one after the other (one core): check the WAV
   (``media.probe``), compress (``media.transcode``: Opus in Ogg, 24 kbit/s, through pydub), encrypt
   (``envelope.seal`` with the tenant's key from the ``KeyStore``), store (``LocalBlobs.put``), read back
   and verify (SHA-256 and decryption), as ``pipeline.Pipeline`` does them. Next to it, in the same
   run on the same files: plain ffmpeg compressing each file with the same encoder settings. Both are
   measured in CPU seconds (this process and its ffmpeg children), so the rate is per core.
   Targets: the pipeline keeps >= 80 % of plain ffmpeg's rate; the busiest platform's peak hour
   (100 tenants x 120,000 recordings a year: 12,000 four-minute recordings an hour at the peak, from
   250 working days x 8 h x 2 for the peak) is kept up with inside the recording HPA's bound
   (deploy/k8s: 8 replicas x 2 CPUs = 16 cores).
3. Storage per recorded hour: the stored (encrypted) bytes over the recorded hours; target <= 15 MB
   (Opus at 24 kbit/s is 10.8 MB an hour before the container and the envelope).
4. Search: the index (``hibiki.recordings`` and ``hibiki.dispositions``, the service's migrations)
   filled by ClickHouse's own generators (``INSERT ... SELECT FROM numbers()``, no Python loop) with
   ``--tenants`` x ``--per-tenant`` recordings spread over three years (default 100 x 360,000 = 36
   million rows: 120,000 a year per tenant), a disposition for each; merged (OPTIMIZE FINAL, the
   steady state of an old index). Then the API's own search (``recordings.search``) with the filters
   the page offers, on ``--repeat`` tenants each: target p95 < 200 ms.

It prints the figures and the targets with PASS/FAIL; it exits 0 whether or not a target is met, 2
when it cannot run. Short run while developing: ``--files 3 --seconds 20 --tenants 10 --per-tenant 20000``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

YEARS_MS = 3 * 365 * 86_400_000
PEAK_PER_HOUR = 100 * 120_000 / (250 * 8) * 2          # 12,000 recordings in the busiest hour
HPA_CORES = 8 * 2                                       # deploy/k8s/base/recording: maxReplicas x CPU limit
QUEUES = ("juminka", "zeimu", "kokuho", "fukushi", "kosodate")
CASES = ("inquiry", "complaint", "procedure", "escalated")


@dataclass
class Verdicts:
    lines: list[str] = field(default_factory=list)

    def check(self, name: str, value: str, target: str, ok: bool | None) -> None:
        verdict = "NOT MEASURED" if ok is None else ("PASS" if ok else "FAIL")
        self.lines.append(f"  {name:<52} {value:<16} {target:<16} {verdict}")


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measured(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process and its children, result)."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = work()
    return time.perf_counter() - wall, cpu_seconds() - cpu, result


def make_spool_files(ffmpeg: str, where: Path, files: int, seconds: float) -> list[Path]:
    """Two parties taking turns (4 s each, the other quiet), pink noise: what a call looks like to a codec."""
    where.mkdir(parents=True, exist_ok=True)
    first = f"anoisesrc=c=pink:a=0.3:r=8000:d={seconds}:s=1,volume='if(lt(mod(t,8),4),1,0.03)':eval=frame"
    second = f"anoisesrc=c=pink:a=0.3:r=8000:d={seconds}:s=2,volume='if(lt(mod(t,8),4),0.03,1)':eval=frame"
    template = where / "template.wav"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", first, "-f", "lavfi", "-i", second,
                    "-filter_complex", "[0:a][1:a]amerge=inputs=2", "-ac", "2", "-ar", "8000", "-c:a", "pcm_s16le",
                    str(template)], check=True)
    paths = []
    for n in range(files):
        path = where / f"{uuid.uuid4()}.wav"
        shutil.copyfile(template, path)
        paths.append(path)
    template.unlink()
    return paths


def keep(paths: list[Path], base: Path) -> tuple[int, float]:
    """The service's steps on each spool file; (stored bytes, recorded seconds)."""
    import hashlib

    from hibiki.recording.domain import envelope, media
    from hibiki.recording.storage.blobs import LocalBlobs
    from hibiki.recording.storage.keys import KeyStore

    keys = KeyStore(base / "keys", os.urandom(32))
    blobs = LocalBlobs(base / "store")
    work = base / "work"
    work.mkdir(parents=True, exist_ok=True)
    stored, recorded = 0, 0.0
    for path in paths:
        rid, tenant = path.stem, "bench"
        probe = media.probe(path)
        compressed = work / f"{rid}.ogg"
        media.transcode(path, compressed, "opus", "24k")
        audio = compressed.read_bytes()
        key_id, key = keys.current(tenant)
        aad = envelope.associated(tenant, rid)
        blob = envelope.seal(audio, key_id, key, aad)
        object_key = f"{tenant}/2026/12/07/{rid}.ogg.hbr"
        blobs.put(object_key, blob)
        back = blobs.get(object_key)
        assert back is not None and hashlib.sha256(back).digest() == hashlib.sha256(blob).digest()
        assert envelope.open_sealed(back, lambda k: keys.key(tenant, k), aad) == audio
        compressed.unlink()
        stored += len(blob)
        recorded += probe.duration_ms / 1000
    return stored, recorded


def plain_ffmpeg(ffmpeg: str, paths: list[Path], out: Path) -> int:
    from hibiki.recording.domain.media import ENCODER_OPTIONS

    out.mkdir(parents=True, exist_ok=True)
    size = 0
    for path in paths:
        target = out / f"{path.stem}.ogg"
        subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(path), "-c:a", "libopus", "-b:a", "24k",
                        *ENCODER_OPTIONS["opus"], str(target)], check=True)
        size += target.stat().st_size
        target.unlink()
    return size


def fill_index(store: Any, tenants: int, per_tenant: int, end: datetime) -> float:
    """``tenants`` x ``per_tenant`` rows over the three years before ``end``, made inside ClickHouse."""
    rows = tenants * per_tenant
    slot = YEARS_MS // per_tenant
    start = (end - timedelta(days=3 * 365)).strftime("%Y-%m-%d %H:%M:%S")
    queues = "[" + ",".join(f"'{q}'" for q in QUEUES) + "]"
    cases = "[" + ",".join(f"'{c}'" for c in CASES) + "]"
    t0 = time.perf_counter()
    store.execute(f"""INSERT INTO hibiki.recordings SELECT
        concat('tenant', toString(number % {tenants})) AS tenant, toString(generateUUIDv4(number)) AS recording_id,
        1 AS version, toString(generateUUIDv4(number + 1)) AS call_id, call_id AS leg_uuid, 1 AS part,
        addMilliseconds(toDateTime64('{start}', 3, 'UTC'), intDiv(number, {tenants}) * {slot}
                        + cityHash64(number, 0) % {slot}) AS start_time,
        addMilliseconds(start_time, duration_ms) AS end_time, 30000 + cityHash64(number, 4) % 600000 AS duration_ms,
        2 AS channels, 'inbound' AS direction,
        concat('0', toString(100000000 + cityHash64(number, 3) % 900000000)) AS caller_number,
        toString(2001 + cityHash64(number, 5) % 200) AS callee_number,
        concat('0462', toString(510000 + number % {tenants})) AS did,
        {queues}[cityHash64(number, 2) % {len(QUEUES)} + 1] AS queue_id,
        concat('agent-', toString(cityHash64(number, 1) % 150)) AS agent_id, callee_number AS user_id,
        'policy' AS reason, 'opus' AS codec, intDiv(duration_ms * 3, 1) + 200 AS size_bytes,
        lower(hex(SHA256(toString(number)))) AS sha256,
        concat(tenant, '/', formatDateTime(start_time, '%Y/%m/%d'), '/', recording_id, '.ogg.hbr') AS object_key,
        'k20261207000000-00000000' AS key_id, end_time AS stored_at, addDays(start_time, 1095) AS delete_after
        FROM numbers({rows})""")
    store.execute(f"""INSERT INTO hibiki.dispositions SELECT tenant, call_id,
        {cases}[cityHash64(call_id) % {len(CASES)} + 1], agent_id, end_time FROM hibiki.recordings""")
    store.execute("OPTIMIZE TABLE hibiki.recordings FINAL")
    store.execute("OPTIMIZE TABLE hibiki.dispositions FINAL")
    return time.perf_counter() - t0


def searches(store: Any, tenants: int, per_tenant: int, repeat: int, end: datetime) -> dict[str, list[float]]:
    from hibiki.recording.index import recordings

    times: dict[str, list[float]] = {}
    for n in range(repeat):
        tenant = f"tenant{(n * 37) % tenants}"
        found = store.query("SELECT caller_number, agent_id FROM hibiki.recordings WHERE tenant = %(t)s "
                            "ORDER BY start_time DESC LIMIT 1 OFFSET %(skip)s", {"t": tenant, "skip": min(5000, per_tenant // 2)})
        number, agent = found[0] if found else ("0312345678", "agent-1")
        cases = {
            "last 7 days": recordings.Query(tenant, end - timedelta(days=7), end),
            "agent, 3 years": recordings.Query(tenant, agent_id=str(agent)),
            "number, 3 years": recordings.Query(tenant, number=str(number)),
            "queue, a month": recordings.Query(tenant, end - timedelta(days=60), end - timedelta(days=30),
                                               queue_id=QUEUES[n % len(QUEUES)]),
            "disposition, a year": recordings.Query(tenant, end - timedelta(days=365), end, disposition=CASES[1]),
            "agent + queue + a day, 2 years ago": recordings.Query(
                tenant, end - timedelta(days=731), end - timedelta(days=730), agent_id=str(agent), queue_id=QUEUES[0]),
        }
        for name, query in cases.items():
            t0 = time.perf_counter()
            rows = recordings.search(store, query)
            times.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
            if name == "number, 3 years":
                assert any(r.recording.caller_number == number for r in rows), "the number's recording is found"
    return times


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench recording", description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=12, help="spool files kept (default 12)")
    parser.add_argument("--seconds", type=float, default=240.0, help="length of each (default 240: a 4-minute call)")
    parser.add_argument("--tenants", type=int, default=100, help="tenants in the index (default 100)")
    parser.add_argument("--per-tenant", type=int, default=360_000,
                        help="recordings per tenant over three years (default 360,000: 120,000 a year)")
    parser.add_argument("--repeat", type=int, default=5, help="tenants each search runs on (default 5)")
    parser.add_argument("--dir", type=Path, default=None, help="where the files and the index go (default: temporary)")
    args = parser.parse_args(list(argv))
    if min(args.files, args.tenants, args.per_tenant, args.repeat) < 1 or args.seconds < 1:
        print("bench recording: --files, --tenants, --per-tenant, --repeat >= 1 and --seconds >= 1", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="hibiki-bench-recording-", dir=args.dir))
    try:
        return _run(args, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run(args: argparse.Namespace, base: Path) -> int:
    import warnings

    import imageio_ffmpeg  # type: ignore[import-untyped]

    warnings.filterwarnings("ignore", "Couldn't find ffmpeg", RuntimeWarning)   # pydub, before media sets it

    from hibiki.common.logging import configure
    from hibiki.recording.index.chdb_store import ChdbStore

    configure("bench-recording", "warning")
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    free = shutil.disk_usage(base).free
    print(f"recording bench in {base} ({free / 2**30:.0f} GiB free), {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} (other work on the machine slows every figure)")
    verdicts = Verdicts()

    paths = make_spool_files(ffmpeg, base / "spool", args.files, args.seconds)
    hours = args.files * args.seconds / 3600
    print(f"spool: {args.files} files x {args.seconds:.0f} s (stereo 8 kHz WAV, {paths[0].stat().st_size / 1e6:.1f} MB "
          f"each), {hours:.2f} recorded hours")
    ff_wall, ff_cpu, ff_bytes = measured(lambda: plain_ffmpeg(ffmpeg, paths, base / "ffmpeg"))
    wall, cpu, (stored, recorded) = measured(lambda: keep(paths, base))
    pipeline_rate, ffmpeg_rate = args.files / cpu, args.files / ff_cpu
    print(f"plain ffmpeg:   {args.files} files in {ff_wall:.2f} s wall, {ff_cpu:.2f} CPU s -> "
          f"{ffmpeg_rate:.2f} recordings/s per core ({args.seconds * ffmpeg_rate:,.0f} recorded s per CPU s)")
    print(f"recording path: {args.files} files in {wall:.2f} s wall, {cpu:.2f} CPU s -> "
          f"{pipeline_rate:.2f} recordings/s per core ({args.seconds * pipeline_rate:,.0f} recorded s per CPU s; "
          f"check, transcode through pydub, AES-GCM, store, read back, verify)")
    ratio = pipeline_rate / ffmpeg_rate
    verdicts.check("keeping: the recording path vs plain ffmpeg, per core", f"{ratio:.0%}", ">= 80 %", ratio >= 0.8)
    per_peak_core = pipeline_rate * 3600 * args.seconds / 240          # 4-minute calls (exact at --seconds 240)
    cores = PEAK_PER_HOUR / per_peak_core
    verdicts.check(f"cores for the peak hour ({PEAK_PER_HOUR:,.0f} 4-minute recordings)", f"{cores:.2f} cores",
                   f"<= {HPA_CORES} cores", cores <= HPA_CORES)
    mb_per_hour = stored / 1e6 / (recorded / 3600)
    print(f"storage: {stored / 1e6:.2f} MB stored for {recorded / 3600:.2f} h -> {mb_per_hour:.2f} MB per recorded "
          f"hour (plain ffmpeg's Ogg: {ff_bytes / 1e6 / (recorded / 3600):.2f} MB/h); the 100-tenant platform's "
          f"3 years of 4-minute calls: {36e6 * 4 / 60 * mb_per_hour / 1e6:.1f} TB")
    verdicts.check("storage per recorded hour", f"{mb_per_hour:.2f} MB", "<= 15 MB", mb_per_hour <= 15)
    shutil.rmtree(base / "spool", ignore_errors=True)

    store = ChdbStore(base / "index")
    try:
        store.migrate()
        end = datetime.now(UTC).replace(microsecond=0)
        rows = args.tenants * args.per_tenant
        fill_s = fill_index(store, args.tenants, args.per_tenant, end)
        size = store.query("SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = 'hibiki' "
                           "AND table = 'recordings'")[0][0]
        print(f"index: {rows:,} recordings ({args.tenants} tenants x {args.per_tenant:,} over 3 years) and their "
              f"dispositions made by ClickHouse in {fill_s:.1f} s, merged; {int(size) / 2**30:.2f} GiB on disk")
        searches(store, args.tenants, args.per_tenant, 1, end)         # warm the caches once
        times = searches(store, args.tenants, args.per_tenant, args.repeat, end)
    finally:
        store.close()
    every = sorted(t for ts in times.values() for t in ts)
    for name, ts in times.items():
        print(f"  search {name:<36} median {statistics.median(ts):7.1f} ms, max {max(ts):7.1f} ms")
    p95 = every[min(len(every) - 1, int(len(every) * 0.95))]
    verdicts.check(f"search over {rows:,} recordings, p95 of {len(every)}", f"{p95:.0f} ms", "< 200 ms", p95 < 200)
    print("targets:")
    print("\n".join(verdicts.lines))
    return 0
