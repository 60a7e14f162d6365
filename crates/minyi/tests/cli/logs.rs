//! Personal data never reaches the logs: a demo city is seeded and served by the real binary at
//! debug level, a realistic flow runs through it (citizen and Open311 intake with names, phones
//! and addresses, tracking, sign-in, lists, one request read and dispatched, and a series of
//! refused inputs that carry personal data), and the whole of the server's output is scanned.

use super::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const NAME: &str = "欧阳娜娜";
const PHONE: &str = "13987654321";
const ADDRESS: &str = "莲花路1001号3栋";
const OPEN311_FIRST: &str = "司马";
const OPEN311_LAST: &str = "光明";
const OPEN311_PHONE: &str = "0755-83219876";
const OPEN311_EMAIL: &str = "sima.guangming@example.com";
/// Not a valid number (one digit short), refused, but personal data all the same.
const BAD_PHONE: &str = "1398765432";

/// Runs of 11 digits that look like a mainland mobile number (1, then 3–9, then 9 digits).
fn mobile_numbers(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let run = &text[start..i];
            if run.len() == 11 && run.starts_with('1') && (b'3'..=b'9').contains(&run.as_bytes()[1])
            {
                found.push(run.to_string());
            }
        } else {
            i += 1;
        }
    }
    found
}

#[test]
fn mobile_numbers_are_found_only_as_whole_runs() {
    assert_eq!(
        mobile_numbers("a 13812345678 b 138123456789 c 12812345678 d13912345678"),
        vec!["13812345678".to_string(), "13912345678".to_string()]
    );
}

/// Waits until the server's log names its address.
fn wait_for_address(log: &Path) -> String {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.starts_with("minyi serving on ")) {
            return line
                .trim_start_matches("minyi serving on ")
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches('/')
                .to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "the demo did not start serving:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Client {
    http: reqwest::Client,
    address: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn login(&self, credentials: &Value, role: &str) -> String {
        let account = &credentials["accounts"][role];
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": account["username"], "password": account["password"]})),
            )
            .await;
        assert_eq!(status, 200, "login {role}: {body}");
        body["token"].as_str().unwrap().to_string()
    }
}

