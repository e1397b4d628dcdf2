"""Random event sequences never break the router's invariants (checked against brute force)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.acd.model import (
    AcdConfig,
    AgentConfig,
    AgentState,
    CallbackGaveUp,
    CallerLeft,
    Decision,
    OverflowStep,
    QueueConfig,
    Strategy,
)
from callcenter.acd.router import AcdState
from callcenter.errors import ValidationError

QUEUES = {
    "general": QueueConfig(name="general", skills={"general": 1}, wrap_up_s=20.0, auto_pause_after=2),
    "veterans": QueueConfig(
        name="veterans",
        strategy=Strategy.SKILLS_WEIGHTED,
        skills={"veterans": 2},
        overflow=(OverflowStep(after_s=90.0, to_queue="general"),),
        callback_max_attempts=2,
        callback_retry_s=30.0,
    ),
}
AGENTS = {
    "a": AgentConfig(id="a", skills={"general": 2}),
    "b": AgentConfig(id="b", skills={"general": 1, "veterans": 3}),
    "c": AgentConfig(id="c", skills={"general": 3, "english": 1}),
    "d": AgentConfig(id="d", skills={"veterans": 2, "english": 2}),
}
#: the same agents after an admin's edit: skills moved around, one agent removed
EDITED = {
    "a": AgentConfig(id="a", skills={"general": 2, "veterans": 2}),
    "b": AgentConfig(id="b", skills={"general": 1}),
    "c": AgentConfig(id="c", skills={"general": 3, "english": 1, "veterans": 4}),
}
OPS = ("arrive", "abandon", "answer", "no_answer", "end", "login", "logout", "pause", "available",
       "callback", "callback_failed", "tick", "wrap_done", "move", "priority", "reconfigure")  # fmt: skip


def requirement(queue: str, extra: dict[str, int]) -> dict[str, int]:
    req = dict(QUEUES[queue].skills)
    for skill, level in extra.items():
        req[skill] = max(req.get(skill, 0), level)
    return req


def check(
    st_: AcdState,
    now: float,
    agent_cfgs: dict[str, AgentConfig],
    extras: dict[str, dict[str, int]],
    arrived: set[str],
    gone: set[str],
) -> None:
    agents = st_.agents(now)
    busy = [v.call_id for v in agents if v.call_id is not None]
    assert len(busy) == len(set(busy)), "a call is with two agents"
    for v in agents:
        assert (v.call_id is not None) == (v.state in (AgentState.RINGING, AgentState.ON_CALL))
    available = [agent_cfgs[v.agent_id] for v in agents if v.state is AgentState.AVAILABLE]
    live: set[str] = set(busy)
    for queue in QUEUES:
        for view in st_.waiting(queue, now):
            live.add(view.call_id)
            if view.status != "waiting":
                continue
            req = requirement(queue, extras[view.call_id])
            for agent in available:
                assert not all(agent.skills.get(s, 0) >= lv for s, lv in req.items()), (
                    f"{view.call_id} waits while {agent.id} is free"
                )
    assert live | gone == arrived, "a call was lost"
    assert not live & gone
    for queue, q in QUEUES.items():
        # The cached count a waiting caller polls equals a recount from the views.
        recount = sum(
            1
            for v in agents
            if v.state is not AgentState.LOGGED_OUT
            and v.agent_id in agent_cfgs
            and all(agent_cfgs[v.agent_id].skills.get(s, 0) >= lv for s, lv in q.skills.items())
        )
        assert st_.logged_in(queue) == recount, f"logged_in({queue}) is stale"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, len(OPS) - 1), st.integers(0, 99), st.integers(0, 40)), max_size=120)
)
def test_random_events_keep_invariants(script: list[tuple[int, int, int]]) -> None:
    """No free eligible agent beside a waiting caller, one call per agent, and no call ever lost."""
    configs = [
        AcdConfig(queues=QUEUES, agents=agents, default_queue="general") for agents in (AGENTS, EDITED)
    ]
    router = AcdState(configs[0])
    current = 0
    now, n = 0.0, 0
    extras: dict[str, dict[str, int]] = {}
    arrived: set[str] = set()
    gone: set[str] = set()
    connected: set[str] = set()

    def pick(items: list[str], k: int) -> str | None:
        return sorted(items)[k % len(items)] if items else None

    def absorb(decisions: list[Decision]) -> None:
        for d in decisions:
            if isinstance(d, CallerLeft | CallbackGaveUp):
                gone.add(d.call_id)
                connected.discard(d.call_id)

    for op_i, k, dt in script:
        now += dt
        op = OPS[op_i]
        agents = router.agents(now)
        ringing = [v.call_id for v in agents if v.state is AgentState.RINGING and v.call_id]
        waiting = [v.call_id for q in QUEUES for v in router.waiting(q, now) if v.status == "waiting"]
        agent_id = pick(list(configs[current].agents), k)
        assert agent_id is not None
        out: list[Decision] = []
        try:
            if op == "arrive":
                n += 1
                call_id = f"c{n}"
                extras[call_id] = {"english": 1} if k % 5 == 0 else {}
                arrived.add(call_id)
                out = router.caller_arrives(call_id, ("general", "veterans")[k % 2], now,
                                            priority=k % 3, skills=extras[call_id])  # fmt: skip
            elif op == "abandon" and (call := pick(waiting + ringing, k)):
                out = router.caller_abandons(call, now)
            elif op == "answer" and (call := pick(ringing, k)):
                out = router.call_answered(call, now)
                connected.add(call)
            elif op == "no_answer" and (call := pick(ringing, k)):
                out = router.ring_no_answer(call, now)
            elif op == "end" and (call := pick(sorted(connected), k)):
                out = router.call_ended(call, now)
                connected.discard(call)
                gone.add(call)
            elif op == "login":
                out = router.agent_login(agent_id, now)
            elif op == "logout":
                out = router.agent_logout(agent_id, now)
            elif op == "pause":
                out = router.agent_pause(agent_id, "break", now)
            elif op == "available":
                out = router.agent_available(agent_id, now)
            elif op == "callback" and (call := pick(waiting, k)):
                out = router.request_callback(call, now)
            elif op == "callback_failed" and (call := pick(ringing, k)):
                out = router.callback_failed(call, now)
            elif op == "tick":
                out = router.tick(now)
            elif op == "wrap_done":
                out = router.wrap_up_done(agent_id, now)
            elif op == "move" and (call := pick(waiting, k)):
                out = router.move_caller(call, ("general", "veterans")[k % 2], now)
            elif op == "priority" and (call := pick(waiting, k)):
                out = router.set_priority(call, k % 4, now)
            elif op == "reconfigure":
                current = 1 - current
                out = router.reconfigure(configs[current], now)
        except ValidationError:
            pass  # e.g. pausing a logged-out agent: refused, state unchanged
        absorb(out)
        check(router, now, dict(configs[current].agents), extras, arrived, gone)
