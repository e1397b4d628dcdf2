-- The audit trail is append-only: rows are never edited, and deleted only by the retention
-- purge, which says so by setting `callcenter.audit_purge` to 'on' in its own transaction
-- (SET LOCAL callcenter.audit_purge = 'on'). Anything else that tries gets an error.

CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit_log rows are never updated';
    END IF;
    IF coalesce(current_setting('callcenter.audit_purge', true), '') <> 'on' THEN
        RAISE EXCEPTION 'audit_log rows are deleted only by the retention purge';
    END IF;
    RETURN OLD;
END;
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard();

CREATE INDEX audit_log_actor_idx ON audit_log (actor, at);
CREATE INDEX audit_log_action_idx ON audit_log (action, at);
