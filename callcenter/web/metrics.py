"""Prometheus metrics at ``/metrics``: the only module that touches ``prometheus_client``.

Two kinds of numbers, kept apart on purpose:

* **events** (a call ended with an outcome, a caller waited N seconds, a call was handled in N
  seconds) are counted as they happen through ``CallMetrics.observe_*``;
* **state** (calls waiting now, the longest wait now, agents per state, AMI connected, AGI
  sessions, the database pool, whether this backend of an active/standby pair is the active one)
  is read at scrape time from *sources* the composition root registers, so there is no second
  copy of the live state that could drift from the real one.

Names and units follow Prometheus conventions (``_total`` counters, ``_seconds`` units, base
units only). Each ``CallMetrics`` has its own ``CollectorRegistry`` so tests and several apps in
one process never share counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from callcenter.web.auth import public

__all__ = ["METRICS", "CallMetrics", "LiveSnapshot", "routes"]

#: Buckets for waits (seconds): the SL targets people use (10, 20, 30, 60 s) fall on bucket edges.
WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)
#: Buckets for handle times (seconds): from a 30-second consultation to an hour-long complaint.
HANDLE_BUCKETS = (30, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 3600)


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """The live state a scrape reports: filled by the ACD and telephony adapters."""

    waiting_calls: Mapping[str, int]  # queue -> callers waiting
    longest_wait_seconds: Mapping[str, float]  # queue -> oldest waiting caller's wait
    agents_by_state: Mapping[str, int]  # state -> agents
    callbacks_pending: Mapping[str, int]  # queue -> callback requests not yet done


def _empty_snapshot() -> LiveSnapshot:
    return LiveSnapshot({}, {}, {}, {})


class _LiveCollector(Collector):
    """Reads the registered sources at scrape time."""

    def __init__(self, owner: CallMetrics) -> None:
        self._owner = owner

    def collect(self) -> Iterable[Metric]:
        owner = self._owner
        snap = owner.live_source()
        waiting = GaugeMetricFamily(
            "callcenter_queue_waiting_calls", "Callers waiting in the queue now", labels=["queue"]
        )
        longest = GaugeMetricFamily(
            "callcenter_queue_longest_wait_seconds",
            "Wait of the caller waiting longest now",
            labels=["queue"],
        )
        callbacks = GaugeMetricFamily(
            "callcenter_queue_callbacks_pending", "Callback requests not yet completed", labels=["queue"]
        )
        for queue, n in sorted(snap.waiting_calls.items()):
            waiting.add_metric([queue], n)
        for queue, s in sorted(snap.longest_wait_seconds.items()):
            longest.add_metric([queue], s)
        for queue, n in sorted(snap.callbacks_pending.items()):
            callbacks.add_metric([queue], n)
        agents = GaugeMetricFamily("callcenter_agents", "Agents by state", labels=["state"])
        for state, n in sorted(snap.agents_by_state.items()):
            agents.add_metric([state], n)
        yield from (waiting, longest, callbacks, agents)

        ami = GaugeMetricFamily("callcenter_ami_connected", "1 when logged in to Asterisk's AMI")
        ami.add_metric([], 1.0 if owner.ami_connected() else 0.0)
        yield ami
        sessions = GaugeMetricFamily("callcenter_agi_sessions", "FastAGI sessions (calls held) now")
        sessions.add_metric([], float(owner.agi_sessions()))
        yield sessions
        if owner.ha_active is not None:
            active = GaugeMetricFamily(
                "callcenter_ha_active", "1 when this backend of an active/standby pair is the active one"
            )
            active.add_metric([], 1.0 if owner.ha_active() else 0.0)
            yield active

        pool = owner.db_pool
        if pool is not None:
            size, idle, max_size = pool.get_size(), pool.get_idle_size(), pool.get_max_size()
            conns = GaugeMetricFamily(
                "callcenter_db_pool_connections", "Database pool connections", labels=["state"]
            )
            conns.add_metric(["busy"], size - idle)
            conns.add_metric(["idle"], idle)
            yield conns
            limit = GaugeMetricFamily(
                "callcenter_db_pool_max_connections", "Largest size of the database pool"
            )
            limit.add_metric([], max_size)
            yield limit


class CallMetrics:
    """The process's metrics; ``render()`` gives the text exposition format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "callcenter_calls",
            "Calls that ended, by queue and outcome",
            ["queue", "outcome"],
            registry=self.registry,
        )
        self.agi_refused = Counter(
            "callcenter_agi_sessions_refused",
            "FastAGI connections refused (over the limit, unknown route, disallowed peer)",
            ["reason"],
            registry=self.registry,
        )
        self.wait = Histogram(
            "callcenter_queue_wait_seconds",
            "Time callers waited in the queue before being answered or leaving",
            ["queue"],
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.handle = Histogram(
            "callcenter_call_handle_seconds",
            "Agent handle time of answered calls (talk + hold + wrap-up)",
            ["queue"],
            buckets=HANDLE_BUCKETS,
            registry=self.registry,
        )
        self.live_source: Callable[[], LiveSnapshot] = _empty_snapshot
        self.ami_connected: Callable[[], bool] = lambda: False
        self.agi_sessions: Callable[[], int] = lambda: 0
        # Only a backend of an active/standby pair ([ha] enabled) reports callcenter_ha_active.
        self.ha_active: Callable[[], bool] | None = None
        self.db_pool: Any = None
        self.registry.register(_LiveCollector(self))

    def observe_call_end(self, queue: str, outcome: str) -> None:
        """Count a call that ended; ``queue`` is '' for calls that never reached one."""
        self.calls.labels(queue=queue or "none", outcome=outcome).inc()

    def observe_wait(self, queue: str, seconds: float) -> None:
        self.wait.labels(queue=queue).observe(max(0.0, seconds))

    def observe_handle(self, queue: str, seconds: float) -> None:
        self.handle.labels(queue=queue).observe(max(0.0, seconds))

    def render(self) -> bytes:
        data: bytes = generate_latest(self.registry)
        return data


METRICS: web.AppKey[CallMetrics] = web.AppKey("metrics", CallMetrics)

routes = web.RouteTableDef()


@routes.get("/metrics")
@public
async def metrics_endpoint(request: web.Request) -> web.Response:
    """The Prometheus text exposition of this process's metrics."""
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
