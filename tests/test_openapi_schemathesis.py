"""schemathesis against each running service with an API (``hibiki serve <service>``, a process of
its own): requests generated from the service's own ``/api/v1/openapi.json``, valid and invalid
ones, sent with a valid service token; every answer is checked against the document (no 5xx,
every status documented, every body matching its schema and media type, invalid data refused,
the token check not skipped).

Bounded: a few examples per operation (``HIBIKI_SCHEMATHESIS_EXAMPLES``, default 6), so the whole
module stays well under two minutes on two cores. The tenant in paths is one that exists, so requests get past "no such tenant"."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.generation.meta import negated_parameters

from hibiki.common import openapi
from support.served import Served, serve
from support.servers import NatsServer, free_port

HOST = "127.5.0.1"
TENANT = "st"
EXAMPLES = int(os.environ.get("HIBIKI_SCHEMATHESIS_EXAMPLES", "6"))   # per operation; more for a deeper local run
SETTINGS = {
    "generation": {"max-examples": EXAMPLES, "database": "none", "mode": "all", "allow-extra-parameters": False},
    "phases": {"stateful": {"enabled": False}, "coverage": {"enabled": False}},
    # business rules beyond a JSON schema (a DID's target exists, phone and line_key go together, an
    # IVR's menus hold together, a voice exists) rightly refuse some schema-valid requests
    "checks": {"positive_data_acceptance": {"enabled": False}},
}


def config(also_expected: tuple[int, ...] = ()) -> SchemathesisConfig:
    """The settings above; ``also_expected``: a 5xx the document lists that is no server fault here."""
    checks = dict(SETTINGS["checks"])
    if also_expected:
        checks["not_a_server_error"] = {"expected-statuses": ["2XX", "3XX", "4XX", *map(str, also_expected)]}
    return SchemathesisConfig.from_dict({**SETTINGS, "checks": checks})


def tenant_was_negated(case: schemathesis.Case) -> bool:
    """Whether a negative case put its invalid value in the tenant of the path (or somewhere in the path)."""
    meta = case._meta
    if meta is None or not meta.is_negative_at(ParameterLocation.PATH):
        return False
    named = [name for name, location in negated_parameters(meta) if location == ParameterLocation.PATH]
    return not named or "tenant" in named


def exercise(served: Served, also_expected: tuple[int, ...] = ()) -> list[str]:
    """Every operation of the service's document with a few generated requests, valid and invalid;
    the failures found, one entry each, and the figures printed."""
    document = httpx.get(served.url + openapi.PATH, headers=served.headers).json()
    assert openapi.dangling_refs(document) == []
    schema = schemathesis.openapi.from_url(served.url + openapi.PATH, headers=served.headers, config=config(also_expected))
    failures: list[str] = []
    operations, statuses = 0, Counter[int]()
    for result in schema.get_all_operations():
        operation = result.ok()
        ok = document["paths"][operation.path][operation.method.lower()]["responses"].get("200", {})
        if "text/event-stream" in ok.get("content", {}):
            continue    # an endless stream (the wallboard's SSE) cannot be read whole; its own tests read it
        operations += 1

        @given(case=operation.as_strategy(GenerationMode.NEGATIVE) | operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            if "tenant" in (case.path_parameters or {}):
                if tenant_was_negated(case):
                    reject()   # made valid by the line below, it would be a valid request expected to fail
                case.path_parameters["tenant"] = TENANT
            response = case.call(headers=served.headers, timeout=30)
            statuses[response.status_code] += 1
            # a probe's 503 reports a dependency this test does not run (no FreeSWITCH node): documented, not a fault
            probe = operation.path in ("/healthz", "/readyz")
            case.validate_response(response, headers=served.headers,
                                   excluded_checks=[schemathesis.checks.not_a_server_error] if probe else None)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # every failure of every operation, reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    print(f"schemathesis {served.url}: {operations} operations, {statuses.total()} requests, {len(failures)} failing; "
          f"statuses {dict(sorted(statuses.items()))}")
    assert operations and statuses.total() >= operations
    return failures


def _directory(nats: NatsServer) -> dict[str, str]:
    nowhere = f"http://{HOST}:{free_port()}"   # the tenant export's other services: none runs here (502)
    return {"HIBIKI_NATS_URL": nats.url, "HIBIKI_DIRECTORY_GRPC_PORT": str(free_port()), "HIBIKI_ACD_URL": nowhere,
            "HIBIKI_ANALYTICS_URL": nowhere, "HIBIKI_RECORDING_URL": nowhere}


def _callcontrol(nats: NatsServer) -> dict[str, str]:
    nowhere = f"{HOST}:{free_port()}"   # the prompts API needs neither the directory nor the ACD
    return {"HIBIKI_NATS_URL": nats.url, "HIBIKI_CALLCONTROL_ESL_PORT": str(free_port()),
            "HIBIKI_CALLCONTROL_DIRECTORY_GRPC": nowhere, "HIBIKI_CALLCONTROL_ACD_GRPC": nowhere}


def _acd(nats: NatsServer) -> dict[str, str]:
    nowhere = f"{HOST}:{free_port()}"   # no directory: a login's device cannot be resolved (503, documented)
    return {"HIBIKI_NATS_URL": nats.url, "HIBIKI_ACD_GRPC_PORT": str(free_port()),
            "HIBIKI_ACD_DIRECTORY_GRPC": nowhere, "HIBIKI_ACD_DIRECTORY_TIMEOUT": "0.5"}


def _acd_owner(served: Served) -> None:
    """A queue and an agent for the tenant, so a replica owns it (else every command is 503 no-owner)."""
    for path, body in (("queues/q1", {}), ("agents/a1", {"queues": ["q1"]})):
        reply = httpx.put(f"{served.url}/api/v1/tenants/{TENANT}/{path}", headers=served.headers, json=body, timeout=30)
        assert reply.status_code == 201, reply.text


def _plain(nats: NatsServer) -> dict[str, str]:
    return {"HIBIKI_NATS_URL": nats.url}


def _analytics(nats: NatsServer) -> dict[str, str]:
    # no ACD: the wallboard starts from the events alone (and never asks the default port)
    return {"HIBIKI_NATS_URL": nats.url, "HIBIKI_ANALYTICS_ACD_URL": f"http://{HOST}:{free_port()}"}


def _create_tenant(served: Served) -> None:
    reply = httpx.post(served.url + "/api/v1/tenants", headers=served.headers,
                       json={"id": TENANT, "domain": f"{TENANT}.example.jp"})
    assert reply.status_code == 201, reply.text


Setup = Callable[[Served], None] | None
SERVICES: Mapping[str, tuple[Callable[[NatsServer], dict[str, str]], Setup, tuple[int, ...]]] = {
    # the tenant export asks the ACD, recording and analytics; none runs here, so that is 502
    "directory": (_directory, _create_tenant, (502,)),
    "callcontrol": (_callcontrol, None, ()),
    "recording": (_plain, None, ()),
    "analytics": (_analytics, None, ()),
    # a login asks the directory for the device; none runs here, so that is 503 directory-unavailable
    "acd": (_acd, _acd_owner, (503,)),
}


@pytest.fixture
def running_service(request: pytest.FixtureRequest, nats_server: NatsServer, tmp_path: Path) -> Iterator[Served]:
    env, setup, _ = SERVICES[request.param]
    with serve(request.param, HOST, tmp_path / request.param, env(nats_server)) as served:
        if setup is not None:
            setup(served)
        yield served


@pytest.mark.parametrize("running_service", list(SERVICES), indirect=True)
def test_each_service_answers_as_its_openapi_document_says(running_service: Served,
                                                           request: pytest.FixtureRequest) -> None:
    failures = exercise(running_service, SERVICES[request.node.callspec.params["running_service"]][2])
    assert not failures, "\n\n".join(failures)
