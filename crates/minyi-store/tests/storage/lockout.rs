//! Failed sign-ins counted in the database: the limit within the window locks a username for
//! the lock's length, old failures stop counting, a success clears the count, and two stores on
//! the same database (two nodes) add up their failures.

use chrono::{DateTime, Duration, Utc};
use minyi_store::LockoutPolicy;

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap() + Duration::minutes(minutes)
}

storage_test!(failed_sign_ins_lock_a_username_for_a_while, |db| {
    let store = db.open().await;
    let policy = LockoutPolicy::default();
    for minute in 0..4 {
        let locked = store
            .record_login_failure("dispatcher", policy, at(minute))
            .await
            .unwrap();
        assert_eq!(locked, None, "failure {minute} locked too early");
    }
    assert_eq!(
        store.login_locked_until("dispatcher", at(4)).await.unwrap(),
        None
    );
    let until = store
        .record_login_failure("dispatcher", policy, at(4))
        .await
        .unwrap();
    assert_eq!(until, Some(at(19)));
    assert_eq!(
        store
            .login_locked_until("dispatcher", at(18))
            .await
            .unwrap(),
        Some(at(19))
    );
    // Other usernames are not touched; the lock ends on time.
    assert_eq!(
        store.login_locked_until("operator", at(18)).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .login_locked_until("dispatcher", at(19))
            .await
            .unwrap(),
        None
    );
    // After the lock the count starts again.
    let again = store
        .record_login_failure("dispatcher", policy, at(20))
        .await
        .unwrap();
    assert_eq!(again, None);
});

storage_test!(
    failures_outside_the_window_or_before_a_success_do_not_count,
    |db| {
        let store = db.open().await;
        let policy = LockoutPolicy::default();
        // Four failures, then a fifth 15 minutes after the first: the window has moved on.
        for minute in [0, 1, 2, 3] {
            store
                .record_login_failure("clerk_a", policy, at(minute))
                .await
                .unwrap();
        }
        let locked = store
            .record_login_failure("clerk_a", policy, at(15))
            .await
            .unwrap();
        assert_eq!(locked, None);
        // Four more in the new window, a success, then four more: still not locked.
        for minute in [16, 17, 18] {
            store
                .record_login_failure("clerk_a", policy, at(minute))
                .await
                .unwrap();
        }
        store.clear_login_failures("clerk_a").await.unwrap();
        for minute in [19, 20, 21, 22] {
            let locked = store
                .record_login_failure("clerk_a", policy, at(minute))
                .await
                .unwrap();
            assert_eq!(locked, None, "minute {minute}");
        }
        assert_eq!(
            store.login_locked_until("clerk_a", at(22)).await.unwrap(),
            None
        );
    }
);

storage_test!(two_nodes_count_the_same_failures, |db| {
    let first = db.open().await;
    let second = db.open().await;
    let policy = LockoutPolicy::default();
    for minute in 0..4 {
        let node = if minute % 2 == 0 { &first } else { &second };
        node.record_login_failure("supervisor", policy, at(minute))
            .await
            .unwrap();
    }
    let locked = second
        .record_login_failure("supervisor", policy, at(4))
        .await
        .unwrap();
    assert_eq!(locked, Some(at(19)));
    assert_eq!(
        first.login_locked_until("supervisor", at(5)).await.unwrap(),
        Some(at(19))
    );
});
