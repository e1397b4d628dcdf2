"""The call pipeline writes a record's later steps behind the call: in order per call, never on
the call's path, and all of them (or a count of the lost ones) by the time it is closed."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from structlog.testing import capture_logs

from callcenter.appeals.calls import CallEnded, CallProgress, IvrChoice
from callcenter.bus import EventBus
from callcenter.ivr.commands import QueueResult
from callcenter.services.calls import CallPipeline
from callcenter.telephony.ivr_driver import IvrServices
from callcenter.web.metrics import CallMetrics

AT = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


class SlowRecords:
    """Appeal records whose writes take ``delay_s[linkedid]`` (default 0); keeps what landed."""

    def __init__(self, delay_s: dict[str, float] | None = None) -> None:
        self.delay_s = delay_s or {}
        self.landed: list[tuple[str, str]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def apply_call_progress(self, event: CallProgress) -> None:
        await self.gate.wait()
        await asyncio.sleep(self.delay_s.get(event.linkedid, 0.0))
        choice = event.choice if isinstance(event, IvrChoice) else type(event).__name__
        self.landed.append((event.linkedid, choice))


def pipeline(records: SlowRecords) -> CallPipeline:
    async def no_queue(*_: Any) -> QueueResult:
        return QueueResult("no_agents")

    async def no_prompt(*_: Any) -> str:
        return ""

    async def no_lookup(*_: Any) -> None:
        return None

    services = IvrServices(render_prompt=no_prompt, lookup=no_lookup, enter_queue=no_queue)
    return CallPipeline(
        flows=lambda name: None,
        environment=lambda: None,  # type: ignore[arg-type,return-value]  # never run here
        services=services,
        appeals=records,
        bus=EventBus(),
        metrics=CallMetrics(),
        clock=lambda: AT,
    )


def step(linkedid: str, choice: str) -> IvrChoice:
    return IvrChoice(linkedid, "menu", choice, AT)


async def test_steps_do_not_wait_for_the_database_and_land_in_order_per_call() -> None:
    records = SlowRecords({"slow": 0.05})
    calls = pipeline(records)
    for choice in ("1", "2", "3"):
        calls._progress_behind(step("slow", choice))  # returns at once, whatever the database does
    calls._progress_behind(step("fast", "9"))
    calls._progress_behind(CallEnded("slow", AT))
    assert calls.steps_in_flight == 5 and records.landed == []
    await calls.settled()
    assert calls.steps_in_flight == 0
    assert [c for lid, c in records.landed if lid == "slow"] == ["1", "2", "3", "CallEnded"]
    # A slow call does not hold up another call's steps.
    assert records.landed[0] == ("fast", "9")


async def test_close_lets_steps_in_flight_land() -> None:
    records = SlowRecords({"a": 0.02})
    calls = pipeline(records)
    calls._progress_behind(step("a", "1"))
    calls._progress_behind(CallEnded("a", AT))
    await calls.close()
    assert records.landed == [("a", "1"), ("a", "CallEnded")]


async def test_close_gives_up_on_steps_stuck_past_its_timeout_and_says_so() -> None:
    records = SlowRecords()
    records.gate.clear()  # the database hangs
    calls = pipeline(records)
    calls._progress_behind(step("a", "1"))
    calls._progress_behind(step("a", "2"))
    await asyncio.sleep(0)
    with capture_logs() as logs:
        await calls.close(timeout_s=0.05)
    assert calls.steps_in_flight == 0 and records.landed == []
    assert [e["count"] for e in logs if e["event"] == "record_steps_lost_at_stop"] == [2]
