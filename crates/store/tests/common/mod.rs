//! Shared set-up of the store's tests: a fresh database per test (SQLite, or PostgreSQL when
//! `PALISADE_TEST_DATABASE` names a server), and organizations with a workspace each.

#![allow(dead_code)]

use palisade_domain::incident::{IncidentDoc, NormalizedIncident};
use palisade_domain::vocab::{Entity, EntityKind, IncidentSource, OrgRole, Severity};
use palisade_domain::Scope;
use palisade_store::testing::TestDb;
use palisade_store::{
    AuditRow, ConnectorFields, IngestIncident, NewComment, NewCredential, NewRun,
    NewServiceAccount, NewStep, OrgId, PlaybookFields, RuleFields, Store, Tenant, WebhookFields,
    WebhookSecrets, WorkspaceId,
};
use uuid::Uuid;

/// A migrated store on a database of its own (dropped with the value).
pub struct Db {
    pub store: Store,
    pub raw: TestDb,
}

pub async fn db() -> Db {
    let db = TestDb::new().await;
    Db {
        store: db.store().await,
        raw: db,
    }
}

/// An organization with one workspace under its own account.
#[derive(Debug, Clone, Copy)]
pub struct Org {
    pub id: OrgId,
    pub account: Uuid,
    pub ws: WorkspaceId,
}

impl Db {
    pub fn tenant(&self, org: &Org) -> Tenant<'_> {
        self.store.tenant(&org.id)
    }

    pub async fn org(&self, name: &str) -> Org {
        let row = self
            .store
            .system()
            .create_organization(name)
            .await
            .expect("create organization");
        let ws = self
            .store
            .tenant(&row.id)
            .create_workspace(row.own_account_id, &format!("{name} SOC"), None)
            .await
            .expect("create workspace");
        Org {
            id: row.id,
            account: row.own_account_id,
            ws: ws.id,
        }
    }

    /// A service account of `org` with one credential whose secret hash is `hash`.
    pub async fn service_account(&self, org: &Org, name: &str, hash: &str) -> Uuid {
        let id = Uuid::new_v4();
        self.tenant(org)
            .create_service_account(
                NewServiceAccount {
                    id,
                    name: name.into(),
                    description: None,
                    org_role: OrgRole::Member,
                    assignments: vec![(org.ws, palisade_domain::WorkspaceRole::IncidentAnalyst)],
                },
                credential(hash),
            )
            .await
            .expect("create service account");
        id
    }
}

