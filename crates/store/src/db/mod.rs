//! The store: its connection pools on one engine, transactions, notifications, and the
//! plumbing every query goes through (`exec.rs`, `row.rs`, `sql.rs`).

mod exec;
pub(crate) mod row;
mod sql;

use std::time::Duration;

pub(crate) use exec::{sql, DbResult, Params, Sql, Tx};
use palisade_domain::{Error, Result};
pub(crate) use sql::{json_rows, now_micros, placeholders, push_placeholders, MAX_PARAMS};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

/// A pooled connection idle at least this long is pinged before it is handed out.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);

/// Which engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The store: a connection pool plus the engine it points at.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// Where writes go. On SQLite a pool of one connection: writers queue for it in the
    /// pool's fair, asynchronous queue instead of colliding on the database lock and sleeping
    /// in SQLite's busy handler (which left the lock idle between retries). On PostgreSQL the
    /// same pool as reads.
    writer: AnyPool,
    backend: Backend,
    /// Signalled after a transaction that wrote outbox events commits.
    events: std::sync::Arc<tokio::sync::Notify>,
    /// The URL connected to (for PostgreSQL notification listeners). Never printed.
    url: std::sync::Arc<str>,
    /// The same signal for the gamebook trigger (a `Notify` wakes one waiter).
    gamebook_events: std::sync::Arc<tokio::sync::Notify>,
    /// The same signal for connector write-backs (a change that queues one emits an event).
    writeback_events: std::sync::Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the URL: it may hold a password.
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// SQLite's page cache for all read connections together, in MiB (each gets its share).
const READ_CACHE_MIB: i64 = 64;
/// SQLite's page cache of the one write connection, in MiB: it holds the B-tree pages every
/// ingest and queue write walks.
const WRITE_CACHE_MIB: i64 = 64;

