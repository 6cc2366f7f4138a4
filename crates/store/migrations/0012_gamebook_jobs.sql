-- Gamebook runs are worked as jobs (kind 'gamebook.run', keyed by workspace, the run id as
-- payload): the runs still due (new, approved, or held by a worker) get theirs.

INSERT INTO jobs (id, kind, job_key, organization_id, payload, state, attempts, run_at, created_at)
    SELECT id, 'gamebook.run', workspace_id, organization_id, id, 'queued', 0,
    CASE WHEN lease_until IS NULL THEN modified_at ELSE lease_until END, created_at
    FROM gamebook_runs WHERE status IN ('Pending', 'Running');
