-- The analyst console (issue 15): local passwords of organization users, console sessions,
-- the audit log of every change, and the instants incidents were acknowledged and closed.

-- An argon2id PHC string; NULL: the user cannot sign in with a password.
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN password_changed_at BIGINT;

-- A signed-in console user. The cookie carries a random token; only its keyed hash is kept.
-- `last_seen_at` drives the idle expiry, `expires_at` is the absolute one.
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    address TEXT,
    method TEXT NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (organization_id, user_id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- Every change made through the API or the console: who (kind, id, name), what (action,
-- target, outcome), when, from where (peer address), and the request id.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    channel TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    status BIGINT NOT NULL,
    address TEXT,
    request_id TEXT
);
CREATE INDEX audit_log_org ON audit_log (organization_id, at, id);

-- First move away from New (or first owner), and the instant of closing (NULL again when
-- reopened): the mean times to acknowledge and to close of the dashboard.
ALTER TABLE incidents ADD COLUMN acknowledged_at BIGINT;
ALTER TABLE incidents ADD COLUMN closed_at BIGINT;
CREATE INDEX incidents_acknowledged ON incidents (organization_id, acknowledged_at);
CREATE INDEX incidents_closed ON incidents (organization_id, closed_at);
