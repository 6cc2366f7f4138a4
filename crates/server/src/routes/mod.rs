//! Every route, with its access rule next to it. `api()` is the single table the router, the
//! authorization layer, the OpenAPI document and the route-walking test are built from.

pub mod azure;
pub mod datasources;
pub mod gamebooks;
pub mod incidents;
pub mod investigation;
pub mod service_accounts;
pub mod system;
pub mod tenancy;
pub mod tickets;
pub mod users;
pub mod webhooks;

use axum::http::Method;
use palisade_domain::Scope::*;
use palisade_domain::WorkspaceRole::*;
use palisade_types::azure::{
    AnalyticsRule, AzureResourceGroup, AzureSubscription, LogAnalyticsWorkspace,
    NetworkSecurityGroup, SentinelInstance, SubscriptionOwnership, WorkspaceValidation,
};
use palisade_types::datasources::{
    AnomaliesRequest, DataConnectorAnomalies, DataSource, DataSourceRequest, RecordVolumeRequest,
    RecordVolumeResult, VolumeHour, WorkspaceDataSources,
};
use palisade_types::gamebooks::*;
use palisade_types::incidents::{
    AcrossWorkspacesPage, AcrossWorkspacesRequest, AlertRule, AssignRequest, BulkUpdateRequest,
    BulkUpdateResult, CommentRequest, Entity, Evidence, Incident, IncidentComment, IncidentDetail,
    IncidentInput, IncidentListItem, IncidentSummary, IngestBatchRequest, IngestBatchResult,
    IngestOneResult, RelatedIncidents, StatusUpdateRequest,
};
use palisade_types::investigation::{
    DirectoryLogIngestRequest, DirectoryLogPage, InvestigationAuditPage, LogIngestResult,
    SignInLogIngestRequest, SignInLogPage,
};
use palisade_types::org::*;
use palisade_types::tickets::*;
use palisade_types::webhooks::*;
use serde_json::json;

use crate::http::registry::{doc, Access, Api, PAGE_TOKENS_BODY_BYTES};
use Access::{Org, Public};

const SA: &str = "Service Accounts";
const USERS: &str = "Users";
const TENANCY: &str = "Accounts & Workspaces";
const SYSTEM: &str = "System";
const WEBHOOKS: &str = "Webhooks";
const INCIDENTS: &str = "Incidents";
const AZURE: &str = "Azure Resources";
const DATASOURCES: &str = "Data Sources";
const INVESTIGATION: &str = "Investigation";
const CONNECTOR: &str = "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}";
const LOG_QUERY_NOTE: &str = "Newest first, 100 items per page. `UserId` containing `@` matches the user principal name, otherwise the user's object id (both case-insensitive). `EntityName`, `ResourceId` and `ResourceName` are recorded in the investigation audit trail only. Follow `nextPageLink` (a relative URL whose sealed `NextPageLink` is bound to the organization, workspace, user and time filter; relative windows keep the bounds of the first page) until it is null. `canRetrieveData` tells whether the workspace has a connected connector for these logs. Every call is recorded in the audit trail (`GET …/investigation/audit`).";
const GAMEBOOKS: &str = "Gamebooks";
const TICKETS: &str = "Service Tickets";
const INCIDENT: &str = "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}";
const COMMENT_SCOPES: &[palisade_domain::Scope] = &[IncidentsComments, IncidentsWrite];

