"""The Grafana dashboard in ``deploy/grafana`` is built only on metrics ``/metrics`` really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from callcenter.web.metrics import METRICS, LiveSnapshot
from tests.integration.test_auth_support import make_app
from tests.unit.test_live_stats import Script

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "callcenter-dashboard.json"
_METRIC = re.compile(r"\b(callcenter_[a-z0-9_]+)\b")
_BY = re.compile(r"\bby \(([^)]*)\)")
#: What the issue asks the dashboard to show, by the metric that carries it.
REQUIRED = {
    "callcenter_queue_waiting_calls",
    "callcenter_queue_longest_wait_seconds",
    "callcenter_calls_total",
    "callcenter_agents",
    "callcenter_queue_wait_seconds_bucket",
    "callcenter_call_handle_seconds_bucket",
    "callcenter_ami_connected",
    "callcenter_agi_sessions",
    "callcenter_db_pool_connections",
}


def expressions(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of the dashboard: panel targets and template variable queries."""
    found = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    found += [v["definition"] for v in dashboard.get("templating", {}).get("list", []) if v.get("definition")]
    return found


def exported(text: str) -> dict[str, set[str]]:
    """Sample name → label names, from a text exposition (parsed by the Prometheus parser)."""
    samples: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, set()).update(sample.labels)
    return samples


def problems(exprs: list[str], samples: dict[str, set[str]]) -> list[str]:
    """Metrics an expression names that are not exported, and ``by`` labels they do not carry."""
    out: list[str] = []
    for expr in exprs:
        names = _METRIC.findall(expr)
        if not names:
            out.append(f"no callcenter metric in {expr!r}")
        for name in names:
            if name not in samples:
                out.append(f"{name} is not exported ({expr!r})")
                continue
            for group in _BY.findall(expr):
                for label in (part.strip() for part in group.split(",")):
                    if label and label != "le" and label not in samples[name]:
                        out.append(f"{name} has no label {label!r} ({expr!r})")
    return out


async def scrape(pool: Any) -> str:
    """``/metrics`` of the real app after one call of each kind was observed."""
    app = make_app(pool)
    metrics = app[METRICS]
    metrics.live_source = lambda: LiveSnapshot(
        {"general": 2}, {"general": 31.5}, {"available": 3}, {"general": 1}
    )
    metrics.ami_connected = lambda: True
    metrics.agi_sessions = lambda: 4
    metrics.observe_call_end("general", "answered")
    metrics.agi_refused.labels(reason="over_limit").inc()
    # The wait and handle histograms are fed by the wallboard's live stats as calls finish.
    script = Script()
    script.stats.observer = metrics
    script.scenario()
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        return await response.text()


async def test_every_dashboard_metric_is_exported(db_pool: Any) -> None:
    """Each metric and grouping label the dashboard queries appears in a real scrape."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    text = await scrape(db_pool)
    samples = exported(text)
    assert 'callcenter_queue_wait_seconds_count{queue="general"} 4.0' in text
    assert 'callcenter_call_handle_seconds_count{queue="general"} 2.0' in text
    exprs = expressions(dashboard)
    assert problems(exprs, samples) == []
    used = {name for expr in exprs for name in _METRIC.findall(expr)}
    assert REQUIRED <= used, REQUIRED - used


async def test_checker_catches_a_wrong_name(db_pool: Any) -> None:
    """A misspelt metric or a label it does not have is reported (the check above can fail)."""
    samples = exported(await scrape(db_pool))
    assert problems(["sum(rate(callcenter_call_total[5m]))"], samples) == [
        "callcenter_call_total is not exported ('sum(rate(callcenter_call_total[5m]))')"
    ]
    assert problems(["sum by (agent) (callcenter_agents)"], samples) == [
        "callcenter_agents has no label 'agent' ('sum by (agent) (callcenter_agents)')"
    ]


def test_dashboard_is_importable_json() -> None:
    """The file is one dashboard object with unique panel ids, each with a title and a datasource."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"] and dashboard["schemaVersion"] >= 36
    assert all(p["title"] and p["datasource"]["type"] == "prometheus" for p in dashboard["panels"])
