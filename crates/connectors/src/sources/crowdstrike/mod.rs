//! CrowdStrike Falcon (Alerts API) with OAuth2 tokens from `POST /oauth2/token`:
//! - pull: ids from `GET /alerts/queries/alerts/v2?filter=updated_timestamp:>='{t}'&sort=
//!   updated_timestamp|asc&limit={n}&offset={k}`, bodies from `POST /alerts/entities/alerts/v2`
//!   `{composite_ids}`; where `offset + limit` would pass the 10,000 results the query endpoint
//!   serves, the poll continues with `POST /alerts/combined/alerts/v1` `{filter, sort, limit,
//!   after}` from the page's high-water mark, following `meta.pagination.after`;
//! - write-back: `PATCH /alerts/entities/alerts/v3` `{composite_ids, action_parameters}`;
//! - `X-RateLimit-Remaining` is watched: when it runs out, the next call waits for the window
//!   (`X-RateLimit-RetryAfter`, epoch seconds) instead of collecting a 429.

pub mod mapping;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use super::api::{url_at, Auth, Body, OAuthTokens, VendorApi};
use crate::cursor::{Continuation, Page, PageRequest, RejectedItem};
use crate::error::SourceError;
use crate::http::ConnectorOptions;
use crate::mapping::text;
use crate::settings::{Credentials, CrowdStrikeSettings};
use crate::writeback::{Change, WriteBack, WriteBackOutcome};

pub(crate) const SERVICE: &str = "CrowdStrike Falcon";
/// The most results `queries/alerts/v2` pages through with `offset`.
pub const OFFSET_WINDOW: u64 = 10_000;
const SORT: &str = "updated_timestamp|asc";

pub(crate) struct CrowdStrikeSource {
    pub(crate) api: VendorApi,
    settings: CrowdStrikeSettings,
}

/// Where the next page of a poll starts.
#[derive(serde::Serialize, serde::Deserialize)]
struct Next {
    /// The filter's lower bound, fixed for the poll (offset mode) or the switch point.
    from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

fn filter(from: &str) -> String {
    format!("updated_timestamp:>='{from}'")
}

impl CrowdStrikeSource {
    pub fn new(
        settings: &CrowdStrikeSettings,
        credentials: &Credentials,
        opts: &ConnectorOptions,
    ) -> Result<Self, SourceError> {
        let base = match &settings.base_url {
            Some(u) => u.clone(),
            None => {
                reqwest::Url::parse(settings.cloud.api()).map_err(|e| SourceError::Settings {
                    field: "settings.cloud".into(),
                    detail: e.to_string(),
                })?
            }
        };
        let (Credentials::ClientSecret(secret) | Credentials::ApiToken(secret)) = credentials;
        let tokens = OAuthTokens::new(
            url_at(&base, &["oauth2", "token"], &[]),
            settings.client_id.clone(),
            secret.clone(),
            settings.member_cid.clone(),
        );
        let api = VendorApi::new(SERVICE, base, Auth::OAuth(tokens), credentials, opts)?
            .with_auth_hints(&[(
                403,
                "the API client needs the Alerts read scope, and Alerts write for write-back",
            )]);
        Ok(CrowdStrikeSource {
            api,
            settings: settings.clone(),
        })
    }

    pub async fn check(&self) -> Result<(), SourceError> {
        let url = url_at(
            &self.api.base,
            &["alerts", "queries", "alerts", "v2"],
            &[("limit", "1")],
        );
        self.api
            .probe(url, &[])
            .await
            .map_err(|f| self.api.error(f))
    }

    async fn entities(&self, ids: &[String]) -> Result<Vec<Value>, SourceError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let url = url_at(&self.api.base, &["alerts", "entities", "alerts", "v2"], &[]);
        let body = json!({"composite_ids": ids});
        let (mut answer, _) = self
            .api
            .json(Method::POST, url, Body::Json(&body), &[])
            .await
            .map_err(|f| self.api.error(f))?;
        let mut list = match answer.get_mut("resources").map(Value::take) {
            Some(Value::Array(l)) => l,
            _ => return Err(self.shape("the alerts entities answer has no 'resources'")),
        };
        // In the order of the ids (the query's order).
        let pos = |v: &Value| {
            let id = text(v, "composite_id").unwrap_or("");
            ids.iter().position(|i| i == id).unwrap_or(usize::MAX)
        };
        list.sort_by_key(pos);
        Ok(list)
    }

    fn shape(&self, what: &str) -> SourceError {
        SourceError::Rejected {
            service: SERVICE,
            status: None,
            detail: what.into(),
        }
    }

