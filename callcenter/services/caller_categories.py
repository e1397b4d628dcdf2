"""The caller's priority categories, from the applicant categories of their earlier appeals.

The IVR cannot ask a caller whether they are a war veteran; the appeal history knows whether the
number belongs to a registered applicant with a benefit category (classifier 7.x). Both the agent
desk's card and the ACD's queue priority (``callcenter.acd.priority.priority_for``) use this.
Only categories the classifier flags as ``priority`` count (every shipped 7.x is); a code the
classifier does not know (a retired local addition) is passed on, since it was valid when stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Protocol

from callcenter.appeals.model import Appeal
from callcenter.appeals.repeats import normalise_phone
from callcenter.storage.appeals import AppealQuery

__all__ = ["HISTORY_LIMIT", "AppealSearch", "caller_categories", "categories_of"]

#: How many of the caller's latest registered appeals are read.
HISTORY_LIMIT = 20


class AppealSearch(Protocol):
    """The part of ``AppealRepository`` used here."""

    @property
    def classifier(self) -> Any: ...

    async def search(self, query: AppealQuery, *, now: dt.datetime) -> list[Appeal]: ...


def categories_of(appeals: Iterable[Appeal], classifier: Any = None) -> tuple[str, ...]:
    """The applicant categories of ``appeals`` (newest first), each once, in first-seen order.

    With a ``classifier``, categories it knows without the ``priority`` flag are left out.
    """
    seen: dict[str, None] = {}
    for appeal in appeals:
        if appeal.applicant is None:
            continue
        for code in appeal.applicant.categories:
            entry = classifier.get("applicant_categories", code) if classifier is not None else None
            if entry is not None and not entry.priority:
                continue
            seen.setdefault(code, None)
    return tuple(seen)


async def caller_categories(
    appeals: AppealSearch, phone: str | None, *, now: dt.datetime | None = None
) -> tuple[str, ...]:
    """The priority categories of the applicant registered under ``phone`` (empty: none known).

    A withheld number (None, or no digits) finds nothing. Database errors propagate: the caller
    decides whether a call waits for them (the ACD should not; see the report to the lead).
    """
    if not normalise_phone(phone):
        return ()
    found = await appeals.search(
        AppealQuery(phone=phone, registered_only=True, limit=HISTORY_LIMIT),
        now=now or dt.datetime.now(dt.UTC),
    )
    return categories_of(found, appeals.classifier)
