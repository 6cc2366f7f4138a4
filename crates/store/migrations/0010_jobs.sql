-- One background-job queue for every kind of work (docs/jobs.md), and the outbox read by
-- cursors, one per consumer, instead of a flag column per consumer.

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    -- The fairness key: jobs of one key share the key's slots (a webhook, a connector).
    job_key TEXT NOT NULL,
    organization_id TEXT,
    payload TEXT NOT NULL,
    -- 'queued' (due at run_at, or leased until run_at) or 'dead' (dead-lettered).
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- When the job is next due. A claim moves it to the lease's end, so a lapsed lease
    -- makes the job due again without a separate lease test.
    run_at BIGINT NOT NULL,
    lease_until BIGINT,
    lease_owner TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX jobs_due ON jobs (kind, run_at) WHERE state = 'queued';
CREATE INDEX jobs_key ON jobs (kind, job_key);

-- Each consumer's position in the outbox: it has consumed every event at or below
-- (txid, seq). See docs/jobs.md, "The outbox cursor".
CREATE TABLE outbox_consumers (
    name TEXT PRIMARY KEY,
    txid BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- SQLite: the events table is rebuilt with an AUTOINCREMENT sequence (never reused, even
-- after the newest rows are purged); existing events keep their (created_at, id) order.
{{SQLITE}} CREATE TABLE events_new (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workspace_id TEXT,
    account_id TEXT,
    event_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    txid BIGINT NOT NULL DEFAULT 0
);
{{SQLITE}} INSERT INTO events_new (id, organization_id, workspace_id, account_id, event_type,
    subject_id, payload, occurred_at, created_at)
    SELECT id, organization_id, workspace_id, account_id, event_type, subject_id, payload,
    occurred_at, created_at FROM events ORDER BY created_at, id;
{{SQLITE}} INSERT INTO outbox_consumers (name, txid, seq, updated_at)
    SELECT 'webhooks', 0, COALESCE((SELECT MIN(n.seq) - 1 FROM events_new n JOIN events e ON e.id = n.id
    WHERE e.dispatched = 0), (SELECT MAX(seq) FROM events_new), 0), 0;
{{SQLITE}} INSERT INTO outbox_consumers (name, txid, seq, updated_at)
    SELECT 'gamebooks', 0, COALESCE((SELECT MIN(n.seq) - 1 FROM events_new n JOIN events e ON e.id = n.id
    WHERE e.gamebooks_seen = 0), (SELECT MAX(seq) FROM events_new), 0), 0;
{{SQLITE}} DROP TABLE events;
{{SQLITE}} ALTER TABLE events_new RENAME TO events;

-- PostgreSQL: a sequence numbers the events in insert order, and each event records the id
-- of the transaction that wrote it (existing events: 0).
{{POSTGRES}} CREATE SEQUENCE events_seq;
{{POSTGRES}} ALTER TABLE events ADD COLUMN seq BIGINT;
{{POSTGRES}} UPDATE events e SET seq = o.n FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM events) o WHERE o.id = e.id;
{{POSTGRES}} SELECT setval('events_seq', (SELECT COALESCE(MAX(seq), 0) + 1 FROM events), false);
{{POSTGRES}} ALTER TABLE events ALTER COLUMN seq SET DEFAULT nextval('events_seq'), ALTER COLUMN seq SET NOT NULL;
{{POSTGRES}} ALTER SEQUENCE events_seq OWNED BY events.seq;
{{POSTGRES}} ALTER TABLE events ADD COLUMN txid BIGINT NOT NULL DEFAULT 0;
{{POSTGRES}} ALTER TABLE events ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint);
{{POSTGRES}} INSERT INTO outbox_consumers (name, txid, seq, updated_at)
    SELECT 'webhooks', 0, COALESCE((SELECT MIN(seq) - 1 FROM events WHERE dispatched = 0), (SELECT MAX(seq) FROM events), 0), 0;
{{POSTGRES}} INSERT INTO outbox_consumers (name, txid, seq, updated_at)
    SELECT 'gamebooks', 0, COALESCE((SELECT MIN(seq) - 1 FROM events WHERE gamebooks_seen = 0), (SELECT MAX(seq) FROM events), 0), 0;
{{POSTGRES}} ALTER TABLE events DROP COLUMN dispatched, DROP COLUMN gamebooks_seen;

CREATE INDEX events_position ON events (txid, seq);
