//! `POST …/incidents/{source}/ingest?format=native`: a batch of a source's incidents in the
//! vendor's own JSON, mapped by the connector's code and stored through the normal ingest
//! path. Such incidents are pushed: they are never written back.

use palisade_connectors::{map_native, ConnectorKind};
use palisade_domain::{Error, Result, Validator};
use palisade_types::incidents::{IncidentSource, IngestBatchResult};

use super::incidents::{CheckedBatch, IncidentService, RawBatch, MAX_BATCH};
use crate::access::WorkspaceCtx;
use crate::connectors::poll::ingest_item;

/// The batch format of `POST …/ingest?format=`: `palisade` (the default) or `native`, in any
/// letter case; `None` for anything else.
pub fn parse_format(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("palisade") {
        Some(false)
    } else if s.eq_ignore_ascii_case("native") {
        Some(true)
    } else {
        None
    }
}

impl IncidentService {
    pub async fn ingest_native(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        req: RawBatch,
    ) -> Result<IngestBatchResult> {
        let kind = ConnectorKind::of_source(source);
        if !kind.is_available() {
            return Err(Error::field(
                "format",
                format!(
                    "The native format of {} is not available in this build yet.",
                    source.as_str()
                ),
            ));
        }
        let (key, raw) = match (req.incidents, req.value) {
            (Some(i), _) => ("incidents", i),
            (None, Some(v)) => ("value", v),
            (None, None) => ("incidents", Vec::new()),
        };
        if raw.is_empty() || raw.len() > MAX_BATCH {
            return Err(Error::field(
                key,
                format!("Give between 1 and {MAX_BATCH} incidents."),
            ));
        }
        let mut batch = CheckedBatch::new(raw.len());
        for (i, value) in raw.iter().enumerate() {
            let prefix = format!("{key}[{i}].");
            let mut v = Validator::new();
            let (mut id, mut accepted) = (None, None);
            match serde_json::from_str::<serde_json::Value>(value.get()) {
                Err(_) => v.add(key, "Not JSON."),
                Ok(item) => match map_native(kind, &item) {
                    Err(errors) => {
                        for (path, msgs) in errors {
                            for m in msgs {
                                v.add(format!("{prefix}{path}").trim_end_matches('.'), m);
                            }
                        }
                    }
                    Ok(pulled) => {
                        id = Some(pulled.external_id.clone());
                        accepted = ingest_item(&mut v, &prefix, &pulled);
                    }
                },
            }
            batch.push(i, id, accepted, v)?;
        }
        self.store_batch(ctx, source, batch, &raw).await
    }
}