pub fn api() -> Api {
    let get = || Method::GET;
    let post = || Method::POST;
    let put = || Method::PUT;
    let delete = || Method::DELETE;
    Api::new()
        // ---------------------------------------------------------------- system
        .route(get(), "/healthz", Public,
            doc("healthz", SYSTEM, "Liveness").extension().raw("application/json"),
            system::healthz)
        .route(get(), "/readyz", Public,
            doc("readyz", SYSTEM, "Readiness: the database is reachable").extension().raw("application/json"),
            system::readyz)
        .route(get(), "/metrics", Public,
            doc("metrics", SYSTEM, "Prometheus metrics").extension().raw("text/plain"),
            system::metrics)
        .route(get(), "/api/v2/openapi.json", Public,
            doc("openapi", SYSTEM, "This OpenAPI document").extension().raw("application/json"),
            system::openapi)
        .route(get(), "/docs", Public,
            doc("docs", SYSTEM, "Rendered API reference").extension().raw("text/html"),
            system::docs_page)
        .route(get(), "/docs/redoc.standalone.js", Public,
            doc("docs-asset", SYSTEM, "Renderer script of the API reference (embedded)").extension().raw("application/javascript"),
            system::docs_script)
        .route(get(), "/api/v2/ping", Public,
            doc("v2-ping", SYSTEM, "Unauthenticated hello-world").extension().returns::<Pong>(),
            system::ping)
        // ---------------------------------------------------------------- service accounts
        .route(get(), "/api/v2/service-accounts", Org(OrgServiceAccountsRead),
            doc("v2-list-service-accounts", SA, "List service accounts").returns::<Vec<ServiceAccount>>(),
            service_accounts::list)
        .route(get(), "/api/v2/service-accounts/{id}", Org(OrgServiceAccountsRead),
            doc("v2-get-service-account", SA, "Get a service account").returns::<ServiceAccount>(),
            service_accounts::get)
        .route(post(), "/api/v2/service-accounts", Org(OrgServiceAccountsManage),
            doc("v2-create-service-account", SA, "Create a service account with its first credential")
                .describe("The `clientSecret` is returned only in this response. A caller can grant only scopes, organization-wide roles and workspace roles it holds itself.")
                .body::<CreateServiceAccountRequest>().created::<CreatedServiceAccount>(),
            service_accounts::create)
        .route(put(), "/api/v2/service-accounts/{id}", Org(OrgServiceAccountsManage),
            doc("v2-update-service-account", SA, "Update a service account")
                .describe("Absent fields are left unchanged; `workspaceAssignments`, when present, replaces every assignment.")
                .body::<UpdateServiceAccountRequest>().returns::<ServiceAccount>(),
            service_accounts::update)
        .route(delete(), "/api/v2/service-accounts/{id}", Org(OrgServiceAccountsManage),
            doc("v2-delete-service-account", SA, "Delete a service account and its credentials").returns::<bool>(),
            service_accounts::delete)
        .route(post(), "/api/v2/service-accounts/{id}/disable", Org(OrgServiceAccountsManage),
            doc("v2-disable-service-account", SA, "Disable a service account (all its credentials are rejected)").returns::<ServiceAccount>(),
            service_accounts::disable)
        .route(post(), "/api/v2/service-accounts/{id}/enable", Org(OrgServiceAccountsManage),
            doc("v2-enable-service-account", SA, "Re-enable a disabled service account").returns::<ServiceAccount>(),
            service_accounts::enable)
        .route(post(), "/api/v2/service-accounts/{id}/credentials", Org(OrgServiceAccountsManage),
            doc("v2-create-service-account-credential", SA, "Issue a new credential")
                .describe("The `clientSecret` is returned only in this response. Without `scopes`, the newest active credential's scopes are copied (rotation).")
                .optional_body::<CreateCredentialRequest>().created::<IssuedCredential>(),
            service_accounts::issue_credential)
        .route(post(), "/api/v2/service-accounts/{id}/credentials/{credentialId}/revoke", Org(OrgServiceAccountsManage),
            doc("v2-revoke-service-account-credential", SA, "Revoke a credential (idempotent, irreversible)").returns::<Credential>(),
            service_accounts::revoke_credential)
        // ---------------------------------------------------------------- users
        .route(get(), "/api/v2/users", Org(OrgUsersRead),
            doc("v2-list-users", USERS, "List organization users").returns::<Vec<User>>(),
            users::list)
        .route(get(), "/api/v2/users/profile", Org(OrgUsersRead),
            doc("v2-get-profile", USERS, "The calling principal's profile")
                .describe("A service account gets its own identity in the user shape, with `isServiceAccount: true`.")
                .returns::<User>(),
            users::profile)
        .route(put(), "/api/v2/users/profile", Org(OrgUsersManage),
            doc("v2-update-profile", USERS, "Update the calling principal's profile").body::<UpdateProfileRequest>().returns::<User>(),
            users::update_profile)
        .route(get(), "/api/v2/users/{userId}", Org(OrgUsersRead),
            doc("v2-get-user", USERS, "Get a user").returns::<User>(),
            users::get)
        .route(post(), "/api/v2/users/workspace/users", Org(OrgUsersRead),
            doc("v2-get-workspace-users", USERS, "Users holding a role on a workspace or on an account's workspaces")
                .body::<WorkspaceUsersRequest>().returns::<Vec<WorkspaceUser>>(),
            users::workspace_users)
        .route(post(), "/api/v2/users", Org(OrgUsersManage),
            doc("v2-add-user", USERS, "Add users to the organization").body::<AddUsersRequest>().created::<bool>(),
            users::add)
        .route(put(), "/api/v2/users", Org(OrgUsersManage),
            doc("v2-update-user", USERS, "Update a user").body::<UserInput>().returns::<bool>(),
            users::update)
        .route(delete(), "/api/v2/users/{userId}", Org(OrgUsersManage),
            doc("v2-delete-user", USERS, "Remove a user from the organization").returns::<bool>(),
            users::delete)
        .route(post(), "/api/v2/users/workspace", Org(OrgUsersManage),
            doc("v2-assign-users-to-workspace", USERS, "Assign users to a workspace with a role")
                .body::<AssignUsersToWorkspaceRequest>().returns::<bool>(),
            users::assign_to_workspace)
        .route(put(), "/api/v2/users/organization/role", Org(OrgUsersRoles),
            doc("v2-update-org-role", USERS, "Change a user's organizational role").body::<UpdateOrgRoleRequest>().returns::<bool>(),
            users::set_org_role)
        // ---------------------------------------------------------------- accounts & workspaces
        .route(get(), "/api/v2/accounts", Org(OrgWorkspacesRead),
            doc("v2-list-accounts", TENANCY, "List the organization's accounts (its own and its customers')").extension().returns::<Vec<Account>>(),
            tenancy::list_accounts)
        .route(post(), "/api/v2/accounts", Org(OrgWorkspacesManage),
            doc("v2-create-account", TENANCY, "Create a customer account").extension().body::<CreateAccountRequest>().created::<Account>(),
            tenancy::create_account)
        .route(get(), "/api/v2/accounts/{accountId}", Org(OrgWorkspacesRead),
            doc("v2-get-account", TENANCY, "Get an account").extension().returns::<Account>(),
            tenancy::get_account)
        .route(get(), "/api/v2/workspaces", Org(OrgWorkspacesRead),
            doc("v2-list-workspaces", TENANCY, "List the workspaces the caller holds a role on").extension().returns::<Vec<Workspace>>(),
            tenancy::list_workspaces)
        .route(post(), "/api/v2/workspaces", Org(OrgWorkspacesManage),
            doc("v2-create-workspace", TENANCY, "Create a workspace; the caller becomes its Owner")
                .extension().body::<WorkspaceRequest>().created::<Workspace>(),
            tenancy::create_workspace)
        .route(get(), "/api/v2/workspaces/{workspaceId}", Access::Workspace(OrgWorkspacesRead, WorkspaceReader),
            doc("v2-get-workspace", TENANCY, "Get a workspace").extension().returns::<Workspace>(),
            tenancy::get_workspace)
        .route(put(), "/api/v2/workspaces/{workspaceId}", Access::Workspace(OrgWorkspacesManage, Owner),
            doc("v2-update-workspace", TENANCY, "Rename a workspace or move it to another account")
                .extension().body::<WorkspaceRequest>().returns::<Workspace>(),
            tenancy::update_workspace)
        .route(delete(), "/api/v2/workspaces/{workspaceId}", Access::Workspace(OrgWorkspacesManage, Owner),
            doc("v2-delete-workspace", TENANCY, "Delete a workspace").extension().returns::<bool>(),
            tenancy::delete_workspace)
        // ---------------------------------------------------------------- incidents
        .route(put(), INCIDENT, Access::Workspace(IncidentsIngest, ContentAdmin),
            doc("v2-ingest-incident", INCIDENTS, "Create or update one incident in Palisade's model")
                .describe("Creation emits `incident.created`; a real change emits `incident.updated` with its changes; an identical re-send emits nothing. `{source}` is accepted in any letter case.")
                .extension().body::<IncidentInput>().returns::<IngestOneResult>(),
            incidents::ingest_one)
        .route(post(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/ingest", Access::Workspace(IncidentsIngest, ContentAdmin),
            doc("v2-ingest-incidents", INCIDENTS, "Ingest a batch of up to 1,000 incidents")
                .describe("Body `{incidents: [{id, …incident}]}`, up to 32 MiB. Valid items are stored in one transaction; invalid ones are reported per item with their errors.")
                .extension().batch_body().body::<IngestBatchRequest>().returns::<IngestBatchResult>(),
            incidents::ingest_batch)
        .route(get(), INCIDENT, Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-by-id", INCIDENTS, "Get the full incident detail")
                .describe("`?withDetails=true` adds entity `properties` and alert `entityIds`.")
                .query("withDetails", false, "Include the extended payload.", json!({"type": "boolean"}))
                .returns::<IncidentDetail>(),
            incidents::detail)
        .route(get(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/evidence", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-evidence", INCIDENTS, "Get the evidence table of an incident").returns::<Evidence>(),
            incidents::evidence)
        .route(get(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/last-gamebook", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-last-gamebook", INCIDENTS, "Get the last gamebook run of an incident (404 while none has run)").returns::<Gamebook>(),
            incidents::last_gamebook)
        .route(get(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/comments", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-comments", INCIDENTS, "List the comments of an incident").returns::<Vec<IncidentComment>>(),
            incidents::comments)
        .route(get(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/by-entity", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incidents-by-entity", INCIDENTS, "Incidents of this source related to an entity")
                .describe("Matches `EntityKind` + `EntityFilter` (or `EntityName`) against entity identifiers (UPN/email/object id, host name/device id, IP, hash, URL), newest first, at most 100.")
                .query("EntityKind", true, "Entity kind, e.g. Account, Host, Ip, FileHash.", json!({"type": "string"}))
                .query("EntityFilter", true, "The entity's identifier.", json!({"type": "string"}))
                .query("EntityName", false, "Alternative to EntityFilter.", json!({"type": "string"}))
                .query("TimeFilteringType", false, "ThreeHours, SixHours, TwelveHours, TwentyFourHours (default), FourtyEightHours, Custom.", json!({"type": "string"}))
                .query("StartDate", false, "Required with Custom.", json!({"type": "string", "format": "date-time"}))
                .query("EndDate", false, "Required with Custom.", json!({"type": "string", "format": "date-time"}))
                .query("IncidentId", false, "Leave this incident out.", json!({"type": "string"}))
                .returns::<RelatedIncidents>(),
            incidents::by_entity)
        .route(post(), "/api/v2/incidents/across-workspaces", Org(IncidentsRead),
            doc("v2-list-incidents-across-workspaces", INCIDENTS, "List incidents across every workspace the caller holds a role on")
                .describe("Newest first by (createdAt, workspaceId, source, id) across workspaces, each match exactly once. The first call sends `isFirstCall: true` and no tokens; every later call echoes the previous `sourcePageTokens` verbatim as `workspacePageTokens`, with the same filters, until `moreIncidentsAvailable` is false. Tokens are sealed and bound to the organization, the stream and the filters; a tampered or mismatched token is a `VALIDATION_ERROR`. Page size is server-controlled.")
                .body_limit(PAGE_TOKENS_BODY_BYTES)
                .body::<AcrossWorkspacesRequest>().returns::<AcrossWorkspacesPage>(),
            incidents::across_workspaces)
        // ---------------------------------------------------------------- restored incident actions
        .route(get(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/summary", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-summary", INCIDENTS, "A synopsis of an incident").returns::<IncidentSummary>(),
            incidents::summary)
        .route(get(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/entities", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-entities", INCIDENTS, "The entities of an incident, with their properties").returns::<Vec<Entity>>(),
            incidents::entities)
        .route(get(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/alert-rules", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-alert-rules", INCIDENTS, "The detection rules behind an incident's alerts").returns::<Vec<AlertRule>>(),
            incidents::alert_rules)
        .route(get(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/high", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-high-incidents", INCIDENTS, "Active High-severity incidents of the workspace, newest first").returns::<Vec<IncidentListItem>>(),
            incidents::high)
        .route(put(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/status", Access::Workspace(IncidentsWrite, IncidentResponder),
            doc("v2-update-incident-status", INCIDENTS, "Change an incident's status")
                .describe("Closing requires `classification` and a matching `classificationReason`. The change is recorded as an activity comment and emits `incident.updated`.")
                .body::<StatusUpdateRequest>().returns::<Incident>(),
            incidents::status)
        .route(put(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/assign", Access::Workspace(IncidentsWrite, IncidentResponder),
            doc("v2-assign-incident", INCIDENTS, "Assign (or, with no userId and email, unassign) an incident")
                .body::<AssignRequest>().returns::<Incident>(),
            incidents::assign)
        .route(put(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/bulk", Access::Workspace(IncidentsWrite, IncidentResponder),
            doc("v2-bulk-update-incidents", INCIDENTS, "Apply a status, assignee and/or comment to up to 100 incidents")
                .body::<BulkUpdateRequest>().returns::<BulkUpdateResult>(),
            incidents::bulk)
        .route(post(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/comments", Access::WorkspaceAny(COMMENT_SCOPES, IncidentAnalyst),
            doc("v2-create-incident-comment", INCIDENTS, "Comment on an incident").body::<CommentRequest>().created::<IncidentComment>(),
            incidents::create_comment)
        .route(put(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/comments/{commentId}", Access::WorkspaceAny(COMMENT_SCOPES, IncidentAnalyst),
            doc("v2-update-incident-comment", INCIDENTS, "Edit a comment (activity comments cannot be edited)")
                .body::<CommentRequest>().returns::<IncidentComment>(),
            incidents::update_comment)
        // ---------------------------------------------------------------- legacy routes, `source` in the body
        .route(put(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/status", Access::Workspace(IncidentsWrite, IncidentResponder),
            doc("v2-update-incident-status-legacy", INCIDENTS, "Change an incident's status (legacy route; `source` in the body)")
                .documented_as("/api/v2/workspaces/{workspaceId}/incidents/{incidentId}/status")
                .body::<StatusUpdateRequest>().returns::<Incident>(),
            incidents::legacy_status)
        .route(put(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/assign", Access::Workspace(IncidentsWrite, IncidentResponder),
            doc("v2-assign-incident-legacy", INCIDENTS, "Assign an incident (legacy route; `source` in the body)")
                .documented_as("/api/v2/workspaces/{workspaceId}/incidents/{incidentId}/assign")
                .body::<AssignRequest>().returns::<Incident>(),
            incidents::legacy_assign)
        .route(post(), "/api/v2/workspaces/{workspaceId}/incidents/{source}/comments", Access::WorkspaceAny(COMMENT_SCOPES, IncidentAnalyst),
            doc("v2-create-incident-comment-legacy", INCIDENTS, "Comment on an incident (legacy route; `source` in the body)")
                .documented_as("/api/v2/workspaces/{workspaceId}/incidents/{incidentId}/comments")
                .body::<CommentRequest>().created::<IncidentComment>(),
            incidents::legacy_comment)
        // ---------------------------------------------------------------- data sources
        .route(get(), "/api/v2/workspaces/{workspaceId}/datasources", Access::Workspace(DatasourcesRead, WorkspaceReader),
            doc("v2-list-datasources", DATASOURCES, "List the data connectors of the workspace")
                .describe("Oldest first. Connectors of the six incident sources, `AzureActiveDirectory` (sign-in logs) and `AzureActiveDirectoryAudit` (directory logs) are created automatically (`autoCreated: true`) on the first ingest of their kind. See docs/datasources.md.")
                .returns::<Vec<DataSource>>(),
            datasources::list)
        .route(post(), "/api/v2/workspaces/{workspaceId}/datasources", Access::Workspace(DatasourcesManage, ContentAdmin),
            doc("v2-create-datasource", DATASOURCES, "Create a data connector")
                .describe("`connectorType` is required. A workspace has at most one connector of each ingest-fed type (the six sources, `AzureActiveDirectory`, `AzureActiveDirectoryAudit`): a second is 409 `CONFLICT`. `MicrosoftOffice`, `Syslog` and `Custom` connectors may repeat.")
                .extension().body::<DataSourceRequest>().created::<DataSource>(),
            datasources::create)
        .route(get(), CONNECTOR, Access::Workspace(DatasourcesRead, WorkspaceReader),
            doc("v2-get-datasource", DATASOURCES, "Get a data connector").extension().returns::<DataSource>(),
            datasources::get)
        .route(put(), CONNECTOR, Access::Workspace(DatasourcesManage, ContentAdmin),
            doc("v2-update-datasource", DATASOURCES, "Update a data connector")
                .describe("Absent fields are left unchanged; `parametersHelper`, when present, replaces the list. A disconnected connector (`connected: false`) is not examined for anomalies.")
                .extension().body::<DataSourceRequest>().returns::<DataSource>(),
            datasources::update)
        .route(delete(), CONNECTOR, Access::Workspace(DatasourcesManage, ContentAdmin),
            doc("v2-delete-datasource", DATASOURCES, "Delete a data connector and its volume history").extension().returns::<bool>(),
            datasources::delete)
        .route(post(), "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/volume", Access::Workspace(DatasourcesManage, ContentAdmin),
            doc("v2-record-datasource-volume", DATASOURCES, "Record ingestion volume that arrived outside Palisade")
                .describe("Up to 1,000 `{hourStart, events, bytes}` entries; each is added to its UTC hour (any instant in the hour), up to 90 days back and never for a future hour. Palisade's own ingest counts automatically.")
                .extension().body::<RecordVolumeRequest>().returns::<RecordVolumeResult>(),
            datasources::record_volume)
        .route(get(), "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/volume", Access::Workspace(DatasourcesRead, WorkspaceReader),
            doc("v2-get-datasource-volume", DATASOURCES, "A connector's hourly volume, oldest first")
                .query("from", false, "Start (default: 24 hours before the current hour)", json!({"type": "string", "format": "date-time"}))
                .query("to", false, "End, exclusive (default: the end of the current hour); at most 31 days after from", json!({"type": "string", "format": "date-time"}))
                .extension().returns::<Vec<VolumeHour>>(),
            datasources::volume)
        .route(get(), "/api/v2/datasources/across-workspaces", Org(DatasourcesRead),
            doc("v2-list-datasources-across-workspaces", DATASOURCES, "Group connected data sources by workspace")
                .describe("Repeat `?workspaceIds=` for each workspace (a comma-separated list works too); without it, every workspace the caller holds a role on. Workspaces the caller holds no role on are left out silently.")
                .query("workspaceIds", false, "A workspace GUID; repeatable", json!({"type": "array", "items": {"type": "string", "format": "uuid"}}))
                .returns::<Vec<WorkspaceDataSources>>(),
            datasources::across)
        .route(post(), "/api/v2/datasources/across-workspaces/anomalies", Org(DatasourcesRead),
            doc("v2-list-datasource-anomalies-across-workspaces", DATASOURCES, "List data connector anomalies across visible workspaces")
                .describe("Examines whole UTC hours before the current one (`timeFilterSelection.type`, default `TwentyFourHours`) of each connected connector. The baseline of an hour is the same hour on the previous 7 days (median and MAD; at least 3 days of history). Silence: nothing where the median expects ≥ 5 events. Drop: ≤ 50% of the median, ≥ 5 events short, robust z ≤ −3. Spike: ≥ 200%, ≥ 10 events over, z ≥ 3. Consecutive hours of one type merge. Severity and details: docs/datasources.md.")
                .body::<AnomaliesRequest>().returns::<DataConnectorAnomalies>(),
            datasources::anomalies)
        // ---------------------------------------------------------------- investigation
        .route(get(), "/api/v2/workspaces/{workspaceId}/investigation/users/signin-logs", Access::Workspace(InvestigationRead, WorkspaceReader),
            doc("v2-list-signin-logs", INVESTIGATION, "List user sign-in logs")
                .describe(LOG_QUERY_NOTE)
                .query("UserId", true, "The user's object id, or user principal name", json!({"type": "string"}))
                .query("TimeFilteringType", true, "ThreeHours, SixHours, TwelveHours, TwentyFourHours, FourtyEightHours, Custom.", json!({"type": "string"}))
                .query("StartDate", false, "Required with Custom.", json!({"type": "string", "format": "date-time"}))
                .query("EndDate", false, "Required with Custom (inclusive; at most 90 days after StartDate).", json!({"type": "string", "format": "date-time"}))
                .query("NextPageLink", false, "The previous response's nextPageLink (or its NextPageLink parameter).", json!({"type": "string"}))
                .query("EntityName", false, "The user's display name (audit only).", json!({"type": "string"}))
                .query("ResourceId", false, "Audit anchor, typically an incident id.", json!({"type": "string"}))
                .query("ResourceName", false, "Audit anchor, typically an incident title.", json!({"type": "string"}))
                .returns::<SignInLogPage>(),
            investigation::signin_logs)
        .route(get(), "/api/v2/workspaces/{workspaceId}/investigation/users/directory-logs", Access::Workspace(InvestigationRead, WorkspaceReader),
            doc("v2-list-directory-logs", INVESTIGATION, "List directory audit logs")
                .describe(LOG_QUERY_NOTE)
                .query("UserId", true, "The user's object id, or user principal name", json!({"type": "string"}))
                .query("TimeFilteringType", true, "ThreeHours, SixHours, TwelveHours, TwentyFourHours, FourtyEightHours, Custom.", json!({"type": "string"}))
                .query("StartDate", false, "Required with Custom.", json!({"type": "string", "format": "date-time"}))
                .query("EndDate", false, "Required with Custom (inclusive; at most 90 days after StartDate).", json!({"type": "string", "format": "date-time"}))
                .query("NextPageLink", false, "The previous response's nextPageLink (or its NextPageLink parameter).", json!({"type": "string"}))
                .query("EntityName", false, "The user's display name (audit only).", json!({"type": "string"}))
                .query("ResourceId", false, "Audit anchor, typically an incident id.", json!({"type": "string"}))
                .query("ResourceName", false, "Audit anchor, typically an incident title.", json!({"type": "string"}))
                .returns::<DirectoryLogPage>(),
            investigation::directory_logs)
        .route(post(), "/api/v2/workspaces/{workspaceId}/investigation/users/signin-logs/ingest", Access::Workspace(InvestigationIngest, ContentAdmin),
            doc("v2-ingest-signin-logs", INVESTIGATION, "Ingest up to 1,000 sign-in events")
                .describe("All or nothing: any invalid item is a `VALIDATION_ERROR` naming `items[i].field`. An id the workspace already holds is skipped (`duplicates`). Counts toward the workspace's `AzureActiveDirectory` connector (created if missing).")
                .extension().body::<SignInLogIngestRequest>().returns::<LogIngestResult>(),
            investigation::ingest_signins)
        .route(post(), "/api/v2/workspaces/{workspaceId}/investigation/users/directory-logs/ingest", Access::Workspace(InvestigationIngest, ContentAdmin),
            doc("v2-ingest-directory-logs", INVESTIGATION, "Ingest up to 1,000 directory audit entries")
                .describe("All or nothing, as for sign-in logs. Counts toward the workspace's `AzureActiveDirectoryAudit` connector (created if missing).")
                .extension().body::<DirectoryLogIngestRequest>().returns::<LogIngestResult>(),
            investigation::ingest_directory)
        .route(get(), "/api/v2/workspaces/{workspaceId}/investigation/audit", Access::Workspace(InvestigationRead, Owner),
            doc("v2-list-investigation-audit", INVESTIGATION, "The investigation audit trail: who queried which user's logs, newest first")
                .query("pageSize", false, "1 to 100 (default 50)", json!({"type": "integer", "minimum": 1, "maximum": 100}))
                .query("continuationToken", false, "The previous page's continuationToken", json!({"type": "string"}))
                .extension().returns::<InvestigationAuditPage>(),
            investigation::audit)
        // ---------------------------------------------------------------- webhooks
        .route(get(), "/api/v2/webhooks/event-types", Org(WebhooksRead),
            doc("v2-list-webhook-event-types", WEBHOOKS, "The event catalogue webhooks subscribe to").extension()
                .returns::<Vec<EventTypeInfo>>(),
            webhooks::event_types)
        .route(get(), "/api/v2/webhooks", Org(WebhooksRead),
            doc("v2-list-webhooks", WEBHOOKS, "List webhook configurations").returns::<Vec<Webhook>>(),
            webhooks::list)
        .route(get(), "/api/v2/webhooks/{id}", Org(WebhooksRead),
            doc("v2-get-webhook", WEBHOOKS, "Get a webhook").returns::<Webhook>(),
            webhooks::get)
        .route(post(), "/api/v2/webhooks", Org(WebhooksManage),
            doc("v2-create-webhook", WEBHOOKS, "Create a webhook")
                .describe("The URL is checked by the SSRF guard (https only; no private, loopback, link-local or metadata addresses unless the server allows them). `signingSecret` (generated `whsec_…` unless `signingToken` is given) is returned only in this response. Without `workspaceId` the webhook receives every workspace's events, which needs the Admin or WorkspaceAdmin organizational role.")
                .body::<WebhookRequest>().created::<WebhookCreated>(),
            webhooks::create)
        .route(put(), "/api/v2/webhooks/{id}", Org(WebhooksManage),
            doc("v2-update-webhook", WEBHOOKS, "Update a webhook")
                .describe("Absent fields are left unchanged; `workspaceId: null` makes the webhook organization-wide. Credentials change only when `authenticationType` is given (or through `/credentials`).")
                .body::<WebhookRequest>().returns::<Webhook>(),
            webhooks::update)
        .route(delete(), "/api/v2/webhooks/{id}", Org(WebhooksManage),
            doc("v2-delete-webhook", WEBHOOKS, "Delete a webhook, its queued deliveries and its logs").returns::<bool>(),
            webhooks::delete)
        .route(post(), "/api/v2/webhooks/{id}/pause", Org(WebhooksManage),
            doc("v2-pause-webhook", WEBHOOKS, "Pause delivery")
                .describe("Events keep being queued while paused and are sent on `resume`. 409 unless the webhook is Active.")
                .returns::<Webhook>(),
            webhooks::pause)
        .route(post(), "/api/v2/webhooks/{id}/resume", Org(WebhooksManage),
            doc("v2-resume-webhook", WEBHOOKS, "Resume a paused webhook; queued events are sent").returns::<Webhook>(),
            webhooks::resume)
        .route(post(), "/api/v2/webhooks/{id}/enable", Org(WebhooksManage),
            doc("v2-enable-webhook", WEBHOOKS, "Re-enable a webhook disabled by repeated delivery failures")
                .describe("Deliveries waiting for a retry are attempted at once. 409 unless the webhook is Disabled.")
                .returns::<Webhook>(),
            webhooks::enable)
        .route(post(), "/api/v2/webhooks/{id}/credentials", Org(WebhooksManage),
            doc("v2-update-webhook-credentials", WEBHOOKS, "Replace the delivery credentials (and optionally the signing secret)")
                .body::<WebhookCredentialsRequest>().returns::<WebhookCredentialsResult>(),
            webhooks::credentials)
        .route(post(), "/api/v2/webhooks/{id}/test", Org(WebhooksManage),
            doc("v2-test-webhook", WEBHOOKS, "Send a test event now")
                .describe("Sends a sample `incident.created.v1` body with `isTest: true` and `X-CF-Test: true`, whatever the webhook's status, and answers its delivery log. Test deliveries never count toward auto-disable.")
                .returns::<DeliveryLog>(),
            webhooks::test)
        .route(get(), "/api/v2/webhooks/{id}/delivery-logs", Org(WebhooksRead),
            doc("v2-list-webhook-delivery-logs", WEBHOOKS, "List delivery attempts, newest first")
                .query("pageSize", true, "Items per page, 1 to 100", json!({"type": "integer", "minimum": 1, "maximum": 100}))
                .query("from", false, "Only attempts made at or after this instant", json!({"type": "string", "format": "date-time"}))
                .query("to", false, "Only attempts made at or before this instant", json!({"type": "string", "format": "date-time"}))
                .query("continuationToken", false, "The previous page's continuationToken, with the same from and to", json!({"type": "string"}))
                .returns::<DeliveryLogPage>(),
            webhooks::logs)
        .route(get(), "/api/v2/webhooks/{id}/delivery-logs/{logId}", Org(WebhooksRead),
            doc("v2-get-webhook-delivery-log", WEBHOOKS, "Get one delivery attempt")
                .query("createdAt", true, "The log's createdAt (its partition key); must fall on the same UTC day", json!({"type": "string", "format": "date-time"}))
                .returns::<DeliveryLog>(),
            webhooks::log)
        .route(post(), "/api/v2/webhooks/{id}/delivery-logs/{logId}/redeliver", Org(WebhooksManage),
            doc("v2-redeliver-webhook-delivery", WEBHOOKS, "Send a logged event again")
                .describe("Queues the same event (same `X-CF-Event-Id` and body) for delivery and answers the new `Pending` log, linked by `originalDeliveryId`; the delivery completes that log and is retried on failure like any other.")
                .query("createdAt", true, "The log's createdAt (its partition key); must fall on the same UTC day", json!({"type": "string", "format": "date-time"}))
                .created::<DeliveryLog>(),
            webhooks::redeliver)
        // ---------------------------------------------------------------- gamebooks
        .route(get(), "/api/v2/workspaces/{workspaceId}/gamebooks/rules/{incidentTitle}", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-get-gamebook-rules-by-title", GAMEBOOKS, "Get playbooks matching an incident title")
                .describe("The workspace's enabled rules whose title pattern (Exact, Contains or Regex, case-insensitive) matches `{incidentTitle}` (URL-encoded), whatever their severity and source filters, and the playbooks they call for, each once in rule order.")
                .returns::<RulesByTitle>(),
            gamebooks::rules_by_title)
        .route(get(), "/api/v2/workspaces/{workspaceId}/gamebooks/history", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-list-gamebooks-history", GAMEBOOKS, "List gamebook execution history")
                .describe("Newest first, 50 per page. `pageToken` is the previous page's token (sealed; bound to the workspace and the query); null on the last page. `totalCount` counts every match.")
                .query("query", false, "Text matched in the gamebook title and incident title, or an exact incident id.", serde_json::json!({"type": "string"}))
                .query("pageToken", false, "The previous page's pageToken.", serde_json::json!({"type": "string"}))
                .returns::<GamebookHistoryPage>(),
            gamebooks::history)
        .route(get(), "/api/v2/workspaces/{workspaceId}/gamebooks/history/{gamebookId}/playbooks", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-get-playbooks-by-gamebook-id", GAMEBOOKS, "Get the playbooks recorded against a specific gamebook run")
                .describe("In sequence order, one per playbook and affected entity. `year` (the vendor's storage partition) is accepted and checked for form but not needed; `tenantId` is ignored.")
                .query("year", false, "The run's creation year.", serde_json::json!({"type": "integer"}))
                .query("tenantId", false, "Ignored.", serde_json::json!({"type": "string"}))
                .returns::<Vec<Playbook>>(),
            gamebooks::run_playbooks)
        .route(get(), "/api/v2/workspaces/{workspaceId}/gamebooks/by-incident/{incidentId}", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-list-incident-gamebooks", GAMEBOOKS, "List all gamebooks that have run for an incident")
                .describe("Newest first, at most 100, for the incident id in any source.")
                .returns::<Vec<Gamebook>>(),
            gamebooks::by_incident)
        .route(get(), "/api/v2/gamebooks/across-workspaces/history", Org(GamebooksRead),
            doc("v2-list-gamebooks-history-across-workspaces", GAMEBOOKS, "List gamebook history across visible workspaces")
                .describe("Newest first, paged by number. `workspaces` and `statuses` take comma-separated values and may be repeated; workspaces the caller holds no role on are left out silently.")
                .query("currentPage", true, "1-based page number.", serde_json::json!({"type": "integer", "minimum": 1}))
                .query("pageSize", false, "1 to 100 (default 20).", serde_json::json!({"type": "integer", "minimum": 1, "maximum": 100}))
                .query("workspaces", false, "Workspace GUIDs, comma-separated.", serde_json::json!({"type": "string"}))
                .query("statuses", false, "Gamebook statuses, comma-separated.", serde_json::json!({"type": "string"}))
                .query("query", false, "Text matched in the gamebook title and incident title, or an exact incident id.", serde_json::json!({"type": "string"}))
                .returns::<GamebookPageList>(),
            gamebooks::across)
        .route(get(), "/api/v2/gamebooks/playbooks", Org(GamebooksRead),
            doc("v2-list-playbooks", GAMEBOOKS, "List the organization's playbook catalogue").extension()
                .returns::<Vec<PlaybookDefinition>>(),
            gamebooks::list_playbooks)
        .route(post(), "/api/v2/gamebooks/playbooks", Org(GamebooksManage),
            doc("v2-create-playbook", GAMEBOOKS, "Add a playbook to the catalogue")
                .describe("Needs the ContentAdmin role (or higher) on at least one workspace, or an organizational role implying it. See docs/gamebooks.md for the actions and their templates.")
                .extension().body::<PlaybookRequest>().created::<PlaybookDefinition>(),
            gamebooks::create_playbook)
        .route(get(), "/api/v2/gamebooks/playbooks/{playbookId}", Org(GamebooksRead),
            doc("v2-get-playbook", GAMEBOOKS, "Get a playbook").extension().returns::<PlaybookDefinition>(),
            gamebooks::get_playbook)
        .route(put(), "/api/v2/gamebooks/playbooks/{playbookId}", Org(GamebooksManage),
            doc("v2-update-playbook", GAMEBOOKS, "Update a playbook (absent fields unchanged; runs already planned keep their copy)")
                .extension().body::<PlaybookRequest>().returns::<PlaybookDefinition>(),
            gamebooks::update_playbook)
        .route(delete(), "/api/v2/gamebooks/playbooks/{playbookId}", Org(GamebooksManage),
            doc("v2-delete-playbook", GAMEBOOKS, "Delete a playbook (rules naming it skip it)").extension().returns::<bool>(),
            gamebooks::delete_playbook)
        .route(get(), "/api/v2/workspaces/{workspaceId}/gamebook-rules", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-list-gamebook-rules", GAMEBOOKS, "List the workspace's gamebook rules").extension().returns::<Vec<GamebookRule>>(),
            gamebooks::list_rules)
        .route(post(), "/api/v2/workspaces/{workspaceId}/gamebook-rules", Access::Workspace(GamebooksManage, ContentAdmin),
            doc("v2-create-gamebook-rule", GAMEBOOKS, "Create a gamebook rule")
                .describe("`matchType` Exact, Contains (default) or Regex, matched case-insensitively against incident titles; optional `severities` and `sources`; `playbookIds` run in order; `isAutoRun` starts a run when a matching incident is created.")
                .extension().body::<GamebookRuleRequest>().created::<GamebookRule>(),
            gamebooks::create_rule)
        .route(get(), "/api/v2/workspaces/{workspaceId}/gamebook-rules/{ruleId}", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-get-gamebook-rule", GAMEBOOKS, "Get a gamebook rule").extension().returns::<GamebookRule>(),
            gamebooks::get_rule)
        .route(put(), "/api/v2/workspaces/{workspaceId}/gamebook-rules/{ruleId}", Access::Workspace(GamebooksManage, ContentAdmin),
            doc("v2-update-gamebook-rule", GAMEBOOKS, "Update a gamebook rule (absent fields unchanged)")
                .extension().body::<GamebookRuleRequest>().returns::<GamebookRule>(),
            gamebooks::update_rule)
        .route(delete(), "/api/v2/workspaces/{workspaceId}/gamebook-rules/{ruleId}", Access::Workspace(GamebooksManage, ContentAdmin),
            doc("v2-delete-gamebook-rule", GAMEBOOKS, "Delete a gamebook rule").extension().returns::<bool>(),
            gamebooks::delete_rule)
        .route(post(), "/api/v2/workspaces/{workspaceId}/gamebooks/runs", Access::Workspace(GamebooksManage, IncidentResponder),
            doc("v2-start-gamebook", GAMEBOOKS, "Run a rule's playbooks, or chosen playbooks, against an incident")
                .describe("Answers the new `Pending` run; a worker runs it. Playbooks run in sequence, once per affected entity of their `entityType`; admin-required playbooks wait for an Owner's approval.")
                .extension().body::<StartGamebookRequest>().created::<Gamebook>(),
            gamebooks::start)
        .route(get(), "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-get-gamebook", GAMEBOOKS, "Get a gamebook run with its playbooks").extension().returns::<Gamebook>(),
            gamebooks::get_run)
        .route(post(), "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}/approve", Access::Workspace(GamebooksManage, Owner),
            doc("v2-approve-gamebook", GAMEBOOKS, "Approve a gamebook awaiting approval (Owner)")
                .describe("Approves every admin-required playbook of the run not yet run; the run continues. 409 unless `AwaitingApproval`.")
                .extension().returns::<Gamebook>(),
            gamebooks::approve)
        .route(post(), "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}/reject", Access::Workspace(GamebooksManage, Owner),
            doc("v2-reject-gamebook", GAMEBOOKS, "Reject a gamebook awaiting approval (Owner): it is cancelled")
                .extension().returns::<Gamebook>(),
            gamebooks::reject)
        .route(post(), "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}/cancel", Access::Workspace(GamebooksManage, IncidentResponder),
            doc("v2-cancel-gamebook", GAMEBOOKS, "Cancel an unfinished gamebook")
                .describe("Playbooks not finished become `Cancelled`; a step in flight is not recorded. 409 once finished.")
                .extension().returns::<Gamebook>(),
            gamebooks::cancel)
        // ---------------------------------------------------------------- service tickets
        .route(post(), "/api/v2/workspaces/{workspaceId}/tickets", Access::Workspace(TicketsManage, IncidentResponder),
            doc("v2-upsert-ticket", TICKETS, "Create or replace a service ticket")
                .describe("Keyed by `ticketId` within the workspace; exactly one PSA sub-object. 201 when created, 200 when replaced. `number` and `priority` default to the PSA ticket's own.")
                .extension().body::<ServiceTicketInput>().created::<ServiceTicket>(),
            tickets::upsert)
        .route(post(), "/api/v2/workspaces/{workspaceId}/tickets/link", Access::Workspace(TicketsManage, IncidentResponder),
            doc("v2-link-ticket", TICKETS, "Link a service ticket to an incident")
                .describe("Idempotent. A new link adds an activity comment carrying `ticketId` to the incident and emits `ticket.linked`.")
                .body::<LinkServiceTicketRequest>().returns::<ServiceTicket>(),
            tickets::link)
        .route(post(), "/api/v2/workspaces/{workspaceId}/tickets/unlink", Access::Workspace(TicketsManage, IncidentResponder),
            doc("v2-unlink-ticket", TICKETS, "Unlink a service ticket from an incident")
                .describe("Idempotent (`true` whether or not a link existed); the ticket and the incident must exist. Same body as link.")
                .body::<LinkServiceTicketRequest>().returns::<bool>(),
            tickets::unlink)
        .route(put(), "/api/v2/workspaces/{workspaceId}/tickets/priority", Access::Workspace(TicketsManage, IncidentResponder),
            doc("v2-update-ticket-priority", TICKETS, "Update ticket priority")
                .describe("`priority` Critical, High, Medium or Low; also written into the PSA ticket's own priority field.")
                .body::<TicketPriorityRequest>().returns::<ServiceTicket>(),
            tickets::priority)
        .route(get(), "/api/v2/workspaces/{workspaceId}/tickets/search", Access::Workspace(TicketsRead, WorkspaceReader),
            doc("v2-search-tickets", TICKETS, "Search service tickets")
                .describe("By `groupingId` and/or `ticketNumber` (exact); newest first, at most 100.")
                .query("groupingId", false, "The ticket's grouping id.", serde_json::json!({"type": "string"}))
                .query("ticketNumber", false, "The ticket's number.", serde_json::json!({"type": "string"}))
                .returns::<Vec<ServiceTicket>>(),
            tickets::search)
        // ---------------------------------------------------------------- azure resources
        .route(get(), "/api/v2/azure-resources/subscriptions", Org(OrgAzureRead),
            doc("v2-list-azure-subscriptions", AZURE, "List the Azure subscriptions visible to the integration's Azure principal")
                .describe("Every page of ARM's list (followed through `nextLink`). 503 `INTEGRATION_NOT_CONFIGURED` without Azure credentials; see docs/azure.md for how ARM failures map to problems.")
                .returns::<Vec<AzureSubscription>>(),
            azure::subscriptions)
        .route(get(), "/api/v2/azure-resources/subscriptions/is-owner", Org(OrgAzureRead),
            doc("v2-azure-subscription-is-owner", AZURE, "Whether the integration's Azure principal is an Owner of the subscription")
                .describe("Owner (role definition `8e3af657-a8ff-443c-a75c-2fe8c4bcb635`) assigned to the principal itself at the subscription, a management group above it, or the root. Without permission to read the subscription's role assignments the answer is `isOwner: false`.")
                .query("subscriptionId", true, "The subscription GUID.", json!({"type": "string", "format": "uuid"}))
                .returns::<SubscriptionOwnership>(),
            azure::is_owner)
        .route(get(), "/api/v2/azure-resources/subscriptions/{subscriptionId}/network-security-groups", Org(OrgAzureRead),
            doc("v2-list-azure-network-security-groups", AZURE, "List the network security groups of a subscription").returns::<Vec<NetworkSecurityGroup>>(),
            azure::network_security_groups)
        .route(get(), "/api/v2/azure-resources/subscriptions/{subscriptionId}/resource-groups", Org(OrgAzureRead),
            doc("v2-list-azure-resource-groups", AZURE, "List the resource groups of a subscription").returns::<Vec<AzureResourceGroup>>(),
            azure::resource_groups)
        .route(get(), "/api/v2/azure-resources/subscriptions/{subscriptionId}/resource-groups/{resourceGroup}/workspaces", Org(OrgAzureRead),
            doc("v2-list-azure-log-analytics-workspaces", AZURE, "List the Log Analytics workspaces of a resource group").returns::<Vec<LogAnalyticsWorkspace>>(),
            azure::workspaces)
        .route(get(), "/api/v2/azure-resources/subscriptions/{subscriptionId}/resource-groups/{resourceGroup}/sentinels", Org(OrgAzureRead),
            doc("v2-list-azure-sentinels", AZURE, "List the Microsoft Sentinel instances (workspaces with Sentinel onboarded) of a resource group").returns::<Vec<SentinelInstance>>(),
            azure::sentinels)
        .route(get(), "/api/v2/azure-resources/subscriptions/{subscriptionId}/resource-groups/{resourceGroup}/workspaces/{workspaceName}/validate", Org(OrgAzureRead),
            doc("v2-validate-azure-sentinel-workspace", AZURE, "Validate a Sentinel-attached workspace, check by check")
                .describe("Checks, in order: `WorkspaceExists`, `SentinelOnboarded`, `ReadAccess` (required) and `AnalyticsRulesWriteAccess` (informational). A failed check is a result (`valid: false`), not an error.")
                .returns::<WorkspaceValidation>(),
            azure::validate_workspace)
        .route(put(), "/api/v2/azure-resources/analytical-rules/{ruleId}", Org(OrgAzureManage),
            doc("v2-set-azure-analytical-rule-enabled", AZURE, "Enable or disable a Microsoft Sentinel analytics rule")
                .describe("`{ruleId}` is the rule's full ARM resource id, URL-encoded into one path segment (`%2Fsubscriptions%2F…%2FalertRules%2F{ruleName}`). The rule is read, `properties.enabled` set, and written back with its etag; a rule already in the requested state is not written (`changed: false`). A concurrent change answers 409 `CONFLICT`.")
                .query("enabled", true, "true to enable, false to disable.", json!({"type": "boolean"}))
                .returns::<AnalyticsRule>(),
            azure::set_analytical_rule)
}
