//! Service tickets and their links to incidents. Linking adds an activity comment carrying
//! the ticket id to the incident and writes `ticket.linked`, in one transaction.

use std::collections::HashMap;

use crate::OrgId;
use palisade_domain::{Error, Result};
use palisade_types::incidents::IncidentSource;
use serde_json::json;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::db::{db_err, get_i64, get_opt_str, get_str, get_uuid, now_micros};
use crate::outbox::{insert_event, workspace_account};
use crate::{Backend, NewComment, Store};
use crate::{IncidentKey, WorkspaceId};

type AnyTx = crate::db::Tx;

/// A stored ticket; `doc` is the PSA sub-object as JSON text.
#[derive(Debug, Clone)]
pub struct TicketRow {
    pub id: Uuid,
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

/// An incident a ticket is linked to.
#[derive(Debug, Clone)]
pub struct TicketLink {
    pub source: String,
    pub incident_id: String,
    pub number: i64,
    pub linked_at: i64,
}

const TICKET_COLS: &str = "id, workspace_id, ticket_id, psa, number, grouping_id, priority, doc, \
     created_at, modified_at";

fn ticket_from(r: &AnyRow) -> Result<TicketRow> {
    Ok(TicketRow {
        id: get_uuid(r, "id")?,
        workspace_id: get_uuid(r, "workspace_id")?,
        ticket_id: get_str(r, "ticket_id")?,
        psa: get_str(r, "psa")?,
        number: get_opt_str(r, "number")?,
        grouping_id: get_opt_str(r, "grouping_id")?,
        priority: get_opt_str(r, "priority")?,
        doc: get_str(r, "doc")?,
        created_at: get_i64(r, "created_at")?,
        modified_at: get_i64(r, "modified_at")?,
    })
}

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

impl Store {
    /// Creates or replaces a ticket. Returns it and whether it was created.
    pub async fn upsert_ticket(
        &self,
        org: &OrgId,
        ws: Uuid,
        ticket_id: &str,
        f: &TicketFields,
    ) -> Result<(TicketRow, bool)> {
        let mut tx = self.begin_write().await?;
        let now = now_micros();
        // Insert-or-nothing first, so concurrent creators of one ticket do not collide.
        let created = sqlx::query(
            "INSERT INTO tickets (workspace_id, ticket_id, id, organization_id, psa, number, grouping_id, \
             priority, doc, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT (workspace_id, ticket_id) DO NOTHING",
        )
        .bind(ws.to_string())
        .bind(ticket_id)
        .bind(Uuid::new_v4().to_string())
        .bind(org.to_string())
        .bind(f.psa.clone())
        .bind(f.number.clone())
        .bind(f.grouping_id.clone())
        .bind(f.priority.clone())
        .bind(f.doc.clone())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            == 1;
        if !created {
            let done = sqlx::query(
                "UPDATE tickets SET psa = $4, number = $5, grouping_id = $6, priority = $7, doc = $8, \
                 modified_at = $9 WHERE organization_id = $1 AND workspace_id = $2 AND ticket_id = $3",
            )
            .bind(org.to_string())
            .bind(ws.to_string())
            .bind(ticket_id)
            .bind(f.psa.clone())
            .bind(f.number.clone())
            .bind(f.grouping_id.clone())
            .bind(f.priority.clone())
            .bind(f.doc.clone())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            if done.rows_affected() == 0 {
                return Err(Error::Internal("ticket vanished during upsert".into()));
            }
        }
        let row = self
            .ticket_in(&mut tx, org, ws, ticket_id)
            .await?
            .ok_or_else(|| Error::Internal("ticket vanished".into()))?;
        tx.commit().await?;
        Ok((row, created))
    }

