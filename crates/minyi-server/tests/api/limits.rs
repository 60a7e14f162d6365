//! Abuse limits: rate limits on public intake and sign-in (the API and the web forms share the
//! buckets), the lockout after repeated failed sign-ins, the password policy, the security
//! headers on every response; and the HTTP series of `/metrics`.

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

async fn attempt(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn five_failed_sign_ins_lock_the_username_on_the_api_and_the_web_form() {
    // A roomy per-address limit, so that what refuses is the lockout.
    let app = limited_app(RateLimits {
        login: Limit {
            burst: 1_000,
            refill_ms: 1,
        },
        ..RateLimits::default()
    })
    .await;
    for n in 1..=4 {
        let response = attempt(&app, "dispatcher", "not the password").await;
        assert_eq!(response.status(), 401, "failure {n}");
    }
    // The fifth failure locks; from then on even the right password is refused.
    let response = attempt(&app, "dispatcher", "not the password").await;
    assert_eq!(response.status(), 429);
    for response in [response, attempt(&app, "dispatcher", PASSWORD).await] {
        assert_eq!(response.status(), 429);
        let wait: i64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=15 * 60).contains(&wait), "{wait}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "account_locked");
    }
    let web = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = web
        .post(app.url("/login"))
        .form(&[("username", "dispatcher"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("set-cookie").is_none());
    assert!(response.headers().contains_key("retry-after"));
    // Other accounts are not affected, and an unknown username locks the same way (the lock
    // does not tell which accounts exist).
    assert_eq!(attempt(&app, "operator", PASSWORD).await.status(), 200);
    let mut answers = Vec::new();
    for _ in 0..6 {
        let response = attempt(&app, "nobody_here", "whatever it is").await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        answers.push((status, body["code"].as_str().unwrap().to_string()));
    }
    let expected: Vec<(u16, String)> = [401, 401, 401, 401, 429, 429]
        .into_iter()
        .map(|s| {
            let code = if s == 401 {
                "bad_credentials"
            } else {
                "account_locked"
            };
            (s, code.to_string())
        })
        .collect();
    assert_eq!(answers, expected);
}

#[tokio::test]
async fn a_successful_sign_in_forgets_earlier_failures() {
    let app = limited_app(RateLimits {
        login: Limit {
            burst: 1_000,
            refill_ms: 1,
        },
        ..RateLimits::default()
    })
    .await;
    for _ in 0..2 {
        for _ in 0..4 {
            assert_eq!(
                attempt(&app, "supervisor", "wrong guess").await.status(),
                401
            );
        }
        assert_eq!(attempt(&app, "supervisor", PASSWORD).await.status(), 200);
    }
}

#[tokio::test]
async fn an_expired_lock_lets_the_right_password_in() {
    let (store, dir) = sqlite_store().await;
    seed_city(&store).await;
    let policy = minyi_store::LockoutPolicy {
        max_failures: 2,
        window: chrono::Duration::minutes(15),
        lock: chrono::Duration::seconds(1),
    };
    let app = spawn_state(AppState::new(store).with_lockout(policy), Some(dir)).await;
    assert_eq!(
        attempt(&app, "operator", "wrong guess 1").await.status(),
        401
    );
    assert_eq!(
        attempt(&app, "operator", "wrong guess 2").await.status(),
        429
    );
    assert_eq!(attempt(&app, "operator", PASSWORD).await.status(), 429);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(attempt(&app, "operator", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn new_passwords_must_follow_the_policy() {
    let app = city_app().await;
    let admin = app.login("admin").await;
    let account = |password: &str| {
        json!({"username": "clerk_new", "display_name": "新承办人", "role": "unit_handler",
               "unit_code": "SO-A", "password": password})
    };
    for (password, code) in [
        ("short 1", "weak_password"),
        ("onlylowercaseletters", "password_one_class"),
        ("1234567890123", "password_one_class"),
        ("Clerk_New is my name", "password_contains_username"),
        ("Password1234", "password_common"),
        ("1qaz2wsx3edc", "password_common"),
    ] {
        let (status, error) = app
            .post(&admin, "/api/v1/admin/users", account(password))
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{password}"
        );
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    let (status, user) = app
        .post(
            &admin,
            "/api/v1/admin/users",
            account("Blue tram 42 crosses"),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    // The same rules when a password is changed.
    let response = app
        .client
        .patch(app.url("/api/v1/admin/users/clerk_new"))
        .bearer_auth(&admin)
        .json(&json!({"password": "welcome12345"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "password_common");
}

#[tokio::test]
async fn the_portals_submit_form_shares_the_public_intake_limit() {
    let app = limited_app(RateLimits {
        public_intake: Limit {
            burst: 2,
            refill_ms: 60_000,
        },
        login: Limit {
            burst: 2,
            refill_ms: 60_000,
        },
    })
    .await;
    assert_eq!(app.submit(complaint(), None).await.0, 201);
    let form = [
        ("text", "甲花园门口有流动摊贩占道经营。"),
        ("phone", "13812345678"),
    ];
    let response = app
        .client
        .post(app.url("/submit"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_ne!(response.status(), 429);
    // The bucket is empty now, for the form and the API alike.
    let response = app
        .client
        .post(app.url("/submit"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(app.submit(complaint(), None).await.0, 429);
    // Reading the form is not limited.
    let response = app.client.get(app.url("/submit")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // The sign-in page's form shares the API's sign-in bucket.
    assert_eq!(attempt(&app, "operator", PASSWORD).await.status(), 200);
    let response = app
        .client
        .post(app.url("/login"))
        .form(&[("username", "operator"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_ne!(response.status(), 429);
    assert_eq!(attempt(&app, "operator", PASSWORD).await.status(), 429);
}

#[track_caller]
fn assert_security_headers(response: &reqwest::Response, hsts: bool) {
    let h = response.headers();
    let what = response.url().path().to_string();
    let csp = h
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'self'"), "{what}: {csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(h.contains_key("strict-transport-security"), hsts, "{what}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = city_app().await;
    let token = app.login("dispatcher").await;
    for path in [
        "/",
        "/submit",
        "/login",
        "/static/site.css",
        "/healthz",
        "/api/openapi.json",
        "/api/docs/",
        "/api/v1/requests",
        "/api/v1/no-such-thing",
        "/open311/v2/discovery.xml",
    ] {
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_security_headers(&response, false);
    }
    // Errors too.
    let response = app
        .client
        .get(app.url("/api/v1/requests"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_security_headers(&response, false);

    // Behind HTTPS (secure cookies), HSTS as well.
    let (store, dir) = sqlite_store().await;
    seed_city(&store).await;
    let mut state = AppState::new(store);
    state.secure_cookies = true;
    let https = spawn_state(state, Some(dir)).await;
    for path in ["/", "/healthz", "/api/v1/requests"] {
        let response = https.client.get(https.url(path)).send().await.unwrap();
        assert_security_headers(&response, true);
        assert_eq!(
            response.headers()["strict-transport-security"],
            minyi_server::headers::STRICT_TRANSPORT_SECURITY
        );
    }
}
