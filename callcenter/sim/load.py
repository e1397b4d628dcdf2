"""Run simulated hotline traffic: a PBX with an AMI server, callers on the trunk, agents' phones.

:class:`SimulatedPbx` is the entry point for the demo, integration tests and benchmarks: it
starts a :class:`~callcenter.sim.asterisk.SimAsterisk` and its AMI server, places inbound calls
(``PJSIP/trunk-XXXXXXXX`` into the ``from-pstn`` context, where the dialplan hands them to the
backend over FastAGI) driven by :class:`~callcenter.sim.models.CallerModel`, and reports each
call's outcome. :func:`run_load` places calls with Poisson arrivals, optionally following a
day-shaped rate curve, at the clock's time scale.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.logs import get_logger, mask_phone
from callcenter.sim.ami_server import AmiServer, AmiUser
from callcenter.sim.apps import send_dtmf
from callcenter.sim.asterisk import AgiTarget, SimAsterisk
from callcenter.sim.channels import UP, Channel
from callcenter.sim.clock import SimClock
from callcenter.sim.dialplan import DEFAULT_DIALPLAN, Dialplan
from callcenter.sim.models import AgentPhone, CallerModel

__all__ = ["CallOutcome", "LoadReport", "SimulatedPbx", "day_curve", "run_load"]

_log = get_logger(__name__)


@dataclass
class CallOutcome:
    """What happened to one simulated call (times are simulated epoch seconds)."""

    uniqueid: str
    caller: str
    arrived: float
    answered: float | None = None
    bridged: float | None = None
    ended: float | None = None
    abandoned: bool = False
    agent_channel: str = ""
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def talked(self) -> bool:
        """The caller reached an agent."""
        return self.bridged is not None


@dataclass
class LoadReport:
    """Outcomes of a load run."""

    outcomes: list[CallOutcome]
    simulated_seconds: float

    @property
    def answered_by_agent(self) -> int:
        """Calls that reached an agent."""
        return sum(1 for o in self.outcomes if o.talked)

    @property
    def abandoned(self) -> int:
        """Calls the caller gave up before reaching an agent."""
        return sum(1 for o in self.outcomes if o.abandoned)


class SimulatedPbx:
    """A simulated Asterisk with its AMI server, ready for callers."""

    def __init__(
        self,
        clock: SimClock | None = None,
        *,
        dialplan: str = DEFAULT_DIALPLAN,
        agi_host: str = "127.0.0.1",
        agi_port: int = 4573,
        phones: list[AgentPhone] | None = None,
        ami_users: dict[str, AmiUser] | None = None,
        ami_port: int = 0,
        recordings_dir: Path | None = None,
        seed: int = 1,
        default_sound: float | None = 2.0,
    ) -> None:
        self.clock = clock or SimClock()
        self.ast = SimAsterisk(
            self.clock,
            dialplan=Dialplan.parse(dialplan),
            recordings_dir=recordings_dir,
            rng=random.Random(seed),
            default_sound=default_sound,
            phones={p.endpoint: p for p in phones or []},
            survival_members=[(f"PJSIP/{p.endpoint}", f"Agent{p.endpoint}") for p in phones or []],
        )
        # The shipped dialplan names 127.0.0.1:4573; point it at the backend under test.
        self.ast.agi_map["127.0.0.1:4573"] = AgiTarget(agi_host, agi_port)
        self.ami = AmiServer(self.ast, ami_users or {"cc": AmiUser("ccsecret")}, port=ami_port)
        self.outcomes: list[CallOutcome] = []
        self._callers: dict[str, CallerModel] = {}
        self._bridged: dict[str, asyncio.Event] = {}
        self.ast.prompt_hooks.append(self._on_prompt)
        self.ast.pbx.listeners.append(self._on_event)

    async def start(self) -> None:
        """Start the AMI server (its port is then ``ami.port``)."""
        await self.ami.start()

    async def stop(self) -> None:
        """Shutdown event to AMI clients, close them, end every call task."""
        await self.ami.stop()
        await self.ast.stop()

    def _on_event(self, name: str, privilege: str, body: list[tuple[str, str]]) -> None:
        if name == "BridgeEnter":
            uniqueid = dict(body).get("Uniqueid", "")
            if uniqueid in self._bridged:
                self._bridged[uniqueid].set()

    def _on_prompt(self, chan: Channel, prompt: str) -> None:
        model = self._callers.get(chan.uniqueid)
        if model is None:
            return
        rng = self.ast.rng
        if model.hangup_probability and rng.random() < model.hangup_probability:
            self.ast.spawn(self._hang_up_later(chan, model.reaction.sample(rng)))
            return
        digits = model.digits_for(prompt)
        if not prompt and digits:
            # A key pressed while on hold (the callback key) is pressed once, not at every slice.
            if chan.meta.get("hold_key_pressed"):
                return
            chan.meta["hold_key_pressed"] = True
        if digits:
            self.ast.spawn(self._press_later(chan, digits, model.reaction.sample(rng)))

    async def _press_later(self, chan: Channel, digits: str, delay: float) -> None:
        await self.clock.sleep(delay)
        if chan.is_alive():
            await send_dtmf(self.ast, chan, digits)

    async def _hang_up_later(self, chan: Channel, delay: float) -> None:
        await self.clock.sleep(delay)
        if chan.is_alive():
            self.ast.pbx.request_hangup(chan, 16)

    async def call(self, model: CallerModel, trunk: str = "trunk", context: str = "from-pstn") -> CallOutcome:
        """Place one inbound call and wait until it ends."""
        ast, pbx = self.ast, self.ast.pbx
        uniqueid = pbx.new_uniqueid()
        chan = Channel(
            f"PJSIP/{trunk}-{pbx.next_seq()}",
            uniqueid,
            uniqueid,
            context,
            model.did,
            state=4,
            cid_num=model.number,
            cid_name=model.name,
            device=f"PJSIP/{trunk}",
        )
        chan.meta["dnid"] = model.did
        outcome = CallOutcome(uniqueid, model.number, self.clock.now())
        self.outcomes.append(outcome)
        self._callers[uniqueid] = model
        bridged = self._bridged[uniqueid] = asyncio.Event()
        _log.debug("sim call arrives", caller=mask_phone(model.number), uniqueid=uniqueid)
        pbx.add_channel(chan)
        ast.start_pbx(chan, context, model.did)
        try:
            await self._behave(chan, model, outcome, bridged)
        finally:
            self._callers.pop(uniqueid, None)
            self._bridged.pop(uniqueid, None)
            outcome.ended = self.clock.now()
            outcome.variables = dict(chan.variables)
        return outcome

    async def _behave(
        self, chan: Channel, model: CallerModel, outcome: CallOutcome, bridged: asyncio.Event
    ) -> None:
        ast, rng = self.ast, self.ast.rng
        patience = model.patience.sample(rng)
        await ast.wait(chan, None, chan.answered)
        if chan.state == UP:
            outcome.answered = self.clock.now()
        # Patience runs from the answer while the caller has not reached an agent.
        if not bridged.is_set() and await ast.wait(chan, patience, bridged):
            outcome.abandoned = True
            ast.pbx.request_hangup(chan, 16)
        if bridged.is_set():
            outcome.bridged = self.clock.now()
            peer = chan.bridge.channels[0] if chan.bridge and chan.bridge.channels else None
            outcome.agent_channel = peer.name if peer is not None and peer is not chan else ""
            if model.talk is not None and await ast.wait(chan, model.talk.sample(rng)):
                ast.pbx.request_hangup(chan, 16)
        await chan.ended.wait()


def day_curve(peak_per_hour: float) -> Callable[[float], float]:
    """A day-shaped arrival rate: quiet at night, peaks at 10:00 and 15:00 (time = seconds of day)."""

    def rate(seconds_of_day: float) -> float:
        hour = (seconds_of_day / 3600) % 24
        if hour < 7 or hour >= 21:
            return peak_per_hour * 0.05
        morning = max(0.0, 1 - abs(hour - 10) / 4)
        afternoon = max(0.0, 1 - abs(hour - 15) / 4) * 0.85
        return peak_per_hour * max(0.15, morning, afternoon)

    return rate


async def run_load(
    pbx: SimulatedPbx,
    callers: Iterator[CallerModel],
    *,
    rate_per_hour: float | Callable[[float], float],
    duration: float,
    rng: random.Random | None = None,
    start_of_day: float = 8 * 3600,
) -> LoadReport:
    """Place calls with Poisson arrivals for ``duration`` simulated seconds and wait for them all.

    ``rate_per_hour`` may be a function of the simulated second of the day (see :func:`day_curve`);
    arrivals then follow it by thinning a Poisson process at its peak rate.
    """
    rng = rng or random.Random(7)
    rate_fn = rate_per_hour if callable(rate_per_hour) else (lambda _t, r=rate_per_hour: r)
    peak = max(rate_fn(start_of_day + duration * i / 96) for i in range(97))
    begun = pbx.clock.now()
    calls: list[asyncio.Task[CallOutcome]] = []
    elapsed = 0.0
    while peak > 0:
        elapsed += rng.expovariate(peak / 3600)
        if elapsed >= duration:
            break
        await pbx.clock.sleep(max(0.0, begun + elapsed - pbx.clock.now()))
        if rng.random() * peak > rate_fn(start_of_day + elapsed):
            continue
        calls.append(asyncio.ensure_future(pbx.call(next(callers))))
    outcomes = list(await asyncio.gather(*calls))
    return LoadReport(outcomes, pbx.clock.now() - begun)
