//! Integration tests of the HTTP server: each test starts the real server on port 0 with a fresh
//! database (SQLite in a temporary directory; the health check also on PostgreSQL from
//! `MINYI_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`, a fresh database
//! per test) and talks to it over HTTP.
//!
//! The fixture city: 深圳市 → 福田区 → two streets (A, B), each with a community and a compound.
//! Matters: 城乡建设/市容环境/占道经营 (ordinary) and 咨询/政策咨询/社保政策 (consultation).
//! Units: the dispatch centre (fallback), the district bureau, street offices A and B. Accounts:
//! operator, dispatcher, supervisor, clerk_a (street office A), clerk_b (street office B).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod open311;

use minyi_domain::unit::Role;
use minyi_store::{DivisionRow, Location, MatterRow, RuleRow, Store, UnitRow, UserAccount};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

const PASSWORD: &str = "correct horse battery";

struct TestApp {
    address: String,
    client: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn spawn_app(store: Store, dir: Option<tempfile::TempDir>) -> TestApp {
    spawn_state(minyi_server::AppState::new(store), dir).await
}

/// Serves a prepared state (an engine with a model, other rate limits …) on port 0.
async fn spawn_state(state: minyi_server::AppState, dir: Option<tempfile::TempDir>) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(minyi_server::serve_with(state, listener, async {
        let _ = rx.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::new(),
        _dir: dir,
        shutdown: Some(tx),
    }
}

async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Location::DataDir(dir.path().to_path_buf()))
        .await
        .unwrap();
    (store, dir)
}

fn row(code: &str, name: &str, level: &str, parent: &str) -> DivisionRow {
    DivisionRow {
        code: code.into(),
        name: name.into(),
        level: level.into(),
        kind: "regular".into(),
        parent_code: parent.into(),
    }
}

fn matter(code: &str, name: &str, parent: &str, consultation: &str) -> MatterRow {
    MatterRow {
        code: code.into(),
        name: name.into(),
        parent_code: parent.into(),
        urgency: if consultation.is_empty() {
            String::new()
        } else {
            "ordinary".into()
        },
        response: String::new(),
        handling: String::new(),
        consultation: consultation.into(),
    }
}

fn rule(matter: &str, division: &str, lead: &str, co: &str) -> RuleRow {
    RuleRow {
        matter_code: matter.into(),
        division_code: division.into(),
        lead_unit_code: lead.into(),
        co_unit_codes: co.into(),
        legal_basis: "《深圳市市容和环境卫生管理条例》".into(),
        response: String::new(),
        handling: String::new(),
    }
}

async fn seed_city(store: &Store) {
    store
        .import_divisions(&[
            row("4403", "深圳市", "city", ""),
            row("440304", "福田区", "district", "4403"),
            row("440304001", "甲街道", "street", "440304"),
            row("440304002", "乙街道", "street", "440304"),
            row("440304001001", "甲社区", "community", "440304001"),
            row("440304002001", "乙社区", "community", "440304002"),
            row("440304001001001", "甲花园", "compound", "440304001001"),
            row("440304002001001", "乙雅苑", "compound", "440304002001"),
        ])
        .await
        .unwrap();
    let unit = |code: &str, name: &str, kind: &str, division: &str| UnitRow {
        code: code.into(),
        name: name.into(),
        kind: kind.into(),
        division_code: division.into(),
    };
    store
        .import_units(&[
            unit("DC", "分拨中心", "dispatch_centre", "4403"),
            unit("BUR", "福田区城管局", "district_bureau", "440304"),
            unit("SO-A", "甲街道办事处", "street_office", "440304001"),
            unit("SO-B", "乙街道办事处", "street_office", "440304002"),
        ])
        .await
        .unwrap();
    store
        .import_matters(&[
            matter("01", "城乡建设", "", ""),
            matter("01.01", "市容环境", "01", ""),
            matter("01.01.001", "占道经营", "01.01", "0"),
            matter("02", "咨询", "", ""),
            matter("02.01", "政策咨询", "02", ""),
            matter("02.01.001", "社保政策", "02.01", "1"),
        ])
        .await
        .unwrap();
    store
        .replace_rules(&[
            rule("01", "4403", "BUR", ""),
            rule("01.01", "440304001", "SO-A", "BUR"),
            rule("01.01", "440304002", "SO-B", "BUR"),
            rule("02", "4403", "DC", ""),
        ])
        .await
        .unwrap();
    store.set_fallback_unit("DC").await.unwrap();
    for (username, role, unit) in [
        ("operator", Role::Operator, None),
        ("dispatcher", Role::Dispatcher, None),
        ("supervisor", Role::Supervisor, None),
        ("admin", Role::Admin, None),
        ("clerk_a", Role::UnitHandler, Some("SO-A")),
        ("clerk_b", Role::UnitHandler, Some("SO-B")),
    ] {
        store
            .create_user(
                &UserAccount {
                    username: username.into(),
                    display_name: username.into(),
                    role,
                    unit_code: unit.map(String::from),
                    password: PASSWORD.into(),
                },
                0,
            )
            .await
            .unwrap();
    }
}