    async fn ticket_in(
        &self,
        tx: &mut AnyTx,
        org: &OrgId,
        ws: Uuid,
        ticket_id: &str,
    ) -> Result<Option<TicketRow>> {
        let lock = if self.backend() == Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let row = sqlx::query(&format!(
            "SELECT {TICKET_COLS} FROM tickets WHERE organization_id = $1 AND workspace_id = $2 AND ticket_id = $3{lock}"
        ))
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(ticket_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?;
        row.as_ref().map(ticket_from).transpose()
    }

    pub async fn get_ticket(
        &self,
        org: &OrgId,
        ws: Uuid,
        ticket_id: &str,
    ) -> Result<Option<TicketRow>> {
        let row = sqlx::query(&format!(
            "SELECT {TICKET_COLS} FROM tickets WHERE organization_id = $1 AND workspace_id = $2 AND ticket_id = $3"
        ))
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(ticket_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(ticket_from).transpose()
    }

    /// Tickets of a workspace with this grouping id and/or number, newest first.
    pub async fn search_tickets(
        &self,
        org: &OrgId,
        ws: Uuid,
        grouping_id: Option<&str>,
        number: Option<&str>,
        limit: i64,
    ) -> Result<Vec<TicketRow>> {
        let mut sql = format!(
            "SELECT {TICKET_COLS} FROM tickets WHERE organization_id = $1 AND workspace_id = $2"
        );
        let mut binds = vec![org.to_string(), ws.to_string()];
        if let Some(g) = grouping_id {
            binds.push(g.to_string());
            sql.push_str(&format!(" AND grouping_id = ${}", binds.len()));
        }
        if let Some(n) = number {
            binds.push(n.to_string());
            sql.push_str(&format!(" AND number = ${}", binds.len()));
        }
        sql.push_str(&format!(
            " ORDER BY created_at DESC, ticket_id LIMIT {limit}"
        ));
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter().map(ticket_from).collect()
    }

    /// The incidents each of these tickets is linked to, oldest link first.
    pub async fn ticket_links(
        &self,
        ws: Uuid,
        ticket_ids: &[String],
    ) -> Result<HashMap<String, Vec<TicketLink>>> {
        let mut out: HashMap<String, Vec<TicketLink>> = HashMap::new();
        for chunk in ticket_ids.chunks(150) {
            let ps: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT l.ticket_id, l.source, l.incident_id, i.number, l.created_at FROM incident_tickets l \
                 JOIN incidents i ON i.workspace_id = l.workspace_id AND i.source = l.source AND i.id = l.incident_id \
                 WHERE l.workspace_id = $1 AND l.ticket_id IN ({}) ORDER BY l.created_at, l.incident_id",
                ps.join(", ")
            );
            let mut q = sqlx::query(&sql).bind(ws.to_string());
            for t in chunk {
                q = q.bind(t.clone());
            }
            for r in q.fetch_all(&self.pool).await.map_err(db_err)? {
                out.entry(get_str(&r, "ticket_id")?)
                    .or_default()
                    .push(TicketLink {
                        source: get_str(&r, "source")?,
                        incident_id: get_str(&r, "incident_id")?,
                        number: get_i64(&r, "number")?,
                        linked_at: get_i64(&r, "created_at")?,
                    });
            }
        }
        Ok(out)
    }

    /// Sets a ticket's priority and its PSA document (the caller rewrote the PSA's own
    /// priority field). `None`: no such ticket.
    pub async fn set_ticket_priority(
        &self,
        org: &OrgId,
        ws: Uuid,
        ticket_id: &str,
        priority: &str,
        doc: &str,
    ) -> Result<Option<TicketRow>> {
        let done = sqlx::query(
            "UPDATE tickets SET priority = $4, doc = $5, modified_at = $6 \
             WHERE organization_id = $1 AND workspace_id = $2 AND ticket_id = $3",
        )
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(ticket_id)
        .bind(priority)
        .bind(doc)
        .bind(now_micros())
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_ticket(org, ws, ticket_id).await
    }

    /// Links a ticket to an incident (idempotent). Returns whether the link is new.
    pub async fn link_ticket(
        &self,
        org: &OrgId,
        ws: Uuid,
        ticket_id: &str,
        source: IncidentSource,
        incident: &str,
        author: &str,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let newly = self
            .link_ticket_in(&mut tx, org, ws, ticket_id, source, incident, author)
            .await?;
        tx.commit().await?;
        if newly {
            self.events_written();
        }
        Ok(newly)
    }

    /// [`Store::link_ticket`] in the caller's transaction. Fails with `NOT_FOUND` before
    /// writing anything when the ticket or the incident does not exist.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn link_ticket_in(
        &self,
        tx: &mut AnyTx,
        org: &OrgId,
        ws: Uuid,
        ticket_id: &str,
        source: IncidentSource,
        incident: &str,
        author: &str,
    ) -> Result<bool> {
        let ticket = self
            .ticket_in(tx, org, ws, ticket_id)
            .await?
            .ok_or_else(|| ticket_not_found(ticket_id))?;
        let inc = sqlx::query(
            "SELECT number, title FROM incidents WHERE organization_id = $1 AND workspace_id = $2 \
             AND source = $3 AND id = $4",
        )
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(source.as_str())
        .bind(incident)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?
        .ok_or_else(|| incident_not_found(incident))?;
        let now = now_micros();
        let done = sqlx::query(
            "INSERT INTO incident_tickets (workspace_id, ticket_id, source, incident_id, organization_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, ticket_id, source, incident_id) DO NOTHING",
        )
        .bind(ws.to_string())
        .bind(ticket_id)
        .bind(source.as_str())
        .bind(incident)
        .bind(org.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let shown = ticket
            .number
            .clone()
            .unwrap_or_else(|| ticket_id.to_string());
        let comment = NewComment {
            message: format!("Service ticket {shown} ({}) linked.", ticket.psa),
            author_name: Some(author.to_string()),
            author_email: None,
            is_activity: true,
            is_closing: false,
            ticket_id: Some(ticket_id.to_string()),
        };
        let key = IncidentKey::new(WorkspaceId::verified(*org, ws), source, incident);
        self.tenant(org)
            .modify_incident_in(tx, &key, |row| Ok((row.doc.clone(), vec![comment])))
            .await?;
        let account = workspace_account(tx, org, ws).await?;
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
            "incidentId": incident,
            "incidentNumber": get_i64(&inc, "number")?,
            "title": get_str(&inc, "title")?,
            "source": source.lowercase(),
            "linkedBy": author,
            "linkedAt": at,
        });
        insert_event(
            tx,
            org,
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
        org: &OrgId,
        ws: Uuid,
        ticket_id: &str,
        source: IncidentSource,
        incident: &str,
        author: &str,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let ticket = self
            .ticket_in(&mut tx, org, ws, ticket_id)
            .await?
            .ok_or_else(|| ticket_not_found(ticket_id))?;
        let done = sqlx::query(
            "DELETE FROM incident_tickets WHERE organization_id = $1 AND workspace_id = $2 AND ticket_id = $3 \
             AND source = $4 AND incident_id = $5",
        )
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(ticket_id)
        .bind(source.as_str())
        .bind(incident)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let removed = done.rows_affected() > 0;
        let shown = ticket
            .number
            .clone()
            .unwrap_or_else(|| ticket_id.to_string());
        let comments = if removed {
            vec![NewComment {
                message: format!("Service ticket {shown} ({}) unlinked.", ticket.psa),
                author_name: Some(author.to_string()),
                author_email: None,
                is_activity: true,
                is_closing: false,
                ticket_id: Some(ticket_id.to_string()),
            }]
        } else {
            Vec::new()
        };
        let found = self
            .tenant(org)
            .modify_incident_in(
                &mut tx,
                &IncidentKey::new(WorkspaceId::verified(*org, ws), source, incident),
                |row| Ok((row.doc.clone(), comments)),
            )
            .await?;
        if found.is_none() {
            return Err(incident_not_found(incident));
        }
        tx.commit().await?;
        Ok(removed)
    }
}
