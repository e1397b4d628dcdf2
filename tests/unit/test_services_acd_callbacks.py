"""Callbacks through AMI Originate, agent phones' device states, snapshots and file reloads."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from callcenter.acd.model import AgentState, CallbackScheduled
from callcenter.services.acd import DEVICE_UNAVAILABLE, AcdService, OfferInfo
from callcenter.services.live_events import CallConnected, CallOffered
from callcenter.services.queue_config import QueueConfigStore
from callcenter.services.queue_wait import QueueWait
from callcenter.telephony.events import DeviceStateChange
from tests.unit.test_services_acd_support import (
    FILES,
    QUEUES,
    FakeAmi,
    FakeClock,
    FakeSession,
    call_info,
    dial_end,
    hangup_event,
    make_service,
    published,
    queue_command,
)

CALL = "1718000000.8"


async def until(condition: object, what: str) -> None:
    """Let the loop run until ``condition()`` holds."""
    assert callable(condition)
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what}")


async def queued_callback(service: AcdService, clock: FakeClock) -> None:
    """op2 busy ringing another caller; our caller presses * and hangs up to be called back."""
    service.login("op2")
    service.join("other", "general", OfferInfo("other", "other", None, "uk", None))
    session = FakeSession(clock, on_wait=lambda s: "*")
    result = await QueueWait(service)(session, queue_command(), call_info(CALL))
    assert result.status == "callback_requested"
    service.leave(CALL)  # the IVR flow ends the call; the callback stays


async def test_callback_originates_agent_first_then_citizen_and_retries() -> None:
    """The agent's phone is originated into the callback context; a citizen no-answer retries later."""
    clock = FakeClock()
    ami = FakeAmi(answers=[True, True])
    service, sub = make_service(clock, ami=ami)
    async with service:
        await queued_callback(service, clock)
        service.leave("other")  # op2 is free: the callback is its next call
        await until(lambda: len(ami.originated) == 1, "first originate")
        first = ami.originated[0]
        assert (first["channel"], first["context"], first["exten"]) == (
            "PJSIP/op2",
            "callback",
            "380501234567",
        )
        assert first["variables"] == {"CC_CALLBACK_ID": CALL, "CC_AGENT_ID": "op2"}
        await asyncio.sleep(0)
        ami.emit(dial_end(str(first["channel_id"]), "NOANSWER"))  # the citizen did not answer
        await until(lambda: service.state.agent_state("op2") is AgentState.AVAILABLE, "agent freed")
        scheduled = [e for e in published(sub) if isinstance(e, CallbackScheduled)]
        assert [(e.call_id, e.attempt) for e in scheduled] == [(CALL, 1)]
        (pending,) = service.state.callbacks(clock())
        assert (pending.status, pending.attempts) == ("delayed", 1)

        clock.t += 61  # the retry falls due
        service.apply(service.state.tick(clock()))
        await until(lambda: len(ami.originated) == 2, "second originate")
        second = ami.originated[1]
        assert second["channel_id"] != first["channel_id"]
        await asyncio.sleep(0)
        ami.emit(dial_end(str(second["channel_id"]), "ANSWER"))
        await until(lambda: service.state.agent_state("op2") is AgentState.ON_CALL, "connected")
        events = published(sub)
        assert any(
            isinstance(e, CallOffered) and e.is_callback and e.caller == "380501234567" for e in events
        )
        assert any(isinstance(e, CallConnected) and e.agent_id == "op2" for e in events)
        ami.emit(hangup_event(str(second["channel_id"])))
        await until(lambda: service.state.agent_state("op2") is AgentState.AVAILABLE, "call over")
        assert service.state.callbacks(clock()) == []
        assert service.state.queue_stats("general", clock()).callbacks_answered == 1
        assert CALL not in service.slots


async def test_callback_agent_not_answering_keeps_the_callback_pending() -> None:
    """An agent who does not pick up the originated call is a missed ring; the callback keeps its place."""
    clock = FakeClock()
    ami = FakeAmi(answers=[False, True])
    service, _ = make_service(clock, ami=ami)
    async with service:
        await queued_callback(service, clock)
        service.leave("other")
        await until(lambda: len(ami.originated) == 2, "re-offered after the missed ring")
        (pending,) = service.state.callbacks(clock())
        assert (pending.attempts, pending.status) == (0, "ringing")


async def test_device_unavailable_pauses_and_its_return_restores_the_agent() -> None:
    """A phone going UNAVAILABLE pauses its free agent; back to NOT_INUSE makes it available again."""
    clock = FakeClock()
    ami = FakeAmi()
    service, _ = make_service(clock, ami=ami)
    async with service:
        service.login("op1")
        ami.emit(DeviceStateChange(device="PJSIP/op1", state="UNAVAILABLE", action_id=None))
        view = next(v for v in service.state.agents(clock()) if v.agent_id == "op1")
        assert (view.state, view.reason) == (AgentState.PAUSED, DEVICE_UNAVAILABLE)
        ami.emit(DeviceStateChange(device="PJSIP/op2", state="UNAVAILABLE", action_id=None))
        assert service.login("op2") is AgentState.PAUSED  # logging in with a dead phone
        ami.emit(DeviceStateChange(device="PJSIP/op1", state="NOT_INUSE", action_id=None))
        assert service.state.agent_state("op1") is AgentState.AVAILABLE
        service.pause("op1", "lunch")
        ami.emit(DeviceStateChange(device="PJSIP/op1", state="UNAVAILABLE", action_id=None))
        ami.emit(DeviceStateChange(device="PJSIP/op1", state="NOT_INUSE", action_id=None))
        assert service.state.agent_state("op1") is AgentState.PAUSED  # a chosen pause stays


