"""Parse ``queue/*.yaml`` text into frozen ACD configuration, validating everything at once.

The adapter reads ``queues.yaml``, ``agents.yaml``, ``skills.yaml`` and ``hours.yaml`` and
passes their text here (PyYAML on a string is not I/O). Every problem found, in any file, is
collected and raised together as one ``ConfigError`` whose lines read ``file:line:column:
message``; a configuration is either valid as a whole or not applied at all, so an admin's typo
never half-applies. The result feeds ``AcdState(config, schedules=...)`` at start-up and
``AcdState.reconfigure(config, now, schedules=...)`` at run time. The format is documented in
``queue/README.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yaml.nodes import Node

from callcenter.acd.hours import Interval, Schedule, ScheduleBook
from callcenter.acd.model import AcdConfig, AgentConfig, OverflowStep, QueueConfig, SkillConfig, Strategy
from callcenter.acd.yamlnodes import Doc
from callcenter.errors import ConfigError, ValidationError

__all__ = ["ACD_FILES", "LoadedAcd", "load_acd_config"]

#: the files of ``queue/`` this loader needs, by base name
ACD_FILES = ("skills.yaml", "queues.yaml", "agents.yaml", "hours.yaml")
MAX_LEVEL = 5
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_QUEUE_KEYS = frozenset(
    {
        "title", "strategy", "skills", "schedule", "service_level", "max_wait_s", "overflow",
        "wrap_up_s", "ring_timeout_s", "auto_pause_after", "priority_step_s", "skill_weight_s",
        "default_aht_s", "callback", "close_waiting",
    }
)  # fmt: skip


@dataclass(frozen=True)
class LoadedAcd:
    """What the four files define: routing configuration and working-hours schedules."""

    config: AcdConfig
    schedules: ScheduleBook


def load_acd_config(texts: Mapping[str, str]) -> LoadedAcd:
    """Parse the four files (keys are their paths, told apart by base name); ``ConfigError`` lists all problems."""
    problems: list[str] = []
    by_name = {PurePath(path).name: path for path in texts}
    docs: dict[str, Doc] = {}
    for name in ACD_FILES:
        if name not in by_name:
            problems.append(f"{name}: file missing")
        else:
            docs[name] = Doc(by_name[name], texts[by_name[name]], problems)
    if problems:
        raise ConfigError(problems)
    skills = _skills(docs["skills.yaml"])
    schedules = _hours(docs["hours.yaml"])
    config = _queues(docs["queues.yaml"], skills, schedules)
    agents = _agents(docs["agents.yaml"], skills)
    if problems:
        raise ConfigError(problems)
    return LoadedAcd(config=_with_agents(config, agents, skills), schedules=schedules)


def _with_agents(
    config: AcdConfig, agents: dict[str, AgentConfig], skills: dict[str, SkillConfig]
) -> AcdConfig:
    return AcdConfig(
        queues=config.queues,
        agents=agents,
        skills=skills,
        default_queue=config.default_queue,
        priority_categories=config.priority_categories,
        aht_alpha=config.aht_alpha,
    )


# ---- skills.yaml ------------------------------------------------------------------------------


def _skills(doc: Doc) -> dict[str, SkillConfig]:
    top = doc.mapping(doc.root, "skills.yaml", frozenset({"skills"}))
    if "skills" not in top:
        doc.error(doc.root, "skills.yaml needs a 'skills' mapping")
    out: dict[str, SkillConfig] = {}
    for name, node in doc.mapping(top.get("skills"), "skills").items():
        fields = doc.mapping(node, f"skill {name}", frozenset({"title"}))
        out[name] = SkillConfig(name=name, title=doc.string(fields.get("title"), "title") or "")
    return out


# ---- agents.yaml ------------------------------------------------------------------------------


def _levels(doc: Doc, node: Node | None, what: str, skills: Mapping[str, SkillConfig]) -> dict[str, int]:
    out: dict[str, int] = {}
    for skill, level_node in doc.mapping(node, what).items():
        if skill not in skills:
            doc.error(level_node, f"{what}: unknown skill {skill!r} (see skills.yaml)")
        level = doc.integer(level_node, f"{what}.{skill}", minimum=1, maximum=MAX_LEVEL)
        if level is not None:
            out[skill] = level
    return out


def _agents(doc: Doc, skills: Mapping[str, SkillConfig]) -> dict[str, AgentConfig]:
    top = doc.mapping(doc.root, "agents.yaml", frozenset({"agents"}))
    out: dict[str, AgentConfig] = {}
    for item in doc.sequence(top.get("agents"), "agents"):
        fields = doc.mapping(item, "agent", frozenset({"id", "name", "device", "skills"}))
        agent_id = doc.string(fields.get("id"), "agent id")
        if "id" not in fields:
            doc.error(item, "agent needs an id")
        if agent_id is None:
            continue
        if agent_id in out:
            doc.error(fields["id"], f"duplicate agent id {agent_id!r}")
            continue
        levels = _levels(doc, fields.get("skills"), f"agent {agent_id} skills", skills)
        out[agent_id] = AgentConfig(
            id=agent_id,
            name=doc.string(fields.get("name"), "name") or "",
            device=doc.string(fields.get("device"), "device") or "",
            skills=levels,
        )
    return out


# ---- queues.yaml ------------------------------------------------------------------------------


def _queues(doc: Doc, skills: Mapping[str, SkillConfig], schedules: ScheduleBook) -> AcdConfig:
    allowed = frozenset({"queues", "default_queue", "priority_categories", "aht_alpha"})
    top = doc.mapping(doc.root, "queues.yaml", allowed)
    queues: dict[str, QueueConfig] = {}
    targets: dict[str, list[tuple[str, Node]]] = {}
    for name, node in doc.mapping(top.get("queues"), "queues").items():
        queue, overflow_nodes = _queue(doc, name, node, skills, schedules)
        queues[name] = queue
        targets[name] = overflow_nodes
    if not queues:
        doc.error(doc.root, "queues.yaml defines no queue")
    for name, refs in targets.items():
        for target, node in refs:
            if target not in queues:
                doc.error(node, f"queue {name}: overflow to unknown queue {target!r}")
    _check_overflow_cycles(doc, queues, targets)
    default = doc.string(top.get("default_queue"), "default_queue")
    if default is not None and default not in queues:
        doc.error(top["default_queue"], f"default_queue {default!r} is not a queue")
    categories: dict[str, int] = {}
    for cat, node in doc.mapping(top.get("priority_categories"), "priority_categories").items():
        level = doc.integer(node, f"priority_categories.{cat}", minimum=0, maximum=10)
        if level is not None:
            categories[cat] = level
    alpha = doc.number(top.get("aht_alpha"), "aht_alpha")
    if alpha is not None and not 0 < alpha <= 1:
        doc.error(top["aht_alpha"], "aht_alpha must be in (0, 1]")
    return AcdConfig(
        queues=queues,
        default_queue=default,
        priority_categories=categories,
        aht_alpha=alpha if alpha is not None and 0 < alpha <= 1 else AcdConfig.aht_alpha,
    )


def _queue(
    doc: Doc, name: str, node: Node, skills: Mapping[str, SkillConfig], schedules: ScheduleBook
) -> tuple[QueueConfig, list[tuple[str, Node]]]:
    f = doc.mapping(node, f"queue {name}", _QUEUE_KEYS)
    what = f"queue {name}"
    kw: dict[str, object] = {"name": name, "title": doc.string(f.get("title"), f"{what}.title") or ""}
    strategy = doc.string(f.get("strategy"), f"{what}.strategy")
    if strategy is not None:
        try:
            kw["strategy"] = Strategy(strategy)
        except ValueError:
            choices = ", ".join(s.value for s in Strategy)
            doc.error(f["strategy"], f"{what}.strategy {strategy!r} is not one of {choices}")
    kw["skills"] = _levels(doc, f.get("skills"), f"{what} skills", skills)
    schedule = doc.string(f.get("schedule"), f"{what}.schedule")
    if schedule is not None and schedule not in schedules.schedules:
        doc.error(f["schedule"], f"{what}: unknown schedule {schedule!r} (see hours.yaml)")
    kw["schedule"] = schedule
    sl = doc.mapping(f.get("service_level"), f"{what}.service_level", frozenset({"target_s", "goal"}))
    target, goal = doc.number(sl.get("target_s"), "target_s"), doc.number(sl.get("goal"), "goal")
    if goal is not None and goal > 1:
        doc.error(sl["goal"], f"{what}.service_level.goal is a share from 0 to 1 (0.8 = 80 %)")
    kw.update(sl_target_s=target, sl_goal=goal)
    for key in ("max_wait_s", "wrap_up_s", "ring_timeout_s", "default_aht_s", "skill_weight_s"):
        kw[key] = doc.number(f.get(key), f"{what}.{key}")
    step = doc.number(f.get("priority_step_s"), f"{what}.priority_step_s", minimum=1.0)
    kw["priority_step_s"] = step
    kw["close_waiting"] = doc.boolean(f.get("close_waiting"), f"{what}.close_waiting")
    kw["auto_pause_after"] = doc.integer(f.get("auto_pause_after"), f"{what}.auto_pause_after")
    cb = doc.mapping(f.get("callback"), f"{what}.callback", frozenset({"max_attempts", "retry_s"}))
    kw["callback_max_attempts"] = doc.integer(cb.get("max_attempts"), "callback.max_attempts", minimum=1)
    kw["callback_retry_s"] = doc.number(cb.get("retry_s"), "callback.retry_s")
    steps: list[OverflowStep] = []
    refs: list[tuple[str, Node]] = []
    last = 0.0
    for item in doc.sequence(f.get("overflow"), f"{what}.overflow"):
        s = doc.mapping(item, f"{what} overflow step", frozenset({"after_s", "to_queue", "widen_skills"}))
        after = doc.number(s.get("after_s"), "after_s", minimum=1.0)
        to_queue = doc.string(s.get("to_queue"), "to_queue")
        widen = bool(doc.boolean(s.get("widen_skills"), "widen_skills"))
        if after is None:
            doc.error(item, f"{what}: an overflow step needs after_s")
            continue
        if (to_queue is None) == (not widen):
            doc.error(item, f"{what}: an overflow step needs either to_queue or widen_skills: true")
            continue
        if after <= last:
            doc.error(s["after_s"], f"{what}: overflow steps must come in increasing after_s")
        last = after
        if to_queue is not None:
            refs.append((to_queue, s["to_queue"]))
        steps.append(OverflowStep(after_s=after, to_queue=to_queue, widen_skills=widen))
    kw["overflow"] = tuple(steps)
    return QueueConfig(**{k: v for k, v in kw.items() if v is not None}), refs  # type: ignore[arg-type]


def _check_overflow_cycles(
    doc: Doc, queues: Mapping[str, QueueConfig], refs: dict[str, list[tuple[str, Node]]]
) -> None:
    """A caller bounced round a cycle of overflow queues would never leave: forbid cycles."""
    for start in queues:
        seen, stack = {start}, [start]
        while stack:
            current = stack.pop()
            for target, node in refs.get(current, []):
                if target == start:
                    doc.error(
                        node, f"overflow from {current!r} to {target!r} closes a cycle through {start!r}"
                    )
                    return
                if target in queues and target not in seen:
                    seen.add(target)
                    stack.append(target)


# ---- hours.yaml -------------------------------------------------------------------------------


def _hours(doc: Doc) -> ScheduleBook:
    top = doc.mapping(doc.root, "hours.yaml", frozenset({"timezone", "holidays", "schedules"}))
    tz = doc.string(top.get("timezone"), "timezone") or "Europe/Kyiv"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        doc.error(top.get("timezone"), f"unknown time zone {tz!r}")
        tz = "Europe/Kyiv"
    hol = doc.mapping(top.get("holidays"), "holidays", frozenset({"country", "categories", "local"}))
    country = doc.string(hol.get("country"), "holidays.country") if "country" in hol else "UA"
    categories = tuple(
        c
        for c in (
            doc.string(n, "holiday category") for n in doc.sequence(hol.get("categories"), "categories")
        )
        if c
    ) or ("public",)
    local: dict[date, str] = {}
    for item in doc.sequence(hol.get("local"), "holidays.local"):
        f = doc.mapping(item, "local holiday", frozenset({"date", "name"}))
        day = doc.day(f.get("date"), "date")
        if day is not None:
            local[day] = doc.string(f.get("name"), "name") or "local holiday"
    schedules: dict[str, Schedule] = {}
    allowed = frozenset({"title", "weekly", "closed_on_holidays", "closed_days", "open_days"})
    for name, node in doc.mapping(top.get("schedules"), "schedules").items():
        f = doc.mapping(node, f"schedule {name}", allowed)
        weekly: dict[int, tuple[Interval, ...]] = {}
        for days_text, value in doc.mapping(f.get("weekly"), f"schedule {name}.weekly").items():
            days = _day_set(days_text)
            if days is None:
                doc.error(value, f"schedule {name}: bad days {days_text!r} (use mon, mon-fri, sat,sun …)")
                continue
            for d in days:
                if d in weekly:
                    doc.error(value, f"schedule {name}: {_DAYS[d]} is given twice")
                weekly[d] = _intervals(doc, value, f"schedule {name}.weekly.{days_text}")
        closed: set[date] = set()
        for item in doc.sequence(f.get("closed_days"), "closed_days"):
            c = doc.mapping(item, "closed day", frozenset({"date", "reason"}))
            day = doc.day(c.get("date"), "date")
            if day is not None:
                closed.add(day)
        open_days: dict[date, tuple[Interval, ...]] = {}
        for item in doc.sequence(f.get("open_days"), "open_days"):
            o = doc.mapping(item, "open day", frozenset({"date", "hours", "reason"}))
            day = doc.day(o.get("date"), "date")
            if day is not None:
                open_days[day] = _intervals(doc, o.get("hours"), f"schedule {name} open day {day}")
        on_holidays = doc.boolean(f.get("closed_on_holidays"), "closed_on_holidays")
        schedules[name] = Schedule(
            name=name,
            title=doc.string(f.get("title"), "title") or "",
            weekly=weekly,
            closed_on_holidays=True if on_holidays is None else on_holidays,
            closed_days=frozenset(closed),
            open_days=open_days,
        )
    book = ScheduleBook(schedules, tz=tz, country=country, categories=categories, local_holidays=local)
    try:
        book.holiday_name(date(2024, 1, 1))  # builds the library calendar once, to validate it now
    except (NotImplementedError, KeyError, ValueError) as exc:
        doc.error(hol.get("country") or hol.get("categories"), f"no holiday calendar for {country!r}: {exc}")
        return ScheduleBook(schedules, tz=tz, country=None, local_holidays=local)
    return book


def _day_set(text: str) -> list[int] | None:
    days: list[int] = []
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            return None
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        if b < a:
            return None
        days.extend(range(a, b + 1))
    return days


def _intervals(doc: Doc, node: Node | None, what: str) -> tuple[Interval, ...]:
    if node is None:
        doc.problems.append(f"{doc.path}: {what}: hours missing")
        return ()
    items = doc.sequence(node, what) if not isinstance(doc.value(node), str) else [node]
    out: list[Interval] = []
    for item in items:
        text = doc.string(item, what)
        if text is None:
            continue
        try:
            out.append(Interval.parse(text))
        except ValidationError as exc:
            doc.error(item, f"{what}: {exc}")
    ordered = sorted(out)
    for a, b in itertools.pairwise(ordered):
        if b.start < a.end:
            doc.error(node, f"{what}: intervals {a} and {b} overlap")
    return tuple(ordered)
