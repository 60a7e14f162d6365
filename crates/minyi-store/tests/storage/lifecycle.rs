//! The life cycle through the store: commands, the append-only history, merge and split.

use crate::fixture::*;
use minyi_domain::request::{Command, DomainError, Request, Satisfaction, State};
use minyi_domain::unit::Actor;
use minyi_store::StoreError;
use sqlx::Row;

storage_test!(
    a_request_goes_from_receipt_to_closed_and_its_history_folds_to_it,
    |db| {
        let (store, city) = db.fixture().await;
        let mut raw = db.raw().await;
        let (request, _) = store
            .create_request(
                city.new_request("物业纠纷", "物业公司不修电梯", COMPOUND_1),
                operator(),
                monday(),
            )
            .await
            .unwrap();
        let id = request.id;
        let clerk = city.handler(WORKSTATION);
        let outsider = city.handler(CITY_BUREAU);

        let t = |s: &str| local(&format!("2025-03-{s}"));
        let (r, ev) = store
            .execute(id, &dispatcher(), &city.classify(PROPERTY), t("10 10:30"))
            .await
            .unwrap();
        assert_eq!((r.state, ev.len()), (State::Received, 1));
        let (r, _) = store
            .execute(
                id,
                &dispatcher(),
                &city.dispatch(PROPERTY, COMPOUND_1),
                t("10 10:30"),
            )
            .await
            .unwrap();
        assert_eq!(r.state, State::Dispatched);
        assert_eq!(r.lead(), Some(city.unit(WORKSTATION)));

        // Another unit may not sign, and nothing changes.
        let version = stored_version(&mut raw, id).await;
        let n_events = store.events(id).await.unwrap().len();
        let snapshot = store.get_request(id).await.unwrap();
        let err = store
            .execute(id, &outsider, &Command::Sign, t("10 11:00"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Domain(DomainError::NotLeadUnit { .. })),
            "{err:?}"
        );
        assert_eq!(err.code(), "not_lead_unit");
        // Nor may the lead reply before signing.
        let err = store
            .execute(
                id,
                &clerk,
                &Command::Reply {
                    text: "已修好".into(),
                },
                t("10 11:00"),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Domain(DomainError::WrongState { .. })),
            "{err:?}"
        );
        // Nor may a command be dated before the last event.
        let err = store
            .execute(id, &clerk, &Command::Sign, t("10 10:00"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Domain(DomainError::TimeWentBack)),
            "{err:?}"
        );
        assert_eq!(stored_version(&mut raw, id).await, version);
        assert_eq!(store.events(id).await.unwrap().len(), n_events);
        assert_eq!(store.get_request(id).await.unwrap(), snapshot);

        let (r, _) = store
            .execute(id, &clerk, &Command::Sign, t("10 14:00"))
            .await
            .unwrap();
        assert_eq!(r.state, State::Handling);
        assert_eq!(stored_version(&mut raw, id).await, version + 1);
        let reply = Command::Reply {
            text: "已联系物业公司，电梯已于今日修复".into(),
        };
        let (r, _) = store
            .execute(id, &clerk, &reply, t("12 16:00"))
            .await
            .unwrap();
        assert_eq!(r.state, State::Replied);
        let rate = Command::Rate {
            satisfaction: Satisfaction::Satisfied,
            solved: true,
            comment: "谢谢".into(),
        };
        let (closed, ev) = store
            .execute(id, &Actor::REQUESTER, &rate, t("13 09:30"))
            .await
            .unwrap();
        assert_eq!(closed.state, State::Closed);
        assert_eq!(
            ev.iter().map(|e| e.kind.name()).collect::<Vec<_>>(),
            ["rated", "closed"]
        );
        assert!(!closed.handling_clock.unwrap().is_late(t("13 09:30")));

        let events = store.events(id).await.unwrap();
        assert_eq!(
            events.iter().map(|e| e.kind.name()).collect::<Vec<_>>(),
            [
                "received",
                "classified",
                "dispatched",
                "signed",
                "replied",
                "rated",
                "closed"
            ]
        );
        assert_eq!(
            events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (0..7).collect::<Vec<u32>>()
        );
        assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(events[3].actor, clerk);
        assert_eq!(events[5].actor, Actor::REQUESTER);
        let stored = store.get_request(id).await.unwrap();
        assert_eq!(stored, closed);
        assert_eq!(Request::from_history(&events).as_ref(), Some(&stored));

        // A closed request takes no more commands.
        let err = store
            .execute(id, &Actor::REQUESTER, &rate, t("13 10:00"))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::Domain(DomainError::WrongState { .. })
        ));
        assert_eq!(store.events(id).await.unwrap(), events);
        // Merge and split are not single-request commands.
        assert!(matches!(
            store
                .execute(
                    id,
                    &dispatcher(),
                    &Command::MergeInto { parent: id },
                    t("13 10:00")
                )
                .await,
            Err(StoreError::Invalid(_))
        ));
    }
);

