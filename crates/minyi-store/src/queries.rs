//! Lists of requests for queues and searches: filters, sorting and pagination over the indexed
//! columns of `requests`, without decoding snapshots.

use crate::reference::Val;
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use minyi_domain::request::State;
use minyi_domain::{DivisionId, MatterId, RequestId, UnitId};
use sqlx::Row;

/// How a list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Newest first.
    #[default]
    ReceivedDesc,
    /// Oldest first.
    ReceivedAsc,
    /// Nearest handling deadline first (for unit queues).
    DueAsc,
    /// Most recently changed first.
    UpdatedDesc,
}

impl Sort {
    /// Parses the API name (`received_desc`, `received_asc`, `due_asc`, `updated_desc`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "received_desc" => Some(Sort::ReceivedDesc),
            "received_asc" => Some(Sort::ReceivedAsc),
            "due_asc" => Some(Sort::DueAsc),
            "updated_desc" => Some(Sort::UpdatedDesc),
            _ => None,
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Sort::ReceivedDesc => "r.received_at DESC, r.id DESC",
            Sort::ReceivedAsc => "r.received_at ASC, r.id ASC",
            Sort::DueAsc => "COALESCE(r.handling_due_at, r.response_due_at) ASC, r.id ASC",
            Sort::UpdatedDesc => "r.updated_at DESC, r.id DESC",
        }
    }
}

/// Which requests to list. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub states: Vec<State>,
    /// Only requests where this unit is the lead or a co-unit.
    pub unit: Option<UnitId>,
    pub matter: Option<MatterId>,
    pub division: Option<DivisionId>,
    /// Only open requests with a clock past its deadline at this instant.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only open requests whose handling deadline falls before this instant (due soon).
    pub due_before: Option<DateTime<Utc>>,
    pub received_from: Option<DateTime<Utc>>,
    pub received_to: Option<DateTime<Utc>>,
    pub sort: Sort,
    /// From 1.
    pub page: u32,
    /// 1 to [`RequestFilter::MAX_PAGE_SIZE`].
    pub page_size: u32,
}

impl RequestFilter {
    /// The largest page.
    pub const MAX_PAGE_SIZE: u32 = 200;
}

/// One line of a list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RequestSummary {
    #[schema(value_type = i64)]
    pub id: RequestId,
    pub tracking_code: String,
    pub state: String,
    pub channel: String,
    pub title: String,
    pub matter_id: Option<i64>,
    pub division_id: Option<i64>,
    pub lead_unit_id: Option<i64>,
    pub urgency: Option<String>,
    pub received_at: DateTime<Utc>,
    pub response_due_at: Option<DateTime<Utc>>,
    pub handling_due_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A page of results with the total count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: u32,
    pub page_size: u32,
}

const OPEN_STATES: &str = "('received','dispatched','handling','paused','returned')";

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Store {
    /// Lists requests matching a filter, a page at a time.
    pub async fn list_requests(
        &self,
        filter: &RequestFilter,
    ) -> Result<Page<RequestSummary>, StoreError> {
        let page = filter.page.max(1);
        let page_size = filter.page_size.clamp(1, RequestFilter::MAX_PAGE_SIZE);
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<Val> = Vec::new();
        let next = |v: Val, binds: &mut Vec<Val>| {
            binds.push(v);
            format!("${}", binds.len())
        };
        if !filter.states.is_empty() {
            let list: Vec<String> = filter
                .states
                .iter()
                .map(|s| next(Val::Text(s.as_str().into()), &mut binds))
                .collect();
            clauses.push(format!("r.state IN ({})", list.join(",")));
        }
        if let Some(unit) = filter.unit {
            let p = next(Val::Int(unit.0), &mut binds);
            clauses.push(format!(
                "r.id IN (SELECT request_id FROM request_units WHERE unit_id = {p})"
            ));
        }
        if let Some(m) = filter.matter {
            let p = next(Val::Int(m.0), &mut binds);
            clauses.push(format!("r.matter_id = {p}"));
        }
        if let Some(d) = filter.division {
            let p = next(Val::Int(d.0), &mut binds);
            clauses.push(format!("r.division_id = {p}"));
        }
        if let Some(t) = filter.overdue_at {
            let p = next(Val::Int(t.timestamp_millis()), &mut binds);
            clauses.push(format!(
                "r.state IN {OPEN_STATES} AND ((r.state = 'dispatched' AND r.response_due_at < {p}) \
                 OR (r.state = 'handling' AND r.handling_due_at < {p}))"
            ));
        }
        if let Some(t) = filter.due_before {
            let p = next(Val::Int(t.timestamp_millis()), &mut binds);
            clauses.push(format!(
                "r.state IN ('dispatched','handling') AND r.handling_due_at < {p}"
            ));
        }
        if let Some(t) = filter.received_from {
            let p = next(Val::Int(t.timestamp_millis()), &mut binds);
            clauses.push(format!("r.received_at >= {p}"));
        }
        if let Some(t) = filter.received_to {
            let p = next(Val::Int(t.timestamp_millis()), &mut binds);
            clauses.push(format!("r.received_at < {p}"));
        }
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let bind_all = |sql: String, binds: &[Val]| {
            binds
                .iter()
                .cloned()
                .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, v| v.bind_to(q))
        };
        let total: i64 = bind_all(
            format!("SELECT COUNT(*) FROM requests r {where_sql}"),
            &binds,
        )
        .fetch_one(&self.read)
        .await?
        .get(0);
        let sql = format!(
            "SELECT r.id, r.tracking_code, r.state, r.channel, r.title, r.matter_id, r.division_id, \
             r.lead_unit_id, r.urgency, r.received_at, r.response_due_at, r.handling_due_at, r.updated_at \
             FROM requests r {where_sql} ORDER BY {} LIMIT {page_size} OFFSET {}",
            filter.sort.sql(),
            u64::from(page - 1) * u64::from(page_size)
        );
        let rows = bind_all(sql, &binds).fetch_all(&self.read).await?;
        let items = rows
            .into_iter()
            .map(|r| RequestSummary {
                id: RequestId(r.get(0)),
                tracking_code: r.get(1),
                state: r.get(2),
                channel: r.get(3),
                title: r.get(4),
                matter_id: r.get(5),
                division_id: r.get(6),
                lead_unit_id: r.get(7),
                urgency: r.get(8),
                received_at: time(r.get(9)),
                response_due_at: r.get::<Option<i64>, _>(10).map(time),
                handling_due_at: r.get::<Option<i64>, _>(11).map(time),
                updated_at: time(r.get(12)),
            })
            .collect();
        Ok(Page {
            items,
            total,
            page,
            page_size,
        })
    }
}
