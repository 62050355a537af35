"""The tenant ``bench freeswitch`` measures, provisioned through the public APIs of the stack
``hibiki up`` runs: users and devices as CSV imports (directory), a queue with its agents logged
in (ACD), an IVR leading to it and a DID to the IVR (directory)."""

from __future__ import annotations

import csv
import io
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks._processes import SetupError
from benchmarks._static_xml import Phone

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.switch.bench import SwitchBench  # noqa: E402

TENANT = "bench"
DID = "0424910000"
GREETING = "digits/1.wav"   # a short prompt of Hibiki's sounds, the same file on both switches
FIRST_EXTENSION = 2001


@dataclass(frozen=True)
class Phones:
    calling: list[Phone]
    called: list[Phone]


def provision(bench: SwitchBench, users: int) -> Phones:
    """The tenant, its users and one device each (SIP username = extension), as CSV imports; half
    of them call, the other half are called and serve the DID's queue as agents."""
    bench.tenant(TENANT)
    phones = [Phone(str(FIRST_EXTENSION + i), secrets.token_urlsafe(12)) for i in range(users)]
    _import(bench, "users", [["username", "extension"]] + [[f"u{p.extension}", p.extension] for p in phones])
    _import(bench, "devices", [["user", "sip_username", "password", "kind"]]
            + [[f"u{p.extension}", p.extension, p.password, "desk_phone"] for p in phones])
    half = users // 2
    made = Phones(phones[:half], phones[half:])
    _provision_did(bench, made)
    return made


def _provision_did(bench: SwitchBench, phones: Phones) -> None:
    """A queue served by every called phone's agent (logged in, ready, no after-call work), an IVR
    whose key 1 leads to it, and a DID to the IVR."""
    base = f"/api/v1/tenants/{TENANT}"
    bench.acd.put(f"{base}/queues/bench", {"strategy": "longest_idle", "wrap_up_limit_seconds": 0})
    for phone in phones.called:
        bench.acd.put(f"{base}/agents/a{phone.extension}", {"skills": {}, "queues": ["bench"]})
        bench.acd.post(f"{base}/agents/a{phone.extension}/login", {"device": phone.extension, "ready": True})
    bench.directory.post(f"{base}/ivrs", {"id": "bench", "name": "bench", "root_menu": "top", "menus": [
        {"id": "top", "greeting": {"sound": GREETING}, "choices": {"1": {"queue": {"queue_id": "bench"}}}}]})
    bench.directory.post(f"{base}/dids", {"number": DID, "target_kind": "ivr", "target": "bench"})


def _import(bench: SwitchBench, resource: str, rows: list[list[str]]) -> None:
    body = io.StringIO()
    csv.writer(body, lineterminator="\r\n").writerows(rows)
    mark = bench.events.mark()
    reply = bench.directory.http.post(f"/api/v1/tenants/{TENANT}/{resource}/import",
                                      content=body.getvalue().encode(), headers={"Content-Type": "text/csv"},
                                      timeout=120)
    if reply.status_code != 200 or not reply.json().get("applied"):
        raise SetupError(f"{resource} import: {reply.status_code} {reply.text[:300]}")
    bench.events.wait(f"hibiki.{TENANT}.config.applied", after=mark, timeout=60)