storage_test!(the_history_keeps_the_exact_time_of_each_command, |db| {
    // Callers pass `Utc::now()`, which has sub-millisecond digits; the history read back must
    // still fold to the stored request. (Fails until the store stops keeping nanoseconds in the
    // snapshot while `events.at` keeps milliseconds: see the report of this suite.)
    let (store, city) = db.fixture().await;
    let now = monday() + chrono::Duration::nanoseconds(123_456_789);
    let mut new = city.new_request("物业纠纷", "物业公司不修电梯", COMPOUND_1);
    new.follow_up = vec![(dispatcher(), city.classify(PROPERTY))];
    let (request, _) = store.create_request(new, operator(), now).await.unwrap();
    let later = now + chrono::Duration::microseconds(1_500);
    store
        .execute(
            request.id,
            &dispatcher(),
            &city.dispatch(PROPERTY, COMPOUND_1),
            later,
        )
        .await
        .unwrap();
    let events = store.events(request.id).await.unwrap();
    let stored = store.get_request(request.id).await.unwrap();
    assert_eq!(events.last().unwrap().at, stored.last_event_at);
    assert_eq!(Request::from_history(&events).as_ref(), Some(&stored));
});

storage_test!(events_are_append_only_even_for_raw_sql, |db| {
    let (store, city) = db.fixture().await;
    let request = city
        .dispatched(&store, PROPERTY, COMPOUND_1, monday())
        .await;
    let before = store.events(request.id).await.unwrap();
    assert_eq!(before.len(), 3);

    let mut raw = db.raw().await;
    let update = sqlx::query("UPDATE events SET kind = 'x' WHERE request_id = $1")
        .bind(request.id.0)
        .execute(&mut raw)
        .await;
    let err = update.expect_err("UPDATE on events must fail");
    assert!(err.to_string().contains("append-only"), "{err}");
    let update_all = sqlx::query("UPDATE events SET payload = '{}'")
        .execute(&mut raw)
        .await;
    assert!(update_all.is_err());
    let delete = sqlx::query("DELETE FROM events WHERE request_id = $1")
        .bind(request.id.0)
        .execute(&mut raw)
        .await;
    let err = delete.expect_err("DELETE on events must fail");
    assert!(err.to_string().contains("append-only"), "{err}");
    assert!(
        sqlx::query("DELETE FROM events")
            .execute(&mut raw)
            .await
            .is_err()
    );

    let n: i64 = sqlx::query("SELECT COUNT(*) FROM events WHERE kind = 'x'")
        .fetch_one(&mut raw)
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    assert_eq!(store.events(request.id).await.unwrap(), before);
    assert_eq!(store.stats().await.unwrap().events, 3);
    // Appending still works.
    store
        .execute(
            request.id,
            &city.handler(WORKSTATION),
            &Command::Sign,
            local("2025-03-10 11:00"),
        )
        .await
        .unwrap();
    assert_eq!(store.events(request.id).await.unwrap().len(), 4);
});

