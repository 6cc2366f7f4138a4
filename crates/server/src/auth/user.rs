//! Organization users as principals (the console) and their passwords.
//!
//! A signed-in user acts through the same services, with the same checks, as a service
//! account: the console builds a [`Principal`] for the user, whose workspace roles are the
//! user's own (direct, or implied on every workspace by the organizational role) and whose
//! scopes follow from the organizational role ([`user_scopes`]). Passwords are argon2id PHC
//! strings (the crate's default parameters: 19 MiB, 2 passes).

use std::sync::Arc;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use palisade_domain::{Error, OrgRole, Result, Scope, ScopeSet};
use palisade_store::AuthRecord;

use super::{principal_from, Principal};

/// Shortest accepted password.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest accepted password (hashing cost is bounded too).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The scopes a user holds. Workspace data is governed by the user's workspace roles (the
/// scope only opens the resource type); organization-level resources by the organizational
/// role: `Admin` everything, `UserAdmin` users, `WorkspaceAdmin` workspaces, `AgentAdmin`
/// service accounts; webhooks are managed by `Admin` only.
pub fn user_scopes(role: OrgRole) -> ScopeSet {
    use Scope::*;
    if role == OrgRole::Admin {
        return ScopeSet::all();
    }
    let mut scopes = vec![
        IncidentsWrite,
        IncidentsComments,
        GamebooksManage,
        DatasourcesManage,
        TicketsManage,
        InvestigationRead,
        WebhooksRead,
        OrgWorkspacesRead,
    ];
    match role {
        OrgRole::UserAdmin => scopes.extend([OrgUsersManage, OrgUsersRoles]),
        OrgRole::WorkspaceAdmin => scopes.push(OrgWorkspacesManage),
        OrgRole::AgentAdmin => scopes.push(OrgServiceAccountsManage),
        _ => {}
    }
    ScopeSet::from_scopes(scopes)
}

impl Principal {
    /// The principal of a signed-in user, from the store's record of the user.
    pub fn for_user(record: AuthRecord) -> Arc<Principal> {
        let scopes = user_scopes(record.org_role);
        let mut p = principal_from(record);
        p.scopes = scopes;
        p.is_user = true;
        Arc::new(p)
    }

    /// A signed-in organization user, not a service account.
    pub fn is_user(&self) -> bool {
        self.is_user
    }

    /// Whether the user (or account) is active.
    pub fn is_active(&self) -> bool {
        self.active
    }
}

/// Checks a new password's length (in characters).
pub fn check_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(Error::field(
            "password",
            format!("must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// The argon2id PHC string of a password.
pub fn hash_password(password: &str) -> Result<String> {
    check_password(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
}

/// Whether `password` matches a stored PHC string (false for a malformed one).
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash that no password matches, verified when the email is unknown so that an unknown
/// email costs as much time as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"decoy password that nobody has", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterx", &h));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn scopes_follow_the_organizational_role() {
        assert!(user_scopes(OrgRole::Admin).allows(Scope::WebhooksManage));
        let member = user_scopes(OrgRole::Member);
        assert!(member.allows(Scope::IncidentsRead));
        assert!(member.allows(Scope::WebhooksRead));
        assert!(!member.allows(Scope::WebhooksManage));
        assert!(!member.allows(Scope::OrgUsersRead));
        assert!(user_scopes(OrgRole::UserAdmin).allows(Scope::OrgUsersRead));
    }
}
