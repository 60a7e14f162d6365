//! Request lists as downloads: the staff list (and so every queue, which is a query of it) and
//! the supervision backlog as CSV and XLSX, scoped and without personal data as the JSON list,
//! cut at the row cap with `X-Export-Truncated`.

use super::*;

/// Serves the fixture city with downloads capped at `cap` rows.
async fn capped_app(cap: usize) -> TestApp {
    let (store, dir) = sqlite_store().await;
    seed_city(&store).await;
    spawn_state(
        minyi_server::AppState::new(store).with_export_rows(cap),
        Some(dir),
    )
    .await
}

/// GETs a download: status, headers and body bytes.
async fn download(
    app: &TestApp,
    token: &str,
    path: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// The data lines of a CSV download (header checked and dropped).
fn csv_lines(bytes: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(bytes).unwrap();
    let text = text
        .strip_prefix('\u{feff}')
        .expect("CSV starts with a BOM");
    let mut lines = text.lines().map(String::from);
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("编号 id,查询码 tracking code,状态 state"),
        "{header}"
    );
    lines.collect()
}

#[tokio::test]
async fn request_lists_download_as_csv_and_xlsx_scoped_capped_and_without_personal_data() {
    let app = capped_app(3).await;
    let dispatcher = app.login("dispatcher").await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        let (status, receipt) = app.submit(complaint(), None).await;
        assert_eq!(status, 201);
        codes.push(receipt["tracking_code"].as_str().unwrap().to_string());
    }
    let id = id_of(&app, &dispatcher, &codes[0]).await;
    for (action, body) in [
        ("classify", json!({"matter_id": 3})),
        ("dispatch", json!({})),
    ] {
        let (status, view) = app
            .post(
                &dispatcher,
                &format!("/api/v1/requests/{id}/{action}"),
                body,
            )
            .await;
        assert_eq!(status, 200, "{view}");
    }

    // Four match, the cap is three: the first three in the list's order, marked truncated.
    let (_, page) = app.get(&dispatcher, "/api/v1/requests?page_size=200").await;
    let listed: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tracking_code"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 4);
    for role in ["dispatcher", "operator", "supervisor"] {
        let token = app.login(role).await;
        let (status, headers, body) = download(&app, &token, "/api/v1/requests?format=csv").await;
        assert_eq!(status, 200, "{role}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        assert_eq!(headers["x-export-truncated"], "true");
        assert_eq!(headers["x-export-rows"], "3");
        let lines = csv_lines(&body);
        assert_eq!(lines.len(), 3, "{role}: {lines:?}");
        for (line, code) in lines.iter().zip(&listed) {
            assert!(line.contains(code), "{line} should be {code}");
        }
        // The JSON list carries no personal data for any role, nor does its download.
        let text = String::from_utf8(body).unwrap();
        assert!(
            !text.contains("13812345678") && !text.contains("张三"),
            "{role}"
        );
    }

    // A queue's query: the dispatched one, with its names; not truncated.
    let (status, headers, body) = download(
        &app,
        &dispatcher,
        "/api/v1/requests?state=dispatched&sort=due_asc&format=csv",
    )
    .await;
    assert_eq!(status, 200);
    assert!(headers.get("x-export-truncated").is_none());
    let lines = csv_lines(&body);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains(&codes[0]));
    assert!(
        lines[0].contains("占道经营")
            && lines[0].contains("甲花园")
            && lines[0].contains("甲街道办事处"),
        "{}",
        lines[0]
    );

    // Units download their own requests only, as they list them.
    let clerk_a = app.login("clerk_a").await;
    let clerk_b = app.login("clerk_b").await;
    let (_, _, body) = download(&app, &clerk_a, "/api/v1/requests?format=csv").await;
    assert_eq!(csv_lines(&body).len(), 1);
    let (status, _, body) = download(&app, &clerk_b, "/api/v1/requests?format=csv").await;
    assert_eq!(status, 200);
    assert!(csv_lines(&body).is_empty());
    let (status, _, _) =
        download(&app, &clerk_b, "/api/v1/requests?unit_id=999999&format=csv").await;
    assert_eq!(status, 403);

    // XLSX: a workbook holding the same rows.
    let (status, headers, body) = download(
        &app,
        &dispatcher,
        "/api/v1/requests?state=dispatched&format=xlsx",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("requests.xlsx")
    );
    assert_eq!(&body[..2], b"PK");
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains(&codes[0]) && !text.contains(&codes[1]));

    // An unknown format is refused; the backlog downloads for supervisors only.
    let (status, body) = app.get(&dispatcher, "/api/v1/requests?format=pdf").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "invalid_format");
    let supervisor = app.login("supervisor").await;
    let (status, _, body) =
        download(&app, &supervisor, "/api/v1/supervision/backlog?format=csv").await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("单位编号 unit id,单位 unit,在办 open")
    );
    let row = lines.next().unwrap();
    assert!(row.contains(",甲街道办事处,1,"), "{row}");
    assert!(lines.next().is_none());
    let (status, _, _) =
        download(&app, &supervisor, "/api/v1/supervision/backlog?format=xlsx").await;
    assert_eq!(status, 200);
    let (status, _, _) = download(&app, &clerk_a, "/api/v1/supervision/backlog?format=csv").await;
    assert_eq!(status, 403);
}
