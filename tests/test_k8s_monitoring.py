"""Operations as code (issue 16): the Grafana dashboards and SLO alerts in deploy/k8s/monitoring
name only metrics the services really expose, with labels those metrics carry.

The services' exposition is built from their own metric definitions: the directory's /fsapi
counters and histogram and callcontrol's leg counter (module-level, in the process registry), the
collectors callcontrol and the ACD register at start (NodePoolCollector over a node pool,
QueueCollector over a real ACD machine with a queue that took calls), and prometheus_client's
process collector; then it is rendered (generate_latest) and parsed back like Prometheus would.
Every PromQL expression is parsed with promql-parser (the Prometheus grammar) and walked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import promql_parser
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from test_k8s_manifests import K8S, OVERLAYS, Doc, is_custom_resource, of_kind, render, selects

MONITORING = K8S / "monitoring"
DASHBOARDS = sorted((MONITORING / "dashboards").glob("*.json"))
RUNBOOK = (K8S / "RUNBOOK.md").read_text(encoding="utf-8")
SERVICES = ("directory", "callcontrol", "acd", "recording", "analytics")
# Series Prometheus makes itself for every target, and the labels it (and the PodMonitor's
# relabelings) put on every scraped series.
PROMETHEUS_OWN = {"up": set(), "scrape_duration_seconds": set(), "scrape_samples_scraped": set()}
TARGET_LABELS = {"service", "datacenter", "namespace", "pod", "container", "job", "instance", "endpoint"}
SLOS = {"availability", "registration", "call-setup", "queue-service-level"}
# Grafana's variables, replaced by values PromQL accepts before parsing
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$datacenter": ".*"}


# --------------------------------------------------------------------------- what the services expose


def _exposed() -> dict[str, set[str]]:
    """Sample name -> label names, from the services' own metric definitions."""
    from hibiki.acd.domain import Acd, AgentProfile, QueueConfig
    from hibiki.acd.metrics import QueueCollector
    from hibiki.callcontrol import channel_events
    from hibiki.callcontrol.esl.nodes import FsNodeSettings, NodePool, NodePoolCollector, parse_nodes
    from hibiki.directory.http import fsapi

    # labelled metrics show their samples once a child exists (labels() creates it at 0)
    fsapi.REQUESTS.labels("directory", "found")
    channel_events.LEGS_ENDED.labels("a", "answered")
    text = generate_latest(REGISTRY).decode()

    own = CollectorRegistry()
    pool = NodePool.from_settings(FsNodeSettings(nodes=tuple(parse_nodes("freeswitch-0.freeswitch:8021"))))
    own.register(NodePoolCollector(pool))
    acd = Acd("kanazawa")
    acd.configure_queue(QueueConfig("main", service_level_seconds=20), 1000.0)
    acd.configure_agent(AgentProfile("ann", {}, frozenset({"main"})), 1000.0)
    acd.login("ann", "seat-ann", 1001.0, ready=True)
    acd.enqueue("c1", "main", 1002.0)
    acd.answer("c1", "ann", 1005.0)
    acd.enqueue("c2", "main", 1006.0)
    own.register(QueueCollector(lambda: {"kanazawa": acd}, clock=lambda: 1010.0))
    text += generate_latest(own).decode()

    exposed: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            exposed.setdefault(sample.name, set()).update(sample.labels)
    return exposed


EXPOSED = _exposed()


def test_the_exposition_holds_each_services_metrics() -> None:
    """Guard: the exposition this module checks against is the services' (not an empty set)."""
    for name, labels in {
        "hibiki_fsapi_requests_total": {"section", "outcome"},
        "hibiki_fsapi_seconds_bucket": {"le"},
        "hibiki_callcontrol_fs_node_up": {"node"},
        "hibiki_callcontrol_fs_node_dropped_events_total": {"node"},
        "hibiki_callcontrol_legs_ended_total": {"leg", "result"},
        "hibiki_acd_queue_service_level": {"tenant", "queue"},
        "hibiki_acd_queue_waiting": {"tenant", "queue"},
        "hibiki_acd_queue_answered_in_target_total": {"tenant", "queue"},
        "hibiki_acd_queue_abandoned_in_target_total": {"tenant", "queue"},
        "process_resident_memory_bytes": set(),
    }.items():
        assert name in EXPOSED and EXPOSED[name] == labels, (name, EXPOSED.get(name))


