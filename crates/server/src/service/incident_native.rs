//! `POST …/incidents/{source}/ingest?format=native`: a batch of a source's incidents in the
//! vendor's own JSON, mapped by the connector's code and stored through the normal ingest
//! path. Such incidents are pushed: they are never written back.

use palisade_connectors::{map_native, ConnectorKind};
use palisade_domain::{Error, Result, Validator};
use palisade_types::incidents::{IncidentSource, IngestBatchResult};
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

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
        let (key, raw) = match (req.incidents, req.native) {
            (Some(i), _) => ("incidents", i),
            (None, Some(list)) => list,
            (None, None) => ("incidents", Vec::new()),
        };
        if raw.is_empty() || raw.len() > MAX_BATCH {
            return Err(Error::field(
                if key.is_empty() { "incidents" } else { key },
                format!("Give between 1 and {MAX_BATCH} incidents."),
            ));
        }
        let mut batch = CheckedBatch::new(raw.len());
        for (i, value) in raw.iter().enumerate() {
            let prefix = format!("{key}[{i}].");
            let mut v = Validator::new();
            let (mut id, mut accepted) = (None, None);
            match serde_json::from_str::<serde_json::Value>(value.get()) {
                Err(_) => v.add(format!("{key}[{i}]"), "Not JSON."),
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

/// The keys under which the vendors' list answers hold their items: Sentinel and Graph
/// `value`, CrowdStrike Falcon `resources` (`entities/alerts/v2`, `combined/alerts/v1`),
/// SentinelOne `data`, Splunk `results` (a search job's results); QRadar answers a bare array.
const NATIVE_LISTS: [&str; 4] = ["value", "resources", "data", "results"];

/// `{incidents: [...]}`, a vendor's list answer (`{value | resources | data | results: [...],
/// …}`, other keys ignored), or a bare array; items stay raw.
impl<'de> serde::Deserialize<'de> for RawBatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<RawBatch, D::Error> {
        struct Batch;
        impl<'de> Visitor<'de> for Batch {
            type Value = RawBatch;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object with 'incidents' (or the source's own list answer)")
            }

            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<RawBatch, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Box<RawValue>>()? {
                    items.push(item);
                }
                Ok(RawBatch {
                    incidents: None,
                    native: Some(("", items)),
                })
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<RawBatch, A::Error> {
                let mut batch = RawBatch::default();
                while let Some(key) = map.next_key::<String>()? {
                    let list = NATIVE_LISTS.iter().find(|k| **k == key);
                    match list {
                        _ if key == "incidents" => batch.incidents = map.next_value()?,
                        Some(k) if batch.native.is_none() => {
                            let items: Option<Vec<Box<RawValue>>> = map.next_value()?;
                            batch.native = items.map(|i| (*k, i));
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(batch)
            }
        }
        d.deserialize_any(Batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_incidents_a_vendors_list_answer_or_a_bare_array() {
        let b: RawBatch = serde_json::from_str(r#"{"incidents": [{"id": "a"}], "x": 1}"#).unwrap();
        assert_eq!(b.incidents.unwrap().len(), 1);
        for (body, key) in [
            (
                r#"{"meta": {"pagination": {}}, "resources": [{}, {}], "errors": []}"#,
                "resources",
            ),
            (
                r#"{"data": [{}, {}], "pagination": {"nextCursor": null}}"#,
                "data",
            ),
            (r#"{"preview": false, "results": [{}, {}]}"#, "results"),
            (r#"{"value": [{}, {}], "nextLink": "x"}"#, "value"),
            ("[{}, {}]", ""),
        ] {
            let b: RawBatch = serde_json::from_str(body).unwrap();
            let (k, items) = b.native.unwrap();
            assert_eq!((k, items.len()), (key, 2), "{body}");
            assert!(b.incidents.is_none());
        }
        assert!(serde_json::from_str::<RawBatch>(r#"{"incidents": 5}"#).is_err());
        assert!(serde_json::from_str::<RawBatch>("5").is_err());
    }
}
