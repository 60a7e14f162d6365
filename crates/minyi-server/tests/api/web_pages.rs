//! The operator's intake page and the administration pages over plain HTTP: who may open them,
//! CSRF on their forms, the suggestion's content, and an idempotent intake form.

use super::*;
use browser::value_after;

/// A browser-like client that keeps no cookies and follows no redirects.
fn plain() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in through the sign-in form; returns the session cookie (`name=value`).
async fn session(app: &TestApp, username: &str) -> String {
    let response = plain()
        .post(app.url("/login"))
        .form(&[("username", username), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{username} signs in");
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = plain()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

async fn post_form(
    app: &TestApp,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = plain()
        .post(app.url(path))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

const ADMIN_PAGES: [&str; 12] = [
    "/admin",
    "/admin/divisions",
    "/admin/divisions/1/children",
    "/admin/catalog",
    "/admin/catalog/1/children",
    "/admin/units",
    "/admin/users",
    "/admin/rules",
    "/admin/rules/check",
    "/admin/calendar",
    "/admin/api-keys",
    "/admin/knowledge",
];

#[tokio::test]
async fn administration_pages_are_for_administrators_and_intake_for_operators_and_dispatchers() {
    let app = city_app().await;
    // One session each (sign-ins are rate-limited per address).
    let mut sessions = std::collections::HashMap::new();
    for username in ["operator", "dispatcher", "supervisor", "clerk_a", "admin"] {
        sessions.insert(username, session(&app, username).await);
    }
    for username in ["operator", "dispatcher", "supervisor", "clerk_a"] {
        let cookie = &sessions[username];
        for path in ADMIN_PAGES {
            let (status, body) = page(&app, cookie, path).await;
            assert_eq!(status, 403, "{username} {path}");
            assert!(body.contains("403"), "{username} {path}");
        }
    }
    let admin = &sessions["admin"];
    for path in ADMIN_PAGES {
        let (status, body) = page(&app, admin, path).await;
        assert_eq!(status, 200, "admin {path}: {body}");
    }
    let (_, tree) = page(&app, admin, "/admin/divisions").await;
    assert!(tree.contains("深圳市") && tree.contains("/admin/divisions/"));
    let (_, catalog) = page(&app, admin, "/admin/catalog").await;
    assert!(catalog.contains("城乡建设") && catalog.contains("咨询"));
    let (_, nav) = page(&app, admin, "/admin/rules").await;
    assert!(nav.contains("href=\"/admin\""));

    for username in ["clerk_a", "supervisor", "admin"] {
        let cookie = &sessions[username];
        assert_eq!(page(&app, cookie, "/intake").await.0, 403, "{username}");
        let (_, other) = page(&app, cookie, "/requests").await;
        let csrf = value_after(&other, "name=\"csrf\" value=\"");
        let (status, _) = post_form(
            &app,
            cookie,
            "/intake/suggest",
            &[("csrf", &csrf), ("text", "占道经营")],
        )
        .await;
        assert_eq!(status, 403, "{username}");
        let (status, _) = post_form(
            &app,
            cookie,
            "/intake",
            &[
                ("csrf", &csrf),
                ("text", "占道经营"),
                ("phone", "13812345678"),
            ],
        )
        .await;
        assert_eq!(status, 403, "{username}");
    }
    assert_eq!(page(&app, &sessions["dispatcher"], "/intake").await.0, 200);
    let operator = &sessions["operator"];
    let response = plain()
        .get(app.url("/home"))
        .header("cookie", operator)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "/intake");
    let (status, form) = page(&app, operator, "/intake").await;
    assert_eq!(status, 200);
    assert!(form.contains("autofocus") && form.contains("keyup changed delay:400ms"));
    // Nothing was filed by the refused forms.
    let token = app.login("dispatcher").await;
    let (_, list) = app.get(&token, "/api/v1/requests").await;
    assert_eq!(list["total"], 0, "{list}");
}

#[tokio::test]
async fn the_intake_form_needs_its_csrf_token_files_a_hotline_request_once_and_suggests_as_typed() {
    let app = city_app().await;
    let operator = session(&app, "operator").await;
    let (_, form) = page(&app, &operator, "/intake").await;
    let csrf = value_after(&form, "name=\"csrf\" value=\"");
    let key = value_after(&form, "name=\"key\" value=\"");
    let call = |csrf: String| {
        vec![
            ("csrf", csrf),
            ("key", key.clone()),
            ("phone", "13812345678".to_string()),
            ("text", "甲花园门口有煤气泄漏的味道".to_string()),
            ("address", "甲花园东门".to_string()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>| {
        plain()
            .post(app.url("/intake"))
            .header("cookie", &operator)
            .form(&form)
            .send()
    };
    assert_eq!(send(call(String::new())).await.unwrap().status(), 403);
    assert_eq!(send(call("forged".into())).await.unwrap().status(), 403);
    let token = app.login("dispatcher").await;
    let (_, list) = app.get(&token, "/api/v1/requests").await;
    assert_eq!(list["total"], 0, "nothing filed without the token");

    // The suggestion: the place from the text, the danger words.
    let (status, suggestion) = post_form(
        &app,
        &operator,
        "/intake/suggest",
        &[("csrf", &csrf), ("text", "甲花园门口有煤气泄漏的味道")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(suggestion.contains("甲花园"), "{suggestion}");
    assert!(suggestion.contains("煤气"), "{suggestion}");
    let (_, forged) = post_form(
        &app,
        &operator,
        "/intake/suggest",
        &[("csrf", "forged"), ("text", "甲花园")],
    )
    .await;
    assert!(!forged.contains("suggested-category"));

    // Filed on the hotline channel, located from the text; the same form twice is one request.
    let first = send(call(csrf.clone())).await.unwrap();
    assert_eq!(first.status(), 201);
    let first = first.text().await.unwrap();
    let code = value_after(&first, "id=\"tracking-code\">")
        .split('<')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(code.len(), 11, "{code}");
    assert_ne!(
        value_after(&first, "name=\"key\" value=\""),
        key,
        "a new key"
    );
    let again = send(call(csrf)).await.unwrap();
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains(&code));
    let (_, list) = app.get(&token, "/api/v1/requests").await;
    assert_eq!(list["total"], 1, "{list}");
    let id = id_of(&app, &token, &code).await;
    let (_, view) = app.get(&token, &format!("/api/v1/requests/{id}")).await;
    assert_eq!(view["channel"], "hotline");
    assert!(
        view["division_path"].to_string().contains("甲花园"),
        "{view}"
    );
    assert_eq!(view["suggestion"]["urgency"], "emergency", "{view}");
}

#[tokio::test]
async fn administration_forms_need_the_csrf_token_and_show_the_apis_errors() {
    let app = city_app().await;
    let admin = session(&app, "admin").await;
    let token = app.login("admin").await;
    let rule = [
        ("matter_code", "01.01"),
        ("division_code", "440304001"),
        ("lead_unit_code", "BUR"),
    ];
    let (status, _) = post_form(&app, &admin, "/admin/rules", &rule).await;
    assert_eq!(status, 403);
    let (status, _) = post_form(&app, &admin, "/admin/api-keys", &[("label", "app")]).await;
    assert_eq!(status, 403);
    let (_, rules) = app.get(&token, "/api/v1/admin/rules").await;
    assert_eq!(rules.as_array().unwrap().len(), 4);
    let (_, keys) = app.get(&token, "/api/v1/admin/api-keys").await;
    assert_eq!(keys, json!([]));

    // With the token: an unknown unit is refused with the store's message, in Chinese.
    let (_, form) = page(&app, &admin, "/admin/rules").await;
    let csrf = value_after(&form, "name=\"csrf\" value=\"");
    let (status, body) = post_form(
        &app,
        &admin,
        "/admin/rules",
        &[
            ("csrf", csrf.as_str()),
            ("matter_code", "01.01"),
            ("division_code", "440304001"),
            ("lead_unit_code", "NOPE"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("输入无效") && body.contains("NOPE"), "{body}");
    let (_, rules) = app.get(&token, "/api/v1/admin/rules").await;
    assert_eq!(rules.as_array().unwrap().len(), 4);

    // A calendar year: a make-up working day added; other years kept.
    let (status, _) = post_form(
        &app,
        &admin,
        "/admin/calendar",
        &[
            ("csrf", csrf.as_str()),
            ("year", "2031"),
            ("working_hours", "09:00-12:00,14:00-18:00"),
            ("lines", "2031-01-01,holiday,元旦\n2031-02-08,workday,春节"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (_, calendar) = app.get(&token, "/api/v1/admin/calendar").await;
    let csv = calendar["overrides_csv"].as_str().unwrap();
    assert!(
        csv.contains("2031-01-01,holiday,元旦") && csv.contains("2031-02-08,workday,春节"),
        "{csv}"
    );
    let (_, page_2031) = page(&app, &admin, "/admin/calendar?year=2031").await;
    assert!(page_2031.contains("调休上班"), "{page_2031}");
    let (status, body) = post_form(
        &app,
        &admin,
        "/admin/calendar",
        &[
            ("csrf", csrf.as_str()),
            ("year", "2031"),
            ("working_hours", "nine to five"),
            ("lines", ""),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("日历无效"), "{body}");

    // A knowledge entry added, then edited; a unit added.
    let (status, _) = post_form(
        &app,
        &admin,
        "/admin/knowledge",
        &[
            ("csrf", csrf.as_str()),
            ("id", "gjj-tiqu"),
            ("question", "公积金怎么提取？"),
            ("answer", "租房可按月提取。"),
            ("tags", "公积金 提取"),
            ("active", "on"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (_, kb) = app.get(&token, "/api/v1/knowledge").await;
    assert_eq!(kb[0]["tags"], json!(["公积金", "提取"]), "{kb}");
    let (_, edit) = page(&app, &admin, "/admin/knowledge?edit=gjj-tiqu").await;
    assert!(edit.contains("租房可按月提取。") && edit.contains("readonly"));
    let (status, _) = post_form(
        &app,
        &admin,
        "/admin/knowledge",
        &[
            ("csrf", csrf.as_str()),
            ("id", "gjj-tiqu"),
            ("question", "公积金怎么提取？"),
            ("answer", "租房、购房均可提取。"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (_, kb) = app.get(&token, "/api/v1/knowledge").await;
    assert_eq!(kb[0]["answer"], "租房、购房均可提取。");
    assert_eq!(kb[0]["active"], false, "{kb}");
    let (status, _) = post_form(
        &app,
        &admin,
        "/admin/units",
        &[
            ("csrf", csrf.as_str()),
            ("code", "PROP-1"),
            ("name", "甲花园物业"),
            ("kind", "property_company"),
            ("division_code", "440304001001001"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (_, units) = page(&app, &admin, "/admin/units").await;
    assert!(units.contains("甲花园物业") && units.contains("物业公司"));
}
