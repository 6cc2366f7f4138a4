//! The gamebook trigger: `incident.created` outbox events start the runs of matching
//! auto-run rules, exactly once per event.

use std::collections::HashMap;

use palisade_domain::Result;
use uuid::Uuid;

use super::insert_runs;
use crate::db::sql;
use crate::gamebooks::{NewRun, PlaybookRow, RuleRow, TriggerEvent, PLAYBOOK_COLS, RULE_COLS};
use crate::incidents::INCIDENT_COLS;
use crate::outbox::OutboxCursor;
use crate::{IncidentRow, OrgId, System};

impl System<'_> {
    /// Looks at up to `limit` outbox events the trigger has not seen: `plan` gets each
    /// `incident.created` event with its incident, the workspace's enabled auto-run rules and
    /// the organization's playbooks, and returns the runs to start (in the event's
    /// workspace). The runs are created and the events marked seen in one transaction.
    /// Returns how many events were seen and how many runs were created.
    #[allow(clippy::map_entry)]
    pub async fn trigger_gamebooks(
        &self,
        limit: i64,
        mut plan: impl FnMut(
            &TriggerEvent,
            &IncidentRow,
            &[RuleRow],
            &HashMap<Uuid, PlaybookRow>,
        ) -> Vec<NewRun>,
    ) -> Result<(usize, usize)> {
        let store = self.store;
        // A cheap look first, so an idle trigger does not take the write lock.
        if !crate::outbox::any_after(store, crate::outbox::GAMEBOOKS).await? {
            return Ok((0, 0));
        }
        let mut tx = store.begin_write().await?;
        let Some(cursor) =
            OutboxCursor::open(&mut tx, store.backend(), crate::outbox::GAMEBOOKS).await?
        else {
            return Ok((0, 0));
        };
        let events: Vec<TriggerEvent> = sql(
            &format!(
                "SELECT id, organization_id, workspace_id, event_type, subject_id, txid, seq \
                 FROM events WHERE {} ORDER BY txid, seq LIMIT $4",
                cursor.after(1)
            ),
            cursor.params(),
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if events.is_empty() {
            return Ok((0, 0));
        }
        let mut rules: HashMap<Uuid, Vec<RuleRow>> = HashMap::new();
        let mut playbooks: HashMap<Uuid, HashMap<Uuid, PlaybookRow>> = HashMap::new();
        let mut created = 0;
        for e in events.iter().filter(|e| e.event_type == "incident.created") {
            let Some(ws) = e.workspace_id else { continue };
            let Some((source, id)) = e.subject_id.split_once('/') else {
                continue;
            };
            if !rules.contains_key(&ws) {
                let list: Vec<RuleRow> = sql(
                    &format!(
                        "SELECT {RULE_COLS} FROM gamebook_rules WHERE workspace_id = $1 \
                         AND is_enabled = 1 AND is_auto_run = 1 ORDER BY created_at, id"
                    ),
                    (ws,),
                )
                .fetch_all(&mut *tx)
                .await?;
                rules.insert(ws, list);
            }
            let ws_rules = &rules[&ws];
            if ws_rules.is_empty() {
                continue;
            }
            let incident: Option<IncidentRow> = sql(
                &format!(
                    "SELECT {INCIDENT_COLS} FROM incidents WHERE workspace_id = $1 AND source = $2 AND id = $3"
                ),
                (ws, source, id),
            )
            .fetch_optional(&mut *tx)
            .await?;
            let Some(incident) = incident else {
                continue;
            };
            if !playbooks.contains_key(&e.org) {
                let list: Vec<PlaybookRow> = sql(
                    &format!("SELECT {PLAYBOOK_COLS} FROM playbooks WHERE organization_id = $1"),
                    (e.org,),
                )
                .fetch_all(&mut *tx)
                .await?;
                playbooks.insert(e.org, list.into_iter().map(|p| (p.id, p)).collect());
            }
            let runs = plan(e, &incident, ws_rules, &playbooks[&e.org]);
            // The event names its own organization and workspace.
            created += insert_runs(&mut tx, &OrgId::verified(e.org), ws, &runs)
                .await?
                .len();
        }
        if let Some(last) = events.last() {
            cursor.advance(&mut tx, last.position).await?;
        }
        tx.commit().await?;
        Ok((events.len(), created))
    }
}
