//! Several nodes on one PostgreSQL database: two `minyi serve` processes (the real binary) share
//! a fresh database seeded with a small demo city. Requests made overdue (received and
//! dispatched weeks ago, through the store) are escalated exactly once although both nodes run a
//! sweeper every 200 ms; only the node holding the sweeper's lease runs it, and when that node
//! stops the other takes over. Both nodes take writes and serve reads, and an administrator's
//! change on one node reaches the other's cached reference data.
//!
//! Needs PostgreSQL at `MINYI_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! a fresh database is created per test and dropped at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as Days, Utc};
use minyi_domain::RequestId;
use minyi_domain::request::{
    Assignment, CategorySource, Channel, Classification, Command, Location as Place, RequesterKind,
};
use minyi_domain::unit::{Actor, Role};
use minyi_store::{Location, NewRequest, RequesterInfo, Store};
use serde_json::{Value, json};
use sqlx::Connection;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

const PG_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh PostgreSQL database, dropped when the test ends (passed or panicked).
struct FreshDb {
    admin: String,
    name: String,
    url: String,
}

impl FreshDb {
    async fn create() -> FreshDb {
        let admin = std::env::var("MINYI_TEST_PG_URL").unwrap_or_else(|_| PG_URL_DEFAULT.into());
        let name = format!("minyi_nodes_{:016x}", rand::random::<u64>());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL reachable at MINYI_TEST_PG_URL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        let url = format!("{base}/{name}");
        FreshDb { admin, name, url }
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // A thread of its own: the test's runtime may be the one being dropped.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Runtime::new() {
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await;
                    }
                });
            }
        })
        .join();
    }
}

/// One `minyi serve` process.
struct Node {
    id: &'static str,
    child: Child,
    address: String,
}

