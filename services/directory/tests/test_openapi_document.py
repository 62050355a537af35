"""The directory's OpenAPI document, read from the running service: the routes the issues named
are in it, every ``$ref`` resolves (``Target`` included), and the statuses the admin API answers
are documented (that it lists every route the router serves: ``tests/test_openapi_documents.py``)."""

from __future__ import annotations

from pathlib import Path

from nats.aio.client import Client

from hibiki.common import openapi
from hibiki.common.auth import TokenAuthority
from support.directory import directory_config, running_directory
from support.servers import NatsServer

NAMED = {("/api/v1/tenants/{tenant}/ivrs/{id}", "PUT"), ("/api/v1/tenants/{tenant}/ivrs/{id}/paths", "GET"),
         ("/api/v1/tenants/{tenant}/phonebook/search", "GET"), ("/api/v1/tenants/{tenant}/users.csv", "GET"),
         ("/api/v1/tenants/{tenant}/users/import", "POST"), ("/fsapi", "POST"), ("/api/v1/openapi.json", "GET")}


async def test_the_directory_documents_its_named_routes_and_the_statuses_it_answers(
        tmp_path: Path, nats_server: NatsServer, nats_client: Client, authority: TokenAuthority) -> None:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority) as directory:
        reply = await directory.api.get(openapi.PATH)
        assert reply.status_code == 200
        assert (await directory.api.get(openapi.PATH, headers={"Authorization": "Bearer nope"})).status_code == 401
    doc = reply.json()
    served = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    assert NAMED <= served
    assert openapi.dangling_refs(doc) == []
    assert "Target" in doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            statuses = set(op["responses"])
            if path.startswith("/api/v1/tenants"):
                assert {"401", "403", "404"} <= statuses, (method, path)
                if method in ("post", "put", "patch"):
                    assert {"400", "413", "422"} <= statuses, (method, path)
            if path.endswith(".csv") or path.endswith("/import"):
                assert "401" in statuses    # the token check answers before the CSV code does


async def test_a_patch_may_not_null_a_field_the_store_keeps_not_null(
        tmp_path: Path, nats_server: NatsServer, nats_client: Client, authority: TokenAuthority) -> None:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority) as directory:
        await directory.post("/api/v1/tenants", {"id": "nl", "domain": "nl.example.jp", "name": "Nl"})
        reply = await directory.call("PATCH", "/api/v1/tenants/nl", {"name": None})
        assert reply.status_code == 422, reply.text
        assert reply.json()["error_id"] == "invalid-name" and reply.json()["details"]["field"] == "name"
        user = await directory.post("/api/v1/tenants/nl/users", {"username": "sato", "extension": "2001"})
        reply = await directory.call("PATCH", f"/api/v1/tenants/nl/users/{user['id']}", {"display_name": None})
        assert reply.status_code == 422 and reply.json()["details"]["field"] == "display_name", reply.text
        assert (await directory.api.get("/api/v1/tenants/nl")).json()["name"] == "Nl"
