"""The stores of two data centers on Kubernetes (issue 16): PostgreSQL under CloudNativePG (a primary
cluster in dc1, a replica cluster in dc2), ClickHouse under the Altinity operator with a Keeper
ensemble stretched over three sites, recordings on each data center's S3-compatible endpoint.

The operators' custom resources have no schema offline (tests/test_k8s_manifests.py,
OPERATOR_GROUPS): they are checked here structurally, on the rendered overlays, against what each
operator documents and against what the services and the other manifests expect of them.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from test_k8s_manifests import K8S, OVERLAYS, Doc, of_kind, render, selects

README = (K8S / "README.md").read_text(encoding="utf-8")

# Top-level spec fields of CloudNativePG's Cluster (postgresql.cnpg.io/v1) and of the Altinity
# operator's ClickHouseInstallation (clickhouse.altinity.com/v1) that these manifests may use: a
# misspelt field would be silently ignored by an operator that prunes unknown fields.
CNPG_CLUSTER_FIELDS = {
    "instances", "imageName", "primaryUpdateStrategy", "primaryUpdateMethod", "enablePDB", "replica",
    "postgresql", "minSyncReplicas", "maxSyncReplicas", "affinity", "storage", "walStorage", "resources",
    "monitoring", "backup", "externalClusters", "bootstrap",
}
CNPG_REPLICA_FIELDS = {"self", "primary", "source", "enabled", "promotionToken", "minApplyDelay"}
CHI_FIELDS = {"defaults", "configuration", "templates"}


def _one(docs: list[Doc], kind: str, api_group: str) -> Doc:
    found = [d for d in of_kind(docs, kind) if d["apiVersion"].startswith(api_group + "/")]
    assert len(found) == 1, f"one {kind} of {api_group} expected, found {len(found)}"
    return found[0]


def _config(docs: list[Doc]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for cm in of_kind(docs, "ConfigMap"):
        merged.update(cm.get("data", {}))
    return merged


def _overlays() -> dict[str, list[Doc]]:
    return {o: render(K8S / "overlays" / o) for o in OVERLAYS}


# --------------------------------------------------------------------------- PostgreSQL (CloudNativePG)


def test_one_primary_cluster_and_one_replica_cluster_that_follows_it() -> None:
    clusters = {o: _one(docs, "Cluster", "postgresql.cnpg.io") for o, docs in _overlays().items()}
    primaries = {c["spec"]["replica"]["primary"] for c in clusters.values()}
    assert len(primaries) == 1, f"both data centers must name the same primary: {primaries}"
    primary = primaries.pop()
    roles = {}
    for overlay, cluster in clusters.items():
        spec = cluster["spec"]
        assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
        assert set(spec) <= CNPG_CLUSTER_FIELDS, set(spec) - CNPG_CLUSTER_FIELDS
        assert set(spec["replica"]) <= CNPG_REPLICA_FIELDS
        assert "enabled" not in spec["replica"], "distributed topology: the role follows replica.primary"
        external = {e["name"]: e for e in spec["externalClusters"]}
        me = spec["replica"]["self"]
        assert me == f"postgresql-{overlay}" and me in external and primary in external
        # the source is the other cluster: what a replica follows, and what the primary follows once demoted
        assert spec["replica"]["source"] in external and spec["replica"]["source"] != me
        assert spec["instances"] >= 2, "a standby in the data center itself"
        assert spec["affinity"]["topologyKey"] == "topology.kubernetes.io/zone"
        # its own archive is what the other data center reads as this cluster
        own = spec["backup"]["barmanObjectStore"]
        assert own["serverName"] == me == external[me]["barmanObjectStore"]["serverName"]
        assert own["destinationPath"] == external[me]["barmanObjectStore"]["destinationPath"]
        assert all(e["barmanObjectStore"]["serverName"] == name for name, e in external.items())
        assert own["endpointURL"] == f"https://s3.{overlay}.hibiki.internal", "the data center's own endpoint"
        # streaming from the other data center: host, TLS client certificate, CA
        for name, e in external.items():
            assert e["connectionParameters"]["user"] == "streaming_replica"
            assert e["connectionParameters"]["sslmode"] == "verify-full"
            assert name.removeprefix("postgresql-") in e["connectionParameters"]["host"]
        bootstrap = spec["bootstrap"]
        assert len(bootstrap) == 1
        if me == primary:
            assert spec["replica"]["source"] != primary
            roles[overlay] = "primary"
            assert set(bootstrap) == {"initdb"}
        else:
            roles[overlay] = "replica"
            assert set(bootstrap) == {"recovery"} and bootstrap["recovery"]["source"] == primary
        method = next(iter(bootstrap.values()))
        assert method["database"] == "hibiki" and method["owner"] == "hibiki"
        assert method["secret"]["name"] == "postgresql-app"
    assert sorted(roles.values()) == ["primary", "replica"], roles


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_postgres_secrets_backups_and_the_directory_point_at_the_cluster(overlay: str) -> None:
    docs = render(K8S / "overlays" / overlay)
    cluster = _one(docs, "Cluster", "postgresql.cnpg.io")
    name = cluster["metadata"]["name"]
    secrets = {d["metadata"]["name"]: d for d in of_kind(docs, "Secret")}
    referenced = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"name", "key"} and isinstance(node["name"], str):
                referenced.add(node["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(cluster["spec"])
    referenced.add(cluster["spec"]["bootstrap"][next(iter(cluster["spec"]["bootstrap"]))]["secret"]["name"])
    for secret in referenced:
        # a template rendered here, or one the runbook says to copy from the other data center
        assert secret in secrets or f"`{secret}`" in README, f"secret {secret} neither rendered nor documented"
    assert secrets["postgresql-app"]["type"] == "kubernetes.io/basic-auth"
    # the directory connects to the read-write Service CloudNativePG makes for the cluster
    url = urlparse(secrets["hibiki-secrets"]["stringData"]["HIBIKI_DIRECTORY_DATABASE_URL"])
    assert url.hostname == f"{name}-rw" and url.port == 5432 and url.path == "/hibiki"
    assert url.username == secrets["postgresql-app"]["stringData"]["username"]
    backups = [d for d in of_kind(docs, "ScheduledBackup") if d["apiVersion"] == "postgresql.cnpg.io/v1"]
    assert backups and all(b["spec"]["cluster"]["name"] == name for b in backups)
    for b in backups:
        assert len(b["spec"]["schedule"].split()) == 6, "CloudNativePG schedules have a seconds field"
        assert b["spec"]["method"] == "barmanObjectStore" and "barmanObjectStore" in cluster["spec"]["backup"]


# --------------------------------------------------------------------------- ClickHouse (Altinity) and Keeper


def _keeper_servers(path: Path) -> dict[int, tuple[str, int]]:
    root = ET.parse(path).getroot()
    keeper = root.find("keeper_server")
    assert keeper is not None
    assert keeper.find("server_id").get("from_env") == "KEEPER_SERVER_ID"  # type: ignore[union-attr]
    servers = {}
    for server in keeper.iter("server"):
        servers[int(server.findtext("id", ""))] = (server.findtext("hostname", ""), int(server.findtext("port", "")))
    return servers


def test_keeper_is_one_ensemble_over_three_sites_that_survives_losing_any_one() -> None:
    views = {o: _keeper_servers(K8S / "overlays" / o / "keeper.xml") for o in OVERLAYS}
    views["witness"] = _keeper_servers(K8S / "witness" / "keeper.xml")
    first = next(iter(views.values()))
    assert all(v == first for v in views.values()), "every site lists the same ensemble"
    per_site: dict[str, set[int]] = {}
    for server_id, (host, port) in first.items():
        site = next((o for o in OVERLAYS if f".{o}." in host), "witness")
        per_site.setdefault(site, set()).add(server_id)
        assert port == 9234
    for overlay, docs in _overlays().items():
        sts = next(d for d in of_kind(docs, "StatefulSet") if d["metadata"]["name"] == "clickhouse-keeper")
        offset = int(_config(docs)["KEEPER_ID_OFFSET"])
        ids = {offset + i for i in range(int(sts["spec"]["replicas"]))}
        assert ids == per_site[overlay], f"{overlay}: its pods would take ids {ids}, keeper.xml gives it {per_site[overlay]}"
    total = len(first)
    for site, ids in per_site.items():
        assert total - len(ids) > total // 2, f"losing {site} leaves no Keeper majority"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keeper_pods_take_the_id_their_ordinal_and_offset_give(overlay: str, tmp_path: Path) -> None:
    """Runs the container's own start line (clickhouse-keeper replaced by a stand-in that prints
    the id it is given) with the pod's host name and the overlay's offset."""
    docs = render(K8S / "overlays" / overlay)
    sts = next(d for d in of_kind(docs, "StatefulSet") if d["metadata"]["name"] == "clickhouse-keeper")
    c = sts["spec"]["template"]["spec"]["containers"][0]
    offset = _config(docs)["KEEPER_ID_OFFSET"]
    stand_in = tmp_path / "clickhouse-keeper"
    stand_in.write_text('#!/bin/sh\necho "$KEEPER_SERVER_ID $*"\n', encoding="utf-8")
    stand_in.chmod(0o755)
    servers = _keeper_servers(K8S / "overlays" / overlay / "keeper.xml")
    for ordinal in range(int(sts["spec"]["replicas"])):
        out = subprocess.run([*c["command"], *c["args"]], capture_output=True, text=True, check=True, timeout=30,
                             env={"PATH": f"{tmp_path}:/usr/bin:/bin", "KEEPER_ID_OFFSET": offset,
                                  "HOSTNAME": f"clickhouse-keeper-{ordinal}"}).stdout.split()
        server_id = int(out[0])
        assert server_id in servers and f"keeper-{ordinal}.{overlay}." in servers[server_id][0]
        assert out[1] == "--config-file=/etc/clickhouse-keeper/keeper.xml"
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes[mounts["/etc/clickhouse-keeper"]]["configMap"]["name"].startswith("clickhouse-keeper-conf")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    root = ET.parse(K8S / "overlays" / overlay / "keeper.xml").getroot()
    assert int(root.findtext("keeper_server/tcp_port", "")) == ports["client"]
    assert int(root.findtext("keeper_server/http_control/port", "")) == ports["control"]
    assert root.findtext("keeper_server/http_control/readiness/endpoint") == c["readinessProbe"]["httpGet"]["path"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_clickhouse_installation_serves_the_services_replicated_tables(overlay: str) -> None:
    docs = render(K8S / "overlays" / overlay)
    chi = _one(docs, "ClickHouseInstallation", "clickhouse.altinity.com")
    spec = chi["spec"]
    assert chi["apiVersion"] == "clickhouse.altinity.com/v1" and set(spec) <= CHI_FIELDS
    assert chi["metadata"]["name"] == f"clickhouse-{overlay}", "replica names ({replica}) unique across data centers"
    [cluster] = spec["configuration"]["clusters"]
    assert cluster["layout"]["shardsCount"] == 1 and cluster["layout"]["replicasCount"] >= 2
    config = _config(docs)
    assert config["HIBIKI_ANALYTICS_CLICKHOUSE_CLUSTER"] == cluster["name"]
    assert config["HIBIKI_RECORDING_INDEX_CLUSTER"] == cluster["name"]
    # the Service the operator makes from the serviceTemplate is the host both services name
    templates = spec["templates"]
    service = next(t for t in templates["serviceTemplates"] if t["name"] == spec["defaults"]["templates"]["serviceTemplate"])
    secrets = {d["metadata"]["name"]: d.get("stringData", {}) for d in of_kind(docs, "Secret")}
    users = spec["configuration"]["users"]
    password_ref = users["hibiki/password"]["valueFrom"]["secretKeyRef"]
    secret_name, secret_key = password_ref["name"], password_ref["key"]
    for key, service_name in (("HIBIKI_ANALYTICS_CLICKHOUSE_URL", "analytics"), ("HIBIKI_RECORDING_INDEX_URL", "recording")):
        assert key not in config, f"{key} holds a password: from hibiki-secrets, not a ConfigMap"
        dep = next(d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == service_name)
        env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        ref = env[key]["valueFrom"]["secretKeyRef"]
        url = urlparse(secrets[ref["name"]][ref["key"]])
        assert url.hostname == service["generateName"] and url.port in {p["port"] for p in service["spec"]["ports"]}
        assert url.username == "hibiki" and "hibiki/profile" in users
        assert url.password == secrets[secret_name][secret_key], "the URL's password is the user's"
    # the client ports only from Hibiki pods: analytics and recording among them, not everyone
    pods = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in of_kind(docs, "Deployment")}
    chi_labels = next(t for t in templates["podTemplates"])["metadata"]["labels"]
    policies = [p for p in of_kind(docs, "NetworkPolicy") if selects(p["spec"]["podSelector"], chi_labels)]
    assert policies, "no NetworkPolicy isolates the ClickHouse pods"
    rules = [r for p in policies for r in p["spec"]["ingress"] if any(x["port"] == 9000 for x in r.get("ports", []))]
    assert rules and all(r.get("from") for r in rules), "port 9000 open to every source"
    for service_name in ("analytics", "recording"):
        assert any(selects(peer.get("podSelector", {"matchLabels": {"-": "-"}}), pods[service_name])
                   and "namespaceSelector" not in peer for r in rules for peer in r["from"]), service_name
    assert spec["configuration"]["users"]["hibiki/networks/ip"] != "10.0.0.0/8", "the overlay narrows the network"
    # Keeper: this data center's ensemble members, on the client port
    keeper = next(d for d in of_kind(docs, "StatefulSet") if d["metadata"]["name"] == "clickhouse-keeper")
    replicas = int(keeper["spec"]["replicas"])
    expected = {f"clickhouse-keeper-{i}.{keeper['spec']['serviceName']}" for i in range(replicas)}
    assert {n["host"] for n in spec["configuration"]["zookeeper"]["nodes"]} == expected
    assert {n["port"] for n in spec["configuration"]["zookeeper"]["nodes"]} == {9181}
    # the pods: non-root, read-only, requests and limits, spread across zones
    pod = next(t for t in templates["podTemplates"] if t["name"] == spec["defaults"]["templates"]["podTemplate"])
    pod_spec, labels = pod["spec"], pod["metadata"]["labels"]
    assert pod_spec["securityContext"]["runAsNonRoot"] is True
    assert any(t["topologyKey"] == "topology.kubernetes.io/zone" and selects(t["labelSelector"], labels)
               for t in pod_spec["topologySpreadConstraints"])
    emptydirs = {v["name"] for v in pod_spec["volumes"] if "emptyDir" in v}
    for c in pod_spec["containers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= set(c["resources"]["requests"]) and {"cpu", "memory"} <= set(c["resources"]["limits"])
        mounted = {m["mountPath"] for m in c["volumeMounts"] if m["name"] in emptydirs}
        assert {"/tmp", "/var/log/clickhouse-server"} <= mounted
    assert spec["defaults"]["templates"]["dataVolumeClaimTemplate"] in {t["name"] for t in templates["volumeClaimTemplates"]}


# --------------------------------------------------------------------------- recordings on object storage


def test_recordings_go_to_each_data_centers_endpoint_of_one_replicated_bucket(tmp_path: Path) -> None:
    """The overlay's HIBIKI_RECORDING_STORE_URL, opened by the recording service's own loader."""
    from hibiki.recording.storage.blobs import S3Blobs, open_blobs

    buckets, endpoints = set(), set()
    for overlay, docs in _overlays().items():
        url = _config(docs)["HIBIKI_RECORDING_STORE_URL"]
        blobs = open_blobs(url, tmp_path)
        assert isinstance(blobs, S3Blobs)
        buckets.add(blobs.bucket)
        endpoint = blobs._client.meta.endpoint_url
        assert endpoint == f"https://s3.{overlay}.hibiki.internal", endpoint
        endpoints.add(endpoint)
        dep = next(d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "recording")
        env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert env[key]["valueFrom"]["secretKeyRef"]["name"] == "hibiki-secrets"
    assert len(buckets) == 1, "one bucket, replicated between the data centers by the storage"
    assert len(endpoints) == len(OVERLAYS), "each data center writes to its own endpoint"
    assert f"`{buckets.pop()}`" in README


def test_each_data_center_also_writes_the_other_ones_store_before_acknowledging(tmp_path: Path) -> None:
    """HIBIKI_RECORDING_STORE_MIRROR_URL: the other site's endpoint, opened as the service opens it."""
    from hibiki.recording.storage.blobs import MirroredBlobs, S3Blobs, open_store

    for overlay, docs in _overlays().items():
        config = _config(docs)
        store = open_store(config["HIBIKI_RECORDING_STORE_URL"], config["HIBIKI_RECORDING_STORE_MIRROR_URL"], tmp_path)
        assert isinstance(store, MirroredBlobs)
        assert isinstance(store.primary, S3Blobs) and isinstance(store.mirror, S3Blobs)
        own, other = store.primary._client.meta.endpoint_url, store.mirror._client.meta.endpoint_url
        assert own == f"https://s3.{overlay}.hibiki.internal"
        assert other in {f"https://s3.{o}.hibiki.internal" for o in OVERLAYS} - {own}
        assert store.mirror.bucket == store.primary.bucket


