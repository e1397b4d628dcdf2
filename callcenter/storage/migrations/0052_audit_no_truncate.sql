-- TRUNCATE fires no row triggers, so 0051's guard would not see it: guard the statement too.
-- Only the retention purge (SET LOCAL callcenter.audit_purge = 'on') may empty the trail.

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_guard();
