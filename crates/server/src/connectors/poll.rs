//! The poll job of one connector: page through the source from the stored cursor and commit
//! each page — its incidents through the ingest path, then the cursor after them — in one
//! transaction while the lease is held. See docs/connectors.md ("Polling").

use palisade_connectors::{reconcile, Continuation, Cursor, PulledIncident};
use palisade_domain::incident::{incident_id, normalize, IncidentDoc};
use palisade_domain::{Error, Validator};
use palisade_store::{ClaimedPoll, IngestIncident, PulledPage};
use palisade_types::datasources::ConnectorType;
use serde_json::{Map, Value};

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
    let mut continuation: Option<Continuation> = None;
    let system = engine.store().system();
    for _ in 0..engine.config().max_pages_per_run {
        let page = match connector.pull(&cursor, continuation.as_ref()).await {
            Ok(p) => p,
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
        let commit = PulledPage {
            items,
            volume,
            cursor: page.high_water.to_json(),
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
        cursor = page.high_water;
        continuation = page.continuation;
        if continuation.is_none() {
            return Outcome::Done;
        }
        match system
            .renew_poll(claim, engine.config().lease_secs as i64)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Outcome::Lost,
            Err(e) => return store_failure(engine, e, failures),
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
