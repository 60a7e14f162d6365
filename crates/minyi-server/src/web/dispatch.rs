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
use axum::response::{IntoResponse, Response};
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
    duplicates: Vec<DupRow>,
    hotspots: Vec<HotRow>,
}

/// A request the engine found to repeat an open one (重复件).
#[derive(Debug, Clone)]
pub struct DupRow {
    pub id: i64,
    pub title: String,
    pub parent_id: i64,
    pub parent_title: String,
    pub parent_code: String,
    /// Similarity in per cent.
    pub similarity: i64,
}

/// An open hot-spot alert (热点预警).
#[derive(Debug, Clone)]
pub struct HotRow {
    pub id: i64,
    pub place: String,
    pub topic: String,
    pub count: i64,
    pub baseline: String,
    pub fired: String,
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
    let mut duplicates = Vec::new();
    for flag in state.store.duplicate_flags(Some("open"), 30).await? {
        let request = state
            .store
            .get_request(minyi_domain::RequestId(flag.request_id))
            .await?;
        let parent = state
            .store
            .get_request(minyi_domain::RequestId(flag.parent_id))
            .await?;
        duplicates.push(DupRow {
            id: flag.request_id,
            title: request.intake.title.clone(),
            parent_id: flag.parent_id,
            parent_title: parent.intake.title.clone(),
            parent_code: parent.intake.tracking_code.to_string(),
            similarity: (flag.similarity * 100.0).round() as i64,
        });
    }
    let hotspots = state
        .store
        .hotspot_alerts(true, 20)
        .await?
        .into_iter()
        .map(|a| HotRow {
            id: a.id,
            place: city.divisions.path_name(DivisionId(a.division_id)),
            topic: a
                .topic
                .strip_prefix("matter:")
                .and_then(|m| m.parse::<i64>().ok())
                .map(|m| matter_path(&city, MatterId(m)))
                .unwrap_or_else(|| a.topic.clone()),
            count: a.request_count,
            baseline: format!("{:.1}", a.baseline),
            fired: local_time(a.fired_at),
        })
        .collect();
    Ok(Console {
        duplicates,
        hotspots,
        received: received.iter().map(|s| row(&city, s)).collect(),
        received_total,
        returned: returned.iter().map(|s| row(&city, s)).collect(),
        returned_total,
        extensions,
        c,
    })
}

/// The form of the small dispatch-console actions.
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /duplicates/{id}/dismiss`: the flagged request does not repeat its candidate parent.
pub async fn dismiss_duplicate(
    State(state): State<AppState>,
    staff: WebStaff,
    axum::extract::Path(id): axum::extract::Path<i64>,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Response {
    if let Err(r) = staff.check_csrf(&f.csrf) {
        return *r;
    }
    if let Err(r) = staff.require(&[Role::Dispatcher]) {
        return *r;
    }
    match state
        .store
        .decide_duplicate(id, "dismissed", staff.principal.user.0, chrono::Utc::now())
        .await
    {
        Ok(_) => axum::response::Redirect::to("/dispatch").into_response(),
        Err(e) => error_page(staff.c, &e.into()),
    }
}

/// `POST /hotspots/{id}/acknowledge`: the alert was seen.
pub async fn acknowledge_hotspot(
    State(state): State<AppState>,
    staff: WebStaff,
    axum::extract::Path(id): axum::extract::Path<i64>,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Response {
    if let Err(r) = staff.check_csrf(&f.csrf) {
        return *r;
    }
    if let Err(r) = staff.require(&[Role::Dispatcher, Role::Supervisor]) {
        return *r;
    }
    match state
        .store
        .acknowledge_hotspot(id, staff.principal.user.0, chrono::Utc::now())
        .await
    {
        Ok(_) => axum::response::Redirect::to("/dispatch").into_response(),
        Err(e) => error_page(staff.c, &e.into()),
    }
}
