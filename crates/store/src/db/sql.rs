//! Building statements that both engines run: placeholders, batch sizes, and the few
//! expressions spelled differently per engine (a JSON-array parameter as rows, rows as one
//! JSON aggregate).

use palisade_domain::{Error, Result};

use super::{sql, Backend, Store};
use crate::OrgId;

/// A `FROM` item with one row per element of the JSON array bound as parameter `$n`, in a
/// column `value` (`value ->> 0` is an element's first item): a whole batch in one statement
/// and one bind, where a multi-row `VALUES` list needs a bind per value and, on SQLite,
/// several statements (its binding cost grows with the square of the parameter count). An
/// `INSERT … SELECT … FROM` it needs a `WHERE` before `ON CONFLICT` (SQLite's grammar).
pub(crate) fn json_rows(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("json_each(${n})"),
        Backend::Postgres => format!("json_array_elements(CAST(${n} AS json)) AS v(value)"),
    }
}

/// An aggregate of the selected rows into one JSON array of arrays (`"[]"` for none), text on
/// both engines: a listing of thousands of small rows as one row and one string, where each
/// row costs the driver a message (on SQLite a hop between threads) and a conversion.
/// `items` is a comma-separated list of expressions, each a column of the inner arrays.
fn json_agg(backend: Backend, items: &str) -> String {
    match backend {
        Backend::Sqlite => format!("json_group_array(json_array({items}))"),
        Backend::Postgres => {
            format!("COALESCE(CAST(json_agg(json_build_array({items})) AS TEXT), '[]')")
        }
    }
}

/// Bind parameters per multi-row statement on SQLite: binding cost grows with the square of a
/// statement's parameter count there (measured), so statements stay small.
pub(crate) const MAX_PARAMS: usize = 160;

/// The same on PostgreSQL, which binds in linear time: statements can carry whole batches (its
/// limit is 65,535 parameters).
pub(crate) const MAX_PARAMS_PG: usize = 12_000;

impl Store {
    /// Every row of `table` in the organization as a tuple of the comma-separated column
    /// expressions `items`, read as one aggregate row (see [`json_agg`]): for listings of
    /// thousands of small rows read on hot paths.
    pub(crate) async fn org_rows_aggregated<T: serde::de::DeserializeOwned>(
        &self,
        org: &OrgId,
        table: &str,
        items: &str,
    ) -> Result<Vec<T>> {
        let (agg,): (String,) = sql(
            &format!(
                "SELECT {} AS agg FROM {table} WHERE organization_id = $1",
                json_agg(self.backend(), items)
            ),
            (org,),
        )
        .fetch_one(self.read())
        .await?;
        serde_json::from_str(&agg).map_err(Error::internal)
    }

    /// Bind parameters per multi-row statement on this engine.
    pub(crate) fn params(&self) -> usize {
        match self.backend() {
            Backend::Sqlite => MAX_PARAMS,
            Backend::Postgres => MAX_PARAMS_PG,
        }
    }
}

/// `$start, $start+1, …` (n placeholders).
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    let mut out = String::with_capacity(n * 6);
    push_placeholders(&mut out, start, n);
    out
}

/// Appends `$start, $start+1, …` (n placeholders) to `sql`, without a string per placeholder
/// (a batch statement on PostgreSQL has thousands).
pub(crate) fn push_placeholders(sql: &mut String, start: usize, n: usize) {
    use std::fmt::Write;
    for i in start..start + n {
        if i > start {
            sql.push_str(", ");
        }
        let _ = write!(sql, "${i}");
    }
}

pub(crate) fn now_micros() -> i64 {
    palisade_domain::time::to_micros(chrono::Utc::now())
}
