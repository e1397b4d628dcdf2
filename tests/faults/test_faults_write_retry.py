"""The call pipeline's retrying writer: a write that fails waits and is retried, in order, until it succeeds."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from callcenter.errors import ValidationError
from callcenter.services.write_retry import RetryingWriter


class FlakyStore:
    """A store that is down until ``up`` is set; it records the writes it accepted, in order."""

    def __init__(self) -> None:
        self.up = True
        self.accepted: list[str] = []

    async def put(self, item: str) -> str:
        if not self.up:
            raise ConnectionRefusedError("database restarting")
        self.accepted.append(item)
        return item


async def test_a_write_that_succeeds_returns_its_result_at_once() -> None:
    """With the database up, the write runs inline and its result comes back."""
    store, writer = FlakyStore(), RetryingWriter("t", initial_delay_s=0.01)
    assert await writer.write("a", lambda: store.put("a")) == "a"
    assert writer.pending == 0 and writer.deferred == 0


async def test_writes_during_an_outage_are_queued_and_applied_in_order_once_it_is_back() -> None:
    """Failed and later writes wait in order; when the store is back they all get through, in order."""
    store, writer = FlakyStore(), RetryingWriter("t", initial_delay_s=0.01, max_delay_s=0.02)
    store.up = False
    assert await writer.write("a", lambda: store.put("a")) is None
    store.up = True  # back, but "a" is still queued: "b" must not overtake it
    assert await writer.write("b", lambda: store.put("b")) is None
    for _ in range(200):
        if writer.pending == 0:
            break
        await asyncio.sleep(0.01)
    assert store.accepted == ["a", "b"]
    assert writer.deferred == 2
    await writer.close()


async def test_retries_continue_while_the_store_stays_down() -> None:
    """The queued write is retried with growing delays and lands when the store comes back."""
    store, writer = FlakyStore(), RetryingWriter("t", initial_delay_s=0.01, max_delay_s=0.03)
    store.up = False
    await writer.write("a", lambda: store.put("a"))
    await asyncio.sleep(0.15)
    assert writer.retries >= 3 and store.accepted == []
    store.up = True
    await writer.close(timeout_s=2.0)
    assert store.accepted == ["a"] and writer.pending == 0


async def test_a_validation_error_is_raised_not_retried() -> None:
    """A refused write is a bug, not an outage: the caller sees it and nothing is queued."""
    writer = RetryingWriter("t")

    async def bad() -> None:
        raise ValidationError("a call record needs the call's linkedid", field="linkedid")

    with pytest.raises(ValidationError):
        await writer.write("bad", bad)
    assert writer.pending == 0


async def test_close_reports_writes_that_never_got_through() -> None:
    """Stopping while the store is still down logs how many writes were lost."""
    store, writer = FlakyStore(), RetryingWriter("t", initial_delay_s=0.01, max_delay_s=0.02)
    store.up = False
    await writer.write("a", lambda: store.put("a"))
    with capture_logs() as logs:
        await writer.close(timeout_s=0.05)
    assert [e["count"] for e in logs if e["event"] == "writes_lost_at_stop"] == [1]
