//! The queue's figures per kind, for `/metrics`.

use palisade_domain::Result;

use crate::db::{now_micros, sql};
use crate::System;

/// One kind's jobs as the queue holds them now.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct KindStats {
    pub kind: String,
    /// Queued and not leased: due now, or waiting for a retry.
    pub queued: i64,
    /// Leased (being worked) now.
    pub running: i64,
    /// Dead-lettered and not purged yet.
    pub dead: i64,
    /// When the oldest queued or running job was queued (microseconds).
    pub oldest_created_at: Option<i64>,
}

impl System<'_> {
    /// The figures of every kind that has jobs, by kind name.
    pub async fn job_stats(&self) -> Result<Vec<KindStats>> {
        sql(
            "SELECT kind, \
               COUNT(CASE WHEN state = 'queued' AND (lease_until IS NULL OR lease_until < $1) THEN 1 END) AS queued, \
               COUNT(CASE WHEN state = 'queued' AND lease_until >= $1 THEN 1 END) AS running, \
               COUNT(CASE WHEN state = 'dead' THEN 1 END) AS dead, \
               MIN(CASE WHEN state = 'queued' THEN created_at END) AS oldest_created_at \
             FROM jobs GROUP BY kind ORDER BY kind",
            (now_micros(),),
        )
        .fetch_all(self.store.read())
        .await
    }
}
