//! The hash-chained history and backups: a row changed or removed behind the store's back is
//! found at its request and seq; history from before the hashes is sealed; a backup restores
//! every table, also while requests are being written.

use crate::fixture::*;
use crate::{Backend, TestDb};
use minyi_domain::RequestId;
use minyi_domain::request::{Command, Request};
use minyi_store::{AuditReport, Store};
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Four requests with 2 to 7 events each, through intake, commands, merge and split.
async fn some_history(store: &Store, city: &City) -> Vec<RequestId> {
    let t = |s: &str| local(&format!("2025-03-{s}"));
    let a = city.dispatched(store, PROPERTY, COMPOUND_1, monday()).await;
    let clerk = city.handler(WORKSTATION);
    store
        .execute(a.id, &clerk, &Command::Sign, t("10 14:00"))
        .await
        .unwrap();
    store
        .execute(
            a.id,
            &clerk,
            &Command::Reply {
                text: "已修好".into(),
            },
            t("11 10:00"),
        )
        .await
        .unwrap();
    let b = city.dispatched(store, NOISE, VILLAGE_1, monday()).await;
    let (c, _) = store
        .create_request(
            city.new_request("电梯", "同一部电梯", COMPOUND_1),
            operator(),
            monday(),
        )
        .await
        .unwrap();
    store
        .merge(c.id, a.id, &dispatcher(), t("11 11:00"))
        .await
        .unwrap();
    let (d, _) = store
        .create_request(
            city.new_request("两件事", "电梯坏了；夜市占道", VILLAGE_1),
            operator(),
            monday(),
        )
        .await
        .unwrap();
    let children = store
        .split(
            d.id,
            &[
                ("电梯".into(), "电梯坏了".into()),
                ("占道".into(), "夜市占道".into()),
            ],
            &dispatcher(),
            t("10 11:00"),
        )
        .await
        .unwrap();
    let mut ids = vec![a.id, b.id, c.id, d.id];
    ids.extend(children.iter().map(|c| c.id));
    ids
}

async fn verify(store: &Store) -> AuditReport {
    let mut calls = 0u64;
    let report = store.verify_history(&mut |_, _| calls += 1).await.unwrap();
    assert!(calls > 0, "verify reports progress");
    report
}

/// Lets raw SQL change `events`, as someone with database access could.
async fn disable_append_only(db: &TestDb, raw: &mut AnyConnection) {
    let sql = match db.backend {
        Backend::Sqlite => "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;",
        Backend::Postgres => "ALTER TABLE events DISABLE TRIGGER events_no_update",
    };
    sqlx::raw_sql(sql).execute(raw).await.unwrap();
}

