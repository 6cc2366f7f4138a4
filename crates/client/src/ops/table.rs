//! Every route of the server, by resource. Order and spelling follow the server's route
//! table (`crates/server/src/routes/*`); paths are spelled as the OpenAPI document spells them.

use palisade_types::audit::*;
use palisade_types::azure::*;
use palisade_types::datasources::*;
use palisade_types::gamebooks::*;
use palisade_types::incidents::*;
use palisade_types::investigation::*;
use palisade_types::org::*;
use palisade_types::tickets::*;
use palisade_types::webhooks::*;
use serde_json::Value;

use crate::query::*;

operations! {
    /// Liveness, readiness, metrics, the OpenAPI documents and the guides.
    System {
        /// Unauthenticated hello-world.
        ping: GET "/api/v2/ping" "v2-ping" () -> Pong;
        healthz: GET "/healthz" "healthz" () -> Value [json];
        readyz: GET "/readyz" "readyz" () -> Value [json];
        /// Prometheus text.
        metrics: GET "/metrics" "metrics" () -> String [text];
        openapi: GET "/api/v2/openapi.json" "openapi" () -> Value [json];
        openapi_30: GET "/api/v2/openapi-3.0.json" "openapi-3.0" () -> Value [json];
        /// A guide of `docs/` as Markdown.
        guide: GET "/docs/{guide}" "docs-guide" (guide) -> String [text];
    }
}

operations! {
    ServiceAccounts {
        list: GET "/api/v2/service-accounts" "v2-list-service-accounts" () -> Vec<ServiceAccount>;
        get: GET "/api/v2/service-accounts/{id}" "v2-get-service-account" (id) -> ServiceAccount;
        /// The answer holds the secret; it is shown only here.
        create: POST "/api/v2/service-accounts" "v2-create-service-account" ()
            [body CreateServiceAccountRequest] -> CreatedServiceAccount;
        update: PUT "/api/v2/service-accounts/{id}" "v2-update-service-account" (id)
            [body UpdateServiceAccountRequest] -> ServiceAccount;
        delete: DELETE "/api/v2/service-accounts/{id}" "v2-delete-service-account" (id) -> bool;
        disable: POST "/api/v2/service-accounts/{id}/disable" "v2-disable-service-account" (id) -> ServiceAccount;
        enable: POST "/api/v2/service-accounts/{id}/enable" "v2-enable-service-account" (id) -> ServiceAccount;
        /// A new credential (rotation: issue one, switch, revoke the old one).
        issue_credential: POST "/api/v2/service-accounts/{id}/credentials" "v2-create-service-account-credential" (id)
            [optbody CreateCredentialRequest] -> IssuedCredential;
        revoke_credential: POST "/api/v2/service-accounts/{id}/credentials/{credentialId}/revoke" "v2-revoke-service-account-credential"
            (id, credential_id) -> Credential;
    }
}

operations! {
    Users {
        list: GET "/api/v2/users" "v2-list-users" () -> Vec<User>;
        profile: GET "/api/v2/users/profile" "v2-get-profile" () -> User;
        update_profile: PUT "/api/v2/users/profile" "v2-update-profile" () [body UpdateProfileRequest] -> User;
        get: GET "/api/v2/users/{userId}" "v2-get-user" (user_id) -> User;
        workspace_users: POST "/api/v2/users/workspace/users" "v2-get-workspace-users" [idempotent] ()
            [body WorkspaceUsersRequest] -> Vec<WorkspaceUser>;
        add: POST "/api/v2/users" "v2-add-user" () [body AddUsersRequest] -> bool;
        update: PUT "/api/v2/users" "v2-update-user" () [body UserInput] -> bool;
        delete: DELETE "/api/v2/users/{userId}" "v2-delete-user" (user_id) -> bool;
        assign_to_workspace: POST "/api/v2/users/workspace" "v2-assign-users-to-workspace" ()
            [body AssignUsersToWorkspaceRequest] -> bool;
        set_org_role: PUT "/api/v2/users/organization/role" "v2-update-org-role" () [body UpdateOrgRoleRequest] -> bool;
    }
}

