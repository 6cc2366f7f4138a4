//! What the analyst console keeps: users' password hashes, sessions, the audit log of every
//! change (API and console), and the dashboard's aggregates over incidents.
//!
//! A session is found by the keyed hash of its cookie token before its organization is known
//! (like a credential), so the lookup, the touch and the removal are [`System`]'s; creating
//! one, the password and the audit log are the organization's ([`Tenant`]).

use chrono::{DateTime, Utc};
use palisade_domain::vocab::{IncidentStatus, Severity};
use palisade_domain::Result;
use uuid::Uuid;

use crate::db::{now_micros, sql};
use crate::{AuthRecord, OrgId, System, Tenant, WorkspaceId};

/// A user who may sign in with a password: the organization, the user and the stored hash.
#[derive(Debug, Clone)]
pub struct LoginCandidate {
    pub org: OrgId,
    pub user_id: Uuid,
    pub password_hash: String,
    pub active: bool,
}

#[derive(sqlx::FromRow)]
struct LoginRecord {
    #[sqlx(try_from = "String")]
    organization_id: Uuid,
    #[sqlx(try_from = "String")]
    id: Uuid,
    password_hash: String,
    #[sqlx(try_from = "crate::db::row::Flag")]
    is_active: bool,
}

/// A console session (the token itself is never stored).
#[derive(Clone)]
pub struct SessionRow {
    pub org: OrgId,
    pub user_id: Uuid,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub method: String,
}

impl std::fmt::Debug for SessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRow")
            .field("org", &self.org)
            .field("user_id", &self.user_id)
            .field("csrf_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct SessionRecord {
    #[sqlx(try_from = "String")]
    organization_id: Uuid,
    #[sqlx(try_from = "String")]
    user_id: Uuid,
    csrf_token: String,
    #[sqlx(try_from = "crate::db::row::Micros")]
    created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::row::Micros")]
    last_seen_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::row::Micros")]
    expires_at: DateTime<Utc>,
    method: String,
}

/// A session to create.
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: Uuid,
    pub csrf_token: &'a str,
    pub expires_at: DateTime<Utc>,
    pub address: Option<String>,
    /// How the user signed in: `password` or `oidc`.
    pub method: &'a str,
}

/// One change to record in the audit log.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    /// `sa` (service account) or `user`.
    pub actor_kind: &'static str,
    pub actor_id: Uuid,
    pub actor_name: String,
    /// `api` or `console`.
    pub channel: &'static str,
    /// What was done: the route template with its method (`PUT /api/v2/…/status`) or a
    /// console action (`console.sign-in`).
    pub action: String,
    /// What it was done to: the request path.
    pub target: String,
    /// The response status.
    pub status: u16,
    pub address: Option<String>,
    pub request_id: Option<String>,
}

/// A recorded change.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditEntryRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub at: DateTime<Utc>,
    pub actor_kind: String,
    #[sqlx(try_from = "String")]
    pub actor_id: Uuid,
    pub actor_name: String,
    pub channel: String,
    pub action: String,
    pub target: String,
    pub status: i64,
    pub address: Option<String>,
    pub request_id: Option<String>,
}

/// Which audit entries to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only entries strictly older than this position `(at, id)`.
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub actor_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
}

/// An incident's milestones, for the mean times to acknowledge and to close.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MilestoneRow {
    #[sqlx(try_from = "String")]
    pub workspace_id: Uuid,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::row::NullMicros")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::row::NullMicros")]
    pub closed_at: Option<DateTime<Utc>>,
}

/// Open (not Closed) incidents of one workspace and severity.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OpenCountRow {
    #[sqlx(try_from = "String")]
    pub workspace_id: Uuid,
    #[sqlx(try_from = "crate::db::row::Vocab")]
    pub severity: Severity,
    pub count: i64,
}

