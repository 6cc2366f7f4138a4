//! IBM QRadar SIEM offenses (`SEC` token and `Version` headers):
//! - pull: `GET /api/siem/offenses?filter=last_persisted_time >= {ms}&sort=+last_persisted_time`
//!   with `Range: items=x-y`, the total read back from `Content-Range: items x-y/total`. The
//!   next page keeps the filter's bound at the last stamp read and skips the items already
//!   read at that stamp (keyset paging: an offense updated while a poll pages is not shifted
//!   out of sight). Query parameters are percent-encoded as IBM's examples show (`%20`, never
//!   `+`, which QRadar reads as a space).
//! - entities: `source_address_ids` / `local_destination_address_ids` resolved with `GET
//!   /api/siem/source_addresses?filter=id in (…)` and `…/local_destination_addresses`, cached
//!   for the connector's life;
//! - write-back: `POST /api/siem/offenses/{id}?status=CLOSED&closing_reason_id={n}` (the reason
//!   chosen from `GET /api/siem/offense_closing_reasons`, cached) plus a note carrying the
//!   verdict; `?status=OPEN`; `?assigned_to={user}`; notes `POST …/{id}/notes?note_text=…`.

pub mod mapping;

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::{Method, Url};
use serde_json::Value;

use super::api::{Auth, Body, VendorApi};
use crate::cursor::{Continuation, Page, PageRequest, RejectedItem};
use crate::error::SourceError;
use crate::http::{ConnectorOptions, Failure};
use crate::mapping::text_or_number;
use crate::settings::{Credentials, QRadarSettings};
use crate::writeback::{Change, WriteBack, WriteBackOutcome};
use mapping::Lookups;

pub(crate) const SERVICE: &str = "IBM QRadar";
/// Address ids resolved per call.
const ADDRESS_BATCH: usize = 100;
/// Cached addresses per kind before the cache starts over.
const ADDRESS_CACHE: usize = 100_000;
const COMMENT_CLOCK_SKEW_MS: i64 = 300_000;

pub(crate) struct QRadarSource {
    pub(crate) api: VendorApi,
    settings: QRadarSettings,
    lookups: Mutex<Lookups>,
    reasons: tokio::sync::Mutex<Option<Vec<(i64, String)>>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Next {
    from: i64,
    skip: u64,
}

/// Percent-encodes everything but the unreserved characters.
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `total` of `Content-Range: items x-y/total`.
fn content_total(h: &reqwest::header::HeaderMap) -> Option<u64> {
    let v = h.get("content-range")?.to_str().ok()?;
    v.rsplit('/').next()?.trim().parse().ok()
}

impl QRadarSource {
    pub fn new(
        settings: &QRadarSettings,
        credentials: &Credentials,
        opts: &ConnectorOptions,
    ) -> Result<Self, SourceError> {
        let auth = Auth::header("SEC", "", credentials);
        let api = VendorApi::new(SERVICE, settings.base_url.clone(), auth, credentials, opts)?
            .with_headers(vec![("Version", settings.api_version.clone())])
            .with_auth_hints(&[
                (401, "the authorized service token is invalid or expired"),
                (403, "the token's user role lacks the Offenses permission"),
            ]);
        let lookups = Lookups {
            console: Some(settings.base_url.as_str().trim_end_matches('/').to_string()),
            ..Lookups::default()
        };
        Ok(QRadarSource {
            api,
            settings: settings.clone(),
            lookups: Mutex::new(lookups),
            reasons: tokio::sync::Mutex::new(None),
        })
    }

    /// `{base}/api/{path}?{k=v…}` with QRadar's encoding.
    fn url(&self, path: &[&str], query: &[(&str, &str)]) -> Url {
        let mut segs = vec!["api"];
        segs.extend_from_slice(path);
        let mut url = crate::http::url_with(&self.api.base, &segs, &[]);
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", enc(v)))
                .collect();
            url.set_query(Some(&q.join("&")));
        }
        url
    }

    fn error(&self, f: Failure) -> SourceError {
        match f.status() {
            Some(409) => SourceError::Rejected {
                service: SERVICE,
                status: Some(409),
                detail: f.what(),
            },
            _ => self.api.error(f),
        }
    }

