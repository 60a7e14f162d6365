//! The KPI pages (考核指标): a KPI table by unit, district, street, community, category or
//! channel over a period, with the ranking and the daily trend as charts, drill-down from the
//! city to a district's streets and a unit's categories, downloads; and the printable weekly or
//! monthly bulletin (通报). The figures come from the API's handlers' builders, so the pages and
//! `/api/v1/kpi/*` show the same numbers with the same role scope.

use super::{Ctx, WebStaff, error_page, render};
use crate::AppState;
use crate::api::kpi::{self, Bulletin, BulletinQuery, KpiRowView, ReportQuery};
use crate::error::ApiError;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minyi_domain::unit::Role;

/// One table line, formatted.
#[derive(Debug, Clone)]
pub struct Line {
    pub rank: usize,
    pub name: String,
    pub drill: Option<String>,
    pub received: i64,
    pub completed: i64,
    pub on_time_signing: String,
    pub on_time: String,
    pub avg_handling: String,
    pub satisfaction: String,
    pub resolution: String,
    pub return_rate: String,
    pub reopen_rate: String,
    pub score: String,
}

fn rate(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{:.2}%", v * 100.0))
}

fn line(rank: usize, r: &KpiRowView, drill: Option<String>) -> Line {
    let n = |k: &str| r.counters.get(k).copied().unwrap_or(0);
    Line {
        rank,
        name: r.name.clone(),
        drill,
        received: n("received"),
        completed: n("completed"),
        on_time_signing: rate(r.kpis.on_time_signing),
        on_time: rate(r.kpis.on_time_completion),
        avg_handling: r
            .kpis
            .avg_handling_hours
            .map_or_else(|| "—".into(), |h| format!("{h:.1}")),
        satisfaction: rate(r.kpis.satisfaction),
        resolution: rate(r.kpis.resolution),
        return_rate: rate(r.kpis.return_rate),
        reopen_rate: rate(r.kpis.reopen_rate),
        score: r.score.map_or_else(|| "—".into(), |s| format!("{s:.1}")),
    }
}

/// The choices of the group selector: (value, message key).
const GROUPS: [(&str, &str); 6] = [
    ("unit", "g_unit"),
    ("division:district", "g_district"),
    ("division:street", "g_street"),
    ("division:community", "g_community"),
    ("matter:1", "g_matter"),
    ("channel", "g_channel"),
];

#[derive(Template)]
#[template(path = "kpi.html")]
struct KpiPage {
    c: Ctx,
    group: String,
    groups: Vec<(&'static str, &'static str)>,
    from: String,
    to: String,
    unit_only: bool,
    city_wide: bool,
    division_id: String,
    total: Option<Line>,
    lines: Vec<Line>,
    /// The query string of the current view, for the download links.
    query: String,
    /// The charts' data, JSON safe inside `<script>`.
    data: String,
}

fn script_json(v: &serde_json::Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn enc(s: &str) -> String {
    super::i18n::url_encode(s)
}

/// `GET /kpi`: unit roles see their own unit; supervisors, administrators and dispatchers all.
pub async fn page(
    State(state): State<AppState>,
    staff: WebStaff,
    Query(mut q): Query<ReportQuery>,
) -> Response {
    if let Err(r) = staff.require(&[
        Role::UnitHandler,
        Role::UnitLeader,
        Role::Dispatcher,
        Role::Supervisor,
        Role::Admin,
    ]) {
        return *r;
    }
    q.bucket = None;
    q.format = None;
    if q.from.as_deref() == Some("") {
        q.from = None;
    }
    if q.to.as_deref() == Some("") {
        q.to = None;
    }
    if q.group.is_none() {
        q.group = Some("unit".into());
    }
    match build(&state, &staff, q).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(staff.c, &e),
    }
}

