//! The write-back job: one analyst change to a pulled incident, sent to its source in the
//! vendor's documented call (docs/connectors.md, "Write-back").

use palisade_connectors::{Change, WriteBack};
use palisade_store::{ClaimedWriteBack, WriteBackChange};

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

/// Works one claimed write-back.
pub async fn run(engine: &Connectors, claim: &ClaimedWriteBack) -> Outcome {
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
                engine.backoff(claim.attempt, None),
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
        attempt: claim.attempt,
        made_at: claim.made_at,
    };
    match connector.write_back(&write).await {
        Ok(outcome) => {
            tracing::debug!(connector = %row.datasource_id, incident = %claim.incident.id,
                change = write.change.name(), ?outcome, "written back");
            Outcome::Done
        }
        Err(e) if e.is_retryable() && claim.attempt < engine.config().writeback_max_attempts => {
            Outcome::RetryAfter(
                engine.backoff(claim.attempt, e.retry_after()),
                e.to_string(),
            )
        }
        Err(e) => Outcome::Fail(e.to_string()),
    }
}
