//! Group commit of intake: many concurrent creates, valid and refused, each with its own answer.

use crate::fixture::*;
use minyi_domain::request::{Command, Request};
use minyi_store::{Location, StoreError};
use sqlx::Row;

/// What one concurrent submission is, and so what it must get back.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Its own key (and, one in three, classified and dispatched at intake).
    Valid,
    /// No key.
    Keyless,
    /// A follow-up the domain refuses (signing a request nobody dispatched).
    Refused,
    /// One of several retries of the same submission under one key.
    Retry,
    /// One of two different submissions under one key.
    Clash,
}

storage_test!(
    concurrent_creates_share_commits_but_each_gets_its_own_result,
    |db| {
        let (store, city) = db.fixture().await;
        let mut plan = Vec::new();
        plan.extend((0..60).map(|i| (i, Kind::Valid)));
        plan.extend((60..70).map(|i| (i, Kind::Keyless)));
        plan.extend((70..80).map(|i| (i, Kind::Refused)));
        plan.extend((80..90).map(|i| (i, Kind::Retry)));
        plan.extend((90..92).map(|i| (i, Kind::Clash)));
        let tasks: Vec<_> = plan
            .iter()
            .map(|&(i, kind)| {
                let text = match kind {
                    Kind::Retry => "楼下广场舞音响太吵".to_string(),
                    _ => format!("第{i}号诉求：小区路灯不亮"),
                };
                let mut new = city.new_request("路灯", &text, COMPOUND_1);
                new.idempotency_key = match kind {
                    Kind::Valid | Kind::Refused => Some(format!("key-{i}")),
                    Kind::Keyless => None,
                    Kind::Retry => Some("retry".into()),
                    Kind::Clash => Some("clash".into()),
                };
                if kind == Kind::Valid && i % 3 == 0 {
                    new.follow_up = vec![
                        (dispatcher(), city.classify(PROPERTY)),
                        (dispatcher(), city.dispatch(PROPERTY, COMPOUND_1)),
                    ];
                }
                if kind == Kind::Refused {
                    new.follow_up = vec![(dispatcher(), Command::Sign)];
                }
                let store = store.clone();
                let submitted = new.clone();
                tokio::spawn(async move {
                    let answer = store.create_request(new, operator(), monday()).await;
                    (submitted, answer)
                })
            })
            .collect();
        let mut created: Vec<Request> = Vec::new();
        let mut retry_ids = Vec::new();
        let mut retries_created = 0;
        let mut clash = (0, 0);
        for (task, &(i, kind)) in tasks.into_iter().zip(&plan) {
            let (submitted, answer) = task.await.unwrap();
            match kind {
                Kind::Valid | Kind::Keyless => {
                    let (request, fresh) =
                        answer.unwrap_or_else(|e| panic!("submission {i} failed: {e:?}"));
                    assert!(fresh, "submission {i} was taken for a replay");
                    assert_eq!(request.intake.text, submitted.text);
                    let dispatched = !submitted.follow_up.is_empty();
                    assert_eq!(request.lead().is_some(), dispatched, "submission {i}");
                    created.push(request);
                }
                Kind::Refused => assert!(
                    matches!(answer, Err(StoreError::Domain(_))),
                    "submission {i}: {answer:?}"
                ),
                Kind::Retry => {
                    let (request, fresh) = answer.unwrap();
                    retry_ids.push(request.id);
                    if fresh {
                        retries_created += 1;
                        created.push(request);
                    }
                }
                Kind::Clash => match answer {
                    Ok((request, true)) => {
                        clash.0 += 1;
                        created.push(request);
                    }
                    Err(StoreError::IdempotencyMismatch) => clash.1 += 1,
                    other => panic!("submission {i}: {other:?}"),
                },
            }
        }
        assert_eq!(retries_created, 1, "the retries make one request");
        assert!(retry_ids.iter().all(|id| *id == retry_ids[0]));
        assert_eq!(clash, (1, 1), "one of the two clashing submissions wins");

        // Every accepted submission is stored exactly once, as it was answered.
        assert_eq!(created.len(), 60 + 10 + 1 + 1);
        assert_eq!(request_count(&store).await, created.len() as i64);
        let mut ids: Vec<_> = created.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), created.len(), "ids are distinct");
        for request in &created {
            let stored = store.get_request(request.id).await.unwrap();
            assert_eq!(&stored, request);
            let history = store.events(request.id).await.unwrap();
            assert_eq!(Request::from_history(&history).as_ref(), Some(request));
        }
        // The refused ones left nothing behind, not even their keys.
        let mut raw = db.raw().await;
        let keys: i64 = sqlx::query("SELECT COUNT(*) FROM idempotency_keys")
            .fetch_one(&mut raw)
            .await
            .unwrap()
            .get(0);
        assert_eq!(keys, 60 + 1 + 1);
        let refused: i64 =
            sqlx::query("SELECT COUNT(*) FROM idempotency_keys WHERE key IN ('key-70', 'key-79')")
                .fetch_one(&mut raw)
                .await
                .unwrap()
                .get(0);
        assert_eq!(refused, 0);
        // The counters summed over each group equal those recomputed from the history.
        assert_eq!(
            store.kpi_table().await.unwrap(),
            store.kpi_from_history().await.unwrap()
        );
        // Every created request has its hash chain, its outbox messages and its search
        // document, written by the group's multi-row inserts.
        let audit = store.verify_history(&mut |_, _| {}).await.unwrap();
        assert_eq!(audit.requests, created.len() as u64);
        assert_eq!(audit.broken_requests, 0, "{:?}", audit.problems);
        let events: i64 = sqlx::query("SELECT COUNT(*) FROM events")
            .fetch_one(&mut raw)
            .await
            .unwrap()
            .get(0);
        let outbox: i64 = sqlx::query("SELECT COUNT(*) FROM outbox")
            .fetch_one(&mut raw)
            .await
            .unwrap()
            .get(0);
        assert_eq!(outbox, events, "one outbox message per event");
        let heads: i64 = sqlx::query("SELECT COUNT(*) FROM history_heads")
            .fetch_one(&mut raw)
            .await
            .unwrap()
            .get(0);
        assert_eq!(heads, created.len() as i64);
        // SQLite's index is a file of its own, kept by an indexer that follows the history.
        store.update_search_index(|_, _| {}).await.unwrap();
        if let Location::DataDir(dir) = &db.location {
            sqlx::query("ATTACH DATABASE $1 AS search")
                .bind(Location::search_file(dir).display().to_string())
                .execute(&mut raw)
                .await
                .unwrap();
        }
        let documents: i64 = sqlx::query("SELECT COUNT(*) FROM request_search")
            .fetch_one(&mut raw)
            .await
            .unwrap()
            .get(0);
        assert_eq!(documents, created.len() as i64);
    }
);

storage_test!(a_store_without_group_commit_files_the_same_way, |db| {
    let (store, city) = db.fixture().await;
    let store = store.without_group_commit();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let mut new = city.new_request("路灯", &format!("第{i}号：路灯不亮"), COMPOUND_1);
            new.idempotency_key = Some(format!("single-{}", i % 10));
            let store = store.clone();
            tokio::spawn(async move { store.create_request(new, operator(), monday()).await })
        })
        .collect();
    let mut fresh = 0;
    let mut mismatched = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok((_, true)) => fresh += 1,
            Err(StoreError::IdempotencyMismatch) => mismatched += 1,
            other => panic!("{other:?}"),
        }
    }
    // Ten keys, each used by two different texts: one wins, one is refused.
    assert_eq!((fresh, mismatched), (10, 10));
    assert_eq!(request_count(&store).await, 10);
    assert_eq!(
        store.kpi_table().await.unwrap(),
        store.kpi_from_history().await.unwrap()
    );
});
