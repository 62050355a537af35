"""A tenant's full export and its verified deletion at contract end (ADM-03), through the real
directory, ACD, recording and analytics services on a NATS of their own, with a second tenant
that must come out untouched."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import hashlib
import json
import shutil
import sqlite3
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from hibiki.acd.app import main as acd_main
from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.recording.app import main as recording_main
from hibiki.recording.config import RecordingConfig
from hibiki.directory.lifecycle import export, manifest
from hibiki.stack.lifecycle import certificate, deletion
from hibiki.directory.lifecycle.platform import Platform
from support.analytics import analytics_process, caught_up, publish
from support.call_events import scripted_day
from support.directory import directory_config, running_directory
from support.recording import make_wav, publish_stopped, spool_path, stopped
from support.servers import NatsServer, free_port, running
from test_lifecycle import acd_config, settings_for

pytestmark = pytest.mark.slow
REAL_VOICEMAIL_DB = Path(__file__).parent / "fixtures" / "freeswitch" / "voicemail_default.db"


async def _until(check: Any, timeout: float = 60) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if value := await check():
            return value
        await asyncio.sleep(0.2)
    raise AssertionError("condition not met in time")


async def test_tenant_export_then_verified_deletion_leaves_the_other_tenant_untouched(
        tmp_path: Path, authority: TokenAuthority, monkeypatch: pytest.MonkeyPatch) -> None:
    own_nats = NatsServer(tmp_path / "nats")
    own_nats.start()
    gone, kept = f"zama{uuid.uuid4().hex[:6]}", f"nagaoka{uuid.uuid4().hex[:6]}"
    data, spool = tmp_path / "var", tmp_path / "spool"
    directory = directory_config(data, own_nats)
    acd = acd_config(tmp_path, own_nats.url, directory.grpc_port)
    recording = dataclasses.replace(RecordingConfig.from_env({
        "HIBIKI_DATA_DIR": str(tmp_path / "recording"), "HIBIKI_NATS_URL": own_nats.url,
        "HIBIKI_RECORDING_SPOOL_DIR": str(spool)}), port=free_port())
    analytics_port = free_port()
    analytics = analytics_process(tmp_path / "analytics", own_nats.url, analytics_port)
    # mod_voicemail's own database, schema as the real switch made it (copied from the test bench)
    vm_db = tmp_path / "voicemail_default.db"
    shutil.copyfile(REAL_VOICEMAIL_DB, vm_db)
    settings = settings_for(data, directory.port, acd.port, analytics_port, recording.port,
                            HIBIKI_VOICEMAIL_DIR=str(tmp_path / "voicemail"), HIBIKI_VOICEMAIL_DB=str(vm_db))
    platform = Platform(settings, authority)
    for name, url in (("ACD", settings.acd_url), ("ANALYTICS", settings.analytics_url),
                      ("RECORDING", settings.recording_url)):
        monkeypatch.setenv(f"HIBIKI_{name}_URL", url)          # where the directory's export endpoint asks
    monkeypatch.setenv("HIBIKI_VOICEMAIL_DIR", str(settings.voicemail_dir))
    monkeypatch.setenv("HIBIKI_VOICEMAIL_DB", str(vm_db))
    nc = await nats.connect(own_nats.url)
    js = nc.jetstream()
    await bus.ensure_events_stream(js)
    recording_ids: dict[str, list[str]] = {gone: [], kept: []}
    days = {t: scripted_day(t, start=datetime.now(UTC) - timedelta(days=1)) for t in (gone, kept)}
    try:
        async with running_directory(directory, nc, authority) as admin, running(acd_main, acd), \
                running(recording_main, recording):
            for tenant in (gone, kept):
                domain = f"{tenant}.example.jp"
                await admin.post("/api/v1/tenants", {"id": tenant, "domain": domain})
                for n in range(3):
                    await admin.post(f"/api/v1/tenants/{tenant}/users",
                                     {"username": f"u{n}", "extension": f"{2000 + n}", "display_name": f"職員{n}"})
                await admin.post(f"/api/v1/tenants/{tenant}/phonebook", {"name": "市役所", "numbers": ["046-251-1111"]})
                made = await admin.api.post(f"/api/v1/tenants/{tenant}/console_users", json={   # identity: no config.applied
                    "login": "kanri", "password": "kawa-no-nagare-2026", "roles": ["tenant-admin"]})
                assert made.status_code == 201, made.text
                base = f"http://127.0.0.1:{acd.port}/api/v1/tenants/{tenant}"
                async with httpx.AsyncClient(headers={"Authorization": f"Bearer {admin.token}"}) as http:
                    assert (await http.put(f"{base}/queues/water", json={})).status_code == 201
                    assert (await http.put(f"{base}/agents/a1", json={"queues": ["water"]})).status_code == 201
                for n in range(2):
                    rid, started = str(uuid.uuid4()), datetime.now(UTC) - timedelta(minutes=10 + n)
                    event = stopped(tenant, rid, Path("/"), started=started)
                    event.spool_path = str(make_wav(spool_path(spool, tenant, rid, started)))
                    await publish_stopped(js, event)
                    recording_ids[tenant].append(rid)
                for user in ("2000", "2001"):
                    box = settings.voicemail_dir / domain / user
                    box.mkdir(parents=True)
                    message = make_wav(box / f"msg_{uuid.uuid4()}.wav", seconds=0.5, channels=1)
                    with sqlite3.connect(vm_db) as db:
                        db.execute("INSERT INTO voicemail_msgs (created_epoch, read_epoch, username, domain, uuid, "
                                   "cid_name, cid_number, in_folder, file_path, message_len, flags, read_flags, "
                                   "forwarded_by) VALUES (1, 0, ?, ?, ?, '', '09012345678', 'inbox', ?, 3, '', '', '')",
                                   (user, domain, str(uuid.uuid4()), str(message)))
                        db.execute("INSERT INTO voicemail_prefs VALUES (?, ?, '', '', '4321')", (user, domain))
                await publish(js, days[tenant].events)

            async def stored() -> bool:
                held = [await asyncio.to_thread(deletion.held, platform, t, f"{t}.example.jp", own_nats.url)
                        for t in (gone, kept)]
                return all(h["recording.recordings"] == 2 for h in held)
            await _until(stored)
            await caught_up(js)

            # the export: every store's data of the tenant, in generic formats, with a manifest
            out = await asyncio.to_thread(export.export, platform, gone, tmp_path / "exports")
            about = manifest.load(out)
            assert manifest.verify(out) == []
            counts = about["counts"]
            print("export:", json.dumps(counts, sort_keys=True))
            assert counts["directory.users"] == 3 and counts["directory.phonebook"] == 1
            assert counts["acd.queues"] == 1 and counts["acd.agents"] == 1
            assert counts["recordings"] == 2 and counts["voicemail.files"] == 2
            assert counts["voicemail.voicemail_msgs"] == 2 and counts["voicemail.voicemail_prefs"] == 2
            prefs = (out / "voicemail" / "voicemail_prefs.csv").read_text("utf-8-sig")
            assert "password" not in prefs and "4321" not in prefs     # a mailbox PIN never leaves
            assert counts["calls.calls"] == days[gone].calls + days[gone].test_calls
            users = list(csv.DictReader(io.StringIO((out / "directory" / "users.csv").read_text("utf-8-sig"))))
            assert sorted(u["username"] for u in users) == ["u0", "u1", "u2"]
            for rid in recording_ids[gone]:
                audio = (out / "recordings" / f"{rid}.ogg").read_bytes()
                assert audio[:4] == b"OggS"     # decrypted, playable audio
            assert about["files"]["directory/users.csv"]["sha256"] == manifest.sha256(out / "directory" / "users.csv")
            # console identity: the console users without secrets, the audit trail with its check
            people = (out / "directory" / "console_users.csv").read_text("utf-8-sig")
            assert counts["directory.console_users"] == 1 and "kanri" in people
            assert "argon2" not in people and "password_hash" not in people and "totp_secret" not in people
            assert json.loads((out / "directory" / "audit_verify.json").read_text())["intact"] is True
            trail = (out / "directory" / "audit.csv").read_text("utf-8-sig")
            assert counts["directory.audit"] >= 5 and "console_user.create" in trail and "users.create" in trail
            assert json.loads((out / "directory" / "identity_policy.json").read_text())["password_min_length"] == 12
            assert not any(kept in p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()
                           and p.suffix in (".csv", ".json"))

            # the same export from the directory's API, for the platform operator
            zip_url = f"http://127.0.0.1:{directory.port}/api/v1/tenants/{gone}/export.zip"
            async with httpx.AsyncClient(timeout=120) as http:
                def bearer(*roles: str, tenant: str = "*") -> dict[str, str]:
                    return {"Authorization": f"Bearer {authority.issue(Claims('ops', 'user', tenant, roles))}"}
                for refused in (bearer("admin", tenant=gone), bearer("recording-admin", tenant=gone), bearer("viewer")):
                    answer = await http.get(zip_url, headers=refused)
                    assert answer.status_code == 403 and answer.json()["error_id"] == "forbidden"
                missing = await http.get(zip_url.replace(gone, "nosuchtenant"), headers=bearer("platform-admin"))
                assert missing.status_code == 404 and missing.json()["details"]["field"] == "tenant"
                for roles, audio in ((("platform-admin",), 0), (("platform-admin", "recording-admin"), 2)):
                    answer = await http.get(zip_url, headers=bearer(*roles))
                    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
                    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
                        names = archive.namelist()
                        top = names[0].split("/")[0]
                        inside = json.loads(archive.read(f"{top}/manifest.json"))
                        assert {f"{top}/{n}" for n in inside["files"]} | {f"{top}/manifest.json"} == set(names)
                        for name, listed in inside["files"].items():
                            assert hashlib.sha256(archive.read(f"{top}/{name}")).hexdigest() == listed["sha256"]
                    assert sum(n.endswith(".ogg") for n in names) == audio
                    assert inside["counts"]["directory.users"] == 3 and inside["counts"]["voicemail.files"] == 2
                    assert ("left out" in inside["recordings"]) == (audio == 0)
            async def cleaned() -> bool:                        # the server's working copy goes after the answer
                return not list(data.glob("export-*"))
            await _until(cleaned, 10)

            # the deletion: every store, checked, certified; the other tenant exactly as it was
            other_before = await asyncio.to_thread(deletion.held, platform, kept, f"{kept}.example.jp", own_nats.url)
            signed = await asyncio.to_thread(deletion.delete, platform, gone, "contract-end@example.jp", own_nats.url)
            print("deleted:", json.dumps(signed["deleted"], sort_keys=True))
            assert all(v == 0 for v in signed["held_after"].values())
            assert signed["deleted"]["recording.recordings"] == 2 and signed["deleted"]["recording.keys"] >= 1
            assert signed["deleted"]["analytics.calls"] == days[gone].calls + days[gone].test_calls
            assert signed["deleted"]["nats.events"] > 0 and signed["deleted"]["voicemail.files"] == 2
            assert signed["deleted"]["voicemail.voicemail_msgs"] == 2
            assert signed["deleted"]["directory.console_users"] == 1 and signed["deleted"]["directory.audit"] >= 5
            platform_trail = (await admin.api.get("/api/v1/tenants/*/audit")).json()["items"]
            gone_entry = [e for e in platform_trail if e["action"] == "tenant.delete" and e["resource_id"] == gone]
            assert len(gone_entry) == 1, platform_trail
            chain_end = json.loads(gone_entry[0]["before"])["audit"]       # the chain's size and last hash kept
            assert chain_end["entries"] == chain_end["head_seq"] == signed["deleted"]["directory.audit"]
            assert len(chain_end["head_hash"]) == 64
            assert (await admin.api.get("/api/v1/tenants/*/audit/verify")).json()["intact"] is True
            again = await asyncio.to_thread(deletion.held, platform, gone, f"{gone}.example.jp", own_nats.url)
            assert {k: v for k, v in again.items() if v} == {}
            assert not (tmp_path / "recording" / "recording" / "keys" / gone).exists()
            assert not list((tmp_path / "recording").rglob(f"{gone}/**/*.hbr"))
            other_after = await asyncio.to_thread(deletion.held, platform, kept, f"{kept}.example.jp", own_nats.url)
            assert other_after == other_before and other_after["recording.recordings"] == 2
            service = authority.issue(Claims("check", "service"))
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {service}"}) as http:
                rid = recording_ids[kept][0]
                audio = await http.get(f"http://127.0.0.1:{recording.port}/api/v1/tenants/{kept}/recordings/{rid}/download")
                assert audio.status_code == 200 and audio.content[:4] == b"OggS"
                refused = await http.get(f"http://127.0.0.1:{recording.port}/api/v1/tenants/{gone}/recordings/"
                                         f"{recording_ids[gone][0]}/download")
                assert refused.status_code == 404
                # the whole of a tenant's recordings: platform services only (REC-06: not the platform admin)
                for claims in (Claims("root", "user", "*", ("platform-admin",)),
                               Claims("boss", "user", kept, ("recording-admin",))):
                    other = {"Authorization": f"Bearer {authority.issue(claims)}"}
                    for method in ("GET", "DELETE"):
                        answer = await http.request(method, f"http://127.0.0.1:{recording.port}/api/v1/lifecycle/"
                                                    f"tenants/{kept}", headers=other)
                        assert answer.status_code == 403, answer.text
                bad = await http.get(f"http://127.0.0.1:{recording.port}/api/v1/lifecycle/tenants/a%2F..%2Fb")
                assert bad.status_code in (400, 404)
            # the certificate is signed, and any change to it is detected
            assert certificate.verify(signed, signed["public_key"])
            forged = {**signed, "deleted": {**signed["deleted"], "recording.recordings": 1}}
            assert not certificate.verify(forged, signed["public_key"])
            other_key = certificate.public_key_text(certificate.signing_key(tmp_path / "elsewhere").public_key())
            assert not certificate.verify(signed, other_key)
    finally:
        platform.close()
        await nc.close()
        analytics.terminate()
        analytics.wait(30)
        own_nats.stop()
