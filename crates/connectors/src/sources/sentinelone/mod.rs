//! SentinelOne (Management API v2.1, `Authorization: ApiToken <token>`):
//! - pull: `GET /web/api/v2.1/threats?updatedAt__gte={t}&sortBy=updatedAt&sortOrder=asc&
//!   limit={n}`, then the same with `cursor={pagination.nextCursor}` until it is null;
//! - write-back: `POST /web/api/v2.1/threats/incident` `{filter: {ids}, data: {incidentStatus}}`,
//!   `POST …/threats/analyst-verdict` `{filter, data: {analystVerdict}}`, notes `POST
//!   …/threats/notes` `{filter, data: {text}}` (a retried note first looks for itself in `GET
//!   …/threats/{id}/notes`). Threats have no assignee: an assignment is written as a note.

pub mod mapping;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Method, Url};
use serde_json::{json, Value};

use super::api::{url_at, Auth, Body, VendorApi};
use crate::cursor::{Continuation, Page, PageRequest, RejectedItem};
use crate::error::SourceError;
use crate::http::ConnectorOptions;
use crate::mapping::{text, text_or_number};
use crate::settings::{Credentials, SentinelOneSettings};
use crate::writeback::{Change, WriteBack, WriteBackOutcome};

pub(crate) const SERVICE: &str = "SentinelOne";
const COMMENT_CLOCK_SKEW_SECS: i64 = 300;

pub(crate) struct SentinelOneSource {
    pub(crate) api: VendorApi,
    settings: SentinelOneSettings,
}

impl SentinelOneSource {
    pub fn new(
        settings: &SentinelOneSettings,
        credentials: &Credentials,
        opts: &ConnectorOptions,
    ) -> Result<Self, SourceError> {
        let auth = Auth::header("authorization", "ApiToken ", credentials);
        let api = VendorApi::new(SERVICE, settings.base_url.clone(), auth, credentials, opts)?
            .with_auth_hints(&[
                (401, "the API token is invalid or expired"),
                (403, "the token's user needs the Threats view permission, and Threats edit for write-back"),
            ]);
        Ok(SentinelOneSource {
            api,
            settings: settings.clone(),
        })
    }

    fn url(&self, path: &[&str], query: &[(&str, &str)]) -> Url {
        let mut segs = vec!["web", "api", "v2.1"];
        segs.extend_from_slice(path);
        url_at(&self.api.base, &segs, query)
    }

    pub async fn check(&self) -> Result<(), SourceError> {
        let url = self.url(&["threats"], &[("limit", "1")]);
        self.api
            .probe(url, &[])
            .await
            .map_err(|f| self.api.error(f))
    }

    pub async fn pull(&self, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        let url = match req.continuation {
            Some(c) => self.api.next_url(&c.next)?,
            None => {
                let from = req.from().to_rfc3339_opts(SecondsFormat::Micros, true);
                let limit = self.settings.page_size.to_string();
                self.url(
                    &["threats"],
                    &[
                        ("updatedAt__gte", &from),
                        ("sortBy", "updatedAt"),
                        ("sortOrder", "asc"),
                        ("limit", &limit),
                    ],
                )
            }
        };
        let (mut body, _) = self
            .api
            .json(Method::GET, url.clone(), Body::Empty, &[])
            .await
            .map_err(|f| self.api.error(f))?;
        let Some(Value::Array(list)) = body.get_mut("data").map(Value::take) else {
            return Err(SourceError::Rejected {
                service: SERVICE,
                status: None,
                detail: "the threats list has no 'data' array".into(),
            });
        };
        let next = text(&body["pagination"], "nextCursor").map(|c| {
            let mut u = url.clone();
            let kept: Vec<(String, String)> = u
                .query_pairs()
                .filter(|(k, _)| k != "cursor")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            u.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("cursor", c);
            Continuation::new(u.as_str())
        });
        let triage = req.cursor.triage(&list, "id", "/threatInfo/updatedAt");
        let mapped = triage
            .todo
            .iter()
            .map(|item| {
                mapping::incident(item).map_err(|errors| RejectedItem {
                    external_id: text_or_number(item, "id"),
                    errors,
                })
            })
            .collect();
        Ok(req.page(triage, mapped, next))
    }

    async fn post(&self, id: &str, path: &str, data: Value) -> Result<u64, SourceError> {
        let body = json!({"filter": mapping::filter(id), "data": data});
        let (answer, _) = self
            .api
            .json(
                Method::POST,
                self.url(&["threats", path], &[]),
                Body::Json(&body),
                &[],
            )
            .await
            .map_err(|f| self.api.error(f))?;
        let affected = answer["data"]["affected"].as_u64().unwrap_or(0);
        if affected == 0 {
            return Err(SourceError::NotFound {
                service: SERVICE,
                detail: format!("threat {id} does not exist (no threat was affected)"),
            });
        }
        Ok(affected)
    }

    pub async fn write_back(&self, wb: &WriteBack) -> Result<WriteBackOutcome, SourceError> {
        let id = wb.external_id.as_str();
        match &wb.change {
            Change::Status {
                status,
                classification_comment,
                ..
            } => {
                self.post(
                    id,
                    "incident",
                    json!({"incidentStatus": mapping::status_to(*status)}),
                )
                .await?;
                let verdict = match wb.change.verdict() {
                    Some(v) => mapping::verdict_to(v.classification),
                    None => "undefined",
                };
                self.post(id, "analyst-verdict", json!({"analystVerdict": verdict}))
                    .await?;
                if let Some(c) = classification_comment {
                    self.note(wb, c).await?;
                }
                Ok(WriteBackOutcome::Applied { version: None })
            }
            Change::Assign { owner } => {
                let who = owner.as_ref().and_then(|o| {
                    o.email
                        .as_deref()
                        .or(o.display_name.as_deref())
                        .or(o.user_id.as_deref())
                });
                let text = match who {
                    Some(w) => format!("Assigned in Palisade to {w}."),
                    None => "Unassigned in Palisade.".to_string(),
                };
                self.note(wb, &text).await
            }
            Change::Comment { text, .. } => self.note(wb, text).await,
        }
    }

    async fn note(&self, wb: &WriteBack, text: &str) -> Result<WriteBackOutcome, SourceError> {
        let id = wb.external_id.as_str();
        if wb.attempt > 1 {
            let (notes, _) = self
                .api
                .json(
                    Method::GET,
                    self.url(&["threats", id, "notes"], &[("limit", "1000")]),
                    Body::Empty,
                    &[],
                )
                .await
                .map_err(|f| self.api.error(f))?;
            let since = wb.made_at - chrono::Duration::seconds(COMMENT_CLOCK_SKEW_SECS);
            let there = notes["data"].as_array().is_some_and(|list| {
                list.iter().any(|n| {
                    n["text"].as_str() == Some(text)
                        && n["createdAt"]
                            .as_str()
                            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                            .is_some_and(|t| t.with_timezone(&Utc) >= since)
                })
            });
            if there {
                return Ok(WriteBackOutcome::AlreadyApplied);
            }
        }
        self.post(id, "notes", json!({"text": text})).await?;
        Ok(WriteBackOutcome::Applied { version: None })
    }
}
