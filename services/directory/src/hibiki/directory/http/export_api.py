"""The platform operator's tenant export (ADM-03): ``GET /api/v1/tenants/{tenant}/export.zip``.

The directory gathers the tenant's data from every store over the services' APIs
(``hibiki.directory.lifecycle.export``, the same as ``hibiki tenant export``) into a temporary
folder and answers it as one ZIP with ``manifest.json`` (counts, SHA-256 of every file).
For ``platform-admin`` tokens (tenant ``*``) and service tokens; recordings are decrypted audio,
so they are included only when the token also has ``recording-admin`` (REC-06), and every
download is in the recording audit trail under ``export:<the requester>``.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from hibiki.common.auth import TokenAuthority
from hibiki.common.http import error_response
from hibiki.common.logging import get_logger
from hibiki.common.openapi import ApiRoute, Operation, errors
from hibiki.directory.lifecycle import export
from hibiki.directory.lifecycle.platform import Platform, ServiceError
from hibiki.directory.lifecycle.settings import Settings

log = get_logger("hibiki.directory.export")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
RECORDING_ADMIN = "recording-admin"


def _zip(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")


class ExportApi:
    def __init__(self, settings: Settings, authority: TokenAuthority) -> None:
        self._settings, self._authority = settings, authority

    def _run(self, tenant: str, requester: str, recordings: bool, work: Path) -> Path:
        platform = Platform(self._settings, self._authority, subject=f"export:{requester}"[:128])
        try:
            folder = export.export(platform, tenant, work, recordings)
        finally:
            platform.close()
        target = work / f"{folder.name}.zip"
        _zip(folder, target)
        return target

    async def export_zip(self, request: Request) -> Response:
        claims = request.scope["hibiki.claims"]
        if not (claims.tenant == "*" and (claims.kind == "service" or "platform-admin" in claims.roles)):
            return error_response(403, "forbidden", "a tenant's whole export is for the platform operator")
        tenant = request.path_params["tenant"]
        if not _TENANT.match(tenant):
            return error_response(400, "invalid-tenant", "not a tenant id", field="tenant")
        recordings = claims.kind == "service" or RECORDING_ADMIN in claims.roles
        self._settings.data_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="export-", dir=self._settings.data_dir))
        try:
            archive = await asyncio.to_thread(self._run, tenant, claims.subject, recordings, work)
        except export.ExportError as exc:
            shutil.rmtree(work, ignore_errors=True)
            return error_response(404, "tenant-not-found", str(exc), field="tenant")
        except ServiceError as exc:
            shutil.rmtree(work, ignore_errors=True)
            log.error("tenant_export_failed", tenant=tenant, reason=str(exc))
            return error_response(502, "service-unavailable", "a service did not give its part of the export; "
                                  "try again", reason=str(exc)[:300])
        log.warning("tenant_exported", tenant=tenant, actor=claims.subject, recordings=recordings)
        return FileResponse(archive, media_type="application/zip", filename=archive.name,
                            background=BackgroundTask(shutil.rmtree, work, True))

    def routes(self) -> list[ApiRoute]:
        return [ApiRoute("/api/v1/tenants/{tenant}/export.zip", self.export_zip, "GET", Operation(
            "Everything of a tenant in every store, in generic formats, as one ZIP with a manifest (platform operator; "
            "recordings with recording-admin)", media="application/zip",
            errors=errors(403, 404, s400="not a tenant id", s502="a service did not give its part"),
            tags=["tenants"]))]
