//! Service tickets and their links to incidents. Linking adds an activity comment carrying
//! the ticket id to the incident and writes `ticket.linked`, in one transaction.

use std::collections::HashMap;

use palisade_domain::{Error, Result};
use serde_json::json;
use uuid::Uuid;

use crate::db::{now_micros, placeholders, sql, Backend, Params, Tx};
use crate::outbox::{insert_event, workspace_account};
use crate::{IncidentKey, NewComment, Tenant, WorkspaceId};

/// A stored ticket; `doc` is the PSA sub-object as JSON text.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TicketRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub workspace_id: Uuid,
    pub ticket_id: String,
    pub psa: String,
    pub number: Option<String>,
    pub grouping_id: Option<String>,
    pub priority: Option<String>,
    pub doc: String,
    pub created_at: i64,
    pub modified_at: i64,
}

/// The fields of a ticket to write.
#[derive(Debug, Clone)]
pub struct TicketFields {
    pub psa: String,
    pub number: Option<String>,
    pub grouping_id: Option<String>,
    pub priority: Option<String>,
    pub doc: String,
}

impl TicketFields {
    /// The fields as an upsert's insert and update bind them.
    fn params(&self) -> impl Params<'_> {
        (
            &self.psa,
            &self.number,
            &self.grouping_id,
            &self.priority,
            &self.doc,
        )
    }
}

/// An incident a ticket is linked to.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TicketLink {
    pub source: String,
    pub incident_id: String,
    pub number: i64,
    #[sqlx(rename = "created_at")]
    pub linked_at: i64,
}

#[derive(sqlx::FromRow)]
struct LinkOf {
    ticket_id: String,
    #[sqlx(flatten)]
    link: TicketLink,
}

const TICKET_COLS: &str = "id, workspace_id, ticket_id, psa, number, grouping_id, priority, doc, \
     created_at, modified_at";

fn ticket_not_found(id: &str) -> Error {
    Error::NotFound {
        detail: format!("Service ticket '{id}' not found."),
        target: Some("ticketId".into()),
    }
}

fn incident_not_found(id: &str) -> Error {
    Error::NotFound {
        detail: format!("Incident '{id}' not found."),
        target: Some("incident.id".into()),
    }
}

/// The activity comment a link or unlink adds to the incident.
fn activity(ticket: &TicketRow, what: &str, author: &str) -> NewComment {
    let shown = ticket.number.as_deref().unwrap_or(&ticket.ticket_id);
    NewComment {
        message: format!("Service ticket {shown} ({}) {what}.", ticket.psa),
        author_name: Some(author.to_string()),
        author_email: None,
        is_activity: true,
        is_closing: false,
        ticket_id: Some(ticket.ticket_id.clone()),
    }
}