async fn stored_hashes(raw: &mut AnyConnection) -> Vec<(i64, i64, Option<String>)> {
    sqlx::query("SELECT request_id, seq, hash FROM events ORDER BY request_id, seq")
        .fetch_all(raw)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

storage_test!(
    an_altered_or_removed_event_is_caught_at_its_request_and_seq,
    |db| {
        let (store, city) = db.fixture().await;
        let ids = some_history(&store, &city).await;
        let n_events = store.stats().await.unwrap().events;
        let clean = verify(&store).await;
        assert!(clean.is_clean(), "{:?}", clean.problems);
        assert_eq!(clean.requests, ids.len() as u64);
        assert_eq!(clean.events as i64, n_events);

        let mut raw = db.raw().await;
        let hashes = stored_hashes(&mut raw).await;
        assert!(
            hashes
                .iter()
                .all(|(_, _, h)| h.as_ref().is_some_and(|h| h.len() == 64))
        );
        disable_append_only(&db, &mut raw).await;

        // Someone rewrites the reply of request a (seq 4) …
        let (a, b) = (ids[0], ids[1]);
        let altered = sqlx::query(
            "UPDATE events SET payload = replace(payload, '已修好', '未处理') \
             WHERE request_id = $1 AND seq = 4",
        )
        .bind(a.0)
        .execute(&mut raw)
        .await
        .unwrap();
        assert_eq!(altered.rows_affected(), 1);
        let report = verify(&store).await;
        assert_eq!(report.broken_requests, 1);
        let p = &report.problems[0];
        assert_eq!((p.request_id, p.seq, p.problem), (a.0, 4, "altered"));
        let original = hashes
            .iter()
            .find(|(r, s, _)| *r == a.0 && *s == 4)
            .and_then(|(_, _, h)| h.clone())
            .unwrap();
        assert_eq!(p.found, original);
        assert_ne!(p.expected, original);

        // … and removes the last event of request b.
        let last: i64 = sqlx::query("SELECT MAX(seq) FROM events WHERE request_id = $1")
            .bind(b.0)
            .fetch_one(&mut raw)
            .await
            .unwrap()
            .get(0);
        sqlx::query("DELETE FROM events WHERE request_id = $1 AND seq = $2")
            .bind(b.0)
            .bind(last)
            .execute(&mut raw)
            .await
            .unwrap();
        let report = verify(&store).await;
        assert_eq!(report.broken_requests, 2);
        let found: Vec<(i64, i64, &str)> = report
            .problems
            .iter()
            .map(|p| (p.request_id, p.seq, p.problem))
            .collect();
        assert_eq!(found, vec![(a.0, 4, "altered"), (b.0, last, "missing")]);
        assert_eq!(report.events as i64, n_events - 1);

        // A request whose first event is gone, and one whose head row is gone.
        let (c, d) = (ids[2], ids[3]);
        sqlx::query("DELETE FROM events WHERE request_id = $1 AND seq = 0")
            .bind(c.0)
            .execute(&mut raw)
            .await
            .unwrap();
        sqlx::query("DELETE FROM history_heads WHERE request_id = $1")
            .bind(d.0)
            .execute(&mut raw)
            .await
            .unwrap();
        let d_last: i64 = sqlx::query("SELECT MAX(seq) FROM events WHERE request_id = $1")
            .bind(d.0)
            .fetch_one(&mut raw)
            .await
            .unwrap()
            .get(0);
        let report = verify(&store).await;
        let found: Vec<(i64, i64, &str)> = report
            .problems
            .iter()
            .map(|p| (p.request_id, p.seq, p.problem))
            .collect();
        assert_eq!(
            found,
            vec![
                (a.0, 4, "altered"),
                (b.0, last, "missing"),
                (c.0, 0, "missing"),
                (d.0, d_last, "head_missing")
            ]
        );
    }
);

storage_test!(
    history_from_before_the_hashes_is_sealed_and_new_events_chain_on_it,
    |db| {
        let (store, city) = db.fixture().await;
        let ids = some_history(&store, &city).await;
        let mut raw = db.raw().await;
        let hashes = stored_hashes(&mut raw).await;
        // Back to the state of a database migrated from before the hashes.
        disable_append_only(&db, &mut raw).await;
        sqlx::raw_sql(
            "UPDATE events SET hash = NULL; DELETE FROM history_heads; \
             INSERT INTO settings (key, value) VALUES ('history_unsealed', '1');",
        )
        .execute(&mut raw)
        .await
        .unwrap();
        // Put the append-only guard back, so that sealing goes through its one exception.
        let restore_guard = match db.backend {
            Backend::Sqlite => {
                let migration = include_str!("../../migrations/sqlite/0007_audit.sql");
                let start = migration.find("CREATE TRIGGER events_no_update").unwrap();
                let end = migration[start..].find("END;").unwrap() + start + 4;
                format!(
                    "{}; CREATE TRIGGER events_no_delete BEFORE DELETE ON events \
                     BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;",
                    &migration[start..end]
                )
            }
            Backend::Postgres => "ALTER TABLE events ENABLE TRIGGER events_no_update".to_string(),
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(restore_guard))
            .execute(&mut raw)
            .await
            .unwrap();
        let report = verify(&store).await;
        assert_eq!(report.broken_requests, ids.len() as u64);
        assert!(report.problems.iter().all(|p| p.problem == "unsealed"));

        // A command on an unsealed request seals it first and chains on.
        let b = ids[1];
        store
            .execute(
                b,
                &city.handler(STREET_OFFICE),
                &Command::Sign,
                local("2025-03-10 14:00"),
            )
            .await
            .unwrap();
        let report = verify(&store).await;
        assert_eq!(report.broken_requests, ids.len() as u64 - 1);
        assert!(report.problems.iter().all(|p| p.request_id != b.0));

        // Opening the store seals the rest, with the same hashes as before.
        store.close().await;
        let store = db.open().await;
        let report = verify(&store).await;
        assert!(report.is_clean(), "{:?}", report.problems);
        let after = stored_hashes(&mut raw).await;
        assert_eq!(after.len(), hashes.len() + 1);
        let without_new: Vec<_> = after
            .iter()
            .filter(|(r, s, _)| !(*r == b.0 && *s == 3))
            .cloned()
            .collect();
        assert_eq!(without_new, hashes);
        let flag = sqlx::query("SELECT 1 FROM settings WHERE key = 'history_unsealed'")
            .fetch_optional(&mut raw)
            .await
            .unwrap();
        assert!(flag.is_none());
        // The guard still refuses any other change.
        assert!(
            sqlx::query("UPDATE events SET payload = '{}' WHERE request_id = $1")
                .bind(b.0)
                .execute(&mut raw)
                .await
                .is_err()
        );
    }
);

/// Every table of a database with its rows, each row rendered as text, sorted; read with plain
/// SQL, independently of the backup code.
async fn contents(db: &TestDb) -> BTreeMap<String, Vec<String>> {
    let mut raw = db.raw().await;
    let tables: Vec<String> = match db.backend {
        Backend::Sqlite => sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        ),
        Backend::Postgres => sqlx::query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        ),
    }
    .fetch_all(&mut raw)
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.get(0))
    // The search index is derived: a restore rebuilds it (its FTS5 segments need not be
    // byte-equal), which the backup test checks by searching both stores.
    .filter(|t: &String| t != "_sqlx_migrations" && !t.starts_with("request_search"))
    .collect();
    let mut out = BTreeMap::new();
    for table in tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
            .fetch_all(&mut raw)
            .await
            .unwrap();
        let mut rendered: Vec<String> = rows
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| match row.try_get::<Option<i64>, _>(i) {
                        Ok(Some(n)) => format!("i{n}"),
                        Ok(None) => "null".to_string(),
                        Err(_) => format!("s{:?}", row.get::<Option<String>, _>(i)),
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        rendered.sort();
        out.insert(table, rendered);
    }
    out
}

