//! `minyi audit verify`, `minyi backup` and `minyi restore` through the real binary: a seeded
//! city verifies clean, its backup restores into a new SQLite directory and into PostgreSQL
//! (moving a city between backends) and verifies clean there; a second restore is refused; a row
//! changed with raw SQL makes `verify` exit 1 naming the request and event.

use super::{minyi, ok, seed_small};
use sqlx::Connection;

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn a_city_is_verified_backed_up_restored_and_its_tampering_caught() {
    let dir = tempfile::tempdir().unwrap();
    seed_small(dir.path());
    let d = dir.path().to_str().unwrap();
    let stats = json(&ok(&["stats", "--data-dir", d, "--json"]));

    let clean = json(&ok(&["audit", "verify", "--data-dir", d, "--json"]));
    assert_eq!(clean["broken_requests"], 0, "{clean}");
    assert_eq!(clean["events"], stats["events"]);
    assert_eq!(clean["requests"], stats["requests"]);

    let file = dir.path().join("city.minyi-backup");
    let file = file.to_str().unwrap();
    let backup = json(&ok(&["backup", "--to", file, "--data-dir", d]));
    assert_eq!(backup["rows_by_table"]["events"], stats["events"]);

    // Into a new SQLite directory.
    let copy = tempfile::tempdir().unwrap();
    let c = copy.path().to_str().unwrap();
    let restored = json(&ok(&["restore", "--from", file, "--data-dir", c]));
    assert_eq!(restored["rows"], backup["rows"]);
    let again = json(&ok(&["audit", "verify", "--data-dir", c, "--json"]));
    assert_eq!(again["broken_requests"], 0, "{again}");
    assert_eq!(again["events"], stats["events"]);
    assert_eq!(
        json(&ok(&["stats", "--data-dir", c, "--json"]))["requests"],
        stats["requests"]
    );
    let refused = minyi(&["restore", "--from", file, "--data-dir", c]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("not empty"), "{stderr}");

    // Into PostgreSQL: the same city on the other backend.
    let admin = std::env::var("MINYI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("minyi_cli_{:016x}", rand::random::<u64>());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
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
    let on_pg = minyi(&["restore", "--from", file, "--database-url", &url]);
    let pg_verify = minyi(&["audit", "verify", "--database-url", &url, "--json"]);
    let pg_stats = minyi(&["stats", "--database-url", &url, "--json"]);
    runtime.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    });
    assert!(
        on_pg.status.success(),
        "{}",
        String::from_utf8_lossy(&on_pg.stderr)
    );
    let pg_verify = json(&String::from_utf8_lossy(&pg_verify.stdout));
    assert_eq!(pg_verify["broken_requests"], 0, "{pg_verify}");
    assert_eq!(pg_verify["events"], stats["events"]);
    let pg_stats = json(&String::from_utf8_lossy(&pg_stats.stdout));
    assert_eq!(pg_stats["storage"], "postgres");
    assert_eq!(pg_stats["requests_by_state"], stats["requests_by_state"]);

    // Tampering with the original: rewrite one event behind the store's back.
    let db = dir.path().join("minyi.db");
    runtime.block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::raw_sql(
            "DROP TRIGGER events_no_update; \
             UPDATE events SET at = at + 1 WHERE request_id = 10 AND seq = 1;",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    });
    let caught = minyi(&["audit", "verify", "--data-dir", d, "--json"]);
    assert_eq!(caught.status.code(), Some(1));
    let caught = json(&String::from_utf8_lossy(&caught.stdout));
    assert_eq!(caught["broken_requests"], 1, "{caught}");
    let problem = &caught["problems"][0];
    assert_eq!(
        (&problem["request_id"], &problem["seq"], &problem["problem"]),
        (
            &serde_json::json!(10),
            &serde_json::json!(1),
            &serde_json::json!("altered")
        )
    );
    let text = minyi(&["audit", "verify", "--data-dir", d]);
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stdout).contains("request 10 event 1: altered"));
}
