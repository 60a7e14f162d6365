//! KPIs, rankings, bulletins, exports and automatic cards, checked against a hand-built scenario:
//! street office A gets two requests (one signed, completed on time and rated satisfied, one
//! returned), street office B one (signed, still in hand).

use super::*;

/// Files a complaint located in `compound` and dispatches it; returns (id, tracking code).
async fn file_and_dispatch(app: &TestApp, dispatcher: &str, compound: &str) -> (i64, String) {
    let mut body = complaint();
    body["division_code"] = json!(compound);
    let (status, receipt) = app.submit(body, None).await;
    assert_eq!(status, 201, "{receipt}");
    let code = receipt["tracking_code"].as_str().unwrap().to_string();
    let id = id_of(app, dispatcher, &code).await;
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
    (id, code)
}

const A: &str = "440304001001001";
const B: &str = "440304002001001";

/// The scenario; returns the app and the unit ids of street offices A and B.
pub(crate) async fn scenario() -> (TestApp, i64, i64) {
    let app = city_app().await;
    let dispatcher = app.login("dispatcher").await;
    let clerk_a = app.login("clerk_a").await;
    let clerk_b = app.login("clerk_b").await;

    let (r1, code1) = file_and_dispatch(&app, &dispatcher, A).await;
    let (r2, _) = file_and_dispatch(&app, &dispatcher, A).await;
    let (r3, _) = file_and_dispatch(&app, &dispatcher, B).await;
    for (token, id, action, body) in [
        (&clerk_a, r1, "sign", json!({})),
        (&clerk_a, r1, "reply", json!({"text": "已清理摊贩。"})),
        (
            &clerk_a,
            r2,
            "return",
            json!({"reason": "不属于本街道", "legal_basis": "三定方案"}),
        ),
        (&clerk_b, r3, "sign", json!({})),
    ] {
        let (status, view) = app
            .post(token, &format!("/api/v1/requests/{id}/{action}"), body)
            .await;
        assert_eq!(status, 200, "{action}: {view}");
    }
    let (status, _) = app
        .post(
            "",
            &format!("/api/v1/public/requests/{code1}/rating"),
            json!({"phone_last4": "5678", "satisfaction": "satisfied", "solved": true}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, view) = app
        .get(&dispatcher, &format!("/api/v1/requests/{r1}"))
        .await;
    let a = view["lead_unit"]["id"].as_i64().unwrap();
    let (_, view) = app
        .get(&dispatcher, &format!("/api/v1/requests/{r3}"))
        .await;
    let b = view["lead_unit"]["id"].as_i64().unwrap();
    (app, a, b)
}

/// Yesterday and tomorrow in China time, so that "today" is inside whatever the clock says.
pub(crate) fn around_today() -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    format!(
        "from={}&to={}",
        today - chrono::Days::new(1),
        today + chrono::Days::new(1)
    )
}

fn row<'a>(rows: &'a Value, key: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row {key} in {rows}"))
}

