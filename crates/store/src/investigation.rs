//! Investigation logs (sign-in and directory audit) and the audit trail of their queries.
//!
//! Each log row keeps its item as JSON (`doc`) and the query keys as columns; reads walk the
//! index `(organization_id, workspace_id, user_key|upn_key, created_at DESC, id DESC)`.

use crate::OrgId;
use palisade_domain::Result;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::db::{db_err, get_bool, get_i64, get_opt_str, get_str, get_uuid, MAX_PARAMS};
use crate::Store;

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
#[derive(Debug, Clone)]
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
}

/// One recorded investigation query.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub service_account_id: Uuid,
    pub credential_id: Uuid,
    pub log_kind: String,
    pub user_id: String,
    pub time_filtering_type: String,
    pub start_at: i64,
    pub end_at: i64,
    pub continuation: bool,
    pub entity_name: Option<String>,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub result_count: i64,
    pub created_at: i64,
}

fn audit_from(r: &AnyRow) -> Result<AuditRow> {
    Ok(AuditRow {
        id: get_uuid(r, "id")?,
        workspace_id: get_uuid(r, "workspace_id")?,
        service_account_id: get_uuid(r, "service_account_id")?,
        credential_id: get_uuid(r, "credential_id")?,
        log_kind: get_str(r, "log_kind")?,
        user_id: get_str(r, "user_id")?,
        time_filtering_type: get_str(r, "time_filtering_type")?,
        start_at: get_i64(r, "start_at")?,
        end_at: get_i64(r, "end_at")?,
        continuation: get_bool(r, "continuation")?,
        entity_name: get_opt_str(r, "entity_name")?,
        resource_id: get_opt_str(r, "resource_id")?,
        resource_name: get_opt_str(r, "resource_name")?,
        result_count: get_i64(r, "result_count")?,
        created_at: get_i64(r, "created_at")?,
    })
}

impl Store {
    /// Stores log items in one transaction; an item whose id the workspace already holds is
    /// skipped. Returns how many were new.
    pub async fn insert_logs(
        &self,
        org: &OrgId,
        ws: Uuid,
        kind: LogKind,
        rows: &[NewLogRow],
        ingested_at: i64,
    ) -> Result<u64> {
        const COLS: usize = 8;
        let mut tx = self.begin_write().await?;
        let mut inserted = 0;
        for chunk in rows.chunks(MAX_PARAMS / COLS) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = i * COLS;
                    let p: Vec<String> = (1..=COLS).map(|k| format!("${}", b + k)).collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO {} (workspace_id, id, organization_id, user_key, upn_key, created_at, doc, ingested_at) \
                 VALUES {} ON CONFLICT (workspace_id, id) DO NOTHING",
                kind.table(),
                values.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(ws.to_string())
                    .bind(&r.id)
                    .bind(org.to_string())
                    .bind(&r.user_key)
                    .bind(&r.upn_key)
                    .bind(r.created_at)
                    .bind(&r.doc)
                    .bind(ingested_at);
            }
            inserted += q.execute(&mut *tx).await.map_err(db_err)?.rows_affected();
        }
        tx.commit().await.map_err(db_err)?;
        Ok(inserted)
    }

    /// One user's log items with `since <= created_at <= until`, newest first by
    /// `(created_at, id)`, strictly after the cursor when one is given.
    #[allow(clippy::too_many_arguments)]
    pub async fn query_logs(
        &self,
        org: &OrgId,
        ws: Uuid,
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
        };
        let (c_at, c_id) = after.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(&format!(
            "SELECT id, created_at, doc FROM {} \
             WHERE organization_id = $1 AND workspace_id = $2 AND {column} = $3 \
             AND created_at >= $4 AND created_at <= $5 \
             AND (created_at < $6 OR (created_at = $6 AND id < $7 AND $7 <> '')) \
             ORDER BY created_at DESC, id DESC LIMIT $8",
            kind.table()
        ))
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(key)
        .bind(since)
        .bind(until)
        .bind(c_at)
        .bind(c_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(LogItemRow {
                    id: get_str(r, "id")?,
                    created_at: get_i64(r, "created_at")?,
                    doc: get_str(r, "doc")?,
                })
            })
            .collect()
    }

    pub async fn insert_investigation_audit(&self, org: &OrgId, a: &AuditRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO investigation_audit (id, organization_id, workspace_id, service_account_id, \
             credential_id, log_kind, user_id, time_filtering_type, start_at, end_at, continuation, \
             entity_name, resource_id, resource_name, result_count, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(a.id.to_string())
        .bind(org.to_string())
        .bind(a.workspace_id.to_string())
        .bind(a.service_account_id.to_string())
        .bind(a.credential_id.to_string())
        .bind(&a.log_kind)
        .bind(&a.user_id)
        .bind(&a.time_filtering_type)
        .bind(a.start_at)
        .bind(a.end_at)
        .bind(a.continuation as i64)
        .bind(a.entity_name.clone())
        .bind(a.resource_id.clone())
        .bind(a.resource_name.clone())
        .bind(a.result_count)
        .bind(a.created_at)
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// A workspace's audit trail, newest first by `(created_at, id)`, after the cursor.
    pub async fn list_investigation_audit(
        &self,
        org: &OrgId,
        ws: Uuid,
        after: Option<(i64, Uuid)>,
        limit: i64,
    ) -> Result<Vec<AuditRow>> {
        let (c_at, c_id) = after
            .map(|(t, id)| (t, id.to_string()))
            .unwrap_or((i64::MAX, String::new()));
        let rows = sqlx::query(
            "SELECT id, workspace_id, service_account_id, credential_id, log_kind, user_id, \
             time_filtering_type, start_at, end_at, continuation, entity_name, resource_id, \
             resource_name, result_count, created_at FROM investigation_audit \
             WHERE organization_id = $1 AND workspace_id = $2 \
             AND (created_at < $3 OR (created_at = $3 AND id < $4 AND $4 <> '')) \
             ORDER BY created_at DESC, id DESC LIMIT $5",
        )
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(c_at)
        .bind(c_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(audit_from).collect()
    }
}
