//! The write-back job (kind `connector.writeback`, keyed by the incident): one analyst change
//! to a pulled incident, sent to its source in the vendor's documented call, retried with
//! backoff (or the source's `Retry-After`) and dead-lettered after the last attempt; its
//! state and the incident's `sync` are recorded with the job's end (docs/connectors.md,
//! "Write-back").

use std::time::Duration;

use palisade_connectors::{Change, WriteBack};
use palisade_domain::time::to_micros;
use palisade_jobs::{Finished, Handler, Job, Outcome as JobOutcome};
use palisade_store::{ClaimedWriteBack, IncidentKey, Store, WriteBackChange, WriteBackEnd};
use uuid::Uuid;

use super::{Connectors, Outcome};

fn change_of(c: &WriteBackChange) -> Change {
    match c.clone() {
        WriteBackChange::Status {
            status,
            classification,
            reason,
            classification_comment,
        } => Change::Status {
            status,
            classification,
            reason,
            classification_comment,
        },
        WriteBackChange::Assign { owner } => Change::Assign { owner },
        WriteBackChange::Comment { id, text } => Change::Comment { id, text },
    }
}

/// Works one write-back (attempt `attempt`, from 1).
pub async fn run(engine: &Connectors, claim: &ClaimedWriteBack, attempt: u32) -> Outcome {
    let row = match engine
        .store()
        .system()
        .connector_engine_by_id(claim.connector_id)
        .await
    {
        Ok(Some(row)) => row,
        Ok(None) => return Outcome::Fail("the connector no longer exists".into()),
        Err(e) => {
            tracing::warn!(error = %e, "a write-back could not read its connector; retrying");
            return Outcome::RetryAfter(
                engine.backoff(attempt, None),
                "Palisade could not read the connector; retrying".into(),
            );
        }
    };
    let connector = match engine.connector(&row) {
        Ok(c) => c,
        Err(e) => return Outcome::Fail(e.to_string()),
    };
    let write = WriteBack {
        external_id: claim.incident.id.clone(),
        change: change_of(&claim.change),
        attempt,
        made_at: claim.made_at,
    };
    match connector.write_back(&write).await {
        Ok(outcome) => {
            tracing::debug!(connector = %row.datasource_id, incident = %claim.incident.id,
                change = write.change.name(), ?outcome, "written back");
            Outcome::Done
        }
        // On the last attempt the runtime dead-letters a retry (`sync: Failed`).
        Err(e) if e.is_retryable() => {
            Outcome::RetryAfter(engine.backoff(attempt, e.retry_after()), e.to_string())
        }
        Err(e) => Outcome::Fail(e.to_string()),
    }
}

/// Works `connector.writeback` jobs.
pub struct WriteBacks {
    engine: Connectors,
}

impl WriteBacks {
    pub fn new(engine: Connectors) -> WriteBacks {
        WriteBacks { engine }
    }
}

/// The shortest and longest wait of a write-back behind an older one of its incident.
const WAIT_MIN: Duration = Duration::from_millis(100);
const WAIT_MAX: Duration = Duration::from_secs(60);

impl Handler for WriteBacks {
    /// The write-back worked, and its incident.
    type Note = Option<(Uuid, IncidentKey)>;

    async fn run(&self, job: &Job) -> (JobOutcome, Self::Note) {
        let Ok(id) = job.payload.parse::<Uuid>() else {
            let error = format!("unreadable write-back id '{}'", job.payload);
            return (JobOutcome::Fail { error }, None);
        };
        let engine = &self.engine;
        let claim = match engine.store().system().writeback_claim(id).await {
            Ok(Some(c)) => c,
            // Replaced by a newer change, or its connector deleted.
            Ok(None) => return (JobOutcome::Done, None),
            Err(e) => {
                tracing::warn!(error = %e, "a write-back could not be read; retrying");
                let error = "Palisade could not read the write-back; retrying".to_string();
                return (JobOutcome::Retry { after: None, error }, None);
            }
        };
        let note = Some((claim.id, claim.incident.clone()));
        if let Some(due) = claim.older_due {
            // An older change of the incident goes first: wait until it is due (and sent).
            let now = to_micros(chrono::Utc::now());
            let wait = Duration::from_micros((due - now).max(0) as u64).clamp(WAIT_MIN, WAIT_MAX);
            return (JobOutcome::Release { after: wait }, note);
        }
        match run(engine, &claim, job.attempt).await {
            Outcome::Done | Outcome::Again | Outcome::Lost => (JobOutcome::Done, note),
            Outcome::RetryAfter(after, error) => (
                JobOutcome::Retry {
                    after: Some(after),
                    error,
                },
                note,
            ),
            Outcome::Fail(error) => {
                tracing::warn!(incident = %claim.incident.id, error = %error, "a write-back was given up");
                (JobOutcome::Fail { error }, note)
            }
        }
    }

    async fn record(
        &self,
        store: &Store,
        owner: &str,
        batch: &[Finished<Self::Note>],
    ) -> palisade_domain::Result<()> {
        let ends: Vec<WriteBackEnd> = batch
            .iter()
            .map(|f| WriteBackEnd {
                job: f.finish(),
                writeback: f.note.clone(),
            })
            .collect();
        store.system().finish_writebacks(owner, &ends).await?;
        for (_, key) in batch.iter().filter_map(|f| f.note.as_ref()) {
            self.engine.incidents().forget(key);
        }
        Ok(())
    }
}
