//! The gamebook engine: a trigger that turns `incident.created` outbox events into runs of
//! the matching auto-run rules, and workers that claim runs with a lease and work their
//! steps in sequence, committing each. Every replica runs one; they coordinate only through
//! the database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_domain::incident::IncidentDoc;
use palisade_domain::time::to_micros;
use palisade_domain::{Error, Result};
use palisade_store::{
    IncidentRow, NewComment, NewRun, StepRecorded, StepResult, StepRow, Store, WorkItem,
};
use palisade_types::gamebooks::{ActionType, PlaybookAction};
use palisade_types::incidents::{
    Classification, ClassificationReason, IncidentStatus, Owner, Severity,
};
use serde_json::{json, Map, Value};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;
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

/// Shared handle: wake the workers after creating or approving runs.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: GamebooksConfig,
    client: reqwest::Client,
    guard: ssrf::Guard,
    cache: Arc<IncidentCache>,
    owner: String,
    runs: Notify,
}

/// The running engine's tasks; [`Running::stop`] lets in-flight steps finish.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// What the engine did with one run (tests and the benchmark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Worked {
    Finished,
    Waiting,
    Lost,
}

impl Engine {
    pub fn new(
        store: Store,
        config: GamebooksConfig,
        guard: ssrf::Guard,
        cache: Arc<IncidentCache>,
    ) -> Engine {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(config.http_timeout_secs))
            .connect_timeout(Duration::from_secs(config.http_timeout_secs.min(10)))
            .user_agent(concat!("Palisade-Gamebooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(ssrf::GuardedResolver(guard.clone())))
            .build()
            .expect("HTTP client builds");
        Engine {
            inner: Arc::new(Inner {
                store,
                config,
                client,
                guard,
                cache,
                owner: format!("gamebooks-{}", Uuid::new_v4()),
                runs: Notify::new(),
            }),
        }
    }

    /// Runs became due (created, approved).
    pub fn runs_queued(&self) {
        self.inner.runs.notify_one();
    }

    pub fn start(&self) -> Running {
        let (stop, stopped) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(self.clone().trigger_loop(stopped.clone())),
            tokio::spawn(self.clone().work_loop(stopped)),
        ];
        Running { stop, tasks }
    }

    fn poll(&self) -> Duration {
        Duration::from_millis(self.inner.config.poll_interval_ms)
    }

    fn lease_until(&self) -> i64 {
        to_micros(chrono::Utc::now()) + (self.inner.config.lease_secs as i64) * 1_000_000
    }