operations! {
    /// Accounts and workspaces.
    Tenancy {
        list_accounts: GET "/api/v2/accounts" "v2-list-accounts" () -> Vec<Account>;
        create_account: POST "/api/v2/accounts" "v2-create-account" () [body CreateAccountRequest] -> Account;
        get_account: GET "/api/v2/accounts/{accountId}" "v2-get-account" (account_id) -> Account;
        list_workspaces: GET "/api/v2/workspaces" "v2-list-workspaces" () -> Vec<Workspace>;
        create_workspace: POST "/api/v2/workspaces" "v2-create-workspace" () [body WorkspaceRequest] -> Workspace;
        get_workspace: GET "/api/v2/workspaces/{workspaceId}" "v2-get-workspace" (workspace_id) -> Workspace;
        update_workspace: PUT "/api/v2/workspaces/{workspaceId}" "v2-update-workspace" (workspace_id)
            [body WorkspaceRequest] -> Workspace;
        delete_workspace: DELETE "/api/v2/workspaces/{workspaceId}" "v2-delete-workspace" (workspace_id) -> bool;
    }
}

operations! {
    Incidents {
        /// Create or update one incident in Palisade's model.
        ingest_one: PUT "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}" "v2-ingest-incident"
            (workspace_id, source, incident_id) [body IncidentInput] -> IngestOneResult;
        /// A batch of up to 1,000 (an upsert by id, so retried like an idempotent call).
        ingest_batch: POST "/api/v2/workspaces/{workspaceId}/incidents/{source}/ingest" "v2-ingest-incidents" [idempotent]
            (workspace_id, source) [query IngestQuery] [body IngestBatchRequest] -> IngestBatchResult;
        get: GET "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}" "v2-get-incident-by-id"
            (workspace_id, source, incident_id) [query DetailQuery] -> IncidentDetail;
        evidence: GET "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/evidence" "v2-get-incident-evidence"
            (workspace_id, source, incident_id) -> Evidence;
        last_gamebook: GET "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/last-gamebook" "v2-get-incident-last-gamebook"
            (workspace_id, source, incident_id) -> Gamebook;
        comments: GET "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/comments" "v2-get-incident-comments"
            (workspace_id, source, incident_id) -> Vec<IncidentComment>;
        by_entity: GET "/api/v2/workspaces/{workspaceId}/incidents/{source}/by-entity" "v2-get-incidents-by-entity"
            (workspace_id, source) [query ByEntityQuery] -> RelatedIncidents;
        /// One page of the cross-workspace listing; see [`Incidents::across`] for a stream.
        across_page: POST "/api/v2/incidents/across-workspaces" "v2-list-incidents-across-workspaces" [idempotent]
            () [body AcrossWorkspacesRequest] -> AcrossWorkspacesPage;
        summary: GET "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/summary" "v2-get-incident-summary"
            (workspace_id, source, incident_id) -> IncidentSummary;
        entities: GET "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/entities" "v2-get-incident-entities"
            (workspace_id, source, incident_id) -> Vec<Entity>;
        alert_rules: GET "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/alert-rules" "v2-get-incident-alert-rules"
            (workspace_id, source, incident_id) -> Vec<AlertRule>;
        high: GET "/api/v2/workspaces/{workspaceId}/incidents/{source}/high" "v2-get-high-incidents"
            (workspace_id, source) -> Vec<IncidentListItem>;
        set_status: PUT "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/status" "v2-update-incident-status"
            (workspace_id, source, incident_id) [body StatusUpdateRequest] -> Incident;
        /// Assign, or with neither `userId` nor `email`, unassign.
        assign: PUT "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/assign" "v2-assign-incident"
            (workspace_id, source, incident_id) [body AssignRequest] -> Incident;
        bulk: PUT "/api/v2/workspaces/{workspaceId}/incidents/{source}/bulk" "v2-bulk-update-incidents"
            (workspace_id, source) [body BulkUpdateRequest] -> BulkUpdateResult;
        add_comment: POST "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/comments" "v2-create-incident-comment"
            (workspace_id, source, incident_id) [body CommentRequest] -> IncidentComment;
        update_comment: PUT "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/comments/{commentId}" "v2-update-incident-comment"
            (workspace_id, source, incident_id, comment_id) [body CommentRequest] -> IncidentComment;
        /// The legacy route: `source` in the body.
        legacy_set_status: PUT "/api/v2/workspaces/{workspaceId}/incidents/{incidentId}/status" "v2-update-incident-status-legacy"
            (workspace_id, incident_id) [body StatusUpdateRequest] -> Incident;
        /// The legacy route: `source` in the body.
        legacy_assign: PUT "/api/v2/workspaces/{workspaceId}/incidents/{incidentId}/assign" "v2-assign-incident-legacy"
            (workspace_id, incident_id) [body AssignRequest] -> Incident;
        /// The legacy route: `source` in the body.
        legacy_add_comment: POST "/api/v2/workspaces/{workspaceId}/incidents/{incidentId}/comments" "v2-create-incident-comment-legacy"
            (workspace_id, incident_id) [body CommentRequest] -> IncidentComment;
    }
}

