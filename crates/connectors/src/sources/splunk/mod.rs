//! Splunk Enterprise Security notable events (`Authorization: Bearer <token>`):
//! - pull: `POST /services/search/jobs/export` with `search=search `notable` | sort {n} +_time`,
//!   `earliest_time` / `latest_time` (epoch seconds; the window starts `overlapSecs` before the
//!   cursor, a look-back for index lag, and ends when the poll started), `output_mode=json`.
//!   The answer is read as a stream, one JSON row per line, never held whole; notables already
//!   committed (`event_id` and `_time` in the cursor) are skipped. A page is `n` rows; the next
//!   page starts at the last `_time` read (inclusive) and asks for as many more rows as were
//!   read at that instant.
//! - write-back: `POST /services/notable_update` with `ruleUIDs`, `status`, `disposition`,
//!   `newOwner`, `comment`.

pub mod mapping;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::Value;

use super::api::{url_at, Auth, Body, VendorApi};
use crate::cursor::{Continuation, Page, PageRequest, RejectedItem};
use crate::error::SourceError;
use crate::http::ConnectorOptions;
use crate::settings::{Credentials, SplunkSettings};
use crate::writeback::{Change, WriteBack, WriteBackOutcome};

pub(crate) const SERVICE: &str = "Splunk Enterprise Security";

pub(crate) struct SplunkSource {
    pub(crate) api: VendorApi,
    settings: SplunkSettings,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Next {
    earliest: i64,
    latest: i64,
    /// Rows at `earliest` read already (asked for on top of the page size).
    edge: u64,
}

/// Epoch microseconds as Splunk's `seconds.fraction`.
fn epoch(micros: i64) -> String {
    format!(
        "{}.{:06}",
        micros.div_euclid(1_000_000),
        micros.rem_euclid(1_000_000)
    )
}

impl SplunkSource {
    pub fn new(
        settings: &SplunkSettings,
        credentials: &Credentials,
        opts: &ConnectorOptions,
    ) -> Result<Self, SourceError> {
        let auth = Auth::header("authorization", "Bearer ", credentials);
        let api = VendorApi::new(SERVICE, settings.base_url.clone(), auth, credentials, opts)?
            .with_auth_hints(&[
            (
                401,
                "the authentication token is invalid, expired or disabled",
            ),
            (
                403,
                "the token's user needs the ess_analyst role or the edit_notable_events capability",
            ),
        ]);
        Ok(SplunkSource {
            api,
            settings: settings.clone(),
        })
    }

    pub async fn check(&self) -> Result<(), SourceError> {
        let url = url_at(
            &self.api.base,
            &["services", "authentication", "current-context"],
            &[("output_mode", "json")],
        );
        self.api
            .probe(url, &[])
            .await
            .map_err(|f| self.api.error(f))
    }

