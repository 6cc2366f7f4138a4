-- Incidents of the six sources, their entity index, comments, per-workspace numbering and the
-- event outbox.

CREATE TABLE incidents (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    title TEXT NOT NULL,
    description TEXT,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    owner_email TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- What listings show beyond the columns above (JSON), so a listing never reads `doc`.
    summary TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (workspace_id, source, id)
);
CREATE INDEX incidents_stream ON incidents (workspace_id, source, created_at, id);
-- Cross-workspace paging walks this index newest first: (createdAt, workspace, source, id) DESC.
CREATE INDEX incidents_org_order ON incidents (organization_id, created_at, workspace_id, source, id);

-- The oldest creation instant per workspace × source stream: a stream is exhausted once the
-- paging cursor has passed it.
CREATE TABLE incident_streams (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    oldest_created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, source)
);

CREATE TABLE incident_entity_keys (
    workspace_id TEXT NOT NULL,
    source TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, source, incident_id, kind, entity_key),
    FOREIGN KEY (workspace_id, source, incident_id) REFERENCES incidents (workspace_id, source, id) ON DELETE CASCADE
);
CREATE INDEX incident_entity_lookup ON incident_entity_keys (workspace_id, source, kind, entity_key);

CREATE TABLE incident_comments (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    source TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    message TEXT NOT NULL,
    author_email TEXT,
    author_name TEXT,
    is_activity BIGINT NOT NULL,
    is_agent BIGINT NOT NULL,
    agent_name TEXT,
    is_closing BIGINT NOT NULL,
    ticket_note_id TEXT,
    ticket_id TEXT,
    created_at BIGINT NOT NULL,
    FOREIGN KEY (workspace_id, source, incident_id) REFERENCES incidents (workspace_id, source, id) ON DELETE CASCADE
);
CREATE INDEX incident_comments_incident ON incident_comments (workspace_id, source, incident_id, created_at);

CREATE TABLE workspace_counters (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    last_number BIGINT NOT NULL
);

-- The outbox: written in the same transaction as the change it describes.
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workspace_id TEXT,
    account_id TEXT,
    event_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_org ON events (organization_id, created_at, id);
