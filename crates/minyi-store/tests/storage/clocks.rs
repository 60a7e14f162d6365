//! The clock sweeper: due-soon warnings and overdue escalations, each raised exactly once.

use crate::fixture::*;
use chrono::Duration;
use minyi_domain::RequestId;
use minyi_domain::request::{ClockKind, EventKind};
use minyi_store::{Store, SweepReport};

async fn clock_events(store: &Store, id: RequestId) -> Vec<EventKind> {
    store
        .events(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| matches!(k, EventKind::DueSoon { .. } | EventKind::Escalated { .. }))
        .collect()
}

fn report(examined_at_least: u64, due_soon: u64, escalated: u64, got: SweepReport) {
    assert!(got.examined >= examined_at_least, "{got:?}");
    assert_eq!(
        (got.due_soon, got.escalated),
        (due_soon, escalated),
        "{got:?}"
    );
}

storage_test!(
    the_sweeper_warns_and_escalates_each_clock_exactly_once,
    |db| {
        let (store, city) = db.fixture().await;
        // Dispatched Monday 10:00: respond within 1 working day (Tuesday 18:00), handle within 5
        // (next Monday 18:00). Due soon when a quarter of the span is left.
        let request = city
            .dispatched(&store, PROPERTY, COMPOUND_1, monday())
            .await;
        let response = request.response_clock.unwrap();
        assert_eq!(response.due_at, local("2025-03-11 18:00"));
        assert_eq!(
            request.handling_clock.unwrap().due_at,
            local("2025-03-17 18:00")
        );
        let due_soon_at = response.due_soon_at();
        assert_eq!(due_soon_at, local("2025-03-11 10:00"));
        let n_events = store.events(request.id).await.unwrap().len();

        // Before the due-soon point: nothing.
        report(0, 0, 0, store.sweep(monday()).await.unwrap());
        report(
            0,
            0,
            0,
            store
                .sweep(due_soon_at - Duration::seconds(1))
                .await
                .unwrap(),
        );
        assert_eq!(store.events(request.id).await.unwrap().len(), n_events);

        // At the due-soon point: one warning for the response clock.
        report(1, 1, 0, store.sweep(due_soon_at).await.unwrap());
        assert_eq!(
            clock_events(&store, request.id).await,
            [EventKind::DueSoon {
                clock: ClockKind::Response
            }]
        );
        report(0, 0, 0, store.sweep(due_soon_at).await.unwrap());
        report(0, 0, 0, store.sweep(response.due_at).await.unwrap());
        assert_eq!(clock_events(&store, request.id).await.len(), 1);

        // After the deadline: one escalation, and the sweeper's events are the system's.
        let late = response.due_at + Duration::minutes(1);
        report(1, 0, 1, store.sweep(late).await.unwrap());
        report(0, 0, 0, store.sweep(late).await.unwrap());
        report(
            0,
            0,
            0,
            store.sweep(late + Duration::hours(1)).await.unwrap(),
        );
        assert_eq!(
            clock_events(&store, request.id).await,
            [
                EventKind::DueSoon {
                    clock: ClockKind::Response
                },
                EventKind::Escalated {
                    clock: ClockKind::Response
                }
            ]
        );
        let stored = store.get_request(request.id).await.unwrap();
        assert_eq!(stored.n_escalations, 1);
        assert!(stored.response_clock.unwrap().overdue_raised);
        let events = store.events(request.id).await.unwrap();
        assert_eq!(
            events.last().unwrap().actor,
            minyi_domain::unit::Actor::SYSTEM
        );
        assert_eq!(events.len(), n_events + 2);
        assert_eq!(
            minyi_domain::request::Request::from_history(&events),
            Some(stored)
        );

        // Signing stops the response clock; later sweeps only look at the handling clock.
        store
            .execute(
                request.id,
                &city.handler(WORKSTATION),
                &minyi_domain::request::Command::Sign,
                late + Duration::hours(2),
            )
            .await
            .unwrap();
        let handling = request.handling_clock.unwrap();
        report(1, 1, 0, store.sweep(handling.due_soon_at()).await.unwrap());
        report(
            1,
            0,
            1,
            store
                .sweep(handling.due_at + Duration::seconds(1))
                .await
                .unwrap(),
        );
        report(
            0,
            0,
            0,
            store
                .sweep(handling.due_at + Duration::days(30))
                .await
                .unwrap(),
        );
        assert_eq!(clock_events(&store, request.id).await.len(), 4);
    }
);

storage_test!(
    concurrent_sweepers_escalate_an_overdue_request_only_once,
    |db| {
        let (store, city) = db.fixture().await;
        // A second store on the same database, as on a second node.
        let other = db.open().await;
        let mut ids = Vec::new();
        for _ in 0..4 {
            ids.push(
                city.dispatched(&store, PROPERTY, COMPOUND_1, monday())
                    .await
                    .id,
            );
        }
        // Tuesday 20:00: every response clock is overdue, no handling clock is due soon yet.
        let now = local("2025-03-11 20:00");
        let (a, b, c) = tokio::join!(store.sweep(now), other.sweep(now), store.sweep(now));
        let reports = [a.unwrap(), b.unwrap(), c.unwrap()];
        let escalated: u64 = reports.iter().map(|r| r.escalated).sum();
        let due_soon: u64 = reports.iter().map(|r| r.due_soon).sum();
        assert_eq!((escalated, due_soon), (4, 0), "{reports:?}");
        for id in &ids {
            assert_eq!(
                clock_events(&store, *id).await,
                [EventKind::Escalated {
                    clock: ClockKind::Response
                }],
                "request {id}"
            );
            assert_eq!(store.get_request(*id).await.unwrap().n_escalations, 1);
        }
        let stats = store.stats().await.unwrap();
        assert_eq!(stats.events_by_kind.get("escalated"), Some(&4));
        assert_eq!(stats.events_by_kind.get("due_soon"), None);
        other.close().await;
    }
);

storage_test!(deadlines_follow_the_stored_calendar_across_holidays, |db| {
    let (store, city) = db.fixture().await;
    // Tuesday 2025-09-30, before the National Day holidays (Wed 1 – Fri 3 October).
    let request = city
        .dispatched(&store, PROPERTY, COMPOUND_1, local("2025-09-30 10:00"))
        .await;
    assert_eq!(
        request.response_clock.unwrap().due_at,
        local("2025-10-06 18:00"),
        "the next working day after the holidays and the weekend"
    );
    // Saturday 27 September, the day before the make-up Sunday: one working day ends Sunday.
    let request = city
        .dispatched(&store, PROPERTY, COMPOUND_1, local("2025-09-27 10:00"))
        .await;
    assert_eq!(
        request.response_clock.unwrap().due_at,
        local("2025-09-28 18:00")
    );
    // Urgent matters run on clock hours (the rule's own 1h / 12h), holidays or not.
    let request = city
        .dispatched(&store, GAS_LEAK, VILLAGE_2, local("2025-10-01 03:00"))
        .await;
    assert_eq!(
        request.response_clock.unwrap().due_at,
        local("2025-10-01 04:00")
    );
    assert_eq!(
        request.handling_clock.unwrap().due_at,
        local("2025-10-01 15:00")
    );
    assert_eq!(
        request.assignment.as_ref().unwrap().lead,
        city.unit(CITY_BUREAU)
    );
    let calendar = store.calendar();
    assert!(!calendar.is_working_day("2025-10-02".parse().unwrap()));
    assert!(calendar.is_working_day("2025-09-28".parse().unwrap()));
});
