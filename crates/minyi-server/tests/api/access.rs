//! The access-control matrix: every role × every operation of the OpenAPI document, with the
//! expected allow/deny written here as data. Deny is 401 or 403; allow is any other answer that
//! is not a server error (a 404 for a missing object, a 409 or 422 for a state or field the
//! request does not meet: the role got past the door). Each operation is called with a valid
//! body and real ids from the fixture, so that a refusal cannot hide behind a body error. The
//! life-cycle actions (`POST /api/v1/requests/{id}/{action}`) are expanded to one row per action,
//! each call on a fresh request dispatched to street office A, so that no cell depends on another.
//!
//! The matrix is written to `docs/access.md`; the test fails when the committed file differs
//! (regenerate with `MINYI_WRITE_ACCESS_DOC=1`).
//!
//! Also here: data scoping (a unit sees only its unit's requests, a service team only its own
//! enterprises and visits).

use super::*;
use minyi_domain::enterprise::CreditCode;
use minyi_domain::personal::TrackingCode;
use minyi_server::AppState;
use minyi_server::limits::{Limit, RateLimits};
use minyi_store::{EnterpriseRow, NewTeam};
use std::collections::{BTreeMap, BTreeSet};

/// The principals, in the matrix's column order. `anonymous` is a citizen or an enterprise
/// (requesters have no accounts); `api_key` is an Open311 client with a key from an
/// administrator; the others are staff accounts of each role.
const ROLES: [&str; 9] = [
    "anonymous",
    "api_key",
    "operator",
    "dispatcher",
    "unit_handler",
    "unit_leader",
    "supervisor",
    "admin",
    "service_team",
];

/// Who may call an operation.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// Everyone, signed in or not.
    Everyone,
    /// Every staff account.
    Staff,
    /// Only these principals.
    Only(&'static [&'static str]),
}

impl Who {
    fn allows(self, role: &str) -> bool {
        match self {
            Who::Everyone => true,
            Who::Staff => !matches!(role, "anonymous" | "api_key"),
            Who::Only(roles) => roles.contains(&role),
        }
    }
}

use Who::{Everyone, Only, Staff};

const UNIT: &[&str] = &["unit_handler", "unit_leader"];
const READERS: &[&str] = &[
    "operator",
    "dispatcher",
    "unit_handler",
    "unit_leader",
    "supervisor",
    "admin",
];
const SUPERVISION: &[&str] = &["supervisor", "admin"];
const ADMIN: &[&str] = &["admin"];
const PROGRAMME: &[&str] = &["supervisor", "admin", "service_team"];
/// City-wide figures: rankings and bulletins.
const CITY_WIDE: &[&str] = &["dispatcher", "supervisor", "admin"];
/// KPI reports: city-wide roles, and unit roles for their own unit.
const KPI_READERS: &[&str] = &[
    "dispatcher",
    "unit_handler",
    "unit_leader",
    "supervisor",
    "admin",
];
/// The engine's cross-request signals (duplicates, hot spots).
const DISPATCH_VIEW: &[&str] = &["operator", "dispatcher", "supervisor", "admin"];

