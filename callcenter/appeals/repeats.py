"""The repeat rule: is a new appeal first-time (2.1), repeated (2.2) or a duplicate (2.3)?

An earlier appeal counts when it came from the same person, on the same topic, within the
configured period before the new one. The person is the same when the phone numbers match (the
caller) or when the full names match (a different phone, the same applicant). If any counted
appeal is still under consideration the new one is a duplicate (дублетне): it asks again before
the first answer is due. If all counted ones are finished it is repeated (повторне). Either way
the earlier appeals are linked, so the executor sees the history.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

__all__ = [
    "DUPLICATE",
    "FIRST",
    "REPEATED",
    "PriorAppeal",
    "RepeatRule",
    "SignDecision",
    "detect_sign",
    "normalise_name",
    "normalise_phone",
]

FIRST, REPEATED, DUPLICATE = "2.1", "2.2", "2.3"
_NON_DIGITS = re.compile(r"\D")
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'"})


@dataclass(frozen=True, slots=True)
class RepeatRule:
    """How far back an earlier appeal still makes a new one a repeat."""

    period: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if self.period <= timedelta(0):
            raise ValueError("the repeat period must be positive")


@dataclass(frozen=True, slots=True)
class PriorAppeal:
    """What the rule needs to know about an earlier registered appeal."""

    id: UUID
    registered_at: datetime
    topic_code: str | None
    phone: str | None
    full_name: str
    still_open: bool


@dataclass(frozen=True, slots=True)
class SignDecision:
    """The classifier sign (2.x) and the earlier appeals that caused it."""

    code: str = FIRST
    related: tuple[UUID, ...] = ()


def normalise_phone(number: str | None) -> str:
    """Digits only, with a Ukrainian national number (0XXXXXXXXX) written as 380XXXXXXXXX."""
    digits = _NON_DIGITS.sub("", number or "")
    if len(digits) == 10 and digits.startswith("0"):
        digits = "38" + digits
    return digits


def normalise_name(full_name: str) -> str:
    """A full name folded for comparison: case, spacing and apostrophe variants ignored."""
    return " ".join(full_name.translate(_APOSTROPHES).casefold().split())


def detect_sign(
    *,
    phone: str | None,
    full_name: str,
    topic_code: str | None,
    at: datetime,
    prior: Iterable[PriorAppeal],
    rule: RepeatRule = RepeatRule(),
) -> SignDecision:
    """Decide 2.1 / 2.2 / 2.3 for an appeal being registered at ``at``."""
    own_phone, own_name = normalise_phone(phone), normalise_name(full_name)
    matched = sorted(
        (
            p
            for p in prior
            if p.topic_code == topic_code
            and at - rule.period <= p.registered_at <= at
            and (
                (own_phone and normalise_phone(p.phone) == own_phone)
                or (own_name and normalise_name(p.full_name) == own_name)
            )
        ),
        key=lambda p: (p.registered_at, str(p.id)),
    )
    if not matched:
        return SignDecision(FIRST)
    code = DUPLICATE if any(p.still_open for p in matched) else REPEATED
    return SignDecision(code, tuple(p.id for p in matched))
