"""Loading queue/*.yaml: the shipped files are valid, and every mistake is reported with file:line:column."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.acd.loader import load_acd_config
from callcenter.acd.model import AgentState, Assignment, CallerLeft, OverflowStep, Strategy
from callcenter.acd.router import AcdState
from callcenter.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
QUEUE_DIR = REPO_ROOT / "queue"


def shipped() -> dict[str, str]:
    return {f"queue/{p.name}": p.read_text(encoding="utf-8") for p in sorted(QUEUE_DIR.glob("*.yaml"))}


def problems_of(texts: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_acd_config(texts)
    return info.value.problems


def test_shipped_files_load() -> None:
    """The queue definitions shipped in queue/ are valid and describe the hotline's queues."""
    loaded = load_acd_config(shipped())
    config = loaded.config
    assert {"general", "veterans", "utilities", "social", "psych", "idp"} <= set(config.queues)
    assert config.queues["veterans"].strategy is Strategy.SKILLS_WEIGHTED
    assert config.queues["veterans"].overflow[-1] == OverflowStep(after_s=120.0, to_queue="general")
    assert config.default_queue == "general"
    assert config.priority_of(["war_invalid", "chernobyl"]) == 3
    assert config.agents["op103"].skills["veterans"] == 5
    assert set(loaded.schedules.schedules) >= {"always", "office"}


def test_shipped_files_drive_a_router() -> None:
    """A router built from the shipped files routes a veteran's call to a veterans-skilled agent."""
    loaded = load_acd_config(shipped())
    st = AcdState(loaded.config, schedules=loaded.schedules)
    st.agent_login("op101", 0.0)  # no veterans skill
    st.agent_login("op104", 1.0)  # veterans 3
    out = st.caller_arrives("c1", "veterans", 1.7e9, priority=3)
    (a,) = [d for d in out if isinstance(d, Assignment)]
    assert a.agent_id == "op104"
    assert st.agent_state("op101") is AgentState.AVAILABLE


def test_errors_carry_file_line_and_column() -> None:
    """A bad value is reported at the line and column where it is written."""
    texts = shipped()
    texts["queue/queues.yaml"] = texts["queue/queues.yaml"].replace(
        "strategy: round_robin", "strategy: random_pick"
    )
    (problem,) = problems_of(texts)
    line = next(
        i for i, text in enumerate(texts["queue/queues.yaml"].splitlines(), 1) if "random_pick" in text
    )
    assert problem.startswith(f"queue/queues.yaml:{line}:15: ")
    assert "random_pick" in problem and "longest_idle" in problem


def test_all_problems_are_reported_together() -> None:
    """Unknown skills, schedules and overflow targets in several files are all listed at once."""
    texts = shipped()
    texts["queue/agents.yaml"] = texts["queue/agents.yaml"].replace("english: 3", "klingon: 3")
    texts["queue/queues.yaml"] = (
        texts["queue/queues.yaml"]
        .replace("schedule: office", "schedule: night", 1)
        .replace("to_queue: general}", "to_queue: nowhere}", 1)
    )
    problems = problems_of(texts)
    assert len(problems) == 3
    assert any(p.startswith("queue/agents.yaml:") and "klingon" in p for p in problems)
    assert any("unknown schedule 'night'" in p for p in problems)
    assert any("unknown queue 'nowhere'" in p for p in problems)


def test_overflow_cycle_is_rejected() -> None:
    """Two queues overflowing into each other are rejected."""
    texts = shipped()
    texts["queue/queues.yaml"] = texts["queue/queues.yaml"].replace(
        "      - {after_s: 180, widen_skills: true}\n    wrap_up_s: 30\n    ring_timeout_s: 15",
        "      - {after_s: 180, to_queue: idp}\n    wrap_up_s: 30\n    ring_timeout_s: 15",
    )
    assert any("cycle" in p for p in problems_of(texts))


def test_invalid_yaml_and_levels_and_hours() -> None:
    """Broken YAML syntax, out-of-range skill levels and malformed hours are reported with positions."""
    texts = shipped()
    texts["queue/skills.yaml"] = "skills:\n  general: [unclosed\n"
    assert problems_of(texts)[0].startswith("queue/skills.yaml:")
    texts = shipped()
    texts["queue/agents.yaml"] = "agents:\n  - {id: x, skills: {general: 9}}\n  - {id: x}\n"
    problems = problems_of(texts)
    assert any(p.startswith("queue/agents.yaml:2:") and "from 1 to 5" in p for p in problems)
    assert any(p.startswith("queue/agents.yaml:3:") and "duplicate agent id" in p for p in problems)
    texts = shipped()
    texts["queue/hours.yaml"] = texts["queue/hours.yaml"].replace('"08:00-17:00"', '"17:00-08:00"')
    assert any("start must be before end" in p for p in problems_of(texts))


def test_missing_file_is_reported() -> None:
    """All four files are required."""
    texts = shipped()
    del texts["queue/hours.yaml"]
    assert problems_of(texts) == ["hours.yaml: file missing"]


def test_unknown_key_is_reported() -> None:
    """A misspelt setting is an error, not silently ignored."""
    texts = shipped()
    texts["queue/queues.yaml"] = texts["queue/queues.yaml"].replace("wrap_up_s: 120", "wrapup_s: 120")
    (problem,) = problems_of(texts)
    assert "unknown key 'wrapup_s'" in problem


def test_admin_edit_is_applied_at_run_time_without_losing_callers() -> None:
    """Removing the idp queue from queues.yaml and reloading moves its waiting callers to general."""
    loaded = load_acd_config(shipped())
    st = AcdState(loaded.config, schedules=loaded.schedules)
    st.caller_arrives("idp-1", "idp", 1.7e9)
    st.caller_arrives("gen-1", "general", 1.7e9 + 10)
    texts = shipped()
    text = texts["queue/queues.yaml"]
    start = text.index("  idp:\n")
    end = text.index("  psych:\n")
    texts["queue/queues.yaml"] = text[:start] + text[end:]
    edited = load_acd_config(texts)
    assert "idp" not in edited.config.queues
    st.reconfigure(edited.config, 1.7e9 + 20, schedules=edited.schedules)
    assert [v.call_id for v in st.waiting("general", 1.7e9 + 20)] == ["idp-1", "gen-1"]


def test_office_queue_turns_callers_away_on_saturday() -> None:
    """The utilities queue (Mon–Fri 08:00–17:00 Kyiv) refuses a caller on a Saturday and takes one on Monday."""
    loaded = load_acd_config(shipped())
    st = AcdState(loaded.config, schedules=loaded.schedules)
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("Europe/Kyiv")).timestamp()
    monday = datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Europe/Kyiv")).timestamp()
    assert st.caller_arrives("c1", "utilities", saturday) == [CallerLeft("c1", "utilities", "closed", 0.0)]
    assert st.caller_arrives("c2", "utilities", monday) == []
    assert st.position("c2") == 1