async fn city_app() -> TestApp {
    let (store, dir) = sqlite_store().await;
    seed_city(&store).await;
    spawn_app(store, Some(dir)).await
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    async fn login(&self, username: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "login {username}");
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_string()
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn submit(&self, body: Value, key: Option<&str>) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(self.url("/api/v1/public/requests"))
            .json(&body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }
}

fn complaint() -> Value {
    json!({
        "title": "路边占道经营",
        "text": "甲花园门口每天晚上有流动摊贩占道经营，影响通行。",
        "division_code": "440304001001001",
        "address": "甲花园东门",
        "name": "张三",
        "phone": "13812345678"
    })
}

/// Finds the id of the request with this tracking code through the dispatcher's list.
async fn id_of(app: &TestApp, token: &str, code: &str) -> i64 {
    let (status, page) = app.get(token, "/api/v1/requests?page_size=200").await;
    assert_eq!(status, 200);
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tracking_code"] == code)
        .map(|r| r["id"].as_i64().unwrap())
        .expect("the request is listed")
}

async fn check_healthz(app: TestApp, storage: &str) {
    let response = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["storage"], storage);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn healthz_reports_version_and_sqlite_storage() {
    let (store, dir) = sqlite_store().await;
    check_healthz(spawn_app(store, Some(dir)).await, "sqlite").await;
}

#[tokio::test]
async fn healthz_reports_version_and_postgres_storage() {
    let admin = std::env::var("MINYI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("minyi_api_{:016x}", rand::random::<u64>());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL must be reachable for the PostgreSQL half of the suite");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    let store = Store::open(&Location::Postgres(format!("{base}/{name}")))
        .await
        .unwrap();
    check_healthz(spawn_app(store, None).await, "postgres").await;
}

#[tokio::test]
async fn a_request_goes_from_a_citizen_through_dispatch_and_the_unit_back_to_the_citizen() {
    let app = city_app().await;
    let (status, receipt) = app.submit(complaint(), Some("key-1")).await;
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt["state"], "received");
    let code = receipt["tracking_code"].as_str().unwrap().to_string();

    let dispatcher = app.login("dispatcher").await;
    let id = id_of(&app, &dispatcher, &code).await;
    let (status, view) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{id}/classify"),
            json!({"matter_id": 3}),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["category"]["path"], "城乡建设/市容环境/占道经营");
    // Dispatch with the responsibility list's suggestion: street office A, the bureau co-unit.
    let (status, view) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{id}/dispatch"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["state"], "dispatched");
    assert_eq!(view["lead_unit"]["name"], "甲街道办事处");
    assert_eq!(view["co_units"][0]["name"], "福田区城管局");
    assert!(view["handling_clock"]["due_at"].is_string());

    let clerk = app.login("clerk_a").await;
    let (status, queue) = app
        .get(&clerk, "/api/v1/requests?state=dispatched&sort=due_asc")
        .await;
    assert_eq!(status, 200);
    assert_eq!(queue["total"], 1);
    let (status, view) = app
        .post(&clerk, &format!("/api/v1/requests/{id}/sign"), json!({}))
        .await;
    assert_eq!(
        (status, view["state"].as_str()),
        (StatusCode::OK, Some("handling"))
    );
    // The unit needs to call the citizen: it sees the phone in clear.
    assert_eq!(view["requester"]["phone"], "13812345678");
    let (status, view) = app
        .post(
            &clerk,
            &format!("/api/v1/requests/{id}/reply"),
            json!({"text": "已清理摊贩并加强巡查。"}),
        )
        .await;
    assert_eq!(
        (status, view["state"].as_str()),
        (StatusCode::OK, Some("replied"))
    );

    // The citizen tracks it: without the phone check, no content.
    let (status, tracking) = app
        .get("", &format!("/api/v1/public/requests/{code}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(tracking["verified"], false);
    assert!(tracking["text"].is_null() && tracking["reply"].is_null());
    let (_, tracking) = app
        .get(
            "",
            &format!("/api/v1/public/requests/{code}?phone_last4=5678"),
        )
        .await;
    assert_eq!(tracking["verified"], true);
    assert_eq!(tracking["reply"], "已清理摊贩并加强巡查。");
    assert_eq!(tracking["lead_unit"], "甲街道办事处");
    let body = tracking.to_string();
    assert!(!body.contains("13812345678") && !body.contains("张三"));

    // A wrong phone cannot rate; the right one closes the request.
    let rating = json!({"phone_last4": "0000", "satisfaction": "satisfied", "solved": true});
    let (status, error) = app
        .post(
            "",
            &format!("/api/v1/public/requests/{code}/rating"),
            rating,
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("phone_check_failed"))
    );
    let rating = json!({"phone_last4": "5678", "satisfaction": "satisfied", "solved": true});
    let (status, tracking) = app
        .post(
            "",
            &format!("/api/v1/public/requests/{code}/rating"),
            rating,
        )
        .await;
    assert_eq!(
        (status, tracking["state"].as_str()),
        (StatusCode::OK, Some("closed"))
    );

    let (status, events) = app
        .get(&dispatcher, &format!("/api/v1/requests/{id}/events"))
        .await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "received",
            "classified",
            "dispatched",
            "signed",
            "replied",
            "rated",
            "closed"
        ]
    );
}

