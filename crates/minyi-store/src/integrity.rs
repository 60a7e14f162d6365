//! Integrity checks over the stored requests, for the crash-safety harness (`minyi bench crash`)
//! and for operators after an incident: every request's history is gapless and folds to its
//! stored snapshot, and the Idempotency-Keys name requests one to one. Also creates and drops
//! throwaway PostgreSQL databases for such runs.
//!
//! Reads only: nothing here repairs what it finds.

use crate::requests::decode_snapshot;
use crate::{Store, StoreError};
use minyi_domain::RequestId;
use minyi_domain::request::Request;
use sqlx::{Connection, Row};

/// What intake stored for one request: enough to match it to what a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeRecord {
    pub id: RequestId,
    pub tracking_code: String,
    /// The request text as stored (trimmed).
    pub text: String,
    /// The Idempotency-Keys recorded for it (none, or one when the store keeps its promise).
    pub idempotency_keys: Vec<String>,
}

/// Why a request's history does not account for its snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryProblem {
    /// The request has no events at all.
    NoHistory,
    /// The sequence numbers do not run 0, 1, 2 … or the history does not start with receipt.
    BrokenSequence,
    /// The fold of the events differs from the stored snapshot.
    FoldMismatch,
}

/// The result of [`Store::check_histories`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HistoryCheck {
    pub requests: u64,
    pub events: u64,
    /// Requests whose history is not consistent, with the first problem found.
    pub inconsistent: Vec<(i64, HistoryProblem)>,
}

/// Requests read per query while checking.
const BATCH: i64 = 500;

impl Store {
    /// Every stored request with its tracking code, text and Idempotency-Keys, in id order.
    pub async fn intake_records(&self) -> Result<Vec<IntakeRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.tracking_code, r.snapshot, k.key FROM requests r \
             LEFT JOIN idempotency_keys k ON k.request_id = r.id ORDER BY r.id, k.key",
        )
        .fetch_all(&self.read)
        .await?;
        let mut records: Vec<IntakeRecord> = Vec::new();
        for row in rows {
            let id = RequestId(row.get(0));
            let key: Option<String> = row.get(3);
            match records.last_mut() {
                Some(last) if last.id == id => last.idempotency_keys.extend(key),
                _ => {
                    let snapshot = decode_snapshot(&row.get::<String, _>(2))?;
                    records.push(IntakeRecord {
                        id,
                        tracking_code: row.get(1),
                        text: snapshot.intake.text,
                        idempotency_keys: key.into_iter().collect(),
                    });
                }
            }
        }
        Ok(records)
    }

    /// Checks every request: its events are numbered 0, 1, 2 … from its receipt, and their fold
    /// ([`Request::from_history`]) equals the stored snapshot.
    pub async fn check_histories(&self) -> Result<HistoryCheck, StoreError> {
        let mut check = HistoryCheck::default();
        let mut after = i64::MIN;
        loop {
            let rows =
                sqlx::query("SELECT id, snapshot FROM requests WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after)
                    .bind(BATCH)
                    .fetch_all(&self.read)
                    .await?;
            let Some(last) = rows.last() else { break };
            after = last.get(0);
            for row in rows {
                let id = RequestId(row.get(0));
                let snapshot = decode_snapshot(&row.get::<String, _>(1))?;
                let events = self.events(id).await?;
                check.requests += 1;
                check.events += events.len() as u64;
                let problem = if events.is_empty() {
                    Some(HistoryProblem::NoHistory)
                } else {
                    match Request::from_history(&events) {
                        None => Some(HistoryProblem::BrokenSequence),
                        Some(folded) if folded != snapshot => Some(HistoryProblem::FoldMismatch),
                        Some(_) => None,
                    }
                };
                if let Some(problem) = problem {
                    check.inconsistent.push((id.0, problem));
                }
            }
        }
        Ok(check)
    }
}

/// A database name safe to put in `CREATE DATABASE` unquoted.
fn valid_database_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "database name {name:?}: use lower-case letters, digits and _"
        )))
    }
}

/// The URL of database `name` on the server of `admin_url` (same user, host and port).
pub fn postgres_database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    // Everything up to the first `/` after the scheme's `://` is user, host and port.
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Creates an empty PostgreSQL database `name` through `admin_url` (a user allowed to create
/// databases) and returns its URL. Migrations run when a [`Store`] first opens it.
pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<String, StoreError> {
    valid_database_name(name)?;
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(postgres_database_url(admin_url, name))
}

/// Drops database `name` (closing its connections) through `admin_url`.
pub async fn drop_postgres_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    valid_database_name(name)?;
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    conn.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_url_replaces_only_the_database() {
        assert_eq!(
            postgres_database_url("postgres://postgres@127.0.0.1:5432/postgres", "x_1"),
            "postgres://postgres@127.0.0.1:5432/x_1"
        );
        assert_eq!(
            postgres_database_url("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(
            postgres_database_url("postgres://u@h", "x"),
            "postgres://u@h/x"
        );
    }

    #[test]
    fn only_plain_database_names_are_accepted() {
        assert!(valid_database_name("minyi_crash_0123").is_ok());
        for bad in ["", "Upper", "a;drop", "1abc", "a-b"] {
            assert!(valid_database_name(bad).is_err(), "{bad}");
        }
    }
}
