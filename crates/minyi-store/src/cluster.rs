//! Several nodes on one database: leases that let a background job run on one node at a time,
//! and the reference-data version that tells each node when its cached copy is stale.
//!
//! Why leases in a table rather than PostgreSQL advisory locks: a lease works the same on both
//! backends; it is visible (`SELECT * FROM job_leases` says which node runs what); it does not
//! pin a pooled connection for the job's lifetime; and it expires on its own when a node dies
//! or loses the database, so another node takes over. Its weak point, a holder stalled past
//! its expiry while another node has taken over, is harmless here: the sweeper's writes are
//! fenced by the request's row lock and version (the domain refuses to raise a clock fact twice)
//! and the outbox is at least once with de-duplication ids.
//!
//! Lease times come from the database's clock, so the nodes' clocks need not agree.

use crate::{StorageKind, Store, StoreError};
use sqlx::Row;
use std::sync::atomic::Ordering;
use std::time::Duration;

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// The database's clock in epoch milliseconds, as an SQL expression.
fn db_now(kind: StorageKind) -> &'static str {
    match kind {
        StorageKind::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        StorageKind::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

/// Bumps the reference-data version inside a write transaction.
pub(crate) async fn bump_reference_version(tx: &mut Tx) -> Result<(), StoreError> {
    sqlx::query("UPDATE reference_version SET version = version + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Takes the lease on `job` for `holder` for `ttl`, or renews it if `holder` has it already.
    /// Returns whether `holder` holds it now. One conditional upsert: a lease held by another
    /// node and not yet expired is left alone.
    pub async fn acquire_lease(
        &self,
        job: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = db_now(self.kind);
        let sql = format!(
            "INSERT INTO job_leases (job, holder, expires_at) VALUES ($1, $2, {now} + $3) \
             ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE job_leases.holder = excluded.holder OR job_leases.expires_at < {now}"
        );
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        let taken = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job)
            .bind(holder)
            .bind(ttl_ms)
            .execute(&self.write)
            .await?
            .rows_affected();
        Ok(taken == 1)
    }

    /// Gives up `holder`'s lease on `job` (at shutdown), so another node can take it at once.
    pub async fn release_lease(&self, job: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM job_leases WHERE job = $1 AND holder = $2")
            .bind(job)
            .bind(holder)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Who holds the lease on `job`, if anyone holds one that has not expired.
    pub async fn lease_holder(&self, job: &str) -> Result<Option<String>, StoreError> {
        let sql = format!(
            "SELECT holder FROM job_leases WHERE job = $1 AND expires_at >= {}",
            db_now(self.kind)
        );
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job)
            .fetch_optional(&self.read)
            .await?
            .map(|r| r.get(0)))
    }

    /// The reference-data version: it grows with every write to divisions, units, the
    /// catalogue, the responsibility list, the calendar or the settings.
    pub async fn reference_version(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT version FROM reference_version WHERE id = 1")
                .fetch_one(&self.read)
                .await?
                .get(0),
        )
    }

    /// Reads the reference-data version and, when it moved since this store last looked,
    /// reloads the cached working-day calendar (another node may have changed it). Returns the
    /// version read, for the caller's own caches. The version is read before the data, so a
    /// change made during the reload is seen on the next call.
    pub async fn refresh_reference(&self) -> Result<i64, StoreError> {
        let version = self.reference_version().await?;
        if self.reference_seen.load(Ordering::Acquire) != version {
            self.reload_calendar().await?;
            self.reference_seen.store(version, Ordering::Release);
        }
        Ok(version)
    }
}
