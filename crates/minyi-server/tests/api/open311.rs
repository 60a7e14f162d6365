//! Open311 GeoReport v2 at `/open311/v2`: every JSON answer is checked against the published
//! JSON Schemas (`shared/data/open311/`), every XML answer is parsed and must carry the same
//! content as the JSON one, and requests filed here are ordinary requests for the staff.

use super::{TestApp, seed_city, spawn_app, sqlite_store};
use chrono::{DateTime, Duration, Utc};
use minyi_store::{Location, Store};
use quick_xml::events::Event;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;
use std::path::PathBuf;

const BASE: &str = "/open311/v2";

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/open311")
}

fn read_json(name: &str) -> Value {
    let path = schema_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A schema file with its `items.$ref` to a sibling file inlined (the crate resolves no files).
fn schema(name: &str) -> Value {
    let mut schema = read_json(name);
    if let Some(target) = schema["items"]["$ref"].as_str().map(String::from) {
        let mut items = read_json(&target);
        for (k, v) in schema["items"].as_object().unwrap().clone() {
            if k != "$ref" {
                items[k] = v;
            }
        }
        schema["items"] = items;
    }
    schema
}

/// A list schema for one of the Swagger file's definitions (the POST and token answers).
fn swagger_list(definition: &str) -> Value {
    let swagger = read_json("swagger.json");
    json!({"type": "array", "minItems": 1, "items": swagger["definitions"][definition].clone()})
}

#[track_caller]
fn assert_valid(schema: &Value, value: &Value) {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}\nin {value:#}");
}

/// An open XML element: its path, how many children of each name it has had, its text and
/// whether it has child elements.
type Frame = (String, Vec<(String, usize)>, String, bool);

/// A form, the status it must get and a word its error must name.
type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);

/// The leaves of an XML document as `root[0]/item[i]/field[0] = text`; panics unless the document
/// is well-formed and starts with the spec's declaration.
fn xml_leaves(body: &str) -> Vec<(String, String)> {
    assert!(
        body.starts_with(r#"<?xml version="1.0" encoding="utf-8"?>"#),
        "{body}"
    );
    let mut reader = quick_xml::Reader::from_str(body);
    reader.config_mut().check_end_names = true;
    // Per open element: its path and how many children of each name it has had so far.
    let mut stack: Vec<Frame> = Vec::new();
    let mut leaves = Vec::new();
    let mut roots = 0;
    let child_path = |stack: &mut Vec<Frame>, name: String| match stack.last_mut() {
        None => format!("{name}[0]"),
        Some((path, counts, _, has_children)) => {
            *has_children = true;
            let n = match counts.iter_mut().find(|(k, _)| *k == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n - 1
                }
                None => {
                    counts.push((name.clone(), 1));
                    0
                }
            };
            format!("{path}/{name}[{n}]")
        }
    };
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Decl(_) => {}
            Event::Start(e) => {
                if stack.is_empty() {
                    roots += 1;
                }
                let name = e.name().as_ref().to_string();
                let path = child_path(&mut stack, name);
                stack.push((path, Vec::new(), String::new(), false));
            }
            Event::Empty(e) => {
                if stack.is_empty() {
                    roots += 1;
                }
                let name = e.name().as_ref().to_string();
                let path = child_path(&mut stack, name);
                leaves.push((path, String::new()));
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let text = quick_xml::escape::unescape(&format!("&{};", r.xml10_content()))
                    .unwrap()
                    .into_owned();
                stack.last_mut().unwrap().2.push_str(&text);
            }
            Event::End(_) => {
                let (path, _, text, has_children) = stack.pop().unwrap();
                if !has_children {
                    leaves.push((path, text));
                }
            }
            Event::Eof => break,
            other => panic!("unexpected XML event {other:?}"),
        }
    }
    assert!(stack.is_empty(), "unclosed elements");
    assert_eq!(roots, 1, "one root element");
    leaves.sort();
    leaves
}

