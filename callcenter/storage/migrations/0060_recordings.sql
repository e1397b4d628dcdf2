-- Call recordings (issue 9): one row per recorded leg pair, the legal holds on appeals, and the
-- per-queue retention periods admins set. Access to the files is audited in audit_log
-- ('recording.listen', 'recording.download', 'recording.denied', 'recording.deleted').

CREATE TABLE recordings (
    id           bigserial PRIMARY KEY,
    linkedid     text NOT NULL,            -- the call id; the file is named after it
    leg          integer NOT NULL DEFAULT 1 CHECK (leg >= 1),  -- 2, 3 … for a re-queued call
    -- No foreign key: the call's record may be opened after the recording starts (survival
    -- path), and a recording must never be lost because its appeal row is missing.
    appeal_id    uuid,
    queue        text,
    agent        text,
    path         text NOT NULL,            -- relative to the recordings root: YYYY/MM/DD/<linkedid>.wav
    bytes        bigint CHECK (bytes >= 0),
    duration_ms  integer CHECK (duration_ms >= 0),
    sha256       text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    status       text NOT NULL DEFAULT 'recording' CHECK (status IN (
                     'recording',        -- MixMonitor running, the call not finished yet
                     'ok',               -- checked: a readable WAV with audio
                     'missing',          -- no file where MixMonitor should have written it
                     'empty',            -- a file without audio
                     'broken',           -- a file that is not a readable WAV
                     'skipped',          -- not started (disk low, MixMonitor refused)
                     'no_conversation')),-- no agent answered, so there was nothing to record
    problem      text,                     -- why a recording is flagged, in words
    flagged      boolean NOT NULL DEFAULT false,  -- for supervisors: a recording that is not ok
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz,              -- set by retention: the file is gone, the row remains as proof
    UNIQUE (linkedid, leg),
    UNIQUE (path)
);
CREATE INDEX recordings_appeal_idx ON recordings (appeal_id);
CREATE INDEX recordings_flagged_idx ON recordings (started_at) WHERE flagged AND deleted_at IS NULL;
CREATE INDEX recordings_live_idx ON recordings (started_at) WHERE deleted_at IS NULL;

-- A legal hold keeps every recording of the appeal past its retention period. Kept apart from
-- the appeals table so the appeals' own definitions stay untouched.
CREATE TABLE appeal_legal_holds (
    appeal_id   uuid PRIMARY KEY REFERENCES appeals (id) ON DELETE CASCADE,
    reason      text NOT NULL,
    set_by      text NOT NULL,
    set_at      timestamptz NOT NULL
);

-- Retention in days per queue, set by admins; queues without a row use the configured default.
CREATE TABLE recording_retention (
    queue       text PRIMARY KEY,
    days        integer NOT NULL CHECK (days BETWEEN 1 AND 36500),
    set_by      text NOT NULL,
    set_at      timestamptz NOT NULL
);
