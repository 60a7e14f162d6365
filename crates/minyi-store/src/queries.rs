//! Lists of requests for queues and searches: filters, sorting and pagination over the indexed
//! columns of `requests`, without decoding snapshots, and full-text search through
//! `search.rs` combined with every filter.

use crate::reference::Val;
use crate::search::{self, SearchText, TextClause, TextMode, TextSearch};
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use minyi_domain::request::State;
use minyi_domain::{DivisionId, MatterId, RequestId, UnitId};
use sqlx::Row;

/// How a list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Newest first. A search on SQLite lists in intake order (request id), which its index
    /// gives without sorting every match; ids are drawn at intake, so that is the same order
    /// except for bulk-loaded history.
    #[default]
    ReceivedDesc,
    /// Oldest first (a search on SQLite: by request id, as above).
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
    /// Full-text search: every term must occur in the title, text, problem address or a reply.
    pub text: Option<SearchText>,
    /// Whether `text` may also match the requester's own address (personal data): only for
    /// roles that see personal data.
    pub text_in_personal: bool,
    pub sort: Sort,
    /// From 1.
    pub page: u32,
    /// 1 to [`RequestFilter::MAX_PAGE_SIZE`].
    pub page_size: u32,
}

impl RequestFilter {
    /// The largest page.
    pub const MAX_PAGE_SIZE: u32 = 200;
    /// A search counts its matches up to this many (a broad word matches most of the city, and
    /// counting them all would cost more than the page); beyond, [`Page::total_capped`].
    pub const SEARCH_COUNT_CAP: i64 = 1000;
    /// The most rows a download of a list (CSV/XLSX export) holds by default.
    pub const MAX_EXPORT_ROWS: usize = 100_000;
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
    /// Set when a search stopped counting at [`RequestFilter::SEARCH_COUNT_CAP`]: at least
    /// `total` requests match.
    pub total_capped: bool,
    pub page: u32,
    pub page_size: u32,
}

impl<T> Page<T> {
    /// A page of a list that nothing matches.
    fn empty(page: u32, page_size: u32) -> Self {
        Page {
            items: Vec::new(),
            total: 0,
            total_capped: false,
            page,
            page_size,
        }
    }
}