    pub async fn check(&self) -> Result<(), SourceError> {
        let range = [("Range", "items=0-0".to_string())];
        let url = self.url(&["siem", "offenses"], &[("fields", "id")]);
        self.api.probe(url, &range).await.map_err(|f| self.error(f))
    }

    async fn closing_reasons(&self) -> Result<Vec<(i64, String)>, SourceError> {
        let mut slot = self.reasons.lock().await;
        if let Some(r) = slot.as_ref() {
            return Ok(r.clone());
        }
        let url = self.url(
            &["siem", "offense_closing_reasons"],
            &[("include_reserved", "true"), ("include_deleted", "true")],
        );
        let (v, _) = self
            .api
            .json(Method::GET, url, Body::Empty, &[])
            .await
            .map_err(|f| self.error(f))?;
        let list: Vec<(i64, String)> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| !r["is_deleted"].as_bool().unwrap_or(false))
            .filter_map(|r| Some((r["id"].as_i64()?, r["text"].as_str()?.to_string())))
            .collect();
        self.lookups.lock().unwrap().closing_reasons = list.iter().cloned().collect();
        *slot = Some(list.clone());
        Ok(list)
    }

    /// Resolves address ids (`kind`: `source_addresses` / `local_destination_addresses`).
    async fn resolve(
        &self,
        kind: &str,
        ids: Vec<i64>,
    ) -> Result<HashMap<i64, String>, SourceError> {
        let ip_field = if kind == "source_addresses" {
            "source_ip"
        } else {
            "local_destination_ip"
        };
        let mut out = HashMap::new();
        for chunk in ids.chunks(ADDRESS_BATCH) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let filter = format!("id in ({list})");
            let fields = format!("id,{ip_field}");
            let url = self.url(&["siem", kind], &[("filter", &filter), ("fields", &fields)]);
            let range = [("Range", format!("items=0-{}", chunk.len() - 1))];
            let (v, _) = self
                .api
                .json(Method::GET, url, Body::Empty, &range)
                .await
                .map_err(|f| self.error(f))?;
            for a in v.as_array().into_iter().flatten() {
                if let (Some(id), Some(ip)) = (a["id"].as_i64(), a[ip_field].as_str()) {
                    out.insert(id, ip.to_string());
                }
            }
        }
        Ok(out)
    }

    pub async fn pull(&self, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        let n = self.settings.page_size as u64;
        let next = req.resume(SERVICE)?.unwrap_or_else(|| Next {
            from: req.from().timestamp_millis(),
            skip: 0,
        });
        let filter = format!("last_persisted_time >= {}", next.from);
        let url = self.url(
            &["siem", "offenses"],
            &[("filter", &filter), ("sort", "+last_persisted_time")],
        );
        let range = [(
            "Range",
            format!("items={}-{}", next.skip, next.skip + n - 1),
        )];
        let (body, headers) = self
            .api
            .json(Method::GET, url, Body::Empty, &range)
            .await
            .map_err(|f| self.error(f))?;
        let Value::Array(list) = body else {
            return Err(SourceError::Rejected {
                service: SERVICE,
                status: None,
                detail: "the offenses answer is not a list".into(),
            });
        };
        let total = content_total(&headers).unwrap_or(next.skip + list.len() as u64);
        let triage = req.cursor.triage_by(&list, |o| {
            Some((text_or_number(o, "id")?, mapping::version_of(o)?))
        });
        // What the page's new items need: addresses, closing reasons.
        let (mut src, mut dst, mut closed) = (Vec::new(), Vec::new(), false);
        {
            let l = self.lookups.lock().unwrap();
            for o in &triage.todo {
                let (s, d) = mapping::unknown_addresses(o, &l);
                src.extend(s);
                dst.extend(d);
                closed |= o["closing_reason_id"]
                    .as_i64()
                    .is_some_and(|r| !l.closing_reasons.contains_key(&r));
            }
        }
        src.sort_unstable();
        src.dedup();
        dst.sort_unstable();
        dst.dedup();
        if closed {
            self.closing_reasons().await?;
        }
        let s = self.resolve("source_addresses", src).await?;
        let d = self.resolve("local_destination_addresses", dst).await?;
        let lookups = {
            let mut l = self.lookups.lock().unwrap();
            if l.source_addresses.len() + s.len() > ADDRESS_CACHE {
                l.source_addresses.clear();
            }
            if l.destination_addresses.len() + d.len() > ADDRESS_CACHE {
                l.destination_addresses.clear();
            }
            l.source_addresses.extend(s);
            l.destination_addresses.extend(d);
            l.clone()
        };
        let mapped = triage
            .todo
            .iter()
            .map(|o| {
                mapping::incident(o, &lookups).map_err(|errors| RejectedItem {
                    external_id: text_or_number(o, "id"),
                    errors,
                })
            })
            .collect();
        let read = next.skip + list.len() as u64;
        let cont = (!list.is_empty() && read < total).then(|| {
            let stamps: Vec<i64> = list
                .iter()
                .filter_map(|o| mapping::version_of(o).map(|t| t.timestamp_millis()))
                .collect();
            let last = stamps.iter().copied().max().unwrap_or(next.from);
            let at_last = stamps.iter().filter(|t| **t == last).count() as u64;
            let skip = if last == next.from { read } else { at_last };
            Continuation::of(&Next { from: last, skip })
        });
        Ok(req.page(triage, mapped, cont))
    }

    async fn post_offense(&self, id: &str, query: &[(&str, &str)]) -> Result<Value, SourceError> {
        let url = self.url(&["siem", "offenses", id], query);
        self.api
            .json(Method::POST, url, Body::Empty, &[])
            .await
            .map(|(v, _)| v)
            .map_err(|f| match f.status() {
                Some(404) => SourceError::NotFound {
                    service: SERVICE,
                    detail: format!("offense {id} does not exist ({})", f.what()),
                },
                _ => self.error(f),
            })
    }

    pub async fn write_back(&self, wb: &WriteBack) -> Result<WriteBackOutcome, SourceError> {
        let id = wb.external_id.as_str();
        let answer = match &wb.change {
            Change::Status { .. } => {
                if let Some(verdict) = wb.change.verdict() {
                    let reasons = self.closing_reasons().await?;
                    let Some(r) = mapping::closing_reason_for(verdict.classification, &reasons)
                    else {
                        return Err(SourceError::Rejected {
                            service: SERVICE,
                            status: None,
                            detail: "QRadar has no offense closing reason to close with".into(),
                        });
                    };
                    let r = r.to_string();
                    let v = self
                        .post_offense(id, &[("status", "CLOSED"), ("closing_reason_id", &r)])
                        .await?;
                    self.note(wb, &mapping::closing_note(&verdict)).await?;
                    v
                } else {
                    self.post_offense(id, &[("status", "OPEN")]).await?
                }
            }
            Change::Assign { owner } => {
                let who = mapping::assigned_to(owner.as_ref());
                self.post_offense(id, &[("assigned_to", &who)]).await?
            }
            Change::Comment { text, .. } => return self.note(wb, text).await,
        };
        Ok(WriteBackOutcome::Applied {
            version: mapping::version_of(&answer),
        })
    }

    async fn note(&self, wb: &WriteBack, text: &str) -> Result<WriteBackOutcome, SourceError> {
        let id = wb.external_id.as_str();
        let not_found = |f: Failure| match f.status() {
            Some(404) => SourceError::NotFound {
                service: SERVICE,
                detail: format!("offense {id} does not exist ({})", f.what()),
            },
            _ => self.error(f),
        };
        if wb.attempt > 1 {
            let (notes, _) = self
                .api
                .json(
                    Method::GET,
                    self.url(&["siem", "offenses", id, "notes"], &[]),
                    Body::Empty,
                    &[],
                )
                .await
                .map_err(not_found)?;
            let since = wb.made_at.timestamp_millis() - COMMENT_CLOCK_SKEW_MS;
            let there = notes.as_array().is_some_and(|l| {
                l.iter().any(|n| {
                    n["note_text"].as_str() == Some(text)
                        && n["create_time"].as_i64().is_some_and(|t| t >= since)
                })
            });
            if there {
                return Ok(WriteBackOutcome::AlreadyApplied);
            }
        }
        let url = self.url(&["siem", "offenses", id, "notes"], &[("note_text", text)]);
        self.api
            .json(Method::POST, url, Body::Empty, &[])
            .await
            .map_err(not_found)?;
        Ok(WriteBackOutcome::Applied { version: None })
    }
}
