-- Webhooks: configurations, the delivery job queue fed from the events outbox, and one
-- delivery log per attempt.

-- Outbox consumption: the dispatcher fans each event out to the matching webhooks and marks
-- it dispatched in the same transaction.
ALTER TABLE events ADD COLUMN dispatched BIGINT NOT NULL DEFAULT 0;
CREATE INDEX events_pending ON events (created_at, id) WHERE dispatched = 0;

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    target_account_id TEXT NOT NULL REFERENCES accounts (id),
    workspace_id TEXT,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    status TEXT NOT NULL,
    event_types TEXT NOT NULL,
    monitored_account_ids TEXT NOT NULL,
    authentication_type TEXT NOT NULL,
    api_key_header TEXT,
    -- Delivery credentials and signing secret, sealed with a key derived from secret_key.
    sealed_credentials TEXT,
    sealed_signing_secret TEXT,
    disable_reason TEXT,
    disabled_at BIGINT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL
);
CREATE INDEX webhooks_org ON webhooks (organization_id, created_at);
CREATE INDEX webhooks_held ON webhooks (id) WHERE status <> 'Active';

-- One row per (event, webhook) still to deliver. A worker claims a row by setting
-- lease_until, and a crashed worker's rows are claimable again once the lease has passed.
CREATE TABLE webhook_jobs (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    account_id TEXT,
    subject_id TEXT,
    subject_display_name TEXT,
    subject_attributes TEXT,
    occurred_at BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    lease_owner TEXT,
    original_delivery_id TEXT,
    pending_log_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_jobs_due ON webhook_jobs (next_attempt_at);
CREATE INDEX webhook_jobs_webhook ON webhook_jobs (webhook_id);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL,
    http_status_code BIGINT,
    error_message TEXT,
    account_id TEXT,
    subject_id TEXT,
    subject_display_name TEXT,
    subject_attributes TEXT,
    is_test BIGINT NOT NULL,
    original_delivery_id TEXT,
    attempt_number BIGINT NOT NULL,
    latency_ms BIGINT,
    request_url TEXT NOT NULL,
    request_headers TEXT NOT NULL,
    request_body TEXT NOT NULL,
    response_snippet TEXT,
    event_occurred_at BIGINT,
    completed_at BIGINT,
    redelivery_requested_at BIGINT,
    redelivered BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (webhook_id, created_at, id);
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (created_at);
