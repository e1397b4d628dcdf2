-- Content analysis alerts, post-call and outbound surveys, and the do-not-call list (issue 12).
--
-- content_alerts: one row per spiking (topic, locality, day) found by
-- callcenter.services.content_alerts; a spike growing during the day updates its count (the
-- UNIQUE key), so one spike is one alert. Delivery to the webhook and the supervisor's
-- acknowledgement are recorded on the row.
CREATE TABLE content_alerts (
    id                bigserial PRIMARY KEY,
    topic             text NOT NULL,
    locality          text NOT NULL,
    day               date NOT NULL,
    count             integer NOT NULL CHECK (count > 0),
    expected          double precision NOT NULL CHECK (expected >= 0),
    p_value           double precision NOT NULL CHECK (p_value >= 0 AND p_value <= 1),
    detected_at       timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    delivered_at      timestamptz,
    delivery_attempts integer NOT NULL DEFAULT 0,
    last_error        text,
    acknowledged_at   timestamptz,
    acknowledged_by   text,
    UNIQUE (topic, locality, day)
);
CREATE INDEX content_alerts_open_idx ON content_alerts (day DESC) WHERE acknowledged_at IS NULL;
CREATE INDEX content_alerts_undelivered_idx ON content_alerts (detected_at) WHERE delivered_at IS NULL;

-- survey_responses: one row per survey taken, after a call (source 'post_call', keyed by the
-- call's linkedid) or by an outbound survey call about a closed appeal (source 'campaign',
-- keyed by the survey call's own linkedid). No phone number is stored here.
CREATE TABLE survey_responses (
    id           bigserial PRIMARY KEY,
    source       text NOT NULL CHECK (source IN ('post_call', 'campaign')),
    linkedid     text NOT NULL,
    appeal_id    uuid REFERENCES appeals (id) ON DELETE SET NULL,
    agent        text,
    queue        text,
    rating       smallint CHECK (rating BETWEEN 1 AND 5),
    resolved     boolean,
    completed    boolean NOT NULL,
    answered_at  timestamptz NOT NULL,
    UNIQUE (source, linkedid)
);
CREATE INDEX survey_responses_at_idx ON survey_responses (answered_at);
CREATE INDEX survey_responses_agent_idx ON survey_responses (agent, answered_at);
CREATE INDEX survey_responses_appeal_idx ON survey_responses (appeal_id);

-- survey_campaign_calls: the outbound survey's state per closed appeal. 'pending' waits for
-- next_attempt_at; 'calling' is being dialled; 'done' answered the survey; 'failed' ran out of
-- attempts; 'skipped' will never be called (on the do-not-call list, no phone).
CREATE TABLE survey_campaign_calls (
    appeal_id        uuid PRIMARY KEY REFERENCES appeals (id) ON DELETE CASCADE,
    state            text NOT NULL CHECK (state IN ('pending', 'calling', 'done', 'failed', 'skipped')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz,
    last_result      text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX survey_campaign_due_idx ON survey_campaign_calls (next_attempt_at) WHERE state = 'pending';

-- do_not_call: numbers (normalised digits, 380…) never called by a campaign.
CREATE TABLE do_not_call (
    phone_digits text PRIMARY KEY CHECK (phone_digits ~ '^[0-9]{6,15}$'),
    added_at     timestamptz NOT NULL,
    added_by     text NOT NULL,
    reason       text NOT NULL DEFAULT ''
);
