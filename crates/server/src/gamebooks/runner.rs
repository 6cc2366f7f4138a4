//! Gamebook runs on the job runtime (`crates/jobs`, docs/jobs.md): the trigger loop that
//! turns `incident.created` outbox events into runs of the matching auto-run rules, and the
//! [`palisade_store::RUN_KIND`] kind whose jobs (one per due run, keyed by workspace) are
//! worked by [`Runner`], step by step in sequence, committing each. Every replica runs them;
//! they coordinate only through the database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_domain::incident::IncidentDoc;
use palisade_domain::time::to_micros;
use palisade_domain::{Error, Result};
use palisade_jobs::{Backoff, Handler, Job, Jobs, Kind, Outcome};
use palisade_store::{
    IncidentRow, NewComment, NewRun, StepAttempt, StepRecorded, StepResult, StepRow, Store,
    WorkItem, RUN_KIND,
};
use palisade_types::gamebooks::{ActionType, PlaybookAction};
use palisade_types::incidents::{
    Classification, ClassificationReason, IncidentStatus, Owner, Severity,
};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{applicable, plan_steps, Escape, TemplateContext};
use crate::config::GamebooksConfig;
use crate::service::cache::IncidentCache;
use crate::webhooks::ssrf;

/// How long the trigger lets commits gather after being woken (adds at most this much to the
/// start of an auto-run).
const TRIGGER_COALESCE: Duration = Duration::from_millis(50);
const TRIGGER_BATCH: i64 = 200;
const SNIPPET_BYTES: usize = 512;

/// What the runner did with one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Worked {
    /// Finished with this status.
    Finished(&'static str),
    Waiting,
    Lost,
}