def test_queue_collector_reports_the_queues_figures() -> None:
    """The ACD's exported figures are the machine's own (one answered in target, one waiting)."""
    from hibiki.acd.domain import Acd, AgentProfile, QueueConfig
    from hibiki.acd.metrics import QueueCollector

    acd = Acd("kanazawa")
    acd.configure_queue(QueueConfig("main", service_level_seconds=20), 1000.0)
    acd.configure_agent(AgentProfile("ann", {}, frozenset({"main"})), 1000.0)
    registry = CollectorRegistry()
    registry.register(QueueCollector(lambda: {"kanazawa": acd}, clock=lambda: 1010.0))
    assert registry.get_sample_value("hibiki_acd_queue_service_level", {"tenant": "kanazawa", "queue": "main"}) is None
    acd.login("ann", "seat-ann", 1001.0, ready=True)
    acd.enqueue("c1", "main", 1002.0)
    acd.answer("c1", "ann", 1005.0)
    acd.enqueue("c2", "main", 1006.0)
    labels = {"tenant": "kanazawa", "queue": "main"}
    assert registry.get_sample_value("hibiki_acd_queue_service_level", labels) == 1.0
    assert registry.get_sample_value("hibiki_acd_queue_waiting", labels) == 1.0
    assert registry.get_sample_value("hibiki_acd_queue_longest_wait_seconds", labels) == 4.0
    assert registry.get_sample_value("hibiki_acd_queue_entered_total", labels) == 2.0
    assert registry.get_sample_value("hibiki_acd_queue_answered_in_target_total", labels) == 1.0
    acd.cancel("c2", 1007.0)                            # a short abandon: left out of the service level
    assert registry.get_sample_value("hibiki_acd_queue_abandoned_total", labels) == 1.0
    assert registry.get_sample_value("hibiki_acd_queue_abandoned_in_target_total", labels) == 1.0
    assert registry.get_sample_value("hibiki_acd_queue_service_level", labels) == 1.0
    assert registry.get_sample_value("hibiki_acd_queue_agents_logged_in", labels) == 1.0


def test_legs_are_classified_for_the_call_setup_slo() -> None:
    """The leg result comes from the hangup event's own headers (leg_record.fill)."""
    from hibiki.callcontrol.channel_events import leg_result
    from hibiki.callcontrol.leg_record import fill
    from hibiki.events.v1 import call_pb2

    uuid = "0b6a6d0e-8d3c-4a57-9b0f-3b1c2d4e5f60"

    def ended(**headers: str) -> str:
        return leg_result(fill(call_pb2.CallEnded(), {"Unique-ID": uuid, **headers}, uuid))

    assert ended(**{"Hangup-Cause": "NORMAL_CLEARING", "variable_answer_uepoch": "1760000000000000"}) == "answered"
    assert ended(**{"Hangup-Cause": "RECOVERY_ON_TIMER_EXPIRE"}) == "failed"
    assert ended(**{"Hangup-Cause": "MEDIA_TIMEOUT"}) == "failed"
    for cause in ("USER_BUSY", "NO_ANSWER", "ORIGINATOR_CANCEL", "UNALLOCATED_NUMBER", "NO_ROUTE_DESTINATION"):
        assert ended(**{"Hangup-Cause": cause}) == "unanswered", cause


# --------------------------------------------------------------------------- the expressions