operations! {
    /// Data sources, their volume, and the connectors that poll them (DESIGN §10).
    Datasources {
        list: GET "/api/v2/workspaces/{workspaceId}/datasources" "v2-list-datasources" (workspace_id) -> Vec<DataSource>;
        create: POST "/api/v2/workspaces/{workspaceId}/datasources" "v2-create-datasource" (workspace_id)
            [body DataSourceRequest] -> DataSource;
        get: GET "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}" "v2-get-datasource"
            (workspace_id, data_connector_id) -> DataSource;
        update: PUT "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}" "v2-update-datasource"
            (workspace_id, data_connector_id) [body DataSourceRequest] -> DataSource;
        delete: DELETE "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}" "v2-delete-datasource"
            (workspace_id, data_connector_id) -> bool;
        record_volume: POST "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/volume" "v2-record-datasource-volume"
            (workspace_id, data_connector_id) [body RecordVolumeRequest] -> RecordVolumeResult;
        volume: GET "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/volume" "v2-get-datasource-volume"
            (workspace_id, data_connector_id) [query VolumeQuery] -> Vec<VolumeHour>;
        across: GET "/api/v2/datasources/across-workspaces" "v2-list-datasources-across-workspaces"
            () [query WorkspaceIdsQuery] -> Vec<WorkspaceDataSources>;
        anomalies: POST "/api/v2/datasources/across-workspaces/anomalies" "v2-list-datasource-anomalies-across-workspaces" [idempotent]
            () [body AnomaliesRequest] -> DataConnectorAnomalies;
        /// Poll the connector now (202).
        sync: POST "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/sync" "v2-sync-datasource"
            (workspace_id, data_connector_id) -> ConnectorStatus [accepted];
        status: GET "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/status" "v2-get-datasource-status"
            (workspace_id, data_connector_id) -> ConnectorStatus;
        pause: POST "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/pause" "v2-pause-datasource"
            (workspace_id, data_connector_id) -> ConnectorStatus;
        resume: POST "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/resume" "v2-resume-datasource"
            (workspace_id, data_connector_id) -> ConnectorStatus;
    }
}

operations! {
    Investigation {
        /// One page; see [`Investigation::signin_log_stream`].
        signin_logs: GET "/api/v2/workspaces/{workspaceId}/investigation/users/signin-logs" "v2-list-signin-logs"
            (workspace_id) [query LogQuery] -> SignInLogPage;
        directory_logs: GET "/api/v2/workspaces/{workspaceId}/investigation/users/directory-logs" "v2-list-directory-logs"
            (workspace_id) [query LogQuery] -> DirectoryLogPage;
        /// Items whose id the workspace holds are skipped (so retried like an idempotent call).
        ingest_signin_logs: POST "/api/v2/workspaces/{workspaceId}/investigation/users/signin-logs/ingest" "v2-ingest-signin-logs" [idempotent]
            (workspace_id) [body SignInLogIngestRequest] -> LogIngestResult;
        ingest_directory_logs: POST "/api/v2/workspaces/{workspaceId}/investigation/users/directory-logs/ingest" "v2-ingest-directory-logs" [idempotent]
            (workspace_id) [body DirectoryLogIngestRequest] -> LogIngestResult;
        audit: GET "/api/v2/workspaces/{workspaceId}/investigation/audit" "v2-list-investigation-audit"
            (workspace_id) [query AuditQuery] -> InvestigationAuditPage;
    }
}

