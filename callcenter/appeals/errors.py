"""Errors of the appeal rules: a refused lifecycle move, and a registration with bad fields."""

from __future__ import annotations

from collections.abc import Mapping

from callcenter.errors import CallcenterError, ValidationError

__all__ = ["IllegalTransition", "RegistrationError"]


class IllegalTransition(CallcenterError):
    """The action is not allowed from the record's current status (or breaks a legal rule)."""

    def __init__(self, message: str, *, status: str, action: str) -> None:
        self.status = status
        self.action = action
        super().__init__(message)


class RegistrationError(ValidationError):
    """A registration with one or more bad fields; ``problems`` maps each field to what is wrong.

    ``field`` (from ValidationError) is the first bad field in form order, so a caller that shows
    one message at a time points at the right input.
    """

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        first = next(iter(self.problems))
        text = "; ".join(f"{name}: {why}" for name, why in self.problems.items())
        super().__init__(f"cannot register the appeal: {text}", field=first)
