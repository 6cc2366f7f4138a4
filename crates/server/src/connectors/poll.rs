//! The poll job of one connector (kind `connector.poll`, keyed by the connector): page
//! through the source from the stored cursor and commit each page — its incidents through the
//! ingest path, then the cursor after them — in one transaction while the job's lease is held;
//! then the job is due again after the connector's interval (`Release`), or after a backoff
//! or the source's `Retry-After` (`Retry`). See docs/connectors.md ("Polling").

use std::time::Duration;

use palisade_connectors::{reconcile, Continuation, Cursor, PulledIncident};
use palisade_domain::incident::{incident_id, normalize, IncidentDoc};
use palisade_domain::time::to_micros;
use palisade_domain::{Error, Validator};
use palisade_jobs::{Finished, Handler, Job, Outcome as JobOutcome};
use palisade_store::{
    ClaimedPoll, IngestIncident, PollEnd, PollResult, PulledPage, Store, POLL_KIND,
};
use palisade_types::datasources::ConnectorType;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{outcome_of, Connectors, Outcome};
use crate::service::datasources::ingest_volume;

/// One pulled incident as an ingest item: validated like a pushed one (errors keyed under
/// `prefix`), with what has no place in Palisade's model kept as `properties.source`.
pub(crate) fn ingest_item(
    v: &mut Validator,
    prefix: &str,
    item: &PulledIncident,
) -> Option<IngestIncident> {
    let id = incident_id(v, &format!("{prefix}id"), Some(&item.external_id));
    let mut normalized = normalize(v, prefix, &item.incident)?;
    let id = id?;
    if !item.source.is_empty() {
        let mut props = Map::new();
        props.insert("source".into(), Value::Object(item.source.clone()));
        normalized.doc.properties = Some(props);
    }
    Some(IngestIncident {
        id,
        incident: normalized,
    })
}

/// Keeps the stored values of fields whose write-back to the source is still pending: the
/// source does not have them yet, so what it shows is older.
fn hold_back(item: &mut PulledIncident, stored: &IncidentDoc, pending: &[String]) {
    let i = &mut item.incident;
    if pending.iter().any(|k| k == "status") {
        i.status = Some(stored.status.as_str().to_string());
        i.classification = stored.classification.map(|c| c.as_str().to_string());
        i.classification_reason = stored.classification_reason.map(|r| r.as_str().to_string());
        i.classification_comment = stored.classification_comment.clone();
    }
    if pending.iter().any(|k| k == "assign") {
        i.owner = stored
            .owner
            .as_ref()
            .map(palisade_types::incidents::OwnerInput::from);
    }
}

/// Works one claimed poll: at most `max_pages_per_run` pages, then [`Outcome::Again`].
pub async fn run(engine: &Connectors, claim: &ClaimedPoll) -> Outcome {
    let row = &claim.connector;
    let failures = row.consecutive_failures as u32 + 1;
    let connector = match engine.connector(row) {
        Ok(c) => c,
        Err(e) => return outcome_of(engine, &e, failures),
    };
    let kind = connector.kind();
    let mut cursor = row
        .cursor
        .as_deref()
        .and_then(Cursor::from_json)
        .unwrap_or_else(|| Cursor::start(row.start_from));
    // A listing the previous poll left unfinished is continued (see `Cursor::resume`).
    let mut continuation: Option<Continuation> = cursor.resume.take();
    let system = engine.store().system();
    for page_no in 0..engine.config().max_pages_per_run {
        let page = match connector.pull(&cursor, continuation.as_ref()).await {
            Ok(p) => p,
            // A stored continuation the source refuses (its skip token expired while no
            // replica polled, say): the listing starts again from the cursor, as a poll
            // without one does. A throttled or failed call is retried as it is.
            Err(e) if page_no == 0 && continuation.is_some() && !e.is_retryable() => {
                tracing::info!(connector = %row.datasource_id, error = %e,
                    "the source refused the stored continuation; the listing starts again");
                match connector.pull(&cursor, None).await {
                    Ok(p) => p,
                    Err(e) => return outcome_of(engine, &e, failures),
                }
            }
            Err(e) => return outcome_of(engine, &e, failures),
        };
        for r in &page.rejected {
            tracing::warn!(connector = %row.datasource_id, id = r.external_id.as_deref().unwrap_or(""),
                errors = ?r.errors, "a pulled item could not be mapped; skipped");
        }
        let ids: Vec<&str> = page.items.iter().map(|i| i.external_id.as_str()).collect();
        let (stored, pending) = match system.pulled_context(claim, &ids).await {
            Ok(c) => c,
            Err(e) => return store_failure(engine, e, failures),
        };
        let mut items = Vec::with_capacity(page.items.len());
        let mut bytes = 0usize;
        let mut invalid = 0usize;
        for mut item in page.items {
            if let Some(doc) = stored.get(&item.external_id) {
                reconcile(kind, &mut item, doc);
                if let Some(kinds) = pending.get(&item.external_id) {
                    hold_back(&mut item, doc, kinds);
                }
            }
            for u in &item.unmapped {
                if engine.first_unmapped(row.datasource_id, &u.field, &u.value) {
                    tracing::info!(connector = %row.datasource_id, field = %u.field, value = %u.value,
                        "a source value has no Palisade equivalent; kept in properties.source");
                }
            }
            let mut v = Validator::new();
            match ingest_item(&mut v, "", &item) {
                Some(i) if v.is_empty() => {
                    bytes += serde_json::to_vec(&item.incident).map_or(0, |b| b.len());
                    items.push(i);
                }
                _ => {
                    invalid += 1;
                    tracing::warn!(connector = %row.datasource_id, id = %item.external_id,
                        errors = ?v, "a pulled incident is not valid in Palisade's model; skipped");
                }
            }
        }
        let pulled = (items.len() + invalid + page.rejected.len() + page.skipped) as i64;
        let volume = (!items.is_empty())
            .then(|| ingest_volume(ConnectorType::of_source(row.source), items.len(), bytes));
        // The page's cursor is stored with the continuation of the listing after it.
        let mut high_water = page.high_water;
        high_water.resume = page.continuation.clone();
        let commit = PulledPage {
            items,
            volume,
            cursor: high_water.to_json(),
            pulled,
        };
        match system.commit_pulled_page(claim, &commit).await {
            Ok(_) => {}
            Err(Error::Conflict(_)) => return Outcome::Lost,
            Err(e) => return store_failure(engine, e, failures),
        }
        for i in &commit.items {
            engine.incidents().forget(&palisade_store::IncidentKey::new(
                claim.workspace,
                row.source,
                &i.id,
            ));
        }
        high_water.resume = None;
        cursor = high_water;
        continuation = page.continuation;
        if continuation.is_none() {
            return Outcome::Done;
        }
    }
    Outcome::Again
}

