//! Demo data, kept apart from the server so that no production request path depends on it:
//! realistic incidents per source ([`incidents`]) for `palisade demo`, the benchmarks and
//! tests; connectors with hourly volume and investigation logs ([`datasources`]); and
//! [`ingest`], which stores incidents given in Palisade's model the way the ingest API would.

pub mod datasources;
pub mod gamebooks;
pub mod incidents;

use palisade_domain::{Error, Result};
use palisade_store::{IngestIncident, Store, WorkspaceId};
use palisade_types::incidents::{IncidentInput, IncidentSource};

/// Ingests incidents given in Palisade's model (each with its `id`) into one workspace and
/// source, validated and normalized as the ingest API would. Returns how many were stored.
pub async fn ingest(
    store: &Store,
    workspace: &WorkspaceId,
    source: IncidentSource,
    incidents: Vec<serde_json::Value>,
) -> Result<usize> {
    let mut items = Vec::with_capacity(incidents.len());
    for value in incidents {
        let item: IncidentInput =
            serde_json::from_value(value).map_err(|e| Error::BadRequest(e.to_string()))?;
        let mut v = palisade_domain::Validator::new();
        let normalized = palisade_domain::incident::normalize(&mut v, "", &item);
        v.finish()?;
        items.push(IngestIncident {
            id: item.id.unwrap_or_default(),
            incident: normalized.expect("validated"),
        });
    }
    let n = items.len();
    store
        .tenant(&workspace.org())
        .ingest_incidents(workspace, source, &items, None)
        .await?;
    Ok(n)
}
