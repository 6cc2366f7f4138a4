-- Data connectors per workspace, their hourly ingestion volume, and the investigation logs
-- (sign-in and directory audit) with the audit trail of their queries. (Version 4 belongs to
-- another branch.)

CREATE TABLE datasources (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    connector_type TEXT NOT NULL,
    -- The connector type for the kinds Palisade's own ingest feeds (incident sources, sign-in
    -- and directory logs), NULL otherwise: at most one such connector per workspace and kind.
    ingest_kind TEXT,
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    description TEXT,
    icon TEXT,
    connected BIGINT NOT NULL,
    parameters TEXT NOT NULL,
    auto_created BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    UNIQUE (workspace_id, ingest_kind)
);
CREATE INDEX datasources_workspace ON datasources (organization_id, workspace_id, created_at);

-- Events and bytes received per connector and UTC hour (hour_start: microseconds, on the hour).
CREATE TABLE datasource_volume (
    connector_id TEXT NOT NULL REFERENCES datasources (id) ON DELETE CASCADE,
    hour_start BIGINT NOT NULL,
    organization_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    events BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    PRIMARY KEY (connector_id, hour_start)
);
CREATE INDEX datasource_volume_workspace ON datasource_volume (organization_id, workspace_id, hour_start);

-- Sign-in logs: the item as JSON in doc, the query keys as columns. user_key is the user's
-- object id, lowercased, upn_key the lowercased user principal name.
CREATE TABLE signin_logs (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    user_key TEXT NOT NULL,
    upn_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    doc TEXT NOT NULL,
    ingested_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX signin_logs_user ON signin_logs (organization_id, workspace_id, user_key, created_at DESC, id DESC);
CREATE INDEX signin_logs_upn ON signin_logs (organization_id, workspace_id, upn_key, created_at DESC, id DESC);

CREATE TABLE directory_logs (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    user_key TEXT NOT NULL,
    upn_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    doc TEXT NOT NULL,
    ingested_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX directory_logs_user ON directory_logs (organization_id, workspace_id, user_key, created_at DESC, id DESC);
CREATE INDEX directory_logs_upn ON directory_logs (organization_id, workspace_id, upn_key, created_at DESC, id DESC);

-- Who queried which user's logs, when, with which parameters (EntityName, ResourceId and
-- ResourceName are recorded here only).
CREATE TABLE investigation_audit (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    service_account_id TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    log_kind TEXT NOT NULL,
    user_id TEXT NOT NULL,
    time_filtering_type TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    continuation BIGINT NOT NULL,
    entity_name TEXT,
    resource_id TEXT,
    resource_name TEXT,
    result_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX investigation_audit_workspace ON investigation_audit (organization_id, workspace_id, created_at, id);
