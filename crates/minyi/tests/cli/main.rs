//! Integration tests of the `minyi` command: a small demo city seeded through the real binary,
//! the completeness check (and that removing a rule breaks it), stats, CSV export and import,
//! and `minyi serve` answering on port 0. On SQLite, and the seeding also on PostgreSQL
//! (`MINYI_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sqlx::Connection;

mod audit;
mod bench_kpi;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn minyi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_minyi"))
        .args(args)
        .env("MINYI_LOG", "warn")
        .output()
        .expect("the minyi binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = minyi(args);
    assert!(
        out.status.success(),
        "minyi {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn seed_small(dir: &Path) {
    ok(&[
        "demo",
        "--data-dir",
        dir.to_str().unwrap(),
        "--seed-only",
        "--requests",
        "2500",
    ]);
}

#[test]
fn a_seeded_demo_city_is_complete_and_has_history() {
    let dir = tempfile::tempdir().unwrap();
    seed_small(dir.path());
    let d = dir.path().to_str().unwrap();

    let credentials: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("demo-credentials.json")).unwrap(),
    )
    .unwrap();
    for role in [
        "operator",
        "dispatcher",
        "unit_handler",
        "unit_leader",
        "supervisor",
        "admin",
        "service_team",
    ] {
        let account = &credentials["accounts"][role];
        assert!(account["username"].is_string(), "no {role} account");
        assert!(account["password"].as_str().unwrap().len() >= 12);
    }

    let check: serde_json::Value =
        serde_json::from_str(&ok(&["catalog", "check", "--data-dir", d, "--json"])).unwrap();
    assert_eq!(check["gaps"], 0, "{check}");
    assert_eq!(check["conflicts"], 0, "{check}");
    // The catalogue has 15 / 118 / 517 nodes (15 / 103 / 390 distinct names).
    assert_eq!(check["leaf_matters"], 517);
    let combinations =
        check["leaf_matters"].as_u64().unwrap() * check["leaf_divisions"].as_u64().unwrap();
    assert_eq!(check["combinations"].as_u64().unwrap(), combinations);
    assert!(check["leaf_divisions"].as_u64().unwrap() > 5000);

    let stats: serde_json::Value =
        serde_json::from_str(&ok(&["stats", "--data-dir", d, "--json"])).unwrap();
    assert!(stats["requests"].as_i64().unwrap() >= 2500, "{stats}");
    assert!(stats["events"].as_i64().unwrap() > stats["requests"].as_i64().unwrap() * 4);
    assert_eq!(stats["divisions_by_level"]["district"], 9);
    assert_eq!(stats["divisions_by_level"]["street"], 79);
    assert_eq!(stats["divisions_by_level"]["community"], 788);
    for state in ["dispatched", "handling", "replied", "closed"] {
        assert!(
            stats["requests_by_state"][state].as_i64().unwrap() > 0,
            "no {state}: {stats}"
        );
    }

    // Seeding again does nothing: the city is there.
    let again = minyi(&["demo", "--data-dir", d, "--seed-only"]);
    assert!(again.status.success());
    let stats2: serde_json::Value =
        serde_json::from_str(&ok(&["stats", "--data-dir", d, "--json"])).unwrap();
    assert_eq!(stats2["requests"], stats["requests"]);
}

#[test]
fn removing_a_rule_makes_the_check_fail_and_restoring_it_passes() {
    let dir = tempfile::tempdir().unwrap();
    seed_small(dir.path());
    let d = dir.path().to_str().unwrap();
    let exported = ok(&["export", "responsibilities", "--data-dir", d]);
    let mut lines: Vec<&str> = exported.lines().collect();
    let header = lines.remove(0);
    assert!(header.starts_with("matter_code,division_code,lead_unit_code"));
    // A city-wide rule (category, the city 4403) is backed up in each district by the district
    // rule of the same category; remove both for 福田区 (440304) to open a gap there.
    let city_rule = lines
        .iter()
        .position(|l| l.split(',').nth(1) == Some("4403"))
        .expect("a city-wide rule");
    let category = lines[city_rule].split(',').next().unwrap().to_string();
    let removed = lines.remove(city_rule);
    let district_rule = lines
        .iter()
        .position(|l| {
            let mut f = l.split(',');
            f.next() == Some(category.as_str()) && f.next() == Some("440304")
        })
        .expect("the district rule of the same category");
    lines.remove(district_rule);
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, format!("{header}\n{}\n", lines.join("\n"))).unwrap();
    ok(&[
        "import",
        "responsibilities",
        broken.to_str().unwrap(),
        "--data-dir",
        d,
    ]);

    let out = minyi(&["catalog", "check", "--data-dir", d, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the check must fail without {removed}"
    );
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(check["gaps"].as_u64().unwrap() > 0);
    assert!(!check["gap_samples"].as_array().unwrap().is_empty());

    let restored = dir.path().join("restored.csv");
    std::fs::write(&restored, &exported).unwrap();
    ok(&[
        "import",
        "responsibilities",
        restored.to_str().unwrap(),
        "--data-dir",
        d,
    ]);
    let out = minyi(&["catalog", "check", "--data-dir", d]);
    assert!(out.status.success());
    // The export of the restored list is the same list.
    assert_eq!(
        ok(&["export", "responsibilities", "--data-dir", d])
            .lines()
            .count(),
        exported.lines().count()
    );
}

#[test]
fn a_bad_import_is_refused_with_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    seed_small(dir.path());
    let d = dir.path().to_str().unwrap();
    let before = ok(&["export", "responsibilities", "--data-dir", d]);
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "matter_code,division_code,lead_unit_code,co_unit_codes,legal_basis,response,handling\n01,4403,NO-SUCH-UNIT,,,,\n",
    )
    .unwrap();
    let out = minyi(&[
        "import",
        "responsibilities",
        bad.to_str().unwrap(),
        "--data-dir",
        d,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown unit"));
    assert_eq!(ok(&["export", "responsibilities", "--data-dir", d]), before);
}

#[test]
fn serve_answers_healthz_on_port_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_minyi"))
        .args([
            "serve",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("MINYI_LOG", "warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut address = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("minyi serving on ") {
            address = rest
                .split_whitespace()
                .next()
                .map(|a| a.trim_end_matches('/').to_string());
            break;
        }
    }
    let address = address.expect("the server prints its address");
    let body: serde_json::Value = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::get(format!("{address}/healthz"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["storage"], "sqlite");
}

#[test]
fn the_demo_seeds_on_postgres_too() {
    let admin = std::env::var("MINYI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("minyi_cli_{:016x}", rand::random::<u64>());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL reachable");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    let url = format!("{base}/{name}");
    let dir = tempfile::tempdir().unwrap();
    ok(&[
        "demo",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--database-url",
        &url,
        "--seed-only",
        "--requests",
        "1500",
    ]);
    let check: serde_json::Value =
        serde_json::from_str(&ok(&["catalog", "check", "--database-url", &url, "--json"])).unwrap();
    assert_eq!(
        (check["gaps"].as_u64(), check["conflicts"].as_u64()),
        (Some(0), Some(0))
    );
    let stats: serde_json::Value =
        serde_json::from_str(&ok(&["stats", "--database-url", &url, "--json"])).unwrap();
    assert_eq!(stats["storage"], "postgres");
    assert!(stats["requests"].as_i64().unwrap() >= 1500);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    });
}

mod crash;
mod logs;
