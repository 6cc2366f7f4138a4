//! Running statements. Parameters are bound by the storage conventions ([`Param`]: ids as
//! TEXT, instants as BIGINT microseconds, booleans as BIGINT 0/1), rows are mapped by
//! `sqlx::FromRow` (see [`super::row`]), and every database error becomes the domain error
//! here, in one place ([`db_err`]).

use std::ops::{Deref, DerefMut};

use chrono::{DateTime, Utc};
use palisade_domain::vocab::{IncidentSource, IncidentStatus, OrgRole, Severity, WorkspaceRole};
use palisade_domain::{Error, Result};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::encode::Encode;
use sqlx::AnyConnection;
use sqlx::{Any, Arguments, Executor, FromRow, Type};
use uuid::Uuid;

use crate::OrgId;

/// Maps a database error to the domain error: unique violations are conflicts, connection
/// trouble is 503, everything else is internal (logged, never shown).
pub(crate) fn db_err(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Error::Conflict("A resource with the same identity already exists.".into())
        }
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            Error::Conflict("The resource is still referenced by other resources.".into())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Error::Unavailable(format!("database unavailable: {e}")),
        _ => Error::Internal(format!("database error: {e}")),
    }
}

/// `.db()?` on what sqlx returns outside [`Sql`] (connections, transactions, listeners).
pub(crate) trait DbResult<T> {
    fn db(self) -> Result<T>;
}

impl<T> DbResult<T> for std::result::Result<T, sqlx::Error> {
    fn db(self) -> Result<T> {
        self.map_err(db_err)
    }
}

/// A statement and its parameters: `sql("… WHERE organization_id = $1 AND id = $2", (org, id))`.
pub(crate) fn sql<'q>(text: &'q str, params: impl Params<'q>) -> Sql<'q> {
    let mut args = AnyArguments::default();
    params.add_to(&mut args);
    Sql { text, args }
}

pub(crate) struct Sql<'q> {
    text: &'q str,
    args: AnyArguments<'q>,
}

impl<'q> Sql<'q> {
    /// Appends a parameter (statements whose parameter count follows the data: batches,
    /// `IN` lists).
    pub(crate) fn bind(mut self, value: impl Param<'q>) -> Self {
        value.add_to(&mut self.args);
        self
    }

    /// Appends several parameters (the fields a create and an update of a row both bind).
    pub(crate) fn params(mut self, values: impl Params<'q>) -> Self {
        values.add_to(&mut self.args);
        self
    }

    /// Runs the statement; returns the number of rows it changed.
    pub(crate) async fn execute<'c, E>(self, ex: E) -> Result<u64>
    where
        E: Executor<'c, Database = Any>,
    {
        let done = sqlx::query_with(self.text, self.args)
            .execute(ex)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn fetch_all<'c, T, E>(self, ex: E) -> Result<Vec<T>>
    where
        E: Executor<'c, Database = Any>,
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        sqlx::query_as_with(self.text, self.args)
            .fetch_all(ex)
            .await
            .map_err(db_err)
    }

    pub(crate) async fn fetch_optional<'c, T, E>(self, ex: E) -> Result<Option<T>>
    where
        E: Executor<'c, Database = Any>,
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        sqlx::query_as_with(self.text, self.args)
            .fetch_optional(ex)
            .await
            .map_err(db_err)
    }

    pub(crate) async fn fetch_one<'c, T, E>(self, ex: E) -> Result<T>
    where
        E: Executor<'c, Database = Any>,
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        sqlx::query_as_with(self.text, self.args)
            .fetch_one(ex)
            .await
            .map_err(db_err)
    }
}

/// A write transaction (see `Store::begin_write`). Statements run on `&mut *tx`.
pub(crate) struct Tx(pub(crate) sqlx::Transaction<'static, Any>);

impl Tx {
    pub(crate) async fn commit(self) -> Result<()> {
        self.0.commit().await.db()
    }
}

impl Deref for Tx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.0
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.0
    }
}

// ---------------------------------------------------------------- parameters

/// A value bound as a statement parameter, in its storage form.
pub(crate) trait Param<'q> {
    fn add_to(self, args: &mut AnyArguments<'q>);
}

/// The parameters of a statement: `()` or a tuple of [`Param`]s, `$1` first.
pub(crate) trait Params<'q> {
    fn add_to(self, args: &mut AnyArguments<'q>);
}

