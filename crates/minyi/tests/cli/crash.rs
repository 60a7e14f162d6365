//! The crash-safety harness, short: 300 requests, one SIGKILL mid-load, on SQLite and on
//! PostgreSQL (a fresh database through `MINYI_TEST_PG_URL`). Nothing acknowledged is lost,
//! nothing is stored twice, every history folds to its snapshot.

use super::*;

fn crash_run(storage: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "bench",
        "crash",
        "--requests",
        "300",
        "--kills",
        "1",
        "--concurrency",
        "8",
        "--json",
    ];
    args.extend_from_slice(storage);
    let out = minyi(&args);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success(), "the run failed: {report:#}");
    report
}

fn assert_nothing_lost_or_doubled(report: &serde_json::Value, storage: &str) {
    assert_eq!(report["storage"], storage);
    for violation in [
        "lost",
        "duplicates",
        "unexpected",
        "key_mismatches",
        "inconsistent",
        "never_answered",
        "refused",
    ] {
        assert_eq!(report[violation], 0, "{violation}: {report:#}");
    }
    assert_eq!(report["stored"], 300, "{report:#}");
    assert_eq!(report["ok"], true);
    // The server was killed while requests were in flight, and they were retried.
    assert_eq!(report["cycles"].as_array().unwrap().len(), 2, "{report:#}");
    assert!(
        report["acknowledged_before_kill"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    assert!(report["unanswered"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(report["retried"], report["unanswered"], "{report:#}");
    assert_eq!(
        report["retries_replayed"].as_u64().unwrap() + report["retries_created"].as_u64().unwrap(),
        report["unanswered"].as_u64().unwrap(),
        "{report:#}"
    );
    // Every history has the receipt at least.
    assert!(report["events"].as_u64().unwrap() >= 300);
}

#[test]
fn a_killed_sqlite_server_loses_and_doubles_nothing() {
    let report = crash_run(&[]);
    assert_nothing_lost_or_doubled(&report, "sqlite");
}

#[test]
fn a_killed_postgres_server_loses_and_doubles_nothing() {
    let admin = std::env::var("MINYI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let report = crash_run(&["--postgres", &admin]);
    assert_nothing_lost_or_doubled(&report, "postgres");
}
