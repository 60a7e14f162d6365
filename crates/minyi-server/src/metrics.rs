//! `GET /metrics` in the Prometheus text format: the size of every queue (requests by state), the
//! open requests past a deadline, and the number of events. Counted from the store on each
//! scrape, so several nodes report the same city-wide figures.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::Utc;
use minyi_store::RequestFilter;
use std::fmt::Write;

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let stats = state.store.stats().await?;
    let overdue = state
        .store
        .list_requests(&RequestFilter {
            overdue_at: Some(Utc::now()),
            page: 1,
            page_size: 1,
            ..RequestFilter::default()
        })
        .await?
        .total;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP minyi_requests Requests by state (queue sizes)."
    );
    let _ = writeln!(out, "# TYPE minyi_requests gauge");
    for (s, n) in &stats.requests_by_state {
        let _ = writeln!(out, "minyi_requests{{state=\"{s}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP minyi_requests_overdue Open requests past their response or handling deadline."
    );
    let _ = writeln!(out, "# TYPE minyi_requests_overdue gauge");
    let _ = writeln!(out, "minyi_requests_overdue {overdue}");
    let _ = writeln!(out, "# HELP minyi_events_total Events in the history.");
    let _ = writeln!(out, "# TYPE minyi_events_total counter");
    let _ = writeln!(out, "minyi_events_total {}", stats.events);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}
