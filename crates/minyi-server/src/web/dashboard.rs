//! The dashboard (数据看板) for leaders, supervisors and administrators: counts by state, the
//! on-time and satisfaction figures, the volume by day, the category mix, a treemap by district
//! and street, and the fastest-rising matters and streets (ECharts), all from the KPI roll-ups.

use super::{Ctx, WebStaff, error_page, render};
use crate::AppState;
use crate::error::ApiError;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minyi_domain::DivisionId;
use minyi_domain::kpi::{Bucket, Weights};
use minyi_domain::request::State as RState;
use minyi_domain::unit::Role;
use minyi_store::{KpiGroup, KpiPeriod, KpiRow};
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
    /// The fastest-rising matters and streets.
    hot: Vec<HotTable>,
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

/// One place or matter whose volume rises fastest (热点诉求).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rising {
    pub name: String,
    /// Received in the last 7 days.
    pub recent: i64,
    /// Weekly mean of the 21 days before.
    pub before: f64,
    /// Rise in per cent over the weekly mean (`None` when it is new).
    pub rise: Option<f64>,
    /// The Poisson z-score the list is sorted by: (recent − before) / √(before + 1).
    pub score: f64,
}

/// One table of rising groups: its title's message key, element id and rows.
pub struct HotTable {
    pub title: &'static str,
    pub id: &'static str,
    pub rows: Vec<Rising>,
}

/// The groups that rose fastest in the last week against the three weeks before; at least
/// `min_recent` requests this week, best `n` first.
fn rising(recent: &[KpiRow], before: &[KpiRow], min_recent: i64, n: usize) -> Vec<Rising> {
    let received = |r: &KpiRow| r.counters.get("received").copied().unwrap_or(0);
    let base: std::collections::HashMap<&str, i64> = before
        .iter()
        .map(|r| (r.key.as_str(), received(r)))
        .collect();
    let mut out: Vec<Rising> = recent
        .iter()
        .filter(|r| r.key != "0" && received(r) >= min_recent)
        .map(|r| {
            let now = received(r);
            let week = base.get(r.key.as_str()).copied().unwrap_or(0) as f64 / 3.0;
            Rising {
                name: r.name.clone(),
                recent: now,
                before: (week * 10.0).round() / 10.0,
                rise: (week > 0.0).then(|| ((now as f64 / week - 1.0) * 1000.0).round() / 10.0),
                score: (now as f64 - week) / (week + 1.0).sqrt(),
            }
        })
        .filter(|r| r.score > 0.0)
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(n);
    out
}

/// Requests received per district and street over a period, nested for the treemap.
fn treemap(city: &crate::reference::City, streets: &[KpiRow]) -> Vec<serde_json::Value> {
    let mut districts: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for r in streets {
        let received = r.counters.get("received").copied().unwrap_or(0);
        let Ok(id) = r.key.parse::<i64>() else {
            continue;
        };
        if received == 0 || id == 0 {
            continue;
        }
        let district = city
            .divisions
            .get(DivisionId(id))
            .and_then(|d| d.parent)
            .and_then(|p| city.divisions.get(p))
            .map(|d| d.name.clone())
            .unwrap_or_else(|| "?".into());
        districts
            .entry(district)
            .or_default()
            .push(serde_json::json!({"name": r.name, "value": received}));
    }
    districts
        .into_iter()
        .map(|(name, children)| {
            let value: i64 = children.iter().filter_map(|c| c["value"].as_i64()).sum();
            serde_json::json!({"name": name, "value": value, "children": children})
        })
        .collect()
}

