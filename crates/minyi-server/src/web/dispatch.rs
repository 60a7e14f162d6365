//! The dispatch console (分拨台): received and returned requests with the responsibility list's
//! suggested lead unit and one-action dispatch, rulings on returns, and extension requests.

use super::citizen::{Choice, matter_path};
use super::request::unit_name;
use super::{Ctx, WebStaff, error_page, local_time, render};
use crate::AppState;
use crate::error::ApiError;
use crate::reference::City;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minyi_domain::request::State as RState;
use minyi_domain::unit::Role;
use minyi_domain::{DivisionId, MatterId};
use minyi_store::{RequestFilter, RequestSummary, Sort};

/// One line of a dispatch queue.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub received: String,
    pub matter: String,
    pub division: String,
    pub current: String,
    pub suggested: Option<Choice>,
    pub note: String,
}

fn row(city: &City, s: &RequestSummary) -> Row {
    let suggested = s.matter_id.and_then(|m| {
        city.suggest(MatterId(m), s.division_id.map(DivisionId))
            .ok()
            .map(|a| Choice {
                value: a.lead.0.to_string(),
                label: unit_name(city, Some(a.lead.0)),
            })
    });
    Row {
        id: s.id.0,
        code: s.tracking_code.clone(),
        title: s.title.clone(),
        received: local_time(s.received_at),
        matter: s
            .matter_id
            .map(|m| matter_path(city, MatterId(m)))
            .unwrap_or_default(),
        division: s
            .division_id
            .map(|d| city.divisions.path_name(DivisionId(d)))
            .unwrap_or_default(),
        current: unit_name(city, s.lead_unit_id),
        suggested,
        note: String::new(),
    }
}

#[derive(Template)]
#[template(path = "dispatch.html")]
struct Console {
    c: Ctx,
    received: Vec<Row>,
    received_total: i64,
    returned: Vec<Row>,
    returned_total: i64,
    extensions: Vec<Row>,
}

async fn queue(
    state: &AppState,
    st: RState,
    size: u32,
) -> Result<(Vec<RequestSummary>, i64), ApiError> {
    let page = state
        .store
        .list_requests(&RequestFilter {
            states: vec![st],
            sort: Sort::ReceivedAsc,
            page: 1,
            page_size: size,
            ..RequestFilter::default()
        })
        .await?;
    Ok((page.items, page.total))
}

/// `GET /dispatch`: the console (dispatchers).
pub async fn console(State(state): State<AppState>, staff: WebStaff) -> Response {
    if let Err(r) = staff.require(&[Role::Dispatcher]) {
        return *r;
    }
    match build(&state, staff.c.clone()).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(staff.c, &e),
    }
}

async fn build(state: &AppState, c: Ctx) -> Result<Console, ApiError> {
    let city = state.city.get(&state.store).await?;
    let (received, received_total) = queue(state, RState::Received, 30).await?;
    let (returned, returned_total) = queue(state, RState::Returned, 30).await?;
    let handling = state
        .store
        .list_requests(&RequestFilter {
            states: vec![RState::Handling],
            sort: Sort::UpdatedDesc,
            page: 1,
            page_size: 100,
            ..RequestFilter::default()
        })
        .await?;
    let mut extensions = Vec::new();
    for s in &handling.items {
        let request = state.store.get_request(s.id).await?;
        if let Some(x) = &request.pending_extension {
            let mut r = row(&city, s);
            r.note = format!("{} {} · {}", x.working_days, c.t("days"), x.reason);
            extensions.push(r);
        }
    }
    Ok(Console {
        received: received.iter().map(|s| row(&city, s)).collect(),
        received_total,
        returned: returned.iter().map(|s| row(&city, s)).collect(),
        returned_total,
        extensions,
        c,
    })
}
