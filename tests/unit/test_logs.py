"""Logging: phone numbers are masked wherever they appear under a phone key; call context is bound."""

from __future__ import annotations

import io
import json

import pytest
import structlog
from structlog.contextvars import bound_contextvars

from callcenter.logs import configure_logging, get_logger, mask_personal_data, mask_phone


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("380501234567", "38050***4567"),
        ("+380 (50) 123-45-67", "38050***4567"),
        ("0800507506", "08005***7506"),
        ("1234", "***34"),
        ("7", "***"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone_keeps_only_the_ends(number: str | None, masked: str) -> None:
    """Long numbers keep 5 leading and 4 trailing digits; short ones keep 2; nothing else leaks."""
    assert mask_phone(number) == masked


def test_processor_masks_every_phone_key_and_nothing_else() -> None:
    """Values under phone keys are masked; other values are left alone."""
    event = {"event": "call", "caller": "380501234567", "callerid": "380671112233", "queue": "general"}
    out = mask_personal_data(None, "info", dict(event))
    assert out == {"event": "call", "caller": "38050***4567", "callerid": "38067***2233", "queue": "general"}


def test_processor_hides_secrets() -> None:
    """Passwords, AMI secrets and session tokens never reach a log line."""
    out = mask_personal_data(
        None, "info", {"event": "login", "password": "hunter2", "secret": "s3", "token": "abc"}
    )
    assert out == {"event": "login", "password": "***", "secret": "***", "token": "***"}


def test_json_lines_carry_call_context_and_never_the_full_number(capsys: pytest.CaptureFixture[str]) -> None:
    """A JSON log line has the bound uniqueid/linkedid and the masked caller number only."""
    configure_logging(json=True, level="info")
    try:
        log = get_logger("test")
        with bound_contextvars(uniqueid="1795486407.24", linkedid="1795486407.24", appeal_id=7):
            log.info("call_arrived", caller="380501234567")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        record = json.loads(line)
        assert record["uniqueid"] == "1795486407.24" and record["appeal_id"] == 7
        assert record["caller"] == "38050***4567"
        assert "380501234567" not in line
        assert record["logger_name"] == "test" and record["level"] == "info"
    finally:
        structlog.reset_defaults()


def test_console_format_is_readable_text() -> None:
    """The terminal format is key=value text, not JSON, and masks numbers too."""
    buffer = io.StringIO()
    configure_logging(json=False, level="info")
    try:
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
        get_logger("test").info("hello", phone="380501234567")
        text = buffer.getvalue()
        assert "hello" in text and "38050***4567" in text and not text.lstrip().startswith("{")
    finally:
        structlog.reset_defaults()


def test_loggers_made_before_configuration_follow_it() -> None:
    """A module-level logger (made at import, before configure_logging) still masks and renders JSON."""
    early = get_logger("early")
    buffer = io.StringIO()
    configure_logging(json=True, level="info")
    try:
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
        early.info("call", caller="380501234567")
        record = json.loads(buffer.getvalue())
        assert record["caller"] == "38050***4567"
    finally:
        structlog.reset_defaults()


def test_unknown_level_is_refused() -> None:
    """A log level that does not exist is an error, not a silent default."""
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging(json=True, level="loud")
