"""The root of every error the package raises on purpose.

Domain errors carry no HTTP status: the web layer maps them to responses. Adapter errors wrap
the library error with ``raise ... from exc`` and, where a caller would catch a standard exception,
inherit it too (as aiohttp's ``ServerTimeoutError`` is also an ``asyncio.TimeoutError``).

    CallcenterError
     ├── ConfigError          a setting with a bad value (names its source and the expected form)
     ├── StorageError         the database could not do what was asked
     ├── TelephonyError       AMI / FastAGI trouble (defined in callcenter.telephony)
     └── ValidationError      bad input from a person or a file, with the field it concerns
"""

from __future__ import annotations

__all__ = ["CallcenterError", "ConfigError", "StorageError", "TelephonyError", "ValidationError"]


class CallcenterError(Exception):
    """Base class of every deliberate error in the package."""


class ConfigError(CallcenterError):
    """One or more settings are invalid; ``problems`` lists each with its source."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))


class StorageError(CallcenterError):
    """The database refused or failed an operation."""


class TelephonyError(CallcenterError):
    """Trouble talking to Asterisk over AMI or FastAGI."""


class ValidationError(CallcenterError):
    """Input that breaks a rule; ``field`` names what is wrong when one field is to blame."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)
