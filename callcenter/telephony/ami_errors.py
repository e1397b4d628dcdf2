"""Errors raised by the AMI client.

    TelephonyError (callcenter.errors)
     └── AmiError
          ├── AmiActionError        Asterisk answered ``Response: Error``; ``message`` is its text
          │    └── AmiAuthError     the Login (or MD5 Challenge) was refused
          ├── AmiTimeout            no (complete) reply in time; also an ``asyncio.TimeoutError``
          ├── AmiConnectionLost     the connection dropped with the action pending; also a
          │                         ``ConnectionError``
          └── AmiNotConnected       no logged-in connection to send on (client closed)

``MalformedEvent`` (a known event with a missing or bad field) lives in ``events.py``.
``redact`` masks phone numbers in problem reports (bad frames quote raw header values).
"""

from __future__ import annotations

import asyncio
import re

from callcenter.errors import TelephonyError
from callcenter.logs import mask_phone

__all__ = [
    "AmiActionError",
    "AmiAuthError",
    "AmiConnectionLost",
    "AmiError",
    "AmiNotConnected",
    "AmiTimeout",
    "redact",
]

_PHONE_LIKE = re.compile(r"\+?\d{7,}")


def redact(text: str) -> str:
    """Mask every phone-like digit run (7+ digits) in text headed for a log: personal data."""
    return _PHONE_LIKE.sub(lambda m: mask_phone(m.group()), text)


class AmiError(TelephonyError):
    """Base of the AMI client's errors."""


class AmiActionError(AmiError):
    """Asterisk refused an action (``Response: Error``); ``message`` is Asterisk's own text."""

    def __init__(self, action: str, message: str) -> None:
        self.action = action
        self.message = message
        super().__init__(f"AMI {action} failed: {message}")


class AmiAuthError(AmiActionError):
    """The login was refused (wrong user or secret, or ``Login Already In Use``)."""


class AmiTimeout(AmiError, asyncio.TimeoutError):
    """No complete reply to an action within its timeout."""

    def __init__(self, action: str, timeout: float) -> None:
        self.action = action
        self.timeout = timeout
        super().__init__(f"AMI {action}: no reply within {timeout:g} s")


class AmiConnectionLost(AmiError, ConnectionError):
    """The AMI connection closed while the action waited for its reply."""

    def __init__(self, action: str, reason: str = "connection lost") -> None:
        self.action = action
        super().__init__(f"AMI {action}: {reason}")


class AmiNotConnected(AmiError):
    """The client is closed or not started, so the action cannot be sent."""
