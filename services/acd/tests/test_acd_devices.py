"""Logins resolve their device through the directory (fails closed), and the HTTP request models
stay the shape of the stored configuration."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from hibiki.acd.app import main
from hibiki.acd.domain.codec import queue_from_dict, queue_to_dict
from hibiki.acd.http.schemas import AgentIn, QueueIn
from hibiki.acd.runtime.configure import agent_from_dict, agent_to_dict
from hibiki.acd.v1 import acd_pb2
from support.servers import free_port, running


def test_the_request_models_have_exactly_the_stored_fields() -> None:
    assert set(QueueIn.model_fields) == set(queue_to_dict(queue_from_dict({"id": "x"})))
    assert set(AgentIn.model_fields) == set(agent_to_dict(agent_from_dict("x", {})))


async def test_a_login_takes_only_a_device_the_directory_has(make_config: Any, clients: Any, tenant: str) -> None:
    config = make_config()
    async with running(main, config):
        c = clients(config)
        base = f"/api/v1/tenants/{tenant}"
        await c.put(f"{base}/queues/q", {})
        await c.put(f"{base}/agents/a1", {"queues": ["q"]})
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await c.stub.AgentLogin(acd_pb2.AgentLoginRequest(tenant=tenant, agent_id="a1", device="seat-9"),
                                    metadata=c.metadata)
        assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert ("acd-error-id", "unknown-device") in list(unknown.value.trailing_metadata() or ())
        login = await c.stub.AgentLogin(acd_pb2.AgentLoginRequest(tenant=tenant, agent_id="a1", device="seat-2"),
                                        metadata=c.metadata)
        assert login.device == "seat-2"


async def test_without_the_directory_no_login_happens(make_config: Any, clients: Any, tenant: str) -> None:
    config = make_config(directory_grpc=f"127.0.0.1:{free_port()}", directory_timeout=0.5)   # nobody there
    async with running(main, config):
        c = clients(config)
        base = f"/api/v1/tenants/{tenant}"
        await c.put(f"{base}/queues/q", {})
        await c.put(f"{base}/agents/a1", {"queues": ["q"]})
        with pytest.raises(grpc.aio.AioRpcError) as down:
            await c.stub.AgentLogin(acd_pb2.AgentLoginRequest(tenant=tenant, agent_id="a1", device="seat-1"),
                                    metadata=c.metadata)
        assert down.value.code() == grpc.StatusCode.UNAVAILABLE and "directory" in (down.value.details() or "")
        reply = await c.http.post(f"{base}/agents/a1/login", json={"device": "seat-1"})
        assert reply.status_code == 503 and reply.json()["error_id"] == "directory-unavailable"
        assert (await c.http.get(f"{base}/agents/a1/state")).json()["state"] == "logged_out"
