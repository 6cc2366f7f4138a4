//! Changing an incident under a row lock, and its comments.

use chrono::{DateTime, Utc};
use palisade_domain::incident::{diff, event_data, IncidentDoc};
use palisade_domain::vocab::FieldChange;
use palisade_domain::{Error, Result};
use uuid::Uuid;

use super::{list_summary, owner_email, IncidentRow, INCIDENT_COLS};
use crate::db::{now_micros, sql, Backend, Tx};
use crate::outbox::{insert_event, workspace_account};
use crate::{IncidentKey, Tenant};

/// A comment to add to an incident.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub message: String,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub is_activity: bool,
    pub is_closing: bool,
    pub ticket_id: Option<String>,
}

/// A stored comment.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CommentRow {
    pub id: String,
    pub message: String,
    pub author_email: Option<String>,
    pub author_name: Option<String>,
    #[sqlx(try_from = "crate::db::row::Flag")]
    pub is_activity: bool,
    #[sqlx(try_from = "crate::db::row::Flag")]
    pub is_agent: bool,
    pub agent_name: Option<String>,
    #[sqlx(try_from = "crate::db::row::Flag")]
    pub is_closing: bool,
    pub ticket_note_id: Option<String>,
    pub ticket_id: Option<String>,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub created_at: DateTime<Utc>,
}

/// What [`Tenant::modify_incident`] returns: the incident after the change, the changes, and
/// the comments added.
pub type Modified = (IncidentRow, Vec<FieldChange>, Vec<CommentRow>);

/// The change a comment makes to its incident, as `incident.updated` lists it: `comments`
/// from the comment before (`None` for a new one) to the comment as the API shows it.
fn comment_change(before: Option<&CommentRow>, c: &CommentRow) -> FieldChange {
    let shown = |c: &CommentRow| {
        serde_json::json!({
            "id": c.id,
            "message": c.message,
            "createdTime": c.created_at,
            "authorEmail": c.author_email,
            "authorName": c.author_name,
            "isActivityComment": c.is_activity,
            "isAgentComment": c.is_agent,
            "agentName": c.agent_name,
            "isClosingComment": c.is_closing,
            "ticketNoteId": c.ticket_note_id,
            "ticketId": c.ticket_id,
        })
    };
    FieldChange {
        field: "comments".into(),
        from: before.map(shown).unwrap_or(serde_json::Value::Null),
        to: shown(c),
    }
}

