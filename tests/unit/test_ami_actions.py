"""Action rendering and reply correlation (sans-I/O) for the AMI client."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.telephony.ami_actions import AmiResponse, PendingAction, new_action_id, render_action
from callcenter.telephony.ami_errors import AmiActionError, AmiAuthError
from callcenter.telephony.ami_frames import AmiFramer, Frame
from tests.conformance.traces import ami_received_bytes


def _frames(text: str) -> list[Frame]:
    out = []
    for item in AmiFramer(expect_greeting=False).feed(text.encode()):
        assert isinstance(item, Frame)
        out.append(item)
    return out


def _recorded(action_id: str) -> list[Frame]:
    """The frames Asterisk sent under one ActionID in the recorded ``actions`` trace."""
    framer = AmiFramer()
    frames = [f for f in framer.feed(ami_received_bytes("actions")) if isinstance(f, Frame)]
    return [f for f in frames if f.get("ActionID") == action_id]


def test_render_puts_action_first_and_repeats_lists() -> None:
    """Action and ActionID lead, a list value repeats its header, lines end in CRLF."""
    data = render_action(
        "Originate", "id-1", {"Channel": "Local/1@x", "Variable": ["A=1", "B=2"], "Timeout": 5}
    )
    assert data == (
        b"Action: Originate\r\nActionID: id-1\r\nChannel: Local/1@x\r\n"
        b"Variable: A=1\r\nVariable: B=2\r\nTimeout: 5\r\n\r\n"
    )


def test_render_refuses_header_injection() -> None:
    """A value with a line break would smuggle headers or end the frame: it is refused."""
    with pytest.raises(ValueError, match="line break"):
        render_action("Setvar", "id-2", {"Value": "x\r\nAction: Hangup"})


def test_action_ids_are_unique() -> None:
    """Every ActionID differs."""
    ids = {new_action_id() for _ in range(1000)}
    assert len(ids) == 1000


def test_simple_success() -> None:
    """A plain Success completes at once with the response frame."""
    pending = PendingAction("Getvar", "cap-9")
    (frame,) = _recorded("cap-9")
    assert pending.feed(frame)
    assert isinstance(pending.result, AmiResponse)
    assert pending.result.get("Value") == "en"


def test_error_carries_asterisk_message() -> None:
    """Response: Error completes with AmiActionError holding Asterisk's message verbatim."""
    pending = PendingAction("Originate", "cap-5")
    (frame,) = _recorded("cap-5")
    assert pending.feed(frame)
    assert isinstance(pending.result, AmiActionError)
    assert pending.result.message == "Originate with 'Exten' requires 'Context' and 'Priority'"


def test_login_error_is_auth_error() -> None:
    """A refused Login is an AmiAuthError."""
    pending = PendingAction("Login", "1")
    pending.feed(_frames("Response: Error\r\nActionID: 1\r\nMessage: Authentication failed\r\n\r\n")[0])
    assert isinstance(pending.result, AmiAuthError)


def test_list_gathers_until_complete() -> None:
    """A list ack opens a list; items gather until the EventList: Complete event."""
    pending = PendingAction("CoreShowChannels", "cap-8")
    ack, first, second, done = _recorded("cap-8")
    assert not pending.feed(ack)
    assert not pending.feed(first)
    assert not pending.feed(second)
    assert pending.feed(done)
    assert isinstance(pending.result, AmiResponse)
    assert [f["Uniqueid"] for f in pending.result.items] == ["cap-orig-1", "cap-orig-1;2"]
    assert pending.result.complete is not None and pending.result.complete["ListItems"] == "2"


def test_empty_list_completes() -> None:
    """A list with no items (Hangup by regex matching nothing) completes with no items."""
    pending = PendingAction("Hangup", "cap-15")
    ack, done = _recorded("cap-15")
    assert not pending.feed(ack)
    assert pending.feed(done)
    assert isinstance(pending.result, AmiResponse) and pending.result.items == ()


def test_wait_event_completes_on_originate_response() -> None:
    """With wait_event, an Async Originate completes on its OriginateResponse, not on the ack."""
    pending = PendingAction("Originate", "cap-7", wait_event="OriginateResponse")
    ack, outcome = _recorded("cap-7")
    assert not pending.feed(ack)
    assert pending.feed(outcome)
    assert isinstance(pending.result, AmiResponse)
    assert pending.result.items[0]["Reason"] == "4"


def test_wait_event_arriving_before_ack() -> None:
    """An awaited event that overtakes the ack still completes the action when the ack comes."""
    pending = PendingAction("Originate", "cap-7", wait_event="OriginateResponse")
    ack, outcome = _recorded("cap-7")
    assert not pending.feed(outcome)
    assert pending.feed(ack)
    assert isinstance(pending.result, AmiResponse) and pending.result.items == (outcome,)


def test_on_done_called_once() -> None:
    """on_done runs exactly once, even if more frames arrive afterwards."""
    calls: list[PendingAction] = []
    pending = PendingAction("Getvar", "cap-9", on_done=calls.append)
    (frame,) = _recorded("cap-9")
    pending.feed(frame)
    pending.feed(frame)
    assert calls == [pending]


@given(st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True), st.text(max_size=30)))
def test_render_parse_round_trip(headers: dict[str, str]) -> None:
    """Rendered actions parse back to the same headers (when values carry no line breaks)."""
    headers = {k: v for k, v in headers.items() if "\r" not in v and "\n" not in v}
    headers = {k: v for k, v in headers.items() if k.lower() not in {"action", "actionid"}}
    lowered = {k.lower() for k in headers}
    if len(lowered) != len(headers):
        return  # names differing only in case collapse on parse, by design
    (frame,) = _frames(render_action("Test", "x", headers).decode())
    for name, value in headers.items():
        assert frame[name] == value