const OPEN_STATES: &str = "('received','dispatched','handling','paused','returned')";

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Store {
    /// Lists requests matching a filter, a page at a time, in the filter's order (a search
    /// too: relevance is not ranked, the newest match comes first by default).
    pub async fn list_requests(
        &self,
        filter: &RequestFilter,
    ) -> Result<Page<RequestSummary>, StoreError> {
        self.list_requests_with(filter, TextMode::Indexed, RequestFilter::MAX_PAGE_SIZE)
            .await
    }

    /// Every request matching a filter (its page fields ignored), in the filter's order, up to
    /// `cap` of them: for downloads. Returns the rows and whether more matched.
    pub async fn export_requests(
        &self,
        filter: &RequestFilter,
        cap: usize,
    ) -> Result<(Vec<RequestSummary>, bool), StoreError> {
        let size = u32::try_from(cap.saturating_add(1)).unwrap_or(u32::MAX);
        let filter = RequestFilter {
            page: 1,
            page_size: size,
            ..filter.clone()
        };
        let mut items = self
            .list_requests_with(&filter, TextMode::Indexed, size)
            .await?
            .items;
        let truncated = items.len() > cap;
        items.truncate(cap);
        Ok((items, truncated))
    }

    /// [`Store::list_requests`] with the text searched by `LIKE '%term%'` over the stored rows
    /// instead of the index: the baseline of `minyi bench search`, not for serving.
    pub async fn list_requests_naive(
        &self,
        filter: &RequestFilter,
    ) -> Result<Page<RequestSummary>, StoreError> {
        self.list_requests_with(filter, TextMode::NaiveScan, RequestFilter::MAX_PAGE_SIZE)
            .await
    }

    async fn list_requests_with(
        &self,
        filter: &RequestFilter,
        mode: TextMode,
        max_page_size: u32,
    ) -> Result<Page<RequestSummary>, StoreError> {
        let page = filter.page.max(1);
        let page_size = filter.page_size.clamp(1, max_page_size);
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<Val> = Vec::new();
        let next = |v: Val, binds: &mut Vec<Val>| {
            binds.push(v);
            format!("${}", binds.len())
        };
        // Placeholders are numbered in the order they appear in the SQL.
        let unit = filter.unit.map(|u| next(Val::Int(u.0), &mut binds));
        let states: Vec<String> = filter
            .states
            .iter()
            .map(|s| next(Val::Text(s.as_str().into()), &mut binds))
            .collect();
        // A unit's queue: one range of `request_units (unit_id, state, request_id)`, which
        // carries each request's state (migration 0015). Kept apart with its place among the
        // clauses: a walk of the search index tests it on the index's rowid (below).
        let mut unit_ids: Option<(usize, String)> = None;
        match (unit, states.is_empty()) {
            (Some(p), false) => {
                let ids = format!(
                    "(SELECT request_id FROM request_units WHERE unit_id = {p} AND state IN ({}))",
                    states.join(",")
                );
                clauses.push(format!("r.id IN {ids}"));
                unit_ids = Some((clauses.len() - 1, ids));
            }
            (Some(p), true) => {
                let ids = format!("(SELECT request_id FROM request_units WHERE unit_id = {p})");
                clauses.push(format!("r.id IN {ids}"));
                unit_ids = Some((clauses.len() - 1, ids));
            }
            (None, false) => clauses.push(format!("r.state IN ({})", states.join(","))),
            (None, true) => {}
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
        let text_clause = if let Some(text) = &filter.text {
            let how = match (mode, self.kind) {
                (TextMode::NaiveScan, kind) => TextSearch::NaiveScan(kind),
                (TextMode::Indexed, crate::StorageKind::Postgres) => TextSearch::Postgres,
                // SQLite chooses how to search from the most matches the text can have against
                // how narrow the other filters are (`search.rs`).
                (TextMode::Indexed, crate::StorageKind::Sqlite) => 'plan: {
                    // Every request and reply committed before now is in the index first
                    // (`search_index.rs`).
                    self.search_index_caught_up().await?;
                    // The rows the other filters leave, counted up to a limit.
                    let count_filtered = |limit: i64| {
                        let sql = format!(
                            "SELECT COUNT(*) FROM (SELECT 1 FROM requests r WHERE {} LIMIT {limit})",
                            clauses.join(" AND ")
                        );
                        let query = binds
                            .iter()
                            .cloned()
                            .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, v| v.bind_to(q));
                        async move { Ok::<i64, StoreError>(query.fetch_one(&self.read).await?.get(0)) }
                    };
                    // Few rows: check each, without the vocabulary (`search::CHECK_ROWS`).
                    let few = if clauses.is_empty() {
                        None
                    } else {
                        let n = count_filtered(self.search_check_rows + 1).await?;
                        if n <= self.search_check_rows {
                            break 'plan TextSearch::SqliteCheckEachRow;
                        }
                        Some(n)
                    };
                    let Some(terms) = search::sqlite_terms(&self.read, text).await? else {
                        return Ok(Page::empty(page, page_size));
                    };
                    // Ids are dense, so the largest is the number of requests near enough.
                    let total: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM requests")
                        .fetch_one(&self.read)
                        .await?
                        .get(0);
                    let limit = terms.filtered_count_limit();
                    let filtered = match few {
                        None => total,
                        // Counted past the limit already.
                        Some(n) if n >= limit => limit,
                        Some(_) => count_filtered(limit).await?,
                    };
                    let inputs = search::PlanInputs {
                        received_order: matches!(
                            filter.sort,
                            Sort::ReceivedDesc | Sort::ReceivedAsc
                        ),
                        total_rows: total,
                        filtered_rows: filtered,
                        wanted_rows: (i64::from(page) * i64::from(page_size))
                            .max(RequestFilter::SEARCH_COUNT_CAP + 1),
                    };
                    TextSearch::Sqlite(terms, inputs)
                }
            };
            Some(search::clause(
                text,
                filter.text_in_personal,
                how,
                &mut binds,
            ))
        } else {
            None
        };
        // SQLite may walk the index in rowid order (CROSS JOIN keeps the index as the outer
        // loop) and stop at the page and at the count's cap (`search.rs` chooses).
        let mut from_sql = "requests r".to_string();
        let mut order_sql = filter.sort.sql().to_string();
        match &text_clause {
            Some(TextClause {
                fts_match: Some(m), ..
            }) => {
                from_sql =
                    "request_search CROSS JOIN requests r ON r.id = request_search.rowid".into();
                clauses.push(format!("request_search MATCH {m}"));
                // The unit is tested on each match before its request's row is read: most
                // matches of a busy unit's search are other units' requests (at 300,000
                // requests, the count of a unit's matches of a road: 41 ms → 9 ms). The `+`
                // keeps the test out of FTS5's own plan, which would otherwise look each of the
                // unit's ids up in the index (over a second).
                if let Some((at, ids)) = &unit_ids {
                    clauses[*at] = format!("+request_search.rowid IN {ids}");
                }
                order_sql = match filter.sort {
                    Sort::ReceivedAsc => "request_search.rowid ASC",
                    _ => "request_search.rowid DESC",
                }
                .into();
            }
            Some(clause) => clauses.push(clause.condition.clone()),
            None => {}
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
        let count_sql = if text_clause.is_some() {
            format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM {from_sql} {where_sql} LIMIT {}) counted",
                RequestFilter::SEARCH_COUNT_CAP + 1
            )
        } else {
            format!("SELECT COUNT(*) FROM {from_sql} {where_sql}")
        };
        let counted: i64 = bind_all(count_sql, &binds)
            .fetch_one(&self.read)
            .await?
            .get(0);
        let total_capped = text_clause.is_some() && counted > RequestFilter::SEARCH_COUNT_CAP;
        let total = if total_capped {
            RequestFilter::SEARCH_COUNT_CAP
        } else {
            counted
        };
        let sql = format!(
            "SELECT r.id, r.tracking_code, r.state, r.channel, r.title, r.matter_id, r.division_id, \
             r.lead_unit_id, r.urgency, r.received_at, r.response_due_at, r.handling_due_at, r.updated_at \
             FROM {from_sql} {where_sql} ORDER BY {order_sql} LIMIT {page_size} OFFSET {}",
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
            total_capped,
            page,
            page_size,
        })
    }
}
