//! Abuse limits on public intake and sign-in, and the HTTP series of `/metrics`.

use super::*;
use minyi_server::AppState;
use minyi_server::limits::{Limit, RateLimits};

async fn limited_app(limits: RateLimits) -> TestApp {
    let (store, dir) = sqlite_store().await;
    seed_city(&store).await;
    spawn_state(AppState::new(store).with_rate_limits(limits), Some(dir)).await
}

#[tokio::test]
async fn public_intake_and_sign_in_are_limited_per_address() {
    let slow = Limit {
        burst: 2,
        refill_ms: 60_000,
    };
    let app = limited_app(RateLimits {
        public_intake: slow,
        login: slow,
    })
    .await;
    for _ in 0..2 {
        let (status, _) = app.submit(complaint(), None).await;
        assert_eq!(status, 201);
    }
    let response = app
        .client
        .post(app.url("/api/v1/public/requests"))
        .json(&complaint())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // Nothing was filed by the refused call.
    let dispatcher = {
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"username": "dispatcher", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (_, page) = app.get(&dispatcher, "/api/v1/requests").await;
    assert_eq!(page["total"], 2);
    // Sign-in has its own bucket: one more attempt, then 429 even with the right password.
    let attempt = |password: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"username": "operator", "password": password}))
            .send()
    };
    assert_eq!(attempt("wrong password").await.unwrap().status(), 401);
    assert_eq!(attempt(PASSWORD).await.unwrap().status(), 429);
    // Other endpoints are not limited.
    for _ in 0..5 {
        let (status, _) = app.get(&dispatcher, "/api/v1/queues").await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn metrics_count_requests_and_time_them_by_route_template() {
    let app = city_app().await;
    let dispatcher = app.login("dispatcher").await;
    app.submit(complaint(), None).await;
    for _ in 0..3 {
        app.get(&dispatcher, "/api/v1/requests/1").await;
    }
    app.get(&dispatcher, "/api/v1/requests/999999").await;
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "minyi_http_requests_total{method=\"GET\",route=\"/api/v1/requests/{id}\",status=\"200\"} 3"
        ),
        "{text}"
    );
    assert!(text.contains(
        "minyi_http_requests_total{method=\"GET\",route=\"/api/v1/requests/{id}\",status=\"404\"} 1"
    ));
    assert!(text.contains(
        "minyi_http_requests_total{method=\"POST\",route=\"/api/v1/public/requests\",status=\"201\"} 1"
    ));
    assert!(text.contains(
        "minyi_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/requests/{id}\"} 4"
    ));
    assert!(text.contains("le=\"+Inf\""));
}
