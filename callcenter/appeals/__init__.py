"""Appeal records (PURE): the record, its lifecycle, the classifier, deadlines, registration rules.

No I/O and no clock: every function takes the time it needs as an argument and returns the new
(frozen) record together with the ``AppealEvent`` list describing the change; the storage layer
(``callcenter.storage.appeals``) persists both, the audit trail included.

Modules:

* ``model``         Appeal, CallTrack, Applicant, Kind, Status, CallOutcome, CallbackState, AppealEvent
* ``calls``         the call's progress (IvrChoice, EnteredQueue, AgentAnswered, CallbackRequested,
                    AfterHours, CallEnded), ``open_record``, ``apply_progress`` (idempotent),
                    ``merge_arrival``, the callback rule and ``resolve_callback``
* ``registration``  RegistrationForm, ``validate_registration`` (errors name each field),
                    ``register``, NumberingPolicy, ``format_number`` / ``parse_number``
* ``lifecycle``     the transition table, action classes, ``transition``, ``is_overdue``,
                    ``forwarding_overdue``
* ``deadlines``     Europe/Kyiv term arithmetic (15 days, 1 month, 5, 10 and 45 days)
* ``repeats``       the repeat rule: first (2.1), repeated (2.2) or duplicate (2.3)
* ``classifier``    the CMU 858 lists from ``data/*.yaml`` plus admin extensions
* ``records``       the record as a table row and back
* ``errors``        IllegalTransition, RegistrationError
"""
