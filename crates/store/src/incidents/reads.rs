//! Incident reads: one incident, incidents sharing an entity, and the cross-workspace listing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use palisade_domain::time::to_micros;
use palisade_domain::vocab::{IncidentSource, IncidentStatus, Severity};
use palisade_domain::Result;
use uuid::Uuid;

use super::{IncidentRow, ListSummary, INCIDENT_COLS};
use crate::db::sql;
use crate::{IncidentKey, Tenant, WorkspaceId};

/// A position in the cross-workspace order: `(createdAt, workspaceId, source, id)`, newest
/// first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: i64,
    pub workspace_id: Uuid,
    pub source: IncidentSource,
    pub id: String,
}

/// Filters of the cross-workspace listing.
#[derive(Debug, Clone, Default)]
pub struct AcrossFilter {
    /// `None`: every workspace of the organization.
    pub workspaces: Option<Vec<WorkspaceId>>,
    pub sources: Vec<IncidentSource>,
    pub severities: Vec<Severity>,
    pub statuses: Vec<IncidentStatus>,
    /// Inclusive bounds on `createdAt` (microseconds).
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Lowercased text matched against id (exact), number, title and description.
    pub query: Option<String>,
    /// Lowercased owner emails; `include_unassigned` adds incidents without an owner (alone:
    /// only those).
    pub assignees: Vec<String>,
    pub include_unassigned: bool,
}

/// An incident as the cross-workspace listing shows it (columns and the summary, not the
/// document).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct IncidentListRow {
    #[sqlx(try_from = "String")]
    pub workspace_id: Uuid,
    #[sqlx(try_from = "crate::db::row::Vocab")]
    pub source: IncidentSource,
    pub id: String,
    pub number: i64,
    pub title: String,
    pub description: Option<String>,
    #[sqlx(try_from = "crate::db::row::Vocab")]
    pub severity: Severity,
    #[sqlx(try_from = "crate::db::row::Vocab")]
    pub status: IncidentStatus,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub updated_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::row::JsonText")]
    pub summary: ListSummary,
}

const LIST_COLS: &str = "workspace_id, source, id, number, title, description, severity, status, \
                         created_at, updated_at, summary";

/// A parameter of the listing statement, appended as the filters are.
enum Bind {
    S(String),
    I(i64),
}