    pub async fn pull(&self, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        let limit = self.settings.page_size as u64;
        let next = req.resume(SERVICE)?.unwrap_or_else(|| Next {
            from: stamp(req.from()),
            offset: Some(0),
            after: None,
        });
        let Some(offset) = next.offset else {
            let (list, after) = self
                .combined(&next.from, next.after.as_deref(), limit)
                .await?;
            let more = after.filter(|_| !list.is_empty()).map(|a| Next {
                from: next.from.clone(),
                offset: None,
                after: Some(a),
            });
            let triage = req
                .cursor
                .triage(&list, "composite_id", "/updated_timestamp");
            return Ok(self.finish(req, triage, more));
        };
        let (list, total) = self.by_offset(&next.from, offset, limit).await?;
        let reached = offset + list.len() as u64;
        let triage = req
            .cursor
            .triage(&list, "composite_id", "/updated_timestamp");
        let cont = if list.is_empty() || reached >= total {
            None
        } else if reached + limit <= OFFSET_WINDOW {
            Some(Next {
                from: next.from.clone(),
                offset: Some(reached),
                after: None,
            })
        } else {
            // Beyond what `offset` reaches: the combined endpoint, from where this page ends
            // (the skip set of the page's high-water cursor drops what was read already).
            let high = req
                .cursor
                .advance(
                    triage.stamps.iter().map(|(i, v)| (i.as_str(), *v)),
                    req.overlap,
                )
                .since;
            Some(Next {
                from: high.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                offset: None,
                after: None,
            })
        };
        Ok(self.finish(req, triage, cont))
    }

    /// A page of ids and their alerts; the third value is the query's total.
    async fn by_offset(
        &self,
        from: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Value>, u64), SourceError> {
        let (off, lim, f) = (offset.to_string(), limit.to_string(), filter(from));
        let url = url_at(
            &self.api.base,
            &["alerts", "queries", "alerts", "v2"],
            &[
                ("filter", &f),
                ("sort", SORT),
                ("limit", &lim),
                ("offset", &off),
            ],
        );
        let (answer, _) = self
            .api
            .json(Method::GET, url, Body::Empty, &[])
            .await
            .map_err(|f| self.api.error(f))?;
        let Some(ids) = answer["resources"].as_array() else {
            return Err(self.shape("the alerts query answer has no 'resources'"));
        };
        let ids: Vec<String> = ids
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let total = answer["meta"]["pagination"]["total"]
            .as_u64()
            .unwrap_or(offset + ids.len() as u64);
        Ok((self.entities(&ids).await?, total))
    }

    async fn combined(
        &self,
        from: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<(Vec<Value>, Option<String>), SourceError> {
        let url = url_at(&self.api.base, &["alerts", "combined", "alerts", "v1"], &[]);
        let mut body = json!({"filter": filter(from), "sort": SORT, "limit": limit});
        if let Some(a) = after {
            body["after"] = json!(a);
        }
        let (mut answer, _) = self
            .api
            .json(Method::POST, url, Body::Json(&body), &[])
            .await
            .map_err(|f| self.api.error(f))?;
        let after = text(&answer["meta"]["pagination"], "after").map(str::to_string);
        match answer.get_mut("resources").map(Value::take) {
            Some(Value::Array(l)) => Ok((l, after)),
            _ => Err(self.shape("the combined alerts answer has no 'resources'")),
        }
    }

    fn finish(
        &self,
        req: &PageRequest<'_>,
        triage: crate::cursor::Triage<'_>,
        next: Option<Next>,
    ) -> Page {
        let mapped = triage
            .todo
            .iter()
            .map(|a| {
                mapping::incident(a).map_err(|errors| RejectedItem {
                    external_id: text(a, "composite_id").map(str::to_string),
                    errors,
                })
            })
            .collect();
        req.page(triage, mapped, next.as_ref().map(Continuation::of))
    }

    pub async fn write_back(&self, wb: &WriteBack) -> Result<WriteBackOutcome, SourceError> {
        let url = url_at(&self.api.base, &["alerts", "entities", "alerts", "v3"], &[]);
        let body = json!({
            "composite_ids": [wb.external_id],
            "action_parameters": mapping::action_parameters(&wb.change),
        });
        let (answer, _) = self
            .api
            .json(Method::PATCH, url, Body::Json(&body), &[])
            .await
            .map_err(|f| match f.status() {
                Some(404) => SourceError::NotFound {
                    service: SERVICE,
                    detail: format!("alert {} does not exist ({})", wb.external_id, f.what()),
                },
                _ => self.api.error(f),
            })?;
        if let Some(e) = answer["errors"].as_array().and_then(|a| a.first()) {
            return Err(SourceError::Rejected {
                service: SERVICE,
                status: None,
                detail: palisade_net::upstream::clip(&e.to_string()),
            });
        }
        if matches!(wb.change, Change::Comment { .. }) && wb.attempt > 1 {
            tracing::debug!("a retried Falcon comment is sent again (Falcon comments have no id)");
        }
        Ok(WriteBackOutcome::Applied { version: None })
    }
}

/// Whole seconds, `Z` (the FQL timestamp literal).
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
