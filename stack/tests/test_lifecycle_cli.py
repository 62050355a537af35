"""The lifecycle commands as an operator runs them: bad arguments and unreachable services end
with a one-line error and a non-zero status, never a traceback; nothing is deleted without
``--confirm`` repeating the tenant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hibiki.directory.lifecycle.settings import Settings


def hibiki(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_AUTH_SECRET": "x" * 48,
           "HIBIKI_DIRECTORY_PORT": "1", "HIBIKI_ACD_PORT": "1", "HIBIKI_ANALYTICS_PORT": "1",
           "HIBIKI_RECORDING_PORT": "1", "HIBIKI_NATS_URL": "nats://127.0.0.1:1"}
    return subprocess.run([sys.executable, "-m", "hibiki.stack.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("args, status, says", [
    (("backup",), 1, "configuration store"),
    (("restore",), 1, "no generation"),
    (("restore", "--only", "directory,everything"), 2, "--only takes directory,acd,analytics"),
    (("restore", "--until", "yesterday"), 2, "invalid fromisoformat value"),
    (("tenant", "delete", "zama", "--confirm", "zama2", "--by", "ops"), 2, "--confirm must repeat the tenant id"),
    (("tenant", "delete", "zama", "--by", "ops"), 2, "--confirm"),
    (("tenant", "export", "zama"), 1, "ConnectError"),
])
def test_refusals_are_one_line_errors(tmp_path: Path, args: tuple[str, ...], status: int, says: str) -> None:
    done = hibiki(tmp_path, *args)
    assert done.returncode == status, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr


def test_settings_follow_the_services_variables(tmp_path: Path) -> None:
    s = Settings.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_DIRECTORY_PORT": "18080",
                           "HIBIKI_ANALYTICS_URL": "http://analytics:8083/", "HIBIKI_BACKUP_GENERATIONS": "3"})
    assert (s.directory_url, s.analytics_url, s.acd_url) == ("http://127.0.0.1:18080", "http://analytics:8083",
                                                             "http://127.0.0.1:8081")
    assert s.sqlite_path == tmp_path / "directory.sqlite" and s.journal == tmp_path / "directory.journal"
    assert (s.backup_dir, s.generations, s.voicemail_dir) == (tmp_path / "backups", 3, tmp_path / "voicemail")


def test_a_certificate_verifies_and_a_changed_one_does_not(tmp_path: Path) -> None:
    from hibiki.stack.lifecycle import certificate

    signed = certificate.sign({"tenant": "zama", "deleted": {"recording.recordings": 12}}, tmp_path)
    good = tmp_path / "zama-deletion.json"
    good.write_text(json.dumps(signed))
    done = hibiki(tmp_path, "tenant", "verify-certificate", str(good))
    assert done.returncode == 0 and done.stdout.startswith("valid: tenant zama"), done.stderr
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**signed, "deleted": {"recording.recordings": 11}}))
    assert hibiki(tmp_path, "tenant", "verify-certificate", str(forged)).returncode == 1
    other = certificate.public_key_text(certificate.signing_key(tmp_path / "other").public_key())
    done = hibiki(tmp_path, "tenant", "verify-certificate", str(good), "--public-key", other)
    assert done.returncode == 1 and "INVALID" in done.stderr
    assert hibiki(tmp_path, "tenant", "verify-certificate", str(tmp_path / "none.json")).returncode == 2
