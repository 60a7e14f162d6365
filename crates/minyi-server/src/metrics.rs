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
    let backlog = state.store.outbox_backlog().await?;
    let mut out = String::new();
    state.http.render(&mut out);
    state.job_stats.render(&mut out);
    let _ = writeln!(
        out,
        "# HELP minyi_outbox_backlog Life-cycle events waiting to be published (city-wide)."
    );
    let _ = writeln!(out, "# TYPE minyi_outbox_backlog gauge");
    let _ = writeln!(out, "minyi_outbox_backlog {backlog}");
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

/// Upper bounds (seconds) of the request-latency histogram buckets.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum_seconds: f64,
    /// Cumulative counts per bucket of [`BUCKETS`].
    buckets: [u64; BUCKETS.len()],
}

/// Request counts and latencies per route template, method and status, for `/metrics`.
/// Per node: each node reports what it served.
#[derive(Debug, Default)]
pub struct HttpStats {
    series: std::sync::Mutex<std::collections::BTreeMap<(String, String, u16), Series>>,
}

impl HttpStats {
    fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let s = series
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        s.count += 1;
        s.sum_seconds += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                s.buckets[i] += 1;
            }
        }
    }

    fn render(&self, out: &mut String) {
        let Ok(series) = self.series.lock() else {
            return;
        };
        let _ = writeln!(
            out,
            "# HELP minyi_http_requests_total HTTP requests served by this node, by route template, method and status."
        );
        let _ = writeln!(out, "# TYPE minyi_http_requests_total counter");
        for ((method, route, status), s) in series.iter() {
            let _ = writeln!(
                out,
                "minyi_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        // Latency per route and method, all statuses together.
        let mut by_route: std::collections::BTreeMap<(&str, &str), Series> =
            std::collections::BTreeMap::new();
        for ((method, route, _), s) in series.iter() {
            let total = by_route.entry((method, route)).or_default();
            total.count += s.count;
            total.sum_seconds += s.sum_seconds;
            for (i, b) in s.buckets.iter().enumerate() {
                total.buckets[i] += b;
            }
        }
        let _ = writeln!(
            out,
            "# HELP minyi_http_request_duration_seconds Time to answer, by route template and method."
        );
        let _ = writeln!(out, "# TYPE minyi_http_request_duration_seconds histogram");
        for ((method, route), s) in &by_route {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "minyi_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "minyi_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "minyi_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "minyi_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
    }
}

/// Middleware (a route layer, so the route template is known): counts and times each request.
pub async fn track(
    State(stats): State<std::sync::Arc<HttpStats>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    stats.record(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