fn store_failure(engine: &Connectors, e: Error, failures: u32) -> Outcome {
    tracing::warn!(error = %e, "a poll could not be committed; it is retried");
    Outcome::RetryAfter(
        engine.backoff(failures, None),
        "Palisade could not store the pulled incidents; retrying".into(),
    )
}

/// Works `connector.poll` jobs.
pub struct Polls {
    engine: Connectors,
}

impl Polls {
    pub fn new(engine: Connectors) -> Polls {
        Polls { engine }
    }
}

/// What a poll leaves to record on its connector.
pub struct PollNote {
    connector: Uuid,
    started_next: i64,
    result: PollResult,
}

impl Handler for Polls {
    type Note = Option<PollNote>;

    async fn run(&self, job: &Job) -> (JobOutcome, Option<PollNote>) {
        let Ok(id) = job.payload.parse::<Uuid>() else {
            let error = format!("unreadable connector id '{}'", job.payload);
            return (JobOutcome::Fail { error }, None);
        };
        let engine = &self.engine;
        let claim = match engine
            .store()
            .system()
            .poll_claim(job.id, id, engine.owner())
            .await
        {
            Ok(Some(c)) => c,
            // Deleted: the job ends with it.
            Ok(None) => return (JobOutcome::Done, None),
            Err(e) => {
                tracing::warn!(connector = %id, error = %e, "a poll could not read its connector; retrying");
                let error = "Palisade could not read the connector; retrying".to_string();
                return (
                    JobOutcome::Retry {
                        after: Some(Duration::from_secs(1)),
                        error,
                    },
                    None,
                );
            }
        };
        let c = &claim.connector;
        let note = |result| {
            Some(PollNote {
                connector: id,
                started_next: to_micros(c.next_poll_at),
                result,
            })
        };
        if c.paused {
            // Paused after the claim: the end removes the job (unless resumed meanwhile).
            return (
                JobOutcome::Release {
                    after: Duration::ZERO,
                },
                note(PollResult::Skipped),
            );
        }
        let failures = c.consecutive_failures as u32 + 1;
        let outcome = run(engine, &claim).await;
        let failed = |error: &String, state| {
            tracing::warn!(connector = %id, state, error = %error, "poll failed");
            engine.jobs().count_outcome(POLL_KIND, state);
            PollResult::Failed {
                state,
                error: error.clone(),
            }
        };
        match outcome {
            Outcome::Done => {
                engine.jobs().count_outcome(POLL_KIND, "Healthy");
                let after = Duration::from_secs(c.poll_interval_secs.max(0) as u64);
                (JobOutcome::Release { after }, note(PollResult::Healthy))
            }
            // A backfill with more pages: due again at once.
            Outcome::Again => (
                JobOutcome::Release {
                    after: Duration::ZERO,
                },
                note(PollResult::Healthy),
            ),
            Outcome::RetryAfter(after, error) => {
                let state = if failures >= engine.config().failing_after {
                    "Failing"
                } else {
                    "Degraded"
                };
                let result = failed(&error, state);
                (
                    JobOutcome::Retry {
                        after: Some(after),
                        error,
                    },
                    note(result),
                )
            }
            Outcome::Fail(error) => {
                let result = failed(&error, "Failing");
                let after = Duration::from_secs(engine.config().max_backoff_secs);
                (
                    JobOutcome::Retry {
                        after: Some(after),
                        error,
                    },
                    note(result),
                )
            }
            Outcome::Lost => {
                tracing::info!(connector = %id, "a poll's lease was taken over");
                (
                    JobOutcome::Release {
                        after: Duration::ZERO,
                    },
                    None,
                )
            }
        }
    }

    async fn record(
        &self,
        store: &Store,
        owner: &str,
        batch: &[Finished<Option<PollNote>>],
    ) -> palisade_domain::Result<()> {
        let ends: Vec<PollEnd> = batch
            .iter()
            .map(|f| match &f.note {
                Some(n) => PollEnd {
                    job: f.finish(),
                    connector: n.connector,
                    started_next: n.started_next,
                    result: n.result.clone(),
                },
                None => PollEnd {
                    job: f.finish(),
                    connector: f.job.payload.parse().unwrap_or_default(),
                    started_next: 0,
                    result: PollResult::Skipped,
                },
            })
            .collect();
        store.system().finish_polls(owner, &ends).await
    }
}