def _selectors(expr: str) -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    found: list[tuple[str, list[tuple[str, str, str]]]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append((node.name, [(m.name, str(m.op), m.value) for m in node.matchers.matchers]))

    promql_parser.walk(promql_parser.parse(expr), visit, None)  # a syntax error raises
    yield from found


def unknown_in(expr: str) -> list[str]:
    """What ``expr`` names that no service exposes: a metric, or a label the metric does not carry."""
    from hibiki.callcontrol.channel_events import leg_result  # noqa: F401  (its results below)

    problems = []
    recorded = {r["record"]: _kept_labels(r["expr"]) for r in _records()}
    for name, matchers in _selectors(expr):
        known = {**EXPOSED, **PROMETHEUS_OWN, **recorded}
        if name not in known:
            problems.append(f"metric {name}")
            continue
        for label, op, value in matchers:
            if label not in known[name] | TARGET_LABELS:
                problems.append(f"label {label} of {name}")
            if name == "hibiki_callcontrol_legs_ended_total" and label == "result" and "Equal" in op:
                if value not in ("answered", "failed", "unanswered"):
                    problems.append(f"result {value!r} of {name}")
            if label == "service" and "Equal" in op and value not in SERVICES:
                problems.append(f"service {value!r}")
    return problems


def _dashboard_exprs() -> Iterator[tuple[str, str]]:
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                yield f"{path.name}: {panel['title']}", target["expr"]
        for variable in dashboard["templating"]["list"]:
            query = variable.get("query")
            if isinstance(query, dict):
                inner = re.fullmatch(r"label_values\((.*), *(\w+)\)", query["query"])
                assert inner, query
                yield f"{path.name}: variable {variable['name']}", inner.group(1)


def _rule() -> Doc:
    docs = render(MONITORING)
    [rule] = [d for d in docs if d["kind"] == "PrometheusRule"]
    return rule


def _alerts() -> list[Doc]:
    return [r for g in _rule()["spec"]["groups"] for r in g["rules"] if "alert" in r]


def _records() -> list[Doc]:
    return [r for g in _rule()["spec"]["groups"] for r in g["rules"] if "record" in r]


def _kept_labels(expr: str) -> set[str]:
    """The labels an expression's outer aggregation keeps (its first ``by (...)``)."""
    found = re.findall(r"by \(([^)]*)\)", expr)
    return set(found[0].replace(" ", "").split(",")) if found else set()


def test_the_checker_finds_an_unknown_metric_or_label() -> None:
    """Guard: a metric no service exposes, or a label it lacks, is reported."""
    assert unknown_in("rate(hibiki_made_up_total[5m])") == ["metric hibiki_made_up_total"]
    assert unknown_in('hibiki_acd_queue_waiting{agent="x"}') == ["label agent of hibiki_acd_queue_waiting"]
    assert unknown_in('rate(hibiki_callcontrol_legs_ended_total{result="busy"}[5m])') == [
        "result 'busy' of hibiki_callcontrol_legs_ended_total"]
    assert unknown_in('up{service="nats"}') == ["service 'nats'"]
    with pytest.raises(Exception):
        unknown_in("sum(rate(hibiki_fsapi_requests_total[5m])")


@pytest.mark.parametrize("where,expr", list(_dashboard_exprs()), ids=lambda v: v if len(v) < 60 else "")
def test_every_dashboard_expression_names_exposed_metrics(where: str, expr: str) -> None:
    assert not unknown_in(expr), f"{where}: {unknown_in(expr)}"


@pytest.mark.parametrize("alert", [r["alert"] for r in _alerts()])
def test_every_alert_names_exposed_metrics(alert: str) -> None:
    rule = next(r for r in _alerts() if r["alert"] == alert)
    assert not unknown_in(rule["expr"]), f"{alert}: {unknown_in(rule['expr'])}"


@pytest.mark.parametrize("record", [r["record"] for r in _records()])
def test_every_recording_rule_names_exposed_metrics_and_keeps_its_labels(record: str) -> None:
    rule = next(r for r in _records() if r["record"] == record)
    assert not unknown_in(rule["expr"]), f"{record}: {unknown_in(rule['expr'])}"
    assert re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", record), "level:metric:operations"
    assert _kept_labels(rule["expr"]), f"{record}: aggregate by the labels it keeps"


def test_the_queue_service_level_rule_is_the_acds_formula() -> None:
    """The recording rules compute Counters.service_level from the exported counters: evaluated
    here on two scrapes of a real ACD machine an hour apart (increase = difference)."""
    from hibiki.acd.domain import Acd, AgentProfile, QueueConfig
    from hibiki.acd.metrics import QueueCollector

    acd = Acd("kanazawa")
    acd.configure_queue(QueueConfig("main", service_level_seconds=20), 1000.0)
    acd.configure_agent(AgentProfile("ann", {}, frozenset({"main"})), 1000.0)
    registry = CollectorRegistry()
    registry.register(QueueCollector(lambda: {"kanazawa": acd}, clock=lambda: 1010.0))
    labels = {"tenant": "kanazawa", "queue": "main"}

    def scrape() -> dict[str, float]:
        return {name.removeprefix("hibiki_acd_queue_").removesuffix("_total"):
                registry.get_sample_value(name, labels) or 0.0
                for name in EXPOSED if name.startswith("hibiki_acd_queue_") and name.endswith("_total")}

    before = scrape()
    acd.login("ann", "seat-ann", 1001.0, ready=True)
    acd.enqueue("c1", "main", 1002.0)
    acd.answer("c1", "ann", 1005.0)                      # in target
    acd.enqueue("c2", "main", 1006.0)
    acd.cancel("c2", 1010.0)                             # short abandon: left out
    acd.enqueue("c3", "main", 1011.0)
    acd.cancel("c3", 1050.0)                             # long abandon: against
    after = scrape()
    increase = {k: after[k] - before[k] for k in after}
    [left_rule] = [r for r in _records() if r["record"] == "hibiki:queue_calls_left:increase1h"]
    terms = re.findall(r"([+-]?) *increase\(hibiki_acd_queue_(\w+)_total\[1h\]\)", left_rule["expr"])
    left = sum((-1 if sign == "-" else 1) * increase[name] for sign, name in terms)
    [ratio_rule] = [r for r in _records() if r["record"] == "hibiki:queue_service_level:ratio_1h"]
    numerator = re.findall(r"increase\(hibiki_acd_queue_(\w+)_total\[1h\]\)", ratio_rule["expr"])
    assert numerator == ["answered_in_target"] and "hibiki:queue_calls_left:increase1h" in ratio_rule["expr"]
    assert increase["answered_in_target"] / left == acd.queue_stats("main", 1060.0).service_level == 0.5


# --------------------------------------------------------------------------- structure


def test_alerts_cover_every_slo_and_point_at_the_runbook() -> None:
    alerts = _alerts()
    assert {a["labels"]["slo"] for a in alerts} == SLOS
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", RUNBOOK, flags=re.MULTILINE)}
    assert len({a["alert"] for a in alerts}) == len(alerts), "alert names are unique"
    for a in alerts:
        assert set(a) <= {"alert", "expr", "for", "labels", "annotations"}, a["alert"]
        assert a["labels"]["severity"] in ("critical", "warning")
        assert re.fullmatch(r"\d+[smh]", a["for"]), a["for"]
        assert a["annotations"]["summary"] and a["annotations"]["description"]
        page, _, anchor = a["annotations"]["runbook_url"].partition("#")
        assert page == "deploy/k8s/RUNBOOK.md" and anchor in anchors, (a["alert"], anchor)
        # every $labels.X an annotation shows is a label the expression's result keeps
        recorded = {r["record"]: _kept_labels(r["expr"]) for r in _records()}
        first = next(_selectors(a["expr"]))[0]
        by = _kept_labels(a["expr"]) or recorded.get(first, set())
        for shown in re.findall(r"\$labels\.(\w+)", json.dumps(a["annotations"])):
            assert shown in by, f"{a['alert']}: $labels.{shown} is not kept by the expression"
    assert _rule()["apiVersion"] == "monitoring.coreos.com/v1"


def test_dashboards_are_grafana_json_shipped_in_a_sidecar_configmap() -> None:
    assert len(DASHBOARDS) >= 2
    uids = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        uids.add(dashboard["uid"])
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        variables = {v["name"] for v in dashboard["templating"]["list"]}
        assert {"datasource", "datacenter"} <= variables
        for panel in dashboard["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"] and {"h", "w", "x", "y"} <= set(panel["gridPos"])
            assert 0 <= panel["gridPos"]["x"] and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
    assert len(uids) == len(DASHBOARDS)
    for path in (K8S / "base", *(K8S / "overlays" / o for o in OVERLAYS)):
        [cm] = [d for d in of_kind(render(path), "ConfigMap") if d["metadata"]["name"] == "hibiki-dashboards"]
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert {k: json.loads(v) for k, v in cm["data"].items()} == {
            p.name: json.loads(p.read_text(encoding="utf-8")) for p in DASHBOARDS}


@pytest.mark.parametrize("path", [K8S / "base", *(K8S / "overlays" / o for o in OVERLAYS)], ids=str)
def test_the_podmonitor_scrapes_every_service_with_a_token(path: Path) -> None:
    docs = render(path)
    [monitor] = [d for d in docs if d["kind"] == "PodMonitor"]
    assert is_custom_resource(monitor) and monitor["apiVersion"] == "monitoring.coreos.com/v1"
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] == "/metrics"
    secret = endpoint["authorization"]["credentials"]
    assert any(d["kind"] == "Secret" and d["metadata"]["name"] == secret["name"]
               and secret["key"] in d["stringData"] for d in docs)
    relabelled = {r["targetLabel"]: r["sourceLabels"][0] for r in endpoint["relabelings"]}
    assert set(relabelled) == {"service", "datacenter"}
    selected = []
    for dep in of_kind(docs, "Deployment"):
        labels = dep["spec"]["template"]["metadata"]["labels"]
        if not selects(monitor["spec"]["selector"], labels):
            continue
        selected.append(dep["metadata"]["name"])
        ports = {p["name"] for p in dep["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert endpoint["port"] in ports
        meta = {"__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", k): v for k, v in labels.items()}
        assert meta[relabelled["service"]] == dep["metadata"]["name"]
        if path != K8S / "base":
            assert meta[relabelled["datacenter"]] == path.name
    assert sorted(selected) == sorted(SERVICES)


def test_every_for_duration_parses() -> None:
    for a in _alerts():
        value, unit = int(a["for"][:-1]), a["for"][-1]
        assert timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours"}[unit]: value}) <= timedelta(hours=1)
