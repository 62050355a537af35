"""The nightly backup on Kubernetes (ADM-09): every overlay renders a CronJob that runs
`hibiki backup` once at a time, non-root and read-only, onto its own volume."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_k8s_manifests import K8S, OVERLAYS, render


@pytest.mark.parametrize("path", [K8S / "base", *(K8S / "overlays" / o for o in OVERLAYS)], ids=str)
def test_a_cronjob_takes_the_backup_with_generations(path: Path) -> None:
    docs = render(path)
    [job] = [d for d in docs if d["kind"] == "CronJob" and d["metadata"]["name"].endswith("backup")]
    spec = job["spec"]
    assert spec["concurrencyPolicy"] == "Forbid" and spec["timeZone"] == "Asia/Tokyo"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] + container["args"] == ["hibiki", "backup"]
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in pod["volumes"]}
    assert claims[mounts["/backups"]] is not None
    settings = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("backup-config")]
    assert settings[0]["data"]["HIBIKI_BACKUP_DIR"] == "/backups"
    assert int(settings[0]["data"]["HIBIKI_BACKUP_GENERATIONS"]) >= 2
