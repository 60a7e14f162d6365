//! The storage test suite of `minyi-store`: one integration-test binary in which every test runs
//! against both backends.
//!
//! # Two backends, one body
//!
//! A test is written once with [`storage_test!`]:
//!
//! ```ignore
//! storage_test!(a_sentence_that_says_what_is_checked, |db| {
//!     let (store, city) = db.fixture().await;
//!     // …
//! });
//! ```
//!
//! which expands to a module of that name holding two `#[tokio::test]` functions, `sqlite` and
//! `postgres` (so `cargo test -p minyi-store --test storage postgres` runs the PostgreSQL half
//! only; a module rather than `name_sqlite`/`name_postgres` because `macro_rules!` cannot glue
//! identifiers together without an extra crate). Each gets a [`TestDb`] of its own:
//!
//! - **SQLite**: a fresh temporary directory (`tempfile`), opened as `Location::DataDir`; the
//!   database file is `Location::sqlite_file(dir)`.
//! - **PostgreSQL**: a fresh database `minyi_test_<random hex>` created through the admin URL and
//!   opened as `Location::Postgres`; it is dropped (`DROP DATABASE … WITH (FORCE)`, best effort)
//!   when the test ends, whether it passed or panicked.
//!
//! The admin URL comes from the environment variable `MINYI_TEST_PG_URL` and defaults to
//! `postgres://postgres@127.0.0.1:5432/postgres`. The PostgreSQL half **fails** (it does not
//! skip) when that server cannot be reached: a green run means both backends were tested.
//!
//! The body runs in a spawned task with a time limit, so that a panic or a hang is reported as a
//! failure after the database has been cleaned up. [`TestDb::raw`] opens a plain sqlx connection
//! to the same database, for checks that must bypass the store's API (raw `UPDATE`s on `events`,
//! the stored version of a row, where the phone number is stored).
//!
//! The fixture city ([`fixture::City`]) is built through the store's own import functions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use minyi_store::{Location, Store};
use sqlx::{AnyConnection, Connection};
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

/// Environment variable naming the PostgreSQL admin URL.
pub const PG_URL_VAR: &str = "MINYI_TEST_PG_URL";
/// The admin URL used when [`PG_URL_VAR`] is not set.
pub const PG_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The longest a single test body may run.
const TEST_TIME_LIMIT: Duration = Duration::from_secs(180);

/// Writes one test body that runs on both backends: `storage_test!(name, |db| { … })` gives
/// `name::sqlite` and `name::postgres`, each with a fresh [`TestDb`] bound to `db`. Attributes
/// written before the name (`#[ignore = "…"]`, doc comments) go on both functions.
macro_rules! storage_test {
    ($(#[$meta:meta])* $name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::run($crate::Backend::Sqlite, |$db: $crate::TestDb| async move $body).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::run($crate::Backend::Postgres, |$db: $crate::TestDb| async move $body)
                    .await;
            }
        }
    };
}

mod fixture;

mod audit;
mod clocks;
mod cluster;
mod enterprise;
mod group_commit;
mod history;
mod intake;
mod kpi;
mod lifecycle;
mod lockout;
mod matchmaking;
mod queues;
mod reference;
mod search;
mod stats;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database for one test, and the ways to reach it.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub backend: Backend,
    /// Where the store opens.
    pub location: Location,
    /// A sqlx URL of the same database, for raw connections.
    pub raw_url: String,
}

impl TestDb {
    /// Opens (and migrates) a store on this database. Several stores may be open at once, like
    /// several nodes of one deployment.
    pub async fn open(&self) -> Store {
        Store::open(&self.location)
            .await
            .unwrap_or_else(|e| panic!("cannot open the {:?} store: {e}", self.backend))
    }

    /// A plain sqlx connection to the same database, bypassing the store.
    pub async fn raw(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        AnyConnection::connect(&self.raw_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", self.raw_url))
    }

    /// Opens a store and loads the fixture city into it.
    pub async fn fixture(&self) -> (Store, fixture::City) {
        let store = self.open().await;
        let city = fixture::City::load(&store).await;
        (store, city)
    }
}

/// What must be removed when a test ends.
enum Cleanup {
    /// Removed when dropped.
    Dir(tempfile::TempDir),
    Database {
        admin_url: String,
        name: String,
    },
}

/// The admin URL of the PostgreSQL server used for the tests.
pub fn pg_admin_url() -> String {
    std::env::var(PG_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| PG_URL_DEFAULT.to_string())
}

/// The same URL with its database (path) replaced by `database`, keeping any query string.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

async fn admin_connection(admin_url: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(admin_url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is unreachable at {admin_url} ({e}); start it or point {PG_URL_VAR} at \
             a server where this user may CREATE DATABASE"
        )
    })
}

async fn create(backend: Backend) -> (TestDb, Cleanup) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let path: PathBuf = dir.path().to_path_buf();
            let file = Location::sqlite_file(&path);
            let db = TestDb {
                backend,
                location: Location::DataDir(path),
                raw_url: format!("sqlite://{}", file.display()),
            };
            (db, Cleanup::Dir(dir))
        }
        Backend::Postgres => {
            let admin_url = pg_admin_url();
            let name = format!("minyi_test_{:016x}", rand::random::<u64>());
            let mut admin = admin_connection(&admin_url).await;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {admin_url}: {e}"));
            let _ = admin.close().await;
            let url = with_database(&admin_url, &name);
            let db = TestDb {
                backend,
                location: Location::Postgres(url.clone()),
                raw_url: url,
            };
            (db, Cleanup::Database { admin_url, name })
        }
    }
}

async fn cleanup(cleanup: Cleanup) {
    match cleanup {
        Cleanup::Dir(dir) => drop(dir),
        Cleanup::Database { admin_url, name } => {
            // Best effort: a leftover database is harmless, and the test's verdict stands.
            if let Ok(mut admin) = AnyConnection::connect(&admin_url).await {
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await;
                let _ = admin.close().await;
            }
        }
    }
}

/// Runs one test body on a fresh database of `backend`, then removes the database. A panic in
/// the body (or running past the time limit) fails the test after the cleanup.
pub async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (db, to_clean) = create(backend).await;
    let outcome = tokio::time::timeout(TEST_TIME_LIMIT, tokio::spawn(body(db))).await;
    cleanup(to_clean).await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Ok(Err(e)) => panic!("the test task failed: {e}"),
        Err(_) => panic!("the test did not finish within {TEST_TIME_LIMIT:?} on {backend:?}"),
    }
}

#[test]
fn database_urls_are_rewritten_to_the_test_database() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "t2"),
        "postgres://u:p@h/t2?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "t3"),
        "postgres://h:5432/t3"
    );
}