/// The expected matrix: (method, path, who may call). Actions are listed one per row.
const EXPECTED: &[(&str, &str, Who)] = &[
    ("GET", "/healthz", Everyone),
    ("GET", "/metrics", Everyone),
    ("POST", "/api/v1/auth/login", Everyone),
    ("POST", "/api/v1/auth/logout", Staff),
    ("GET", "/api/v1/auth/me", Staff),
    ("POST", "/api/v1/public/requests", Everyone),
    ("GET", "/api/v1/public/requests/{code}", Everyone),
    ("POST", "/api/v1/public/requests/{code}/rating", Everyone),
    ("GET", "/api/v1/requests", Only(READERS)),
    ("GET", "/api/v1/requests/{id}", Only(READERS)),
    ("GET", "/api/v1/requests/{id}/events", Only(READERS)),
    (
        "POST",
        "/api/v1/requests/{id}/classify",
        Only(&["operator", "dispatcher"]),
    ),
    (
        "POST",
        "/api/v1/requests/{id}/answer",
        Only(&["operator", "dispatcher"]),
    ),
    (
        "POST",
        "/api/v1/requests/{id}/dispatch",
        Only(&["dispatcher"]),
    ),
    (
        "POST",
        "/api/v1/requests/{id}/arbitrate",
        Only(&["dispatcher"]),
    ),
    ("POST", "/api/v1/requests/{id}/sign", Only(UNIT)),
    ("POST", "/api/v1/requests/{id}/co-opinion", Only(UNIT)),
    ("POST", "/api/v1/requests/{id}/reply", Only(UNIT)),
    ("POST", "/api/v1/requests/{id}/return", Only(UNIT)),
    ("POST", "/api/v1/requests/{id}/extension", Only(UNIT)),
    (
        "POST",
        "/api/v1/requests/{id}/approve-extension",
        Only(&["dispatcher"]),
    ),
    (
        "POST",
        "/api/v1/requests/{id}/refuse-extension",
        Only(&["dispatcher"]),
    ),
    ("POST", "/api/v1/requests/{id}/pause", Only(UNIT)),
    (
        "POST",
        "/api/v1/requests/{id}/resume",
        Only(&["dispatcher", "unit_handler", "unit_leader"]),
    ),
    ("POST", "/api/v1/requests/{id}/merge", Only(&["dispatcher"])),
    ("POST", "/api/v1/requests/{id}/split", Only(&["dispatcher"])),
    (
        "POST",
        "/api/v1/requests/{id}/urge",
        Only(&["operator", "supervisor"]),
    ),
    ("POST", "/api/v1/requests/{id}/rate", Only(&["operator"])),
    ("POST", "/api/v1/requests/{id}/close", Only(&["operator"])),
    ("GET", "/api/v1/queues", Only(READERS)),
    ("GET", "/api/v1/supervision/backlog", Only(SUPERVISION)),
    (
        "GET",
        "/api/v1/supervision/cards",
        Only(&[
            "dispatcher",
            "unit_handler",
            "unit_leader",
            "supervisor",
            "admin",
        ]),
    ),
    ("POST", "/api/v1/supervision/cards", Only(SUPERVISION)),
    (
        "POST",
        "/api/v1/supervision/cards/{id}/lift",
        Only(SUPERVISION),
    ),
    ("GET", "/api/v1/divisions", Staff),
    ("POST", "/api/v1/admin/divisions", Only(ADMIN)),
    ("GET", "/api/v1/units", Staff),
    ("POST", "/api/v1/admin/units", Only(ADMIN)),
    ("GET", "/api/v1/catalog", Staff),
    ("POST", "/api/v1/admin/catalog", Only(ADMIN)),
    ("GET", "/api/v1/admin/rules", Only(ADMIN)),
    ("PUT", "/api/v1/admin/rules", Only(ADMIN)),
    ("GET", "/api/v1/admin/rules/check", Only(ADMIN)),
    ("GET", "/api/v1/admin/calendar", Only(ADMIN)),
    ("PUT", "/api/v1/admin/calendar", Only(ADMIN)),
    ("GET", "/api/v1/admin/users", Only(ADMIN)),
    ("POST", "/api/v1/admin/users", Only(ADMIN)),
    ("PATCH", "/api/v1/admin/users/{username}", Only(ADMIN)),
    ("GET", "/api/v1/admin/api-keys", Only(ADMIN)),
    ("POST", "/api/v1/admin/api-keys", Only(ADMIN)),
    ("DELETE", "/api/v1/admin/api-keys/{key_id}", Only(ADMIN)),
    ("GET", "/api/v1/kpi/report", Only(KPI_READERS)),
    ("GET", "/api/v1/kpi/ranking", Only(CITY_WIDE)),
    ("GET", "/api/v1/kpi/bulletin", Only(CITY_WIDE)),
    ("GET", "/api/v1/kpi/weights", Only(KPI_READERS)),
    ("PUT", "/api/v1/kpi/weights", Only(ADMIN)),
    ("GET", "/api/v1/kpi/card-rules", Only(SUPERVISION)),
    ("PUT", "/api/v1/kpi/card-rules", Only(SUPERVISION)),
    ("POST", "/api/v1/kpi/card-rules/apply", Only(SUPERVISION)),
    ("GET", "/api/v1/duplicates", Only(DISPATCH_VIEW)),
    (
        "POST",
        "/api/v1/duplicates/{id}/dismiss",
        Only(&["dispatcher", "admin"]),
    ),
    ("GET", "/api/v1/hotspots", Only(DISPATCH_VIEW)),
    (
        "POST",
        "/api/v1/hotspots/{id}/acknowledge",
        Only(&["dispatcher", "supervisor", "admin"]),
    ),
    ("GET", "/api/v1/knowledge", Staff),
    ("GET", "/api/v1/requests/{id}/knowledge", Only(READERS)),
    ("PUT", "/api/v1/admin/knowledge", Only(ADMIN)),
    ("DELETE", "/api/v1/admin/knowledge/{id}", Only(ADMIN)),
    ("GET", "/api/v1/enterprise/enterprises", Only(PROGRAMME)),
    ("GET", "/api/v1/enterprise/visits/due", Only(PROGRAMME)),
    ("POST", "/api/v1/enterprise/visits", Only(&["service_team"])),
    ("GET", "/api/v1/enterprise/visits/{id}", Only(PROGRAMME)),
    ("GET", "/api/v1/enterprise/kpis", Only(PROGRAMME)),
    ("GET", "/api/v1/enterprise/kpis/summary", Only(PROGRAMME)),
    ("GET", "/api/v1/enterprise/kpis.csv", Only(PROGRAMME)),
    ("GET", "/api/v1/enterprise/resources", Only(PROGRAMME)),
    ("POST", "/api/v1/enterprise/resources", Only(SUPERVISION)),
    ("GET", "/api/v1/enterprise/needs", Only(PROGRAMME)),
    ("POST", "/api/v1/enterprise/needs", Only(PROGRAMME)),
    ("GET", "/api/v1/enterprise/needs/{id}", Only(PROGRAMME)),
    (
        "POST",
        "/api/v1/enterprise/needs/{id}/propose",
        Only(PROGRAMME),
    ),
    (
        "POST",
        "/api/v1/enterprise/matches/{id}/status",
        Only(PROGRAMME),
    ),
    ("GET", "/open311/v2/discovery.{format}", Everyone),
    ("GET", "/open311/v2/services.{format}", Everyone),
    ("GET", "/open311/v2/services/{file}", Everyone),
    ("GET", "/open311/v2/requests.{format}", Everyone),
    ("POST", "/open311/v2/requests.{format}", Only(&["api_key"])),
    ("GET", "/open311/v2/requests/{file}", Everyone),
    ("GET", "/open311/v2/tokens/{file}", Everyone),
];

