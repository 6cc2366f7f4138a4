//! Microsoft Sentinel through Azure Resource Manager (api-version 2024-03-01):
//! - pull: `GET …/incidents?$filter=properties/lastModifiedTimeUtc ge {t}&$orderby=
//!   properties/lastModifiedTimeUtc asc&$top={n}`, following `nextLink`; then per incident
//!   `POST …/incidents/{id}/entities` and `POST …/incidents/{id}/alerts`, both at once (the
//!   alerts call skipped when the incident counts no alerts, the entities call when it counts
//!   no alerts and no bookmarks, which are where entities come from);
//! - write-back: `GET` the incident, apply the change to its writable properties, `PUT` them
//!   with the `etag` read; on 409/412 (changed meanwhile) read and apply again, a bounded number
//!   of times; comments: `PUT …/incidents/{id}/comments/{commentId}` with
//!   `{properties: {message}}`, the comment id derived from Palisade's (idempotent).

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Method, Url};
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::cursor::{Page, PageRequest, RejectedItem};
use crate::error::SourceError;
use crate::http::{url_with, Api, ConnectorOptions, Failure};
use crate::mapping::sentinel as map;
use crate::settings::{Credentials, SentinelSettings};
use crate::writeback::{Change, WriteBack, WriteBackOutcome};

pub(crate) const ARM: &str = "Azure Resource Manager";
pub const API_VERSION: &str = "2024-03-01";
const FIELD: &str = "properties/lastModifiedTimeUtc";

/// The properties a `PUT` carries back (everything else is read-only).
const WRITABLE: [&str; 11] = [
    "title",
    "description",
    "severity",
    "status",
    "classification",
    "classificationReason",
    "classificationComment",
    "owner",
    "labels",
    "firstActivityTimeUtc",
    "lastActivityTimeUtc",
];

pub(crate) struct SentinelSource {
    api: Arc<Api>,
    settings: SentinelSettings,
    incidents: Url,
    concurrency: usize,
    max_write_attempts: u32,
}

