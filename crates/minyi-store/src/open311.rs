//! Queries for the Open311 GeoReport v2 endpoint: requests by tracking code, matter, receipt and
//! update windows and state, a page at a time, as whole snapshots (the endpoint shows fields the
//! list columns do not hold); and the request an Idempotency-Key filed (Open311 tokens).

use crate::reference::Val;
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use minyi_domain::MatterId;
use minyi_domain::request::{Request, State};
use sqlx::Row;

/// Which requests an Open311 list shows. Empty fields do not filter; only classified requests
/// (those with a matter, i.e. an Open311 service) are ever listed.
#[derive(Debug, Clone, Default)]
pub struct Open311Filter {
    /// Tracking codes; when not empty, the other filters except paging are ignored.
    pub tracking_codes: Vec<String>,
    pub matters: Vec<MatterId>,
    pub states: Vec<State>,
    /// Received at or after.
    pub received_from: Option<DateTime<Utc>>,
    /// Received at or before.
    pub received_to: Option<DateTime<Utc>>,
    /// Changed strictly after.
    pub updated_after: Option<DateTime<Utc>>,
    /// Changed strictly before.
    pub updated_before: Option<DateTime<Utc>>,
    /// From 1.
    pub page: u32,
    /// At least 1.
    pub page_size: u32,
}

fn placeholders(values: impl IntoIterator<Item = Val>, binds: &mut Vec<Val>) -> String {
    let mut names = Vec::new();
    for v in values {
        binds.push(v);
        names.push(format!("${}", binds.len()));
    }
    names.join(",")
}

impl Store {
    /// The requests an Open311 list shows, newest first, with the number matching in all.
    pub async fn open311_requests(
        &self,
        filter: &Open311Filter,
    ) -> Result<(Vec<Request>, i64), StoreError> {
        let page = filter.page.max(1);
        let page_size = filter.page_size.max(1);
        let mut clauses = vec!["r.matter_id IS NOT NULL".to_string()];
        let mut binds: Vec<Val> = Vec::new();
        if !filter.tracking_codes.is_empty() {
            let list = placeholders(
                filter.tracking_codes.iter().map(|c| Val::Text(c.clone())),
                &mut binds,
            );
            clauses.push(format!("r.tracking_code IN ({list})"));
        } else {
            if !filter.matters.is_empty() {
                let list = placeholders(filter.matters.iter().map(|m| Val::Int(m.0)), &mut binds);
                clauses.push(format!("r.matter_id IN ({list})"));
            }
            if !filter.states.is_empty() {
                let list = placeholders(
                    filter.states.iter().map(|s| Val::Text(s.as_str().into())),
                    &mut binds,
                );
                clauses.push(format!("r.state IN ({list})"));
            }
            let bounds = [
                ("r.received_at >=", filter.received_from),
                ("r.received_at <=", filter.received_to),
                ("r.updated_at >", filter.updated_after),
                ("r.updated_at <", filter.updated_before),
            ];
            for (column, bound) in bounds {
                if let Some(t) = bound {
                    let p = placeholders([Val::Int(t.timestamp_millis())], &mut binds);
                    clauses.push(format!("{column} {p}"));
                }
            }
        }
        let where_sql = clauses.join(" AND ");
        let bind_all = |sql: String| {
            binds
                .iter()
                .cloned()
                .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, v| v.bind_to(q))
        };
        let total: i64 = bind_all(format!("SELECT COUNT(*) FROM requests r WHERE {where_sql}"))
            .fetch_one(&self.read)
            .await?
            .get(0);
        let sql = format!(
            "SELECT r.snapshot FROM requests r WHERE {where_sql} \
             ORDER BY r.received_at DESC, r.id DESC LIMIT {page_size} OFFSET {}",
            u64::from(page - 1) * u64::from(page_size)
        );
        let rows = bind_all(sql).fetch_all(&self.read).await?;
        let requests = rows
            .iter()
            .map(|r| {
                serde_json::from_str::<Request>(&r.get::<String, _>(0))
                    .map_err(|e| StoreError::Corrupt(format!("snapshot: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((requests, total))
    }

    /// The tracking code of the request filed under an Idempotency-Key, if any.
    pub async fn tracking_code_by_idempotency_key(
        &self,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT r.tracking_code FROM idempotency_keys k JOIN requests r ON r.id = k.request_id \
             WHERE k.key = $1",
        )
        .bind(key)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|r| r.get(0)))
    }
}
