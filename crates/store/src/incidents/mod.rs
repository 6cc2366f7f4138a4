//! Incidents: ingest (upsert with change detection, numbering, entity index and outbox events
//! in one transaction), reads, and changes under a row lock.

mod ingest;
mod modify;
mod reads;

pub(crate) use ingest::prepare;
pub use ingest::{Applied, IngestIncident};
pub use modify::{CommentRow, NewComment};
pub use reads::{AcrossFilter, Cursor, IncidentListRow};

use chrono::{DateTime, Utc};
use palisade_domain::incident::IncidentDoc;
use palisade_domain::vocab::{Classification, IncidentSource, Owner};
use palisade_domain::{Error, Result};
use uuid::Uuid;

/// A stored incident.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IncidentRow {
    #[sqlx(try_from = "String")]
    pub workspace_id: Uuid,
    #[sqlx(try_from = "crate::db::row::Vocab")]
    pub source: IncidentSource,
    pub id: String,
    pub number: i64,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub updated_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::row::JsonText")]
    pub doc: IncidentDoc,
    /// The connector it was pulled from (`None`: pushed by ingest, never written back).
    #[sqlx(try_from = "crate::db::row::NullText")]
    pub connector_id: Option<Uuid>,
    /// Where its write-backs to the source stand (`None`: nothing was written back).
    #[sqlx(try_from = "crate::db::row::NullText")]
    pub sync: Option<crate::connectors::SyncRow>,
}

/// The listing fields of an incident that are not columns of their own (the `summary`
/// column, JSON).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListSummary {
    pub classification: Option<Classification>,
    pub owner: Option<Owner>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub alerts_count: usize,
    pub alert_product_names: Vec<String>,
    pub labels: Vec<String>,
}

crate::db::row::json_document!(ListSummary);

pub(crate) fn list_summary(doc: &IncidentDoc) -> Result<String> {
    serde_json::to_string(&ListSummary {
        classification: doc.classification,
        owner: doc.owner.clone(),
        last_activity_at: doc.last_activity_at,
        alerts_count: doc.alerts.len(),
        alert_product_names: doc.alert_product_names.clone(),
        labels: doc.labels.clone(),
    })
    .map_err(Error::internal)
}

/// The lowercased owner email an incident is filtered by.
pub(crate) fn owner_email(doc: &IncidentDoc) -> Option<String> {
    doc.owner
        .as_ref()
        .and_then(|o| o.email.as_ref())
        .map(|e| e.to_lowercase())
}

pub(crate) const INCIDENT_COLS: &str =
    "workspace_id, source, id, number, created_at, updated_at, doc, connector_id, sync";
