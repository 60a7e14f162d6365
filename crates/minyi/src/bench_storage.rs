//! Where a benchmark runs: a scratch PostgreSQL database created on the server of an admin URL
//! and dropped afterwards, or a SQLite file in a work directory (temporary unless given).

use anyhow::{Context, bail};
use minyi_store::{Location, ScratchDatabase, quantile};
use std::path::PathBuf;

/// Timings in milliseconds summed up for a report: runs, p50, p95, p99 and the slowest.
pub fn stats_ms(mut samples: Vec<f64>) -> serde_json::Value {
    samples.sort_by(f64::total_cmp);
    serde_json::json!({
        "runs": samples.len(),
        "p50_ms": quantile(&samples, 0.5),
        "p95_ms": quantile(&samples, 0.95),
        "p99_ms": quantile(&samples, 0.99),
        "max_ms": samples.last().copied().unwrap_or(f64::NAN),
    })
}

/// The storage of one benchmark run; [`BenchStorage::finish`] drops what it created.
pub struct BenchStorage {
    /// Where the store opens.
    pub location: Location,
    /// The work directory (the SQLite file, the demo's files).
    pub work_dir: PathBuf,
    scratch: Option<ScratchDatabase>,
    temporary: bool,
}

impl BenchStorage {
    /// Creates a scratch database on `database_url`'s server, or checks that the work
    /// directory (`data_dir`, or `minyi-<name>-<pid>` in the temporary directory) holds no
    /// SQLite database yet.
    pub async fn prepare(
        name: &str,
        database_url: &Option<String>,
        data_dir: &Option<PathBuf>,
    ) -> anyhow::Result<BenchStorage> {
        let work_dir = match data_dir {
            Some(d) => d.clone(),
            None => std::env::temp_dir().join(format!("minyi-{name}-{}", std::process::id())),
        };
        let scratch = match database_url {
            Some(url) => Some(
                ScratchDatabase::create(url)
                    .await
                    .context("creating a scratch database (the user needs CREATE DATABASE)")?,
            ),
            None => {
                if Location::sqlite_file(&work_dir).exists() {
                    bail!("{} already holds a database", work_dir.display());
                }
                None
            }
        };
        let location = match &scratch {
            Some(s) => s.location.clone(),
            None => Location::DataDir(work_dir.clone()),
        };
        Ok(BenchStorage {
            location,
            work_dir,
            scratch,
            temporary: data_dir.is_none(),
        })
    }

    /// Drops the scratch database and removes a temporary work directory (the store must be
    /// closed).
    pub async fn finish(self) {
        if let Some(scratch) = self.scratch {
            scratch.drop_database().await.ok();
        }
        if self.temporary {
            std::fs::remove_dir_all(&self.work_dir).ok();
        }
    }
}