impl Store {
    /// Connects to `sqlite://PATH` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(Error::BadRequest(
                "database_url must start with sqlite:// or postgres://".into(),
            ));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        // SQLite page caches are per connection: the readers share one budget (it was 32 MiB
        // *each*, up to 512 MiB of a 16-connection pool at 1M incidents), so the process stays
        // small however many readers there are; the OS page cache holds the rest of the file.
        let max = max_connections.max(1);
        let pool = Self::pool_options(backend, max, 5, (READ_CACHE_MIB / i64::from(max)).max(2))
            .connect(&url)
            .await
            .map_err(|e| {
                Error::Unavailable(format!("cannot connect to the database: {}", redact(&e)))
            })?;
        let writer = match backend {
            // Queued writers wait at most as long as SQLite's busy timeout would have let them.
            // The writer's page cache is larger: it holds the B-tree pages every ingest and
            // queue write walks.
            Backend::Sqlite => Self::pool_options(backend, 1, 30, WRITE_CACHE_MIB)
                .connect(&url)
                .await
                .map_err(|e| {
                    Error::Unavailable(format!("cannot connect to the database: {}", redact(&e)))
                })?,
            Backend::Postgres => pool.clone(),
        };
        Ok(Store {
            pool,
            writer,
            backend,
            events: Default::default(),
            url: url.into(),
            gamebook_events: Default::default(),
            writeback_events: Default::default(),
        })
    }

    fn pool_options(
        backend: Backend,
        max: u32,
        acquire_timeout_secs: u64,
        cache_mib: i64,
    ) -> AnyPoolOptions {
        let mut opts = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(acquire_timeout_secs))
            // sqlx pings every connection it hands out by default: a round trip to
            // PostgreSQL (a thread hop on SQLite) before every query, a third of a cached-miss
            // incident read. A connection in steady use has just proven itself; only one idle
            // for a while is pinged (and replaced if the ping fails). A connection that died
            // since its last use fails that one query with a database error.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IF_IDLE_FOR {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            });
        if backend == Backend::Sqlite {
            opts = opts.after_connect(move |conn, _meta| {
                let cache_size = format!("PRAGMA cache_size = -{}", cache_mib * 1024);
                Box::pin(async move {
                    // Takes effect only when the database file is created: 8 KiB pages hold
                    // three incident rows (about 2.5 KB each) where 4 KiB pages held one.
                    conn.execute("PRAGMA page_size = 8192").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    // Statement journals (multi-row inserts with conflict clauses keep one) in
                    // memory rather than in a temporary file.
                    conn.execute("PRAGMA temp_store = MEMORY").await?;
                    // A larger page cache than SQLite's 2 MB: fewer re-reads of B-tree pages.
                    conn.execute(cache_size.as_str()).await?;
                    // Checkpoints: a passive one in the background every 50 ms
                    // (`Store::run_checkpoints`) does the copying, so commits do not: an
                    // automatic checkpoint runs inside the commit that crosses its threshold
                    // and stalled it for tens of milliseconds (webhook latency p99, ingest).
                    // The automatic one stays as a backstop at 4,000 pages (32 MB); none at
                    // all would let the WAL grow without end if the background one fell
                    // behind.
                    conn.execute("PRAGMA wal_autocheckpoint = 4000").await?;
                    conn.execute("PRAGMA journal_size_limit = 67108864").await?;
                    Ok(())
                })
            });
        }
        opts
    }

    /// The pool reads go through.
    pub(crate) fn read(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool writes go through (see the `writer` field's note): statements that
    /// write outside [`Store::begin_write`] use it too.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// SQLite: copies the WAL into the database file every `every` without blocking readers
    /// or writers (`PASSIVE`), until the pool closes, so the automatic checkpoint inside a
    /// commit finds little left to copy. A no-op on PostgreSQL.
    pub async fn run_checkpoints(&self, every: Duration) {
        if self.backend != Backend::Sqlite {
            return;
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.pool.is_closed() {
            tick.tick().await;
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&self.pool)
                .await
            {
                if self.pool.is_closed() {
                    return;
                }
                tracing::debug!(error = %e, "WAL checkpoint failed");
            }
        }
    }

    pub(crate) fn events_written(&self) {
        self.events.notify_one();
        self.gamebook_events.notify_one();
        self.writeback_events.notify_one();
    }

    /// Resolves after this process commits new outbox events: every change that queues a
    /// connector write-back writes one (`incident.updated`), so the write-back jobs are looked
    /// for at once.
    pub async fn writeback_events_committed(&self) {
        self.writeback_events.notified().await
    }

    /// Resolves after this process commits new outbox events (the gamebook trigger waits on
    /// it).
    pub async fn gamebook_events_committed(&self) {
        self.gamebook_events.notified().await
    }

    /// Resolves after this process commits new outbox events (the webhook dispatcher waits
    /// on it; other replicas' events are found by polling).
    pub async fn events_committed(&self) {
        self.events.notified().await
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later fails
    /// with `SQLITE_BUSY` when another connection wrote in between, where an immediate one
    /// simply waits its turn (`busy_timeout`).
    pub(crate) async fn begin_write(&self) -> Result<Tx> {
        match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        }
        .map(Tx)
        .db()
    }

    /// Sends a PostgreSQL notification on `channel` (every replica listening receives it,
    /// this one included). A no-op on SQLite, where one process owns the database.
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<()> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        sql("SELECT pg_notify($1, $2)", (channel, payload))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A listener on a PostgreSQL notification channel; `None` on SQLite.
    pub async fn listen(&self, channel: &str) -> Result<Option<sqlx::postgres::PgListener>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await.db()?;
        listener.listen(channel).await.db()?;
        Ok(Some(listener))
    }

    /// Is the database reachable? (`/readyz`)
    pub async fn ping(&self) -> Result<()> {
        sql("SELECT 1", ()).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await
    }
}

/// Strips anything that looks like a password out of a database error message.
fn redact(e: &sqlx::Error) -> String {
    let s = e.to_string();
    match (s.find("://"), s.find('@')) {
        (Some(a), Some(b)) if b > a => format!("{}://***{}", &s[..a], &s[b..]),
        _ => s,
    }
}
