//! The organization keeps an active Admin: changes to service accounts and credentials that
//! would leave none are refused (a lockout only the database could undo).
//!
//! An **active Admin** is a service account of the organization that is enabled, holds the
//! `Admin` organizational role, and has at least one credential that is neither revoked nor
//! expired and holds `org:service-accounts:manage` (the scope that re-enables accounts,
//! issues credentials and grants roles, so the Admin can undo any of these changes). Users do
//! not count: they cannot authenticate to the API.

use palisade_domain::vocab::OrgRole;
use palisade_domain::{Error, Result, Scope};

use crate::db::{now_micros, sql, Backend, Tx};
use crate::{OrgId, Tenant};

/// The message of the refusal.
pub const LAST_ADMIN: &str = "This change would leave the organization without an active Admin: \
an enabled service account with the Admin role and an unexpired, unrevoked credential holding \
org:service-accounts:manage. Make another service account such an Admin first.";

/// Counts the organization's active Admins, as `tx` sees them.
async fn active_admins(tx: &mut Tx, org: &OrgId) -> Result<i64> {
    let manage = format!("%\"{}\"%", Scope::OrgServiceAccountsManage.as_str());
    let (n,): (i64,) = sql(
        "SELECT COUNT(DISTINCT s.id) FROM service_accounts s JOIN credentials c \
         ON c.organization_id = s.organization_id AND c.service_account_id = s.id \
         WHERE s.organization_id = $1 AND s.is_active = 1 AND s.organizational_role = $4 \
         AND c.revoked_at IS NULL AND c.expires_at > $2 AND c.scopes LIKE $3",
        (org, now_micros(), manage.as_str(), OrgRole::Admin),
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(n)
}

/// Taken at the start of a change that may remove an active Admin: how many there were.
pub(crate) struct AdminGuard {
    before: i64,
}

impl Tenant<'_> {
    /// Serializes changes that may remove an Admin (on PostgreSQL, by locking the
    /// organization's row: two Admins disabling each other at once would otherwise each see
    /// the other still active; SQLite has one writer) and counts the active Admins.
    pub(crate) async fn admin_guard(&self, tx: &mut Tx) -> Result<AdminGuard> {
        if self.store.backend() == Backend::Postgres {
            sql(
                "SELECT id FROM organizations WHERE id = $1 FOR UPDATE",
                (self.org,),
            )
            .fetch_optional::<(String,), _>(&mut **tx)
            .await?;
        }
        Ok(AdminGuard {
            before: active_admins(tx, &self.org).await?,
        })
    }
}

impl AdminGuard {
    /// `Conflict` when the change made in `tx` removed the last active Admin (an
    /// organization that had none before is not blocked by this check).
    pub(crate) async fn check(&self, tx: &mut Tx, org: &OrgId) -> Result<()> {
        if self.before > 0 && active_admins(tx, org).await? == 0 {
            return Err(Error::Conflict(LAST_ADMIN.into()));
        }
        Ok(())
    }
}
