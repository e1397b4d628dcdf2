-- Users, their roles and their server-side sessions (web security, issue 10).
--
-- Roles are data: a row here, referenced by users.role, so issue 12's `authority` role (a user
-- who sees only the appeals forwarded to their authority) is a value, not a schema change.
-- Which role includes which (admin ⊇ supervisor ⊇ agent) lives in callcenter.storage.users.

CREATE TABLE roles (
    name        text PRIMARY KEY,
    description text NOT NULL
);
INSERT INTO roles (name, description) VALUES
    ('agent', 'answers calls and registers appeals'),
    ('supervisor', 'watches queues and agents, listens to recordings'),
    ('admin', 'manages users, IVR flows and settings'),
    ('authority', 'sees only the appeals forwarded to its authority');

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    login         text NOT NULL,
    display_name  text NOT NULL DEFAULT '',
    role          text NOT NULL REFERENCES roles (name),
    -- The authority (body) a user of role 'authority' works for; meaningless for other roles.
    authority_id  text,
    password_hash text NOT NULL,          -- argon2id, PHC string ($argon2id$v=19$m=…)
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_login_form CHECK (login ~ '^[a-z0-9][a-z0-9._@-]{0,63}$'),
    CONSTRAINT users_authority_has_body CHECK (role <> 'authority' OR authority_id IS NOT NULL)
);
CREATE UNIQUE INDEX users_login_idx ON users (login);

-- One row per signed-in browser. The cookie holds a random 32-byte token; only its SHA-256 is
-- stored, so a copy of this table does not let anyone impersonate a user.
CREATE TABLE user_sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    client_addr  text NOT NULL DEFAULT ''
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);
CREATE INDEX user_sessions_seen_idx ON user_sessions (last_seen_at);
