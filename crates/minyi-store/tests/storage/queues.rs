//! A unit's queue (its requests in some states) is read from `request_units`, which carries each
//! request's state: the rows follow every state change, and the queue lists exactly the unit's
//! requests in those states.

use crate::fixture::*;
use minyi_domain::request::{Command, State};
use minyi_domain::{RequestId, UnitId};
use minyi_store::{RequestFilter, Store};
use std::collections::BTreeSet;

async fn queue(store: &Store, unit: UnitId, states: &[State]) -> BTreeSet<RequestId> {
    let page = store
        .list_requests(&RequestFilter {
            unit: Some(unit),
            states: states.to_vec(),
            page: 1,
            page_size: 100,
            ..RequestFilter::default()
        })
        .await
        .unwrap();
    let ids: BTreeSet<RequestId> = page.items.iter().map(|r| r.id).collect();
    assert_eq!(page.total, ids.len() as i64, "{states:?}");
    ids
}

storage_test!(
    a_units_queue_lists_its_requests_in_those_states_as_they_change,
    |db| {
        let (store, city) = db.fixture().await;
        let workstation = city.unit(WORKSTATION);
        let clerk = city.handler(WORKSTATION);
        // The workstation leads 12 requests and has signed for 10 of them; another unit leads
        // one; one more is not dispatched at all.
        let mut signed = BTreeSet::new();
        let mut waiting = BTreeSet::new();
        for day in 0..12 {
            let at = local(&format!("2025-03-{:02} 09:30", 3 + day));
            let r = city.dispatched(&store, PROPERTY, COMPOUND_1, at).await;
            assert_eq!(r.lead(), Some(workstation));
            if day < 10 {
                store
                    .execute(
                        r.id,
                        &clerk,
                        &Command::Sign,
                        at + chrono::Duration::minutes(5),
                    )
                    .await
                    .unwrap();
                signed.insert(r.id);
            } else {
                waiting.insert(r.id);
            }
        }
        let other = city
            .dispatched(&store, PROPERTY, VILLAGE_2, local("2025-03-20 09:30"))
            .await;
        let other_unit = other.lead().unwrap();
        assert_ne!(other_unit, workstation);
        let (received, _) = store
            .create_request(
                city.new_request("电梯故障", "电梯停在三楼", VILLAGE_1),
                operator(),
                local("2025-03-21 09:30"),
            )
            .await
            .unwrap();

        // Signing moved ten of them from the queue of those waiting to the queue in handling.
        assert_eq!(
            queue(&store, workstation, &[State::Dispatched]).await,
            waiting
        );
        let open: BTreeSet<RequestId> = signed.union(&waiting).copied().collect();
        assert_eq!(
            queue(&store, workstation, &[State::Dispatched, State::Handling]).await,
            open
        );
        // The other unit has one, waiting.
        assert!(
            queue(&store, other_unit, &[State::Handling])
                .await
                .is_empty()
        );
        assert_eq!(
            queue(&store, other_unit, &[State::Dispatched]).await,
            BTreeSet::from([other.id])
        );
        // No unit leads the received one, whatever the states.
        for unit in [workstation, other_unit] {
            assert!(
                !queue(&store, unit, &[State::Received, State::Dispatched])
                    .await
                    .contains(&received.id)
            );
            assert!(queue(&store, unit, &[State::Received]).await.is_empty());
        }
        // Without states: every request of the unit.
        let page = store
            .list_requests(&RequestFilter {
                unit: Some(workstation),
                page: 1,
                page_size: 100,
                ..RequestFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(page.total, 12);
        // Every unit row carries its request's state.
        use sqlx::Row;
        let mut raw = db.raw().await;
        let stale: i64 = sqlx::query(
            "SELECT COUNT(*) FROM request_units u JOIN requests r ON r.id = u.request_id \
             WHERE u.state <> r.state",
        )
        .fetch_one(&mut raw)
        .await
        .unwrap()
        .get(0);
        assert_eq!(stale, 0);
        let rows: i64 = sqlx::query("SELECT COUNT(*) FROM request_units")
            .fetch_one(&mut raw)
            .await
            .unwrap()
            .get(0);
        assert!(rows >= 13, "{rows}");
    }
);
