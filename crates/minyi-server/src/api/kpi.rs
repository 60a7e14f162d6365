//! KPIs (考核指标), rankings (排名), bulletins (通报) and the automatic card rules (挂牌督办规则).
//!
//! Every figure comes from the store's aggregates ([`minyi_store::Store::kpi_report_filtered`]);
//! the formulas are in `minyi_domain::kpi`. Scope: supervisors, administrators and dispatchers
//! see every unit; a unit's handlers and leader see only their own unit's figures (the unit filter
//! is forced, and asking for another unit is refused); rankings and bulletins, which compare
//! units, are for supervisors, administrators and dispatchers. Tables download as CSV or XLSX
//! with `format=csv|xlsx`.

use crate::AppState;
use crate::auth::Staff;
use crate::error::{ApiError, ErrorBody};
use crate::export::{self, Cell, Format, Sheet};
use crate::extract::{ApiJson, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Days, NaiveDate, Utc};
use minyi_domain::kpi::{Bucket, CardLevel, CardRules, Kpis, Weights};
use minyi_domain::unit::Role;
use minyi_store::{
    Card, CardColour, CardTarget, KpiFilter, KpiGroup, KpiPeriod, KpiRow, Principal, Store,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The unit a caller's figures are limited to: `None` for roles that see every unit.
fn scope(principal: &Principal, asked: Option<i64>) -> Result<Option<i64>, ApiError> {
    match principal.role {
        Role::Supervisor | Role::Admin | Role::Dispatcher => Ok(asked),
        Role::UnitHandler | Role::UnitLeader => {
            let own = principal
                .unit
                .ok_or_else(|| ApiError::forbidden("no_unit"))?
                .0;
            match asked {
                Some(u) if u != own => Err(ApiError::forbidden("not_your_unit")),
                _ => Ok(Some(own)),
            }
        }
        _ => Err(ApiError::forbidden("role_not_allowed")),
    }
}

fn require_city_wide(principal: &Principal) -> Result<(), ApiError> {
    match principal.role {
        Role::Supervisor | Role::Admin | Role::Dispatcher => Ok(()),
        _ => Err(ApiError::forbidden("role_not_allowed")),
    }
}

fn invalid(code: &'static str, zh: String, en: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, zh, en)
}

fn parse_date(s: &str, field: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        invalid(
            "invalid_date",
            format!("{field} 须为 YYYY-MM-DD 格式的日期"),
            format!("{field} must be a date YYYY-MM-DD"),
        )
    })
}

/// Today in China Standard Time.
pub fn today() -> NaiveDate {
    Store::kpi_date(Utc::now())
}

/// `[from, to)` from optional dates (`to` inclusive on the wire); default: this month so far.
fn period(from: Option<&str>, to: Option<&str>) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let today = today();
    let from = match from {
        Some(s) => parse_date(s, "from")?,
        None => today.with_day(1).unwrap_or(today),
    };
    let to = match to {
        Some(s) => parse_date(s, "to")?,
        None => today,
    } + Days::new(1);
    if from >= to || (to - from).num_days() > 3700 {
        return Err(invalid(
            "invalid_period",
            "起止日期须满足 from ≤ to，且不超过十年".into(),
            "the period needs from ≤ to and at most ten years".into(),
        ));
    }
    Ok((from, to))
}

/// The rates of a row (in `[0, 1]`; hours for the handling times), `null` when nothing counted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KpiValues {
    /// 按时签收率
    pub on_time_signing: Option<f64>,
    /// 按时办结率
    pub on_time_completion: Option<f64>,
    /// 平均办理时长 (hours)
    pub avg_handling_hours: Option<f64>,
    /// 平均办理时长 (working hours)
    pub avg_handling_working_hours: Option<f64>,
    /// 满意率
    pub satisfaction: Option<f64>,
    /// 解决率
    pub resolution: Option<f64>,
    /// 响应率
    pub response: Option<f64>,
    /// 退单率
    pub return_rate: Option<f64>,
    /// 重办率
    pub reopen_rate: Option<f64>,
    /// 一次派准率
    pub first_dispatch_accuracy: Option<f64>,
    /// 智能派单率
    pub auto_dispatch_share: Option<f64>,
    /// 首次联系解决率
    pub first_contact_resolution: Option<f64>,
}