impl SentinelSource {
    pub fn new(
        settings: &SentinelSettings,
        credentials: &Credentials,
        opts: &ConnectorOptions,
    ) -> Result<SentinelSource, SourceError> {
        let api = crate::microsoft::api(
            ARM,
            &settings.app,
            settings.app.cloud.resource_manager(),
            settings.base_url.as_ref(),
            credentials,
            opts,
        )?;
        let sub = settings.subscription_id.to_string();
        let incidents = url_with(
            &api.base,
            &[
                "subscriptions",
                &sub,
                "resourceGroups",
                &settings.resource_group,
                "providers",
                "Microsoft.OperationalInsights",
                "workspaces",
                &settings.workspace_name,
                "providers",
                "Microsoft.SecurityInsights",
                "incidents",
            ],
            &[],
        );
        Ok(SentinelSource {
            api: Arc::new(api),
            settings: settings.clone(),
            incidents,
            concurrency: opts.enrich_concurrency.max(1),
            max_write_attempts: opts.max_write_attempts.max(1),
        })
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    fn incident_url(&self, id: &str, tail: &[&str]) -> Url {
        let mut segs = vec![id];
        segs.extend_from_slice(tail);
        url_with(&self.incidents, &segs, &[("api-version", API_VERSION)])
    }

    /// A 404 from the list names the setting that points nowhere.
    fn list_error(&self, f: Failure) -> SourceError {
        if f.status() != Some(404) {
            return f.into_error(ARM);
        }
        let what = f.what();
        let (field, noun) = match f.code() {
            "SubscriptionNotFound" => (
                "settings.subscriptionId",
                "a subscription the app registration can see",
            ),
            "ResourceGroupNotFound" => (
                "settings.resourceGroup",
                "a resource group of the subscription",
            ),
            _ => (
                "settings.workspaceName",
                "a Log Analytics workspace with Microsoft Sentinel",
            ),
        };
        SourceError::Settings {
            field: field.into(),
            detail: format!("names no {noun} ({what})."),
        }
    }

    fn list_url(&self, from: DateTime<Utc>, top: u32) -> Url {
        let filter = format!(
            "{FIELD} ge {}",
            from.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        let mut url = self.incidents.clone();
        url.query_pairs_mut()
            .append_pair("api-version", API_VERSION)
            .append_pair("$filter", &filter)
            .append_pair("$orderby", &format!("{FIELD} asc"))
            .append_pair("$top", &top.to_string());
        url
    }

    /// Reads the workspace's incidents list with `$top=1`: the credentials, permissions and
    /// settings work.
    pub async fn check(&self) -> Result<(), SourceError> {
        let url = self.list_url(Utc::now(), 1);
        self.api.probe(url).await.map_err(|f| self.list_error(f))
    }

    pub async fn pull(&self, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        let (list, next) = self
            .api
            .list(req, "nextLink", |from| {
                self.list_url(from, self.settings.page_size)
            })
            .await
            .map_err(|f| self.list_error(f))?;
        let triage = req
            .cursor
            .triage(&list, "name", "/properties/lastModifiedTimeUtc");
        let todo: Vec<Value> = triage.todo.iter().map(|v| (*v).clone()).collect();
        let mapped = self
            .enrich(todo)
            .await?
            .into_iter()
            .map(|(item, entities, alerts)| {
                map::incident(&item, entities.as_ref(), alerts.as_ref()).map_err(|errors| {
                    RejectedItem {
                        external_id: item["name"].as_str().map(str::to_string),
                        errors,
                    }
                })
            })
            .collect();
        Ok(req.page(triage, mapped, next))
    }

    /// Entities and alerts of each incident, a bounded number of calls at a time.
    async fn enrich(
        &self,
        items: Vec<Value>,
    ) -> Result<Vec<(Value, Option<Value>, Option<Value>)>, SourceError> {
        let gate = Arc::new(Semaphore::new(self.concurrency));
        let mut set = JoinSet::new();
        for (i, item) in items.into_iter().enumerate() {
            let extra = &item["properties"]["additionalData"];
            let none = |k: &str| extra[k].as_u64() == Some(0);
            let (no_alerts, no_bookmarks) = (none("alertsCount"), none("bookmarksCount"));
            let Some(id) = item["name"].as_str().map(str::to_string) else {
                set.spawn(async move { Ok((i, item, None, None)) });
                continue;
            };
            // Entities come from alerts and bookmarks: none of either, no entities call; no
            // alerts, no alerts call.
            let eu = (!(no_alerts && no_bookmarks)).then(|| self.incident_url(&id, &["entities"]));
            let au = (!no_alerts).then(|| self.incident_url(&id, &["alerts"]));
            let (api, gate) = (self.api.clone(), gate.clone());
            set.spawn(async move {
                let _permit = gate.acquire_owned().await;
                // The two calls of one incident go out together.
                let (entities, alerts) = tokio::try_join!(related(&api, eu), related(&api, au))?;
                Ok::<_, SourceError>((i, item, entities, alerts))
            });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            let r = r.map_err(|_| SourceError::Unavailable {
                service: ARM,
                detail: "a task reading entities failed".into(),
                retry_after: None,
            })??;
            out.push(r);
        }
        out.sort_by_key(|(i, ..)| *i);
        Ok(out.into_iter().map(|(_, a, b, c)| (a, b, c)).collect())
    }

    pub async fn write_back(&self, wb: &WriteBack) -> Result<WriteBackOutcome, SourceError> {
        let not_found = |f: Failure| match f.status() {
            Some(404) => SourceError::NotFound {
                service: ARM,
                detail: format!(
                    "incident {} is not in the workspace ({})",
                    wb.external_id,
                    f.what()
                ),
            },
            _ => f.into_error(ARM),
        };
        if let Change::Comment { id, text } = &wb.change {
            let cid = comment_id(id);
            let url = self.incident_url(&wb.external_id, &["comments", &cid]);
            let body = json!({"properties": {"message": text}});
            self.api
                .call(Method::PUT, url, Some(&body))
                .await
                .map_err(not_found)?;
            return Ok(WriteBackOutcome::Applied { version: None });
        }
        let url = self.incident_url(&wb.external_id, &[]);
        let mut last = None;
        for attempt in 1..=self.max_write_attempts {
            let current = self
                .api
                .call(Method::GET, url.clone(), None)
                .await
                .map_err(not_found)?;
            let Some(props) = current["properties"].as_object() else {
                return Err(SourceError::Rejected {
                    service: ARM,
                    status: None,
                    detail: "the incident has no properties".into(),
                });
            };
            let mut writable: Map<String, Value> = WRITABLE
                .iter()
                .filter_map(|k| props.get(*k).map(|v| (k.to_string(), v.clone())))
                .collect();
            let before = writable.clone();
            map::apply(&mut writable, &wb.change);
            if writable == before {
                return Ok(WriteBackOutcome::AlreadyApplied);
            }
            let body = json!({"etag": current["etag"], "properties": writable});
            match self.api.call(Method::PUT, url.clone(), Some(&body)).await {
                Ok(done) => {
                    let version = done["properties"]["lastModifiedTimeUtc"]
                        .as_str()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| t.with_timezone(&Utc));
                    return Ok(WriteBackOutcome::Applied { version });
                }
                Err(f) if matches!(f.status(), Some(409 | 412)) => {
                    tracing::debug!(attempt, incident = %wb.external_id, "sentinel incident changed meanwhile; applying again");
                    last = Some(f.what());
                }
                Err(f) => return Err(not_found(f)),
            }
        }
        Err(SourceError::Conflict {
            service: ARM,
            detail: format!(
                "incident {} kept changing; the write was applied {} times and lost each time ({})",
                wb.external_id,
                self.max_write_attempts,
                last.unwrap_or_default()
            ),
        })
    }
}

/// The answer of an entities/alerts call; `None` when the call is not needed (no URL) or the
/// incident is gone meanwhile.
async fn related(api: &Api, url: Option<Url>) -> Result<Option<Value>, SourceError> {
    let Some(url) = url else {
        return Ok(None);
    };
    match api.call(Method::POST, url, None).await {
        Ok(v) => Ok(Some(v)),
        Err(f) if f.status() == Some(404) => Ok(None),
        Err(f) => Err(f.into_error(ARM)),
    }
}

/// The comment resource's name: Palisade's comment id when it is a GUID, else a GUID derived
/// from it (the same every time, so a retried write replaces instead of adding).
pub fn comment_id(palisade_id: &str) -> String {
    if let Ok(u) = uuid::Uuid::parse_str(palisade_id) {
        return u.to_string();
    }
    let a = crate::mapping::short_hash(palisade_id);
    let b = crate::mapping::short_hash(&format!("palisade-comment:{palisade_id}"));
    let mut bytes = [0u8; 16];
    for (i, pair) in format!("{a}{b}").as_bytes().chunks(2).enumerate().take(16) {
        bytes[i] = u8::from_str_radix(std::str::from_utf8(pair).unwrap_or("00"), 16).unwrap_or(0);
    }
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_ids_are_stable_guids() {
        let g = "4bb36b7b-26ff-4d1c-9cbe-0d8ab3da0014";
        assert_eq!(comment_id(g), g);
        let a = comment_id("cmt-42");
        assert_eq!(a, comment_id("cmt-42"));
        assert_ne!(a, comment_id("cmt-43"));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}