/// The same leaves from the JSON answer, with the spec's element names for list items.
fn json_leaves(root: &str, value: &Value) -> Vec<(String, String)> {
    fn item(list: &str) -> &str {
        match list {
            "service_requests" => "request",
            other => other.strip_suffix('s').unwrap_or(other),
        }
    }
    fn walk(path: String, name: &str, value: &Value, out: &mut Vec<(String, String)>) {
        match value {
            Value::Null => out.push((path, String::new())),
            Value::Bool(b) => out.push((path, b.to_string())),
            Value::Number(n) => out.push((path, n.to_string())),
            Value::String(s) => out.push((path, s.clone())),
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(format!("{path}/{}[{i}]", item(name)), item(name), v, out);
                }
            }
            Value::Object(fields) => {
                for (k, v) in fields {
                    walk(format!("{path}/{k}[0]"), k, v, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(format!("{root}[0]"), root, value, &mut out);
    out.sort();
    out
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        assert_eq!(self.content_type, "application/json; charset=utf-8");
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status(),
        content_type: response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default(),
        body: response.text().await.unwrap(),
    }
}

impl TestApp {
    async fn o311_get(&self, path: &str) -> Answer {
        answer(
            self.client
                .get(self.url(&format!("{BASE}{path}")))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn o311_post(&self, format: &str, form: &[(&str, &str)], key: Option<&str>) -> Answer {
        let mut request = self
            .client
            .post(self.url(&format!("{BASE}/requests.{format}")))
            .form(form);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        answer(request.send().await.unwrap()).await
    }

    /// GETs `path.json` and `path.xml`, checks the JSON against `schema` and that the XML says
    /// the same under `root`; returns the JSON.
    async fn o311_both(&self, path: &str, root: &str, schema: &Value) -> Value {
        let json_answer = self.o311_get(&format!("{path}.json")).await;
        assert_eq!(json_answer.status, 200, "{}", json_answer.body);
        let value = json_answer.json();
        assert_valid(schema, &value);
        self.same_in_xml(&format!("{path}.xml"), root, &value).await;
        value
    }

    async fn same_in_xml(&self, path_xml: &str, root: &str, value: &Value) {
        let xml = self.o311_get(path_xml).await;
        assert_eq!(xml.status, 200, "{}", xml.body);
        assert_eq!(xml.content_type, "text/xml; charset=utf-8");
        assert_eq!(xml_leaves(&xml.body), json_leaves(root, value));
    }
}

/// The fixture city with an Open311 API key.
async fn open311_app() -> (TestApp, String) {
    let (store, dir) = sqlite_store().await;
    let key = seed_with_key(&store).await;
    (spawn_app(store, Some(dir)).await, key)
}

async fn seed_with_key(store: &Store) -> String {
    seed_city(store).await;
    store
        .create_api_key("test client", Utc::now())
        .await
        .unwrap()
}

fn street_vendor<'a>(api_key: &'a str, description: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("api_key", api_key),
        ("service_code", "01.01.001"),
        ("lat", "22.5431"),
        ("long", "114.0579"),
        ("address_string", "甲花园东门"),
        ("address_id", "440304001001001"),
        ("attribute[location_detail]", "东门北侧人行道"),
        ("description", description),
        ("first_name", "三"),
        ("last_name", "张"),
        ("phone", "13812345678"),
        ("email", "zhang@example.com"),
    ]
}

#[track_caller]
fn assert_error(answer: &Answer, status: u16, needle: &str) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.body);
    if answer.content_type.starts_with("text/xml") {
        let leaves = xml_leaves(&answer.body);
        assert_eq!(
            leaves[0],
            ("errors[0]/error[0]/code[0]".into(), status.to_string())
        );
        assert_eq!(leaves[1].0, "errors[0]/error[0]/description[0]");
        assert!(leaves[1].1.contains(needle), "{}", answer.body);
    } else {
        let body = answer.json();
        assert_eq!(body[0]["code"], status, "{body}");
        let description = body[0]["description"].as_str().unwrap();
        assert!(description.contains(needle), "{body}");
    }
}

