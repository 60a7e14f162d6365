//! The unit workbench (单位工作台): the unit's open requests, nearest deadline first, with the
//! working time left, and signing for in one action. Replies, returns and extensions are on the
//! request page.

use super::request::countdown;
use super::{Ctx, WebStaff, error_page, local_time, render};
use crate::AppState;
use crate::error::ApiError;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use minyi_domain::request::State as RState;
use minyi_domain::unit::Role;
use minyi_store::{RequestFilter, Sort};

/// One line of the unit's queue.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub state: &'static str,
    pub to_sign: bool,
    pub due: String,
    pub countdown: String,
    pub late: bool,
}

#[derive(Template)]
#[template(path = "unit.html")]
struct Workbench {
    c: Ctx,
    unit: String,
    rows: Vec<Row>,
    total: i64,
}

/// `GET /unit`: the workbench (unit handlers and leaders).
pub async fn workbench(State(state): State<AppState>, staff: WebStaff) -> Response {
    if let Err(r) = staff.require(&[Role::UnitHandler, Role::UnitLeader]) {
        return *r;
    }
    match build(&state, &staff).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(staff.c, &e),
    }
}

async fn build(state: &AppState, staff: &WebStaff) -> Result<Workbench, ApiError> {
    let l = staff.c.l;
    let unit = staff
        .principal
        .unit
        .ok_or_else(|| ApiError::forbidden("no_unit"))?;
    let city = state.city.get(&state.store).await?;
    let page = state
        .store
        .list_requests(&RequestFilter {
            states: vec![RState::Dispatched, RState::Handling, RState::Paused],
            unit: Some(unit),
            sort: Sort::DueAsc,
            page: 1,
            page_size: 50,
            ..RequestFilter::default()
        })
        .await?;
    let calendar = state.store.calendar();
    let now = Utc::now();
    let rows = page
        .items
        .iter()
        .map(|s| {
            let to_sign = s.state == "dispatched";
            let due = if to_sign {
                s.response_due_at
            } else {
                s.handling_due_at
            };
            let (text, late) = match due {
                Some(d) if s.state != "paused" => countdown(l, &calendar, now, d),
                _ => (String::new(), false),
            };
            Row {
                id: s.id.0,
                code: s.tracking_code.clone(),
                title: s.title.clone(),
                state: l.state_name(&s.state),
                to_sign,
                due: due.map(local_time).unwrap_or_default(),
                countdown: text,
                late,
            }
        })
        .collect();
    Ok(Workbench {
        c: staff.c.clone(),
        unit: city
            .units
            .get(&unit)
            .map(|u| u.name.clone())
            .unwrap_or_default(),
        rows,
        total: page.total,
    })
}
