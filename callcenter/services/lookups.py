"""The IVR's ``lookup(kind, key)``: data a flow asks the backend for during a call.

One kind today, ``appeal_status``: the caller types the registration number of an appeal on the
keypad and hears where it is. A phone has no letters, so the number ``ЗВ-2026-000123`` is typed
as its year and sequence, ``2026000123`` (``2026123`` works too: the sequence is zero-padded to
the policy's width); a key already written in full (from the web) is used as it is.

The answer is what ``ivr_flows/hotline.yaml`` branches on: ``state`` in the hotline's words
(REGISTERED, SENT_TO_EXECUTOR, IN_WORK, EXTENDED, ANSWER_SUBMITTED, RETURNED_FOR_REWORK,
NOT_IN_COMPETENCE, CLOSED, RETURNED_TO_APPLICANT, NOT_SUBJECT_TO_CONSIDERATION) and
``due_date`` (ISO date, the extended term when there is one; absent when the appeal is closed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from callcenter.appeals.model import TERMINAL_STATUSES, Appeal, Status
from callcenter.appeals.registration import NumberingPolicy
from callcenter.logs import get_logger
from callcenter.storage.appeals import AppealQuery, AppealRepository

__all__ = ["APPEAL_STATUS", "HOTLINE_STATES", "IvrLookups", "appeal_number_of", "appeal_status_values"]

log = get_logger(__name__)

APPEAL_STATUS = "appeal_status"

#: Our statuses in the words the hotline flow branches on.
HOTLINE_STATES: Mapping[Status, str] = {
    Status.REGISTERED: "REGISTERED",
    Status.SENT_TO_AUTHORITY: "SENT_TO_EXECUTOR",
    Status.IN_WORK: "IN_WORK",
    Status.NOT_IN_COMPETENCE: "NOT_IN_COMPETENCE",
    Status.ANSWERED: "ANSWER_SUBMITTED",
    Status.RETURNED_FOR_REWORK: "RETURNED_FOR_REWORK",
    Status.CLOSED: "CLOSED",
    Status.RETURNED_TO_APPLICANT: "RETURNED_TO_APPLICANT",
    Status.NOT_CONSIDERED: "NOT_SUBJECT_TO_CONSIDERATION",
}

_KEYPAD_NUMBER = re.compile(r"(\d{4})(\d{1,12})\Z")


def appeal_number_of(key: str, policy: NumberingPolicy) -> str | None:
    """The registration number a caller's key means, or None when it cannot be one."""
    key = key.strip()
    if "-" in key:
        return key
    match = _KEYPAD_NUMBER.match(key)
    if match is None:
        return None
    year, sequence = match.group(1), int(match.group(2))
    if sequence < 1 or len(str(sequence)) > policy.width:
        return None
    return f"{policy.prefix}-{year}-{sequence:0{policy.width}d}"


def appeal_status_values(appeal: Appeal) -> dict[str, str] | None:
    """``{"state", "due_date"}`` for a registered appeal; None for a record that is not one."""
    state = HOTLINE_STATES.get(appeal.status)
    if state is None:
        return None
    if appeal.extended_due is not None and appeal.status not in TERMINAL_STATUSES:
        state = "EXTENDED" if appeal.status is Status.IN_WORK else state
    values = {"state": state}
    due = appeal.extended_due or appeal.due
    if due is not None and appeal.status not in TERMINAL_STATUSES:
        values["due_date"] = due.isoformat()
    return values


class IvrLookups:
    """The ``lookup`` of ``IvrServices``, reading appeals through the repository."""

    def __init__(
        self,
        appeals: AppealRepository,
        *,
        policy: NumberingPolicy | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.appeals = appeals
        self.policy = policy or appeals.settings.numbering
        self.now = now

    async def __call__(self, kind: str, key: str) -> Mapping[str, str] | None:
        """Answer a lookup node; None means not found (the flow's ``not_found`` branch)."""
        if kind != APPEAL_STATUS:
            log.warning("ivr_lookup_unknown_kind", kind=kind)
            return None
        number = appeal_number_of(key, self.policy)
        if number is None:
            return None
        found = await self.appeals.search(AppealQuery(number=number, limit=1), now=self.now())
        if not found:
            return None
        return appeal_status_values(found[0])