impl Tenant<'_> {
    /// Emits `incident.updated` for `changes` of the incident `row` (in the caller's
    /// transaction, at `t`).
    async fn emit_updated(
        &self,
        tx: &mut Tx,
        key: &IncidentKey,
        row: &IncidentRow,
        changes: &[FieldChange],
        t: i64,
    ) -> Result<()> {
        let ws = self.own(&key.workspace)?;
        let account = workspace_account(tx, &self.org, ws).await?;
        let data = event_data(
            (account.0, &account.1),
            ws,
            key.source,
            &key.id,
            row.number,
            row.created_at,
            &row.doc,
            Some(changes),
        );
        insert_event(
            tx,
            &self.org,
            ws,
            account.0,
            "incident.updated",
            &format!("{}/{}", key.source.as_str(), key.id),
            &data,
            t,
        )
        .await
    }

    async fn insert_comment(
        &self,
        tx: &mut Tx,
        key: &IncidentKey,
        c: &NewComment,
        at: i64,
    ) -> Result<CommentRow> {
        let id = Uuid::new_v4().to_string();
        sql(
            "INSERT INTO incident_comments (id, workspace_id, source, incident_id, organization_id, message, \
             author_email, author_name, is_activity, is_agent, agent_name, is_closing, ticket_note_id, \
             ticket_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, NULL, $10, NULL, $11, $12)",
            (
                id.as_str(),
                self.own(&key.workspace)?,
                key.source,
                key.id.as_str(),
                self.org,
                &c.message,
                &c.author_email,
                &c.author_name,
                c.is_activity,
                c.is_closing,
                &c.ticket_id,
                at,
            ),
        )
        .execute(&mut **tx)
        .await?;
        Ok(CommentRow {
            id,
            message: c.message.clone(),
            author_email: c.author_email.clone(),
            author_name: c.author_name.clone(),
            is_activity: c.is_activity,
            is_agent: false,
            agent_name: None,
            is_closing: c.is_closing,
            ticket_note_id: None,
            ticket_id: c.ticket_id.clone(),
            created_at: palisade_domain::time::from_micros(at),
        })
    }

    /// An incident's comments, oldest first.
    pub async fn incident_comments(&self, key: &IncidentKey) -> Result<Vec<CommentRow>> {
        sql(
            "SELECT id, message, author_email, author_name, is_activity, is_agent, agent_name, \
             is_closing, ticket_note_id, ticket_id, created_at FROM incident_comments \
             WHERE organization_id = $1 AND workspace_id = $2 AND source = $3 AND incident_id = $4 \
             ORDER BY created_at, id",
            (
                self.org,
                self.own(&key.workspace)?,
                key.source,
                key.id.as_str(),
            ),
        )
        .fetch_all(self.store.read())
        .await
    }

    /// Changes an incident under a row lock: `change` gets the current document and returns
    /// the new one plus the comments to add. A real change updates the incident and emits
    /// `incident.updated` with its changes, all in one transaction. Returns the incident after
    /// the change and the changes (empty when nothing changed; comments are added either way).
    pub async fn modify_incident<F>(&self, key: &IncidentKey, change: F) -> Result<Option<Modified>>
    where
        F: FnOnce(&IncidentRow) -> Result<(IncidentDoc, Vec<NewComment>)>,
    {
        let mut tx = self.store.begin_write().await?;
        let out = self.modify_incident_in(&mut tx, key, change).await?;
        tx.commit().await?;
        if out
            .as_ref()
            .is_some_and(|(_, changes, _)| !changes.is_empty())
        {
            self.store.events_written();
        }
        Ok(out)
    }

    /// [`Tenant::modify_incident`] inside a caller's write transaction (the caller commits
    /// and calls `events_written` when changes were made).
    pub(crate) async fn modify_incident_in<F>(
        &self,
        tx: &mut Tx,
        key: &IncidentKey,
        change: F,
    ) -> Result<Option<Modified>>
    where
        F: FnOnce(&IncidentRow) -> Result<(IncidentDoc, Vec<NewComment>)>,
    {
        let ws = self.own(&key.workspace)?;
        let lock = if self.store.backend() == Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let locked: Option<IncidentRow> = sql(
            &format!(
                "SELECT {INCIDENT_COLS} FROM incidents WHERE organization_id = $1 AND workspace_id = $2 \
                 AND source = $3 AND id = $4{lock}"
            ),
            (self.org, ws, key.source, key.id.as_str()),
        )
        .fetch_optional(&mut **tx)
        .await?;
        let Some(mut row) = locked else {
            return Ok(None);
        };
        let (doc, comments) = change(&row)?;
        let mut changes = diff(&row.doc, &doc);
        let before = row.connector_id.map(|_| row.doc.clone());
        let t = now_micros();
        let mut added = Vec::new();
        // One microsecond apart, so comments added together keep their order.
        for (i, c) in comments.iter().enumerate() {
            added.push(self.insert_comment(tx, key, c, t + i as i64).await?);
        }
        // A comment someone wrote is a change of the incident (`incident.updated`); activity
        // comments only narrate the changes listed beside them.
        let written: Vec<FieldChange> = added
            .iter()
            .filter(|c| !c.is_activity)
            .map(|c| comment_change(None, c))
            .collect();
        let doc_changed = !changes.is_empty();
        if !written.is_empty() {
            changes.extend(written);
            changes.sort_by(|a, b| a.field.cmp(&b.field));
        }
        if doc_changed {
            sql(
                "UPDATE incidents SET status = $5, severity = $6, owner_email = $7, updated_at = $8, doc = $9, \
                 summary = $10, acknowledged_at = COALESCE(acknowledged_at, CASE WHEN $5 <> 'New' \
                 OR $7 IS NOT NULL THEN $8 END), closed_at = CASE WHEN $5 = 'Closed' THEN \
                 COALESCE(closed_at, $8) END WHERE organization_id = $1 AND workspace_id = $2 AND source = $3 AND id = $4",
                (
                    self.org,
                    ws,
                    key.source,
                    key.id.as_str(),
                    doc.status,
                    doc.severity,
                    owner_email(&doc),
                    t,
                    serde_json::to_string(&doc).map_err(Error::internal)?,
                    list_summary(&doc)?,
                ),
            )
            .execute(&mut **tx)
            .await?;
            row.doc = doc;
            row.updated_at = palisade_domain::time::from_micros(t);
        }
        if !changes.is_empty() {
            self.emit_updated(tx, key, &row, &changes, t).await?;
        }
        // A pulled incident's change is sent back to its source (outbox, same transaction).
        if let (Some(connector), Some(before)) = (row.connector_id, &before) {
            let writes = crate::connectors::changes_of(before, &row.doc, &added);
            if !writes.is_empty() {
                crate::connectors::enqueue(tx, &self.org, key, connector, &writes).await?;
                row.sync = Some(crate::connectors::SyncRow {
                    state: "Pending".into(),
                    last_error: None,
                    at: palisade_domain::time::from_micros(t),
                });
            }
        }
        Ok(Some((row, changes, added)))
    }

    /// Adds a comment to an existing incident; `None` when there is no such incident.
    pub async fn add_comment(
        &self,
        key: &IncidentKey,
        comment: &NewComment,
    ) -> Result<Option<CommentRow>> {
        Ok(self
            .modify_incident(key, |row| Ok((row.doc.clone(), vec![comment.clone()])))
            .await?
            .and_then(|(_, _, mut added)| added.pop()))
    }

    /// Edits a comment's text and emits `incident.updated` with the change, in one
    /// transaction (an unchanged text changes nothing). Activity comments are the incident's
    /// history and cannot be edited (`Conflict`). `None` when there is no such comment on the
    /// incident.
    pub async fn update_comment(
        &self,
        key: &IncidentKey,
        comment: &str,
        message: &str,
    ) -> Result<Option<CommentRow>> {
        let ws = self.own(&key.workspace)?;
        let mut tx = self.store.begin_write().await?;
        let lock = if self.store.backend() == Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let row: Option<IncidentRow> = sql(
            &format!(
                "SELECT {INCIDENT_COLS} FROM incidents WHERE organization_id = $1 AND workspace_id = $2 \
                 AND source = $3 AND id = $4{lock}"
            ),
            (self.org, ws, key.source, key.id.as_str()),
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let before: Option<CommentRow> = sql(
            "SELECT id, message, author_email, author_name, is_activity, is_agent, agent_name, \
             is_closing, ticket_note_id, ticket_id, created_at FROM incident_comments \
             WHERE organization_id = $1 AND workspace_id = $2 AND source = $3 AND incident_id = $4 \
             AND id = $5",
            (self.org, ws, key.source, key.id.as_str(), comment),
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(before) = before else {
            return Ok(None);
        };
        if before.is_activity {
            return Err(Error::Conflict(
                "Activity comments record the incident's history and cannot be edited.".into(),
            ));
        }
        if before.message == message {
            return Ok(Some(before));
        }
        sql(
            "UPDATE incident_comments SET message = $6 WHERE organization_id = $1 AND workspace_id = $2 \
             AND source = $3 AND incident_id = $4 AND id = $5",
            (self.org, ws, key.source, key.id.as_str(), comment, message),
        )
        .execute(&mut *tx)
        .await?;
        let after = CommentRow {
            message: message.to_string(),
            ..before.clone()
        };
        let changes = [comment_change(Some(&before), &after)];
        self.emit_updated(&mut tx, key, &row, &changes, now_micros())
            .await?;
        tx.commit().await?;
        self.store.events_written();
        Ok(Some(after))
    }
}
