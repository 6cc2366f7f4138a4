-- Webhook deliveries move onto the job queue (kind 'webhook.delivery', keyed by webhook):
-- queued deliveries are carried over with their attempts and due times.

{{SQLITE}} INSERT INTO jobs (id, kind, job_key, organization_id, payload, state, attempts, run_at,
    created_at)
    SELECT id, 'webhook.delivery', webhook_id, organization_id, json_object('org', organization_id,
    'webhook_id', webhook_id, 'event_id', event_id, 'event_type', event_type, 'body', body,
    'account_id', account_id, 'subject_id', subject_id, 'subject_display_name', subject_display_name,
    'subject_attributes', subject_attributes, 'occurred_at', occurred_at,
    'original_delivery_id', original_delivery_id, 'pending_log_id', pending_log_id),
    'queued', attempts, next_attempt_at, created_at FROM webhook_jobs;
{{POSTGRES}} INSERT INTO jobs (id, kind, job_key, organization_id, payload, state, attempts, run_at,
    created_at)
    SELECT id, 'webhook.delivery', webhook_id, organization_id, CAST(json_build_object('org',
    organization_id, 'webhook_id', webhook_id, 'event_id', event_id, 'event_type', event_type,
    'body', body, 'account_id', account_id, 'subject_id', subject_id, 'subject_display_name',
    subject_display_name, 'subject_attributes', subject_attributes, 'occurred_at', occurred_at,
    'original_delivery_id', original_delivery_id, 'pending_log_id', pending_log_id) AS TEXT),
    'queued', attempts, next_attempt_at, created_at FROM webhook_jobs;
DROP TABLE webhook_jobs;
