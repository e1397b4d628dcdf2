-- Appeal records: one row per call (keyed by the call's linkedid), which becomes a registered
-- appeal when an agent registers it. The pure mapping is callcenter/appeals/records.py; changes
-- are audited in audit_log (subject 'appeal:<id>').

CREATE TABLE appeals (
    id                  uuid PRIMARY KEY,
    linkedid            text UNIQUE,      -- the call's linkedid; NULL only for records not from a call
    status              text NOT NULL DEFAULT 'call_open' CHECK (status IN (
                            'call_open', 'consultation', 'registered', 'sent_to_authority', 'in_work',
                            'not_in_competence', 'answered', 'returned_for_rework', 'closed',
                            'returned_to_applicant', 'not_considered')),
    callback            text NOT NULL DEFAULT 'none' CHECK (callback IN ('none', 'pending', 'done', 'cancelled')),
    kind                text CHECK (kind IN ('consultation', 'proposal', 'application', 'complaint')),
    consultation_note   text,

    -- The call (personal data: caller numbers are never logged unmasked).
    caller              text,
    caller_digits       text,             -- normalised (380…) for search and callbacks
    dnid                text,
    arrived_at          timestamptz NOT NULL,
    ivr_steps           jsonb NOT NULL DEFAULT '[]'::jsonb,
    queue               text,
    queued_at           timestamptz,
    answered_at         timestamptz,
    agent               text,
    ended_at            timestamptz,
    after_hours         boolean NOT NULL DEFAULT false,
    callback_requested  boolean NOT NULL DEFAULT false,
    survival_reason     text,
    call_outcome        text NOT NULL DEFAULT 'in_progress',

    -- Registration (classifier of CMU resolution 858 of 2008).
    number              text UNIQUE,
    number_year         integer,
    number_seq          integer,
    registered_at       timestamptz,
    registered_by       text,
    surname             text,
    given_name          text,
    patronymic          text,
    residence           text,
    applicant_phone     text,
    applicant_phone_digits text,
    email               text,
    sex                 text,
    categories          text[] NOT NULL DEFAULT '{}',
    social_status       text,
    receipt_form        text NOT NULL DEFAULT '1.1.1',
    sign                text,
    related_appeal_ids  uuid[] NOT NULL DEFAULT '{}',
    subject             text NOT NULL DEFAULT '5.1',
    topic_code          text,
    essence             text,
    priority            boolean NOT NULL DEFAULT false,
    head_review         boolean NOT NULL DEFAULT false,
    requires_study      boolean NOT NULL DEFAULT false,

    -- Terms (Kyiv calendar days) and the instants they end, for the overdue views.
    received_on         date,
    forward_due         date,
    due                 date,
    extended_due        date,
    extension_notice    text,
    extended_at         timestamptz,
    due_ends_at         timestamptz,
    forwarding_ends_at  timestamptz,

    -- Routing, answer and closing.
    authority           text,
    complained_about    text,
    forwarded_at        timestamptz,
    forwarded_late      boolean NOT NULL DEFAULT false,
    reroute_due         date,
    answer_text         text,
    answer_submitted_at timestamptz,
    result_code         text,
    closed_at           timestamptz,
    status_reason       text,

    -- The supervisor's handling of the callback task.
    callback_note       text,
    callback_by         text,
    callback_at         timestamptz,

    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT appeals_registered_has_number CHECK (
        status IN ('call_open', 'consultation') OR (number IS NOT NULL AND received_on IS NOT NULL)),
    CONSTRAINT appeals_number_parts CHECK ((number IS NULL) = (number_seq IS NULL)),
    CONSTRAINT appeals_extension_has_notice CHECK (extended_due IS NULL OR extension_notice IS NOT NULL)
);

-- Gap-free numbering: one counter row per prefix and year, incremented with UPDATE … RETURNING
-- inside the registering transaction (the row lock serialises registrations; a rollback gives
-- the number back).
CREATE TABLE appeal_number_counters (
    prefix      text NOT NULL,
    year        integer NOT NULL,
    last_value  integer NOT NULL DEFAULT 0 CHECK (last_value >= 0),
    PRIMARY KEY (prefix, year)
);

CREATE INDEX appeals_status_idx ON appeals (status);
CREATE INDEX appeals_caller_digits_idx ON appeals (caller_digits);
CREATE INDEX appeals_applicant_phone_idx ON appeals (applicant_phone_digits);
CREATE INDEX appeals_surname_idx ON appeals (lower(surname) text_pattern_ops);
CREATE INDEX appeals_topic_idx ON appeals (topic_code, registered_at);
CREATE INDEX appeals_authority_idx ON appeals (lower(authority));
CREATE INDEX appeals_registered_at_idx ON appeals (registered_at);
CREATE INDEX appeals_open_due_idx ON appeals (due_ends_at)
    WHERE status IN ('registered', 'sent_to_authority', 'in_work', 'not_in_competence', 'answered',
                     'returned_for_rework');
CREATE INDEX appeals_callback_pending_idx ON appeals (arrived_at) WHERE callback = 'pending';
