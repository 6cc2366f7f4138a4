//! Investigation logs (sign-in and directory audit) and the audit trail of their queries.
//!
//! Each log row keeps its item as JSON (`doc`) and the query keys as columns; reads walk the
//! index `(organization_id, workspace_id, user_key|upn_key, created_at DESC, id DESC)`.

use palisade_domain::Result;
use uuid::Uuid;

use crate::db::{placeholders, sql, MAX_PARAMS};
use crate::{Tenant, WorkspaceId};

/// Which log a call reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    SignIn,
    Directory,
}

impl LogKind {
    fn table(self) -> &'static str {
        match self {
            LogKind::SignIn => "signin_logs",
            LogKind::Directory => "directory_logs",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::SignIn => "SignInLogs",
            LogKind::Directory => "DirectoryLogs",
        }
    }
}

/// A log item to store.
#[derive(Debug, Clone)]
pub struct NewLogRow {
    pub id: String,
    /// The user's object id, lowercased (may be empty).
    pub user_key: String,
    /// The user principal name, lowercased (may be empty).
    pub upn_key: String,
    pub created_at: i64,
    pub doc: String,
}

/// A stored log item.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LogItemRow {
    pub id: String,
    pub created_at: i64,
    pub doc: String,
}

/// Which column a query matches the user on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserMatch {
    ObjectId,
    PrincipalName,
    /// Every user of the workspace (the key is not used).
    Any,
}

/// One recorded investigation query.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub workspace_id: Uuid,
    #[sqlx(try_from = "String")]
    pub service_account_id: Uuid,
    #[sqlx(try_from = "String")]
    pub credential_id: Uuid,
    pub log_kind: String,
    pub user_id: String,
    pub time_filtering_type: String,
    pub start_at: i64,
    pub end_at: i64,
    #[sqlx(try_from = "crate::db::row::Flag")]
    pub continuation: bool,
    pub entity_name: Option<String>,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub result_count: i64,
    pub created_at: i64,
}

impl Tenant<'_> {
    /// Stores log items in one transaction; an item whose id the workspace already holds is
    /// skipped. Returns how many were new.
    pub async fn insert_logs(
        &self,
        ws: &WorkspaceId,
        kind: LogKind,
        rows: &[NewLogRow],
        ingested_at: i64,
    ) -> Result<u64> {
        const COLS: usize = 8;
        let ws = self.own(ws)?;
        let mut tx = self.store.begin_write().await?;
        let mut inserted = 0;
        for chunk in rows.chunks(MAX_PARAMS / COLS) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(1 + i * COLS, COLS)))
                .collect();
            let text = format!(
                "INSERT INTO {} (workspace_id, id, organization_id, user_key, upn_key, created_at, doc, ingested_at) \
                 VALUES {} ON CONFLICT (workspace_id, id) DO NOTHING",
                kind.table(),
                values.join(", ")
            );
            let mut q = sql(&text, ());
            for r in chunk {
                q = q
                    .bind(ws)
                    .bind(&r.id)
                    .bind(self.org)
                    .bind(&r.user_key)
                    .bind(&r.upn_key)
                    .bind(r.created_at)
                    .bind(&r.doc)
                    .bind(ingested_at);
            }
            inserted += q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// One user's log items (every user's with [`UserMatch::Any`]) with
    /// `since <= created_at <= until`, newest first by `(created_at, id)`, strictly after the
    /// cursor when one is given.
    #[allow(clippy::too_many_arguments)]
    pub async fn query_logs(
        &self,
        ws: &WorkspaceId,
        kind: LogKind,
        by: UserMatch,
        key: &str,
        since: i64,
        until: i64,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<LogItemRow>> {
        let column = match by {
            UserMatch::ObjectId => "user_key",
            UserMatch::PrincipalName => "upn_key",
            // Binds the key all the same, so the parameters keep their numbers.
            UserMatch::Any => "$3",
        };
        let (c_at, c_id) = after.unwrap_or((i64::MAX, ""));
        sql(
            &format!(
                "SELECT id, created_at, doc FROM {} \
                 WHERE organization_id = $1 AND workspace_id = $2 AND {column} = $3 \
                 AND created_at >= $4 AND created_at <= $5 \
                 AND (created_at < $6 OR (created_at = $6 AND id < $7 AND $7 <> '')) \
                 ORDER BY created_at DESC, id DESC LIMIT $8",
                kind.table()
            ),
            (
                self.org,
                self.own(ws)?,
                key,
                since,
                until,
                c_at,
                c_id,
                limit,
            ),
        )
        .fetch_all(self.store.read())
        .await
    }

    /// Records one investigation query in the trail of the workspace `a.workspace_id` names.
    pub async fn insert_investigation_audit(&self, ws: &WorkspaceId, a: &AuditRow) -> Result<()> {
        sql(
            "INSERT INTO investigation_audit (id, organization_id, workspace_id, service_account_id, \
             credential_id, log_kind, user_id, time_filtering_type, start_at, end_at, continuation, \
             entity_name, resource_id, resource_name, result_count, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            (
                a.id,
                self.org,
                self.own(ws)?,
                a.service_account_id,
                a.credential_id,
                &a.log_kind,
                &a.user_id,
                &a.time_filtering_type,
                a.start_at,
                a.end_at,
                a.continuation,
                &a.entity_name,
                &a.resource_id,
                &a.resource_name,
                a.result_count,
                a.created_at,
            ),
        )
        .execute(self.store.writer())
        .await?;
        Ok(())
    }

    /// A workspace's audit trail, newest first by `(created_at, id)`, after the cursor.
    pub async fn list_investigation_audit(
        &self,
        ws: &WorkspaceId,
        after: Option<(i64, Uuid)>,
        limit: i64,
    ) -> Result<Vec<AuditRow>> {
        let (c_at, c_id) = after
            .map(|(t, id)| (t, id.to_string()))
            .unwrap_or((i64::MAX, String::new()));
        sql(
            "SELECT id, workspace_id, service_account_id, credential_id, log_kind, user_id, \
             time_filtering_type, start_at, end_at, continuation, entity_name, resource_id, \
             resource_name, result_count, created_at FROM investigation_audit \
             WHERE organization_id = $1 AND workspace_id = $2 \
             AND (created_at < $3 OR (created_at = $3 AND id < $4 AND $4 <> '')) \
             ORDER BY created_at DESC, id DESC LIMIT $5",
            (self.org, self.own(ws)?, c_at, c_id, limit),
        )
        .fetch_all(self.store.read())
        .await
    }
}