/// A second fresh database on the same backend, removed when the test ends.
struct Second {
    db: TestDb,
    cleanup: Option<crate::Cleanup>,
}

impl Second {
    async fn new(backend: Backend) -> Second {
        let (db, cleanup) = crate::create(backend).await;
        Second {
            db,
            cleanup: Some(cleanup),
        }
    }

    async fn remove(mut self) {
        if let Some(c) = self.cleanup.take() {
            crate::cleanup(c).await;
        }
    }
}

storage_test!(a_backup_restores_every_table_into_an_empty_database, |db| {
    let (store, city) = db.fixture().await;
    some_history(&store, &city).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("city.minyi-backup");
    let mut last = (0, 0);
    let summary = store
        .backup_to(&file, &mut |done, total| last = (done, total))
        .await
        .unwrap();
    assert_eq!(last.0, last.1);
    assert_eq!(summary.rows, last.0);
    assert!(summary.bytes > 0 && file.exists());
    assert!(!dir.path().join("city.minyi-backup.partial").exists());

    let second = Second::new(db.backend).await;
    let target = second.db.open().await;
    let mut read = 0;
    let restored = target
        .restore_from(&file, &mut |done, _| read = done)
        .await
        .unwrap();
    assert_eq!(restored.rows, summary.rows);
    assert_eq!(restored.sealed, 0);
    assert!(read > 0);

    let (before, after) = (contents(&db).await, contents(&second.db).await);
    assert!(before.len() >= 20, "{:?}", before.keys());
    for table in [
        "divisions",
        "matters",
        "requests",
        "events",
        "history_heads",
        "kpi_daily",
    ] {
        assert!(!before[table].is_empty(), "{table} is empty in the fixture");
    }
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (table, rows) in &before {
        assert_eq!(rows.len(), after[table].len(), "row count of {table}");
        assert_eq!(rows, &after[table], "rows of {table}");
    }
    let report = verify(&target).await;
    assert!(report.is_clean(), "{:?}", report.problems);
    // The search index was rebuilt: both stores find the same requests.
    for q in ["电梯", "已修好", "莲花一村12栋"] {
        let filter = minyi_store::RequestFilter {
            text: minyi_store::SearchText::parse(q).unwrap(),
            text_in_personal: true,
            page_size: 50,
            ..Default::default()
        };
        let ids = |page: minyi_store::Page<minyi_store::RequestSummary>| {
            page.items.into_iter().map(|s| s.id).collect::<Vec<_>>()
        };
        let found = ids(store.list_requests(&filter).await.unwrap());
        assert!(!found.is_empty(), "{q}");
        assert_eq!(
            found,
            ids(target.list_requests(&filter).await.unwrap()),
            "{q}"
        );
    }
    // The restored store takes new requests (the id sequences moved past the copy).
    let copied_max = store.next_request_id().await.unwrap() - 1;
    let next = city
        .dispatched(&target, PROPERTY, COMPOUND_1, monday())
        .await;
    assert_eq!(next.id.0, copied_max + 1);

    // Refusals change nothing: a non-empty target, …
    let err = target
        .restore_from(&file, &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    // … a file from a newer schema, a truncated file and a file that is no backup.
    let third = Second::new(db.backend).await;
    let empty = third.db.open().await;
    let newer = dir.path().join("newer.minyi-backup");
    rewrite(&file, &newer, |i, line| {
        if i == 0 {
            let mut header: serde_json::Value = serde_json::from_str(line).unwrap();
            header["schema_version"] = serde_json::json!(9999);
            Some(header.to_string())
        } else {
            Some(line.to_string())
        }
    });
    let err = empty
        .restore_from(&newer, &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("newer database schema"), "{err}");
    let truncated = dir.path().join("truncated.minyi-backup");
    let n_lines = rewrite(&file, &truncated, |_, line| Some(line.to_string()));
    rewrite(&file, &truncated, |i, line| {
        (i + 1 < n_lines).then(|| line.to_string())
    });
    let err = empty
        .restore_from(&truncated, &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    let junk = dir.path().join("junk");
    std::fs::write(&junk, "id,name\n1,x\n").unwrap();
    let err = empty.restore_from(&junk, &mut |_, _| {}).await.unwrap_err();
    assert!(err.to_string().contains("not a minyi backup"), "{err}");
    // Nothing restored: every table is as the migrations left it (only the one-row
    // reference-data version, which every new database has).
    assert!(
        contents(&third.db)
            .await
            .iter()
            .all(|(table, rows)| rows.is_empty() || table == "reference_version")
    );
    // The empty database still takes the whole backup afterwards.
    empty.restore_from(&file, &mut |_, _| {}).await.unwrap();
    assert_eq!(contents(&third.db).await, before);

    target.close().await;
    empty.close().await;
    second.remove().await;
    third.remove().await;
});

/// Copies a backup line by line through `edit` (None drops the line); returns the line count.
fn rewrite(
    from: &std::path::Path,
    to: &std::path::Path,
    mut edit: impl FnMut(usize, &str) -> Option<String>,
) -> usize {
    let input = flate2::read::GzDecoder::new(std::fs::File::open(from).unwrap());
    let mut out = flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::fast(),
    );
    let mut n = 0;
    for (i, line) in std::io::BufReader::new(input).lines().enumerate() {
        let line = line.unwrap();
        if let Some(line) = edit(i, &line) {
            writeln!(out, "{line}").unwrap();
        }
        n += 1;
    }
    out.finish().unwrap();
    n
}

storage_test!(
    a_backup_taken_while_requests_are_written_is_one_consistent_state,
    |db| {
        let (store, city) = db.fixture().await;
        some_history(&store, &city).await;
        let written = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (store, city) = (store.clone(), City::read(&store).await);
            let (written, stop) = (written.clone(), stop.clone());
            tokio::spawn(async move {
                let clerk = city.handler(WORKSTATION);
                while !stop.load(Ordering::SeqCst) {
                    let r = city
                        .dispatched(&store, PROPERTY, COMPOUND_1, monday())
                        .await;
                    store
                        .execute(r.id, &clerk, &Command::Sign, local("2025-03-10 14:00"))
                        .await
                        .unwrap();
                    written.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        while written.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("online.minyi-backup");
        let mut at_snapshot = None;
        let before_backup = written.load(Ordering::SeqCst);
        // At its first progress call the backup's snapshot is taken: hold it there until the
        // writer has committed five more requests, so the copy provably overlaps writes.
        let summary = {
            let written = written.clone();
            store
                .backup_to(&file, &mut |_, _| {
                    if at_snapshot.is_none() {
                        let seen = written.load(Ordering::SeqCst);
                        at_snapshot = Some(seen);
                        // block_in_place hands this worker's queued tasks (the writer's) to
                        // another thread while this one waits.
                        tokio::task::block_in_place(|| {
                            let deadline =
                                std::time::Instant::now() + std::time::Duration::from_secs(60);
                            while written.load(Ordering::SeqCst) < seen + 5
                                && std::time::Instant::now() < deadline
                            {
                                std::thread::sleep(std::time::Duration::from_millis(5));
                            }
                        });
                    }
                })
                .await
                .unwrap()
        };
        let at_snapshot = at_snapshot.unwrap();
        stop.store(true, Ordering::SeqCst);
        writer.await.unwrap();
        let total_written = written.load(Ordering::SeqCst);
        assert!(
            total_written >= at_snapshot + 5,
            "the writer went on during the backup"
        );

        let second = Second::new(db.backend).await;
        let target = second.db.open().await;
        target.restore_from(&file, &mut |_, _| {}).await.unwrap();
        let copied = summary.rows_by_table["requests"];
        // Six requests from some_history, then what the writer had committed when the snapshot
        // was taken: at least what it had before the backup began, at most what it had at the
        // first progress call and one in flight.
        assert!(
            copied >= 6 + before_backup && copied <= 6 + at_snapshot + 1,
            "{before_backup} ≤ {copied} - 6 ≤ {at_snapshot} + 1"
        );
        assert!(copied < 6 + total_written);
        let report = verify(&target).await;
        assert!(report.is_clean(), "{:?}", report.problems);
        assert_eq!(report.requests, copied);
        // Every copied request is the fold of its copied history.
        let first = 1;
        let next = target.next_request_id().await.unwrap();
        let mut folded = 0;
        for id in first..next {
            let Ok(request) = target.get_request(RequestId(id)).await else {
                continue;
            };
            let events = target.events(RequestId(id)).await.unwrap();
            assert_eq!(
                Request::from_history(&events).as_ref(),
                Some(&request),
                "request {id}"
            );
            folded += 1;
        }
        assert_eq!(folded, copied);
        target.close().await;
        second.remove().await;
    }
);
