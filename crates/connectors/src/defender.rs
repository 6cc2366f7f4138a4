//! Microsoft Defender XDR through Microsoft Graph (v1.0):
//! - pull: `GET /v1.0/security/incidents?$filter=lastUpdateDateTime ge {t}&$orderby=
//!   lastUpdateDateTime asc&$expand=alerts&$top={n}`, following `@odata.nextLink` (the alerts
//!   and their evidence come with each incident: no call per incident);
//! - write-back: `PATCH /v1.0/security/incidents/{id}` with `status`, `classification`,
//!   `determination` or `assignedTo`; comments: `POST /v1.0/security/incidents/{id}/comments`
//!   with `{"@odata.type": "microsoft.graph.security.alertComment", "comment"}`. A comment is
//!   not idempotent at Graph, so a retried one first looks for itself among the incident's
//!   comments. A closing comment (`classificationComment`, which Graph has no field for) is
//!   posted as a comment after the `PATCH`.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Method, Url};
use serde_json::{json, Value};

use crate::cursor::{Page, PageRequest, RejectedItem};
use crate::error::SourceError;
use crate::http::{url_with, Api, ConnectorOptions, Failure};
use crate::mapping::defender as map;
use crate::settings::{Credentials, DefenderSettings};
use crate::writeback::{Change, WriteBack, WriteBackOutcome};

pub(crate) const GRAPH: &str = "Microsoft Graph";
const FIELD: &str = "lastUpdateDateTime";
/// How long before the change a comment found on a retry may have been created.
const COMMENT_CLOCK_SKEW_SECS: i64 = 300;

pub(crate) struct DefenderSource {
    api: Api,
    settings: DefenderSettings,
    incidents: Url,
}

impl DefenderSource {
    pub fn new(
        settings: &DefenderSettings,
        credentials: &Credentials,
        opts: &ConnectorOptions,
    ) -> Result<DefenderSource, SourceError> {
        let graph = settings
            .app
            .cloud
            .graph()
            .unwrap_or("https://graph.microsoft.com");
        let api = crate::microsoft::api(
            GRAPH,
            &settings.app,
            graph,
            settings.base_url.as_ref(),
            credentials,
            opts,
        )?;
        let incidents = url_with(&api.base, &["v1.0", "security", "incidents"], &[]);
        Ok(DefenderSource {
            api,
            settings: settings.clone(),
            incidents,
        })
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    fn list_error(&self, f: Failure) -> SourceError {
        f.explained(GRAPH, &[(403, "grant the app registration the SecurityIncident.Read.All application permission, and SecurityIncident.ReadWrite.All for write-back")])
    }

    fn list_url(&self, from: DateTime<Utc>, top: u32) -> Url {
        let mut url = self.incidents.clone();
        url.query_pairs_mut()
            .append_pair(
                "$filter",
                &format!(
                    "{FIELD} ge {}",
                    from.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
            )
            .append_pair("$orderby", &format!("{FIELD} asc"))
            .append_pair("$expand", "alerts")
            .append_pair("$top", &top.to_string());
        url
    }

    pub async fn check(&self) -> Result<(), SourceError> {
        let mut url = self.incidents.clone();
        url.query_pairs_mut().append_pair("$top", "1");
        self.api.probe(url).await.map_err(|f| self.list_error(f))
    }

    pub async fn pull(&self, req: &PageRequest<'_>) -> Result<Page, SourceError> {
        let (list, next) = self
            .api
            .list(req, "@odata.nextLink", |from| {
                self.list_url(from, self.settings.page_size)
            })
            .await
            .map_err(|f| self.list_error(f))?;
        let triage = req.cursor.triage(&list, "id", "/lastUpdateDateTime");
        let mapped = triage
            .todo
            .iter()
            .map(|item| {
                map::incident(item).map_err(|errors| RejectedItem {
                    external_id: crate::mapping::text_or_number(item, "id"),
                    errors,
                })
            })
            .collect();
        Ok(req.page(triage, mapped, next))
    }

    fn not_found(&self, id: &str, f: Failure) -> SourceError {
        match f.status() {
            Some(404) => SourceError::NotFound {
                service: GRAPH,
                detail: format!("incident {id} does not exist ({})", f.what()),
            },
            _ => self.list_error(f),
        }
    }

    pub async fn write_back(&self, wb: &WriteBack) -> Result<WriteBackOutcome, SourceError> {
        let id = wb.external_id.as_str();
        let url = url_with(&self.incidents, &[id], &[]);
        match &wb.change {
            Change::Comment { text, .. } => self.comment(wb, text).await,
            change => {
                let body = map::patch_body(change).unwrap_or(Value::Null);
                let done = self
                    .api
                    .call(Method::PATCH, url, Some(&body))
                    .await
                    .map_err(|f| self.not_found(id, f))?;
                if let Change::Status {
                    classification_comment: Some(c),
                    ..
                } = change
                {
                    self.comment(wb, c).await?;
                }
                let version = done[FIELD]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc));
                Ok(WriteBackOutcome::Applied { version })
            }
        }
    }

    async fn comment(&self, wb: &WriteBack, text: &str) -> Result<WriteBackOutcome, SourceError> {
        let id = wb.external_id.as_str();
        if wb.attempt > 1 {
            // An earlier attempt may have reached Graph and lost its answer.
            let current = self
                .api
                .call(Method::GET, url_with(&self.incidents, &[id], &[]), None)
                .await
                .map_err(|f| self.not_found(id, f))?;
            let since = wb.made_at - chrono::Duration::seconds(COMMENT_CLOCK_SKEW_SECS);
            let there = current["comments"].as_array().is_some_and(|list| {
                list.iter().any(|c| {
                    c["comment"].as_str() == Some(text)
                        && c["createdDateTime"]
                            .as_str()
                            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                            .is_some_and(|t| t.with_timezone(&Utc) >= since)
                })
            });
            if there {
                return Ok(WriteBackOutcome::AlreadyApplied);
            }
        }
        let body = json!({"@odata.type": "microsoft.graph.security.alertComment", "comment": text});
        self.api
            .call(
                Method::POST,
                url_with(&self.incidents, &[id, "comments"], &[]),
                Some(&body),
            )
            .await
            .map_err(|f| self.not_found(id, f))?;
        Ok(WriteBackOutcome::Applied { version: None })
    }
}