/// A password that meets the policy, for accounts the test creates.
const NEW_PASSWORD: &str = "Blue tram 42 crosses";

/// Everything the calls need: the server, a session per staff role, an API key, and the ids
/// the path parameters are filled with.
struct Fixture {
    app: TestApp,
    store: Store,
    tokens: BTreeMap<&'static str, String>,
    api_key: String,
    dispatcher: String,
    /// A request dispatched to street office A (read by the GET rows).
    request_id: i64,
    tracking_code: String,
    card_id: i64,
    visit_id: i64,
    enterprise_id: i64,
    spare_key_id: String,
    open311_id: String,
    open311_token: String,
    street_office_a: i64,
    bureau: i64,
}

fn enterprise_row(n: u32, community: &str) -> EnterpriseRow {
    EnterpriseRow {
        credit_code: CreditCode::complete(&format!("91440304MA5G{n:05}"))
            .unwrap()
            .as_str()
            .to_string(),
        name: format!("深圳市测试{n}科技有限公司"),
        industry: "制造业".into(),
        size: "small".into(),
        division: community.into(),
        contact_name: Some("李经理".into()),
        contact_phone: Some("13812345678".into()),
        contact_position: Some("总经理".into()),
    }
}

async fn add_user(store: &Store, username: &str, role: Role, unit: Option<&str>) -> UserIdOf {
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
        .unwrap()
}

type UserIdOf = minyi_domain::UserId;

