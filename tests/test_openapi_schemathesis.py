"""schemathesis against each running service with an API: requests generated from the service's
own ``/api/v1/openapi.json`` (with a valid service token), every answer checked against it (no
5xx, every status documented, every body matching its schema, the token check not skipped).

Bounded: a few examples per operation, so the whole module stays well under two minutes on two
cores. The tenant in paths is one that exists, so requests get past "no such tenant"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from support.served import Served, serve
from support.servers import NatsServer, free_port

HOST = "127.5.0.1"
TENANT = "st"
EXAMPLES = 6


def config(tenant: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "parameters": {"path.tenant": tenant},
        "generation": {"max-examples": EXAMPLES, "database": "none", "mode": "all", "allow-extra-parameters": False},
        "phases": {"stateful": {"enabled": False}, "coverage": {"enabled": False}},
        # business rules beyond a JSON schema (a DID's target exists, phone and line_key go together,
        # an IVR's menus hold together) rightly refuse some schema-valid requests
        "checks": {"positive_data_acceptance": {"enabled": False}},
    })


@pytest.fixture(scope="module")
def directory(nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve("directory", HOST, tmp_path_factory.mktemp("directory"),
               {"HIBIKI_NATS_URL": nats_server.url, "HIBIKI_DIRECTORY_GRPC_PORT": str(free_port())}) as served:
        reply = httpx.post(served.url + "/api/v1/tenants", headers=served.headers,
                           json={"id": TENANT, "domain": f"{TENANT}.example.jp"})
        assert reply.status_code == 201, reply.text
        yield served


@pytest.fixture(scope="module")
def directory_schema(directory: Served) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_url(directory.url + "/api/v1/openapi.json", headers=directory.headers,
                                         config=config(TENANT))


def exercise(schema: schemathesis.schemas.BaseSchema, served: Served) -> list[str]:
    """Every operation of ``schema`` with a few generated requests; the failures found, one line each."""
    failures: list[str] = []
    operations, statuses = 0, Counter[int]()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy(GenerationMode.NEGATIVE) | operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            if "tenant" in (case.path_parameters or {}):
                case.path_parameters["tenant"] = TENANT
            response = case.call(headers=served.headers, timeout=30)
            statuses[response.status_code] += 1
            case.validate_response(response, headers=served.headers)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # every failure of every operation, reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    print(f"schemathesis {served.url}: {operations} operations, {statuses.total()} requests, {len(failures)} failing; "
          f"statuses {dict(sorted(statuses.items()))}")
    return failures


def test_the_directory_answers_as_its_document_says(directory_schema: schemathesis.schemas.BaseSchema,
                                                    directory: Served) -> None:
    failures = exercise(directory_schema, directory)
    assert not failures, "\n\n".join(failures)


@pytest.fixture(scope="module")
def callcontrol(nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    nowhere = f"{HOST}:{free_port()}"   # the directory and the ACD are not needed by the prompts API
    with serve("callcontrol", HOST, tmp_path_factory.mktemp("callcontrol"),
               {"HIBIKI_NATS_URL": nats_server.url, "HIBIKI_CALLCONTROL_ESL_PORT": str(free_port()),
                "HIBIKI_CALLCONTROL_DIRECTORY_GRPC": nowhere, "HIBIKI_CALLCONTROL_ACD_GRPC": nowhere}) as served:
        yield served


def test_callcontrol_answers_as_its_document_says(callcontrol: Served) -> None:
    schema = schemathesis.openapi.from_url(callcontrol.url + "/api/v1/openapi.json", headers=callcontrol.headers,
                                           config=config(TENANT))
    failures = exercise(schema, callcontrol)
    assert not failures, "\n\n".join(failures)
