//! The request search page (诉求检索): a search box over the request list, with a state filter
//! and pages, for every staff role that may list requests. It asks the store exactly what
//! `GET /api/v1/requests` asks (the same search text rules, unit scoping and personal-data rule),
//! so the page and the API never disagree.

use super::{Ctx, WebStaff, error_page, local_time, render};
use crate::AppState;
use crate::api::requests::{search_text, sees_personal_data};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minyi_domain::request::State as RState;
use minyi_domain::unit::Role;
use minyi_store::{RequestFilter, Sort};
use serde::Deserialize;

/// Lines per page.
const PAGE_SIZE: u32 = 30;

/// Query of `GET /requests`.
#[derive(Debug, Deserialize, Default)]
pub struct SearchQuery {
    pub q: Option<String>,
    pub state: Option<String>,
    pub page: Option<u32>,
}

/// One line of the results.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub state: &'static str,
    pub received: String,
}

/// A state the filter offers: (API name, label, selected).
pub type StateOption = (&'static str, &'static str, bool);

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    c: Ctx,
    q: String,
    states: Vec<StateOption>,
    /// The refusal of the search text, in the page's language.
    problem: String,
    searched: bool,
    rows: Vec<Row>,
    total: i64,
    /// At least `total` match (the count stopped at its cap).
    capped: bool,
    page: u32,
    prev_href: Option<String>,
    next_href: Option<String>,
    /// The list API's query for these results, for the download links.
    export_query: String,
}

fn href(q: &str, state: &str, page: u32) -> String {
    format!(
        "/requests?q={}&state={}&page={page}",
        super::i18n::url_encode(q),
        super::i18n::url_encode(state)
    )
}

/// The query of `GET /api/v1/requests` that lists the same requests (sorted as the page).
fn export_query(q: &str, state: &str) -> String {
    let mut query = vec!["sort=received_desc".to_string()];
    if !q.trim().is_empty() {
        query.push(format!("q={}", super::i18n::url_encode(q)));
    }
    if !state.is_empty() {
        query.push(format!("state={}", super::i18n::url_encode(state)));
    }
    query.join("&")
}

/// `GET /requests`: the search page; without `q`, the newest requests the user may see.
pub async fn page(
    State(state): State<AppState>,
    staff: WebStaff,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Response {
    if let Err(r) = staff.require(&[
        Role::Operator,
        Role::Dispatcher,
        Role::Supervisor,
        Role::Admin,
        Role::UnitHandler,
        Role::UnitLeader,
    ]) {
        return *r;
    }
    let c = staff.c.clone();
    let q = query.q.clone().unwrap_or_default();
    let chosen = query.state.clone().unwrap_or_default();
    let states = RState::ALL
        .iter()
        .map(|s| (s.as_str(), c.l.state(*s), s.as_str() == chosen))
        .collect();
    let mut page = SearchPage {
        c: c.clone(),
        q: q.clone(),
        states,
        problem: String::new(),
        searched: !q.trim().is_empty(),
        rows: Vec::new(),
        total: 0,
        capped: false,
        page: query.page.unwrap_or(1).max(1),
        prev_href: None,
        next_href: None,
        export_query: export_query(&q, &chosen),
    };
    let text = match search_text(Some(&q)) {
        Ok(text) => text,
        Err(e) => {
            page.problem = match c.l {
                super::i18n::Lang::Zh => e.zh,
                super::i18n::Lang::En => e.en,
            };
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    let unit = match staff.principal.role {
        Role::UnitHandler | Role::UnitLeader => match staff.principal.unit {
            Some(u) => Some(u),
            None => return error_page(c, &ApiError::forbidden("no_unit")),
        },
        _ => None,
    };
    let filter = RequestFilter {
        states: RState::parse(&chosen).into_iter().collect(),
        unit,
        text,
        text_in_personal: sees_personal_data(&staff.principal),
        sort: Sort::ReceivedDesc,
        page: page.page,
        page_size: PAGE_SIZE,
        ..RequestFilter::default()
    };
    let found = match state.store.list_requests(&filter).await {
        Ok(found) => found,
        Err(e) => return error_page(c, &ApiError::from(e)),
    };
    page.total = found.total;
    page.capped = found.total_capped;
    page.rows = found
        .items
        .iter()
        .map(|s| Row {
            id: s.id.0,
            code: s.tracking_code.clone(),
            title: s.title.clone(),
            state: c.l.state_name(&s.state),
            received: local_time(s.received_at),
        })
        .collect();
    if page.page > 1 {
        page.prev_href = Some(href(&q, &chosen, page.page - 1));
    }
    if i64::from(page.page) * i64::from(PAGE_SIZE) < found.total || found.total_capped {
        page.next_href = Some(href(&q, &chosen, page.page + 1));
    }
    render(StatusCode::OK, &page)
}
