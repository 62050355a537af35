"""The ACD service frame: gRPC health open, everything else behind tokens."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hibiki.acd.app import main
from hibiki.acd.config import AcdConfig
from hibiki.acd.v1 import acd_pb2, acd_pb2_grpc
from hibiki.common.rpc import token_metadata
from support.servers import free_port, running


async def test_grpc_and_http_frames(tmp_path: Path, nats_server: Any, authority: Any, service_token: str) -> None:
    config = dataclasses.replace(
        AcdConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}),
        port=free_port(), grpc_port=free_port())
    async with running(main, config):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{config.grpc_port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            stub = acd_pb2_grpc.AcdServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Enqueue(acd_pb2.EnqueueRequest(tenant="kanazawa", call_uuid="c1", queue_id="water"))
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(grpc.aio.AioRpcError) as later:
                await stub.Enqueue(acd_pb2.EnqueueRequest(tenant="kanazawa"), metadata=token_metadata(service_token))
            assert later.value.code() == grpc.StatusCode.UNIMPLEMENTED
        base = f"http://127.0.0.1:{config.port}"
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{base}/healthz")).status_code == 200
            assert (await client.get(f"{base}/api/v1/info")).status_code == 401
            info = await client.get(f"{base}/api/v1/info", headers={"Authorization": f"Bearer {service_token}"})
            assert info.json() == {"service": "acd", "grpc_port": config.grpc_port, "caller": "tests"}