def test_each_data_center_takes_the_recordings_of_its_own_freeswitch_nodes() -> None:
    """Both sites see every RecordingStopped on the stretched stream: each has durable consumers of
    its own (a shared one would hand a site's recordings to the other, whose spool lacks them) and
    HIBIKI_RECORDING_NODES naming its own nodes only, read as the service reads it."""
    from hibiki.recording.config import RecordingConfig

    consumers, configs = set(), {}
    for overlay, docs in _overlays().items():
        env = {k: v for k, v in _config(docs).items() if k.startswith("HIBIKI_")}
        # the index URL comes from hibiki-secrets (with its password)
        config = RecordingConfig.from_env({**env, "HIBIKI_DATA_DIR": "/var/lib/hibiki",
                                           "HIBIKI_RECORDING_INDEX_URL": "clickhouse://clickhouse:9000/hibiki"})
        assert config.nodes.patterns, f"{overlay}: HIBIKI_RECORDING_NODES unset: it would take every site's recordings"
        consumers.add(config.consumer)
        configs[overlay] = config
        assert config.nodes.takes(f"voice-{overlay}-3") and config.nodes.takes(f"VOICE-{overlay}-0")
        assert config.nodes.takes(""), "an event naming no node: taken (the spool decides)"
    assert len(consumers) == len(OVERLAYS), "one durable consumer per data center"
    for overlay, config in configs.items():
        for other in set(OVERLAYS) - {overlay}:
            assert not config.nodes.takes(f"voice-{other}-0"), f"{overlay} takes {other}'s recordings"
    assert "HIBIKI_RECORDING_NODES" in README


def test_the_base_alone_is_one_standalone_primary_cluster() -> None:
    """One data center without the other (the base): a primary cluster, created empty."""
    cluster = _one(render(K8S / "base"), "Cluster", "postgresql.cnpg.io")
    assert "replica" not in cluster["spec"] and set(cluster["spec"]["bootstrap"]) == {"initdb"}
