"""The ACD's /metrics exports the queues of the tenants the replica owns (deploy/k8s/monitoring:
the queue service-level alert and the dashboards read them)."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from hibiki.acd.app import main
from support.servers import running


async def _queue_samples(c: Any, tenant: str) -> dict[tuple[str, str], float]:
    reply = await c.http.get("/metrics")
    assert reply.status_code == 200, reply.text
    return {(s.name, s.labels["queue"]): s.value
            for family in text_string_to_metric_families(reply.text)
            for s in family.samples if s.name.startswith("hibiki_acd_queue_") and s.labels.get("tenant") == tenant}


async def test_metrics_show_the_owned_tenants_queues_and_go_with_the_service(make_config: Any, clients: Any,
                                                                             tenant: str) -> None:
    config = make_config()
    for attempt in range(2):   # a second start in the same process registers them again (unregistered at stop)
        async with running(main, config):
            c = clients(config)
            await c.put(f"/api/v1/tenants/{tenant}/queues/main", {"service_level_seconds": 20},
                        status=201 if attempt == 0 else 200)
            samples: dict[tuple[str, str], float] = {}
            for _ in range(100):
                samples = await _queue_samples(c, tenant)
                if ("hibiki_acd_queue_waiting", "main") in samples:
                    break
                await asyncio.sleep(0.1)
            assert samples[("hibiki_acd_queue_waiting", "main")] == 0.0
            assert samples[("hibiki_acd_queue_agents_logged_in", "main")] == 0.0
            assert samples[("hibiki_acd_queue_entered_total", "main")] == 0.0
            assert ("hibiki_acd_queue_service_level", "main") not in samples, "no call has left the queue yet"
            assert (await c.http.get("/metrics", headers={"Authorization": ""})).status_code == 401
