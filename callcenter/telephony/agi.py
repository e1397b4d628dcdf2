"""The FastAGI API in one import: server, session, typed results and errors.

Route handlers and the IVR / queue-wait code import from here; the ``agi_*`` modules behind it are
split by concern (wire format, session, server, errors).
"""

from __future__ import annotations

from callcenter.telephony.agi_errors import AgiCommandError, AgiError, AgiProtocolError, ChannelHungUp
from callcenter.telephony.agi_protocol import AgiEnvironment, AgiReply
from callcenter.telephony.agi_server import (
    DEFAULT_ALLOWED_PEERS,
    DEFAULT_PORT,
    FastAgiServer,
    FastAgiStats,
    RouteHandler,
)
from callcenter.telephony.agi_session import AgiSession, DigitsResult, PlaybackResult, RecordResult

__all__ = [
    "DEFAULT_ALLOWED_PEERS",
    "DEFAULT_PORT",
    "AgiCommandError",
    "AgiEnvironment",
    "AgiError",
    "AgiProtocolError",
    "AgiReply",
    "AgiSession",
    "ChannelHungUp",
    "DigitsResult",
    "FastAgiServer",
    "FastAgiStats",
    "PlaybackResult",
    "RecordResult",
    "RouteHandler",
]