storage_test!(
    merge_records_both_sides_and_split_creates_children_or_nothing,
    |db| {
        let (store, city) = db.fixture().await;
        let t1 = local("2025-03-10 11:00");
        let parent = city
            .dispatched(&store, PROPERTY, COMPOUND_1, monday())
            .await;
        let (child, _) = store
            .create_request(
                city.new_request("电梯", "同一部电梯，邻居也在反映", COMPOUND_1),
                operator(),
                monday(),
            )
            .await
            .unwrap();

        store
            .merge(child.id, parent.id, &dispatcher(), t1)
            .await
            .unwrap();
        let merged = store.get_request(child.id).await.unwrap();
        assert_eq!(merged.state, State::Merged);
        assert_eq!(merged.merged_into, Some(parent.id));
        let absorbing = store.get_request(parent.id).await.unwrap();
        assert_eq!(absorbing.duplicates, vec![child.id]);
        assert_eq!(absorbing.state, State::Dispatched);
        for id in [child.id, parent.id] {
            let events = store.events(id).await.unwrap();
            assert_eq!(
                Request::from_history(&events),
                Some(store.get_request(id).await.unwrap())
            );
        }
        assert_eq!(
            store
                .events(child.id)
                .await
                .unwrap()
                .last()
                .unwrap()
                .kind
                .name(),
            "merged_into"
        );
        assert_eq!(
            store
                .events(parent.id)
                .await
                .unwrap()
                .last()
                .unwrap()
                .kind
                .name(),
            "duplicate_absorbed"
        );
        // Merging into itself, or a merged request again, is refused and changes nothing.
        let stats = store.stats().await.unwrap();
        assert!(matches!(
            store.merge(parent.id, parent.id, &dispatcher(), t1).await,
            Err(StoreError::Domain(_))
        ));
        assert!(matches!(
            store.merge(child.id, parent.id, &dispatcher(), t1).await,
            Err(StoreError::Domain(DomainError::WrongState { .. }))
        ));
        assert_eq!(store.stats().await.unwrap().events, stats.events);

        // Split: one request about two matters becomes two children.
        let (whole, _) = store
            .create_request(
                city.new_request("两件事", "电梯坏了；另外楼下夜市占道经营", VILLAGE_1),
                operator(),
                monday(),
            )
            .await
            .unwrap();
        let parts = vec![
            ("电梯".to_string(), "电梯坏了".to_string()),
            ("占道".to_string(), "楼下夜市占道经营".to_string()),
        ];
        let children = store
            .split(whole.id, &parts, &dispatcher(), t1)
            .await
            .unwrap();
        assert_eq!(children.len(), 2);
        let split = store.get_request(whole.id).await.unwrap();
        assert_eq!(split.state, State::Split);
        assert_eq!(
            split.children,
            children.iter().map(|c| c.id).collect::<Vec<_>>()
        );
        for (child, (title, text)) in children.iter().zip(&parts) {
            let stored = store.get_request(child.id).await.unwrap();
            assert_eq!(&stored, child);
            assert_eq!(stored.state, State::Received);
            assert_eq!(stored.intake.parent, Some(whole.id));
            assert_eq!((&stored.intake.title, &stored.intake.text), (title, text));
            assert_eq!(stored.intake.location, whole.intake.location);
            assert_ne!(stored.intake.tracking_code, whole.intake.tracking_code);
            assert!(
                store
                    .find_by_tracking_code(&stored.intake.tracking_code)
                    .await
                    .unwrap()
                    .is_some()
            );
            let requester = store.requester(child.id).await.unwrap().unwrap();
            assert_eq!(requester.phone.unwrap().reveal(), PHONE);
            assert_eq!(store.events(child.id).await.unwrap().len(), 1);
        }
        assert_ne!(
            children[0].intake.tracking_code,
            children[1].intake.tracking_code
        );
        assert_eq!(request_count(&store).await, 5);

        // A split into one part is refused and creates no child.
        let (single, _) = store
            .create_request(
                city.new_request("一件事", "只有一件事", VILLAGE_2),
                operator(),
                monday(),
            )
            .await
            .unwrap();
        let count = request_count(&store).await;
        let err = store
            .split(single.id, &parts[..1], &dispatcher(), t1)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Domain(DomainError::TooFewChildren)),
            "{err:?}"
        );
        // A part without text is refused after the first child was written: still no child.
        let with_blank = vec![parts[0].clone(), ("空".to_string(), "  ".to_string())];
        assert!(matches!(
            store.split(single.id, &with_blank, &dispatcher(), t1).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(request_count(&store).await, count);
        assert_eq!(store.get_request(single.id).await.unwrap(), single);
        assert_eq!(store.events(single.id).await.unwrap().len(), 1);
        // The refused splits did not spoil the next one.
        let children = store
            .split(single.id, &parts, &dispatcher(), t1)
            .await
            .unwrap();
        assert_eq!(children.len(), 2);
        assert_eq!(request_count(&store).await, count + 2);
    }
);
