//! Shared set-up of the store's tests: a fresh database per test (SQLite, or PostgreSQL when
//! `PALISADE_TEST_DATABASE` names a server), and organizations with a workspace each.

#![allow(dead_code)]

use palisade_domain::incident::{IncidentDoc, NormalizedIncident};
use palisade_domain::vocab::{
    Entity, EntityKind, Evidence, IncidentSource, IncidentStatus, OrgRole, Severity,
};
use palisade_domain::Scope;
use palisade_store::testing::TestDb;
use palisade_store::{
    IngestIncident, NewCredential, NewServiceAccount, OrgId, Store, Tenant, WorkspaceId,
};
use uuid::Uuid;

/// A migrated store on a database of its own (dropped with the value).
pub struct Db {
    pub store: Store,
    _db: TestDb,
}

pub async fn db() -> Db {
    let db = TestDb::new().await;
    Db {
        store: db.store().await,
        _db: db,
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
                NewCredential {
                    id: Uuid::new_v4(),
                    secret_hash: hash.into(),
                    scopes: vec![Scope::IncidentsRead],
                    expires_at: chrono::Utc::now() + chrono::Duration::days(30),
                },
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
        title: title.into(),
        description: None,
        severity,
        status: IncidentStatus::New,
        classification: None,
        classification_reason: None,
        classification_comment: None,
        owner: None,
        labels: Vec::new(),
        tactics: Vec::new(),
        alert_product_names: Vec::new(),
        first_activity_at: None,
        last_activity_at: None,
        provider_url: None,
        entities: entity
            .map(|name| Entity {
                id: "e1".into(),
                kind: EntityKind::Host,
                display_name: name.into(),
                properties: None,
            })
            .into_iter()
            .collect(),
        alerts: Vec::new(),
        evidence: Evidence::default(),
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