/// Asserts an error is a not-found (the answer for another organization's workspace).
pub fn assert_not_found<T: std::fmt::Debug>(r: palisade_domain::Result<T>) {
    match r {
        Err(palisade_domain::Error::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

/// An incident document: `entity` names a host entity when given.
pub fn doc(title: &str, severity: Severity, entity: Option<&str>) -> IncidentDoc {
    IncidentDoc {
        entities: entity
            .map(|name| Entity {
                id: "e1".into(),
                kind: EntityKind::Host,
                display_name: name.into(),
                properties: None,
            })
            .into_iter()
            .collect(),
        ..IncidentDoc::titled(title, severity)
    }
}

/// An incident to ingest, created `minutes` after a fixed instant.
pub fn item(id: &str, doc: IncidentDoc, minutes: i64) -> IngestIncident {
    use chrono::TimeZone;
    let at = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        + chrono::Duration::minutes(minutes);
    IngestIncident {
        id: id.into(),
        incident: NormalizedIncident {
            doc,
            number: None,
            created_at: Some(at),
            updated_at: Some(at),
        },
    }
}

impl Db {
    /// Ingests one Sentinel incident into the organization's workspace.
    pub async fn incident(&self, org: &Org, id: &str, title: &str) {
        self.tenant(org)
            .ingest_incidents(
                &org.ws,
                IncidentSource::Sentinel,
                &[item(id, doc(title, Severity::Medium, None), 1)],
                None,
            )
            .await
            .expect("ingest");
    }
}

// ---------------------------------------------------------------- fixtures

/// A credential whose secret hash is `hash`, valid for 30 days.
pub fn credential(hash: &str) -> NewCredential {
    NewCredential {
        id: Uuid::new_v4(),
        secret_hash: hash.into(),
        scopes: vec![Scope::IncidentsRead],
        expires_at: chrono::Utc::now() + chrono::Duration::days(30),
    }
}

/// A comment by "Analyst"; an activity comment records history.
pub fn comment(message: &str, activity: bool) -> NewComment {
    NewComment {
        message: message.into(),
        author_name: Some("Analyst".into()),
        author_email: None,
        is_activity: activity,
        is_closing: false,
        ticket_id: None,
    }
}

/// A connector of `kind`, fed by Palisade's ingest when `ingest_fed`.
pub fn connector(kind: &str, ingest_fed: bool) -> ConnectorFields {
    ConnectorFields {
        connector_type: kind.into(),
        ingest_kind: ingest_fed.then(|| kind.into()),
        name: format!("{kind} connector"),
        provider: "Test".into(),
        description: None,
        icon: None,
        connected: true,
        parameters: "[]".into(),
    }
}

/// What makes a data source a polled connector (sealed credentials are opaque here).
pub fn setup() -> palisade_store::ConnectorSetup {
    palisade_store::ConnectorSetup {
        kind: "MicrosoftSentinel".into(),
        source: palisade_domain::vocab::IncidentSource::Sentinel,
        settings: "{\"workspaceName\":\"law\"}".into(),
        sealed_credentials: Some("sealed".into()),
        start_from: chrono::Utc::now(),
        poll_interval_secs: 60,
        reset_cursor: true,
    }
}

pub fn playbook(name: &str, admin: bool) -> PlaybookFields {
    PlaybookFields {
        name: name.into(),
        description: None,
        entity_type: "Incident".into(),
        is_admin_required: admin,
        parameters: "{}".into(),
        action: r#"{"type":"AddLabel","label":"x"}"#.into(),
    }
}

/// A rule matching titles containing "phish".
pub fn rule(title: &str, playbooks: Vec<Uuid>, auto_run: bool) -> RuleFields {
    RuleFields {
        title: title.into(),
        match_type: "Contains".into(),
        pattern: "phish".into(),
        severities: Vec::new(),
        sources: Vec::new(),
        playbook_ids: playbooks,
        is_auto_run: auto_run,
        is_enabled: true,
    }
}

/// A manual run of a Sentinel incident with one step per `(playbook, admin required)`.
pub fn new_run(incident: &str, steps: Vec<(Uuid, bool)>) -> NewRun {
    NewRun {
        source: IncidentSource::Sentinel,
        incident_id: incident.into(),
        incident_number: 1,
        incident_title: "Phishing".into(),
        rule_id: None,
        title: "Manual".into(),
        is_auto_run: false,
        triggered_by: None,
        trigger_event_id: None,
        steps: steps
            .into_iter()
            .map(|(playbook_id, admin)| NewStep {
                playbook_id,
                name: "Step".into(),
                description: None,
                entity_type: "Incident".into(),
                entity_id: None,
                affected_entity: None,
                is_admin_required: admin,
                parameters: "{}".into(),
                action: "{}".into(),
                status: "Pending",
                error_message: None,
            })
            .collect(),
    }
}

/// A webhook of the organization's own account and workspace.
pub fn webhook_fields(org: &Org, name: &str) -> WebhookFields {
    WebhookFields {
        target_account_id: org.account,
        workspace_id: Some(org.ws),
        name: name.into(),
        url: "https://hooks.example/in".into(),
        event_types: vec!["incident.created".into()],
        monitored_account_ids: Vec::new(),
    }
}

pub fn webhook_secrets() -> WebhookSecrets {
    WebhookSecrets {
        authentication_type: "None".into(),
        api_key_header: None,
        sealed_credentials: None,
        sealed_signing_secret: Some("sealed".into()),
    }
}

/// An investigation query of workspace `ws` recorded at `at`.
pub fn audit_row(ws: Uuid, at: i64) -> AuditRow {
    AuditRow {
        id: Uuid::new_v4(),
        workspace_id: ws,
        service_account_id: Uuid::new_v4(),
        credential_id: Uuid::new_v4(),
        log_kind: "SignInLogs".into(),
        user_id: "u".into(),
        time_filtering_type: "ThreeHours".into(),
        start_at: 0,
        end_at: at,
        continuation: false,
        entity_name: None,
        resource_id: None,
        resource_name: None,
        result_count: 1,
        created_at: at,
    }
}

/// Runs an outbox consumer's `step` until it has consumed `want` events or 10 s passed;
/// returns how many it consumed. On PostgreSQL a consumer reads only below the oldest
/// transaction of the database still running (docs/jobs.md, "The outbox cursor"), which
/// a transaction still open holds back for a moment.
pub async fn consume(want: usize, mut step: impl AsyncFnMut() -> usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut total = 0;
    while total < want && std::time::Instant::now() < deadline {
        let n = step().await;
        total += n;
        if n == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    total
}

/// The types of the organization's outbox events, oldest first.
pub async fn event_types(tenant: &palisade_store::Tenant<'_>) -> Vec<String> {
    tenant
        .events()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}
