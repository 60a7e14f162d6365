//! Full-text search on the request list (`q` of `GET /api/v1/requests`): with the other filters,
//! unit scoping, and the refusals of a bad search text.

use super::*;

/// Files a complaint and dispatches it to street office A; returns its id.
async fn dispatched_to_a(app: &TestApp, dispatcher: &str, complaint: Value) -> i64 {
    let (status, receipt) = app.submit(complaint, None).await;
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
    id
}

/// The ids a list answers, after checking it is a 200.
async fn ids(app: &TestApp, token: &str, query: &str) -> Vec<i64> {
    let (status, page) = app.get(token, &format!("/api/v1/requests?{query}")).await;
    assert_eq!(status, 200, "{query}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_request_list_searches_text_within_the_filters_and_the_units_scope() {
    let app = city_app().await;
    let dispatcher = app.login("dispatcher").await;
    let clerk_a = app.login("clerk_a").await;
    let clerk_b = app.login("clerk_b").await;
    let vending = dispatched_to_a(&app, &dispatcher, complaint()).await;
    let mut noise = complaint();
    noise["title"] = json!("夜间施工噪音");
    noise["text"] = json!("乙小区旁边工地每天夜里施工，噪音很大。");
    let (status, receipt) = app.submit(noise, None).await;
    assert_eq!(status, 201);
    let noise = id_of(
        &app,
        &dispatcher,
        receipt["tracking_code"].as_str().unwrap(),
    )
    .await;

    assert_eq!(ids(&app, &dispatcher, "q=流动摊贩").await, vec![vending]);
    assert_eq!(ids(&app, &dispatcher, "q=噪音").await, vec![noise]);
    assert_eq!(ids(&app, &dispatcher, "q=夜间 工地").await, vec![noise]);
    assert!(ids(&app, &dispatcher, "q=噪音 摊贩").await.is_empty());
    // With the other filters.
    assert!(
        ids(&app, &dispatcher, "q=摊贩&state=received")
            .await
            .is_empty()
    );
    assert_eq!(
        ids(
            &app,
            &dispatcher,
            "q=摊贩&state=dispatched&matter_id=3&sort=received_asc"
        )
        .await,
        vec![vending]
    );
    assert!(
        ids(
            &app,
            &dispatcher,
            "q=摊贩&received_from=2999-01-01T00:00:00Z"
        )
        .await
        .is_empty()
    );
    // A unit finds its own requests only.
    assert_eq!(ids(&app, &clerk_a, "q=占道经营").await, vec![vending]);
    assert!(ids(&app, &clerk_a, "q=噪音").await.is_empty());
    assert!(ids(&app, &clerk_b, "q=占道经营").await.is_empty());
    // An empty q does not filter.
    assert_eq!(ids(&app, &dispatcher, "q=").await.len(), 2);

    // A bad q: a stable code, Chinese by default and English when asked.
    let refusals = [
        ("q=灯", "query_too_short", "至少"),
        ("q=路灯 灯", "query_too_short", "至少"),
        (
            &format!("q={}", "路".repeat(65)) as &str,
            "query_too_long",
            "最多",
        ),
        ("q=%E8%B7%AF%1B%E7%81%AF", "control_characters", ""),
    ];
    for (query, code, zh) in refusals {
        let (status, error) = app
            .get(&dispatcher, &format!("/api/v1/requests?{query}"))
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{query}: {error}"
        );
        assert!(error["message"].as_str().unwrap().contains(zh), "{error}");
    }
    let (status, error) = app.get(&dispatcher, "/api/v1/requests?q=灯&lang=en").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], "query_too_short");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("at least 2 characters"),
        "{error}"
    );
}

/// Signs in on the web form and returns the session cookie.
async fn web_session(app: &TestApp, client: &reqwest::Client, username: &str) -> String {
    let response = client
        .post(app.url("/login"))
        .form(&[("username", username), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "sign in {username}");
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn the_search_page_finds_within_the_units_scope_and_explains_a_refusal() {
    let app = city_app().await;
    let dispatcher = app.login("dispatcher").await;
    let vending = dispatched_to_a(&app, &dispatcher, complaint()).await;
    let (_, view) = app
        .get(&dispatcher, &format!("/api/v1/requests/{vending}"))
        .await;
    let code = view["tracking_code"].as_str().unwrap().to_string();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = |session: String, query: &'static str| {
        let client = client.clone();
        let url = app.url(&format!("/requests?{query}"));
        async move {
            let response = client
                .get(url)
                .header("cookie", session)
                .send()
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let clerk_a = web_session(&app, &client, "clerk_a").await;
    let clerk_b = web_session(&app, &client, "clerk_b").await;
    let (status, html) = page(clerk_a.clone(), "q=占道经营").await;
    assert_eq!(status, 200);
    assert!(html.contains("诉求检索") && html.contains(&code), "{html}");
    let (status, html) = page(clerk_b, "q=占道经营").await;
    assert_eq!(status, 200);
    assert!(!html.contains(&code));
    assert!(html.contains("没有找到匹配的诉求"));
    let (status, html) = page(clerk_a, "q=灯").await;
    assert_eq!(status, 400);
    assert!(
        html.contains("search-problem") && html.contains("至少"),
        "{html}"
    );
}