impl Tenant<'_> {
    pub async fn get_incident(&self, key: &IncidentKey) -> Result<Option<IncidentRow>> {
        sql(
            &format!(
                "SELECT {INCIDENT_COLS} FROM incidents WHERE organization_id = $1 \
                 AND workspace_id = $2 AND source = $3 AND id = $4"
            ),
            (
                self.org,
                self.own(&key.workspace)?,
                key.source,
                key.id.as_str(),
            ),
        )
        .fetch_optional(self.store.read())
        .await
    }

    /// Incidents of one workspace and source with an entity of `kind` matching `key`, created
    /// in `[since, until]`, newest first.
    #[allow(clippy::too_many_arguments)]
    pub async fn incidents_by_entity(
        &self,
        workspace: &WorkspaceId,
        source: IncidentSource,
        kind: &str,
        key: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        exclude: Option<&str>,
        limit: i64,
    ) -> Result<Vec<IncidentRow>> {
        let text = format!(
            "SELECT {} FROM incidents i WHERE i.organization_id = $1 AND i.workspace_id = $2 \
             AND i.source = $3 AND i.created_at >= $6 AND i.created_at <= $7 AND i.id <> $8 \
             AND EXISTS (SELECT 1 FROM incident_entity_index k WHERE k.workspace_id = $2 \
             AND k.source = $3 AND k.kind = $4 AND k.entity_key = $5 AND k.incident_id = i.id) \
             ORDER BY i.created_at DESC, i.id DESC LIMIT $9",
            INCIDENT_COLS
                .split(", ")
                .map(|c| format!("i.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        sql(
            &text,
            (
                self.org,
                self.own(workspace)?,
                source,
                kind,
                key.to_lowercase(),
                to_micros(since),
                to_micros(until),
                exclude.unwrap_or(""),
                limit,
            ),
        )
        .fetch_all(self.store.read())
        .await
    }

    /// One page of the cross-workspace listing: up to `limit` incidents after `after`, newest
    /// first by `(createdAt, workspaceId, source, id)`.
    pub async fn list_across(
        &self,
        f: &AcrossFilter,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<IncidentListRow>> {
        let workspaces = match &f.workspaces {
            Some(list) => Some(
                list.iter()
                    .map(|w| self.own(w))
                    .collect::<Result<Vec<Uuid>>>()?,
            ),
            None => None,
        };
        if workspaces.as_ref().is_some_and(|w| w.is_empty()) || f.sources.is_empty() {
            return Ok(Vec::new());
        }
        let mut text = format!("SELECT {LIST_COLS} FROM incidents WHERE organization_id = $1");
        let mut binds: Vec<Bind> = vec![Bind::S(self.org.to_string())];
        let mut push = |sql: &mut String, binds: &mut Vec<Bind>, b: Bind| {
            binds.push(b);
            sql.push_str(&format!("${}", binds.len()));
        };
        let list = |sql: &mut String,
                    binds: &mut Vec<Bind>,
                    col: &str,
                    values: Vec<String>,
                    push: &mut dyn FnMut(&mut String, &mut Vec<Bind>, Bind)| {
            sql.push_str(&format!(" AND {col} IN ("));
            for (i, v) in values.into_iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                push(sql, binds, Bind::S(v));
            }
            sql.push(')');
        };
        if let Some(workspaces) = &workspaces {
            list(
                &mut text,
                &mut binds,
                "workspace_id",
                workspaces.iter().map(|w| w.to_string()).collect(),
                &mut push,
            );
        }
        if f.sources.len() < IncidentSource::ALL.len() {
            list(
                &mut text,
                &mut binds,
                "source",
                f.sources.iter().map(|s| s.as_str().to_string()).collect(),
                &mut push,
            );
        }
        if !f.severities.is_empty() {
            list(
                &mut text,
                &mut binds,
                "severity",
                f.severities
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect(),
                &mut push,
            );
        }
        if !f.statuses.is_empty() {
            list(
                &mut text,
                &mut binds,
                "status",
                f.statuses.iter().map(|s| s.as_str().to_string()).collect(),
                &mut push,
            );
        }
        if let Some(t) = f.since {
            text.push_str(" AND created_at >= ");
            push(&mut text, &mut binds, Bind::I(t));
        }
        if let Some(t) = f.until {
            text.push_str(" AND created_at <= ");
            push(&mut text, &mut binds, Bind::I(t));
        }
        if let Some(q) = &f.query {
            let escaped = q
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let like = format!("%{escaped}%");
            text.push_str(" AND (LOWER(title) LIKE ");
            push(&mut text, &mut binds, Bind::S(like.clone()));
            text.push_str(" ESCAPE '\\' OR LOWER(COALESCE(description, '')) LIKE ");
            push(&mut text, &mut binds, Bind::S(like));
            text.push_str(" ESCAPE '\\' OR LOWER(id) = ");
            push(&mut text, &mut binds, Bind::S(q.clone()));
            if let Ok(n) = q.trim_start_matches('#').parse::<i64>() {
                text.push_str(" OR number = ");
                push(&mut text, &mut binds, Bind::I(n));
            }
            text.push(')');
        }
        if !f.assignees.is_empty() {
            text.push_str(" AND (owner_email IN (");
            for (i, a) in f.assignees.iter().enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                push(&mut text, &mut binds, Bind::S(a.clone()));
            }
            text.push(')');
            if f.include_unassigned {
                text.push_str(" OR owner_email IS NULL");
            }
            text.push(')');
        } else if f.include_unassigned {
            // Alone, "unassigned" means only incidents without an owner.
            text.push_str(" AND owner_email IS NULL");
        }
        if let Some(c) = after {
            text.push_str(" AND (created_at, workspace_id, source, id) < (");
            push(&mut text, &mut binds, Bind::I(c.created_at));
            text.push_str(", ");
            push(&mut text, &mut binds, Bind::S(c.workspace_id.to_string()));
            text.push_str(", ");
            push(
                &mut text,
                &mut binds,
                Bind::S(c.source.as_str().to_string()),
            );
            text.push_str(", ");
            push(&mut text, &mut binds, Bind::S(c.id.clone()));
            text.push(')');
        }
        text.push_str(" ORDER BY created_at DESC, workspace_id DESC, source DESC, id DESC LIMIT ");
        push(&mut text, &mut binds, Bind::I(limit));
        let mut q = sql(&text, ());
        for b in binds {
            q = match b {
                Bind::S(s) => q.bind(s),
                Bind::I(i) => q.bind(i),
            };
        }
        q.fetch_all(self.store.read()).await
    }

    /// The oldest `createdAt` of every workspace × source stream of the organization.
    pub async fn stream_floors(&self) -> Result<HashMap<(Uuid, IncidentSource), i64>> {
        // Six per workspace: thousands for a large MSSP, read on every page with more.
        let floors: Vec<(Uuid, String, i64)> = self
            .store
            .org_rows_aggregated(
                &self.org,
                "incident_streams",
                "workspace_id, source, oldest_created_at",
            )
            .await?;
        Ok(floors
            .into_iter()
            .filter_map(|(ws, source, oldest)| {
                Some(((ws, IncidentSource::parse(&source)?), oldest))
            })
            .collect())
    }
}
