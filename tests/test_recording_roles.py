"""REC-06 across services: the recording administrator and the configuration administrator are
different roles (the configuration administrator may not search, play, download, delete or score
recordings; the recording administrator may not change telephony configuration; an auditor reads
and exports the recordings' audit trail and does not listen). A real directory and a real recording service; every role x action cell is asked
over HTTP and must be allowed (anything but 403) or refused (403 ``forbidden``)."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory.app import main as directory_main
from hibiki.recording.app import main as recording_main
from hibiki.recording.config import RecordingConfig
from support.directory import directory_config
from support.servers import free_port, running

pytestmark = pytest.mark.slow
BODIES: dict[str, Any] = {
    "score form write": {"name": "応対品質", "scale": 5, "criteria": [{"id": "greeting", "label": "挨拶"}]},
    "recording evaluate": {"form_id": "basic", "scores": {"greeting": 4}},
}
RID = str(uuid.uuid4())
ACTIONS: dict[str, tuple[str, str, str]] = {   # action -> (service, method, path under /api/v1/tenants/{t})
    "configuration read": ("directory", "GET", "/users"),
    "configuration write": ("directory", "POST", "/users"),
    "recording search": ("recording", "GET", "/recordings"),
    "recording show": ("recording", "GET", f"/recordings/{RID}"),
    "recording play": ("recording", "GET", f"/recordings/{RID}/audio"),
    "recording download": ("recording", "GET", f"/recordings/{RID}/download"),
    "recording delete": ("recording", "DELETE", f"/recordings/{RID}"),
    "recording audit": ("recording", "GET", "/recording-audit"),
    "recording audit export": ("recording", "GET", "/recording-audit.csv"),
    "recording audit verify": ("recording", "GET", "/recording-audit/verify"),
    "recording key rotation": ("recording", "POST", "/recording-keys/rotate"),
    "score forms read": ("recording", "GET", "/evaluation-forms"),
    "score form write": ("recording", "PUT", "/evaluation-forms/basic"),
    "recording evaluate": ("recording", "POST", f"/recordings/{RID}/evaluations"),
    "recording evaluations read": ("recording", "GET", f"/recordings/{RID}/evaluations"),
    "scores per agent": ("recording", "GET", "/evaluation-scores"),
}
CONFIGURATION = {"configuration read", "configuration write"}
RECORDING_READS = {"recording search", "recording show", "recording play", "recording download", "score forms read",
                   "recording evaluations read", "scores per agent"}
AUDIT = {"recording audit", "recording audit export", "recording audit verify"}
ALLOWED: dict[tuple[str, ...], set[str]] = {
    ("admin",): CONFIGURATION,                      # the configuration administrator: no recordings at all
    ("tenant-admin",): CONFIGURATION,
    ("viewer",): {"configuration read"},
    ("recording-admin",): set(ACTIONS) - CONFIGURATION,   # every recording action, no telephony configuration
    ("recording-viewer",): RECORDING_READS,
    ("recording-viewer", "supervisor"): RECORDING_READS | {"recording evaluate"},
    ("auditor",): AUDIT | {"configuration read"},
    ("agent",): set(),
    ("supervisor",): set(),                          # the one role rule: a supervisor reads no configuration
    ("wallboard",): set(),
}


async def test_role_by_action_matrix_over_http(tmp_path: Path, nats_server: Any, authority: TokenAuthority) -> None:
    tenant = f"shiojiri{uuid.uuid4().hex[:6]}"
    directory = directory_config(tmp_path / "directory", nats_server)
    recording = dataclasses.replace(RecordingConfig.from_env({
        "HIBIKI_DATA_DIR": str(tmp_path / "recording"), "HIBIKI_NATS_URL": nats_server.url,
        "HIBIKI_RECORDING_CONSUMER": f"rec-{tenant}"}), port=free_port())
    bases = {"directory": f"http://127.0.0.1:{directory.port}", "recording": f"http://127.0.0.1:{recording.port}"}
    async with running(directory_main, directory), running(recording_main, recording), httpx.AsyncClient() as http:
        platform = authority.issue(Claims("root", "user", "*", ("platform-admin",)))
        made = await http.post(f"{bases['directory']}/api/v1/tenants", headers={"Authorization": f"Bearer {platform}"},
                               json={"id": tenant, "domain": f"{tenant}.example.jp"})
        assert made.status_code == 201, made.text
        cells = 0
        for roles, allowed in ALLOWED.items():
            token = authority.issue(Claims(f"u-{'-'.join(roles)}", "user", tenant, roles))
            for action, (service, method, path) in ACTIONS.items():
                body = BODIES.get(action, {"username": f"u{cells}", "extension": f"{3000 + cells}"}) \
                    if method in ("POST", "PUT") else None
                answer = await http.request(method, f"{bases[service]}/api/v1/tenants/{tenant}{path}", json=body,
                                            headers={"Authorization": f"Bearer {token}"})
                refused = answer.status_code == 403
                assert refused == (action not in allowed), (roles, action, answer.status_code, answer.text[:200])
                assert answer.status_code < 500, (roles, action, answer.text[:200])
                cells += 1
        print(f"REC-06 matrix: {len(ALLOWED)} roles x {len(ACTIONS)} actions = {cells} cells over HTTP")