operations! {
    Webhooks {
        event_types: GET "/api/v2/webhooks/event-types" "v2-list-webhook-event-types" () -> Vec<EventTypeInfo>;
        list: GET "/api/v2/webhooks" "v2-list-webhooks" () -> Vec<Webhook>;
        get: GET "/api/v2/webhooks/{id}" "v2-get-webhook" (id) -> Webhook;
        /// The answer holds the signing secret; it is shown only here.
        create: POST "/api/v2/webhooks" "v2-create-webhook" () [body WebhookRequest] -> WebhookCreated;
        update: PUT "/api/v2/webhooks/{id}" "v2-update-webhook" (id) [body WebhookRequest] -> Webhook;
        delete: DELETE "/api/v2/webhooks/{id}" "v2-delete-webhook" (id) -> bool;
        pause: POST "/api/v2/webhooks/{id}/pause" "v2-pause-webhook" (id) -> Webhook;
        resume: POST "/api/v2/webhooks/{id}/resume" "v2-resume-webhook" (id) -> Webhook;
        enable: POST "/api/v2/webhooks/{id}/enable" "v2-enable-webhook" (id) -> Webhook;
        set_credentials: POST "/api/v2/webhooks/{id}/credentials" "v2-update-webhook-credentials" (id)
            [body WebhookCredentialsRequest] -> WebhookCredentialsResult;
        /// Sends a test event now and returns its delivery log.
        test: POST "/api/v2/webhooks/{id}/test" "v2-test-webhook" (id) -> DeliveryLog;
        /// One page; see [`Webhooks::log_stream`].
        logs: GET "/api/v2/webhooks/{id}/delivery-logs" "v2-list-webhook-delivery-logs" (id)
            [query DeliveryLogQuery] -> DeliveryLogPage;
        log: GET "/api/v2/webhooks/{id}/delivery-logs/{logId}" "v2-get-webhook-delivery-log" (id, log_id)
            [query CreatedAtQuery] -> DeliveryLog;
        redeliver: POST "/api/v2/webhooks/{id}/delivery-logs/{logId}/redeliver" "v2-redeliver-webhook-delivery" (id, log_id)
            [query CreatedAtQuery] -> DeliveryLog;
    }
}

operations! {
    Gamebooks {
        rules_by_title: GET "/api/v2/workspaces/{workspaceId}/gamebooks/rules/{incidentTitle}" "v2-get-gamebook-rules-by-title"
            (workspace_id, incident_title) -> RulesByTitle;
        /// One page; see [`Gamebooks::history_stream`].
        history: GET "/api/v2/workspaces/{workspaceId}/gamebooks/history" "v2-list-gamebooks-history"
            (workspace_id) [query GamebookHistoryQuery] -> GamebookHistoryPage;
        run_playbooks: GET "/api/v2/workspaces/{workspaceId}/gamebooks/history/{gamebookId}/playbooks" "v2-get-playbooks-by-gamebook-id"
            (workspace_id, gamebook_id) [query RunPlaybooksQuery] -> Vec<Playbook>;
        by_incident: GET "/api/v2/workspaces/{workspaceId}/gamebooks/by-incident/{incidentId}" "v2-list-incident-gamebooks"
            (workspace_id, incident_id) -> Vec<Gamebook>;
        /// One page; see [`Gamebooks::across_history_stream`].
        across_history: GET "/api/v2/gamebooks/across-workspaces/history" "v2-list-gamebooks-history-across-workspaces"
            () [query GamebookPageQuery] -> GamebookPageList;
        list_playbooks: GET "/api/v2/gamebooks/playbooks" "v2-list-playbooks" () -> Vec<PlaybookDefinition>;
        create_playbook: POST "/api/v2/gamebooks/playbooks" "v2-create-playbook" () [body PlaybookRequest] -> PlaybookDefinition;
        get_playbook: GET "/api/v2/gamebooks/playbooks/{playbookId}" "v2-get-playbook" (playbook_id) -> PlaybookDefinition;
        update_playbook: PUT "/api/v2/gamebooks/playbooks/{playbookId}" "v2-update-playbook" (playbook_id)
            [body PlaybookRequest] -> PlaybookDefinition;
        delete_playbook: DELETE "/api/v2/gamebooks/playbooks/{playbookId}" "v2-delete-playbook" (playbook_id) -> bool;
        list_rules: GET "/api/v2/workspaces/{workspaceId}/gamebook-rules" "v2-list-gamebook-rules" (workspace_id) -> Vec<GamebookRule>;
        create_rule: POST "/api/v2/workspaces/{workspaceId}/gamebook-rules" "v2-create-gamebook-rule" (workspace_id)
            [body GamebookRuleRequest] -> GamebookRule;
        get_rule: GET "/api/v2/workspaces/{workspaceId}/gamebook-rules/{ruleId}" "v2-get-gamebook-rule" (workspace_id, rule_id) -> GamebookRule;
        update_rule: PUT "/api/v2/workspaces/{workspaceId}/gamebook-rules/{ruleId}" "v2-update-gamebook-rule" (workspace_id, rule_id)
            [body GamebookRuleRequest] -> GamebookRule;
        delete_rule: DELETE "/api/v2/workspaces/{workspaceId}/gamebook-rules/{ruleId}" "v2-delete-gamebook-rule" (workspace_id, rule_id) -> bool;
        /// Run a playbook on an incident.
        start: POST "/api/v2/workspaces/{workspaceId}/gamebooks/runs" "v2-start-gamebook" (workspace_id)
            [body StartGamebookRequest] -> Gamebook;
        get_run: GET "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}" "v2-get-gamebook" (workspace_id, gamebook_id) -> Gamebook;
        approve: POST "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}/approve" "v2-approve-gamebook" (workspace_id, gamebook_id) -> Gamebook;
        reject: POST "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}/reject" "v2-reject-gamebook" (workspace_id, gamebook_id) -> Gamebook;
        cancel: POST "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}/cancel" "v2-cancel-gamebook" (workspace_id, gamebook_id) -> Gamebook;
    }
}

