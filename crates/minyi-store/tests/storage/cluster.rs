//! Several nodes on one database: job leases, the reference-data version, and the outbox written
//! with the events.

use crate::fixture::*;
use std::time::Duration;

storage_test!(
    a_lease_is_held_by_one_node_until_it_expires_or_is_released,
    |db| {
        let (a, b) = (db.open().await, db.open().await);
        let ttl = Duration::from_secs(60);
        assert!(a.acquire_lease("sweeper", "node-a", ttl).await.unwrap());
        assert!(!b.acquire_lease("sweeper", "node-b", ttl).await.unwrap());
        // The holder renews; another job is free.
        assert!(a.acquire_lease("sweeper", "node-a", ttl).await.unwrap());
        assert!(b.acquire_lease("outbox", "node-b", ttl).await.unwrap());
        assert_eq!(
            b.lease_holder("sweeper").await.unwrap().as_deref(),
            Some("node-a")
        );
        // Released: the other node takes it at once.
        a.release_lease("sweeper", "node-a").await.unwrap();
        assert!(b.acquire_lease("sweeper", "node-b", ttl).await.unwrap());
        assert!(!a.acquire_lease("sweeper", "node-a", ttl).await.unwrap());
        // Expired: a lease of 1 ms lapses and the other node takes it over.
        assert!(
            a.acquire_lease("reports", "node-a", Duration::from_millis(1))
                .await
                .unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(b.lease_holder("reports").await.unwrap(), None);
        assert!(b.acquire_lease("reports", "node-b", ttl).await.unwrap());
        // Releasing someone else's lease does nothing.
        a.release_lease("reports", "node-a").await.unwrap();
        assert_eq!(
            a.lease_holder("reports").await.unwrap().as_deref(),
            Some("node-b")
        );
    }
);

storage_test!(
    every_reference_write_bumps_the_version_and_other_nodes_reload_the_calendar,
    |db| {
        let (store, _city) = db.fixture().await;
        let other = db.open().await;
        let v0 = store.reference_version().await.unwrap();
        assert!(v0 > 0, "the fixture's imports bumped it");
        assert_eq!(other.refresh_reference().await.unwrap(), v0);
        store.set_fallback_unit(DISPATCH_CENTRE).await.unwrap();
        let v1 = store.reference_version().await.unwrap();
        assert!(v1 > v0);
        // A refused import changes nothing, the version neither.
        let refused = store
            .import_divisions(&[minyi_store::DivisionRow {
                code: "X".into(),
                name: "无父区划".into(),
                level: "street".into(),
                kind: "regular".into(),
                parent_code: "NOPE".into(),
            }])
            .await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(store.reference_version().await.unwrap(), v1);
        // A calendar change on one node reaches the other's cached calendar on its next check.
        let hours = minyi_domain::calendar::WorkingHours::parse("08:30-12:00,13:30-17:30").unwrap();
        store.replace_calendar(&[], &hours).await.unwrap();
        assert_ne!(other.calendar().hours(), &hours);
        assert!(other.refresh_reference().await.unwrap() > v1);
        assert_eq!(other.calendar().hours(), &hours);
    }
);

storage_test!(
    the_outbox_gets_one_row_per_event_in_the_same_transaction_and_none_for_bulk_history,
    |db| {
        let (store, city) = db.fixture().await;
        let request = city
            .dispatched(&store, PROPERTY, COMPOUND_1, monday())
            .await;
        let events = store.events(request.id).await.unwrap();
        let waiting = store.unpublished_events(100).await.unwrap();
        assert_eq!(waiting.len(), events.len());
        for (row, event) in waiting.iter().zip(&events) {
            assert_eq!(row.event_id, format!("{}-{}", request.id.0, event.seq));
            assert_eq!(row.kind, event.kind.name());
            for personal in [PHONE, "张三", "莲花一村12栋", "物业"] {
                assert!(
                    !row.payload.contains(personal),
                    "{personal} in {}",
                    row.payload
                );
            }
        }
        assert!(waiting.windows(2).all(|w| w[0].id < w[1].id));
        // A refused command adds nothing.
        let refused = store
            .execute(
                request.id,
                &dispatcher(),
                &city.dispatch(PROPERTY, COMPOUND_1),
                monday(),
            )
            .await;
        assert!(refused.is_err());
        assert_eq!(store.outbox_backlog().await.unwrap(), events.len() as i64);
        // Marked published, they are no longer waiting.
        let ids: Vec<i64> = waiting.iter().map(|m| m.id).collect();
        store.mark_published(&ids[..1], monday()).await.unwrap();
        assert_eq!(
            store.outbox_backlog().await.unwrap(),
            events.len() as i64 - 1
        );
        store.mark_published(&ids, monday()).await.unwrap();
        assert!(store.unpublished_events(100).await.unwrap().is_empty());
    }
);