impl From<Kpis> for KpiValues {
    fn from(k: Kpis) -> Self {
        KpiValues {
            on_time_signing: k.on_time_signing,
            on_time_completion: k.on_time_completion,
            avg_handling_hours: k.avg_handling_hours,
            avg_handling_working_hours: k.avg_handling_working_hours,
            satisfaction: k.satisfaction,
            resolution: k.resolution,
            response: k.response,
            return_rate: k.return_rate,
            reopen_rate: k.reopen_rate,
            first_dispatch_accuracy: k.first_dispatch_accuracy,
            auto_dispatch_share: k.auto_dispatch_share,
            first_contact_resolution: k.first_contact_resolution,
        }
    }
}

/// One group's figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KpiRowView {
    /// Unit, matter or division id (`0`: none yet), channel name, or `all`.
    pub key: String,
    pub name: String,
    /// First day of the bucket (YYYY-MM-DD) when bucketed.
    pub period_start: Option<String>,
    /// The additive counters (docs/kpi.md), by name.
    pub counters: BTreeMap<String, i64>,
    pub kpis: KpiValues,
    /// Composite score 0–100 under the configured weights.
    pub score: Option<f64>,
}

impl From<KpiRow> for KpiRowView {
    fn from(r: KpiRow) -> Self {
        KpiRowView {
            key: r.key,
            name: r.name,
            period_start: r.period_start.map(|d| d.to_string()),
            counters: r
                .counters
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            kpis: r.kpis.into(),
            score: r.score,
        }
    }
}

/// A KPI table.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiReport {
    pub group: String,
    /// First day, inclusive.
    pub from: String,
    /// Last day, inclusive.
    pub to: String,
    pub bucket: Option<String>,
    pub unit_id: Option<i64>,
    pub division_id: Option<i64>,
    pub rows: Vec<KpiRowView>,
}

/// Query of a KPI report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `total` (default), `unit`, `channel`, `matter:<level>` (1 = major category),
    /// `division:<level>` (`district`, `street`, `community`, `compound`).
    pub group: Option<String>,
    /// First day (YYYY-MM-DD, China time); default: the first of this month.
    pub from: Option<String>,
    /// Last day, inclusive; default: today.
    pub to: Option<String>,
    /// `day`, `week` or `month` for a time series.
    pub bucket: Option<String>,
    /// Only this lead unit (unit roles: always their own).
    pub unit_id: Option<i64>,
    /// Only requests located in this division or below (drill-down).
    pub division_id: Option<i64>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

const HEADERS: [&str; 15] = [
    "名称 name",
    "期间 period",
    "受理 received",
    "派单 dispatched",
    "办结 completed",
    "按时签收率 on-time signing",
    "按时办结率 on-time completion",
    "平均办理时长(小时) avg handling h",
    "满意率 satisfaction",
    "解决率 resolution",
    "退单率 return",
    "重办率 reopen",
    "一次派准率 first-dispatch accuracy",
    "智能派单率 auto-dispatch",
    "得分 score",
];

fn pct(v: Option<f64>) -> Cell {
    v.map_or(Cell::Empty, Cell::Percent)
}

fn kpi_cells(r: &KpiRowView) -> Vec<Cell> {
    let c = |name: &str| Cell::Int(r.counters.get(name).copied().unwrap_or(0));
    vec![
        Cell::Text(r.name.clone()),
        Cell::Text(r.period_start.clone().unwrap_or_default()),
        c("received"),
        c("dispatched"),
        c("completed"),
        pct(r.kpis.on_time_signing),
        pct(r.kpis.on_time_completion),
        r.kpis.avg_handling_hours.into(),
        pct(r.kpis.satisfaction),
        pct(r.kpis.resolution),
        pct(r.kpis.return_rate),
        pct(r.kpis.reopen_rate),
        pct(r.kpis.first_dispatch_accuracy),
        pct(r.kpis.auto_dispatch_share),
        r.score.into(),
    ]
}

