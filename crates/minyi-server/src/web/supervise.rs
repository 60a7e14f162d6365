//! Supervision (督办): the open requests past a deadline and those due within a day, with urging.

use super::request::{countdown, unit_name};
use super::{Ctx, WebStaff, error_page, render};
use crate::AppState;
use crate::error::ApiError;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, Utc};
use minyi_domain::unit::Role;
use minyi_store::{RequestFilter, RequestSummary, Sort};

/// One line of a supervision list.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub unit: String,
    pub state: &'static str,
    pub countdown: String,
}

#[derive(Template)]
#[template(path = "supervise.html")]
struct Supervision {
    c: Ctx,
    overdue: Vec<Row>,
    overdue_total: i64,
    due_soon: Vec<Row>,
    due_soon_total: i64,
}

/// `GET /supervise`: supervisors and administrators.
pub async fn page(State(state): State<AppState>, staff: WebStaff) -> Response {
    if let Err(r) = staff.require(&[Role::Supervisor, Role::Admin]) {
        return *r;
    }
    match build(&state, staff.c.clone()).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(staff.c, &e),
    }
}

async fn build(state: &AppState, c: Ctx) -> Result<Supervision, ApiError> {
    let city = state.city.get(&state.store).await?;
    let now = Utc::now();
    let calendar = state.store.calendar();
    let to_row = |s: &RequestSummary| {
        let due = if s.state == "dispatched" {
            s.response_due_at
        } else {
            s.handling_due_at
        };
        Row {
            id: s.id.0,
            code: s.tracking_code.clone(),
            title: s.title.clone(),
            unit: unit_name(&city, s.lead_unit_id),
            state: c.l.state_name(&s.state),
            countdown: due
                .map(|d| countdown(c.l, &calendar, now, d).0)
                .unwrap_or_default(),
        }
    };
    let list = |filter: RequestFilter| async move { state.store.list_requests(&filter).await };
    let overdue = list(RequestFilter {
        overdue_at: Some(now),
        sort: Sort::DueAsc,
        page: 1,
        page_size: 50,
        ..RequestFilter::default()
    })
    .await?;
    let due_soon = list(RequestFilter {
        due_before: Some(now + Duration::hours(24)),
        received_from: None,
        sort: Sort::DueAsc,
        page: 1,
        page_size: 100,
        ..RequestFilter::default()
    })
    .await?;
    let soon: Vec<Row> = due_soon
        .items
        .iter()
        .filter(|s| s.handling_due_at.is_some_and(|d| d >= now))
        .take(50)
        .map(to_row)
        .collect();
    Ok(Supervision {
        overdue: overdue.items.iter().map(to_row).collect(),
        overdue_total: overdue.total,
        due_soon: soon,
        due_soon_total: due_soon.total,
        c,
    })
}
