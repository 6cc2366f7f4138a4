//! API scopes (DESIGN §2). A `:manage`/`:write` scope implies the same resource's `:read`.

use std::fmt;

macro_rules! scopes {
    ($($variant:ident = $name:literal),* $(,)?) => {
        /// One API scope. Scopes live on credentials and are the sole authority for what a
        /// credential may call.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Scope { $($variant),* }

        impl Scope {
            pub const ALL: &'static [Scope] = &[$(Scope::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Scope::$variant => $name),* }
            }
        }
    };
}

scopes! {
    IncidentsRead = "incidents:read",
    IncidentsWrite = "incidents:write",
    IncidentsComments = "incidents:comments",
    IncidentsIngest = "incidents:ingest",
    GamebooksRead = "gamebooks:read",
    GamebooksManage = "gamebooks:manage",
    DatasourcesRead = "datasources:read",
    DatasourcesManage = "datasources:manage",
    TicketsRead = "tickets:read",
    TicketsManage = "tickets:manage",
    InvestigationRead = "investigation:read",
    InvestigationIngest = "investigation:ingest",
    WebhooksRead = "webhooks:read",
    WebhooksManage = "webhooks:manage",
    OrgServiceAccountsRead = "org:service-accounts:read",
    OrgServiceAccountsManage = "org:service-accounts:manage",
    OrgUsersRead = "org:users:read",
    OrgUsersManage = "org:users:manage",
    OrgUsersRoles = "org:users:roles",
    OrgAzureRead = "org:azure:read",
    OrgAzureManage = "org:azure:manage",
    OrgWorkspacesRead = "org:workspaces:read",
    OrgWorkspacesManage = "org:workspaces:manage",
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.iter().copied().find(|x| x.as_str() == s)
    }

    /// The `:read` scope this scope implies, if it is a `:manage`/`:write` scope.
    pub fn implied_read(self) -> Option<Scope> {
        let (resource, action) = self.as_str().rsplit_once(':')?;
        if action != "manage" && action != "write" {
            return None;
        }
        Scope::parse(&format!("{resource}:read"))
    }

    fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scopes a credential grants, with implications applied (a bit set: checking a scope on
/// every request costs one AND).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScopeSet {
    granted: u32,
    effective: u32,
}

impl ScopeSet {
    pub fn from_scopes(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut set = ScopeSet::default();
        for s in scopes {
            set.granted |= s.bit();
            set.effective |= s.bit();
            if let Some(r) = s.implied_read() {
                set.effective |= r.bit();
            }
        }
        set
    }

    pub fn all() -> Self {
        Self::from_scopes(Scope::ALL.iter().copied())
    }

    /// Does this set allow a call that needs `scope` (directly or by implication)?
    pub fn allows(&self, scope: Scope) -> bool {
        self.effective & scope.bit() != 0
    }

    /// The scopes that were granted explicitly, in catalogue order.
    pub fn granted(&self) -> Vec<Scope> {
        Scope::ALL
            .iter()
            .copied()
            .filter(|s| self.granted & s.bit() != 0)
            .collect()
    }

    /// True when every scope of `other` is allowed by this set.
    pub fn covers(&self, other: &ScopeSet) -> bool {
        other.effective & !self.effective == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_fit_the_bit_set() {
        assert!(Scope::ALL.len() <= 32);
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(*s));
        }
        assert_eq!(Scope::parse("incidents:delete"), None);
    }

    #[test]
    fn manage_and_write_imply_read_only_for_their_resource() {
        let set = ScopeSet::from_scopes([Scope::WebhooksManage, Scope::IncidentsWrite]);
        assert!(set.allows(Scope::WebhooksRead));
        assert!(set.allows(Scope::IncidentsRead));
        assert!(!set.allows(Scope::IncidentsComments));
        assert!(!set.allows(Scope::OrgUsersRead));
        assert_eq!(Scope::OrgUsersRoles.implied_read(), None);
        assert_eq!(
            Scope::OrgServiceAccountsManage.implied_read(),
            Some(Scope::OrgServiceAccountsRead)
        );
        assert_eq!(
            set.granted(),
            vec![Scope::IncidentsWrite, Scope::WebhooksManage]
        );
    }

    #[test]
    fn covers_compares_effective_sets() {
        let admin = ScopeSet::all();
        let reader = ScopeSet::from_scopes([Scope::IncidentsRead]);
        assert!(admin.covers(&reader));
        assert!(!reader.covers(&admin));
        let writer = ScopeSet::from_scopes([Scope::IncidentsWrite]);
        assert!(writer.covers(&reader));
    }
}