impl System<'_> {
    /// Users of any organization with this email (case-insensitive) and a password.
    pub async fn login_candidates(&self, email: &str) -> Result<Vec<LoginCandidate>> {
        let rows: Vec<LoginRecord> = sql(
            "SELECT organization_id, id, password_hash, is_active FROM users \
             WHERE email_key = $1 AND password_hash IS NOT NULL",
            (email.trim().to_lowercase(),),
        )
        .fetch_all(self.store.read())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| LoginCandidate {
                org: OrgId::verified(r.organization_id),
                user_id: r.id,
                password_hash: r.password_hash,
                active: r.is_active,
            })
            .collect())
    }

    /// The session whose token hashes to `token_hash`, expired or not.
    pub async fn find_session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        let row: Option<SessionRecord> = sql(
            "SELECT organization_id, user_id, csrf_token, created_at, last_seen_at, expires_at, \
             method FROM console_sessions WHERE token_hash = $1",
            (token_hash,),
        )
        .fetch_optional(self.store.read())
        .await?;
        Ok(row.map(|r| SessionRow {
            org: OrgId::verified(r.organization_id),
            user_id: r.user_id,
            csrf_token: r.csrf_token,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            expires_at: r.expires_at,
            method: r.method,
        }))
    }

    /// Records activity on a session (the idle expiry counts from it).
    pub async fn touch_session(&self, token_hash: &str, at: DateTime<Utc>) -> Result<()> {
        sql(
            "UPDATE console_sessions SET last_seen_at = $2 WHERE token_hash = $1",
            (token_hash, at),
        )
        .execute(self.store.writer())
        .await?;
        Ok(())
    }

    /// Ends a session (sign-out, or found expired).
    pub async fn delete_session(&self, token_hash: &str) -> Result<bool> {
        let n = sql(
            "DELETE FROM console_sessions WHERE token_hash = $1",
            (token_hash,),
        )
        .execute(self.store.writer())
        .await?;
        Ok(n > 0)
    }

    /// Removes sessions whose absolute expiry has passed; returns how many.
    pub async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        sql(
            "DELETE FROM console_sessions WHERE expires_at <= $1",
            (now,),
        )
        .execute(self.store.writer())
        .await
    }
}

