"""Prometheus metrics of the queues this replica owns (read at scrape time from the tenants'
machines): what the wallboard shows, for dashboards and the queue service-level alert (CC-07).

Only the owner of a tenant exports its queues, so ``sum by (tenant, queue)`` over the replicas is
the queue's figure; when ownership moves the series move with it. The call counts are the
queue's counters (kept in the tenant's state, so they go on from the same value on the next
owner): Prometheus counters, whose ``increase`` over a window gives that window's service level
(deploy/k8s/monitoring: the recording rule ``hibiki:queue_service_level:ratio_1h``, the formula of
``queues.Counters.service_level``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hibiki.acd.domain import Acd

_LABELS = ["tenant", "queue"]
_COUNTS = {
    "entered": "Calls that entered the queue",
    "answered": "Calls answered by an agent",
    "answered_in_target": "Calls answered within the queue's service-level target",
    "abandoned": "Callers who hung up waiting (short abandons included)",
    "abandoned_in_target": "Short abandons: hung up within the target (left out of the service level)",
    "overflowed": "Calls moved to the overflow queue",
    "timed_out": "Calls that left at the maximum wait",
    "cancelled": "Calls taken out of the queue otherwise (transferred away, ended by the service)",
}


class QueueCollector(Collector):
    """``machines()`` gives the tenants this replica owns and their ACD machines."""

    def __init__(self, machines: Callable[[], Mapping[str, Acd]], clock: Callable[[], float] = time.time) -> None:
        self._machines, self._clock = machines, clock

    def collect(self) -> Iterable[Metric]:
        waiting = GaugeMetricFamily("hibiki_acd_queue_waiting", "Calls waiting in the queue now", labels=_LABELS)
        longest = GaugeMetricFamily("hibiki_acd_queue_longest_wait_seconds", "How long the first caller has waited",
                                    labels=_LABELS)
        ready = GaugeMetricFamily("hibiki_acd_queue_agents_ready", "Agents of the queue ready for a call",
                                  labels=_LABELS)
        logged_in = GaugeMetricFamily("hibiki_acd_queue_agents_logged_in", "Agents of the queue logged in",
                                      labels=_LABELS)
        level = GaugeMetricFamily("hibiki_acd_queue_service_level",
                                  "Answered within target out of the calls that left the queue, since its counters "
                                  "started (the wallboard's figure; 0..1, absent before the first)", labels=_LABELS)
        counts = {name: CounterMetricFamily(f"hibiki_acd_queue_{name}", text, labels=_LABELS)
                  for name, text in _COUNTS.items()}
        now = self._clock()
        for tenant, acd in sorted(self._machines().items()):
            for queue_id in acd.queue_ids():
                stats = acd.queue_stats(queue_id, now)
                labels = [tenant, queue_id]
                waiting.add_metric(labels, float(len(stats.waiting)))
                longest.add_metric(labels, float(stats.longest_wait))
                ready.add_metric(labels, float(stats.agents_ready))
                logged_in.add_metric(labels, float(stats.agents_logged_in))
                if stats.service_level is not None:
                    level.add_metric(labels, float(stats.service_level))
                for name, family in counts.items():
                    family.add_metric(labels, float(getattr(stats, name)))
        yield from (waiting, longest, ready, logged_in, level, *counts.values())