/// The test city plus a unit leader of street office A, a service team for street A with one
/// member and two enterprises, a spare account and an Open311 key; the server with limits high
/// enough for the matrix's hundreds of calls.
async fn access_app() -> (TestApp, Store, String) {
    let (store, dir) = sqlite_store().await;
    seed_city(&store).await;
    add_user(&store, "head_a", Role::UnitLeader, Some("SO-A")).await;
    add_user(&store, "spare", Role::Operator, None).await;
    let helper = add_user(&store, "helper_a", Role::ServiceTeam, None).await;
    let helper_b = add_user(&store, "helper_b", Role::ServiceTeam, None).await;
    let now = chrono::Utc::now();
    let tree = store.load_divisions().await.unwrap();
    let street = |code: &str| tree.iter().find(|d| d.code == code).unwrap().id;
    store
        .create_teams(
            &[
                NewTeam {
                    name: "甲街道服务队".into(),
                    scope: street("440304001"),
                    members: vec![helper],
                },
                NewTeam {
                    name: "乙街道服务队".into(),
                    scope: street("440304002"),
                    members: vec![helper_b],
                },
            ],
            now,
        )
        .await
        .unwrap();
    store
        .import_enterprises(
            &[
                enterprise_row(1, "440304001001"),
                enterprise_row(2, "440304001001"),
                enterprise_row(3, "440304002001"),
            ],
            now,
        )
        .await
        .unwrap();
    store.rebalance_assignments(now).await.unwrap();
    let key = store.create_api_key("matrix client", now).await.unwrap();
    let roomy = Limit {
        burst: 10_000,
        refill_ms: 1,
    };
    let state = AppState::new(store.clone()).with_rate_limits(RateLimits {
        public_intake: roomy,
        login: roomy,
    });
    (spawn_state(state, Some(dir)).await, store, key)
}

/// The account that plays each staff role.
fn account(role: &str) -> &'static str {
    match role {
        "operator" => "operator",
        "dispatcher" => "dispatcher",
        "unit_handler" => "clerk_a",
        "unit_leader" => "head_a",
        "supervisor" => "supervisor",
        "admin" => "admin",
        "service_team" => "helper_a",
        other => panic!("{other} has no account"),
    }
}