async fn file(app: &TestApp, key: &str, description: &str) -> String {
    let filed = app
        .o311_post("json", &street_vendor(key, description), None)
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    filed.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn open311_services_and_definitions_follow_the_schemas_in_json_and_xml() {
    let (app, _key) = open311_app().await;

    let services = app
        .o311_both("/services", "services", &schema("services.json"))
        .await;
    let services = services.as_array().unwrap();
    assert_eq!(services.len(), 2, "one service per leaf matter");
    let vendor = services
        .iter()
        .find(|s| s["service_code"] == "01.01.001")
        .unwrap();
    assert_eq!(vendor["service_name"], "占道经营");
    assert_eq!(vendor["group"], "城乡建设");
    assert_eq!(vendor["keywords"], "市容环境");
    assert_eq!(vendor["description"], "城乡建设/市容环境/占道经营");
    assert_eq!(vendor["metadata"], true);
    assert_eq!(vendor["type"], "realtime");

    let definition = app
        .o311_both(
            "/services/01.01.001",
            "service_definition",
            &read_json("service-definition.json"),
        )
        .await;
    assert_eq!(definition["service_code"], "01.01.001");
    let codes: Vec<&str> = definition["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["location_detail", "title", "requester_kind"]);
    assert_eq!(
        definition["attributes"][2]["values"][1]["key"],
        "enterprise"
    );

    // The discovery document names this endpoint and both formats.
    let discovery = app.o311_get("/discovery.json").await.json();
    let endpoint = &discovery["endpoints"][0];
    assert_eq!(
        endpoint["specification"],
        "http://wiki.open311.org/GeoReport_v2"
    );
    assert!(endpoint["url"].as_str().unwrap().ends_with("/open311/v2"));
    assert_eq!(endpoint["formats"], json!(["text/xml", "application/json"]));
    app.same_in_xml("/discovery.xml", "discovery", &discovery)
        .await;

    // Unknown or non-leaf services are 404; a bad format or jurisdiction is clear, in the format.
    assert_error(&app.o311_get("/services/99.json").await, 404, "99");
    assert_error(&app.o311_get("/services/01.01.xml").await, 404, "01.01");
    assert_error(&app.o311_get("/services.html").await, 400, ".json");
    assert_error(&app.o311_get("/services/01.01.001").await, 400, ".json");
    assert_error(
        &app.o311_get("/services.xml?jurisdiction_id=1100").await,
        404,
        "jurisdiction_id",
    );
    let ours = app.o311_get("/services.json?jurisdiction_id=4403").await;
    assert_eq!(ours.status, 200, "{}", ours.body);
    // Errors in English on request.
    let english = app.o311_get("/services/99.json?lang=en").await;
    assert_error(&english, 404, "unknown service_code 99");
}

#[tokio::test]
async fn open311_filing_needs_a_valid_api_key() {
    let (app, key) = open311_app().await;
    let mut form = street_vendor(&key, "摊贩占道");
    form.remove(0);
    assert_error(&app.o311_post("json", &form, None).await, 403, "api_key");
    assert_error(&app.o311_post("xml", &form, None).await, 403, "api_key");
    form.push(("api_key", "not-a-key"));
    assert_error(&app.o311_post("json", &form, None).await, 403, "api_key");
    // A bad key on a read is refused too, rather than silently ignored.
    assert_error(
        &app.o311_get("/requests.json?api_key=not-a-key").await,
        403,
        "api_key",
    );
    // Nothing was filed.
    let list = app.o311_get("/requests.json").await.json();
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn open311_bad_input_is_a_400_naming_the_problem_never_a_5xx() {
    let (app, key) = open311_app().await;
    let with = |changes: &[(&'static str, &'static str)]| {
        let mut form: Vec<(&str, &str)> = street_vendor(&key, "摊贩占道");
        for (k, v) in changes {
            form.retain(|(name, _)| name != k);
            if !v.is_empty() {
                form.push((k, v));
            }
        }
        form
    };
    let cases: Vec<Case> = vec![
        (with(&[("service_code", "")]), 400, "service_code"),
        (with(&[("service_code", "42")]), 404, "42"),
        (with(&[("description", "")]), 400, "description"),
        (with(&[("lat", "north")]), 400, "lat"),
        (with(&[("long", "")]), 400, "lat and long"),
        (with(&[("lat", "91")]), 400, "lat"),
        (
            with(&[
                ("lat", ""),
                ("long", ""),
                ("address_string", ""),
                ("address_id", ""),
            ]),
            400,
            "location",
        ),
        (with(&[("address_id", "999")]), 400, "address_id"),
        (with(&[("phone", "12")]), 400, "phone"),
        (with(&[("email", "nobody")]), 400, "email"),
        (
            with(&[("media_url", "javascript:alert(1)")]),
            400,
            "media_url",
        ),
        (with(&[("attribute[colour]", "red")]), 400, "colour"),
        (
            with(&[("attribute[requester_kind]", "alien")]),
            400,
            "requester_kind",
        ),
        (with(&[("attribute[title][]", "x")]), 400, "title"),
        (with(&[("jurisdiction_id", "1100")]), 404, "jurisdiction_id"),
    ];
    for (form, status, needle) in cases {
        let answer = app
            .client
            .post(app.url(&format!("{BASE}/requests.json?lang=en")))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_error(&answer_of(answer).await, status, needle);
    }
    let long = "长".repeat(4001);
    let mut form = with(&[("description", "")]);
    form.push(("description", long.as_str()));
    let answer = app.o311_post("json", &form, None).await;
    assert_error(&answer, 400, "4000");
    // Not form-encoded.
    let answer = app
        .client
        .post(app.url(&format!("{BASE}/requests.json")))
        .json(&json!({"api_key": key}))
        .send()
        .await
        .unwrap();
    assert_error(&answer_of(answer).await, 400, "x-www-form-urlencoded");

    // Bad list parameters.
    for (query, needle) in [
        ("start_date=yesterday", "start_date"),
        ("end_date=2026-13-01T00:00:00Z", "end_date"),
        ("start_date=2026-11-01", "start_date"),
        (
            "start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
            "90",
        ),
        (
            "start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
            "end_date",
        ),
        ("updated_after=soon", "updated_after"),
        ("status=pending", "status"),
        ("page=0", "page"),
        ("page_size=1001", "page_size"),
        ("service_request_id=../etc", "service_request_id"),
    ] {
        let answer = app
            .o311_get(&format!("/requests.json?lang=en&{query}"))
            .await;
        assert_error(&answer, 400, needle);
    }
    assert_error(
        &app.o311_get("/requests.xml?service_code=7").await,
        404,
        "7",
    );
    assert_error(&app.o311_get("/requests/AAAA.json").await, 404, "AAAA");
    assert_error(&app.o311_get("/tokens/never-used.xml").await, 404, "token");
}

async fn answer_of(response: reqwest::Response) -> Answer {
    answer(response).await
}

#[tokio::test]
async fn open311_a_filed_request_is_listed_and_shown_in_both_formats_without_personal_data() {
    let (app, key) = open311_app().await;
    let filed = app
        .o311_post(
            "json",
            &street_vendor(&key, "甲花园东门每晚有流动摊贩占道经营"),
            None,
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let receipt = filed.json();
    assert_valid(&swagger_list("RequestResponse"), &receipt);
    let id = receipt[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 11, "the tracking code is the request id");
    assert!(receipt[0]["service_notice"].as_str().unwrap().contains(&id));

    // The same filing in XML answers in XML.
    let filed_xml = app
        .o311_post("xml", &street_vendor(&key, "乙雅苑门口有摊贩"), None)
        .await;
    assert_eq!(filed_xml.status, 201, "{}", filed_xml.body);
    assert_eq!(filed_xml.content_type, "text/xml; charset=utf-8");
    let leaves = xml_leaves(&filed_xml.body);
    assert_eq!(
        leaves[0].0,
        "service_requests[0]/request[0]/service_notice[0]"
    );
    assert_eq!(
        leaves[1].0,
        "service_requests[0]/request[0]/service_request_id[0]"
    );
    assert_eq!(leaves[1].1.len(), 11);

    // Public view: status and service, no content, no location, nothing personal.
    let one = app
        .o311_both(
            &format!("/requests/{id}"),
            "service_requests",
            &schema("requests.json"),
        )
        .await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    let request = &one[0];
    assert_eq!(request["service_request_id"], id.as_str());
    assert_eq!(request["service_code"], "01.01.001");
    assert_eq!(request["service_name"], "占道经营");
    assert_eq!(request["status"], "open");
    assert_eq!(request["extended_status"], "OPEN");
    assert!(request["description"].is_null());
    assert!(request["lat"].is_null() && request["address"].is_null());
    let requested =
        DateTime::parse_from_rfc3339(request["requested_datetime"].as_str().unwrap()).unwrap();
    assert!(
        (Utc::now() - requested.with_timezone(&Utc))
            .num_minutes()
            .abs()
            < 5
    );

    // With the key: the content and location too; still never the name, phone or e-mail.
    let full = app
        .o311_get(&format!("/requests/{id}.json?api_key={key}"))
        .await
        .json();
    assert_valid(&schema("requests.json"), &full);
    assert_eq!(full[0]["description"], "甲花园东门每晚有流动摊贩占道经营");
    assert_eq!(full[0]["address"], "甲花园东门 东门北侧人行道");
    assert_eq!(full[0]["address_id"], "440304001001001");
    assert_eq!(full[0]["lat"], 22.5431);
    assert_eq!(full[0]["long"], 114.0579);
    app.same_in_xml(
        &format!("/requests/{id}.xml?api_key={key}"),
        "service_requests",
        &full,
    )
    .await;
    for answer in [
        app.o311_get(&format!("/requests.json?api_key={key}"))
            .await
            .body,
        app.o311_get(&format!("/requests.xml?api_key={key}"))
            .await
            .body,
        app.o311_get(&format!("/requests/{id}.xml?api_key={key}"))
            .await
            .body,
    ] {
        for personal in ["张", "13812345678", "5678", "zhang@example.com"] {
            assert!(!answer.contains(personal), "{personal} shown in {answer}");
        }
    }

    let list = app
        .o311_both("/requests", "service_requests", &schema("requests.json"))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1]["service_request_id"], id.as_str(), "newest first");

    // It is an ordinary request for the staff, from the Open311 channel, already classified.
    let operator = app.login("operator").await;
    let (status, page) = app.get(&operator, "/api/v1/requests?page_size=200").await;
    assert_eq!(status, 200);
    let row = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tracking_code"] == id.as_str())
        .expect("the Open311 request is in the staff list")
        .clone();
    assert_eq!(row["channel"], "open311");
    assert_eq!(row["state"], "received");
    let (status, view) = app
        .get(&operator, &format!("/api/v1/requests/{}", row["id"]))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["category"]["path"], "城乡建设/市容环境/占道经营");
}

#[tokio::test]
async fn open311_idempotency_key_replays_return_the_same_request_and_tokens_find_it() {
    let (app, key) = open311_app().await;
    let form = street_vendor(&key, "摊贩占道");
    let first = app.o311_post("json", &form, Some("client-42")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = app.o311_post("json", &form, Some("client-42")).await;
    assert_eq!(again.status, 200, "{}", again.body);
    let first = first.json();
    assert_eq!(
        again.json()[0]["service_request_id"],
        first[0]["service_request_id"]
    );
    let list = app.o311_get("/requests.json").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "filed once");

    // The same key with different content is refused.
    let other = app
        .o311_post("json", &street_vendor(&key, "别的事"), Some("client-42"))
        .await;
    assert_error(&other, 400, "Idempotency-Key");

    // The key is the request's token.
    let token = app.o311_get("/tokens/client-42.json").await;
    assert_eq!(token.status, 200, "{}", token.body);
    let token = token.json();
    assert_valid(&swagger_list("TokenResponse"), &token);
    assert_eq!(
        token[0]["service_request_id"],
        first[0]["service_request_id"]
    );
    assert_eq!(token[0]["token"], "client-42");
    app.same_in_xml("/tokens/client-42.xml", "service_requests", &token)
        .await;
}

#[tokio::test]
async fn open311_lists_filter_by_id_service_status_dates_and_update_and_page() {
    let (app, key) = open311_app().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(file(&app, &key, &format!("摊贩占道 {i}")).await);
    }
    let consultation = vec![
        ("api_key", key.as_str()),
        ("service_code", "02.01.001"),
        ("address_id", "440304"),
        ("description", "社保断缴怎么补？"),
    ];
    let filed = app.o311_post("json", &consultation, None).await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let asked = filed.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let requests_schema = schema("requests.json");
    let list = |query: String| {
        let app = &app;
        let requests_schema = &requests_schema;
        async move {
            let answer = app.o311_get(&format!("/requests.json?{query}")).await;
            assert_eq!(answer.status, 200, "{query}: {}", answer.body);
            let value = answer.json();
            assert_valid(requests_schema, &value);
            value
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["service_request_id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };

    // By id (a comma list, overriding the other filters), and by service.
    let picked = list(format!(
        "service_request_id={},{}&service_code=02.01.001",
        ids[0], ids[2]
    ))
    .await;
    assert_eq!(picked, [ids[2].clone(), ids[0].clone()]);
    assert_eq!(
        list("service_code=02.01.001".into()).await,
        std::slice::from_ref(&asked)
    );
    assert_eq!(
        list("service_code=01.01.001,02.01.001".into()).await.len(),
        4
    );
    // Empty parameters are the same as absent ones.
    assert_eq!(
        list("service_code=&status=&start_date=".into()).await.len(),
        4
    );

    // Dates: received in a window, with a zone.
    let hour_ago = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let in_hour = (Utc::now() + Duration::hours(1)).to_rfc3339();
    let enc = |t: &str| t.replace('+', "%2B");
    assert_eq!(
        list(format!(
            "start_date={}&end_date={}",
            enc(&hour_ago),
            enc(&in_hour)
        ))
        .await
        .len(),
        4
    );
    assert_eq!(list(format!("start_date={}", enc(&in_hour))).await.len(), 0);
    assert_eq!(list(format!("end_date={}", enc(&hour_ago))).await.len(), 0);

    // Pagination, newest first, with the total in a header.
    let page1 = list("page_size=3".into()).await;
    let page2 = list("page_size=3&page=2".into()).await;
    assert_eq!(page1, [asked.clone(), ids[2].clone(), ids[1].clone()]);
    assert_eq!(page2, [ids[0].clone()]);
    let response = app
        .client
        .get(app.url(&format!("{BASE}/requests.xml?page_size=1")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-total-count"], "4");

    // The dispatcher sends one to the street office: it becomes ACTION_SCHEDULED, with an agency
    // and an expected date, and is the only one updated after the mark.
    let mark = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let dispatcher = app.login("dispatcher").await;
    let id = super::id_of(&app, &dispatcher, &ids[1]).await;
    let (status, view) = app
        .post(
            &dispatcher,
            &format!("/api/v1/requests/{id}/dispatch"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    let after = format!("updated_after={}", enc(&mark.to_rfc3339()));
    assert_eq!(list(after.clone()).await, [ids[1].clone()]);
    assert_eq!(
        list(format!("updated_before={}", enc(&mark.to_rfc3339())))
            .await
            .len(),
        3
    );
    let moved = app
        .o311_get(&format!("/requests/{}.json", ids[1]))
        .await
        .json();
    assert_eq!(moved[0]["status"], "open");
    assert_eq!(moved[0]["extended_status"], "ACTION_SCHEDULED");
    assert_eq!(moved[0]["agency_responsible"], "甲街道办事处");
    assert!(moved[0]["expected_datetime"].is_string());
    assert_eq!(
        list("status=action_scheduled".into()).await,
        [ids[1].clone()]
    );
    assert_eq!(list("status=OPEN".into()).await.len(), 3);
    assert_eq!(list("status=open".into()).await.len(), 4);
    assert_eq!(list("status=closed".into()).await.len(), 0);
    assert_eq!(
        list("status=DUPLICATE,NO_FURTHER_ACTION".into())
            .await
            .len(),
        0
    );
    assert_eq!(list(format!("{after}&status=closed")).await.len(), 0);
}

#[tokio::test]
async fn open311_filing_and_reading_back_works_on_postgres() {
    let admin = std::env::var("MINYI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("minyi_o311_{:016x}", rand::random::<u64>());
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
    let key = seed_with_key(&store).await;
    let app = spawn_app(store, None).await;

    let first = app
        .o311_post("json", &street_vendor(&key, "摊贩占道"), Some("pg-1"))
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let id = first.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let again = app
        .o311_post("json", &street_vendor(&key, "摊贩占道"), Some("pg-1"))
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    let listed = app
        .o311_both("/requests", "service_requests", &schema("requests.json"))
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["service_request_id"], id.as_str());
    let picked = app
        .o311_get(&format!(
            "/requests.json?service_request_id={id}&service_code=01.01.001&status=open"
        ))
        .await
        .json();
    assert_eq!(picked[0]["service_request_id"], id.as_str());
    let token = app.o311_get("/tokens/pg-1.json").await.json();
    assert_eq!(token[0]["service_request_id"], id.as_str());
}
