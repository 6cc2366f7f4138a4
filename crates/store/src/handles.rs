//! The two ways into the store's data.
//!
//! - [`Tenant`] (`store.tenant(&org)`): everything an organization owns. Every method reads
//!   and writes only that organization's rows; none takes an organization, so none can be
//!   given the wrong one. Methods on a workspace take a [`WorkspaceId`], which carries its
//!   organization: a workspace of another organization is not found before any SQL runs.
//! - [`System`] (`store.system()`): what no single organization owns or what runs for all of
//!   them: creating and finding organizations, the credential lookup that *finds* a
//!   request's organization, the delivery queue and gamebook run workers, retention,
//!   migrations and queue metrics.
//!
//! A test (`crates/store/tests/tenant_walk.rs`) calls every public method of [`Tenant`]
//! through one organization aimed at another's ids and checks it sees and changes nothing.

use std::future::Future;

use palisade_domain::{Error, Result};

use crate::db::{now_micros, sql, Sql};
use uuid::Uuid;

use crate::{OrgId, Store, WorkspaceId};

/// One organization's data (see the module documentation).
#[derive(Clone, Copy)]
pub struct Tenant<'a> {
    pub(crate) store: &'a Store,
    pub(crate) org: OrgId,
}

/// Cross-organization work (see the module documentation).
#[derive(Clone, Copy)]
pub struct System<'a> {
    pub(crate) store: &'a Store,
}

impl Store {
    /// The data of one organization.
    pub fn tenant(&self, org: &OrgId) -> Tenant<'_> {
        Tenant {
            store: self,
            org: *org,
        }
    }

    /// Work that is not one organization's.
    pub fn system(&self) -> System<'_> {
        System { store: self }
    }
}

impl Tenant<'_> {
    /// The id of `ws` when it is one of this organization's workspaces; another
    /// organization's workspace is not found.
    pub(crate) fn own(&self, ws: &WorkspaceId) -> Result<Uuid> {
        if ws.org() == self.org {
            Ok(ws.uuid())
        } else {
            Err(Error::not_found_target("Workspace", ws, "workspaceId"))
        }
    }

    /// Runs an `UPDATE` of one row, with the current instant bound as its last parameter
    /// (the row's modification time), and reads the row back with `read` when it matched;
    /// `Ok(None)` when no row matched.
    pub(crate) async fn update_then<T, Fut>(
        &self,
        update: Sql<'_>,
        read: impl FnOnce() -> Fut,
    ) -> Result<Option<T>>
    where
        Fut: Future<Output = Result<Option<T>>>,
    {
        let updated = update
            .bind(now_micros())
            .execute(self.store.writer())
            .await?;
        if updated == 0 {
            return Ok(None);
        }
        read().await
    }
}

impl System<'_> {
    /// Returns the named server key, creating it with `make` if it does not exist yet. Every
    /// replica sharing the database sees the same value.
    pub async fn server_key(&self, name: &str, make: impl FnOnce() -> String) -> Result<String> {
        sql(
            "INSERT INTO palisade_keys (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
            (name, make(), now_micros()),
        )
        .execute(self.store.writer())
        .await?;
        let (value,): (String,) = sql("SELECT value FROM palisade_keys WHERE name = $1", (name,))
            .fetch_one(self.store.read())
            .await?;
        Ok(value)
    }

    /// The named server key, if one was ever stored (see [`System::server_key`]).
    pub async fn find_server_key(&self, name: &str) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sql("SELECT value FROM palisade_keys WHERE name = $1", (name,))
                .fetch_optional(self.store.read())
                .await?;
        Ok(row.map(|(value,)| value))
    }
}