/// Files a complaint, classifies it and dispatches it with `assignment` (`{}`: the list's
/// suggestion, street office A with the district bureau as co-unit); returns its id, tracking
/// code and the request's view after dispatch.
async fn dispatched_with(
    app: &TestApp,
    store: &Store,
    dispatcher: &str,
    assignment: Value,
) -> (i64, String, Value) {
    let (status, receipt) = app.submit(complaint(), None).await;
    assert_eq!(status, 201, "{receipt}");
    let code = receipt["tracking_code"].as_str().unwrap().to_string();
    let id = store
        .find_by_tracking_code(&TrackingCode::parse(&code).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
        .0;
    let (status, view) = app
        .post(
            dispatcher,
            &format!("/api/v1/requests/{id}/classify"),
            json!({"matter_id": 3}),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    let (status, view) = app
        .post(
            dispatcher,
            &format!("/api/v1/requests/{id}/dispatch"),
            assignment,
        )
        .await;
    assert_eq!(status, 200, "{view}");
    (id, code, view)
}

/// A request dispatched to street office A as lead unit (the district bureau co-unit).
async fn dispatched(app: &TestApp, store: &Store, dispatcher: &str) -> (i64, String) {
    let (id, code, view) = dispatched_with(app, store, dispatcher, json!({})).await;
    assert_eq!(view["lead_unit"]["name"], "甲街道办事处");
    (id, code)
}

async fn fixture() -> Fixture {
    let (app, store, api_key) = access_app().await;
    let mut tokens = BTreeMap::new();
    for role in &ROLES[2..] {
        tokens.insert(*role, app.login(account(role)).await);
    }
    let dispatcher = tokens["dispatcher"].clone();
    let (request_id, tracking_code, view) =
        dispatched_with(&app, &store, &dispatcher, json!({})).await;
    assert_eq!(view["lead_unit"]["name"], "甲街道办事处");
    let street_office_a = view["lead_unit"]["id"].as_i64().unwrap();
    let bureau = view["co_units"][0]["id"].as_i64().unwrap();
    let (status, card) = app
        .post(
            &tokens["supervisor"],
            "/api/v1/supervision/cards",
            json!({"colour": "yellow", "request_id": request_id, "reason": "群众多次来电"}),
        )
        .await;
    assert_eq!(status, 201, "{card}");
    let (status, list) = app
        .get(&tokens["service_team"], "/api/v1/enterprise/enterprises")
        .await;
    assert_eq!(status, 200, "{list}");
    let enterprise_id = list[0]["id"].as_i64().unwrap();
    let (status, visit) = app
        .post(
            &tokens["service_team"],
            "/api/v1/enterprise/visits",
            json!({"enterprise_id": enterprise_id, "notes": "了解经营情况"}),
        )
        .await;
    assert_eq!(status, 201, "{visit}");
    let (status, spare) = app
        .post(
            &tokens["admin"],
            "/api/v1/admin/api-keys",
            json!({"label": "spare"}),
        )
        .await;
    assert_eq!(status, 201, "{spare}");
    let open311_token = "matrix-token-1".to_string();
    let filed = app
        .client
        .post(app.url("/open311/v2/requests.json"))
        .header("Idempotency-Key", &open311_token)
        .form(&open311_form(Some(&api_key)))
        .send()
        .await
        .unwrap();
    assert_eq!(filed.status(), 201);
    let filed: Value = filed.json().await.unwrap();
    Fixture {
        card_id: card["id"].as_i64().unwrap(),
        visit_id: visit["id"].as_i64().unwrap(),
        spare_key_id: spare["key_id"].as_str().unwrap().to_string(),
        open311_id: filed[0]["service_request_id"].as_str().unwrap().to_string(),
        app,
        store,
        tokens,
        api_key,
        dispatcher,
        request_id,
        tracking_code,
        enterprise_id,
        open311_token,
        street_office_a,
        bureau,
    }
}

fn open311_form(api_key: Option<&str>) -> Vec<(&str, &str)> {
    let mut form = vec![
        ("service_code", "01.01.001"),
        ("address_id", "440304001001001"),
        ("description", "甲花园门口每天晚上有流动摊贩占道经营。"),
        ("phone", "13812345678"),
    ];
    if let Some(key) = api_key {
        form.push(("api_key", key));
    }
    form
}

/// What a call carries besides the principal.
enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
}

/// The body an operation is called with: valid, so that the handler's role check is reached.
fn body_for(fx: &Fixture, role: &str, method: &str, path: &str) -> Body {
    let json_body = match (method, path) {
        ("POST", "/api/v1/auth/login") => json!({"username": "spare", "password": PASSWORD}),
        ("POST", "/api/v1/public/requests") => complaint(),
        ("POST", "/api/v1/public/requests/{code}/rating") => {
            json!({"phone_last4": "5678", "satisfaction": "satisfied", "solved": true})
        }
        ("POST", p) if p.starts_with("/api/v1/requests/{id}/") => json!({
            "matter_id": 3,
            "text": "已现场处理。",
            "reason": "需要协调多个部门",
            "legal_basis": "《深圳市市容和环境卫生管理条例》",
            "ruling": "由甲街道办事处办理",
            "working_days": 2,
            "parent_id": fx.request_id,
            "parts": [{"title": "一", "text": "第一件事"}, {"title": "二", "text": "第二件事"}],
            "satisfaction": "satisfied",
            "solved": true,
            "note": "群众再次来电"
        }),
        ("POST", "/api/v1/supervision/cards") => {
            json!({"colour": "yellow", "request_id": fx.request_id, "reason": "超期未办"})
        }
        ("POST", "/api/v1/supervision/cards/{id}/lift") => json!({"note": "已整改"}),
        ("POST", "/api/v1/admin/divisions") => json!([{
            "code": "440304001001001", "name": "甲花园", "level": "compound",
            "kind": "regular", "parent_code": "440304001001"
        }]),
        ("POST", "/api/v1/admin/units") => json!([{
            "code": "SO-A", "name": "甲街道办事处", "kind": "street_office",
            "division_code": "440304001"
        }]),
        ("POST", "/api/v1/admin/catalog") => json!([{
            "code": "01.01.001", "name": "占道经营", "parent_code": "01.01", "urgency": "",
            "response": "", "handling": "", "consultation": "0"
        }]),
        ("PUT", "/api/v1/admin/rules") => json!([
            {"matter_code": "01", "division_code": "4403", "lead_unit_code": "BUR",
             "co_unit_codes": "", "legal_basis": "", "response": "", "handling": ""},
            {"matter_code": "01.01", "division_code": "440304001", "lead_unit_code": "SO-A",
             "co_unit_codes": "BUR", "legal_basis": "", "response": "", "handling": ""},
            {"matter_code": "01.01", "division_code": "440304002", "lead_unit_code": "SO-B",
             "co_unit_codes": "BUR", "legal_basis": "", "response": "", "handling": ""},
            {"matter_code": "02", "division_code": "4403", "lead_unit_code": "DC",
             "co_unit_codes": "", "legal_basis": "", "response": "", "handling": ""}
        ]),
        ("PUT", "/api/v1/admin/calendar") => json!({
            "working_hours": "09:00-12:00,14:00-18:00",
            "overrides_csv": "date,kind,name\n"
        }),
        ("POST", "/api/v1/admin/users") => json!({
            "username": format!("made_by_{role}"),
            "display_name": "新账号",
            "role": "operator",
            "password": NEW_PASSWORD
        }),
        ("PATCH", "/api/v1/admin/users/{username}") => json!({"display_name": "备用账号"}),
        ("POST", "/api/v1/admin/api-keys") => json!({"label": "city app"}),
        ("PUT", "/api/v1/kpi/weights") => json!({
            "on_time_signing": 1.0, "on_time_completion": 2.0, "satisfaction": 2.0,
            "resolution": 1.0, "response": 1.0, "returns": 0.5, "reopens": 0.5,
            "first_dispatch_accuracy": 1.0
        }),
        ("PUT", "/api/v1/kpi/card-rules") => json!({
            "yellow_on_time_below": 0.9, "red_on_time_below": 0.8,
            "yellow_satisfaction_below": 0.85, "red_satisfaction_below": 0.7,
            "yellow_overdue_at_least": 5, "red_overdue_at_least": 10, "min_completed": 5
        }),
        ("POST", "/api/v1/kpi/card-rules/apply") => json!({}),
        ("POST", "/api/v1/enterprise/resources") => json!({
            "kind": "buyer", "name": format!("采购对接会 {role}"), "provider": "市商务局",
            "description": "组织本地采购商与中小企业对接", "industries": ["制造业"]
        }),
        ("POST", "/api/v1/enterprise/needs") => json!({
            "enterprise_id": fx.enterprise_id, "kind": "market",
            "title": "寻找本地采购渠道", "detail": "产品需要进入本地商超"
        }),
        ("POST", "/api/v1/enterprise/matches/{id}/status") => {
            json!({"status": "contacted", "note": "已电话联系"})
        }
        ("POST", "/api/v1/enterprise/needs/{id}/propose") => return Body::None,
        ("POST", "/api/v1/duplicates/{id}/dismiss" | "/api/v1/hotspots/{id}/acknowledge") => {
            return Body::None;
        }
        ("PUT", "/api/v1/admin/knowledge") => json!([{
            "id": format!("kb-{role}"), "question": "如何办理居住证？",
            "answer": "携带身份证到社区服务站办理。", "tags": ["居住证"], "active": true
        }]),
        ("POST", "/api/v1/enterprise/visits") => {
            json!({"enterprise_id": fx.enterprise_id, "notes": "回访"})
        }
        ("POST", "/open311/v2/requests.{format}") => {
            let key = (role == "api_key").then_some(fx.api_key.as_str());
            return Body::Form(
                open311_form(key)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            );
        }
        ("POST", "/api/v1/auth/logout") => return Body::None,
        ("POST" | "PUT" | "PATCH", other) => panic!("no body prepared for {method} {other}"),
        _ => return Body::None,
    };
    Body::Json(json_body)
}

/// A concrete URL for a path template, with the fixture's ids.
fn concrete(fx: &Fixture, template: &str, request_id: i64) -> String {
    template
        .replace("/requests/{id}", &format!("/requests/{request_id}"))
        .replace("/cards/{id}", &format!("/cards/{}", fx.card_id))
        .replace("/visits/{id}", &format!("/visits/{}", fx.visit_id))
        // No duplicate flag, hot spot or entry has this id: a 404 is "past the door".
        .replace("/duplicates/{id}", "/duplicates/999999")
        .replace("/needs/{id}", "/needs/999999")
        .replace("/matches/{id}", "/matches/999999")
        .replace("/hotspots/{id}", "/hotspots/999999")
        .replace("/knowledge/{id}", "/knowledge/no-such-entry")
        .replace("{code}", &fx.tracking_code)
        .replace("{username}", "spare")
        .replace("{key_id}", &fx.spare_key_id)
        .replace("{format}", "json")
        .replace("/services/{file}", "/services/01.01.001.json")
        .replace(
            "/requests/{file}",
            &format!("/requests/{}.json", fx.open311_id),
        )
        .replace(
            "/tokens/{file}",
            &format!("/tokens/{}.json", fx.open311_token),
        )
}

/// One call as `role`; returns the status and the error code, if any.
async fn call(fx: &Fixture, role: &str, method: &str, template: &str) -> (u16, String) {
    let request_id = if template == "/api/v1/requests/{id}/co-opinion" {
        // A co-unit's opinion: street office A is the co-unit, the bureau leads.
        let assignment = json!({"lead_unit_id": fx.bureau, "co_unit_ids": [fx.street_office_a]});
        dispatched_with(&fx.app, &fx.store, &fx.dispatcher, assignment)
            .await
            .0
    } else if template.starts_with("/api/v1/requests/{id}/") && method == "POST" {
        // Each action on its own fresh request, dispatched to street office A as lead.
        dispatched(&fx.app, &fx.store, &fx.dispatcher).await.0
    } else {
        fx.request_id
    };
    let mut url = fx.app.url(&concrete(fx, template, request_id));
    let open311 = template.starts_with("/open311/");
    if open311 && role == "api_key" && method == "GET" {
        url.push_str(&format!("?api_key={}", fx.api_key));
    }
    let method_value = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = fx.app.client.request(method_value, &url);
    let token = match role {
        "anonymous" => None,
        // A client that mistakes its Open311 key for a session token.
        "api_key" => Some(fx.api_key.clone()),
        // Signing out ends the session: that call gets a session of its own.
        _ if template == "/api/v1/auth/logout" => Some(fx.app.login(account(role)).await),
        staff => Some(fx.tokens[staff].clone()),
    };
    if let Some(token) = token.filter(|_| !open311) {
        request = request.bearer_auth(token);
    }
    request = match body_for(fx, role, method, template) {
        Body::None => request,
        Body::Json(v) => request.json(&v),
        Body::Form(f) => request.form(&f),
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body["code"]
        .as_str()
        .map(String::from)
        .or_else(|| body[0]["code"].as_i64().map(|c| c.to_string()))
        .unwrap_or_default();
    (status, code)
}

fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                if path == "/api/v1/requests/{id}/{action}" {
                    for action in minyi_server::api::requests::ACTIONS {
                        ops.push((
                            method.to_uppercase(),
                            format!("/api/v1/requests/{{id}}/{action}"),
                        ));
                    }
                } else {
                    ops.push((method.to_uppercase(), path.clone()));
                }
            }
        }
    }
    ops
}

