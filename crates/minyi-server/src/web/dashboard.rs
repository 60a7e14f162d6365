//! The dashboard (数据看板) for leaders, supervisors and administrators: counts by state, the
//! on-time and satisfaction figures, the volume by day and the category mix (ECharts).

use super::{Ctx, WebStaff, error_page, render};
use crate::AppState;
use crate::error::ApiError;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use minyi_domain::MatterId;
use minyi_domain::request::State as RState;
use minyi_domain::unit::Role;
use std::collections::BTreeMap;

/// One count with its label.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Count {
    pub key: String,
    pub label: String,
    pub value: i64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    c: Ctx,
    total: i64,
    by_state: Vec<Count>,
    on_time: String,
    satisfaction: String,
    completed: i64,
    rated: i64,
    /// The charts' data, JSON safe to put inside a `<script>` element.
    data: String,
}

fn percent(part: i64, whole: i64) -> String {
    if whole == 0 {
        "—".to_string()
    } else {
        format!("{:.2}%", part as f64 * 100.0 / whole as f64)
    }
}

/// `GET /dashboard`.
pub async fn page(State(state): State<AppState>, staff: WebStaff) -> Response {
    if let Err(r) = staff.require(&[Role::UnitLeader, Role::Supervisor, Role::Admin]) {
        return *r;
    }
    // A unit's leader sees the KPIs of the unit; supervisors and administrators the city's.
    let unit = match staff.principal.role {
        Role::UnitLeader => staff.principal.unit.map(|u| u.0),
        _ => None,
    };
    match build(&state, staff.c.clone(), unit).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(staff.c, &e),
    }
}

async fn build(state: &AppState, c: Ctx, unit: Option<i64>) -> Result<DashboardPage, ApiError> {
    let l = c.l;
    let city = state.city.get(&state.store).await?;
    let stats = state.store.stats().await?;
    let since = Utc::now() - Duration::days(30);
    let figures = state.store.dashboard(since).await?;
    let by_state: Vec<Count> = RState::ALL
        .into_iter()
        .map(|s| Count {
            key: s.as_str().to_string(),
            label: l.state(s).to_string(),
            value: stats
                .requests_by_state
                .get(s.as_str())
                .copied()
                .unwrap_or(0),
        })
        .collect();
    let days: Vec<(String, i64)> = figures
        .volume_by_day
        .iter()
        .map(|(day, n)| {
            let date = DateTime::from_timestamp(day * 86_400, 0)
                .map(|d| d.format("%m-%d").to_string())
                .unwrap_or_default();
            (date, *n)
        })
        .collect();
    let mut mix: BTreeMap<String, i64> = BTreeMap::new();
    for (matter, n) in &figures.by_matter {
        let top = city
            .catalog
            .self_and_ancestors(MatterId(*matter))
            .last()
            .and_then(|m| city.catalog.get(*m))
            .map(|m| m.name.clone())
            .unwrap_or_else(|| "?".into());
        *mix.entry(top).or_default() += n;
    }
    let mut mix: Vec<(String, i64)> = mix.into_iter().collect();
    mix.sort_by_key(|m| std::cmp::Reverse(m.1));
    let data = serde_json::json!({
        "states": by_state,
        "days": days.iter().map(|d| &d.0).collect::<Vec<_>>(),
        "volume": days.iter().map(|d| d.1).collect::<Vec<_>>(),
        "mix": mix.iter().map(|(name, value)| serde_json::json!({"name": name, "value": value})).collect::<Vec<_>>(),
        "titles": {
            "states": l.t("by_state"),
            "volume": l.t("volume_trend"),
            "mix": l.t("category_mix"),
        },
    })
    .to_string()
    .replace('<', "\\u003c")
    .replace('>', "\\u003e")
    .replace('&', "\\u0026");
    // The on-time and satisfaction figures are the KPIs (按时办结率, 满意率) of the last 30 days,
    // from the aggregates: on time against the handling clock's (extended) deadline.
    let today = crate::api::kpi::today();
    let kpi = state
        .store
        .kpi_report_filtered(
            &minyi_store::KpiGroup::Total,
            &minyi_store::KpiPeriod {
                from: today - chrono::Days::new(29),
                to: today + chrono::Days::new(1),
                bucket: None,
            },
            &minyi_store::KpiFilter {
                unit,
                division: None,
            },
            &minyi_domain::kpi::Weights::default(),
        )
        .await?;
    let counter = |name: &str| {
        kpi.first()
            .and_then(|r| r.counters.get(name).copied())
            .unwrap_or(0)
    };
    Ok(DashboardPage {
        total: stats.requests,
        by_state,
        on_time: percent(counter("completed_on_time"), counter("completed")),
        satisfaction: percent(counter("satisfied"), counter("rated")),
        completed: counter("completed"),
        rated: counter("rated"),
        data,
        c,
    })
}
