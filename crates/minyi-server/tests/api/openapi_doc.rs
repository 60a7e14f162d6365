//! The OpenAPI document against the router: every documented operation is answered by a route
//! (never the `unknown_path` fallback), every endpoint the API promises is documented, and what
//! is not documented is not served.

use super::*;
use std::collections::BTreeSet;

/// A concrete URL for a documented path template.
fn concrete(template: &str) -> String {
    template
        .replace("{id}", "1")
        .replace("{code}", "AAAAAAAAAAA")
        .replace("{action}", "sign")
        .replace("{username}", "nobody")
        .replace("{key_id}", "1")
        .replace("{format}", "json")
}

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_every_route_is_documented() {
    let app = city_app().await;
    let response = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let ops = operations(&doc);

    // The endpoints the API promises (kept in step with the routers by this test).
    let promised = [
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/logout"),
        ("GET", "/api/v1/auth/me"),
        ("POST", "/api/v1/public/requests"),
        ("GET", "/api/v1/public/requests/{code}"),
        ("POST", "/api/v1/public/requests/{code}/rating"),
        ("GET", "/api/v1/requests"),
        ("GET", "/api/v1/requests/{id}"),
        ("GET", "/api/v1/requests/{id}/events"),
        ("POST", "/api/v1/requests/{id}/{action}"),
        ("GET", "/api/v1/queues"),
        ("GET", "/api/v1/supervision/backlog"),
        ("GET", "/api/v1/supervision/cards"),
        ("POST", "/api/v1/supervision/cards"),
        ("POST", "/api/v1/supervision/cards/{id}/lift"),
        ("GET", "/api/v1/duplicates"),
        ("POST", "/api/v1/duplicates/{id}/dismiss"),
        ("GET", "/api/v1/hotspots"),
        ("POST", "/api/v1/hotspots/{id}/acknowledge"),
        ("GET", "/api/v1/knowledge"),
        ("GET", "/api/v1/requests/{id}/knowledge"),
        ("PUT", "/api/v1/admin/knowledge"),
        ("DELETE", "/api/v1/admin/knowledge/{id}"),
        ("GET", "/api/v1/divisions"),
        ("POST", "/api/v1/admin/divisions"),
        ("GET", "/api/v1/units"),
        ("POST", "/api/v1/admin/units"),
        ("GET", "/api/v1/catalog"),
        ("POST", "/api/v1/admin/catalog"),
        ("GET", "/api/v1/admin/rules"),
        ("PUT", "/api/v1/admin/rules"),
        ("GET", "/api/v1/admin/rules/check"),
        ("GET", "/api/v1/admin/calendar"),
        ("PUT", "/api/v1/admin/calendar"),
        ("GET", "/api/v1/admin/users"),
        ("POST", "/api/v1/admin/users"),
        ("PATCH", "/api/v1/admin/users/{username}"),
        ("GET", "/api/v1/admin/api-keys"),
        ("POST", "/api/v1/admin/api-keys"),
        ("DELETE", "/api/v1/admin/api-keys/{key_id}"),
    ];
    for (method, path) in promised {
        assert!(
            ops.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is not in the OpenAPI document"
        );
    }

    // Every documented operation reaches a handler: whatever it answers (401, 404 for a missing
    // request, 422 for an empty body), it is never the router's fallback or a 405.
    for (method, path) in &ops {
        let url = app.url(&concrete(path));
        let request = match method.as_str() {
            "GET" => app.client.get(&url),
            "POST" => app.client.post(&url).json(&json!({})),
            "PUT" => app.client.put(&url).json(&json!({})),
            "PATCH" => app.client.patch(&url).json(&json!({})),
            "DELETE" => app.client.delete(&url),
            other => panic!("unexpected method {other}"),
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        assert_ne!(status, 405, "{method} {path}: method not routed");
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("\"unknown_path\""),
            "{method} {path}: documented but not routed ({status} {body})"
        );
        assert!(
            status.as_u16() < 500,
            "{method} {path}: server error {status}"
        );
    }

    // A path outside the document is not served.
    let (status, body) = app.get("", "/api/v1/not-a-resource").await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "unknown_path");
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = city_app().await;
    let response = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "not the Swagger UI page");
    // Its script is served locally, not from a CDN.
    assert!(
        !html.contains("https://"),
        "the page refers to an outside host"
    );
    let script = app
        .client
        .get(app.url("/api/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.bytes().await.unwrap().len() > 100_000);
}
