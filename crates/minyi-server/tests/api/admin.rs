//! Administration endpoints: reference data, the responsibility list and its check, the
//! calendar, accounts and API keys; only `admin` writes, and a bad import changes nothing.

use super::*;

impl TestApp {
    async fn send(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn only_admins_change_reference_data_and_changes_take_effect_at_once() {
    let app = city_app().await;
    let admin = app.login("admin").await;
    let dispatcher = app.login("dispatcher").await;

    // Any staff member reads divisions, units and the catalogue.
    let (status, units) = app.get(&dispatcher, "/api/v1/units").await;
    assert_eq!(status, 200);
    assert_eq!(units.as_array().unwrap().len(), 4);
    let (status, divisions) = app.get(&dispatcher, "/api/v1/divisions").await;
    assert_eq!(status, 200);
    assert_eq!(divisions.as_array().unwrap().len(), 8);
    let (status, catalog) = app.get(&dispatcher, "/api/v1/catalog").await;
    assert_eq!(status, 200);
    assert_eq!(catalog.as_array().unwrap().len(), 6);

    // Only the admin writes.
    let new_unit = json!([{"code": "WATER", "name": "水务集团", "kind": "public_service", "division_code": "4403"}]);
    let (status, error) = app
        .post(&dispatcher, "/api/v1/admin/units", new_unit.clone())
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("role_not_allowed"))
    );
    let (status, done) = app.post(&admin, "/api/v1/admin/units", new_unit).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["rows"], 1);
    let (_, units) = app.get(&dispatcher, "/api/v1/units").await;
    assert!(
        units
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["code"] == "WATER")
    );

    // A bad import (unknown parent) is refused whole and changes nothing.
    let (status, error) = app
        .post(
            &admin,
            "/api/v1/admin/divisions",
            json!([
                {"code": "440304001002", "name": "丙社区", "level": "community", "parent_code": "440304001"},
                {"code": "440399001001", "name": "无主社区", "level": "community", "parent_code": "440399001"}
            ]),
        )
        .await;
    assert_eq!(status, 422, "{error}");
    let (_, divisions) = app.get(&dispatcher, "/api/v1/divisions").await;
    assert_eq!(divisions.as_array().unwrap().len(), 8);

    // The rules: read, check, replace; the check sees the change at once (the cache is cleared).
    let (status, rules) = app.get(&admin, "/api/v1/admin/rules").await;
    assert_eq!(status, 200);
    assert_eq!(rules.as_array().unwrap().len(), 4);
    let (status, check) = app.get(&admin, "/api/v1/admin/rules/check").await;
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["complete"], true);
    assert_eq!(check["combinations"], 4);
    let (_, check_denied) = app.get(&dispatcher, "/api/v1/admin/rules/check").await;
    assert_eq!(check_denied["code"], "role_not_allowed");
    // Drop the city-wide rule for 城乡建设 and street B's rule: street B loses its owner for 占道经营.
    let kept: Vec<Value> = rules
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !(r["matter_code"] == "01.01" && r["division_code"] == "440304002"))
        .filter(|r| !(r["matter_code"] == "01" && r["division_code"] == "4403"))
        .cloned()
        .collect();
    let (status, done) = app
        .send(
            reqwest::Method::PUT,
            &admin,
            "/api/v1/admin/rules",
            Some(Value::Array(kept)),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["rows"], 2);
    let (_, check) = app.get(&admin, "/api/v1/admin/rules/check").await;
    assert_eq!(check["complete"], false);
    assert_eq!(check["gaps"], 1);
    assert!(
        check["gap_samples"][0]["division"]
            .as_str()
            .unwrap()
            .contains("乙社区"),
        "{check}"
    );
    // A rule naming an unknown unit is refused; the list stays as it was.
    let (status, _) = app
        .send(
            reqwest::Method::PUT,
            &admin,
            "/api/v1/admin/rules",
            Some(
                json!([{"matter_code": "01", "division_code": "4403", "lead_unit_code": "NOPE",
                "co_unit_codes": "", "legal_basis": "", "response": "", "handling": ""}]),
            ),
        )
        .await;
    assert_eq!(status, 422);
    let (_, rules) = app.get(&admin, "/api/v1/admin/rules").await;
    assert_eq!(rules.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_calendar_is_read_and_replaced_and_bad_calendars_are_refused() {
    let app = city_app().await;
    let admin = app.login("admin").await;
    let (status, calendar) = app.get(&admin, "/api/v1/admin/calendar").await;
    assert_eq!(status, 200, "{calendar}");
    assert!(
        calendar["working_hours"]
            .as_str()
            .unwrap()
            .contains("09:00")
    );
    let csv = "date,kind,name\n2026-10-01,holiday,国庆节\n2026-10-10,workday,国庆节调休\n";
    let (status, updated) = app
        .send(
            reqwest::Method::PUT,
            &admin,
            "/api/v1/admin/calendar",
            Some(json!({"working_hours": "08:30-12:00,13:30-17:30", "overrides_csv": csv})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["working_hours"], "08:30-12:00,13:30-17:30");
    assert!(
        updated["overrides_csv"]
            .as_str()
            .unwrap()
            .contains("2026-10-10")
    );
    // Overlapping hours are refused with a clear code; the stored calendar stays.
    let (status, error) = app
        .send(
            reqwest::Method::PUT,
            &admin,
            "/api/v1/admin/calendar",
            Some(json!({"working_hours": "09:00-12:00,11:00-13:00", "overrides_csv": csv})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_calendar"))
    );
    let (_, calendar) = app.get(&admin, "/api/v1/admin/calendar").await;
    assert_eq!(calendar["working_hours"], "08:30-12:00,13:30-17:30");
}

#[tokio::test]
async fn accounts_are_managed_by_admins_and_deactivation_ends_sessions() {
    let app = city_app().await;
    let admin = app.login("admin").await;
    let supervisor = app.login("supervisor").await;
    let (status, _) = app.get(&supervisor, "/api/v1/admin/users").await;
    assert_eq!(status, 403);
    let (status, users) = app.get(&admin, "/api/v1/admin/users").await;
    assert_eq!(status, 200);
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u.get("password_hash").is_none())
    );

    // A unit role needs a unit; weak passwords and bad usernames are refused.
    let (status, error) = app
        .post(
            &admin,
            "/api/v1/admin/users",
            json!({"username": "clerk_c", "display_name": "丙",
            "role": "unit_handler", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 422, "{error}");
    let (_, error) = app
        .post(
            &admin,
            "/api/v1/admin/users",
            json!({"username": "clerk_c", "display_name": "丙",
            "role": "unit_handler", "unit_code": "SO-A", "password": "short"}),
        )
        .await;
    assert_eq!(error["code"], "weak_password");
    let (_, error) = app
        .post(
            &admin,
            "/api/v1/admin/users",
            json!({"username": "x y", "display_name": "",
            "role": "operator", "password": PASSWORD}),
        )
        .await;
    assert_eq!(error["code"], "invalid_username");
    let (status, user) = app
        .post(
            &admin,
            "/api/v1/admin/users",
            json!({"username": "clerk_c", "display_name": "丙",
            "role": "unit_handler", "unit_code": "SO-A", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["unit_code"], "SO-A");
    let (status, error) = app
        .post(
            &admin,
            "/api/v1/admin/users",
            json!({"username": "clerk_c", "display_name": "丙",
            "role": "operator", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("username_taken"))
    );

    // The new clerk signs in; deactivation ends the session and refuses the next sign-in.
    let clerk = app.login("clerk_c").await;
    let (status, me) = app.get(&clerk, "/api/v1/auth/me").await;
    assert_eq!(
        (status, me["role"].as_str()),
        (StatusCode::OK, Some("unit_handler"))
    );
    let (status, user) = app
        .send(
            reqwest::Method::PATCH,
            &admin,
            "/api/v1/admin/users/clerk_c",
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["active"], false);
    let (status, _) = app.get(&clerk, "/api/v1/auth/me").await;
    assert_eq!(status, 401);
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "clerk_c", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // An admin cannot lock themselves out.
    let (_, error) = app
        .send(
            reqwest::Method::PATCH,
            &admin,
            "/api/v1/admin/users/admin",
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(error["code"], "cannot_demote_self");
    let (status, _) = app
        .send(
            reqwest::Method::PATCH,
            &admin,
            "/api/v1/admin/users/nobody",
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn api_keys_are_shown_once_listed_by_id_and_revoked() {
    let app = city_app().await;
    let admin = app.login("admin").await;
    let (status, issued) = app
        .post(
            &admin,
            "/api/v1/admin/api-keys",
            json!({"label": "城市 App"}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let key = issued["api_key"].as_str().unwrap().to_string();
    let key_id = issued["key_id"].as_str().unwrap().to_string();
    assert_eq!(key_id.len(), 12);
    let (_, keys) = app.get(&admin, "/api/v1/admin/api-keys").await;
    let listed = keys.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["key_id"], key_id.as_str());
    assert!(listed[0]["revoked_at"].is_null());
    assert!(
        !keys.to_string().contains(&key),
        "the key itself is never listed"
    );
    let (status, _) = app
        .send(
            reqwest::Method::DELETE,
            &admin,
            &format!("/api/v1/admin/api-keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (_, keys) = app.get(&admin, "/api/v1/admin/api-keys").await;
    assert!(!keys[0]["revoked_at"].is_null());
    let (status, _) = app
        .send(
            reqwest::Method::DELETE,
            &admin,
            "/api/v1/admin/api-keys/000000000000",
            None,
        )
        .await;
    assert_eq!(status, 404);
    let dispatcher = app.login("dispatcher").await;
    let (status, _) = app
        .post(&dispatcher, "/api/v1/admin/api-keys", json!({"label": "x"}))
        .await;
    assert_eq!(status, 403);
}
