"""Benchmark: one ACD routing decision with 1,000 agents and 10,000 waiting callers, vs a naive scan.

Set-up: 10 queues (one skill each, mixed strategies), 1,000 agents with three skills each at
random levels, every agent on a call, 10,000 callers waiting with random queues, priorities
(0–3) and, for 5 %, an extra language skill. The same seeded event stream drives both routers:

* **agent frees** — an agent's call ends (no wrap-up) and the router picks the caller it rings:
  the best effective priority (priority + wait / step) among the callers the agent can take;
* **caller arrives** — a new caller joins while no eligible agent is free.

The peer is a naive router with the same rules that scans every waiting caller (or every agent)
per decision: what a straightforward implementation does. Both must pick the same caller for
every decision; the run stops if they ever differ. Timings are per decision (perf_counter_ns),
reported as median and p99; DESIGN.md's target is median < 50 µs, p99 < 500 µs, ≥ 100× naive.

    .venv/bin/python bench/bench_acd_routing.py [--agents 1000] [--waiting 10000] [--decisions 5000]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from callcenter.acd.model import AcdConfig, AgentConfig, Assignment, Decision, QueueConfig, Strategy
from callcenter.acd.router import AcdState

QUEUES = 10
STEP_S = 60.0
STRATEGIES = list(Strategy)


@dataclass
class NaiveCaller:
    call_id: str
    queue: str
    priority: int
    needs: dict[str, int]
    arrival: float
    seq: int


@dataclass
class NaiveAgent:
    agent_id: str
    skills: dict[str, int]
    free: bool = False
    idle_since: float = 0.0
    call_id: str | None = None


@dataclass
class NaiveRouter:
    """Same routing rules, no indexes: every decision scans all callers or all agents."""

    queues: dict[str, QueueConfig]
    agents: dict[str, NaiveAgent]
    waiting: list[NaiveCaller] = field(default_factory=list)
    seq: int = 0

    def caller_arrives(
        self,
        call_id: str,
        queue: str,
        now: float,
        priority: int,
        skills: dict[str, int],
        chosen: str | None,
        scan: bool = True,
    ) -> bool:
        """Queue the caller, or give it to ``chosen`` (the agent the real router rang, so both
        routers stay in the same state whatever the queue's strategy). Returns whether any
        eligible agent was free, found by scanning all agents (unless ``scan`` is off)."""
        needs = dict(self.queues[queue].skills)
        for skill, level in skills.items():
            needs[skill] = max(needs.get(skill, 0), level)
        self.seq += 1
        free = [
            a.agent_id
            for a in self.agents.values()
            if scan and a.free and all(a.skills.get(s, 0) >= lv for s, lv in needs.items())
        ]
        if not scan and chosen is not None:
            free = [chosen]
        if chosen is None:
            self.waiting.append(NaiveCaller(call_id, queue, priority, needs, now, self.seq))
        elif chosen in free:
            agent = self.agents[chosen]
            agent.free, agent.call_id = False, call_id
        else:
            raise SystemExit(f"{chosen} was not free and eligible for {call_id}")
        return bool(free)

    def agent_frees(self, agent_id: str, now: float) -> str | None:
        agent = self.agents[agent_id]
        best_i, best_key = -1, (0.0, 0)
        for i, c in enumerate(self.waiting):
            if all(agent.skills.get(s, 0) >= lv for s, lv in c.needs.items()):
                # priority·step + wait, in seconds: exact for the dyadic times used here
                key = (-(c.priority * STEP_S + (now - c.arrival)), c.seq)
                if best_i < 0 or key < best_key:
                    best_i, best_key = i, key
        if best_i < 0:
            agent.free, agent.idle_since, agent.call_id = True, now, None
            return None
        caller = self.waiting.pop(best_i)
        agent.call_id = caller.call_id
        return caller.call_id


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def assigned(decisions: list[Decision]) -> str | None:
    return next((d.call_id for d in decisions if isinstance(d, Assignment)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--naive-decisions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    skills = [f"topic{i}" for i in range(QUEUES)]
    queues = {
        f"q{i}": QueueConfig(
            name=f"q{i}", strategy=STRATEGIES[i % 4], skills={skills[i]: 1}, priority_step_s=STEP_S
        )
        for i in range(QUEUES)
    }
    agent_cfgs = {}
    for i in range(args.agents):
        levels = {s: rng.randint(1, 5) for s in rng.sample(skills, 3)}
        if rng.random() < 0.2:
            levels["english"] = rng.randint(1, 3)
        agent_cfgs[f"a{i}"] = AgentConfig(id=f"a{i}", skills=levels)
    ours = AcdState(AcdConfig(queues=queues, agents=agent_cfgs))
    naive = NaiveRouter(queues, {a.id: NaiveAgent(a.id, dict(a.skills)) for a in agent_cfgs.values()})

    now = 0.0
    counter = 0
    on_call: list[str] = []  # agents on a call, in the same order for both routers
    call_of: dict[str, str] = {}  # agent on a call → its call

    def new_caller() -> tuple[str, str, int, dict[str, int]]:
        nonlocal counter
        counter += 1
        extra = {"english": 1} if rng.random() < 0.05 else {}
        return f"c{counter}", rng.choice(list(queues)), rng.choice((0, 0, 0, 1, 2, 3)), extra

    # Every agent logs in and gets a call; then 10,000 callers queue behind them.
    for agent_id in agent_cfgs:
        ours.agent_login(agent_id, now)
        naive.agents[agent_id].free = True

    def arrive(with_naive: bool, scan: bool = True) -> tuple[bool, int]:
        """A new caller arrives (at both routers if ``with_naive``); returns (assigned, ns spent by ours)."""
        call_id, queue, priority, extra = new_caller()
        t0 = time.perf_counter_ns()
        decisions = ours.caller_arrives(call_id, queue, now, priority=priority, skills=extra)
        spent = time.perf_counter_ns() - t0
        ring = next((d for d in decisions if isinstance(d, Assignment)), None)
        chosen = ring.agent_id if ring is not None else None
        if with_naive and naive.caller_arrives(call_id, queue, now, priority, extra, chosen) != (
            ring is not None
        ):
            raise SystemExit(f"routers disagree on whether an agent is free for {call_id}")
        if ring is not None:
            ours.call_answered(call_id, now)
            on_call.append(ring.agent_id)
            call_of[ring.agent_id] = call_id
        return ring is not None, spent

    # Times are multiples of 1/64 s so that both routers' priority arithmetic is exact and ties
    # break the same way (by arrival order).
    while len(on_call) < args.agents:
        now += 1 / 64
        arrive(with_naive=True)
    # Fill the queue to the target: callers arriving now find no free eligible agent.
    while len(naive.waiting) < args.waiting:
        now += 1 / 64
        if arrive(with_naive=True, scan=False)[0]:
            raise SystemExit("an agent was free while filling the queue")
    print(f"agents {args.agents}, waiting {len(naive.waiting)}, queues {QUEUES}")

    def run(decisions: int, with_naive: bool) -> tuple[list[float], list[float], list[float]]:
        """Agent frees → ring a caller → answered; a new caller arrives. Returns per-decision ns.

        With ``with_naive`` the naive router makes the same decisions and must pick the same
        caller; without it only ours runs (the naive state is left behind)."""
        nonlocal now
        free_ns: list[float] = []
        naive_ns: list[float] = []
        arrive_ns: list[float] = []
        clock: Callable[[], int] = time.perf_counter_ns
        for _ in range(decisions):
            now += 1.0
            agent_id = on_call.pop(rng.randrange(len(on_call)))
            call_id = call_of.pop(agent_id)
            t0 = clock()
            picked = assigned(ours.call_ended(call_id, now))
            t1 = clock()
            free_ns.append(t1 - t0)
            if with_naive:
                naive_pick = naive.agent_frees(agent_id, now)
                naive_ns.append(clock() - t1)
                if picked != naive_pick:
                    raise SystemExit(f"routers disagree: ours {picked}, naive {naive_pick}")
            if picked is not None:
                ours.call_answered(picked, now)
                on_call.append(agent_id)
                call_of[agent_id] = picked
            _, spent = arrive(with_naive=with_naive)
            arrive_ns.append(spent)
        return free_ns, naive_ns, arrive_ns

    gc.collect()
    _, naive_ns, _ = run(args.naive_decisions, with_naive=True)
    print(f"naive and ours picked the same caller in all {len(naive_ns)} compared decisions")
    gc.collect()
    free_ns, _, arrive_ns = run(args.decisions, with_naive=False)
    print(f"waiting at the end: {sum(ours.queue_stats(q, now).waiting for q in queues)}")

    def show(name: str, ns: list[float]) -> tuple[float, float]:
        med, p99 = statistics.median(ns) / 1000, percentile(ns, 0.99) / 1000
        print(f"{name:<32} n={len(ns):>6}  median {med:9.1f} µs  p99 {p99:9.1f} µs")
        return med, p99

    n_med, n_p99 = show("naive: agent frees (scan all)", naive_ns)
    o_med, o_p99 = show("ours:  agent frees", free_ns)
    show("ours:  caller arrives", arrive_ns)
    print(f"ratio naive/ours: median {n_med / o_med:.0f}×, p99 {n_p99 / o_p99:.0f}×")
    print("target: median < 50 µs, p99 < 500 µs, ≥ 100× naive")


if __name__ == "__main__":
    main()