/// The Markdown page written to `docs/access.md`.
fn markdown(rows: &[(String, String, Vec<bool>)]) -> String {
    let mut out = String::from(
        "# Access control matrix\n\n\
         Generated by the test `access::every_role_gets_exactly_its_operations` \
         (crates/minyi-server/tests/api/access.rs) from real calls to a running server: \
         every operation of the OpenAPI document (`/api/openapi.json`), the life-cycle actions \
         one per row, called by each principal with a valid body and real ids. \
         Do not edit by hand: run `MINYI_WRITE_ACCESS_DOC=1 cargo nextest run -p minyi-server \
         -E 'test(every_role_gets_exactly_its_operations)'`.\n\n\
         ✓ = allowed (any answer but 401/403; a 404, 409 or 422 means the role got past the \
         door and the object or its state said no); ✗ = refused with 401 (not signed in) or \
         403 (role, unit, team or API key). The unit roles act on a request of their own unit \
         (lead unit; for `co-opinion`, co-unit), the service team on its own team's visit.\n\n\
         Principals: **anonymous** is a citizen or an enterprise (requesters have no accounts; \
         they prove a request is theirs with the last four digits of their phone); **API key** \
         is an Open311 client holding a key issued by an administrator (sent as `api_key`, and \
         as a bearer token on the staff API, where it is refused); the others are staff \
         sessions: operator 话务员, dispatcher 分拨员, unit handler 承办人 and unit leader \
         单位负责人 (of the request's lead unit), supervisor 督办员, admin 管理员, service team \
         助企专员. There is no separate leader/analyst role: the dashboard pages are for \
         supervisors and administrators.\n\n\
         Scoping on top of the matrix (tested in the same file): a unit role sees and acts on \
         requests only where its unit is lead or co-unit (another unit's request: 403 \
         `not_your_unit`; lists are filtered to its unit); a service-team member sees only its \
         team's enterprises and visits (403 `not_your_team`); the service team reads only \
         enterprise requests.\n\n",
    );
    out.push_str("| Method | Path |");
    for role in ROLES {
        out.push_str(&format!(" {} |", role.replace('_', " ")));
    }
    out.push_str("\n|---|---|");
    for _ in ROLES {
        out.push_str(":-:|");
    }
    out.push('\n');
    for (method, path, allowed) in rows {
        out.push_str(&format!("| {method} | `{path}` |"));
        for a in allowed {
            out.push_str(if *a { " ✓ |" } else { " ✗ |" });
        }
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn every_role_gets_exactly_its_operations() {
    let fx = fixture().await;
    let doc: Value = fx
        .app
        .client
        .get(fx.app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ops = operations(&doc);
    let expected: BTreeMap<(&str, &str), Who> =
        EXPECTED.iter().map(|(m, p, w)| ((*m, *p), *w)).collect();
    let mut problems = Vec::new();
    let documented: BTreeSet<(&str, &str)> =
        ops.iter().map(|(m, p)| (m.as_str(), p.as_str())).collect();
    for key in expected.keys() {
        if !documented.contains(key) {
            problems.push(format!("{} {}: expected but not documented", key.0, key.1));
        }
    }
    let mut rows = Vec::new();
    for (method, path) in &ops {
        let Some(who) = expected.get(&(method.as_str(), path.as_str())) else {
            problems.push(format!(
                "{method} {path}: documented but missing from the expected table"
            ));
            continue;
        };
        let mut allowed = Vec::new();
        for role in ROLES {
            let (status, code) = call(&fx, role, method, path).await;
            if status >= 500 || status == 429 {
                problems.push(format!("{method} {path} as {role}: {status} {code}"));
            }
            let allow = !matches!(status, 401 | 403);
            if allow != who.allows(role) {
                problems.push(format!(
                    "{method} {path} as {role}: expected {}, got {status} {code}",
                    if who.allows(role) { "allow" } else { "deny" }
                ));
            }
            allowed.push(allow);
        }
        rows.push((method.clone(), path.clone(), allowed));
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );

    let text = markdown(&rows);
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/access.md");
    if std::env::var_os("MINYI_WRITE_ACCESS_DOC").is_some() {
        std::fs::write(&file, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == text,
        "docs/access.md is not the matrix the server has; regenerate it with \
         MINYI_WRITE_ACCESS_DOC=1 cargo nextest run -p minyi-server -E \
         'test(every_role_gets_exactly_its_operations)'"
    );
}

#[tokio::test]
async fn a_unit_sees_only_its_requests_and_a_team_only_its_enterprises() {
    let fx = fixture().await;
    let app = &fx.app;
    let clerk_b = app.login("clerk_b").await;
    // Street office B: the list holds none of A's requests, one of A's is refused.
    let (status, page) = app.get(&clerk_b, "/api/v1/requests").await;
    assert_eq!((status, page["total"].as_i64()), (StatusCode::OK, Some(0)));
    for path in [
        format!("/api/v1/requests/{}", fx.request_id),
        format!("/api/v1/requests/{}/events", fx.request_id),
    ] {
        let (status, error) = app.get(&clerk_b, &path).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("not_your_unit")),
            "{path}"
        );
    }
    // Nor can it filter its way into A's queue or cards.
    let (status, _) = app.get(&clerk_b, "/api/v1/requests?unit_id=3").await;
    assert_eq!(status, 403);
    let (status, _) = app
        .get(&clerk_b, "/api/v1/supervision/cards?unit_id=3")
        .await;
    assert_eq!(status, 403);
    // Street office A's handler and leader see it.
    for role in ["unit_handler", "unit_leader"] {
        let (status, page) = app.get(&fx.tokens[role], "/api/v1/requests").await;
        assert_eq!(status, 200);
        assert!(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["id"] == fx.request_id),
            "{role}"
        );
    }
    // The service team reads only enterprise requests: a citizen's is refused.
    let (status, _) = app
        .get(
            &fx.tokens["service_team"],
            &format!("/api/v1/requests/{}", fx.request_id),
        )
        .await;
    assert_eq!(status, 403);
    // Team B sees neither team A's enterprises nor its visit.
    let helper_b = app.login("helper_b").await;
    let (status, list) = app.get(&helper_b, "/api/v1/enterprise/enterprises").await;
    assert_eq!(status, 200);
    assert!(
        !list
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == fx.enterprise_id)
    );
    let (status, error) = app
        .get(
            &helper_b,
            &format!("/api/v1/enterprise/visits/{}", fx.visit_id),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_your_team"))
    );
    let (status, error) = app
        .post(
            &helper_b,
            "/api/v1/enterprise/visits",
            json!({"enterprise_id": fx.enterprise_id, "notes": "越权走访"}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_your_team"))
    );
}
