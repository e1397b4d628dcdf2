"""``/metrics``: the exposition parses with Prometheus' own parser and carries our numbers."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from callcenter.app import Database, create_web_app
from callcenter.config import Settings
from callcenter.web.health import HealthRegistry
from callcenter.web.metrics import CallMetrics, LiveSnapshot


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_metrics_parse_and_report_events_and_live_state(db_pool: Any) -> None:
    """Counters, histograms and scrape-time gauges all appear with the values fed in."""
    call_metrics = CallMetrics()
    call_metrics.live_source = lambda: LiveSnapshot(
        waiting_calls={"general": 3},
        longest_wait_seconds={"general": 42.5},
        agents_by_state={"available": 2, "on_call": 5},
        callbacks_pending={"general": 1},
    )
    call_metrics.ami_connected = lambda: True
    call_metrics.agi_sessions = lambda: 8
    call_metrics.observe_call_end("general", "answered")
    call_metrics.observe_call_end("general", "answered")
    call_metrics.observe_call_end("", "abandoned_ivr")
    call_metrics.observe_wait("general", 12.0)
    call_metrics.observe_handle("general", 250.0)
    app = create_web_app(Settings(), Database(pool=db_pool, dsn=""), HealthRegistry(), call_metrics)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        values = samples(await response.text())
    assert values[("callcenter_calls_total", (("outcome", "answered"), ("queue", "general")))] == 2
    assert values[("callcenter_calls_total", (("outcome", "abandoned_ivr"), ("queue", "none")))] == 1
    assert values[("callcenter_queue_waiting_calls", (("queue", "general"),))] == 3
    assert values[("callcenter_queue_longest_wait_seconds", (("queue", "general"),))] == 42.5
    assert values[("callcenter_agents", (("state", "on_call"),))] == 5
    assert values[("callcenter_ami_connected", ())] == 1
    assert values[("callcenter_agi_sessions", ())] == 8
    assert values[("callcenter_queue_wait_seconds_bucket", (("le", "15.0"), ("queue", "general")))] == 1
    assert values[("callcenter_queue_wait_seconds_bucket", (("le", "10.0"), ("queue", "general")))] == 0
    assert values[("callcenter_call_handle_seconds_sum", (("queue", "general"),))] == 250.0
    assert values[("callcenter_db_pool_max_connections", ())] == 10
    busy = values[("callcenter_db_pool_connections", (("state", "busy"),))]
    idle = values[("callcenter_db_pool_connections", (("state", "idle"),))]
    assert busy >= 0 and idle >= 0


def test_two_metric_sets_do_not_share_counters() -> None:
    """Each CallMetrics has its own registry (no global state between apps or tests)."""
    a, b = CallMetrics(), CallMetrics()
    a.observe_call_end("q", "answered")
    assert b"callcenter_calls_total{" not in b.render()
    assert b'callcenter_calls_total{outcome="answered",queue="q"} 1.0' in a.render()
