"""The caller's priority categories, from the applicant categories of their earlier appeals.

The IVR cannot ask a caller whether they are a war veteran; the appeal history knows whether the
number belongs to a registered applicant with a benefit category (classifier 7.x). Both the agent
desk's card and the ACD's queue priority (``callcenter.acd.priority.priority_for``) use this.
Only categories the classifier flags as ``priority`` count (every shipped 7.x is); a code the
classifier does not know (a retired local addition) is passed on, since it was valid when stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from callcenter.acd.model import AcdConfig
from callcenter.acd.priority import priority_for
from callcenter.appeals.model import Appeal
from callcenter.appeals.repeats import normalise_phone
from callcenter.errors import CallcenterError
from callcenter.ivr.commands import Queue, QueueResult
from callcenter.ivr.engine import CallInfo
from callcenter.logs import get_logger
from callcenter.storage.appeals import AppealQuery
from callcenter.telephony.ivr_driver import IvrSessionPort, QueueHandoff

__all__ = [
    "HISTORY_LIMIT",
    "LOOKUP_TIMEOUT_S",
    "AppealSearch",
    "caller_categories",
    "categories_of",
    "with_caller_priority",
]

log = get_logger(__name__)

#: How many of the caller's latest registered appeals are read.
HISTORY_LIMIT = 20
#: The longest a caller waits for the history look-up before joining the queue without it.
LOOKUP_TIMEOUT_S = 0.5


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


def with_caller_priority(
    enter_queue: QueueHandoff,
    appeals: AppealSearch,
    config: Callable[[], AcdConfig],
    *,
    timeout_s: float = LOOKUP_TIMEOUT_S,
) -> QueueHandoff:
    """``enter_queue`` with the caller's queue priority raised by their applicant categories.

    ``config`` gives the ACD's current configuration (its ``priority_categories``). The look-up
    is bounded by ``timeout_s``: a slow or failing database costs the caller their raise, never
    their place in the queue.
    """

    async def enter(session: IvrSessionPort, command: Queue, call: CallInfo) -> QueueResult:
        try:
            categories = await asyncio.wait_for(caller_categories(appeals, call.caller), timeout_s)
        except (TimeoutError, CallcenterError, OSError) as exc:
            log.warning("caller_categories_unavailable", error=type(exc).__name__)
            categories = ()
        priority = priority_for(categories, config(), base=command.priority)
        if priority != command.priority:
            log.info("caller_priority_raised", queue=command.queue, priority=priority, categories=categories)
            command = dataclasses.replace(command, priority=priority)
        return await enter_queue(session, command, call)

    return enter