#[tokio::test]
async fn kpi_report_by_unit_matches_the_hand_counted_scenario() {
    let (app, a, b) = scenario().await;
    let supervisor = app.login("supervisor").await;
    let period = around_today();
    let (status, report) = app
        .get(
            &supervisor,
            &format!("/api/v1/kpi/report?group=unit&{period}"),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["group"], "unit");
    let rows = &report["rows"];
    let ra = row(rows, &a.to_string());
    assert_eq!(ra["name"], "甲街道办事处");
    assert_eq!(ra["counters"]["dispatched"], 2);
    assert_eq!(ra["counters"]["signed"], 1);
    assert_eq!(ra["counters"]["returned"], 1);
    assert_eq!(ra["counters"]["completed"], 1);
    assert_eq!(ra["counters"]["completed_on_time"], 1);
    assert_eq!(ra["counters"]["rated"], 1);
    assert_eq!(ra["kpis"]["on_time_completion"], 1.0);
    assert_eq!(ra["kpis"]["satisfaction"], 1.0);
    assert_eq!(ra["kpis"]["return_rate"], 0.5);
    assert_eq!(ra["kpis"]["response"], 1.0);
    let rb = row(rows, &b.to_string());
    assert_eq!(rb["counters"]["dispatched"], 1);
    assert_eq!(rb["counters"]["signed"], 1);
    assert_eq!(rb["counters"]["completed"], 0);
    assert!(rb["kpis"]["on_time_completion"].is_null());

    // The total counts the three receipts; by street, A has two and B one; a time series by
    // day has one bucket with everything.
    let (_, total) = app
        .get(&supervisor, &format!("/api/v1/kpi/report?{period}"))
        .await;
    assert_eq!(total["rows"][0]["counters"]["received"], 3);
    let (_, streets) = app
        .get(
            &supervisor,
            &format!("/api/v1/kpi/report?group=division:street&{period}"),
        )
        .await;
    let names: Vec<(&str, i64)> = streets["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["counters"]["received"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("甲街道", 2), ("乙街道", 1)]);
    let (_, daily) = app
        .get(
            &supervisor,
            &format!("/api/v1/kpi/report?bucket=day&{period}"),
        )
        .await;
    assert_eq!(daily["rows"].as_array().unwrap().len(), 1);
    assert_eq!(daily["rows"][0]["counters"]["dispatched"], 3);
}

#[tokio::test]
async fn a_unit_sees_only_its_own_figures_and_not_the_ranking() {
    let (app, a, b) = scenario().await;
    let clerk_a = app.login("clerk_a").await;
    let period = around_today();
    let (status, report) = app
        .get(&clerk_a, &format!("/api/v1/kpi/report?group=unit&{period}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(report["unit_id"], a);
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{report}");
    assert_eq!(rows[0]["key"], a.to_string());
    // Its total is its own, not the city's.
    let (_, total) = app
        .get(&clerk_a, &format!("/api/v1/kpi/report?{period}"))
        .await;
    assert_eq!(total["rows"][0]["counters"]["dispatched"], 2);
    let (status, error) = app
        .get(
            &clerk_a,
            &format!("/api/v1/kpi/report?unit_id={b}&{period}"),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_your_unit"))
    );
    let (status, _) = app
        .get(&clerk_a, &format!("/api/v1/kpi/ranking?{period}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let operator = app.login("operator").await;
    let (status, _) = app
        .get(&operator, &format!("/api/v1/kpi/report?{period}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_kpi_queries_are_refused_with_stable_codes() {
    let app = city_app().await;
    let supervisor = app.login("supervisor").await;
    for (query, code) in [
        ("group=street", "invalid_group"),
        ("group=division:planet", "invalid_group"),
        ("from=2026-13-01", "invalid_date"),
        ("from=2026-05-02&to=2026-05-01", "invalid_period"),
        ("bucket=year", "invalid_bucket"),
        ("format=pdf", "invalid_format"),
    ] {
        let (status, error) = app
            .get(&supervisor, &format!("/api/v1/kpi/report?{query}"))
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{query}"
        );
    }
    let (status, error) = app.get(&supervisor, "/api/v1/kpi/bulletin?kind=year").await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_kind"))
    );
}

#[tokio::test]
async fn ranking_follows_the_weights_an_administrator_sets() {
    let (app, a, b) = scenario().await;
    let supervisor = app.login("supervisor").await;
    let admin = app.login("admin").await;
    let period = around_today();
    // Only the response rate counts: both units reacted to every dispatch → both 100.
    let weights = json!({
        "on_time_signing": 0.0, "on_time_completion": 0.0, "satisfaction": 0.0,
        "resolution": 0.0, "response": 1.0, "returns": 0.0, "reopens": 0.0,
        "first_dispatch_accuracy": 0.0
    });
    let response = app
        .client
        .put(app.url("/api/v1/kpi/weights"))
        .bearer_auth(&supervisor)
        .json(&weights)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "admins only");
    let put = |body: Value| {
        app.client
            .put(app.url("/api/v1/kpi/weights"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    assert_eq!(put(weights.clone()).await.unwrap().status(), 200);
    let (_, ranking) = app
        .get(
            &supervisor,
            &format!("/api/v1/kpi/ranking?{period}&min_completed=0"),
        )
        .await;
    let rows = ranking["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{ranking}");
    assert!(rows.iter().all(|r| r["score"] == 100.0), "{ranking}");
    // Only returns count (as 1 − return rate): B (no returns) 100 ranks above A (50).
    let mut w = weights.clone();
    w["response"] = json!(0.0);
    w["returns"] = json!(1.0);
    assert_eq!(put(w).await.unwrap().status(), 200);
    let (_, ranking) = app
        .get(
            &supervisor,
            &format!("/api/v1/kpi/ranking?{period}&min_completed=0"),
        )
        .await;
    assert_eq!(ranking["rows"][0]["key"], b.to_string());
    assert_eq!(ranking["rows"][0]["rank"], 1);
    assert_eq!(ranking["rows"][0]["score"], 100.0);
    assert_eq!(ranking["rows"][1]["key"], a.to_string());
    assert_eq!(ranking["rows"][1]["score"], 50.0);
    // min_completed leaves out B, which completed nothing.
    let (_, ranking) = app
        .get(
            &supervisor,
            &format!("/api/v1/kpi/ranking?{period}&min_completed=1"),
        )
        .await;
    assert_eq!(ranking["rows"].as_array().unwrap().len(), 1);
    // All-zero weights are refused.
    let mut zero = weights;
    zero["response"] = json!(0.0);
    let r = put(zero).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn reports_and_bulletins_download_as_csv_and_xlsx() {
    let (app, _, _) = scenario().await;
    let supervisor = app.login("supervisor").await;
    let period = around_today();
    let response = app
        .client
        .get(app.url(&format!(
            "/api/v1/kpi/report?group=unit&format=csv&{period}"
        )))
        .bearer_auth(&supervisor)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("名称 name,期间 period,受理 received"),
        "{text}"
    );
    let a = lines
        .iter()
        .find(|l| l.starts_with("甲街道办事处,"))
        .unwrap_or_else(|| panic!("{text}"));
    // name, period, received, dispatched 2, completed 1, on-time signing 100%, on time 100%.
    assert!(a.starts_with("甲街道办事处,,0,2,1,100.00%,100.00%,"), "{a}");

    for path in [
        format!("/api/v1/kpi/report?group=unit&format=xlsx&{period}"),
        "/api/v1/kpi/bulletin?kind=week&format=xlsx".to_string(),
        "/api/v1/kpi/ranking?format=xlsx".to_string(),
    ] {
        let response = app
            .client
            .get(app.url(&path))
            .bearer_auth(&supervisor)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains(".xlsx"),
            "{path}"
        );
        let bytes = response.bytes().await.unwrap();
        assert_eq!(&bytes[..2], b"PK", "{path}");
    }
}

#[tokio::test]
async fn the_weekly_bulletin_covers_this_week_with_the_ranking() {
    let (app, a, _) = scenario().await;
    let supervisor = app.login("supervisor").await;
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let (status, b) = app
        .get(
            &supervisor,
            &format!("/api/v1/kpi/bulletin?kind=week&date={today}"),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert!(b["title"].as_str().unwrap().contains("周通报"));
    assert_eq!(b["total"]["counters"]["received"], 3);
    // A completed one: it is the only unit ranked with the default minimum of one completion.
    assert_eq!(b["units"].as_array().unwrap().len(), 1);
    assert_eq!(b["units"][0]["key"], a.to_string());
    assert_eq!(b["commended"][0]["key"], a.to_string());
    assert_eq!(b["districts"][0]["name"], "福田区");
    let (status, b) = app
        .get(
            &supervisor,
            &format!("/api/v1/kpi/bulletin?kind=month&date={today}"),
        )
        .await;
    assert_eq!(status, 200);
    assert!(b["title"].as_str().unwrap().contains("月通报"));
    assert_eq!(b["total"]["counters"]["received"], 3);
}

#[tokio::test]
async fn card_rules_list_units_below_the_thresholds_once() {
    let (app, a, b) = scenario().await;
    let supervisor = app.login("supervisor").await;
    let dispatcher = app.login("dispatcher").await;
    let clerk_a = app.login("clerk_a").await;
    // A fourth request: A completes it and the citizen is unsatisfied → A's satisfaction is
    // 1 of 2 = 50%, its on-time completion still 100%.
    let (id, code) = file_and_dispatch(&app, &dispatcher, A).await;
    for action in ["sign", "reply"] {
        let (status, _) = app
            .post(
                &clerk_a,
                &format!("/api/v1/requests/{id}/{action}"),
                json!({"text": "已处理。"}),
            )
            .await;
        assert_eq!(status, 200);
    }
    let (status, _) = app
        .post(
            "",
            &format!("/api/v1/public/requests/{code}/rating"),
            json!({"phone_last4": "5678", "satisfaction": "unsatisfied", "solved": false}),
        )
        .await;
    assert_eq!(status, 200);

    let put = |body: Value| {
        app.client
            .put(app.url("/api/v1/kpi/card-rules"))
            .bearer_auth(&supervisor)
            .json(&body)
            .send()
    };
    let rules = json!({
        "yellow_on_time_below": 0.95, "red_on_time_below": 0.85,
        "yellow_satisfaction_below": 0.9, "red_satisfaction_below": 0.4,
        "yellow_overdue_at_least": 0, "red_overdue_at_least": 0, "min_completed": 1
    });
    assert_eq!(put(rules.clone()).await.unwrap().status(), 200);
    let (_, stored) = app.get(&supervisor, "/api/v1/kpi/card-rules").await;
    assert_eq!(stored, rules);
    let period = around_today();
    let (from, to) = period.split_once('&').unwrap();
    let body = json!({"from": &from[5..], "to": &to[3..]});
    let (status, issued) = app
        .post(&supervisor, "/api/v1/kpi/card-rules/apply", body.clone())
        .await;
    assert_eq!(status, 200, "{issued}");
    let issued = issued.as_array().unwrap();
    // A: yellow for 50% satisfaction; B completed nothing, so it is not judged.
    assert_eq!(issued.len(), 1, "{issued:?}");
    assert_eq!(issued[0]["target_kind"], "unit");
    assert_eq!(issued[0]["target_id"], a);
    assert_eq!(issued[0]["colour"], "yellow");
    assert!(
        issued[0]["reason"]
            .as_str()
            .unwrap()
            .contains("满意率 50.0%"),
        "{issued:?}"
    );
    // Applying again issues nothing: A already holds an open yellow card.
    let (_, again) = app
        .post(&supervisor, "/api/v1/kpi/card-rules/apply", body.clone())
        .await;
    assert_eq!(again.as_array().unwrap().len(), 0);
    // A stricter rule gives A a red card on top; the cards stay in the unit's history.
    let mut strict = rules.clone();
    strict["red_satisfaction_below"] = json!(0.6);
    assert_eq!(put(strict).await.unwrap().status(), 200);
    let (_, red) = app
        .post(&supervisor, "/api/v1/kpi/card-rules/apply", body)
        .await;
    assert_eq!(red[0]["colour"], "red", "{red}");
    let (_, cards) = app
        .get(
            &supervisor,
            &format!("/api/v1/supervision/cards?unit_id={a}"),
        )
        .await;
    assert_eq!(cards.as_array().unwrap().len(), 2);
    let (_, none) = app
        .get(
            &supervisor,
            &format!("/api/v1/supervision/cards?unit_id={b}"),
        )
        .await;
    assert_eq!(none.as_array().unwrap().len(), 0);

    // Rules must be consistent: rates in [0, 1], red no looser than yellow.
    let mut bad = rules.clone();
    bad["red_satisfaction_below"] = json!(1.01);
    assert_eq!(put(bad).await.unwrap().status(), 422);
    let mut bad = rules;
    bad["yellow_on_time_below"] = json!(0.5);
    assert_eq!(put(bad).await.unwrap().status(), 422);
    // Only supervisors and administrators apply them.
    let (status, _) = app
        .post(&clerk_a, "/api/v1/kpi/card-rules/apply", json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
