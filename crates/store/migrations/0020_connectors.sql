-- The connector engine (issue 13, docs/connectors.md): a data source that Palisade polls, its
-- sealed credentials, cursor and health; the write-backs of analysts' changes to pulled
-- incidents; and, on each incident, the connector it was pulled from and its write-back state.
-- (Versions 20–29 belong to this branch.)

CREATE TABLE connectors (
    datasource_id TEXT PRIMARY KEY REFERENCES datasources (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    -- ConnectorKind (MicrosoftSentinel, …) and the incident source it feeds.
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    -- Settings::to_json(), canonical; credentials sealed with the server's connector key.
    settings TEXT NOT NULL,
    credentials TEXT NOT NULL,
    -- Bumped whenever settings or credentials change (the process's connector cache key).
    settings_version BIGINT NOT NULL,
    start_from BIGINT NOT NULL,
    poll_interval_secs BIGINT NOT NULL,
    -- Cursor::to_json() of the last committed page; NULL: start from start_from.
    cursor TEXT,
    paused BIGINT NOT NULL,
    -- Healthy, Degraded or Failing (Paused is shown from `paused`).
    state TEXT NOT NULL,
    last_poll_at BIGINT,
    last_success_at BIGINT,
    last_error TEXT,
    pulled_total BIGINT NOT NULL,
    consecutive_failures BIGINT NOT NULL,
    -- The poll job: due at next_poll_at, leased to one replica at a time.
    next_poll_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX connectors_due ON connectors (paused, next_poll_at);
CREATE INDEX connectors_workspace ON connectors (organization_id, workspace_id);

-- Analysts' changes to pulled incidents, to send to the source, in order per incident.
CREATE TABLE connector_writebacks (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    connector_id TEXT NOT NULL REFERENCES connectors (datasource_id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    -- status, assign or comment; change: the values after the change (JSON).
    kind TEXT NOT NULL,
    change TEXT NOT NULL,
    made_at BIGINT NOT NULL,
    -- pending, failed or done.
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    last_error TEXT,
    lease_owner TEXT,
    lease_until BIGINT,
    done_at BIGINT
);
CREATE INDEX connector_writebacks_due ON connector_writebacks (state, next_at);
CREATE INDEX connector_writebacks_incident ON connector_writebacks (workspace_id, source, incident_id, made_at);
CREATE INDEX connector_writebacks_connector ON connector_writebacks (connector_id, state);

ALTER TABLE incidents ADD COLUMN connector_id TEXT;
-- {state: Pending|Synced|Failed, lastError, at} of the incident's write-backs (JSON).
ALTER TABLE incidents ADD COLUMN sync TEXT;
