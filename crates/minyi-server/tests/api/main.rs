//! Integration tests of the HTTP server: each test starts the real server on port 0 with a fresh
//! database, SQLite and PostgreSQL alike (PostgreSQL from `MINYI_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, a fresh database per test).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use minyi_store::{Location, Store};
use sqlx::Connection;

struct TestApp {
    address: String,
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(minyi_server::serve(store, listener, async {
        let _ = rx.await;
    }));
    TestApp {
        address,
        _dir: dir,
        shutdown: Some(tx),
    }
}

async fn sqlite_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Location::DataDir(dir.path().to_path_buf()))
        .await
        .unwrap();
    spawn_app(store, Some(dir)).await
}

async fn postgres_app() -> TestApp {
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
    spawn_app(store, None).await
}

async fn check_healthz(app: TestApp, storage: &str) {
    let response = reqwest::get(format!("{}/healthz", app.address))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["storage"], storage);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn healthz_reports_version_and_sqlite_storage() {
    check_healthz(sqlite_app().await, "sqlite").await;
}

#[tokio::test]
async fn healthz_reports_version_and_postgres_storage() {
    check_healthz(postgres_app().await, "postgres").await;
}

#[tokio::test]
async fn an_unknown_path_is_404() {
    let app = sqlite_app().await;
    let response = reqwest::get(format!("{}/nope", app.address)).await.unwrap();
    assert_eq!(response.status(), 404);
}