fn kpi_sheet(title: &str, rows: &[KpiRowView]) -> Sheet {
    Sheet {
        title: title.to_string(),
        headers: HEADERS.iter().map(|h| h.to_string()).collect(),
        rows: rows.iter().map(kpi_cells).collect(),
    }
}

fn parse_group(s: Option<&str>, default: KpiGroup) -> Result<KpiGroup, ApiError> {
    match s {
        None => Ok(default),
        Some(s) => KpiGroup::parse(s).ok_or_else(|| {
            invalid(
                "invalid_group",
                format!("未知的分组 {s}：total、unit、channel、matter:<层级>、division:<层级>"),
                format!("unknown group {s}: total, unit, channel, matter:N, division:LEVEL"),
            )
        }),
    }
}

/// Builds a report for the caller (used by the API and the KPI page).
pub async fn report_for(
    state: &AppState,
    principal: &Principal,
    query: &ReportQuery,
) -> Result<KpiReport, ApiError> {
    let unit = scope(principal, query.unit_id)?;
    let group = parse_group(query.group.as_deref(), KpiGroup::Total)?;
    let (from, to) = period(query.from.as_deref(), query.to.as_deref())?;
    let bucket = match query.bucket.as_deref() {
        None | Some("") => None,
        Some(b) => Some(Bucket::parse(b).ok_or_else(|| {
            invalid(
                "invalid_bucket",
                format!("未知的时间粒度 {b}：day、week、month"),
                format!("unknown bucket {b}: day, week or month"),
            )
        })?),
    };
    let weights = state.store.kpi_weights().await?;
    let rows = state
        .store
        .kpi_report_filtered(
            &group,
            &KpiPeriod { from, to, bucket },
            &KpiFilter {
                unit,
                division: query.division_id,
            },
            &weights,
        )
        .await?;
    Ok(KpiReport {
        group: group.name(),
        from: from.to_string(),
        to: (to - Days::new(1)).to_string(),
        bucket: query.bucket.clone().filter(|b| !b.is_empty()),
        unit_id: unit,
        division_id: query.division_id,
        rows: rows.into_iter().map(KpiRowView::from).collect(),
    })
}

/// `GET /api/v1/kpi/report`: KPIs grouped by unit, category, division level or channel over a
/// period, optionally as a time series, for one unit or one division subtree.
#[utoipa::path(get, path = "/kpi/report", tag = "kpi",
    security(("bearer" = []), ("cookie" = [])), params(ReportQuery),
    responses((status = 200, body = KpiReport, description = "JSON, or a CSV/XLSX file with format=csv|xlsx"),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let format = Format::parse(query.format.as_deref())?;
    let report = report_for(&state, &principal, &query).await?;
    match format {
        Format::Json => Ok(Json(report).into_response()),
        _ => export::download(
            format,
            &format!("kpi-{}-{}", report.from, report.to),
            &[kpi_sheet("考核指标", &report.rows)],
        ),
    }
}

/// A ranked group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RankedView {
    pub rank: usize,
    #[serde(flatten)]
    pub row: KpiRowView,
}

/// A ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ranking {
    pub group: String,
    pub from: String,
    pub to: String,
    pub min_completed: i64,
    pub weights: WeightsBody,
    pub rows: Vec<RankedView>,
}

/// Query of a ranking.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingQuery {
    /// `unit` (default) or any report group.
    pub group: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Groups with fewer completed requests are not ranked (default 1).
    pub min_completed: Option<i64>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

async fn ranking_for(
    store: &Store,
    group: &KpiGroup,
    from: NaiveDate,
    to: NaiveDate,
    min_completed: i64,
) -> Result<Ranking, ApiError> {
    let weights = store.kpi_weights().await?;
    let rows = store
        .kpi_ranking(group, from, to, &weights, min_completed)
        .await?;
    Ok(Ranking {
        group: group.name(),
        from: from.to_string(),
        to: (to - Days::new(1)).to_string(),
        min_completed,
        weights: weights.into(),
        rows: rows
            .into_iter()
            .map(|r| RankedView {
                rank: r.rank,
                row: r.row.into(),
            })
            .collect(),
    })
}