impl Tenant<'_> {
    /// Creates or replaces a ticket. Returns it and whether it was created.
    pub async fn upsert_ticket(
        &self,
        ws: &WorkspaceId,
        ticket_id: &str,
        f: &TicketFields,
    ) -> Result<(TicketRow, bool)> {
        let ws_id = self.own(ws)?;
        let mut tx = self.store.begin_write().await?;
        let now = now_micros();
        // Insert-or-nothing first, so concurrent creators of one ticket do not collide.
        let created = sql(
            "INSERT INTO tickets (workspace_id, ticket_id, id, organization_id, psa, number, grouping_id, \
             priority, doc, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT (workspace_id, ticket_id) DO NOTHING",
            (ws_id, ticket_id, Uuid::new_v4(), self.org),
        )
        .params(f.params())
        .bind(now)
        .execute(&mut *tx)
        .await?
            == 1;
        if !created {
            let updated = sql(
                "UPDATE tickets SET psa = $4, number = $5, grouping_id = $6, priority = $7, doc = $8, \
                 modified_at = $9 WHERE organization_id = $1 AND workspace_id = $2 AND ticket_id = $3",
                (self.org, ws_id, ticket_id),
            )
            .params(f.params())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if updated == 0 {
                return Err(Error::Internal("ticket vanished during upsert".into()));
            }
        }
        let row = self
            .ticket_in(&mut tx, ws_id, ticket_id)
            .await?
            .ok_or_else(|| Error::Internal("ticket vanished".into()))?;
        tx.commit().await?;
        Ok((row, created))
    }

    /// A ticket of this organization's workspace `ws` (already checked), locked on
    /// PostgreSQL for the rest of `tx`.
    async fn ticket_in(&self, tx: &mut Tx, ws: Uuid, ticket_id: &str) -> Result<Option<TicketRow>> {
        let lock = if self.store.backend() == Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        sql(
            &format!(
                "SELECT {TICKET_COLS} FROM tickets WHERE organization_id = $1 AND workspace_id = $2 \
                 AND ticket_id = $3{lock}"
            ),
            (self.org, ws, ticket_id),
        )
        .fetch_optional(&mut **tx)
        .await
    }

    pub async fn get_ticket(&self, ws: &WorkspaceId, ticket_id: &str) -> Result<Option<TicketRow>> {
        sql(
            &format!(
                "SELECT {TICKET_COLS} FROM tickets WHERE organization_id = $1 AND workspace_id = $2 \
                 AND ticket_id = $3"
            ),
            (self.org, self.own(ws)?, ticket_id),
        )
        .fetch_optional(self.store.read())
        .await
    }

    /// Tickets of a workspace with this grouping id and/or number, newest first.
    pub async fn search_tickets(
        &self,
        ws: &WorkspaceId,
        grouping_id: Option<&str>,
        number: Option<&str>,
        limit: i64,
    ) -> Result<Vec<TicketRow>> {
        let mut text = format!(
            "SELECT {TICKET_COLS} FROM tickets WHERE organization_id = $1 AND workspace_id = $2"
        );
        let mut n = 2;
        if grouping_id.is_some() {
            n += 1;
            text.push_str(&format!(" AND grouping_id = ${n}"));
        }
        if number.is_some() {
            n += 1;
            text.push_str(&format!(" AND number = ${n}"));
        }
        text.push_str(&format!(
            " ORDER BY created_at DESC, ticket_id LIMIT {limit}"
        ));
        let mut q = sql(&text, (self.org, self.own(ws)?));
        for value in [grouping_id, number].into_iter().flatten() {
            q = q.bind(value);
        }
        q.fetch_all(self.store.read()).await
    }

    /// The incidents each of these tickets of a workspace is linked to, oldest link first.
    pub async fn ticket_links(
        &self,
        ws: &WorkspaceId,
        ticket_ids: &[String],
    ) -> Result<HashMap<String, Vec<TicketLink>>> {
        let ws = self.own(ws)?;
        let mut out: HashMap<String, Vec<TicketLink>> = HashMap::new();
        for chunk in ticket_ids.chunks(150) {
            let text = format!(
                "SELECT l.ticket_id, l.source, l.incident_id, i.number, l.created_at FROM incident_tickets l \
                 JOIN incidents i ON i.workspace_id = l.workspace_id AND i.source = l.source AND i.id = l.incident_id \
                 WHERE l.organization_id = $1 AND l.workspace_id = $2 AND l.ticket_id IN ({}) \
                 ORDER BY l.created_at, l.incident_id",
                placeholders(3, chunk.len())
            );
            let mut q = sql(&text, (self.org, ws));
            for t in chunk {
                q = q.bind(t.as_str());
            }
            let rows: Vec<LinkOf> = q.fetch_all(self.store.read()).await?;
            for r in rows {
                out.entry(r.ticket_id).or_default().push(r.link);
            }
        }
        Ok(out)
    }

    /// Sets a ticket's priority and its PSA document (the caller rewrote the PSA's own
    /// priority field). `None`: no such ticket.
    pub async fn set_ticket_priority(
        &self,
        ws: &WorkspaceId,
        ticket_id: &str,
        priority: &str,
        doc: &str,
    ) -> Result<Option<TicketRow>> {
        let updated = sql(
            "UPDATE tickets SET priority = $4, doc = $5, modified_at = $6 \
             WHERE organization_id = $1 AND workspace_id = $2 AND ticket_id = $3",
            (
                self.org,
                self.own(ws)?,
                ticket_id,
                priority,
                doc,
                now_micros(),
            ),
        )
        .execute(self.store.writer())
        .await?;
        if updated == 0 {
            return Ok(None);
        }
        self.get_ticket(ws, ticket_id).await
    }

    /// Links a ticket to an incident of its workspace (idempotent). Returns whether the link
    /// is new.
    pub async fn link_ticket(
        &self,
        incident: &IncidentKey,
        ticket_id: &str,
        author: &str,
    ) -> Result<bool> {
        let mut tx = self.store.begin_write().await?;
        let newly = self
            .link_ticket_in(&mut tx, incident, ticket_id, author)
            .await?;
        tx.commit().await?;
        if newly {
            self.store.events_written();
        }
        Ok(newly)
    }

    /// [`Tenant::link_ticket`] in the caller's transaction. Fails with `NOT_FOUND` before
    /// writing anything when the ticket or the incident does not exist.
    pub(crate) async fn link_ticket_in(
        &self,
        tx: &mut Tx,
        key: &IncidentKey,
        ticket_id: &str,
        author: &str,
    ) -> Result<bool> {
        let ws = self.own(&key.workspace)?;
        let ticket = self
            .ticket_in(tx, ws, ticket_id)
            .await?
            .ok_or_else(|| ticket_not_found(ticket_id))?;
        let incident: Option<(i64, String)> = sql(
            "SELECT number, title FROM incidents WHERE organization_id = $1 AND workspace_id = $2 \
             AND source = $3 AND id = $4",
            (self.org, ws, key.source, key.id.as_str()),
        )
        .fetch_optional(&mut **tx)
        .await?;
        let (number, title) = incident.ok_or_else(|| incident_not_found(&key.id))?;
        let now = now_micros();
        let linked = sql(
            "INSERT INTO incident_tickets (workspace_id, ticket_id, source, incident_id, organization_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, ticket_id, source, incident_id) DO NOTHING",
            (ws, ticket_id, key.source, key.id.as_str(), self.org, now),
        )
        .execute(&mut **tx)
        .await?;
        if linked == 0 {
            return Ok(false);
        }
        let comment = activity(&ticket, "linked", author);
        self.modify_incident_in(tx, key, |row| Ok((row.doc.clone(), vec![comment])))
            .await?;
        let account = workspace_account(tx, &self.org, ws).await?;
        let at = palisade_domain::time::from_micros(now)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let data = json!({
            "accountId": account.0,
            "accountName": account.1,
            "workspaceId": ws,
            "ticketId": ticket_id,
            "ticketNumber": ticket.number,
            "psa": ticket.psa,
            "priority": ticket.priority,
            "incidentId": key.id,
            "incidentNumber": number,
            "title": title,
            "source": key.source.lowercase(),
            "linkedBy": author,
            "linkedAt": at,
        });
        insert_event(
            tx,
            &self.org,
            ws,
            account.0,
            "ticket.linked",
            &format!("ticket/{ticket_id}"),
            &data,
            now,
        )
        .await?;
        Ok(true)
    }

    /// Unlinks a ticket from an incident (idempotent; the ticket and the incident must
    /// exist). An existing link's removal adds an activity comment. Returns whether a link
    /// was removed.
    pub async fn unlink_ticket(
        &self,
        key: &IncidentKey,
        ticket_id: &str,
        author: &str,
    ) -> Result<bool> {
        let ws = self.own(&key.workspace)?;
        let mut tx = self.store.begin_write().await?;
        let ticket = self
            .ticket_in(&mut tx, ws, ticket_id)
            .await?
            .ok_or_else(|| ticket_not_found(ticket_id))?;
        let removed = sql(
            "DELETE FROM incident_tickets WHERE organization_id = $1 AND workspace_id = $2 AND ticket_id = $3 \
             AND source = $4 AND incident_id = $5",
            (self.org, ws, ticket_id, key.source, key.id.as_str()),
        )
        .execute(&mut *tx)
        .await?
            > 0;
        let comments = if removed {
            vec![activity(&ticket, "unlinked", author)]
        } else {
            Vec::new()
        };
        let found = self
            .modify_incident_in(&mut tx, key, |row| Ok((row.doc.clone(), comments)))
            .await?;
        if found.is_none() {
            return Err(incident_not_found(&key.id));
        }
        tx.commit().await?;
        Ok(removed)
    }
}
