//! Bulk loading of generated histories (`insert_history`).

use crate::fixture::*;
use minyi_domain::RequestId;
use minyi_domain::personal::TrackingCode;
use minyi_domain::request::{Command, Event, Intake, Request, State};
use minyi_store::{RequesterInfo, SeedRequest, Store, StoreError};

/// A request received at `monday()` and, with `steps`, classified and dispatched, built by the
/// domain alone as the demo seeder does.
fn generate(store: &Store, city: &crate::fixture::City, id: i64, steps: usize) -> SeedRequest {
    let calendar = store.calendar();
    let new = city.new_request("生成的诉求", "物业公司不修电梯", COMPOUND_1);
    let intake = Intake {
        tracking_code: TrackingCode::from_entropy(rand::random()),
        channel: new.channel,
        requester_kind: new.requester_kind,
        title: new.title,
        text: new.text,
        location: new.location,
        parent: None,
    };
    let (mut request, first) = Request::receive(RequestId(id), intake, operator(), monday());
    let mut events: Vec<Event> = vec![first];
    let commands = [city.classify(PROPERTY), city.dispatch(PROPERTY, COMPOUND_1)];
    for command in commands.iter().take(steps) {
        events.extend(
            request
                .execute(&dispatcher(), command, local("2025-03-10 10:30"), &calendar)
                .unwrap(),
        );
    }
    SeedRequest {
        request,
        requester: new.requester,
        events,
    }
}

storage_test!(
    insert_history_refuses_a_history_that_does_not_fold_to_its_request,
    |db| {
        let (store, city) = db.fixture().await;
        let first_id = store.next_request_id().await.unwrap();
        assert_eq!(first_id, 1);
        let good = generate(&store, &city, first_id, 2);
        assert_eq!(good.request.state, State::Dispatched);

        // The last event is missing: the history folds to a request that is only classified.
        let mut truncated = good.clone();
        truncated.events.pop();
        // The request was changed after the fact.
        let mut tampered = good.clone();
        tampered.request.state = State::Closed;
        // The events belong to another request.
        let mut foreign = generate(&store, &city, first_id + 1, 1);
        foreign.events = good.events.clone();
        // No history at all.
        let mut empty = good.clone();
        empty.events.clear();
        for bad in [truncated, tampered, foreign, empty] {
            let err = store
                .insert_history(&[good.clone(), bad])
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        }
        let stats = store.stats().await.unwrap();
        assert_eq!((stats.requests, stats.events), (0, 0));
        // An empty batch is no error and writes nothing.
        store.insert_history(&[]).await.unwrap();
        assert_eq!(store.next_request_id().await.unwrap(), first_id);

        // A correct batch goes in whole.
        let second = generate(&store, &city, first_id + 1, 0);
        store
            .insert_history(&[good.clone(), second.clone()])
            .await
            .unwrap();
        for seed in [&good, &second] {
            let id = seed.request.id;
            assert_eq!(store.get_request(id).await.unwrap(), seed.request);
            assert_eq!(store.events(id).await.unwrap(), seed.events);
            assert_eq!(
                store
                    .find_by_tracking_code(&seed.request.intake.tracking_code)
                    .await
                    .unwrap()
                    .as_ref(),
                Some(&seed.request)
            );
            let requester: Option<RequesterInfo> = store.requester(id).await.unwrap();
            assert_eq!(requester.as_ref(), Some(&seed.requester));
        }
        let stats = store.stats().await.unwrap();
        assert_eq!((stats.requests, stats.events), (2, 4));
        assert_eq!(store.next_request_id().await.unwrap(), first_id + 2);

        // Requests received afterwards do not collide with the loaded ids.
        let (fresh, _) = store
            .create_request(
                city.new_request("新诉求", "路灯不亮", VILLAGE_2),
                operator(),
                monday(),
            )
            .await
            .unwrap();
        assert!(fresh.id.0 > first_id + 1, "{:?}", fresh.id);
        // Loaded requests live on: the sweeper sees the dispatched one, commands apply.
        let report = store
            .sweep(good.request.response_clock.unwrap().due_soon_at())
            .await
            .unwrap();
        assert_eq!(report.due_soon, 1);
        store
            .execute(
                second.request.id,
                &dispatcher(),
                &city.classify(PROPERTY),
                local("2025-03-11 09:00"),
            )
            .await
            .unwrap();
        assert!(matches!(
            store
                .execute(
                    good.request.id,
                    &dispatcher(),
                    &Command::Sign,
                    local("2025-03-11 09:00")
                )
                .await,
            Err(StoreError::Domain(_))
        ));
    }
);
