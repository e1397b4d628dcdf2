-- Analytics: call facts (one row per call, per queue stint, per agent leg), agent sessions, and
-- 15-minute interval rollups kept up to date incrementally so that reports never scan the facts.
-- Row keys come from the call (linkedid) so replaying events after a reconnect upserts, never
-- duplicates.  All times are timestamptz; durations are seconds in double precision.

CREATE TABLE call_facts (
    linkedid     text PRIMARY KEY,
    arrived_at   timestamptz NOT NULL,
    ended_at     timestamptz NOT NULL,
    caller       text NOT NULL,              -- personal data: never log unmasked
    did          text NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('answered', 'abandoned_ivr', 'ivr_completed',
                     'abandoned_queue', 'short_abandon', 'after_hours', 'callback', 'overflow',
                     'survival', 'transferred')),
    ivr_s        double precision NOT NULL,
    ivr_path     text[] NOT NULL DEFAULT '{}',
    first_queue  text,
    last_queue   text,
    wait_s       double precision NOT NULL,
    answered_at  timestamptz,
    agent        text,
    talk_s       double precision NOT NULL,
    hold_s       double precision NOT NULL,
    wrap_s       double precision NOT NULL,
    stints       integer NOT NULL,
    transferred  boolean NOT NULL,
    callback     boolean NOT NULL,
    after_hours  boolean NOT NULL,
    survival     boolean NOT NULL,
    hungup_by    text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX call_facts_arrived_idx ON call_facts (arrived_at);
-- Abandoned calls as a list to work (callbacks), newest first, without scanning answered calls.
CREATE INDEX call_facts_outcome_arrived_idx ON call_facts (outcome, arrived_at);

CREATE TABLE queue_stints (
    stint_id    text PRIMARY KEY,            -- "<linkedid>/<n>"
    linkedid    text NOT NULL REFERENCES call_facts (linkedid) ON DELETE CASCADE,
    seq         integer NOT NULL,
    queue       text NOT NULL,
    entered_at  timestamptz NOT NULL,
    left_at     timestamptz NOT NULL,
    wait_s      double precision NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('answered', 'abandoned', 'short_abandon', 'callback',
                    'overflow', 'moved')),
    agent       text
);
CREATE INDEX queue_stints_linkedid_idx ON queue_stints (linkedid);
CREATE INDEX queue_stints_queue_entered_idx ON queue_stints (queue, entered_at);

CREATE TABLE agent_legs (
    leg_id          text PRIMARY KEY,        -- "<linkedid>/<n>"
    linkedid        text NOT NULL REFERENCES call_facts (linkedid) ON DELETE CASCADE,
    agent           text NOT NULL,
    queue           text,
    rang_at         timestamptz NOT NULL,
    answered_at     timestamptz,
    ended_at        timestamptz NOT NULL,
    ring_s          double precision NOT NULL,
    talk_s          double precision NOT NULL,
    hold_s          double precision NOT NULL,
    wrap_s          double precision NOT NULL,
    outcome         text NOT NULL,
    transferred_to  text
);
CREATE INDEX agent_legs_linkedid_idx ON agent_legs (linkedid);
CREATE INDEX agent_legs_agent_rang_idx ON agent_legs (agent, rang_at);

CREATE TABLE agent_sessions (
    session_id   text PRIMARY KEY,           -- "<agent>/<login ISO time>"
    agent        text NOT NULL,
    queues       text[] NOT NULL,
    login_at     timestamptz NOT NULL,
    logout_at    timestamptz NOT NULL,
    open         boolean NOT NULL,
    pauses       jsonb NOT NULL DEFAULT '[]'::jsonb,  -- [{"reason", "start", "end"}]
    logged_in_s  double precision NOT NULL,
    paused_s     double precision NOT NULL,  -- breaks only; wrap-up is staffed time
    staffed_s    double precision NOT NULL
);
CREATE INDEX agent_sessions_agent_login_idx ON agent_sessions (agent, login_at);
CREATE INDEX agent_sessions_login_idx ON agent_sessions (login_at);

-- One row per queue (or '*' for the whole line) per 15-minute interval.  Counter columns are the
-- field names of callcenter.analytics.kpi.KpiCounters; all are sums except longest_wait_s (max).
CREATE TABLE interval_rollups (
    queue                text NOT NULL,
    interval_start       timestamptz NOT NULL,   -- UTC, on a 15-minute boundary
    is_open              boolean NOT NULL,
    calls                integer NOT NULL DEFAULT 0,
    offered              integer NOT NULL DEFAULT 0,
    offered_closed       integer NOT NULL DEFAULT 0,
    answered             integer NOT NULL DEFAULT 0,
    answered_in_target   integer NOT NULL DEFAULT 0,
    abandoned            integer NOT NULL DEFAULT 0,
    short_abandoned      integer NOT NULL DEFAULT 0,
    callbacks            integer NOT NULL DEFAULT 0,
    overflowed           integer NOT NULL DEFAULT 0,
    moved                integer NOT NULL DEFAULT 0,
    abandoned_ivr        integer NOT NULL DEFAULT 0,
    ivr_completed        integer NOT NULL DEFAULT 0,
    after_hours          integer NOT NULL DEFAULT 0,
    survival             integer NOT NULL DEFAULT 0,
    transferred          integer NOT NULL DEFAULT 0,
    wait_answered_s      double precision NOT NULL DEFAULT 0,
    wait_abandoned_s     double precision NOT NULL DEFAULT 0,
    longest_wait_s       double precision NOT NULL DEFAULT 0,
    talk_s               double precision NOT NULL DEFAULT 0,
    hold_s               double precision NOT NULL DEFAULT 0,
    wrap_s               double precision NOT NULL DEFAULT 0,
    staffed_s            double precision NOT NULL DEFAULT 0,
    handling_s           double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, interval_start)
);
-- The primary key serves "one queue over a time range" (heatmaps, trends); this one serves
-- "every queue in an interval" (wallboard history, staffing across queues).
CREATE INDEX interval_rollups_start_idx ON interval_rollups (interval_start);
