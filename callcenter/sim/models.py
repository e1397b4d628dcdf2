"""Caller and agent-phone models: who calls, what they press, how long they wait and talk.

All randomness comes from a seeded ``random.Random`` so a run can be repeated exactly.

* :class:`CallerModel` is a caller on the trunk: the DID, the number, the digits pressed at each
  prompt (by prompt name, with ``*`` as the fallback), the reaction time, the patience before
  hanging up while not yet talking to an agent, and a chance of hanging up during any prompt.
* :class:`AgentPhone` is a PJSIP phone: registered or not, answer delay, talk time, chances of
  not answering or being busy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from callcenter.sim.channels import RINGING, UP, Channel

if TYPE_CHECKING:
    from callcenter.sim.asterisk import SimAsterisk

__all__ = ["AgentPhone", "CallerModel", "Distribution"]


@dataclass(frozen=True)
class Distribution:
    """A positive random duration: exponential around ``mean`` with a ``minimum``, or fixed."""

    mean: float
    minimum: float = 0.0
    fixed: bool = False

    def sample(self, rng: random.Random) -> float:
        """One draw in seconds."""
        if self.fixed:
            return self.mean
        return max(self.minimum, rng.expovariate(1.0 / self.mean) if self.mean > 0 else 0.0)


@dataclass
class CallerModel:
    """One simulated caller."""

    number: str = "380501234567"
    name: str = ""
    did: str = "0800507506"
    #: Digits typed when a prompt plays, by prompt (sound) name; ``*`` applies to any other prompt.
    dtmf: dict[str, str] = field(default_factory=dict)
    #: Seconds from the start of a prompt to the first digit.
    reaction: Distribution = field(default_factory=lambda: Distribution(1.5, 0.4))
    #: Seconds of waiting (from answer, while not talking to an agent) before the caller gives up.
    patience: Distribution = field(default_factory=lambda: Distribution(120.0, 10.0))
    #: Chance of hanging up at each prompt, independent of patience.
    hangup_probability: float = 0.0
    #: Seconds of talk after which the caller, rather than the agent, ends the call (None: agent ends).
    talk: Distribution | None = None

    def digits_for(self, prompt: str) -> str:
        """What this caller types while ``prompt`` plays ('' for nothing).

        A bare wait for a digit (no prompt) only gets the digits planned under ``""``, so a caller
        on hold does not keep pressing the ``*`` fallback at every WAIT FOR DIGIT slice.
        """
        if not prompt or prompt.startswith("say:"):
            return self.dtmf.get(prompt, "")
        return self.dtmf.get(prompt, self.dtmf.get("*", ""))


@dataclass
class AgentPhone:
    """A PJSIP phone on an agent's desk."""

    endpoint: str
    registered: bool = True
    answer_delay: Distribution = field(default_factory=lambda: Distribution(3.0, 1.0))
    talk_time: Distribution = field(default_factory=lambda: Distribution(180.0, 20.0))
    no_answer_probability: float = 0.0
    busy_probability: float = 0.0
    calls_answered: int = 0
    #: A phone with a call up rejects a second one as busy (a trunk has many lines: False).
    single_line: bool = True
    in_call: bool = False

    async def run(self, ast: SimAsterisk, chan: Channel) -> None:
        """Ring, then answer (or not, or reject busy), talk, and hang up."""
        pbx = ast.pbx
        pbx.set_state(chan, RINGING)
        pbx.device_state(chan.device, "RINGING")
        rng = ast.rng
        if (self.in_call and self.single_line) or rng.random() < self.busy_probability:
            await ast.clock.sleep(0.2)
            if chan.is_alive():
                pbx.request_hangup(chan, 17)
            return
        no_answer = rng.random() < self.no_answer_probability
        delay = self.answer_delay.sample(rng)
        talk = self.talk_time.sample(rng)
        if no_answer or not await ast.wait(chan, delay):
            return
        pbx.set_state(chan, UP)
        self.calls_answered += 1
        self.in_call = True
        try:
            if await ast.wait(chan, talk):
                pbx.request_hangup(chan, 16)
            await chan.ended.wait()
        finally:
            self.in_call = False
