-- Connector polls and write-backs run on the job queue (docs/jobs.md, docs/connectors.md):
-- each connector that is not paused gets its poll job (kind 'connector.poll', keyed by the
-- connector, due when its next poll was), each pending write-back its job (kind
-- 'connector.writeback', keyed by the incident, the write-back's id as payload). The leases
-- the connectors' own scheduler kept on these rows, and its due indexes, go.

INSERT INTO jobs (id, kind, job_key, organization_id, payload, state, attempts, run_at, created_at)
    SELECT datasource_id, 'connector.poll', datasource_id, organization_id, datasource_id, 'queued', 0,
    CASE WHEN lease_until IS NOT NULL AND lease_until > next_poll_at THEN lease_until ELSE next_poll_at END,
    created_at FROM connectors WHERE paused = 0;

INSERT INTO jobs (id, kind, job_key, organization_id, payload, state, attempts, run_at, created_at)
    SELECT id, 'connector.writeback', workspace_id || '/' || source || '/' || incident_id,
    organization_id, id, 'queued', attempts,
    CASE WHEN lease_until IS NOT NULL AND lease_until > next_at THEN lease_until ELSE next_at END,
    made_at FROM connector_writebacks WHERE state = 'pending';

DROP INDEX connectors_due;
DROP INDEX connector_writebacks_due;
ALTER TABLE connectors DROP COLUMN lease_owner;
ALTER TABLE connectors DROP COLUMN lease_until;
ALTER TABLE connector_writebacks DROP COLUMN lease_owner;
ALTER TABLE connector_writebacks DROP COLUMN lease_until;
