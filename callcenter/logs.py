"""Logging set-up and personal-data masking.

structlog writes JSON lines in production and coloured key=value lines in a terminal. Every log
line of a call carries its context (``uniqueid``, ``linkedid``, ``appeal_id``), bound with
``structlog.contextvars.bound_contextvars`` by the adapter that owns the call.

Caller numbers are personal data: the ``mask_personal_data`` processor masks any value under a
key that holds a phone number, and ``mask_phone`` is there for code that builds messages itself.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

__all__ = ["PHONE_KEYS", "SECRET_KEYS", "configure_logging", "get_logger", "mask_personal_data", "mask_phone"]

#: Event-dict keys whose values are phone numbers and must never be logged in full.
PHONE_KEYS = frozenset(
    {"caller", "callerid", "caller_id", "callerid_num", "caller_number", "phone", "number", "exten_number"}
)

#: Event-dict keys whose values are secrets: replaced outright, whatever they hold.
SECRET_KEYS = frozenset(
    {"password", "secret", "token", "csrf_token", "cookie", "authorization", "key", "session_token"}
)

_DIGITS = re.compile(r"\d")


def mask_phone(number: str | None) -> str:
    """Keep the first 5 and last 4 digits of a phone number, masking the middle: ``38050***4567``.

    Short numbers (internal extensions) keep only their last 2 digits. Non-digit characters are
    dropped from the middle so the length of the hidden part does not leak either.
    """
    if not number:
        return ""
    digits = "".join(_DIGITS.findall(number))
    if len(digits) >= 10:
        return f"{digits[:5]}***{digits[-4:]}"
    if len(digits) > 2:
        return f"***{digits[-2:]}"
    return "***"


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask phone numbers (``PHONE_KEYS``) and hide secrets (``SECRET_KEYS``)."""
    for key in PHONE_KEYS.intersection(event_dict):
        value = event_dict[key]
        if value is not None:
            event_dict[key] = mask_phone(str(value))
    for key in SECRET_KEYS.intersection(event_dict):
        if event_dict[key]:
            event_dict[key] = "***"
    return event_dict


def _processors(json: bool) -> Iterable[Any]:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_personal_data,
        structlog.processors.StackInfoRenderer(),
    ]
    if json:
        shared += [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ]
    else:
        shared.append(structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    return shared


def configure_logging(*, json: bool, level: str = "info") -> None:
    """Configure structlog once per process (called by the CLI, never at import time)."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    logging.basicConfig(level=numeric, stream=sys.stderr, format="%(message)s")
    structlog.configure(
        processors=list(_processors(json)),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger that tags its lines with ``logger_name=name``."""
    # A lazy proxy: modules make their loggers at import time, before configure_logging runs, and
    # must still pick up its processors (the phone masking among them). Binding here would freeze
    # the configuration of import time. The key is ``logger_name`` because ``get_logger``
    # reserves ``logger`` for its own argument.
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(logger_name=name)
    return logger