impl Node {
    fn start(id: &'static str, database_url: &str) -> Node {
        let mut child = Process::new(env!("CARGO_BIN_EXE_minyi"))
            .args([
                "serve",
                "--database-url",
                database_url,
                "--listen",
                "127.0.0.1:0",
                "--node-id",
                id,
                "--sweep-every-ms",
                "200",
                "--reference-check-ms",
                "300",
            ])
            .env("MINYI_LOG", "warn")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut address = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("minyi serving on ") {
                address = rest
                    .split_whitespace()
                    .next()
                    .map(|a| a.trim_end_matches('/').to_string());
                break;
            }
        }
        // Keep reading so the node never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Node {
            id,
            child,
            address: address.unwrap_or_else(|| panic!("node {id} did not start")),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `minyi_job_runs_total{job="<job>"}` of this node.
    async fn job_runs(&self, job: &str) -> u64 {
        let text = reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let prefix = format!("minyi_job_runs_total{{job=\"{job}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in /metrics of {}", self.id))
    }

    /// Stops the node with SIGTERM (a graceful shutdown that gives the leases back).
    fn stop(&mut self) {
        let status = Process::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let started = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "node {} did not stop",
                self.id
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Files `n` requests as if received and dispatched `days_ago` days ago: their response and
/// handling deadlines have long passed, so the next sweep escalates them.
async fn overdue_requests(store: &Store, n: usize, days_ago: i64) -> Vec<RequestId> {
    let catalog = store.load_catalog().await.unwrap();
    let matter = catalog
        .leaves()
        .find(|m| catalog.policy(m.id).is_some_and(|p| !p.consultation))
        .expect("a leaf matter that is not a consultation");
    let policy = catalog.policy(matter.id).unwrap();
    let lead = store.load_units().await.unwrap()[0].id;
    let dispatcher = Actor {
        user: None,
        role: Role::Dispatcher,
        unit: None,
    };
    let then = Utc::now() - Days::days(days_ago);
    let mut ids = Vec::new();
    for i in 0..n {
        let new = NewRequest {
            channel: Channel::Hotline,
            requester_kind: RequesterKind::Citizen,
            title: format!("测试超期诉求 {i}"),
            text: format!("小区门口路灯不亮已经很久了，第 {i} 件"),
            location: Place {
                division: None,
                address: String::new(),
                lat_lng: None,
            },
            requester: RequesterInfo::default(),
            idempotency_key: None,
            follow_up: vec![
                (
                    dispatcher,
                    Command::Classify {
                        classification: Classification {
                            matter: matter.id,
                            source: CategorySource::Person,
                            confidence: None,
                            urgency: policy.urgency,
                            consultation: false,
                        },
                    },
                ),
                (
                    dispatcher,
                    Command::Dispatch {
                        assignment: Assignment {
                            lead,
                            co_units: Vec::new(),
                            rule: None,
                            legal_basis: String::new(),
                            deadlines: policy.deadlines,
                        },
                    },
                ),
            ],
        };
        let (request, created) = store.create_request(new, dispatcher, then).await.unwrap();
        assert!(created);
        assert!(request.response_clock.is_some() && request.handling_clock.is_some());
        ids.push(request.id);
    }
    ids
}

/// Escalation events of these requests, per (request, clock): how many times each was raised.
async fn escalations(url: &str, ids: &[RequestId]) -> Vec<(i64, String, i64)> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let list: Vec<i64> = ids.iter().map(|i| i.0).collect();
    sqlx::query_as::<_, (i64, String, i64)>(
        "SELECT request_id, payload, COUNT(*) FROM events \
         WHERE kind = 'escalated' AND request_id = ANY($1) GROUP BY request_id, payload \
         ORDER BY request_id, payload",
    )
    .bind(&list)
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

/// Waits until every request has both clocks escalated; returns the (request, clock, count) rows.
async fn wait_escalated(url: &str, ids: &[RequestId]) -> Vec<(i64, String, i64)> {
    let started = Instant::now();
    loop {
        let rows = escalations(url, ids).await;
        if rows.len() == ids.len() * 2 {
            return rows;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "only {} of {} clocks escalated: {rows:?}",
            rows.len(),
            ids.len() * 2
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn lease_holder(url: &str, job: &str) -> Option<String> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT holder FROM job_leases WHERE job = $1")
        .bind(job)
        .fetch_optional(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_escalate_each_overdue_request_once_and_share_writes_and_reference_data() {
    let db = FreshDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let seeded = Process::new(env!("CARGO_BIN_EXE_minyi"))
        .args([
            "demo",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--database-url",
            &db.url,
            "--seed-only",
            "--requests",
            "300",
        ])
        .env("MINYI_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "seeding failed: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let credentials: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("demo-credentials.json")).unwrap(),
    )
    .unwrap();
    let store = Store::open(&Location::Postgres(db.url.clone()))
        .await
        .unwrap();

    let mut a = Node::start("node-a", &db.url);
    let mut b = Node::start("node-b", &db.url);

    // Both nodes sweep every 200 ms; each overdue clock is escalated exactly once.
    let ids = overdue_requests(&store, 12, 60).await;
    let rows = wait_escalated(&db.url, &ids).await;
    for (request, clock, n) in &rows {
        assert_eq!(*n, 1, "request {request} escalated {n} times on {clock}");
    }
    // Give both sweepers a few more runs: nothing is raised twice.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(escalations(&db.url, &ids).await, rows);

    // The sweeper ran on the lease holder only.
    let holder = lease_holder(&db.url, "sweeper")
        .await
        .expect("a sweeper lease");
    let (holding, other) = if holder == a.id {
        (&mut a, &mut b)
    } else {
        assert_eq!(holder, b.id);
        (&mut b, &mut a)
    };
    assert!(holding.job_runs("sweeper").await > 0);
    assert_eq!(
        other.job_runs("sweeper").await,
        0,
        "the other node swept too"
    );

    // Both nodes take writes and serve reads: filed on one, tracked on the other.
    let client = reqwest::Client::new();
    let filed: Value = client
        .post(other.url("/api/v1/public/requests"))
        .json(&json!({ "text": "楼道里的灯坏了三天了", "phone": "13812345678" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = filed["tracking_code"]
        .as_str()
        .expect("a tracking code")
        .to_string();
    let tracked = client
        .get(holding.url(&format!("/api/v1/public/requests/{code}?phone_last4=5678")))
        .send()
        .await
        .unwrap();
    assert_eq!(tracked.status(), 200);
    let tracked: Value = tracked.json().await.unwrap();
    assert_eq!(tracked["text"], "楼道里的灯坏了三天了");

    // An administrator adds a matter on one node; the other node's cached catalogue (warmed
    // first) shows it after its next reference check.
    let services = |node: &Node| {
        let url = node.url("/open311/v2/services.json");
        async move {
            let list: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            list.as_array()
                .unwrap()
                .iter()
                .map(|s| s["service_code"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let matters = store.export_matters().await.unwrap();
    let leaf = matters
        .iter()
        .find(|m| !m.parent_code.is_empty() && !matters.iter().any(|c| c.parent_code == m.code))
        .unwrap();
    let new_code = format!("{}.9", leaf.parent_code);
    assert!(!services(&*other).await.contains(&new_code));
    let admin = &credentials["accounts"]["admin"];
    let login: Value = client
        .post(holding.url("/api/v1/auth/login"))
        .json(&json!({ "username": admin["username"], "password": admin["password"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("an admin token");
    let added = client
        .post(holding.url("/api/v1/admin/catalog"))
        .bearer_auth(token)
        .json(&json!([{
            "code": new_code,
            "name": "多节点测试事项",
            "parent_code": leaf.parent_code,
            "urgency": "ordinary",
            "response": "1wd",
            "handling": "5wd",
            "consultation": "0",
        }]))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200, "{}", added.text().await.unwrap());
    let started = Instant::now();
    while !services(&*other).await.contains(&new_code) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the other node still serves the old catalogue"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The holder stops (SIGTERM gives the lease back); the other node takes the sweeper over.
    let runs_before = other.job_runs("sweeper").await;
    holding.stop();
    let later = overdue_requests(&store, 4, 60).await;
    let rows = wait_escalated(&db.url, &later).await;
    assert!(rows.iter().all(|(_, _, n)| *n == 1), "{rows:?}");
    assert_eq!(
        lease_holder(&db.url, "sweeper").await.as_deref(),
        Some(other.id)
    );
    assert!(other.job_runs("sweeper").await > runs_before);
    store.close().await;
}