/// Registers gamebook runs on `jobs`: the run kind and the trigger.
pub fn register(
    jobs: &Jobs,
    config: GamebooksConfig,
    guard: ssrf::Guard,
    cache: Arc<IncidentCache>,
) {
    let store = jobs.store().clone();
    let poll = Duration::from_millis(config.poll_interval_ms);
    let lease = Duration::from_secs(config.lease_secs);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(config.http_timeout_secs))
        .connect_timeout(Duration::from_secs(config.http_timeout_secs.min(10)))
        .user_agent(concat!("Palisade-Gamebooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(ssrf::GuardedResolver(guard.clone())))
        .build()
        .expect("HTTP client builds");
    jobs.register(
        Kind {
            name: RUN_KIND,
            concurrency: config.max_concurrent_runs,
            per_key: config.max_concurrent_runs,
            // A run that fails to record (the database away) is resumed, as long as it takes.
            max_attempts: 1_000,
            backoff: Backoff::Exponential {
                first: Duration::from_secs(1),
                max: lease,
            },
            lease,
            poll,
        },
        Runner {
            store: store.clone(),
            config,
            client,
            guard,
            cache,
            owner: jobs.owner().to_string(),
            jobs: jobs.clone(),
        },
    );
    let (wake_store, handle) = (store.clone(), jobs.clone());
    jobs.register_loop(
        "gamebooks.trigger",
        poll,
        move || {
            let s = wake_store.clone();
            Box::pin(async move {
                s.gamebook_events_committed().await;
                // Let a burst of commits gather: one trigger transaction for many events
                // instead of one per ingest request, leaving the write lock (SQLite's single
                // writer) to the ingest and the webhook dispatcher.
                tokio::time::sleep(TRIGGER_COALESCE).await;
            })
        },
        move || {
            let (store, jobs) = (store.clone(), handle.clone());
            async move {
                let (seen, runs) = store
                    .system()
                    .trigger_gamebooks(TRIGGER_BATCH, plan_runs)
                    .await?;
                if runs > 0 {
                    jobs.wake(RUN_KIND);
                }
                Ok(seen > 0)
            }
        },
    );
}

/// The auto-runs an `incident.created` event starts.
fn plan_runs(
    e: &palisade_store::TriggerEvent,
    incident: &IncidentRow,
    rules: &[palisade_store::RuleRow],
    playbooks: &std::collections::HashMap<Uuid, palisade_store::PlaybookRow>,
) -> Vec<NewRun> {
    if e.workspace_id.is_none() {
        return Vec::new();
    }
    let doc = &incident.doc;
    applicable(rules, &doc.title, Some(doc.severity), Some(incident.source))
        .into_iter()
        .filter(|r| r.fields.is_auto_run)
        .filter_map(|r| {
            let steps = plan_steps(doc, &r.fields.playbook_ids, playbooks);
            (!steps.is_empty()).then(|| NewRun {
                source: incident.source,
                incident_id: incident.id.clone(),
                incident_number: incident.number,
                incident_title: doc.title.clone(),
                rule_id: Some(r.id),
                title: r.fields.title.clone(),
                is_auto_run: true,
                triggered_by: None,
                trigger_event_id: Some(e.id),
                steps,
            })
        })
        .collect()
}

/// Works gamebook runs: takes the run over, then its steps in sequence.
pub struct Runner {
    store: Store,
    config: GamebooksConfig,
    client: reqwest::Client,
    guard: ssrf::Guard,
    cache: Arc<IncidentCache>,
    /// This replica's lease owner name (the runtime's).
    owner: String,
    jobs: Jobs,
}

impl Handler for Runner {
    type Note = ();

    async fn run(&self, job: &Job) -> (Outcome, ()) {
        let Ok(id) = job.payload.parse::<Uuid>() else {
            let error = format!("unreadable run id '{}'", job.payload);
            return (Outcome::Fail { error }, ());
        };
        let worked = match self
            .store
            .system()
            .adopt_run(id, &self.owner, self.lease_until())
            .await
        {
            Ok(true) => self.work(id).await,
            Ok(false) => Ok(Worked::Lost),
            Err(e) => Err(e),
        };
        match worked {
            Ok(w) => {
                tracing::debug!(run = %id, outcome = ?w, "gamebook run worked");
                match w {
                    Worked::Finished(status) => self.jobs.count_outcome(RUN_KIND, status),
                    Worked::Waiting => self.jobs.count_outcome(RUN_KIND, "AwaitingApproval"),
                    Worked::Lost => {}
                }
                (Outcome::Done, ())
            }
            Err(e) => {
                // Resumed after the kind's backoff, from the first step not recorded.
                tracing::warn!(run = %id, error = %e, "gamebook run failed; it resumes");
                let error = e.to_string();
                (Outcome::Retry { after: None, error }, ())
            }
        }
    }
}

impl Runner {
    fn lease_until(&self) -> i64 {
        to_micros(chrono::Utc::now()) + (self.config.lease_secs as i64) * 1_000_000
    }

    /// Works a claimed run step by step until it finishes, waits for approval, or is lost.
    async fn work(&self, id: Uuid) -> Result<Worked> {
        let store = &self.store;
        let owner = &self.owner;
        loop {
            let Some(item) = store.system().run_for_work(id).await? else {
                return Ok(Worked::Lost);
            };
            let (run, steps) = (&item.run, &item.steps);
            if run.status != "Running" {
                return Ok(Worked::Lost);
            }
            let Some(step) = steps.iter().find(|s| {
                matches!(
                    s.status.as_str(),
                    "Pending" | "Running" | "AwaitingApproval"
                )
            }) else {
                let (status, summary) = outcome(steps);
                return Ok(
                    if store
                        .system()
                        .finish_run(&item, owner, status, &summary)
                        .await?
                    {
                        Worked::Finished(status)
                    } else {
                        Worked::Lost
                    },
                );
            };
            if step.is_admin_required && step.approved_by.is_none() {
                store
                    .system()
                    .await_approval(run.id, step.id, owner)
                    .await?;
                return Ok(Worked::Waiting);
            }
            // A step that leaves the database (an HTTP request) is marked Running first, so
            // its start is on record while it runs; one that only changes the database starts
            // and finishes in a single commit.
            let leaves_database = serde_json::from_str::<PlaybookAction>(&step.action)
                .ok()
                .and_then(|a| a.kind)
                .is_some_and(|k| k.eq_ignore_ascii_case("HttpRequest"));
            if leaves_database
                && !store
                    .system()
                    .start_step(run.id, step.id, owner, self.lease_until())
                    .await?
            {
                return Ok(Worked::Lost);
            }
            if self.execute(&item, step).await? == StepRecorded::Lost {
                return Ok(Worked::Lost);
            }
        }
    }

    async fn execute(&self, item: &WorkItem, step: &StepRow) -> Result<StepRecorded> {
        let store = &self.store;
        let owner = &self.owner;
        let (run, key) = (&item.run, &item.incident);
        let (org, source) = (key.workspace.org(), key.source);
        let action: PlaybookAction = serde_json::from_str(&step.action).unwrap_or_default();
        let params: Map<String, Value> = serde_json::from_str(&step.parameters).unwrap_or_default();
        let kind = action.kind.as_deref().and_then(ActionType::parse);
        let author = format!("Gamebook: {}", run.title);
        let fail = |msg: String| StepResult {
            status: "Failed",
            error_message: Some(msg),
            output: None,
        };
        let ctx = |row: &IncidentRow| {
            TemplateContext::new(
                run.id,
                run.workspace_id,
                source,
                &run.incident_id,
                row.number,
                &row.doc,
                step.entity_id.as_deref(),
                &params,
            )
        };
        let started = Instant::now();
        let at = StepAttempt {
            step: step.id,
            owner,
            lease_until: self.lease_until(),
            started_at: to_micros(chrono::Utc::now()),
        };
        // Records a step that changed nothing in Palisade.
        let finish =
            async |result: StepResult| store.system().finish_step(run.id, &at, &result).await;
        let recorded = match kind {
            None => finish(fail("The playbook's action type is unknown.".into())).await?,
            Some(ActionType::HttpRequest) => {
                let result = match store.tenant(&org).get_incident(key).await? {
                    None => fail(format!("Incident '{}' no longer exists.", run.incident_id)),
                    Some(row) => self.http(&action, &ctx(&row)).await,
                };
                finish(result).await?
            }
            Some(ActionType::LinkTicket) => {
                let ticket = action.ticket_id.clone().unwrap_or_default();
                let rendered = match store.tenant(&org).get_incident(key).await? {
                    Some(row) => ctx(&row).render(&ticket, Escape::None),
                    None => ticket,
                };
                store
                    .system()
                    .finish_step_link_ticket(item, &at, &rendered, &author)
                    .await?
            }
            Some(kind) => {
                let (recorded, _, _) = store
                    .system()
                    .finish_step_with_change(item, &at, |row| {
                        apply(kind, &action, row, &ctx(row), &author)
                    })
                    .await?;
                recorded
            }
        };
        tracing::debug!(run = %run.id, step = %step.id, ms = started.elapsed().as_millis() as u64, "playbook step done");
        if matches!(recorded, StepRecorded::Done { .. }) {
            self.cache.forget(key);
        }
        Ok(recorded)
    }

    /// The `HttpRequest` action: templated, sent through the SSRF-guarded client.
    async fn http(&self, action: &PlaybookAction, ctx: &TemplateContext) -> StepResult {
        let fail = |msg: String| StepResult {
            status: "Failed",
            error_message: Some(msg),
            output: None,
        };
        let url = ctx.render(action.url.as_deref().unwrap_or_default(), Escape::Url);
        let parsed = match self.guard.check_form(&url) {
            Ok(u) => u,
            Err(e) => return fail(format!("The URL {e}.")),
        };
        if let Err(e) = self.guard.check_literal_host(&parsed) {
            return fail(format!("Refused by the SSRF guard: {e}."));
        }
        let method =
            reqwest::Method::from_bytes(action.method.as_deref().unwrap_or("POST").as_bytes())
                .unwrap_or(reqwest::Method::POST);
        let mut req = self.client.request(method, parsed);
        if let Some(body) = &action.body {
            let json_body = matches!(body.trim_start().chars().next(), Some('{') | Some('['));
            let escape = if json_body {
                Escape::Json
            } else {
                Escape::None
            };
            let content_type = if json_body {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            req = req
                .header("content-type", content_type)
                .body(ctx.render(body, escape));
        }
        for (k, v) in action.headers.iter().flatten() {
            req = req.header(k.as_str(), ctx.render(v, Escape::None));
        }
        let started = Instant::now();
        match req.send().await {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let mut snippet = Vec::new();
                while snippet.len() < SNIPPET_BYTES {
                    match resp.chunk().await {
                        Ok(Some(c)) => snippet.extend_from_slice(&c),
                        _ => break,
                    }
                }
                snippet.truncate(SNIPPET_BYTES);
                let output = json!({
                    "httpStatus": status,
                    "latencyMs": started.elapsed().as_millis() as u64,
                    "responseSnippet": String::from_utf8_lossy(&snippet),
                });
                if (200..300).contains(&status) {
                    StepResult {
                        status: "Succeeded",
                        error_message: None,
                        output: Some(output),
                    }
                } else {
                    StepResult {
                        status: "Failed",
                        error_message: Some(format!("The target answered HTTP {status}.")),
                        output: Some(output),
                    }
                }
            }
            Err(e) => fail(palisade_net::upstream::describe_request_error(&e, "target")),
        }
    }
}

fn activity(author: &str, message: String, closing: bool) -> NewComment {
    NewComment {
        message,
        author_name: Some(author.to_string()),
        author_email: None,
        is_activity: true,
        is_closing: closing,
        ticket_id: None,
    }
}

/// The incident change of an incident-changing action.
fn apply(
    kind: ActionType,
    a: &PlaybookAction,
    row: &IncidentRow,
    ctx: &TemplateContext,
    author: &str,
) -> Result<(IncidentDoc, Vec<NewComment>)> {
    let mut doc = row.doc.clone();
    let mut comments = Vec::new();
    let bad = |what: &str| Error::BadRequest(format!("The playbook's {what} is not valid."));
    match kind {
        ActionType::AddComment => {
            let text = ctx.render(a.message.as_deref().unwrap_or_default(), Escape::None);
            if text.trim().is_empty() {
                return Err(Error::BadRequest("The comment rendered empty.".into()));
            }
            comments.push(NewComment {
                message: text,
                author_name: Some(author.to_string()),
                author_email: None,
                is_activity: false,
                is_closing: false,
                ticket_id: None,
            });
        }
        ActionType::SetSeverity => {
            let s = a
                .severity
                .as_deref()
                .and_then(Severity::parse)
                .ok_or_else(|| bad("severity"))?;
            let old = doc.severity;
            doc.severity = s;
            if old != s {
                comments.push(activity(
                    author,
                    format!("Severity changed from {} to {}.", old.as_str(), s.as_str()),
                    false,
                ));
            }
        }
        ActionType::SetStatus => {
            let s = a
                .status
                .as_deref()
                .and_then(IncidentStatus::parse)
                .ok_or_else(|| bad("status"))?;
            let old = doc.status;
            doc.status = s;
            if s == IncidentStatus::Closed {
                doc.classification = a.classification.as_deref().and_then(Classification::parse);
                doc.classification_reason = a
                    .classification_reason
                    .as_deref()
                    .and_then(ClassificationReason::parse);
            } else if old == IncidentStatus::Closed {
                doc.classification = None;
                doc.classification_reason = None;
                doc.classification_comment = None;
            }
            if doc != row.doc {
                comments.push(activity(
                    author,
                    format!("Status changed from {} to {}.", old.as_str(), s.as_str()),
                    s == IncidentStatus::Closed,
                ));
            }
        }
        ActionType::Assign => {
            let owner = Owner {
                user_id: a.user_id.as_ref().map(|s| ctx.render(s, Escape::None)),
                email: a.email.as_ref().map(|s| ctx.render(s, Escape::None)),
                display_name: a.display_name.as_ref().map(|s| ctx.render(s, Escape::None)),
            };
            let shown = owner
                .display_name
                .clone()
                .or(owner.email.clone())
                .or(owner.user_id.clone())
                .unwrap_or_default();
            if doc.owner.as_ref() != Some(&owner) {
                doc.owner = Some(owner);
                comments.push(activity(author, format!("Assigned to {shown}."), false));
            }
        }
        ActionType::AddLabel => {
            let label = ctx.render(a.label.as_deref().unwrap_or_default(), Escape::None);
            let label = label.trim().to_string();
            if label.is_empty() {
                return Err(Error::BadRequest("The label rendered empty.".into()));
            }
            if !doc.labels.iter().any(|l| l.eq_ignore_ascii_case(&label)) {
                comments.push(activity(author, format!("Label '{label}' added."), false));
                doc.labels.push(label);
            }
        }
        ActionType::HttpRequest | ActionType::LinkTicket => {
            return Err(Error::Internal("not an incident change".into()))
        }
    }
    Ok((doc, comments))
}

/// The final status and summary of a run from its steps.
pub fn outcome(steps: &[StepRow]) -> (&'static str, String) {
    let count = |s: &str| steps.iter().filter(|x| x.status == s).count();
    let (ok, failed, skipped) = (count("Succeeded"), count("Failed"), count("Skipped"));
    let status = if failed == 0 {
        "Succeeded"
    } else if ok == 0 {
        "Failed"
    } else {
        "PartiallySucceeded"
    };
    (
        status,
        format!(
            "{ok} of {} playbooks succeeded, {failed} failed, {skipped} skipped.",
            steps.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(status: &str) -> StepRow {
        StepRow {
            id: Uuid::nil(),
            run_id: Uuid::nil(),
            sequence: 1,
            playbook_id: Uuid::nil(),
            name: "p".into(),
            description: None,
            entity_type: "Incident".into(),
            entity_id: None,
            affected_entity: None,
            is_admin_required: false,
            parameters: "{}".into(),
            action: "{}".into(),
            status: status.into(),
            approved_by: None,
            error_message: None,
            output: None,
            started_at: None,
            finished_at: None,
            modified_at: 0,
        }
    }

    #[test]
    fn a_run_ends_by_what_its_steps_did() {
        let run = |s: &[&str]| outcome(&s.iter().map(|s| step(s)).collect::<Vec<_>>()).0;
        assert_eq!(run(&["Succeeded", "Skipped"]), "Succeeded");
        assert_eq!(run(&["Skipped"]), "Succeeded");
        assert_eq!(run(&["Succeeded", "Failed"]), "PartiallySucceeded");
        assert_eq!(run(&["Failed", "Skipped"]), "Failed");
        assert_eq!(
            outcome(&[step("Succeeded"), step("Failed"), step("Skipped")]).1,
            "1 of 3 playbooks succeeded, 1 failed, 1 skipped."
        );
    }
}
