//! Support for `minyi bench intake`: the bare baseline (one-row INSERTs, one durable transaction
//! each, through the store's own pools and connection settings) and scratch PostgreSQL databases
//! for a benchmark run. Kept here because only this crate knows SQL.

use crate::{Location, Store, StoreError};
use sqlx::{AnyConnection, Connection, Row};
use std::time::Instant;

/// What the bare loop measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BareReport {
    pub rows: usize,
    pub seconds: f64,
    pub rows_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The `p`-quantile (0..=1) of sorted samples, nearest rank.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

impl Store {
    /// Refreshes the query planner's statistics (`ANALYZE` on both backends), as a database that
    /// has lived a while has them (autovacuum, `PRAGMA optimize`); for benchmarks on fresh data.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("ANALYZE").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The size of the database: `pg_database_size`, or SQLite's pages of the database and its
    /// search index (without the WALs).
    pub async fn database_bytes(&self) -> Result<i64, StoreError> {
        let sql = match self.kind {
            // The database and its search index file (attached to every reader as `search`).
            crate::StorageKind::Sqlite => {
                "SELECT (SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()) \
                 + (SELECT page_count * page_size FROM pragma_page_count('search'), \
                    pragma_page_size('search'))"
            }
            crate::StorageKind::Postgres => "SELECT pg_database_size(current_database())",
        };
        Ok(sqlx::query(sql).fetch_one(&self.read).await?.get(0))
    }

    /// Inserts `payloads.len()` rows into a scratch table, each in its own write transaction,
    /// one after another, with the same durability as every other write of this store (SQLite:
    /// the one writer connection, WAL, `synchronous=FULL`, `BEGIN IMMEDIATE`; PostgreSQL: a
    /// commit). The table is dropped afterwards.
    pub async fn bare_insert_baseline(
        &self,
        payloads: &[String],
        mut on_row: impl FnMut(usize),
    ) -> Result<BareReport, StoreError> {
        sqlx::query("DROP TABLE IF EXISTS bench_bare")
            .execute(&self.write)
            .await?;
        sqlx::query(
            "CREATE TABLE bench_bare (id BIGINT PRIMARY KEY, at BIGINT NOT NULL, payload TEXT NOT NULL)",
        )
        .execute(&self.write)
        .await?;
        let mut latencies = Vec::with_capacity(payloads.len());
        let started = Instant::now();
        for (i, payload) in payloads.iter().enumerate() {
            let t = Instant::now();
            let mut tx = self.begin_write().await?;
            sqlx::query("INSERT INTO bench_bare (id, at, payload) VALUES ($1, $2, $3)")
                .bind(i as i64 + 1)
                .bind(chrono::Utc::now().timestamp_millis())
                .bind(payload.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            latencies.push(t.elapsed().as_secs_f64() * 1e3);
            on_row(i + 1);
        }
        let seconds = started.elapsed().as_secs_f64();
        sqlx::query("DROP TABLE bench_bare")
            .execute(&self.write)
            .await?;
        latencies.sort_by(f64::total_cmp);
        Ok(BareReport {
            rows: payloads.len(),
            seconds,
            rows_per_s: payloads.len() as f64 / seconds.max(1e-9),
            p50_ms: quantile(&latencies, 0.5),
            p99_ms: quantile(&latencies, 0.99),
        })
    }
}

/// A PostgreSQL database created for one benchmark run on the server of an admin URL, and
/// dropped by [`ScratchDatabase::drop_database`].
#[derive(Debug, Clone)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    /// Where the store opens.
    pub location: Location,
}

impl ScratchDatabase {
    /// Creates `minyi_bench_<random hex>` on the server `admin_url` points at (its user must
    /// be allowed to CREATE DATABASE).
    pub async fn create(admin_url: &str) -> Result<ScratchDatabase, StoreError> {
        sqlx::any::install_default_drivers();
        let name = format!("minyi_bench_{:016x}", rand::random::<u64>());
        let mut admin = AnyConnection::connect(admin_url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        Ok(ScratchDatabase {
            admin_url: admin_url.to_string(),
            location: Location::Postgres(crate::integrity::postgres_database_url(admin_url, &name)),
            name,
        })
    }

    /// Drops the database (the store on it must be closed).
    pub async fn drop_database(self) -> Result<(), StoreError> {
        let mut admin = AnyConnection::connect(&self.admin_url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_urls_name_the_scratch_database() {
        assert_eq!(
            crate::integrity::postgres_database_url(
                "postgres://postgres@127.0.0.1:5432/postgres",
                "b1"
            ),
            "postgres://postgres@127.0.0.1:5432/b1"
        );
        assert_eq!(
            crate::integrity::postgres_database_url("postgres://u:p@h/db?sslmode=disable", "b2"),
            "postgres://u:p@h/b2?sslmode=disable"
        );
    }

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 51.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