async fn realistic_flow(client: &Client, credentials: &Value) {
    use reqwest::Method;
    let dispatcher = client.login(credentials, "dispatcher").await;
    let (status, divisions) = client
        .call(Method::GET, "/api/v1/divisions", Some(&dispatcher), None)
        .await;
    assert_eq!(status, 200, "{divisions}");
    let compound = divisions
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|d| d["level"] == "compound")
        .map(|d| d["code"].as_str().unwrap().to_string())
        .expect("a compound");
    let (status, services) = client
        .call(Method::GET, "/open311/v2/services.json", None, None)
        .await;
    assert_eq!(status, 200);
    let service = services[0]["service_code"].as_str().unwrap().to_string();

    // A citizen files a request with name, phone and address, choosing the category.
    let submit = json!({
        "title": "路灯不亮",
        "text": format!("{ADDRESS}门口的路灯三晚不亮了，联系我 {PHONE}，{NAME}"),
        "division_code": compound,
        "address": ADDRESS,
        "name": NAME,
        "phone": PHONE,
        "matter_code": service,
    });
    let response = client
        .http
        .post(format!("{}/api/v1/public/requests", client.address))
        .header("Idempotency-Key", "log-scan-1")
        .json(&submit)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let receipt: Value = response.json().await.unwrap();
    let code = receipt["tracking_code"].as_str().unwrap().to_string();

    // Refused inputs that carry personal data.
    let mut changed = submit.clone();
    changed["text"] = json!(format!("另一件事，{NAME} {PHONE}"));
    let response = client
        .http
        .post(format!("{}/api/v1/public/requests", client.address))
        .header("Idempotency-Key", "log-scan-1")
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    for bad in [
        json!({"text": "路灯坏了", "phone": BAD_PHONE, "name": NAME}),
        json!({"text": "路灯坏了", "phone": PHONE, "name": format!("{NAME}\u{7}")}),
        json!({"text": "路灯坏了", "phone": 13987654321_u64, "name": NAME}),
        json!({"text": "路灯坏了", "phone": PHONE, "name": NAME, "address": ADDRESS, "division_code": "0000"}),
        json!({"text": "路灯坏了", "phone": PHONE, "nickname": NAME}),
    ] {
        let (status, error) = client
            .call(Method::POST, "/api/v1/public/requests", None, Some(bad))
            .await;
        assert!((400..500).contains(&status), "{error}");
    }

    // Tracking, with the right and a wrong phone check, and a refused rating.
    let (status, _) = client
        .call(
            Method::GET,
            &format!("/api/v1/public/requests/{code}?phone_last4={}", &PHONE[7..]),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = client
        .call(
            Method::POST,
            &format!("/api/v1/public/requests/{code}/rating"),
            None,
            Some(json!({"phone_last4": "0000", "satisfaction": "satisfied", "solved": true})),
        )
        .await;
    assert_eq!(status, 403);

    // Open311 intake with the requester's name, phone and e-mail.
    let key = credentials["open311_api_key"].as_str().unwrap();
    let form = [
        ("api_key", key),
        ("service_code", service.as_str()),
        ("address_string", ADDRESS),
        ("description", "路面塌陷，请尽快处理"),
        ("first_name", OPEN311_FIRST),
        ("last_name", OPEN311_LAST),
        ("phone", OPEN311_PHONE),
        ("email", OPEN311_EMAIL),
    ];
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect::<Vec<_>>()
        .join("&");
    let response = client
        .http
        .post(format!("{}/open311/v2/requests.json", client.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let bad_form = body.replace(&percent(OPEN311_PHONE), BAD_PHONE);
    let response = client
        .http
        .post(format!("{}/open311/v2/requests.json", client.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(bad_form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // Staff: a wrong password, lists, one request read in clear, dispatched.
    let (status, _) = client
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": credentials["accounts"]["operator"]["username"], "password": PHONE})),
        )
        .await;
    assert_eq!(status, 401);
    let (status, page) = client
        .call(
            Method::GET,
            &format!("/api/v1/requests?q={}&page_size=50", percent("路灯")),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let id = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tracking_code"] == code.as_str())
        .map(|r| r["id"].as_i64().unwrap())
        .expect("the citizen's request is listed");
    let (status, view) = client
        .call(
            Method::GET,
            &format!("/api/v1/requests/{id}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        view["requester"]["phone"], PHONE,
        "the dispatcher sees it in clear"
    );
    let (status, view) = client
        .call(
            Method::POST,
            &format!("/api/v1/requests/{id}/dispatch"),
            Some(&dispatcher),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    let (status, _) = client
        .call(
            Method::GET,
            &format!("/api/v1/requests/{id}/events"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let supervisor = client.login(credentials, "supervisor").await;
    let (status, _) = client
        .call(
            Method::GET,
            "/api/v1/requests?page_size=50",
            Some(&supervisor),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = client
        .call(
            Method::POST,
            &format!("/api/v1/requests/{id}/reply"),
            Some(&supervisor),
            Some(json!({"text": format!("已联系 {NAME}，电话 {PHONE}")})),
        )
        .await;
    assert!((400..500).contains(&status));
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn a_full_run_at_debug_level_logs_no_names_phones_or_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let data = dir.path().join("data");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_minyi"))
        .args([
            "demo",
            "--data-dir",
            data.to_str().unwrap(),
            "--requests",
            "400",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("MINYI_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let address = wait_for_address(&log_path);
    let credentials: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("demo-credentials.json")).unwrap())
            .unwrap();
    let client = Client {
        http: reqwest::Client::new(),
        address,
    };
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(realistic_flow(&client, &credentials));
    child.kill().unwrap();
    child.wait().unwrap();

    let log = std::fs::read_to_string(&log_path).unwrap();
    // The log was captured, seeding and serving (MINYI_LOG=debug; the server itself writes
    // few lines at that level).
    assert!(log.contains("minyi serving"), "{log}");
    assert!(log.contains("seeded the demo city"), "{log}");
    let digits_only = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    for secret in [
        NAME,
        PHONE,
        ADDRESS,
        OPEN311_FIRST,
        OPEN311_LAST,
        OPEN311_EMAIL,
        &digits_only(OPEN311_PHONE),
        OPEN311_PHONE,
        BAD_PHONE,
    ] {
        let line = log.lines().find(|l| l.contains(secret));
        assert!(line.is_none(), "{secret} is in the log: {line:?}");
    }
    // Nor any other mobile number (the demo's requesters have generated ones).
    let numbers = mobile_numbers(&log);
    assert!(numbers.is_empty(), "mobile numbers in the log: {numbers:?}");
}
