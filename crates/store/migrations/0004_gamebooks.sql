-- Gamebooks (playbook catalogue, rules, durable runs) and service tickets.

-- Outbox consumption by the gamebook trigger: incident.created events start the runs of
-- matching auto-run rules, and every event is marked seen in the same transaction.
-- Events written before this migration never start runs.
ALTER TABLE events ADD COLUMN gamebooks_seen BIGINT NOT NULL DEFAULT 0;
UPDATE events SET gamebooks_seen = 1;
CREATE INDEX events_gamebooks_pending ON events (created_at, id) WHERE gamebooks_seen = 0;

-- The organization's playbook catalogue. action is JSON {type, ...}, parameters a JSON object.
CREATE TABLE playbooks (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    entity_type TEXT NOT NULL,
    is_admin_required BIGINT NOT NULL,
    parameters TEXT NOT NULL,
    action TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX playbooks_org ON playbooks (organization_id, name);

-- Rules of a workspace: which playbooks an incident's title (and severity, source) calls for.
-- severities, sources and playbook_ids are JSON lists.
CREATE TABLE gamebook_rules (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    match_type TEXT NOT NULL,
    pattern TEXT NOT NULL,
    severities TEXT NOT NULL,
    sources TEXT NOT NULL,
    playbook_ids TEXT NOT NULL,
    is_auto_run BIGINT NOT NULL,
    is_enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX gamebook_rules_workspace ON gamebook_rules (workspace_id, created_at);

-- A gamebook run is its own durable job: a worker claims it by setting lease_until and
-- works its steps in order, committing each. A crashed worker's run is claimable again
-- once the lease has passed and resumes at its first unfinished step.
CREATE TABLE gamebook_runs (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    incident_number BIGINT NOT NULL,
    incident_title TEXT NOT NULL,
    rule_id TEXT,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    is_auto_run BIGINT NOT NULL,
    is_admin_required BIGINT NOT NULL,
    triggered_by TEXT,
    trigger_event_id TEXT,
    summary TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT,
    lease_owner TEXT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX gamebook_runs_queue ON gamebook_runs (status, created_at);
CREATE INDEX gamebook_runs_workspace ON gamebook_runs (workspace_id, created_at, id);
CREATE INDEX gamebook_runs_org ON gamebook_runs (organization_id, created_at, id);
CREATE INDEX gamebook_runs_incident ON gamebook_runs (workspace_id, incident_id, created_at);
CREATE UNIQUE INDEX gamebook_runs_trigger ON gamebook_runs (trigger_event_id, rule_id);

-- One step per playbook and affected entity, run in sequence order.
CREATE TABLE gamebook_run_playbooks (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES gamebook_runs (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    playbook_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    entity_type TEXT NOT NULL,
    entity_id TEXT,
    affected_entity TEXT,
    is_admin_required BIGINT NOT NULL,
    parameters TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    approved_by TEXT,
    error_message TEXT,
    output TEXT,
    started_at BIGINT,
    finished_at BIGINT,
    modified_at BIGINT NOT NULL
);
CREATE INDEX gamebook_run_playbooks_run ON gamebook_run_playbooks (run_id, sequence);

-- Service tickets of a workspace, one per PSA ticket id. doc is the ServiceTicket JSON.
CREATE TABLE tickets (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    ticket_id TEXT NOT NULL,
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    psa TEXT NOT NULL,
    number TEXT,
    grouping_id TEXT,
    priority TEXT,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, ticket_id)
);
CREATE INDEX tickets_number ON tickets (workspace_id, number);
CREATE INDEX tickets_grouping ON tickets (workspace_id, grouping_id);

CREATE TABLE incident_tickets (
    workspace_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    source TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, ticket_id, source, incident_id),
    FOREIGN KEY (workspace_id, ticket_id) REFERENCES tickets (workspace_id, ticket_id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, source, incident_id) REFERENCES incidents (workspace_id, source, id) ON DELETE CASCADE
);
CREATE INDEX incident_tickets_incident ON incident_tickets (workspace_id, source, incident_id);
