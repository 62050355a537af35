"""The spool FreeSWITCH writes into and the service's work files between steps.

A spool path comes from an event: it is used only when it resolves inside
``<spool dir>/<tenant>/`` and names ``<recording id>.wav`` (no symlink out, no other tenant's file).
Work files are ``<work dir>/<tenant>/<recording id>.<ext>``, each written to a temporary name,
synced and renamed, so a file that exists is whole.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

RECORDING_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TENANT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")   # as the ACD and the directory take them


class BadSpoolPath(ValueError):
    pass


def spool_file(spool_dir: Path, tenant: str, recording_id: str, given: str) -> Path:
    if not TENANT.match(tenant) or not RECORDING_ID.match(recording_id):
        raise BadSpoolPath("tenant or recording id malformed")
    root = (spool_dir / tenant).resolve()
    path = Path(given)
    if not path.is_absolute():
        raise BadSpoolPath("spool path is not absolute")
    resolved = path.resolve()
    if not resolved.is_relative_to(root) or resolved.name != f"{recording_id}.wav":
        raise BadSpoolPath(f"spool path is not {recording_id}.wav under the tenant's spool")
    return resolved


def write_whole(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def clear_partial(folder: Path, recording_id: str) -> None:
    """Temporary files a killed step left for this recording."""
    if folder.is_dir():
        for leftover in folder.glob(f".{recording_id}.*.tmp"):
            leftover.unlink(missing_ok=True)