async fn build(state: &AppState, c: Ctx, unit: Option<i64>) -> Result<DashboardPage, ApiError> {
    let l = c.l;
    let city = state.city.get(&state.store).await?;
    let stats = state.store.stats().await?;
    // Every figure below comes from the KPI roll-ups, so the page costs the same at any volume
    // of history (see `minyi bench kpi`).
    let today = crate::api::kpi::today();
    let tomorrow = today + chrono::Days::new(1);
    let weights = Weights::default();
    let period = |days: u64, bucket| KpiPeriod {
        from: tomorrow - chrono::Days::new(days),
        to: tomorrow,
        bucket,
    };
    let store = &state.store;
    let report =
        |group: KpiGroup, p: KpiPeriod| async move { store.kpi_report(&group, &p, &weights).await };
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
    let received = |r: &KpiRow| r.counters.get("received").copied().unwrap_or(0);
    // Every day of the window, with zero for a day without requests.
    let per_day: BTreeMap<chrono::NaiveDate, i64> =
        report(KpiGroup::Total, period(30, Some(Bucket::Day)))
            .await?
            .iter()
            .filter_map(|r| r.period_start.map(|d| (d, received(r))))
            .collect();
    let days: Vec<(String, i64)> = (0..30u64)
        .map(|back| today - chrono::Days::new(29 - back))
        .map(|d| {
            (
                d.format("%m-%d").to_string(),
                per_day.get(&d).copied().unwrap_or(0),
            )
        })
        .collect();
    let mut mix: Vec<(String, i64)> = report(KpiGroup::Matter(1), period(30, None))
        .await?
        .iter()
        .filter(|r| r.key != "0" && received(r) > 0)
        .map(|r| (r.name.clone(), received(r)))
        .collect();
    mix.sort_by_key(|m| std::cmp::Reverse(m.1));
    let streets = report(KpiGroup::Division("street".into()), period(30, None)).await?;
    let week = |days_back: u64, days: u64| KpiPeriod {
        from: tomorrow - chrono::Days::new(days_back),
        to: tomorrow - chrono::Days::new(days_back - days),
        bucket: None,
    };
    let hot_matters = rising(
        &report(KpiGroup::Matter(3), week(7, 7)).await?,
        &report(KpiGroup::Matter(3), week(28, 21)).await?,
        5,
        8,
    );
    let hot_places = rising(
        &report(KpiGroup::Division("street".into()), week(7, 7)).await?,
        &report(KpiGroup::Division("street".into()), week(28, 21)).await?,
        5,
        8,
    );
    let data = serde_json::json!({
        "states": by_state,
        "days": days.iter().map(|d| &d.0).collect::<Vec<_>>(),
        "volume": days.iter().map(|d| d.1).collect::<Vec<_>>(),
        "mix": mix.iter().map(|(name, value)| serde_json::json!({"name": name, "value": value})).collect::<Vec<_>>(),
        "places": treemap(&city, &streets),
        "titles": {
            "states": l.t("by_state"),
            "volume": l.t("volume_trend"),
            "mix": l.t("category_mix"),
            "places": l.t("volume_by_place"),
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
        hot: vec![
            HotTable {
                title: "hot_matters",
                id: "hot-matters",
                rows: hot_matters,
            },
            HotTable {
                title: "hot_places",
                id: "hot-places",
                rows: hot_places,
            },
        ],
        data,
        c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use minyi_domain::kpi::Kpis;

    fn row(key: &str, received: i64) -> KpiRow {
        KpiRow {
            key: key.into(),
            name: format!("n{key}"),
            period_start: None,
            counters: [("received", received)].into_iter().collect(),
            kpis: Kpis::default(),
            score: None,
        }
    }

    #[test]
    fn the_fastest_rise_against_the_weekly_mean_comes_first_and_small_or_falling_groups_are_left_out()
     {
        let recent = [
            row("1", 20),
            row("2", 12),
            row("3", 4),
            row("4", 6),
            row("5", 9),
        ];
        // Weekly means before: 1 → 3, 2 → 10, 3 → 0 (below the minimum now), 4 → new, 5 → 12.
        let before = [row("1", 9), row("2", 30), row("3", 0), row("5", 36)];
        let hot = rising(&recent, &before, 5, 10);
        let names: Vec<&str> = hot.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["n1", "n4", "n2"]);
        assert_eq!(hot[0].before, 3.0);
        assert_eq!(hot[0].rise, Some(566.7));
        assert_eq!(
            hot[1].rise, None,
            "a matter new this week has no rise in per cent"
        );
        assert_eq!(rising(&recent, &before, 5, 1).len(), 1);
    }
}
