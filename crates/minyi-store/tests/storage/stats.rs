//! Counts, and durability across a reopen.

use crate::fixture::*;
use minyi_domain::request::{Command, Satisfaction, State};
use minyi_domain::unit::Actor;
use minyi_store::StorageKind;

storage_test!(
    stats_count_requests_by_every_state_and_events_by_kind,
    |db| {
        let (store, city) = db.fixture().await;
        let empty = store.stats().await.unwrap();
        let kind = match db.backend {
            crate::Backend::Sqlite => StorageKind::Sqlite,
            crate::Backend::Postgres => StorageKind::Postgres,
        };
        assert_eq!(store.kind(), kind);
        assert_eq!(empty.storage, kind.as_str());
        assert_eq!(empty.requests, 0);
        assert_eq!(empty.events, 0);
        assert_eq!(empty.requests_by_state.len(), State::ALL.len());
        assert!(empty.requests_by_state.values().all(|n| *n == 0));
        assert!(empty.events_by_kind.is_empty());
        assert_eq!((empty.units, empty.users, empty.divisions), (5, 0, 8));
        assert_eq!((empty.matters, empty.leaf_matters), (12, 5));
        assert_eq!((empty.responsibility_rules, empty.calendar_days), (6, 4));
        assert_eq!(empty.urban_villages, 2);
        assert_eq!(empty.divisions_by_level.get("compound"), Some(&3));
        assert_eq!(empty.divisions_by_level.get("community"), Some(&2));
        assert_eq!(empty.units_by_kind.get("dispatch_centre"), Some(&1));

        // One received, two dispatched, one handling, one closed.
        let t = local("2025-03-10 11:00");
        store
            .create_request(
                city.new_request("a", "路灯不亮", VILLAGE_2),
                operator(),
                monday(),
            )
            .await
            .unwrap();
        city.dispatched(&store, PROPERTY, COMPOUND_1, monday())
            .await;
        city.dispatched(&store, NOISE, VILLAGE_1, monday()).await;
        let handling = city
            .dispatched(&store, PROPERTY, COMPOUND_1, monday())
            .await;
        let clerk = city.handler(WORKSTATION);
        store
            .execute(handling.id, &clerk, &Command::Sign, t)
            .await
            .unwrap();
        let closed = city.dispatched(&store, PROPERTY, VILLAGE_2, monday()).await;
        let bureau = city.handler(DISTRICT_BUREAU);
        store
            .execute(closed.id, &bureau, &Command::Sign, t)
            .await
            .unwrap();
        let reply = Command::Reply {
            text: "已处理".into(),
        };
        store.execute(closed.id, &bureau, &reply, t).await.unwrap();
        let rate = Command::Rate {
            satisfaction: Satisfaction::BasicallySatisfied,
            solved: true,
            comment: String::new(),
        };
        store
            .execute(closed.id, &Actor::REQUESTER, &rate, t)
            .await
            .unwrap();

        let stats = store.stats().await.unwrap();
        assert_eq!(stats.requests, 5);
        assert_eq!(stats.requests_by_state.len(), State::ALL.len());
        for state in State::ALL {
            let expected = match state {
                State::Received => 1,
                State::Dispatched => 2,
                State::Handling | State::Closed => 1,
                _ => 0,
            };
            assert_eq!(
                stats.requests_by_state.get(state.as_str()),
                Some(&expected),
                "{state:?}"
            );
        }
        assert_eq!(
            stats.requests_by_state.values().sum::<i64>(),
            stats.requests
        );
        // 1 + 3 + 3 + 4 + 7 events.
        assert_eq!(stats.events, 18);
        assert_eq!(stats.events_by_kind.values().sum::<i64>(), stats.events);
        assert_eq!(stats.events_by_kind.get("received"), Some(&5));
        assert_eq!(stats.events_by_kind.get("dispatched"), Some(&4));
        assert_eq!(stats.events_by_kind.get("signed"), Some(&2));
        assert_eq!(stats.events_by_kind.get("closed"), Some(&1));
    }
);

storage_test!(a_request_survives_closing_and_reopening_the_store, |db| {
    let (store, city) = db.fixture().await;
    let request = city
        .dispatched(&store, PROPERTY, COMPOUND_1, monday())
        .await;
    let events = store.events(request.id).await.unwrap();
    let stats = store.stats().await.unwrap();
    store.close().await;
    drop(store);

    let store = db.open().await;
    let found = store
        .find_by_tracking_code(&request.intake.tracking_code)
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&request));
    assert_eq!(store.events(request.id).await.unwrap(), events);
    assert_eq!(
        store
            .requester(request.id)
            .await
            .unwrap()
            .unwrap()
            .phone
            .unwrap()
            .reveal(),
        PHONE
    );
    assert_eq!(store.stats().await.unwrap(), stats);
    // Reference data, fallback unit and calendar came back too.
    let again = crate::fixture::City::read(&store).await;
    assert_eq!(again.units, city.units);
    assert_eq!(again.list.fallback(), city.unit(DISPATCH_CENTRE));
    assert_eq!(store.calendar().overrides().count(), 4);
    assert!(
        !store
            .calendar()
            .is_working_day("2025-10-01".parse().unwrap())
    );

    // Work goes on after the reopen: commands apply and new requests get new ids.
    store
        .execute(
            request.id,
            &city.handler(WORKSTATION),
            &Command::Sign,
            local("2025-03-10 11:00"),
        )
        .await
        .unwrap();
    let next = city
        .dispatched(&store, PROPERTY, COMPOUND_1, monday())
        .await;
    assert_ne!(next.id, request.id);
    store.close().await;
    drop(store);

    let store = db.open().await;
    assert_eq!(
        store.get_request(request.id).await.unwrap().state,
        State::Handling
    );
    assert_eq!(store.get_request(next.id).await.unwrap(), next);
    assert_eq!(store.stats().await.unwrap().requests, 2);
});