async def test_snapshot_has_queues_agents_and_masked_callbacks() -> None:
    """snapshot(now) gives per-queue stats, per-agent state and time in state, and pending callbacks."""
    clock = FakeClock()
    service, _ = make_service(clock)
    await queued_callback(service, clock)
    clock.t += 5
    snap = service.snapshot()
    assert snap["queues"]["general"].callbacks_pending == 1
    op2 = next(a for a in snap["agents"] if a["agent_id"] == "op2")
    assert (op2["state"], op2["time_in_state_s"], op2["calls_today"]) == (
        "ringing",
        6.0,
        0,
    )  # one 1 s slice before the key, then 5 s
    (callback,) = snap["callbacks"]
    assert callback["call_id"] == CALL and "1234567" not in callback["contact"]


def test_pause_reason_must_be_configured() -> None:
    """A pause reason outside the configured list is refused, naming the field."""
    import pytest

    from callcenter.errors import ValidationError

    service, _ = make_service(FakeClock())
    service.login("op1")
    with pytest.raises(ValidationError) as err:
        service.pause("op1", "nap")
    assert err.value.field == "reason"
    assert service.pause("op1", "break") is AgentState.PAUSED


def write(folder: Path, name: str, text: str, mtime: int) -> None:
    (folder / name).write_text(text, "utf-8")
    os.utime(folder / name, ns=(mtime, mtime))


def test_edited_file_applies_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    """A valid edit on disk reconfigures the running service keeping its callers; a broken one is refused."""
    for i, (name, text) in enumerate(FILES.items()):
        write(tmp_path, name, text, 10**18 + i)
    clock = FakeClock()
    service, _ = make_service(clock)
    store = QueueConfigStore(tmp_path, service.reconfigure)
    service.login("op2")
    service.join("c1", "general", OfferInfo("c1", "c1", None, "uk", None))
    service.join("c2", "general", OfferInfo("c2", "c2", None, "uk", None))
    assert store.check() is False  # nothing changed

    write(
        tmp_path,
        "queues.yaml",
        QUEUES.replace("ring_timeout_s: 10\n    default", "ring_timeout_s: oops\n    default"),
        2 * 10**18,
    )
    assert store.check() is False
    assert store.last_errors and store.last_errors[0].startswith(f"{tmp_path}/queues.yaml:7:21:")
    assert service.state.config.queues["general"].ring_timeout_s == 10

    write(
        tmp_path,
        "queues.yaml",
        QUEUES.replace("ring_timeout_s: 10\n    default", "ring_timeout_s: 25\n    default"),
        3 * 10**18,
    )
    assert store.check() is True
    assert service.state.config.queues["general"].ring_timeout_s == 25
    assert store.last_errors == []
    assert service.state.position("c2") == 1  # c1 is ringing op2, c2 still first in line


def test_calls_today_start_again_at_kyiv_midnight() -> None:
    """The timer's tick resets agents' calls today and the queue figures when the Kyiv date changes."""
    import datetime as dt

    from tests.unit.test_services_acd_support import KYIV

    clock = FakeClock(dt.datetime(2026, 11, 24, 23, 59, 0, tzinfo=KYIV).timestamp())
    service, _ = make_service(clock)
    service.login("op1")
    slot = service.join("c1", "general", OfferInfo("c1", "c1", None, "uk", None))
    service.ring_result(slot, "op1", "ANSWER")
    service.tick()
    op1 = next(a for a in service.snapshot()["agents"] if a["agent_id"] == "op1")
    assert op1["calls_today"] == 1 and service.snapshot()["queues"]["general"].answered == 1
    clock.t += 90
    service.tick()
    op1 = next(a for a in service.snapshot()["agents"] if a["agent_id"] == "op1")
    assert op1["calls_today"] == 0 and service.snapshot()["queues"]["general"].answered == 0


async def test_watcher_task_applies_an_edit_on_its_own(tmp_path: Path) -> None:
    """With the store started, an edited file is picked up by the poll without anyone calling check()."""
    for i, (name, text) in enumerate(FILES.items()):
        write(tmp_path, name, text, 10**18 + i)
    service, _ = make_service(FakeClock())
    async with QueueConfigStore(tmp_path, service.reconfigure, poll_s=0.01):
        write(tmp_path, "queues.yaml", QUEUES.replace("max_wait_s: 600", "max_wait_s: 700"), 2 * 10**18)
        await until_async(lambda: service.state.config.queues["general"].max_wait_s == 700)


async def until_async(condition: object) -> None:
    """Wait (up to 2 s) for ``condition()``."""
    assert callable(condition)
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the watcher never applied the edit")