#[tokio::test]
async fn a_unit_clerk_cannot_read_or_act_on_another_units_request() {
    let app = city_app().await;
    let (_, receipt) = app.submit(complaint(), None).await;
    let dispatcher = app.login("dispatcher").await;
    let id = id_of(
        &app,
        &dispatcher,
        receipt["tracking_code"].as_str().unwrap(),
    )
    .await;
    app.post(
        &dispatcher,
        &format!("/api/v1/requests/{id}/classify"),
        json!({"matter_id": 3}),
    )
    .await;
    app.post(
        &dispatcher,
        &format!("/api/v1/requests/{id}/dispatch"),
        json!({}),
    )
    .await;

    let other = app.login("clerk_b").await;
    let (status, error) = app.get(&other, &format!("/api/v1/requests/{id}")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_your_unit"))
    );
    let (status, _) = app
        .get(&other, &format!("/api/v1/requests/{id}/events"))
        .await;
    assert_eq!(status, 403);
    let (status, error) = app
        .post(&other, &format!("/api/v1/requests/{id}/sign"), json!({}))
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_your_unit"))
    );
    let (status, queue) = app.get(&other, "/api/v1/requests").await;
    assert_eq!((status, queue["total"].as_i64()), (StatusCode::OK, Some(0)));
    let (status, _) = app.get(&other, "/api/v1/requests?unit_id=3").await;
    assert_eq!(status, 403);
    // Its own clerk still can, and the request did not move.
    let clerk = app.login("clerk_a").await;
    let (status, view) = app.get(&clerk, &format!("/api/v1/requests/{id}")).await;
    assert_eq!(
        (status, view["state"].as_str()),
        (StatusCode::OK, Some("dispatched"))
    );
}

#[tokio::test]
async fn personal_data_is_masked_for_supervisors_and_in_lists() {
    let app = city_app().await;
    let (_, receipt) = app.submit(complaint(), None).await;
    let supervisor = app.login("supervisor").await;
    let id = id_of(
        &app,
        &supervisor,
        receipt["tracking_code"].as_str().unwrap(),
    )
    .await;
    let (status, view) = app
        .get(&supervisor, &format!("/api/v1/requests/{id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(view["requester"]["masked"], true);
    assert_eq!(view["requester"]["phone"], "138****5678");
    assert_eq!(view["requester"]["name"], "张*");
    let (_, list) = app.get(&supervisor, "/api/v1/requests").await;
    assert!(!list.to_string().contains("13812345678"));
    let operator = app.login("operator").await;
    let (_, view) = app.get(&operator, &format!("/api/v1/requests/{id}")).await;
    assert_eq!(view["requester"]["phone"], "13812345678");
}

#[tokio::test]
async fn the_same_idempotency_key_gives_back_the_same_request() {
    let app = city_app().await;
    let (first, a) = app.submit(complaint(), Some("retry-7")).await;
    let (second, b) = app.submit(complaint(), Some("retry-7")).await;
    assert_eq!((first, second), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(a["tracking_code"], b["tracking_code"]);
    let mut changed = complaint();
    changed["text"] = json!("另一件事");
    let (status, error) = app.submit(changed, Some("retry-7")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
    let dispatcher = app.login("dispatcher").await;
    let (_, page) = app.get(&dispatcher, "/api/v1/requests").await;
    assert_eq!(page["total"], 1);
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_in_the_language_asked() {
    let app = city_app().await;
    // Malformed JSON.
    let response = app
        .client
        .post(app.url("/api/v1/public/requests"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "bad_request");
    // A bad phone, in Chinese by default and in English when asked.
    let mut bad = complaint();
    bad["phone"] = json!("12345");
    let (status, error) = app.submit(bad.clone(), None).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_phone"))
    );
    assert!(error["message"].as_str().unwrap().contains("手机号"));
    let response = app
        .client
        .post(app.url("/api/v1/public/requests"))
        .header("accept-language", "en-US,en;q=0.9")
        .json(&bad)
        .send()
        .await
        .unwrap();
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "invalid_phone");
    assert!(error["message"].as_str().unwrap().contains("mobile"));
    // Too large a body.
    let huge = json!({"text": "字".repeat(200_000), "phone": "13812345678"});
    let (status, error) = app.submit(huge, None).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    // An unknown division, an empty text, a control character.
    let mut unknown = complaint();
    unknown["division_code"] = json!("999999");
    assert_eq!(
        app.submit(unknown, None).await.1["code"],
        "unknown_division"
    );
    let mut empty = complaint();
    empty["text"] = json!("   ");
    assert_eq!(app.submit(empty, None).await.1["code"], "empty_text");
    let mut control = complaint();
    control["text"] = json!("a\u{0007}b");
    assert_eq!(
        app.submit(control, None).await.1["code"],
        "control_characters"
    );
    // A mistyped tracking code, an unknown path, no sign-in, a wrong password.
    let (status, error) = app.get("", "/api/v1/public/requests/ABCDEFGHJK2").await;
    assert_eq!(status, 404);
    assert!(matches!(
        error["code"].as_str(),
        Some("bad_tracking_code" | "not_found")
    ));
    let (status, error) = app.get("", "/api/v1/nothing-here").await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_path"))
    );
    let (status, error) = app.get("", "/api/v1/requests").await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let (status, error) = app
        .post(
            "",
            "/api/v1/auth/login",
            json!({"username": "dispatcher", "password": "wrong"}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_credentials"))
    );
    // Illegal actions are refused with the domain's code and change nothing.
    let (_, receipt) = app.submit(complaint(), None).await;
    let dispatcher = app.login("dispatcher").await;
    let id = id_of(
        &app,
        &dispatcher,
        receipt["tracking_code"].as_str().unwrap(),
    )
    .await;
    let (status, error) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{id}/dispatch"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_classified"))
    );
    let (status, error) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{id}/sign"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("role_not_allowed"))
    );
    let (status, error) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{id}/fly"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, error) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{id}/classify"),
            json!({"matter_id": 3, "extra": 1}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );
    let (_, view) = app
        .get(&dispatcher, &format!("/api/v1/requests/{id}"))
        .await;
    assert_eq!(view["state"], "received");
    assert!(view["category"].is_null());
}

