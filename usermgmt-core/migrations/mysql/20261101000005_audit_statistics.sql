-- The audit statistics (`GET /audit/stats`: actions of the last 30 days, grouped) read this
-- index alone instead of the table.
CREATE INDEX audit_logs_created_action_idx ON audit_logs (created_at, action);