async fn build(state: &AppState, staff: &WebStaff, q: ReportQuery) -> Result<KpiPage, ApiError> {
    let c = staff.c.clone();
    let report = kpi::report_for(state, &staff.principal, &q).await?;
    let total_q = ReportQuery {
        group: Some("total".into()),
        from: Some(report.from.clone()),
        to: Some(report.to.clone()),
        bucket: None,
        unit_id: q.unit_id,
        division_id: q.division_id,
        format: None,
    };
    let total = kpi::report_for(state, &staff.principal, &total_q).await?;
    let trend = kpi::report_for(
        state,
        &staff.principal,
        &ReportQuery {
            bucket: Some("day".into()),
            ..total_q
        },
    )
    .await?;
    let city_wide = matches!(
        staff.principal.role,
        Role::Supervisor | Role::Admin | Role::Dispatcher
    );
    let next_level = match report.group.as_str() {
        "division:district" => Some("division:street"),
        "division:street" => Some("division:community"),
        "division:community" => Some("division:compound"),
        _ => None,
    };
    let mut rows: Vec<KpiRowView> = report.rows.clone();
    rows.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.key.cmp(&b.key))
    });
    let period = format!("from={}&to={}", report.from, report.to);
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let drill = if r.key == "0" {
                None
            } else if let Some(level) = next_level {
                Some(format!(
                    "/kpi?group={}&division_id={}&{period}",
                    enc(level),
                    r.key
                ))
            } else if report.group == "unit" && city_wide {
                Some(format!("/kpi?group=matter%3A1&unit_id={}&{period}", r.key))
            } else {
                None
            };
            line(i + 1, r, drill)
        })
        .collect();
    let ranked: Vec<&KpiRowView> = rows
        .iter()
        .filter(|r| r.key != "0" && r.score.is_some())
        .take(20)
        .collect();
    let data = serde_json::json!({
        "ranking": {
            "title": c.t("ranking"),
            "names": ranked.iter().rev().map(|r| r.name.clone()).collect::<Vec<_>>(),
            "scores": ranked.iter().rev().map(|r| r.score.map(|s| (s * 10.0).round() / 10.0)).collect::<Vec<_>>(),
        },
        "trend": {
            "title": c.t("kpi_trend"),
            "days": trend.rows.iter().map(|r| r.period_start.clone().unwrap_or_default()).collect::<Vec<_>>(),
            "completed": trend.rows.iter().map(|r| r.counters.get("completed").copied().unwrap_or(0)).collect::<Vec<_>>(),
            "on_time": trend.rows.iter().map(|r| r.kpis.on_time_completion.map(|v| (v * 1000.0).round() / 10.0)).collect::<Vec<_>>(),
            "labels": [c.t("completed"), c.t("on_time_rate")],
        },
    });
    let mut query = format!("group={}&{period}", enc(&report.group));
    if let Some(u) = q.unit_id {
        query.push_str(&format!("&unit_id={u}"));
    }
    if let Some(d) = q.division_id {
        query.push_str(&format!("&division_id={d}"));
    }
    Ok(KpiPage {
        group: report.group.clone(),
        groups: GROUPS.to_vec(),
        from: report.from.clone(),
        to: report.to.clone(),
        unit_only: !city_wide,
        city_wide,
        division_id: q.division_id.map(|d| d.to_string()).unwrap_or_default(),
        total: total.rows.first().map(|r| line(0, r, None)),
        lines,
        query,
        data: script_json(&data),
        c,
    })
}

#[derive(Template)]
#[template(path = "bulletin.html")]
struct BulletinPage {
    c: Ctx,
    b: Bulletin,
    summary: Vec<(String, Line)>,
    /// (element id, heading, lines): commended, criticised, the unit ranking, the districts.
    sections: Vec<(&'static str, &'static str, Vec<Line>)>,
    query: String,
}

/// `GET /kpi/bulletin?kind=week|month&date=`: the printable bulletin (supervisors,
/// administrators, dispatchers).
pub async fn bulletin(
    State(state): State<AppState>,
    staff: WebStaff,
    Query(q): Query<BulletinQuery>,
) -> Response {
    if let Err(r) = staff.require(&[Role::Dispatcher, Role::Supervisor, Role::Admin]) {
        return *r;
    }
    let b = match kpi::bulletin_for(&state.store, &q).await {
        Ok(b) => b,
        Err(e) => return error_page(staff.c, &e),
    };
    let c = staff.c;
    let mut summary = Vec::new();
    for (key, row) in [("this_period", &b.total), ("last_period", &b.previous)] {
        if let Some(r) = row {
            summary.push((c.t(key).to_string(), line(0, r, None)));
        }
    }
    let ranked = |rows: &[kpi::RankedView]| -> Vec<Line> {
        rows.iter().map(|r| line(r.rank, &r.row, None)).collect()
    };
    let districts = b
        .districts
        .iter()
        .enumerate()
        .map(|(i, r)| line(i + 1, r, None))
        .collect();
    let sections = vec![
        ("bulletin-commended", c.t("commended"), ranked(&b.commended)),
        (
            "bulletin-criticised",
            c.t("criticised"),
            ranked(&b.criticised),
        ),
        ("bulletin-units", c.t("ranking"), ranked(&b.units)),
        ("bulletin-districts", c.t("g_district"), districts),
    ];
    let page = BulletinPage {
        summary,
        sections,
        query: format!("kind={}&date={}", b.kind, b.from),
        b,
        c,
    };
    render(StatusCode::OK, &page)
}
