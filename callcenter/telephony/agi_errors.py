"""The errors a FastAGI session raises, so flow code can tell a hang-up from a real fault.

    TelephonyError                       (callcenter.errors)
     └── AgiError                        any FastAGI trouble
          ├── ChannelHungUp              the caller hung up: flow code catches it and ends cleanly
          ├── AgiCommandError            510, 520 (usage text in ``.usage``), EXEC of a missing
          │                              application, or a reply that makes no sense for the command
          └── AgiProtocolError           bytes that are not AGI (bad header line, bad reply line,
                                         header too big or too slow); the connection is dropped

``ChannelHungUp`` is the one a route handler is expected to let through or catch: the server treats
it as a normal end of the call and logs it without a traceback.
"""

from __future__ import annotations

from callcenter.errors import TelephonyError

__all__ = ["AgiCommandError", "AgiError", "AgiProtocolError", "ChannelHungUp"]


class AgiError(TelephonyError):
    """Base class of every FastAGI error."""


class ChannelHungUp(AgiError):
    """The channel has hung up (``result=-1`` on a media command, a ``HANGUP`` line, 511, or EOF)."""


class AgiCommandError(AgiError):
    """Asterisk refused or failed a command: ``code`` is the reply code (510, 520, 200 …)."""

    def __init__(self, code: int, message: str, *, command: str = "", usage: str | None = None) -> None:
        self.code = code
        self.message = message
        self.command = command
        #: For 520: the usage text Asterisk sent between the ``520-`` and ``520 `` lines.
        self.usage = usage
        text = f"{code} {message}"
        if command:
            text = f"{command}: {text}"
        super().__init__(text)


class AgiProtocolError(AgiError):
    """The peer sent something that is not FastAGI; the session cannot go on."""
