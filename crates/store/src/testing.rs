//! Test databases (behind the `testing` feature): the store's own tests, the server's unit
//! tests and the integration suites (through `palisade-test-utils`) share them.
//!
//! `PALISADE_TEST_DATABASE` selects the engine: unset or `sqlite` gives every test a fresh
//! SQLite file; a `postgres://…/db` URL gives every test a fresh PostgreSQL database created
//! through that server (and dropped afterwards).

use sqlx::{Connection, Executor};
use uuid::Uuid;

use crate::Store;

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub async fn new() -> TestDb {
        let choice = std::env::var("PALISADE_TEST_DATABASE").unwrap_or_default();
        if choice.starts_with("postgres://") || choice.starts_with("postgresql://") {
            let name = format!("palisade_t_{}", Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&choice)
                .await
                .expect("connect to PALISADE_TEST_DATABASE");
            conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
                .await
                .expect("create test database");
            conn.close().await.ok();
            let (base, query) = match choice.split_once('?') {
                Some((b, q)) => (b.to_string(), format!("?{q}")),
                None => (choice.clone(), String::new()),
            };
            let (server, _) = base.rsplit_once('/').expect("database url has a path");
            TestDb {
                url: format!("{server}/{name}{query}"),
                cleanup: Cleanup::Postgres {
                    admin_url: choice,
                    name,
                },
            }
        } else {
            let path = std::env::temp_dir().join(format!("palisade-test-{}.db", Uuid::new_v4()));
            TestDb {
                url: format!("sqlite://{}", path.display()),
                cleanup: Cleanup::File(path),
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.cleanup, Cleanup::Postgres { .. })
    }

    /// Runs a statement straight against the database, past the server.
    pub async fn execute(&self, sql: &str) {
        if self.is_postgres() {
            let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
            c.execute(sql).await.unwrap();
        } else {
            let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            c.execute(sql).await.unwrap();
        }
    }

    /// The first column of every row a query returns, read straight from the database; the
    /// `binds` are text parameters `$1`, `$2`, ….
    pub async fn column<T>(&self, sql: &str, binds: &[&str]) -> Vec<T>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
        T: Send + Unpin,
    {
        use sqlx::Row;
        if self.is_postgres() {
            let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
            let mut q = sqlx::query(sql);
            for b in binds {
                q = q.bind(*b);
            }
            let rows = q.fetch_all(&mut c).await.unwrap();
            rows.iter().map(|r| r.get::<T, _>(0)).collect()
        } else {
            let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            let mut q = sqlx::query(sql);
            for b in binds {
                q = q.bind(*b);
            }
            let rows = q.fetch_all(&mut c).await.unwrap();
            rows.iter().map(|r| r.get::<T, _>(0)).collect()
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    rt.block_on(async {
                        if let Ok(mut c) = sqlx::PgConnection::connect(&admin_url).await {
                            let _ = c
                                .execute(
                                    format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
                                        .as_str(),
                                )
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

impl TestDb {
    /// The store on this database, migrated.
    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url, 4)
            .await
            .expect("connect to the test database");
        store
            .system()
            .migrate()
            .await
            .expect("migrate the test database");
        store
    }
}
