"""The second example hotline, ``ivr_flows/veterans.yaml``, driven through the FastAGI driver."""

from __future__ import annotations

import pytest

from callcenter.ivr import Flow, load_flow
from tests.integration.test_ivr_hotline import REPO_ROOT, call, context


@pytest.fixture(scope="module")
def veterans() -> Flow:
    return load_flow(REPO_ROOT / "ivr_flows" / "veterans.yaml", context())


@pytest.mark.parametrize(("key", "topic"), [("1", "122"), ("2", "108"), ("3", "106"), ("0", "125")])
async def test_each_topic_goes_to_the_veterans_queue_at_priority(
    veterans: Flow, key: str, topic: str
) -> None:
    """Every menu topic records its classifier code and queues the call to ``veterans`` at priority 1."""
    _session, backend, outcome = await call(veterans, ["1", key], queue_results=["answered"])
    assert [(q.queue, q.priority, tuple(q.skills)) for q in backend.queued] == [
        ("veterans", 1, ("veterans",))
    ]
    assert outcome.path.variables["topic"] == topic
    assert outcome.path.nodes[:2] == ["notice", "notice_played"]


async def test_nobody_to_answer_leads_to_a_voice_message(veterans: Flow) -> None:
    """With no agent logged in, the caller is offered a message or a callback and the message is recorded."""
    session, _backend, outcome = await call(veterans, ["1", "1", "1"], queue_results=["no_agents"])
    assert "no_agents_notice" in outcome.path.nodes and "record_message" in outcome.path.nodes
    assert any(line.startswith("RECORD FILE") for line in session.lines)
