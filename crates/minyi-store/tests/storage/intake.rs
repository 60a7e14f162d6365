//! Intake: receipt, tracking codes, personal data kept apart, idempotency, follow-up commands.

use crate::fixture::*;
use minyi_domain::personal::TrackingCode;
use minyi_domain::request::{Command, DomainError, EventKind, State};
use minyi_store::StoreError;
use sqlx::Row;

storage_test!(
    a_received_request_is_found_by_its_tracking_code_and_keeps_the_requester_apart,
    |db| {
        let (store, city) = db.fixture().await;
        let new = city.new_request("电梯故障", "  小区电梯坏了一个月没人修  ", COMPOUND_1);
        let (request, created) = store
            .create_request(new, operator(), monday())
            .await
            .unwrap();
        assert!(created);
        assert_eq!(request.state, State::Received);
        assert_eq!(
            request.intake.text, "小区电梯坏了一个月没人修",
            "text is trimmed"
        );
        assert_eq!(request.received_at, monday());
        assert_eq!(store.get_request(request.id).await.unwrap(), request);

        let code = TrackingCode::parse(request.intake.tracking_code.as_str()).unwrap();
        assert_eq!(code, request.intake.tracking_code);
        // A requester types it in lower case with a hyphen.
        let typed = format!(
            "{}-{}",
            &code.as_str()[..5].to_ascii_lowercase(),
            &code.as_str()[5..]
        );
        let found = store
            .find_by_tracking_code(&TrackingCode::parse(&typed).unwrap())
            .await
            .unwrap();
        assert_eq!(found, Some(request.clone()));
        let other = TrackingCode::from_entropy([9; 16]);
        assert_ne!(other, code);
        assert_eq!(store.find_by_tracking_code(&other).await.unwrap(), None);

        // The personal data comes back from `requester()`…
        let requester = store.requester(request.id).await.unwrap().unwrap();
        assert_eq!(requester.phone.as_ref().unwrap().reveal(), PHONE);
        assert_eq!(requester.name.as_ref().unwrap().reveal(), "张三");
        assert_eq!(requester.address, "莲花一村12栋301");
        // …and is nowhere in the request or its history.
        let mut raw = db.raw().await;
        for sql in [
            "SELECT COUNT(*) FROM requests WHERE snapshot LIKE $1 OR title LIKE $1",
            "SELECT COUNT(*) FROM events WHERE payload LIKE $1",
        ] {
            for secret in [PHONE, "张三", "301"] {
                let n: i64 = sqlx::query(sql)
                    .bind(format!("%{secret}%"))
                    .fetch_one(&mut raw)
                    .await
                    .unwrap()
                    .get(0);
                assert_eq!(n, 0, "{secret} found by {sql}");
            }
        }
        let last4: String = sqlx::query("SELECT phone_last4 FROM requesters WHERE request_id = $1")
            .bind(request.id.0)
            .fetch_one(&mut raw)
            .await
            .unwrap()
            .get(0);
        assert_eq!(last4, "5678");

        // Empty text is refused and writes nothing.
        let empty = city.new_request("空", "   ", COMPOUND_1);
        assert!(matches!(
            store.create_request(empty, operator(), monday()).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(request_count(&store).await, 1);
    }
);

storage_test!(
    an_idempotency_key_returns_the_same_request_and_refuses_different_content,
    |db| {
        let (store, city) = db.fixture().await;
        let mut new = city.new_request("噪音", "楼下广场舞音响太吵", COMPOUND_1);
        new.idempotency_key = Some("3f1c-key-1".into());
        let (first, created) = store
            .create_request(new.clone(), operator(), monday())
            .await
            .unwrap();
        assert!(created);

        let later = local("2025-03-10 10:05");
        let (again, created) = store
            .create_request(new.clone(), operator(), later)
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(again.id, first.id);
        assert_eq!(again, first);
        assert_eq!(request_count(&store).await, 1);
        assert_eq!(store.events(first.id).await.unwrap().len(), 1);

        let mut changed = new.clone();
        changed.text = "楼下广场舞音响太吵，每天到深夜".into();
        let err = store
            .create_request(changed, operator(), later)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::IdempotencyMismatch), "{err:?}");
        assert_eq!(err.code(), "idempotency_key_reused");
        assert_eq!(request_count(&store).await, 1);

        // Another key is another request.
        new.idempotency_key = Some("3f1c-key-2".into());
        let (second, created) = store.create_request(new, operator(), later).await.unwrap();
        assert!(created);
        assert_ne!(second.id, first.id);
        assert_ne!(second.intake.tracking_code, first.intake.tracking_code);
        assert_eq!(request_count(&store).await, 2);
    }
);

