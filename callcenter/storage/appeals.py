"""The appeal records in PostgreSQL: open per call, follow the call, register, move, search.

Every write loads the row ``FOR UPDATE``, asks the pure core (``callcenter.appeals``) for the new
record and its events, writes the row and one ``audit_log`` row per event, all in one
transaction. So a rule lives in one place, and the audit trail cannot miss a change.

* ``open_for_call`` is idempotent: ``INSERT … ON CONFLICT (linkedid) DO NOTHING``, then read.
* Call-progress events go through ``calls.apply_progress``; a replay changes nothing and writes
  no audit row.
* Registration numbers are gap-free per prefix and year: the counter row is incremented with
  ``UPDATE … RETURNING`` inside the registering transaction. Its row lock makes concurrent
  registrations take turns, and a registration that fails after taking a number rolls the
  counter back with everything else.

Caller numbers are stored (the callback list needs them) and never logged unmasked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid4

from callcenter.appeals.calls import (
    PBX_ACTOR,
    CallbackRule,
    CallProgress,
    apply_progress,
    merge_arrival,
    open_record,
)
from callcenter.appeals.calls import resolve_callback as resolve_callback_rule
from callcenter.appeals.classifier import Classifier, load_classifier
from callcenter.appeals.deadlines import DEFAULT_POLICY, DeadlinePolicy, kyiv_date
from callcenter.appeals.errors import IllegalTransition
from callcenter.appeals.events import jsonable
from callcenter.appeals.lifecycle import Action, Close, Consult, transition
from callcenter.appeals.model import OPEN_STATUSES, Appeal, AppealEvent, CallbackState, CallOutcome, Status
from callcenter.appeals.records import COLUMNS, from_row, to_row
from callcenter.appeals.registration import (
    NumberingPolicy,
    RegistrationForm,
    format_number,
    register,
    validate_registration,
)
from callcenter.appeals.repeats import PriorAppeal, RepeatRule, detect_sign, normalise_phone
from callcenter.errors import StorageError, ValidationError
from callcenter.logs import get_logger, mask_phone
from callcenter.storage.audit import AuditEntry, fetch_audit, record_audit

__all__ = [
    "AppealQuery",
    "AppealRepository",
    "AppealsSettings",
    "AuditEntry",
    "CallbackTask",
    "SpooledCallLike",
    "ingest_survival_spool",
]

log = get_logger(__name__)

_OPEN = sorted(s.value for s in OPEN_STATUSES)
_INSERT = (
    f"INSERT INTO appeals ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(COLUMNS) + 1))}) "
    "ON CONFLICT (linkedid) DO NOTHING RETURNING id"
)
_UPDATE = (
    "UPDATE appeals SET "
    + ", ".join(f"{name} = ${i}" for i, name in enumerate(COLUMNS[1:], start=2))
    + ", updated_at = now() WHERE id = $1"
)


class SpooledCallLike(Protocol):
    """A call the PBX's survival path spooled while the backend was down (telephony.spool).

    When the object also has a ``linkedid`` attribute that is set, the record is keyed by it (as
    the call tracker keys records); otherwise by ``uniqueid``, which is the caller channel's.
    """

    @property
    def uniqueid(self) -> str: ...
    @property
    def caller(self) -> str | None: ...
    @property
    def dnid(self) -> str | None: ...
    @property
    def arrived_at(self) -> datetime: ...
    @property
    def reason(self) -> str: ...


@dataclass(frozen=True, slots=True)
class AppealsSettings:
    """The local choices: numbering prefix, deadline counting, repeat period, callback rule."""

    numbering: NumberingPolicy = field(default_factory=NumberingPolicy)
    deadlines: DeadlinePolicy = DEFAULT_POLICY
    repeats: RepeatRule = field(default_factory=RepeatRule)
    callbacks: CallbackRule = field(default_factory=CallbackRule)

    @classmethod
    def from_config(cls, appeals: Any) -> AppealsSettings:
        """From ``callcenter.config.AppealSettings`` (``number_prefix``, ``repeat_window_days``)."""
        return cls(
            numbering=NumberingPolicy(prefix=appeals.number_prefix),
            repeats=RepeatRule(period=timedelta(days=appeals.repeat_window_days)),
        )


@dataclass(frozen=True, slots=True)
class AppealQuery:
    """Search filters; every given one must match (``name`` matches surname [given [patronymic]])."""

    number: str | None = None
    phone: str | None = None
    name: str | None = None
    status: Status | None = None
    topic_code: str | None = None  # includes its sub-topics (106 finds 106.1)
    authority: str | None = None
    overdue: bool | None = None
    registered_only: bool = False
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class CallbackTask:
    """A call to return: who, when, how the call ended, and whether they got through later."""

    appeal_id: UUID
    linkedid: str | None
    caller: str
    arrived_at: datetime
    outcome: CallOutcome
    queue: str | None
    waited: timedelta | None
    reached_later: bool  # the same number had an answered call after this one


def _like_prefix(text: str) -> str:
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class AppealRepository:
    """Appeal records over an asyncpg pool (whose search_path selects the schema)."""

    def __init__(
        self, pool: Any, classifier: Classifier | None = None, settings: AppealsSettings | None = None
    ) -> None:
        self._pool = pool
        self._classifier = classifier
        self.settings = settings or AppealsSettings()

    @property
    def classifier(self) -> Classifier:
        """The classifier, loaded from the shipped lists on first use when none was given."""
        if self._classifier is None:
            self._classifier = load_classifier()
        return self._classifier

    # -- reading ---------------------------------------------------------------------------

    async def get(self, appeal_id: UUID) -> Appeal:
        """The record with this id; StorageError when there is none."""
        row = await self._pool.fetchrow("SELECT * FROM appeals WHERE id = $1", appeal_id)
        if row is None:
            raise StorageError(f"no appeal record {appeal_id}")
        return from_row(row)

    async def find_by_linkedid(self, linkedid: str) -> Appeal | None:
        """The record of the call with this linkedid, if it was opened."""
        row = await self._pool.fetchrow("SELECT * FROM appeals WHERE linkedid = $1", linkedid)
        return from_row(row) if row else None

    async def audit_trail(self, appeal_id: UUID) -> list[AuditEntry]:
        """Every audited change of the record, oldest first (phone numbers masked)."""
        return list(reversed(await fetch_audit(self._pool, subject=f"appeal:{appeal_id}", limit=1000)))

    # -- the call --------------------------------------------------------------------------

    async def open_for_call(
        self,
        linkedid: str,
        *,
        caller: str | None,
        dnid: str | None,
        arrived_at: datetime,
        survival_reason: str | None = None,
    ) -> Appeal:
        """Open the record of an arriving call; opening it again returns the existing record."""
        appeal, _created = await self.open_or_get(
            linkedid, caller=caller, dnid=dnid, arrived_at=arrived_at, survival_reason=survival_reason
        )
        return appeal

    async def open_or_get(
        self,
        linkedid: str,
        *,
        caller: str | None,
        dnid: str | None,
        arrived_at: datetime,
        survival_reason: str | None,
    ) -> tuple[Appeal, bool]:
        """Like ``open_for_call``, also saying whether the record was created by this call."""
        if not linkedid:
            raise ValidationError("a call record needs the call's linkedid", field="linkedid")
        fresh = open_record(
            uuid4(),
            linkedid,
            caller=caller,
            dnid=dnid,
            arrived_at=arrived_at,
            survival_reason=survival_reason,
            rule=self.settings.callbacks,
        )
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(_INSERT, *to_row(fresh).values())
            if inserted is None:
                # Already open: fold in what this report adds (a caller number a progress event
                # could not know, an earlier arrival); a plain replay changes nothing.
                row = await conn.fetchrow("SELECT * FROM appeals WHERE linkedid = $1 FOR UPDATE", linkedid)
                existing, events = merge_arrival(
                    from_row(row),
                    caller=caller,
                    dnid=dnid,
                    arrived_at=arrived_at,
                    survival_reason=survival_reason,
                    rule=self.settings.callbacks,
                )
                if events:
                    await self._write(conn, existing, events)
                return existing, False
            action = "call.survival_ingested" if survival_reason else "call.opened"
            await self._audit(
                conn, AppealEvent(action, fresh.id, PBX_ACTOR, arrived_at, details={"linkedid": linkedid})
            )
        log.info(
            "appeal record opened",
            appeal_id=str(fresh.id),
            linkedid=linkedid,
            caller_masked=mask_phone(caller),
        )
        return fresh, True

    async def record_spooled_call(self, call: SpooledCallLike) -> bool:
        """Open the record of one spooled survival-path call; False when it already existed.

        ``handle_spooled_call`` is the same with no result, to pass as the handler of
        ``telephony.spool.ingest_spool(spool_dir, handle)``.
        """
        _, created = await self.open_or_get(
            getattr(call, "linkedid", None) or call.uniqueid,
            caller=call.caller,
            dnid=call.dnid,
            arrived_at=call.arrived_at,
            survival_reason=call.reason or "survival",
        )
        return created

    async def handle_spooled_call(self, call: SpooledCallLike) -> None:
        """``record_spooled_call`` shaped as an ``ingest_spool`` handler."""
        await self.record_spooled_call(call)

    async def apply_call_progress(self, event: CallProgress) -> Appeal:
        """Apply a call-progress event to the call's record.

        An event that arrives before the call's arrival opens the record first (without the
        caller's number, which the arrival report adds when it comes).
        """
        for _attempt in range(2):
            async with self._pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    "SELECT * FROM appeals WHERE linkedid = $1 FOR UPDATE", event.linkedid
                )
                if row is not None:
                    after, events = apply_progress(from_row(row), event, self.settings.callbacks)
                    if events:
                        await self._write(conn, after, events)
                    return after
            log.info("call progress before the call's arrival; opening its record", linkedid=event.linkedid)
            await self.open_or_get(
                event.linkedid, caller=None, dnid=None, arrived_at=event.at, survival_reason=None
            )
        raise StorageError(f"the record of call {event.linkedid} vanished while being opened")

    async def resolve_callback(
        self, appeal_id: UUID, state: CallbackState, *, actor: str, at: datetime, note: str = ""
    ) -> Appeal:
        """A supervisor marks the record's pending callback done or cancelled."""
        return await self._change(
            appeal_id, lambda a: resolve_callback_rule(a, state, actor=actor, at=at, note=note)
        )

    async def callback_tasks(self, *, limit: int = 200) -> list[CallbackTask]:
        """The pending callbacks, oldest call first."""
        rows = await self._pool.fetch(
            """SELECT a.id, a.linkedid, a.caller, a.arrived_at, a.call_outcome, a.queue,
                      a.ended_at - a.queued_at AS waited,
                      EXISTS (SELECT 1 FROM appeals b
                              WHERE b.caller_digits = a.caller_digits AND b.arrived_at > a.arrived_at
                                AND b.answered_at IS NOT NULL) AS reached_later
               FROM appeals a WHERE a.callback = 'pending'
               ORDER BY a.arrived_at, a.id LIMIT $1""",
            limit,
        )
        return [
            CallbackTask(
                r["id"],
                r["linkedid"],
                r["caller"],
                r["arrived_at"],
                CallOutcome(r["call_outcome"]),
                r["queue"],
                r["waited"],
                r["reached_later"],
            )
            for r in rows
        ]

    # -- registration and lifecycle ----------------------------------------------------------

    async def register(self, appeal_id: UUID, form: RegistrationForm, *, actor: str, at: datetime) -> Appeal:
        """Register the record as an appeal with the next gap-free number of its year.

        RegistrationError names each bad field; IllegalTransition when the record is not open.
        """
        # Checked before any lock or number is taken, so a bad form costs nothing.
        _, applicant = validate_registration(form, self.classifier)
        policy = self.settings.numbering
        year = kyiv_date(at).year
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT * FROM appeals WHERE id = $1 FOR UPDATE", appeal_id)
            if row is None:
                raise StorageError(f"no appeal record {appeal_id}")
            before = from_row(row)
            phone = applicant.phone or before.call.caller
            prior = await self._prior(conn, phone, applicant.surname, form.topic_code, at)
            sign = detect_sign(
                phone=phone,
                full_name=applicant.full_name,
                topic_code=form.topic_code,
                at=at,
                prior=[p for p in prior if p.id != appeal_id],
                rule=self.settings.repeats,
            )
            if before.status is not Status.CALL_OPEN:
                raise IllegalTransition(
                    f"only an open call record can be registered; this one is {before.status.value}",
                    status=before.status.value,
                    action="register",
                )
            number = format_number(policy, year, await self._next_number(conn, policy.prefix, year))
            after, events = register(
                before,
                form,
                number=number,
                sign=sign,
                actor=actor,
                at=at,
                classifier=self.classifier,
                policy=self.settings.deadlines,
            )
            await self._write(conn, after, events)
        log.info("appeal registered", appeal_id=str(appeal_id), number=after.number, sign=after.sign)
        return after

    async def transition(self, appeal_id: UUID, action: Action, *, actor: str, at: datetime) -> Appeal:
        """Apply a lifecycle action (IllegalTransition when the table forbids it)."""
        if isinstance(action, Close):
            self.classifier.require("results", action.result_code.strip(), field="result_code")
        if isinstance(action, Consult) and action.topic_code:
            self.classifier.require("topics", action.topic_code, field="topic_code")
        policy = self.settings.deadlines
        return await self._change(appeal_id, lambda a: transition(a, action, actor, at, policy=policy))

    # -- search ----------------------------------------------------------------------------

    async def search(self, query: AppealQuery, *, now: datetime) -> list[Appeal]:
        """Records matching every filter given, newest registration first."""
        where: list[str] = []
        args: list[Any] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if query.number:
            where.append(f"number = {arg(query.number.strip())}")
        if query.phone:
            digits = normalise_phone(query.phone)
            if not digits:
                raise ValidationError("phone: no digits to search for", field="phone")
            p = arg(digits)
            where.append(f"(caller_digits = {p} OR applicant_phone_digits = {p})")
        if query.name:
            for column, word in zip(
                ("surname", "given_name", "patronymic"), query.name.split(), strict=False
            ):
                where.append(f"lower({column}) LIKE {arg(_like_prefix(word))}")
        if query.status is not None:
            where.append(f"status = {arg(query.status.value)}")
        if query.topic_code:
            t = arg(query.topic_code)
            where.append(f"(topic_code = {t} OR topic_code LIKE {t} || '.%')")
        if query.authority:
            where.append(f"lower(authority) = lower({arg(query.authority.strip())})")
        if query.registered_only:
            where.append("number IS NOT NULL")
        if query.overdue is not None:
            overdue = f"(status = ANY({arg(_OPEN)}) AND due_ends_at <= {arg(now)})"
            where.append(overdue if query.overdue else f"NOT {overdue}")
        sql = "SELECT * FROM appeals"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += (
            " ORDER BY registered_at DESC NULLS LAST, arrived_at DESC, id"
            f" LIMIT {arg(max(1, min(query.limit, 1000)))} OFFSET {arg(max(0, query.offset))}"
        )
        return [from_row(r) for r in await self._pool.fetch(sql, *args)]

    async def overdue(self, now: datetime, *, limit: int = 500) -> list[Appeal]:
        """Appeals under consideration whose term in force has ended; priority ones first."""
        rows = await self._pool.fetch(
            """SELECT * FROM appeals WHERE status = ANY($1) AND due_ends_at <= $2
               ORDER BY priority DESC, due_ends_at, number LIMIT $3""",
            _OPEN,
            now,
            limit,
        )
        return [from_row(r) for r in rows]

    async def forwarding_overdue(self, now: datetime, *, limit: int = 500) -> list[Appeal]:
        """Appeals still waiting to be sent (or re-routed) after their 5-day forwarding term."""
        rows = await self._pool.fetch(
            """SELECT * FROM appeals WHERE status IN ('registered', 'not_in_competence')
                 AND forwarding_ends_at <= $1
               ORDER BY priority DESC, forwarding_ends_at, number LIMIT $2""",
            now,
            limit,
        )
        return [from_row(r) for r in rows]

    # -- internals -------------------------------------------------------------------------

    async def _change(
        self, appeal_id: UUID, rule: Callable[[Appeal], tuple[Appeal, list[AppealEvent]]]
    ) -> Appeal:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT * FROM appeals WHERE id = $1 FOR UPDATE", appeal_id)
            if row is None:
                raise StorageError(f"no appeal record {appeal_id}")
            after, events = rule(from_row(row))
            await self._write(conn, after, events)
        for event in events:
            log.info("appeal changed", appeal_id=str(appeal_id), action=event.name, actor=event.actor)
        return after

    async def _write(self, conn: Any, appeal: Appeal, events: Sequence[AppealEvent]) -> None:
        await conn.execute(_UPDATE, *to_row(appeal).values())
        for event in events:
            await self._audit(conn, event)

    @staticmethod
    async def _audit(conn: Any, event: AppealEvent) -> None:
        # The event's own time goes into the details: the row's `at` is the commit time.
        details = {
            "at": event.at.isoformat(),
            "changes": {k: list(v) for k, v in event.changes.items()},
            **jsonable(event.details),
        }
        await record_audit(conn, event.actor, event.name, f"appeal:{event.appeal_id}", details)

    @staticmethod
    async def _next_number(conn: Any, prefix: str, year: int) -> int:
        await conn.execute(
            "INSERT INTO appeal_number_counters (prefix, year) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            prefix,
            year,
        )
        value = await conn.fetchval(
            """UPDATE appeal_number_counters SET last_value = last_value + 1
               WHERE prefix = $1 AND year = $2 RETURNING last_value""",
            prefix,
            year,
        )
        return int(value)

    async def _prior(
        self, conn: Any, phone: str | None, surname: str, topic_code: str | None, at: datetime
    ) -> list[PriorAppeal]:
        rows = await conn.fetch(
            """SELECT id, registered_at, topic_code, applicant_phone, caller,
                      surname || ' ' || given_name || ' ' || patronymic AS full_name,
                      status = ANY($5) AS still_open
               FROM appeals
               WHERE number IS NOT NULL AND topic_code = $1
                 AND registered_at BETWEEN $2 AND $3
                 AND (applicant_phone_digits = $4 OR caller_digits = $4 OR lower(surname) = lower($6))""",
            topic_code,
            at - self.settings.repeats.period,
            at,
            normalise_phone(phone) or None,
            _OPEN,
            surname,
        )
        return [
            PriorAppeal(
                r["id"],
                r["registered_at"],
                r["topic_code"],
                r["applicant_phone"] or r["caller"],
                r["full_name"],
                r["still_open"],
            )
            for r in rows
        ]


async def ingest_survival_spool(
    pool: Any, calls: Iterable[SpooledCallLike], *, repository: AppealRepository | None = None
) -> int:
    """Turn calls the survival path spooled into call records; return how many were new.

    Safe to run on every start: a call already ingested (same linkedid) is left as it is.
    """
    repo = repository or AppealRepository(pool)
    created = 0
    for call in calls:
        created += await repo.record_spooled_call(call)
    log.info("survival spool ingested", new_records=created)
    return created
