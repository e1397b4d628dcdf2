"""AMI actions without I/O: rendering an action, and collecting its reply by ActionID.

:func:`render_action` writes one action frame. :class:`PendingAction` collects what Asterisk
sends back under the action's ActionID and decides, from the protocol itself rather than from
message wording, when the reply is complete (PROTOCOL.md A2, A6, A7):

* ``Response: Error`` completes it with :class:`AmiActionError` carrying Asterisk's message;
* a ``Response: Success`` with ``EventList: start`` opens a list, completed by the event that
  carries ``EventList: Complete`` (items gathered in between);
* an action that waits for a follow-up event (Async Originate with ``wait_event``) completes
  when that event arrives with the same ActionID;
* any other response completes it at once.

panoramisk 1.4 guesses list replies from the Message text ("will follow", "added … to queue",
"successfully queued" with ``Async`` not exactly ``'false'``), which is why QueueAdd hangs there and
a synchronous Originate without ``Async`` raises ``KeyError`` inside the protocol (PROTOCOL A11).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from panoramisk.utils import IdGenerator

from .ami_errors import AmiActionError, AmiAuthError, AmiError
from .ami_frames import Frame

__all__ = ["AmiResponse", "HeaderValue", "PendingAction", "new_action_id", "render_action"]

#: A header value; a sequence repeats the header once per item (``Variable: a=1``, ``Variable: b=2``).
HeaderValue = str | int | Sequence[str]

# panoramisk's generator: "<prefix>/<uuid4>/<block>/<n>". The per-process uuid means a late reply
# to an action from an earlier process or connection can never match a new action.
_ids = IdGenerator("cc")


def new_action_id() -> str:
    """A fresh, process-unique ActionID."""
    action_id: str = _ids()
    return action_id


def _clean(value: str) -> str:
    # A CR or LF inside a value would end the header (or the frame) early: header injection.
    if "\r" in value or "\n" in value:
        raise ValueError(f"AMI header value contains a line break: {value[:40]!r}")
    return value


def render_action(action: str, action_id: str, headers: Mapping[str, HeaderValue]) -> bytes:
    """The wire bytes of one action: ``Action`` and ``ActionID`` first, CRLF line ends."""
    lines = [f"Action: {_clean(action)}", f"ActionID: {_clean(action_id)}"]
    for name, value in headers.items():
        if isinstance(value, str | int):
            lines.append(f"{_clean(name)}: {_clean(str(value))}")
        else:
            lines.extend(f"{_clean(name)}: {_clean(item)}" for item in value)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


@dataclass(frozen=True, slots=True)
class AmiResponse:
    """A complete reply: the response frame, list items (or the awaited event), the list end."""

    action: str
    frame: Frame
    items: tuple[Frame, ...] = ()
    complete: Frame | None = None

    @property
    def message(self) -> str | None:
        """Asterisk's ``Message`` text, if any."""
        return self.frame.get("Message")

    def get(self, name: str) -> str | None:
        """A header of the response frame (any case)."""
        return self.frame.get(name)


class PendingAction:
    """The reply to one action being gathered; feed it the frames carrying its ActionID."""

    __slots__ = ("_listing", "_response", "action", "action_id", "items", "on_done", "result", "wait_event")

    def __init__(
        self,
        action: str,
        action_id: str,
        *,
        wait_event: str | None = None,
        on_done: Callable[[PendingAction], None] | None = None,
    ) -> None:
        self.action = action
        self.action_id = action_id
        self.wait_event = wait_event
        #: called once with this object when the reply is complete (success or error)
        self.on_done = on_done
        self.items: list[Frame] = []
        self.result: AmiResponse | AmiError | None = None
        self._response: Frame | None = None
        self._listing = False

    @property
    def done(self) -> bool:
        """Whether the reply is complete."""
        return self.result is not None

    def feed(self, frame: Frame) -> bool:
        """Add one frame with this ActionID; return True once the reply is complete."""
        if self.result is not None:
            return True
        status = frame.get("Response")
        if self._response is None and status is not None and frame.get("Event") is None:
            self._response = frame
            if status == "Error":
                message = frame.get("Message") or "(no message)"
                error_type = AmiAuthError if self.action.lower() in {"login", "challenge"} else AmiActionError
                return self._finish(error_type(self.action, message))
            if (frame.get("EventList") or "").lower() == "start":
                self._listing = True
                return False
            if self.wait_event is not None:
                early = [f for f in self.items if f.get("Event") == self.wait_event]
                if early:
                    return self._finish(AmiResponse(self.action, frame, (early[0],)))
                return False
            return self._finish(AmiResponse(self.action, frame))
        if self._response is None:
            # An event before the response: only an awaited event can do this; keep it.
            self.items.append(frame)
            return False
        if self._listing:
            if (frame.get("EventList") or "").lower() == "complete":
                return self._finish(AmiResponse(self.action, self._response, tuple(self.items), frame))
            self.items.append(frame)
            return False
        if self.wait_event is not None and frame.get("Event") == self.wait_event:
            return self._finish(AmiResponse(self.action, self._response, (frame,)))
        self.items.append(frame)
        return False

    def _finish(self, result: AmiResponse | AmiError) -> bool:
        self.result = result
        if self.on_done is not None:
            self.on_done(self)
        return True
