-- IVR flow versions (issue 4): every published flow text, the active pointer per flow, each
-- admin's drafts, and which flow files were last imported from ivr_flows/.
--
-- A version row is never edited or deleted: a rollback publishes a copy of an old version as a
-- new one, so the history reads as what callers actually heard, in order. Version numbers are
-- gap-free per flow (callcenter.storage.flows takes a per-flow advisory lock to number them).

CREATE TABLE flow_versions (
    name         text NOT NULL,
    version      integer NOT NULL,
    source       text NOT NULL,
    digest       text NOT NULL,                 -- SHA-256 of source, hex (ivr.Flow.digest)
    author       text NOT NULL,                 -- a user's login, or "file:<path>" for imports
    published_at timestamptz NOT NULL DEFAULT now(),
    diff         text NOT NULL DEFAULT '',      -- unified diff against version - 1
    note         text NOT NULL DEFAULT '',
    rollback_of  integer,                       -- the version this one copies, for a rollback
    PRIMARY KEY (name, version),
    CONSTRAINT flow_versions_name_form CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$'),
    CONSTRAINT flow_versions_positive CHECK (version >= 1),
    CONSTRAINT flow_versions_rollback_earlier CHECK (rollback_of IS NULL OR rollback_of < version)
);

CREATE FUNCTION flow_versions_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'flow_versions rows are never changed or deleted (publish a new version)';
END;
$$;

CREATE TRIGGER flow_versions_append_only
    BEFORE UPDATE OR DELETE ON flow_versions
    FOR EACH ROW EXECUTE FUNCTION flow_versions_guard();

-- The version serving new calls. Calls in progress hold the Flow object they started with.
CREATE TABLE flow_active (
    name         text PRIMARY KEY,
    version      integer NOT NULL,
    activated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (name, version) REFERENCES flow_versions (name, version)
);

-- One draft per flow and admin: what the editor holds between sessions.
CREATE TABLE flow_drafts (
    name         text NOT NULL,
    author       text NOT NULL,
    source       text NOT NULL,
    base_version integer,                       -- the version the draft started from
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, author)
);

-- The content of each flow file when it was last published from the folder, so that a restart
-- does not publish an unchanged file again over a version an admin published since.
CREATE TABLE flow_file_imports (
    path        text PRIMARY KEY,
    name        text NOT NULL,
    digest      text NOT NULL,
    version     integer NOT NULL,               -- the version it became
    imported_at timestamptz NOT NULL DEFAULT now()
);