fn ranking_sheet(title: &str, rows: &[RankedView]) -> Sheet {
    let mut headers = vec!["名次 rank".to_string()];
    headers.extend(HEADERS.iter().map(|h| h.to_string()));
    Sheet {
        title: title.to_string(),
        headers,
        rows: rows
            .iter()
            .map(|r| {
                let mut cells = vec![Cell::Int(r.rank as i64)];
                cells.extend(kpi_cells(&r.row));
                cells
            })
            .collect(),
    }
}

/// `GET /api/v1/kpi/ranking`: units (or another grouping) ranked by the composite score under
/// the configured weights, best first.
#[utoipa::path(get, path = "/kpi/ranking", tag = "kpi",
    security(("bearer" = []), ("cookie" = [])), params(RankingQuery),
    responses((status = 200, body = Ranking, description = "JSON, or a CSV/XLSX file with format=csv|xlsx"),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn ranking(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiQuery(query): ApiQuery<RankingQuery>,
) -> Result<Response, ApiError> {
    require_city_wide(&principal)?;
    let format = Format::parse(query.format.as_deref())?;
    let group = parse_group(query.group.as_deref(), KpiGroup::Unit)?;
    let (from, to) = period(query.from.as_deref(), query.to.as_deref())?;
    let ranking = ranking_for(
        &state.store,
        &group,
        from,
        to,
        query.min_completed.unwrap_or(1).max(0),
    )
    .await?;
    match format {
        Format::Json => Ok(Json(ranking).into_response()),
        _ => export::download(
            format,
            &format!("ranking-{}-{}", ranking.from, ranking.to),
            &[ranking_sheet("排名", &ranking.rows)],
        ),
    }
}

/// The composite score's weights (考核权重); a zero weight leaves a rate out.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightsBody {
    pub on_time_signing: f64,
    pub on_time_completion: f64,
    pub satisfaction: f64,
    pub resolution: f64,
    pub response: f64,
    pub returns: f64,
    pub reopens: f64,
    pub first_dispatch_accuracy: f64,
}

impl From<Weights> for WeightsBody {
    fn from(w: Weights) -> Self {
        WeightsBody {
            on_time_signing: w.on_time_signing,
            on_time_completion: w.on_time_completion,
            satisfaction: w.satisfaction,
            resolution: w.resolution,
            response: w.response,
            returns: w.returns,
            reopens: w.reopens,
            first_dispatch_accuracy: w.first_dispatch_accuracy,
        }
    }
}

impl From<WeightsBody> for Weights {
    fn from(w: WeightsBody) -> Self {
        Weights {
            on_time_signing: w.on_time_signing,
            on_time_completion: w.on_time_completion,
            satisfaction: w.satisfaction,
            resolution: w.resolution,
            response: w.response,
            returns: w.returns,
            reopens: w.reopens,
            first_dispatch_accuracy: w.first_dispatch_accuracy,
        }
    }
}

/// `GET /api/v1/kpi/weights`: the ranking weights.
#[utoipa::path(get, path = "/kpi/weights", tag = "kpi",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = WeightsBody), (status = 403, body = ErrorBody)))]
pub async fn weights(
    State(state): State<AppState>,
    Staff(principal): Staff,
) -> Result<Json<WeightsBody>, ApiError> {
    scope(&principal, None)?;
    Ok(Json(state.store.kpi_weights().await?.into()))
}