    async fn trigger_loop(self, mut stopped: watch::Receiver<bool>) {
        loop {
            if *stopped.borrow() {
                return;
            }
            match self
                .inner
                .store
                .system()
                .trigger_gamebooks(TRIGGER_BATCH, |e, incident, rules, playbooks| {
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
                })
                .await
            {
                Ok((seen, runs)) if seen > 0 => {
                    if runs > 0 {
                        self.inner.runs.notify_one();
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "gamebook trigger failed; retrying"),
            }
            tokio::select! {
                _ = self.inner.store.gamebook_events_committed() => {
                    // Let a burst of commits gather: one trigger transaction for many events
                    // instead of one per ingest request, leaving the write lock (SQLite's
                    // single writer) to the ingest and the webhook dispatcher.
                    tokio::time::sleep(TRIGGER_COALESCE).await;
                }
                _ = tokio::time::sleep(self.poll()) => {}
                _ = stopped.changed() => {}
            }
        }
    }

    async fn work_loop(self, mut stopped: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.inner.config.max_concurrent_runs));
        let mut running = JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            if *stopped.borrow() {
                break;
            }
            let free = slots.available_permits() as i64;
            let mut claimed = Vec::new();
            if free > 0 {
                let now = to_micros(chrono::Utc::now());
                match self
                    .inner
                    .store
                    .system()
                    .claim_runs(&self.inner.owner, now, self.lease_until(), free)
                    .await
                {
                    Ok(ids) => claimed = ids,
                    Err(e) => tracing::warn!(error = %e, "claiming gamebook runs failed"),
                }
            }
            if claimed.is_empty() {
                tokio::select! {
                    _ = self.inner.runs.notified() => {}
                    _ = tokio::time::sleep(self.poll()) => {}
                    Some(_) = running.join_next(), if !running.is_empty() => {}
                    _ = stopped.changed() => {}
                }
                continue;
            }
            for id in claimed {
                let permit = slots.clone().acquire_owned().await.expect("open");
                let engine = self.clone();
                running.spawn(async move {
                    match engine.work(id).await {
                        Ok(w) => tracing::debug!(run = %id, outcome = ?w, "gamebook run worked"),
                        // The lease lapses and the run is resumed.
                        Err(e) => tracing::warn!(run = %id, error = %e, "gamebook run failed; it resumes after its lease"),
                    }
                    drop(permit);
                });
            }
        }
        while running.join_next().await.is_some() {}
    }

    /// Works a claimed run step by step until it finishes, waits for approval, or is lost.
    async fn work(&self, id: Uuid) -> Result<Worked> {
        let store = &self.inner.store;
        let owner = &self.inner.owner;
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
                        Worked::Finished
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
        let store = &self.inner.store;
        let owner = &self.inner.owner;
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
        let started_at = to_micros(chrono::Utc::now());
        let recorded = match kind {
            None => {
                store
                    .system()
                    .finish_step(
                        run.id,
                        step.id,
                        owner,
                        self.lease_until(),
                        started_at,
                        &fail("The playbook's action type is unknown.".into()),
                    )
                    .await?
            }
            Some(ActionType::HttpRequest) => {
                let result = match store.tenant(&org).get_incident(key).await? {
                    None => fail(format!("Incident '{}' no longer exists.", run.incident_id)),
                    Some(row) => self.http(&action, &ctx(&row)).await,
                };
                store
                    .system()
                    .finish_step(
                        run.id,
                        step.id,
                        owner,
                        self.lease_until(),
                        started_at,
                        &result,
                    )
                    .await?
            }
            Some(ActionType::LinkTicket) => {
                let ticket = action.ticket_id.clone().unwrap_or_default();
                let rendered = match store.tenant(&org).get_incident(key).await? {
                    Some(row) => ctx(&row).render(&ticket, Escape::None),
                    None => ticket,
                };
                store
                    .system()
                    .finish_step_link_ticket(
                        item,
                        step.id,
                        owner,
                        self.lease_until(),
                        started_at,
                        &rendered,
                        &author,
                    )
                    .await?
            }
            Some(kind) => {
                let (recorded, _, _) = store
                    .system()
                    .finish_step_with_change(
                        item,
                        step.id,
                        owner,
                        self.lease_until(),
                        started_at,
                        |row| apply(kind, &action, row, &ctx(row), &author),
                    )
                    .await?;
                recorded
            }
        };
        tracing::debug!(run = %run.id, step = %step.id, ms = started.elapsed().as_millis() as u64, "playbook step done");
        if matches!(recorded, StepRecorded::Done { .. }) {
            self.inner.cache.forget(key);
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
        let parsed = match self.inner.guard.check_form(&url) {
            Ok(u) => u,
            Err(e) => return fail(format!("The URL {e}.")),
        };
        if let Err(e) = self.inner.guard.check_literal_host(&parsed) {
            return fail(format!("Refused by the SSRF guard: {e}."));
        }
        let method =
            reqwest::Method::from_bytes(action.method.as_deref().unwrap_or("POST").as_bytes())
                .unwrap_or(reqwest::Method::POST);
        let mut req = self.inner.client.request(method, parsed);
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
            Err(e) => fail(describe(e)),
        }
    }
}

fn describe(e: reqwest::Error) -> String {
    use std::error::Error as _;
    if e.is_timeout() {
        return "The target did not answer within the timeout.".into();
    }
    let mut msg = String::from(if e.is_connect() {
        "Could not connect to the target"
    } else {
        "The request failed"
    });
    let mut source = e.source();
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    if let Some(cause) = last {
        msg.push_str(": ");
        msg.push_str(&cause);
    }
    msg.push('.');
    msg
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
