//! Supervision: queues per role, the units' backlog, yellow and red cards with their history.

use super::*;

/// Files a complaint and dispatches it to street office A; returns its id.
async fn dispatched(app: &TestApp, dispatcher: &str) -> i64 {
    let (status, receipt) = app.submit(complaint(), None).await;
    assert_eq!(status, 201);
    let id = id_of(app, dispatcher, receipt["tracking_code"].as_str().unwrap()).await;
    let (status, _) = app
        .post(
            dispatcher,
            &format!("/api/v1/requests/{id}/classify"),
            json!({"matter_id": 3}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, view) = app
        .post(
            dispatcher,
            &format!("/api/v1/requests/{id}/dispatch"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["lead_unit"]["name"], "甲街道办事处");
    id
}

fn count(queues: &Value, name: &str) -> i64 {
    queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == name)
        .unwrap_or_else(|| panic!("no queue {name} in {queues}"))["count"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn each_role_sees_its_own_queues_and_their_sizes_move() {
    let app = city_app().await;
    let dispatcher = app.login("dispatcher").await;
    let clerk_a = app.login("clerk_a").await;
    let clerk_b = app.login("clerk_b").await;
    app.submit(complaint(), None).await;
    let (status, queues) = app.get(&dispatcher, "/api/v1/queues").await;
    assert_eq!(status, 200);
    assert_eq!(count(&queues, "to_dispatch"), 1);
    let id = dispatched(&app, &dispatcher).await;
    let (_, queues) = app.get(&dispatcher, "/api/v1/queues").await;
    assert_eq!(
        count(&queues, "to_dispatch"),
        1,
        "the first is still waiting"
    );
    let (_, a) = app.get(&clerk_a, "/api/v1/queues").await;
    assert_eq!(count(&a, "to_sign"), 1);
    assert_eq!(count(&a, "in_hand"), 0);
    let (_, b) = app.get(&clerk_b, "/api/v1/queues").await;
    assert_eq!(count(&b, "to_sign"), 0, "street B sees nothing of street A");
    app.post(&clerk_a, &format!("/api/v1/requests/{id}/sign"), json!({}))
        .await;
    let (_, a) = app.get(&clerk_a, "/api/v1/queues").await;
    assert_eq!((count(&a, "to_sign"), count(&a, "in_hand")), (0, 1));
    // The queue's query lists exactly what it counts.
    let in_hand = a
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "in_hand")
        .unwrap()["query"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, page) = app
        .get(&clerk_a, &format!("/api/v1/requests?{in_hand}"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"], id);
}

#[tokio::test]
async fn supervisors_card_units_and_requests_and_lift_the_cards() {
    let app = city_app().await;
    let dispatcher = app.login("dispatcher").await;
    let supervisor = app.login("supervisor").await;
    let clerk_a = app.login("clerk_a").await;
    let clerk_b = app.login("clerk_b").await;
    let id = dispatched(&app, &dispatcher).await;

    let (status, backlog) = app.get(&supervisor, "/api/v1/supervision/backlog").await;
    assert_eq!(status, 200, "{backlog}");
    assert_eq!(backlog[0]["unit_name"], "甲街道办事处");
    assert_eq!(backlog[0]["open"], 1);
    let (status, _) = app.get(&clerk_a, "/api/v1/supervision/backlog").await;
    assert_eq!(status, 403);

    // A red card on the request urges it; a yellow card on the unit.
    let (status, card) = app
        .post(
            &supervisor,
            "/api/v1/supervision/cards",
            json!({"colour": "red", "request_id": id, "reason": "群众反映强烈，限期办结"}),
        )
        .await;
    assert_eq!(status, 201, "{card}");
    assert_eq!(card["colour"], "red");
    let (_, view) = app
        .get(&supervisor, &format!("/api/v1/requests/{id}"))
        .await;
    assert_eq!(view["n_urges"], 1);
    let unit_a = view["lead_unit"]["id"].as_i64().unwrap();
    let (status, unit_card) = app
        .post(
            &supervisor,
            "/api/v1/supervision/cards",
            json!({"colour": "yellow", "unit_id": unit_a, "reason": "按时办结率低于90%"}),
        )
        .await;
    assert_eq!(status, 201);
    // Bad cards: colour, target, reason, unknown unit; and only supervisors issue.
    for (body, code) in [
        (
            json!({"colour": "green", "unit_id": unit_a, "reason": "x"}),
            "invalid_colour",
        ),
        (json!({"colour": "red", "reason": "x"}), "card_target"),
        (
            json!({"colour": "red", "unit_id": unit_a, "request_id": id, "reason": "x"}),
            "card_target",
        ),
        (
            json!({"colour": "red", "unit_id": unit_a, "reason": "  "}),
            "invalid",
        ),
        (
            json!({"colour": "red", "unit_id": 9999, "reason": "x"}),
            "not_found",
        ),
    ] {
        let (_, error) = app
            .post(&supervisor, "/api/v1/supervision/cards", body)
            .await;
        assert_eq!(error["code"], code);
    }
    let (status, _) = app
        .post(
            &clerk_a,
            "/api/v1/supervision/cards",
            json!({"colour": "red", "unit_id": unit_a, "reason": "x"}),
        )
        .await;
    assert_eq!(status, 403);

    // The unit sees its own cards and not another unit's.
    let (status, own) = app.get(&clerk_a, "/api/v1/supervision/cards").await;
    assert_eq!(status, 200);
    assert_eq!(own.as_array().unwrap().len(), 1);
    let (status, _) = app
        .get(
            &clerk_b,
            &format!("/api/v1/supervision/cards?unit_id={unit_a}"),
        )
        .await;
    assert_eq!(status, 403);
    let (_, backlog) = app.get(&supervisor, "/api/v1/supervision/backlog").await;
    assert_eq!(backlog[0]["open_cards"], 1);

    // Lifting: once; the history keeps the lifted card.
    let card_id = unit_card["id"].as_i64().unwrap();
    let (status, lifted) = app
        .post(
            &supervisor,
            &format!("/api/v1/supervision/cards/{card_id}/lift"),
            json!({"note": "已整改"}),
        )
        .await;
    assert_eq!(status, 200, "{lifted}");
    assert!(!lifted["lifted_at"].is_null());
    let (status, _) = app
        .post(
            &supervisor,
            &format!("/api/v1/supervision/cards/{card_id}/lift"),
            json!({}),
        )
        .await;
    assert_eq!(status, 422);
    let (_, open) = app.get(&supervisor, "/api/v1/supervision/cards").await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    let (_, all) = app
        .get(&supervisor, "/api/v1/supervision/cards?open=false")
        .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
}