fn add<'q, T: 'q + Encode<'q, Any> + Type<Any>>(args: &mut AnyArguments<'q>, value: T) {
    // Adding text, an integer or a NULL to an `Any` argument buffer cannot fail.
    let _ = args.add(value);
}

/// Values sqlx binds as they are.
macro_rules! native_param {
    ($($t:ty),*) => {$(
        impl<'q> Param<'q> for $t {
            fn add_to(self, args: &mut AnyArguments<'q>) {
                add(args, self);
            }
        }
    )*};
}
native_param!(
    i64,
    String,
    &'q str,
    Option<i64>,
    Option<String>,
    Option<&'q str>
);

impl<'q> Param<'q> for &'q String {
    fn add_to(self, args: &mut AnyArguments<'q>) {
        add(args, self.as_str());
    }
}

impl<'q> Param<'q> for &'q Option<String> {
    fn add_to(self, args: &mut AnyArguments<'q>) {
        add(args, self.as_deref());
    }
}

/// Booleans are BIGINT 0/1.
impl<'q> Param<'q> for bool {
    fn add_to(self, args: &mut AnyArguments<'q>) {
        add(args, self as i64);
    }
}

/// Ids are TEXT (hyphenated, lowercase).
impl<'q> Param<'q> for Uuid {
    fn add_to(self, args: &mut AnyArguments<'q>) {
        add(args, self.to_string());
    }
}

impl<'q> Param<'q> for &Uuid {
    fn add_to(self, args: &mut AnyArguments<'q>) {
        add(args, self.to_string());
    }
}

impl<'q> Param<'q> for Option<Uuid> {
    fn add_to(self, args: &mut AnyArguments<'q>) {
        add(args, self.map(|u| u.to_string()));
    }
}

impl<'q> Param<'q> for OrgId {
    fn add_to(self, args: &mut AnyArguments<'q>) {
        add(args, self.to_string());
    }
}

impl<'q> Param<'q> for &OrgId {
    fn add_to(self, args: &mut AnyArguments<'q>) {
        add(args, self.to_string());
    }
}

/// Instants are BIGINT microseconds since the epoch.
impl<'q> Param<'q> for DateTime<Utc> {
    fn add_to(self, args: &mut AnyArguments<'q>) {
        add(args, palisade_domain::time::to_micros(self));
    }
}

impl<'q> Param<'q> for Option<DateTime<Utc>> {
    fn add_to(self, args: &mut AnyArguments<'q>) {
        add(args, self.map(palisade_domain::time::to_micros));
    }
}

/// The vocabulary is stored as its wire spelling.
macro_rules! vocab_param {
    ($($t:ty),*) => {$(
        impl<'q> Param<'q> for $t {
            fn add_to(self, args: &mut AnyArguments<'q>) {
                add(args, self.as_str());
            }
        }
    )*};
}
vocab_param!(
    IncidentSource,
    Severity,
    IncidentStatus,
    OrgRole,
    WorkspaceRole
);

impl<'q> Params<'q> for () {
    fn add_to(self, _: &mut AnyArguments<'q>) {}
}

macro_rules! tuple_params {
    ($($p:ident),+) => {
        impl<'q, $($p: Param<'q>),+> Params<'q> for ($($p,)+) {
            #[allow(non_snake_case)]
            fn add_to(self, args: &mut AnyArguments<'q>) {
                let ($($p,)+) = self;
                $($p.add_to(args);)+
            }
        }
    };
}
tuple_params!(A);
tuple_params!(A, B);
tuple_params!(A, B, C);
tuple_params!(A, B, C, D);
tuple_params!(A, B, C, D, E);
tuple_params!(A, B, C, D, E, F);
tuple_params!(A, B, C, D, E, F, G);
tuple_params!(A, B, C, D, E, F, G, H);
tuple_params!(A, B, C, D, E, F, G, H, I);
tuple_params!(A, B, C, D, E, F, G, H, I, J);
tuple_params!(A, B, C, D, E, F, G, H, I, J, K);
tuple_params!(A, B, C, D, E, F, G, H, I, J, K, L);
tuple_params!(A, B, C, D, E, F, G, H, I, J, K, L, M);
tuple_params!(A, B, C, D, E, F, G, H, I, J, K, L, M, N);
tuple_params!(A, B, C, D, E, F, G, H, I, J, K, L, M, N, O);
tuple_params!(A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P);
