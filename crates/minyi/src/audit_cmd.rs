//! `minyi audit verify` (walk every request's hash chain), `minyi backup` and `minyi restore`,
//! with progress on standard error and the result on standard output.

use crate::demo::Progress;
use minyi_store::{AuditReport, BackupSummary, RestoreSummary, Store};
use std::path::Path;

/// Adapts a `(done, total)` callback to a progress display, starting its phase on the first call.
fn phased<'a>(
    progress: &'a mut (dyn Progress + Send),
    name: &'a str,
) -> impl FnMut(u64, u64) + Send + 'a {
    let mut started = false;
    move |done, total| {
        if !started {
            progress.phase(name, total);
            started = true;
        }
        progress.advance(done);
    }
}

/// Walks every chain; prints the report (JSON or text) and returns it.
pub async fn verify(
    store: &Store,
    json: bool,
    progress: &mut (dyn Progress + Send),
) -> anyhow::Result<AuditReport> {
    let started = std::time::Instant::now();
    let report = {
        let mut callback = phased(&mut *progress, "核验历史 verifying the history");
        store.verify_history(&mut callback).await?
    };
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    if json {
        let mut value = serde_json::to_value(&report)?;
        value["seconds"] = serde_json::json!(seconds);
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "历史核验 history check: {} requests, {} events in {seconds:.1} s",
            report.requests, report.events
        );
        if report.is_clean() {
            println!("every chain is whole");
        } else {
            println!("{} requests with a broken history:", report.broken_requests);
            for p in &report.problems {
                println!(
                    "  request {} event {}: {} (expected {}, found {})",
                    p.request_id,
                    p.seq,
                    p.problem,
                    if p.expected.is_empty() {
                        "-"
                    } else {
                        &p.expected
                    },
                    if p.found.is_empty() { "-" } else { &p.found },
                );
            }
            if report.broken_requests as usize > report.problems.len() {
                println!(
                    "  … and {} more",
                    report.broken_requests as usize - report.problems.len()
                );
            }
        }
    }
    Ok(report)
}

/// Writes a backup of the store to `to`.
pub async fn backup(
    store: &Store,
    to: &Path,
    progress: &mut (dyn Progress + Send),
) -> anyhow::Result<BackupSummary> {
    let summary = {
        let mut callback = phased(&mut *progress, "备份 backing up (rows)");
        store.backup_to(to, &mut callback).await?
    };
    progress.finish();
    Ok(summary)
}

/// Loads a backup into the (empty) store.
pub async fn restore(
    store: &Store,
    from: &Path,
    progress: &mut (dyn Progress + Send),
) -> anyhow::Result<RestoreSummary> {
    let summary = {
        let mut callback = phased(&mut *progress, "恢复 restoring (bytes read)");
        store.restore_from(from, &mut callback).await?
    };
    progress.finish();
    Ok(summary)
}