    pub async fn pull(&self, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        let next = req.resume(SERVICE)?.unwrap_or_else(|| Next {
            earliest: req.from().timestamp_micros(),
            latest: Utc::now().timestamp_micros(),
            edge: 0,
        });
        let limit = self.settings.page_size as u64 + next.edge;
        let form = [
            ("search", format!("search `notable` | sort {limit} +_time")),
            ("earliest_time", epoch(next.earliest)),
            ("latest_time", epoch(next.latest)),
            ("output_mode", "json".to_string()),
        ];
        let url = url_at(
            &self.api.base,
            &["services", "search", "jobs", "export"],
            &[],
        );
        let mut resp = self
            .api
            .send(Method::POST, url, Body::Form(&form), &[])
            .await
            .map_err(|f| self.api.error(f))?;
        // The stream, line by line.
        let (mut rows, mut line, mut stamps) = (0u64, Vec::new(), Vec::new());
        let (mut items, mut rejected, mut skipped) = (Vec::new(), Vec::new(), 0usize);
        let mut last: Option<(DateTime<Utc>, u64)> = None;
        let mut done = false;
        while !done {
            let chunk = match self
                .api
                .chunk(&mut resp)
                .await
                .map_err(|f| self.api.error(f))?
            {
                Some(c) => c,
                None => {
                    done = true;
                    Vec::new()
                }
            };
            let mut rest: &[u8] = &chunk;
            loop {
                let (piece, complete) = match rest.iter().position(|b| *b == b'\n') {
                    Some(i) => (&rest[..i], true),
                    None if done => (rest, true),
                    None => (rest, false),
                };
                if line.len() + piece.len() > self.api.max_line() {
                    return Err(SourceError::Rejected {
                        service: SERVICE,
                        status: None,
                        detail: "a result row is larger than the answer limit".into(),
                    });
                }
                line.extend_from_slice(piece);
                if !complete {
                    break;
                }
                rest = rest.get(piece.len() + 1..).unwrap_or(&[]);
                let row = std::mem::take(&mut line);
                if row.iter().all(u8::is_ascii_whitespace) {
                    if rest.is_empty() {
                        break;
                    }
                    continue;
                }
                let v: Value = serde_json::from_slice(&row).map_err(|_| SourceError::Rejected {
                    service: SERVICE,
                    status: None,
                    detail: "a line of the export is not JSON".into(),
                })?;
                if let Some(m) = v["messages"].as_array() {
                    if let Some(e) = m
                        .iter()
                        .find(|m| matches!(m["type"].as_str(), Some("ERROR" | "FATAL")))
                    {
                        return Err(SourceError::Rejected {
                            service: SERVICE,
                            status: None,
                            detail: palisade_net::upstream::clip(
                                e["text"].as_str().unwrap_or("search error"),
                            ),
                        });
                    }
                }
                if v["preview"].as_bool() == Some(true) || !v["result"].is_object() {
                    if rest.is_empty() {
                        break;
                    }
                    continue;
                }
                let n = &v["result"];
                rows += 1;
                let key = mapping::values(n, "event_id")
                    .into_iter()
                    .next()
                    .zip(mapping::time_of(n));
                if let Some((id, t)) = &key {
                    last = match last {
                        Some((lt, c)) if lt == *t => Some((lt, c + 1)),
                        Some((lt, c)) if lt > *t => Some((lt, c)),
                        _ => Some((*t, 1)),
                    };
                    stamps.push((id.clone(), *t));
                    if req.cursor.has(id, *t) {
                        skipped += 1;
                        if rest.is_empty() {
                            break;
                        }
                        continue;
                    }
                }
                match mapping::incident(n) {
                    Ok(p) => items.push(p),
                    Err(errors) => rejected.push(RejectedItem {
                        external_id: key.map(|k| k.0),
                        errors,
                    }),
                }
                if rest.is_empty() {
                    break;
                }
            }
        }
        let cont = match last {
            Some((t, at_edge)) if rows >= limit => {
                let earliest = t.timestamp_micros();
                let edge = if earliest == next.earliest {
                    next.edge + at_edge
                } else {
                    at_edge
                };
                Some(Next {
                    earliest,
                    latest: next.latest,
                    edge,
                })
            }
            _ => None,
        };
        let high_water = req
            .cursor
            .advance(stamps.iter().map(|(i, t)| (i.as_str(), *t)), req.overlap);
        Ok(Page {
            items,
            rejected,
            skipped,
            continuation: cont.as_ref().map(Continuation::of),
            high_water,
        })
    }

    pub async fn write_back(&self, wb: &WriteBack) -> Result<WriteBackOutcome, SourceError> {
        let mut form: Vec<(&str, String)> = vec![("ruleUIDs", wb.external_id.clone())];
        match &wb.change {
            Change::Status {
                status,
                classification_comment,
                ..
            } => {
                form.push(("status", mapping::status_to(*status).to_string()));
                if let Some(v) = wb.change.verdict() {
                    let disposition = mapping::disposition_to(v.classification, v.reason);
                    form.push(("disposition", disposition.to_string()));
                }
                if let Some(c) = classification_comment {
                    form.push(("comment", c.clone()));
                }
            }
            Change::Assign { owner } => form.push(("newOwner", mapping::owner_to(owner.as_ref()))),
            Change::Comment { text, .. } => form.push(("comment", text.clone())),
        }
        form.push(("output_mode", "json".into()));
        let url = url_at(&self.api.base, &["services", "notable_update"], &[]);
        let (v, _) = self
            .api
            .json(Method::POST, url, Body::Form(&form), &[])
            .await
            .map_err(|f| self.api.error(f))?;
        if v["success"].as_bool() != Some(true) {
            let msg = palisade_net::upstream::clip(v["message"].as_str().unwrap_or("no success"));
            return Err(
                if v["failure_count"].as_u64().unwrap_or(0) > 0 || msg.contains("not found") {
                    SourceError::NotFound {
                        service: SERVICE,
                        detail: format!("notable {}: {msg}", wb.external_id),
                    }
                } else {
                    SourceError::Rejected {
                        service: SERVICE,
                        status: None,
                        detail: msg,
                    }
                },
            );
        }
        Ok(WriteBackOutcome::Applied { version: None })
    }
}