operations! {
    Tickets {
        upsert: POST "/api/v2/workspaces/{workspaceId}/tickets" "v2-upsert-ticket" (workspace_id) [body ServiceTicketInput] -> ServiceTicket;
        link: POST "/api/v2/workspaces/{workspaceId}/tickets/link" "v2-link-ticket" (workspace_id)
            [body LinkServiceTicketRequest] -> ServiceTicket;
        unlink: POST "/api/v2/workspaces/{workspaceId}/tickets/unlink" "v2-unlink-ticket" (workspace_id)
            [body LinkServiceTicketRequest] -> bool;
        priority: PUT "/api/v2/workspaces/{workspaceId}/tickets/priority" "v2-update-ticket-priority" (workspace_id)
            [body TicketPriorityRequest] -> ServiceTicket;
        search: GET "/api/v2/workspaces/{workspaceId}/tickets/search" "v2-search-tickets" (workspace_id)
            [query TicketSearchQuery] -> Vec<ServiceTicket>;
    }
}

operations! {
    Azure {
        subscriptions: GET "/api/v2/azure-resources/subscriptions" "v2-list-azure-subscriptions" () -> Vec<AzureSubscription>;
        is_owner: GET "/api/v2/azure-resources/subscriptions/is-owner" "v2-azure-subscription-is-owner"
            () [query IsOwnerQuery] -> SubscriptionOwnership;
        network_security_groups: GET "/api/v2/azure-resources/subscriptions/{subscriptionId}/network-security-groups" "v2-list-azure-network-security-groups"
            (subscription_id) -> Vec<NetworkSecurityGroup>;
        resource_groups: GET "/api/v2/azure-resources/subscriptions/{subscriptionId}/resource-groups" "v2-list-azure-resource-groups"
            (subscription_id) -> Vec<AzureResourceGroup>;
        log_analytics_workspaces: GET "/api/v2/azure-resources/subscriptions/{subscriptionId}/resource-groups/{resourceGroup}/workspaces" "v2-list-azure-log-analytics-workspaces"
            (subscription_id, resource_group) -> Vec<LogAnalyticsWorkspace>;
        sentinels: GET "/api/v2/azure-resources/subscriptions/{subscriptionId}/resource-groups/{resourceGroup}/sentinels" "v2-list-azure-sentinels"
            (subscription_id, resource_group) -> Vec<SentinelInstance>;
        validate_workspace: GET "/api/v2/azure-resources/subscriptions/{subscriptionId}/resource-groups/{resourceGroup}/workspaces/{workspaceName}/validate" "v2-validate-azure-sentinel-workspace"
            (subscription_id, resource_group, workspace_name) -> WorkspaceValidation;
        set_analytical_rule: PUT "/api/v2/azure-resources/analytical-rules/{ruleId}" "v2-set-azure-analytical-rule-enabled"
            (rule_id) [query RuleEnabledQuery] -> AnalyticsRule;
    }
}

operations! {
    /// The audit log: every change made through the API or the console.
    Audit {
        /// One page, newest first.
        list: GET "/api/v2/audit-log" "v2-list-audit-log" () [query AuditLogQuery] -> AuditLogPage;
    }
}