#[tokio::test]
async fn a_cookie_session_needs_its_csrf_token_on_unsafe_methods() {
    let app = city_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "dispatcher", "password": PASSWORD, "session": "cookie"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let session = cookie.split(';').next().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    assert!(body["token"].is_null());
    let csrf = body["csrf_token"].as_str().unwrap().to_string();

    let me = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let (_, receipt) = app.submit(complaint(), None).await;
    let token = app.login("dispatcher").await;
    let id = id_of(&app, &token, receipt["tracking_code"].as_str().unwrap()).await;
    let path = app.url(&format!("/api/v1/requests/{id}/classify"));
    let without = app
        .client
        .post(&path)
        .header("cookie", &session)
        .json(&json!({"matter_id": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), 403);
    let error: Value = without.json().await.unwrap();
    assert_eq!(error["code"], "csrf_failed");
    let with = app
        .client
        .post(&path)
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&json!({"matter_id": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), 200);
    // Signing out ends the session.
    let out = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let me = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
}

#[tokio::test]
async fn a_consultation_is_answered_at_intake_by_the_operator() {
    let app = city_app().await;
    let mut question = complaint();
    question["text"] = json!("请问社保卡丢了怎么补办？");
    let (_, receipt) = app.submit(question, None).await;
    let operator = app.login("operator").await;
    let id = id_of(&app, &operator, receipt["tracking_code"].as_str().unwrap()).await;
    app.post(
        &operator,
        &format!("/api/v1/requests/{id}/classify"),
        json!({"matter_id": 6}),
    )
    .await;
    let (status, view) = app
        .post(
            &operator,
            &format!("/api/v1/requests/{id}/answer"),
            json!({"text": "携带身份证到任一社保服务网点补办。"}),
        )
        .await;
    assert_eq!(
        (status, view["state"].as_str()),
        (StatusCode::OK, Some("replied"))
    );
    assert!(view["lead_unit"].is_null());
}

#[tokio::test]
async fn metrics_count_the_queues_in_prometheus_format() {
    let app = city_app().await;
    app.submit(complaint(), None).await;
    app.submit(complaint(), None).await;
    let response = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains("minyi_requests{state=\"received\"} 2"),
        "{text}"
    );
    assert!(text.contains("minyi_requests{state=\"closed\"} 0"));
    assert!(text.contains("minyi_requests_overdue 0"));
    assert!(text.contains("minyi_events_total 2"));
}

mod access;
mod admin;
mod enterprise;
mod exports;
mod intake;
mod kpi;
mod limits;
mod matchmaking;
mod openapi_doc;
mod outbox;
mod search;
mod signals;
mod supervision;
mod web_pages;