storage_test!(
    concurrent_intakes_with_one_idempotency_key_make_one_request,
    |db| {
        let (store, city) = db.fixture().await;
        // A second store on the same database, as on a second node behind a load balancer.
        let other = db.open().await;
        let mut new = city.new_request("噪音", "楼下广场舞音响太吵", COMPOUND_1);
        new.idempotency_key = Some("retry-storm".into());
        const N: usize = 8;
        // On PostgreSQL, make the submissions overlap for certain: hold back every write to
        // `idempotency_keys` (reads stay free) until all of them are in flight, that is, waiting
        // for a lock in this database. SQLite has one
        // writer at a time, so there they overlap as much as they can anyway.
        let mut gate = db.raw().await;
        if db.backend == crate::Backend::Postgres {
            sqlx::raw_sql("BEGIN; LOCK TABLE idempotency_keys IN EXCLUSIVE MODE")
                .execute(&mut gate)
                .await
                .unwrap();
        }
        // A client that retries at once: the same request submitted several times together. Every
        // submission must succeed with the one request (on PostgreSQL the check-then-insert of the
        // key is not serialised, so the losers get a unique violation instead).
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let store = if i % 2 == 0 {
                    store.clone()
                } else {
                    other.clone()
                };
                let new = new.clone();
                tokio::spawn(async move { store.create_request(new, operator(), monday()).await })
            })
            .collect();
        if db.backend == crate::Backend::Postgres {
            let mut watcher = db.raw().await;
            for _ in 0..100 {
                let waiting: i64 = sqlx::query(
                    "SELECT COUNT(*) FROM pg_locks WHERE NOT granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                )
                .fetch_one(&mut watcher)
                .await
                .unwrap()
                .get(0);
                if waiting as usize >= N {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            sqlx::raw_sql("COMMIT").execute(&mut gate).await.unwrap();
        }
        let mut ids = Vec::new();
        let mut created = 0;
        for task in tasks {
            let (request, fresh) = task
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("a retry with the same key failed: {e:?}"));
            ids.push(request.id);
            created += usize::from(fresh);
        }
        assert_eq!(created, 1);
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        assert_eq!(request_count(&store).await, 1);
        assert_eq!(store.stats().await.unwrap().events, 1);
    }
);

storage_test!(
    follow_up_commands_at_intake_are_applied_in_the_same_transaction,
    |db| {
        let (store, city) = db.fixture().await;
        let mut new = city.new_request("物业纠纷", "物业公司不修电梯", COMPOUND_1);
        new.follow_up = vec![
            (dispatcher(), city.classify(PROPERTY)),
            (dispatcher(), city.dispatch(PROPERTY, COMPOUND_1)),
        ];
        let (request, created) = store
            .create_request(new.clone(), operator(), monday())
            .await
            .unwrap();
        assert!(created);
        assert_eq!(request.state, State::Dispatched);
        assert_eq!(request.lead(), Some(city.unit(WORKSTATION)));
        assert_eq!(
            request.assignment.as_ref().unwrap().co_units,
            vec![city.unit(STREET_OFFICE)]
        );
        assert_eq!(
            request.response_clock.unwrap().due_at,
            local("2025-03-11 18:00"),
            "1 working day after Monday"
        );
        assert_eq!(store.get_request(request.id).await.unwrap(), request);
        let events = store.events(request.id).await.unwrap();
        let kinds: Vec<_> = events.iter().map(|e| e.kind.name()).collect();
        assert_eq!(kinds, ["received", "classified", "dispatched"]);
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(events[0].actor, operator());
        assert_eq!(events[2].actor, dispatcher());

        // A refused follow-up refuses the whole intake: no request, no event.
        let stats = store.stats().await.unwrap();
        let mut bad = new;
        bad.follow_up = vec![
            (dispatcher(), city.classify(PROPERTY)),
            (dispatcher(), Command::Sign),
        ];
        let err = store
            .create_request(bad, operator(), monday())
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Domain(DomainError::RoleNotAllowed { .. })),
            "{err:?}"
        );
        let after = store.stats().await.unwrap();
        assert_eq!(
            (after.requests, after.events),
            (stats.requests, stats.events)
        );
        assert!(matches!(events[2].kind, EventKind::Dispatched { .. }));
    }
);
