-- Authorities (the bodies appeals are sent to), their reminder notifications, and the channel an
-- appeal came through (issue 12).
--
-- authorities: the list admins edit; seeded from callcenter/appeals/data/authorities.yaml by
-- callcenter.storage.authorities.seed_authorities (new ids only, so an admin's edits stay). An
-- authority is never deleted, only deactivated: appeals and users keep referring to its id.
CREATE TABLE authorities (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name        text NOT NULL CHECK (length(btrim(name)) > 0),
    short_name  text NOT NULL DEFAULT '',
    kind        text NOT NULL,
    parent_id   text REFERENCES authorities (id),
    email       text,
    phone       text,
    address     text,
    active      boolean NOT NULL DEFAULT true,
    sort_order  integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX authorities_active_idx ON authorities (active, sort_order, name);

-- One row per (authority, appeal, kind of reminder, term): the reminder job runs every hour and
-- inserts with ON CONFLICT DO NOTHING, so a reminder is raised once per term, and an extension
-- (a new term) raises a new one.
CREATE TABLE authority_notifications (
    id           bigserial PRIMARY KEY,
    authority_id text NOT NULL,
    appeal_id    uuid NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('due_soon', 'overdue')),
    term         date NOT NULL,
    number       text,
    created_at   timestamptz NOT NULL,
    read_at      timestamptz,
    UNIQUE (authority_id, appeal_id, kind, term)
);
CREATE INDEX authority_notifications_inbox_idx ON authority_notifications (authority_id, read_at, created_at);

-- The channel an appeal came through: 'phone' for the call records the pipeline opens, 'web' for
-- the public form (callcenter.web.public_appeals). Kept beside receipt_form because the
-- classifier's receipt form 1.1 ("post, e-mail") does not tell a web form from a letter.
ALTER TABLE appeals ADD COLUMN channel text NOT NULL DEFAULT 'phone'
    CHECK (channel IN ('phone', 'web', 'email'));
CREATE INDEX appeals_channel_idx ON appeals (channel) WHERE channel <> 'phone';
