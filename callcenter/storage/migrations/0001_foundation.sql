-- Foundation: the audit trail every later feature writes to, and process heartbeats.

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,            -- user login, or 'system' / 'pbx' for automatic changes
    action      text NOT NULL,            -- e.g. 'appeal.register', 'recording.listen', 'agent.pause'
    subject     text NOT NULL DEFAULT '', -- what the action was done to (appeal number, call id, …)
    details     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_subject_idx ON audit_log (subject, at);
CREATE INDEX audit_log_at_idx ON audit_log (at);

CREATE TABLE service_instances (
    instance_id text PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now(),
    version     text NOT NULL
);