/// `PUT /api/v1/kpi/weights`: sets the ranking weights (administrators). Weights must be
/// finite, between 0 and 1000, and not all zero.
#[utoipa::path(put, path = "/kpi/weights", tag = "kpi",
    security(("bearer" = []), ("cookie" = [])), request_body = WeightsBody,
    responses((status = 200, body = WeightsBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_weights(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(body): ApiJson<WeightsBody>,
) -> Result<Json<WeightsBody>, ApiError> {
    if principal.role != Role::Admin {
        return Err(ApiError::forbidden("role_not_allowed"));
    }
    let w = [
        body.on_time_signing,
        body.on_time_completion,
        body.satisfaction,
        body.resolution,
        body.response,
        body.returns,
        body.reopens,
        body.first_dispatch_accuracy,
    ];
    if w.iter().any(|v| !v.is_finite() || *v < 0.0 || *v > 1000.0) || w.iter().all(|v| *v == 0.0) {
        return Err(invalid(
            "invalid_weights",
            "权重须在 0 到 1000 之间且不能全为 0".into(),
            "weights must lie in 0..=1000 and not all be zero".into(),
        ));
    }
    state.store.set_kpi_weights(&body.into()).await?;
    Ok(Json(body))
}

/// A bulletin (通报): a week's or a month's figures for the city, compared with the period
/// before, the unit ranking with the best and worst named, and the districts.
#[derive(Debug, Serialize, ToSchema)]
pub struct Bulletin {
    /// `week` or `month`.
    pub kind: String,
    pub title: String,
    pub from: String,
    pub to: String,
    pub total: Option<KpiRowView>,
    pub previous: Option<KpiRowView>,
    pub units: Vec<RankedView>,
    /// The best three (通报表扬).
    pub commended: Vec<RankedView>,
    /// The worst three (通报批评).
    pub criticised: Vec<RankedView>,
    pub districts: Vec<KpiRowView>,
}

/// Query of a bulletin.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BulletinQuery {
    /// `week` (default) or `month`.
    pub kind: Option<String>,
    /// A day in the period (YYYY-MM-DD); default: the last complete week or month.
    pub date: Option<String>,
    /// Units with fewer completed requests are not ranked (default 1).
    pub min_completed: Option<i64>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

/// Builds a bulletin (used by the API and the printable page).
pub async fn bulletin_for(store: &Store, query: &BulletinQuery) -> Result<Bulletin, ApiError> {
    let kind = query.kind.as_deref().unwrap_or("week");
    let today = today();
    let (from, to, prev_from) = match kind {
        "week" => {
            let day = match &query.date {
                Some(d) => parse_date(d, "date")?,
                None => today - Days::new(7),
            };
            let from = day - Days::new(u64::from(day.weekday().num_days_from_monday()));
            (from, from + Days::new(7), from - Days::new(7))
        }
        "month" => {
            let day = match &query.date {
                Some(d) => parse_date(d, "date")?,
                None => today.with_day(1).unwrap_or(today) - Days::new(1),
            };
            let from = day.with_day(1).unwrap_or(day);
            let to = from + chrono::Months::new(1);
            (from, to, from - chrono::Months::new(1))
        }
        other => {
            return Err(invalid(
                "invalid_kind",
                format!("未知的通报类型 {other}：week、month"),
                format!("unknown bulletin kind {other}: week or month"),
            ));
        }
    };
    let weights = store.kpi_weights().await?;
    let total = |from, to| KpiPeriod {
        from,
        to,
        bucket: None,
    };
    let current = store
        .kpi_report(&KpiGroup::Total, &total(from, to), &weights)
        .await?;
    let previous = store
        .kpi_report(&KpiGroup::Total, &total(prev_from, from), &weights)
        .await?;
    let ranking = ranking_for(
        store,
        &KpiGroup::Unit,
        from,
        to,
        query.min_completed.unwrap_or(1).max(0),
    )
    .await?;
    let districts = store
        .kpi_report(
            &KpiGroup::Division("district".into()),
            &total(from, to),
            &weights,
        )
        .await?;
    let n = ranking.rows.len();
    let commended: Vec<RankedView> = ranking.rows.iter().take(3.min(n)).cloned().collect();
    let criticised: Vec<RankedView> = ranking
        .rows
        .iter()
        .rev()
        .take(3.min(n.saturating_sub(3)))
        .cloned()
        .collect();
    let last = to - Days::new(1);
    let title = if kind == "week" {
        format!("民意速办工作周通报（{from} 至 {last}）")
    } else {
        format!("民意速办工作月通报（{}年{}月）", from.year(), from.month())
    };
    Ok(Bulletin {
        kind: kind.to_string(),
        title,
        from: from.to_string(),
        to: last.to_string(),
        total: current.into_iter().next().map(KpiRowView::from),
        previous: previous.into_iter().next().map(KpiRowView::from),
        units: ranking.rows,
        commended,
        criticised,
        districts: districts
            .into_iter()
            .filter(|r| r.key != "0")
            .map(KpiRowView::from)
            .collect(),
    })
}

/// `GET /api/v1/kpi/bulletin`: the weekly or monthly bulletin (通报), as JSON or as a CSV/XLSX
/// download (sheets: summary, unit ranking, districts). The printable page is `/kpi/bulletin`.
#[utoipa::path(get, path = "/kpi/bulletin", tag = "kpi",
    security(("bearer" = []), ("cookie" = [])), params(BulletinQuery),
    responses((status = 200, body = Bulletin, description = "JSON, or a CSV/XLSX file with format=csv|xlsx"),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn bulletin(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiQuery(query): ApiQuery<BulletinQuery>,
) -> Result<Response, ApiError> {
    require_city_wide(&principal)?;
    let format = Format::parse(query.format.as_deref())?;
    let b = bulletin_for(&state.store, &query).await?;
    match format {
        Format::Json => Ok(Json(b).into_response()),
        _ => {
            let mut summary = Vec::new();
            for (label, row) in [("本期", &b.total), ("上期", &b.previous)] {
                if let Some(r) = row {
                    let mut r = r.clone();
                    r.name = label.to_string();
                    summary.push(r);
                }
            }
            export::download(
                format,
                &format!("bulletin-{}-{}", b.kind, b.from),
                &[
                    kpi_sheet("概况", &summary),
                    ranking_sheet("单位排名", &b.units),
                    kpi_sheet("各区", &b.districts),
                ],
            )
        }
    }
}

/// The automatic card rules (挂牌督办规则); rates in `[0, 1]`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardRulesBody {
    pub yellow_on_time_below: f64,
    pub red_on_time_below: f64,
    pub yellow_satisfaction_below: f64,
    pub red_satisfaction_below: f64,
    /// 0: rule off.
    pub yellow_overdue_at_least: i64,
    /// 0: rule off.
    pub red_overdue_at_least: i64,
    pub min_completed: i64,
}

impl From<CardRules> for CardRulesBody {
    fn from(r: CardRules) -> Self {
        CardRulesBody {
            yellow_on_time_below: r.yellow_on_time_below,
            red_on_time_below: r.red_on_time_below,
            yellow_satisfaction_below: r.yellow_satisfaction_below,
            red_satisfaction_below: r.red_satisfaction_below,
            yellow_overdue_at_least: r.yellow_overdue_at_least,
            red_overdue_at_least: r.red_overdue_at_least,
            min_completed: r.min_completed,
        }
    }
}

impl From<CardRulesBody> for CardRules {
    fn from(r: CardRulesBody) -> Self {
        CardRules {
            yellow_on_time_below: r.yellow_on_time_below,
            red_on_time_below: r.red_on_time_below,
            yellow_satisfaction_below: r.yellow_satisfaction_below,
            red_satisfaction_below: r.red_satisfaction_below,
            yellow_overdue_at_least: r.yellow_overdue_at_least,
            red_overdue_at_least: r.red_overdue_at_least,
            min_completed: r.min_completed,
        }
    }
}

fn require_supervision(principal: &Principal) -> Result<(), ApiError> {
    match principal.role {
        Role::Supervisor | Role::Admin => Ok(()),
        _ => Err(ApiError::forbidden("role_not_allowed")),
    }
}

/// `GET /api/v1/kpi/card-rules`: the rules that issue cards to units automatically.
#[utoipa::path(get, path = "/kpi/card-rules", tag = "kpi",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CardRulesBody), (status = 403, body = ErrorBody)))]
pub async fn card_rules(
    State(state): State<AppState>,
    Staff(principal): Staff,
) -> Result<Json<CardRulesBody>, ApiError> {
    require_supervision(&principal)?;
    Ok(Json(state.store.card_rules().await?.into()))
}

/// `PUT /api/v1/kpi/card-rules`: sets the rules (supervisors, administrators). A red threshold
/// must be at or below the yellow one, and a red overdue count at or above the yellow one.
#[utoipa::path(put, path = "/kpi/card-rules", tag = "kpi",
    security(("bearer" = []), ("cookie" = [])), request_body = CardRulesBody,
    responses((status = 200, body = CardRulesBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_card_rules(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(body): ApiJson<CardRulesBody>,
) -> Result<Json<CardRulesBody>, ApiError> {
    require_supervision(&principal)?;
    let rates = [
        body.yellow_on_time_below,
        body.red_on_time_below,
        body.yellow_satisfaction_below,
        body.red_satisfaction_below,
    ];
    let ok = rates.iter().all(|r| (0.0..=1.0).contains(r))
        && body.red_on_time_below <= body.yellow_on_time_below
        && body.red_satisfaction_below <= body.yellow_satisfaction_below
        && body.yellow_overdue_at_least >= 0
        && body.red_overdue_at_least >= 0
        && (body.red_overdue_at_least == 0
            || body.yellow_overdue_at_least == 0
            || body.red_overdue_at_least >= body.yellow_overdue_at_least)
        && body.min_completed >= 0;
    if !ok {
        return Err(invalid(
            "invalid_card_rules",
            "比率须在 0 到 1 之间，红牌门槛不得宽于黄牌，件数不得为负".into(),
            "rates lie in [0, 1], red thresholds are no looser than yellow ones, counts are not negative"
                .into(),
        ));
    }
    state.store.set_card_rules(&body.into()).await?;
    Ok(Json(body))
}

/// The period the rules judge.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyBody {
    /// First day (YYYY-MM-DD); default: the first of this month.
    pub from: Option<String>,
    /// Last day, inclusive; default: today.
    pub to: Option<String>,
}

/// `POST /api/v1/kpi/card-rules/apply`: judges every unit by the rules over the period (rates)
/// and now (overdue count) and issues the card each deserves, unless the unit already holds an
/// open card of that colour or stronger. Returns the cards issued; they stay in the card list and
/// its history like manual ones.
#[utoipa::path(post, path = "/kpi/card-rules/apply", tag = "kpi",
    security(("bearer" = []), ("cookie" = [])), request_body = ApplyBody,
    responses((status = 200, body = Vec<Card>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn apply_card_rules(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(body): ApiJson<ApplyBody>,
) -> Result<Json<Vec<Card>>, ApiError> {
    require_supervision(&principal)?;
    let (from, to) = period(body.from.as_deref(), body.to.as_deref())?;
    let now = Utc::now();
    let rules = state.store.card_rules().await?;
    let weights = state.store.kpi_weights().await?;
    let rows = state
        .store
        .kpi_report(
            &KpiGroup::Unit,
            &KpiPeriod {
                from,
                to,
                bucket: None,
            },
            &weights,
        )
        .await?;
    let overdue: BTreeMap<i64, i64> = state
        .store
        .unit_backlog(now, now)
        .await?
        .into_iter()
        .map(|b| (b.unit_id, b.overdue))
        .collect();
    let mut counters: BTreeMap<i64, minyi_domain::kpi::Counters> = BTreeMap::new();
    for r in &rows {
        if let Ok(unit) = r.key.parse::<i64>()
            && unit != 0
        {
            let mut c = minyi_domain::kpi::Counters::default();
            for (i, name) in minyi_domain::kpi::COUNTER_NAMES.iter().enumerate() {
                c.0[i] = r.counters.get(name).copied().unwrap_or(0);
            }
            counters.insert(unit, c);
        }
    }
    for unit in overdue.keys() {
        counters.entry(*unit).or_default();
    }
    let open = state.store.list_cards(true, None).await?;
    let mut issued = Vec::new();
    let last = to - Days::new(1);
    for (unit, c) in counters {
        let Some((level, reasons)) = rules.judge(&c, overdue.get(&unit).copied().unwrap_or(0))
        else {
            continue;
        };
        let held = open
            .iter()
            .filter(|k| k.target_kind == "unit" && k.target_id == unit)
            .any(|k| level == CardLevel::Yellow || k.colour == "red");
        if held {
            continue;
        }
        let colour = match level {
            CardLevel::Yellow => CardColour::Yellow,
            CardLevel::Red => CardColour::Red,
        };
        let reason = format!("自动挂牌（{from} 至 {last}）：{}", reasons.join("；"));
        issued.push(
            state
                .store
                .issue_card(CardTarget::Unit(unit), colour, &reason, principal.user, now)
                .await?,
        );
    }
    Ok(Json(issued))
}