impl Tenant<'_> {
    /// Sets (or, with `None`, removes) a user's password hash and ends the user's sessions;
    /// false when the organization has no such user.
    pub async fn set_user_password(&self, user: Uuid, hash: Option<&str>) -> Result<bool> {
        let mut tx = self.store.begin_write().await?;
        let n = sql(
            "UPDATE users SET password_hash = $3, password_changed_at = $4 \
             WHERE organization_id = $1 AND id = $2",
            (self.org, user, hash, now_micros()),
        )
        .execute(&mut *tx)
        .await?;
        sql(
            "DELETE FROM console_sessions WHERE organization_id = $1 AND user_id = $2",
            (self.org, user),
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// What a signed-in user may do, in the shape of a credential's record: the user's id,
    /// name, organizational role, direct workspace roles (verified ids) and, when the role
    /// implies one on every workspace, the organization's workspaces. No scopes (the server
    /// derives a user's from the organizational role); `None` for no such user.
    pub async fn user_auth_record(&self, user: Uuid) -> Result<Option<AuthRecord>> {
        let Some(row) = self.get_user(user).await? else {
            return Ok(None);
        };
        let org_workspaces = if row.organizational_role.implied_workspace_role().is_some() {
            self.workspace_names()
                .await?
                .into_keys()
                .map(|w| WorkspaceId::verified(self.org, w))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Some(AuthRecord {
            org: self.org,
            service_account_id: row.id,
            credential_id: Uuid::nil(),
            secret_hash: String::new(),
            scopes: Vec::new(),
            expires_at: DateTime::<Utc>::MAX_UTC,
            revoked: false,
            active: row.is_active,
            org_role: row.organizational_role,
            name: row.display_name,
            description: row.email,
            account_id: self.own_account_id().await?,
            created_at: row.added_on,
            workspace_roles: row
                .roles
                .into_iter()
                .map(|r| {
                    (
                        WorkspaceId::verified(self.org, r.workspace_id),
                        r.workspace_name,
                        r.role,
                    )
                })
                .collect(),
            org_workspaces,
        }))
    }

    /// Finds a user of the organization by email (case-insensitive).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<Uuid>> {
        let row: Option<(String,)> = sql(
            "SELECT id FROM users WHERE organization_id = $1 AND email_key = $2",
            (self.org, email.trim().to_lowercase()),
        )
        .fetch_optional(self.store.read())
        .await?;
        Ok(row.and_then(|(id,)| id.parse().ok()))
    }

    /// Opens a session for a user of the organization; false when there is no such user.
    pub async fn create_session(&self, s: NewSession<'_>) -> Result<bool> {
        let t = now_micros();
        let n = sql(
            "INSERT INTO console_sessions (token_hash, organization_id, user_id, csrf_token, \
             created_at, last_seen_at, expires_at, address, method) \
             SELECT $1, $2, u.id, $4, $5, $5, $6, $7, $8 FROM users u \
             WHERE u.organization_id = $2 AND u.id = $3",
            (
                s.token_hash,
                self.org,
                s.user_id,
                s.csrf_token,
                t,
                s.expires_at,
                s.address,
                s.method,
            ),
        )
        .execute(self.store.writer())
        .await?;
        Ok(n > 0)
    }

    /// Appends an entry to the organization's audit log.
    pub async fn record_audit(&self, e: &NewAuditEntry) -> Result<Uuid> {
        let id = Uuid::now_v7();
        sql(
            "INSERT INTO audit_log (id, organization_id, at, actor_kind, actor_id, actor_name, \
             channel, action, target, status, address, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            (
                id,
                self.org,
                now_micros(),
                e.actor_kind,
                e.actor_id,
                e.actor_name.as_str(),
                e.channel,
                e.action.as_str(),
                e.target.as_str(),
                e.status as i64,
                e.address.as_deref(),
                e.request_id.as_deref(),
            ),
        )
        .execute(self.store.writer())
        .await?;
        Ok(id)
    }

    /// The organization's audit log, newest first, at most `limit` entries.
    pub async fn audit_log(&self, f: &AuditFilter, limit: usize) -> Result<Vec<AuditEntryRow>> {
        let mut text = String::from(
            "SELECT id, at, actor_kind, actor_id, actor_name, channel, action, target, status, \
             address, request_id FROM audit_log WHERE organization_id = $1",
        );
        let mut n = 1;
        let mut next = || {
            n += 1;
            n
        };
        if f.before.is_some() {
            let (a, b) = (next(), next());
            text.push_str(&format!(" AND (at < ${a} OR (at = ${a} AND id < ${b}))"));
        }
        if f.actor_id.is_some() {
            text.push_str(&format!(" AND actor_id = ${}", next()));
        }
        if f.since.is_some() {
            text.push_str(&format!(" AND at >= ${}", next()));
        }
        text.push_str(&format!(
            " ORDER BY at DESC, id DESC LIMIT {}",
            limit.clamp(1, 1000)
        ));
        let mut q = sql(&text, (self.org,));
        if let Some((at, id)) = f.before {
            q = q.params((at, id));
        }
        if let Some(actor) = f.actor_id {
            q = q.params((actor,));
        }
        if let Some(since) = f.since {
            q = q.params((since,));
        }
        q.fetch_all(self.store.read()).await
    }

    /// Open incidents by workspace and severity.
    pub async fn open_incident_counts(&self) -> Result<Vec<OpenCountRow>> {
        sql(
            "SELECT workspace_id, severity, COUNT(*) AS count FROM incidents \
             WHERE organization_id = $1 AND status <> $2 GROUP BY workspace_id, severity",
            (self.org, IncidentStatus::Closed),
        )
        .fetch_all(self.store.read())
        .await
    }

    /// Incidents acknowledged or closed at or after `since`, with their milestones.
    pub async fn incident_milestones(&self, since: DateTime<Utc>) -> Result<Vec<MilestoneRow>> {
        sql(
            "SELECT workspace_id, created_at, acknowledged_at, closed_at FROM incidents \
             WHERE organization_id = $1 AND acknowledged_at >= $2 \
             UNION ALL SELECT workspace_id, created_at, NULL, closed_at FROM incidents \
             WHERE organization_id = $1 AND closed_at >= $2 \
             AND (acknowledged_at IS NULL OR acknowledged_at < $2)",
            (self.org, since),
        )
        .fetch_all(self.store.read())
        .await
    }
}
