//! Versioned migrations, embedded in the binary, applied in order, each in its own
//! transaction. On PostgreSQL an advisory lock keeps concurrently starting replicas from
//! racing; on SQLite the write lock does the same.

use palisade_domain::{Error, Result};
use sqlx::{Acquire, Executor};

use crate::db::{now_micros, sql, Backend, DbResult};
use crate::System;

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "incidents",
        sql: include_str!("../migrations/0002_incidents.sql"),
    },
    Migration {
        version: 3,
        name: "webhooks",
        sql: include_str!("../migrations/0003_webhooks.sql"),
    },
    Migration {
        version: 4,
        name: "gamebooks",
        sql: include_str!("../migrations/0004_gamebooks.sql"),
    },
    Migration {
        version: 5,
        name: "datasources",
        sql: include_str!("../migrations/0005_datasources.sql"),
    },
    Migration {
        version: 6,
        name: "entity_index",
        sql: include_str!("../migrations/0006_entity_index.sql"),
    },
    Migration {
        version: 10,
        name: "jobs",
        sql: include_str!("../migrations/0010_jobs.sql"),
    },
    Migration {
        version: 11,
        name: "webhook_jobs",
        sql: include_str!("../migrations/0011_webhook_jobs.sql"),
    },
    Migration {
        version: 12,
        name: "gamebook_jobs",
        sql: include_str!("../migrations/0012_gamebook_jobs.sql"),
    },
    Migration {
        version: 20,
        name: "connectors",
        sql: include_str!("../migrations/0020_connectors.sql"),
    },
    Migration {
        version: 30,
        name: "console",
        sql: include_str!("../migrations/0030_console.sql"),
    },
    Migration {
        version: 40,
        name: "investigation_by_workspace",
        sql: include_str!("../migrations/0040_investigation_by_workspace.sql"),
    },
    Migration {
        version: 50,
        name: "connector_jobs",
        sql: include_str!("../migrations/0050_connector_jobs.sql"),
    },
];

/// Engine-specific pieces of the otherwise portable DDL: `{{WITHOUT_ROWID}}` (a SQLite table
/// clause), `{{COLLATE_C}}` (byte-order text comparison on PostgreSQL, which SQLite does by
/// default), and a statement starting `{{POSTGRES}}` or `{{SQLITE}}` runs on that engine
/// only. `None` when the statement is not for `backend`.
fn for_backend(stmt: &str, backend: Backend) -> Option<String> {
    let (sqlite, postgres) = (backend == Backend::Sqlite, backend == Backend::Postgres);
    let stmt = match (
        stmt.strip_prefix("{{POSTGRES}}"),
        stmt.strip_prefix("{{SQLITE}}"),
    ) {
        (Some(s), _) if postgres => s,
        (_, Some(s)) if sqlite => s,
        (Some(_), _) | (_, Some(_)) => return None,
        _ => stmt,
    };
    let (without_rowid, collate_c) = match backend {
        Backend::Sqlite => ("WITHOUT ROWID", ""),
        Backend::Postgres => ("", "COLLATE \"C\""),
    };
    let stmt = stmt
        .replace("{{WITHOUT_ROWID}}", without_rowid)
        .replace("{{COLLATE_C}}", collate_c);
    Some(stmt.trim().to_string())
}

/// Splits a migration into statements: comment lines (`--`) are dropped first, so they may
/// hold any text; no statement in our DDL contains a `;` inside it.
fn statements(sql: &str) -> impl Iterator<Item = String> {
    let body: Vec<&str> = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    body.join("\n")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect::<Vec<_>>()
        .into_iter()
}

impl System<'_> {
    /// Applies every migration not applied yet. Returns the versions applied by this call.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        let backend = self.store.backend();
        let mut conn = self.store.read().acquire().await.db()?;
        if backend == Backend::Postgres {
            conn.execute("SELECT pg_advisory_lock(7318201)")
                .await
                .db()?;
        }
        let result = async {
            conn.execute(
                "CREATE TABLE IF NOT EXISTS palisade_migrations (\
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .await
            .db()?;
            let applied: Vec<i64> = sql("SELECT version FROM palisade_migrations", ())
                .fetch_all::<(i64,), _>(&mut *conn)
                .await?
                .into_iter()
                .map(|(v,)| v)
                .collect();
            if let Some(newest) = applied.iter().max() {
                let known = MIGRATIONS.last().map(|m| m.version).unwrap_or(0);
                if *newest > known {
                    return Err(Error::Internal(format!(
                        "the database has migration {newest}, newer than this binary knows ({known}); upgrade palisade"
                    )));
                }
            }
            let mut done = Vec::new();
            for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
                let mut tx = conn.begin().await.db()?;
                for stmt in statements(m.sql).filter_map(|s| for_backend(&s, backend)) {
                    tx.execute(stmt.as_str()).await.map_err(|e| {
                        Error::Internal(format!("migration {} ({}) failed: {e}", m.version, m.name))
                    })?;
                }
                sql(
                    "INSERT INTO palisade_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    (m.version, m.name, now_micros()),
                )
                .execute(&mut *tx)
                .await?;
                tx.commit().await.db()?;
                tracing::info!(version = m.version, name = m.name, "applied migration");
                done.push(m.version);
            }
            Ok(done)
        }
        .await;
        if backend == Backend::Postgres {
            let _ = conn.execute("SELECT pg_advisory_unlock(7318201)").await;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_statements_and_drops_comments() {
        let s: Vec<String> = super::statements(
            "-- c; d\nCREATE TABLE a (x TEXT);\n\n-- d;\nCREATE INDEX i ON a (x);\n",
        )
        .collect();
        assert_eq!(
            s,
            vec!["CREATE TABLE a (x TEXT)", "CREATE INDEX i ON a (x)"]
        );
    }

    #[test]
    fn engine_specific_ddl() {
        use crate::db::Backend::{Postgres, Sqlite};
        let sql = "CREATE TABLE a (x TEXT {{COLLATE_C}} PRIMARY KEY) {{WITHOUT_ROWID}}";
        assert_eq!(
            super::for_backend(sql, Sqlite).as_deref(),
            Some("CREATE TABLE a (x TEXT  PRIMARY KEY) WITHOUT ROWID")
        );
        assert_eq!(
            super::for_backend(sql, Postgres).as_deref(),
            Some("CREATE TABLE a (x TEXT COLLATE \"C\" PRIMARY KEY)")
        );
        let pg_only = "{{POSTGRES}} ALTER TABLE a DROP CONSTRAINT b";
        assert_eq!(super::for_backend(pg_only, Sqlite), None);
        assert_eq!(
            super::for_backend(pg_only, Postgres).as_deref(),
            Some("ALTER TABLE a DROP CONSTRAINT b")
        );
        let sqlite_only = "{{SQLITE}} PRAGMA x";
        assert_eq!(super::for_backend(sqlite_only, Postgres), None);
        assert_eq!(
            super::for_backend(sqlite_only, Sqlite).as_deref(),
            Some("PRAGMA x")
        );
    }
}
