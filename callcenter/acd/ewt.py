"""Estimated wait time (EWT) for a waiting caller, and the handle-time average it rests on.

Method (position-based, exact for the Erlang C model):

* AHT is an exponentially weighted moving average of measured handle times (answer → end of
  wrap-up) per queue: ``aht ← (1 − α)·aht + α·sample``, starting from the queue's
  ``default_aht_s``. α defaults to 0.02 (about the last 50 calls). app_queue uses α = 1/4;
  a large α makes the estimate biased high under load, because a run of long calls is exactly
  what builds a long queue, so AHT and position are correlated: at 80 % load on 10 agents the
  mean estimate exceeds the mean wait by about 10 % with α = 0.1, 5 % with α = 0.02 and 2 %
  with α = 0.005 (``callcenter.acd.desim``, 50,000 calls).
* If an eligible agent is free, the wait is 0.
* Otherwise a caller at position ``k`` (1 = next) needs ``k`` agents to finish. With ``N``
  staffed agents (available, ringing, on a call or in wrap-up; paused and logged-out agents do
  not count) each finishing at rate ``1/AHT``, completions come at rate ``N/AHT``. With
  exponential handle times the process is memoryless, so the expected remaining wait is
  ``k · AHT / N`` whatever the time already waited.

The estimate assumes first-come-first-served from here on: a later caller with higher priority
can still overtake, so for low-priority callers it is a lower bound. ``tests/unit/
test_acd_simulation.py`` checks it against a discrete-event simulation (Poisson arrivals,
exponential handle times): the mean estimate given at arrival is within 10 % of the mean
measured wait, and the router's service level and average wait match Erlang C.
"""

from __future__ import annotations

__all__ = ["estimated_wait", "ewma"]


def ewma(average: float, sample: float, alpha: float) -> float:
    """Fold one handle-time sample into the exponentially weighted average."""
    return (1.0 - alpha) * average + alpha * sample


def estimated_wait(position: int, staffed: int, free: int, aht_s: float) -> float | None:
    """Expected remaining wait of the caller at ``position`` (1-based); None if nobody staffs.

    ``free`` is the number of eligible agents available right now.
    """
    if free > 0:
        return 0.0
    if staffed <= 0:
        return None
    return position * aht_s / staffed
