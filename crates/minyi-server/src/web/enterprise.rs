//! The enterprise service programme's pages (组工助企行): the service-team member's workbench
//! (助企工作台: the team's enterprises, visits due and overdue, logging a visit whose problems
//! become enterprise requests, posting needs and following the proposed matches) and the
//! supervisors' key figures per team, street or district with a chart and the CSV export.
//!
//! Every page goes through the same checks as the API (`api::enterprise`, `api::matchmaking`):
//! a member sees and acts only for the team's enterprises.

use super::{Ctx, WebStaff, error_page, render};
use crate::AppState;
use crate::api::enterprise::{EnterpriseView, TeamQuery, VisitBody, list_for, record_visit_for};
use crate::api::matchmaking::{
    MatchStepBody, NeedView, ProgrammeKpiView, advance, need_list, need_with_matches,
    programme_kpis, propose_for,
};
use crate::error::ApiError;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use minyi_domain::enterprise::EnterpriseId;
use minyi_domain::matchmaking::NeedKind;
use minyi_domain::unit::Role;
use minyi_store::{NewNeed, VisitRecord};

/// A need kind as the form's options show it.
pub struct KindOption {
    pub value: &'static str,
    pub label: &'static str,
}

fn kind_options() -> Vec<KindOption> {
    NeedKind::ALL
        .iter()
        .map(|k| KindOption {
            value: k.as_str(),
            label: k.label_zh(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "enterprise.html")]
struct Workbench {
    c: Ctx,
    enterprises: Vec<EnterpriseView>,
    due: Vec<EnterpriseView>,
    n_overdue: usize,
    needs: Vec<NeedView>,
}

/// `GET /enterprise`: the member's workbench; supervisors and administrators go to the figures.
pub async fn workbench(State(state): State<AppState>, staff: WebStaff) -> Response {
    if matches!(staff.principal.role, Role::Supervisor | Role::Admin) {
        return Redirect::to("/enterprise/kpis").into_response();
    }
    if let Err(r) = staff.require(&[Role::ServiceTeam]) {
        return *r;
    }
    let build = async {
        let query = TeamQuery {
            team_id: None,
            limit: Some(500),
        };
        let enterprises = list_for(&state, &staff.principal, &query, false).await?;
        let due: Vec<EnterpriseView> = enterprises
            .iter()
            .filter(|e| e.status != "planned")
            .cloned()
            .collect();
        let n_overdue = due.iter().filter(|e| e.status == "overdue").count();
        let needs = need_list(&state, &staff.principal, None, None, 50).await?;
        Ok::<_, ApiError>(Workbench {
            c: staff.c.clone(),
            enterprises,
            due,
            n_overdue,
            needs,
        })
    };
    match build.await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(staff.c, &e),
    }
}

#[derive(Template)]
#[template(path = "enterprise_visit.html")]
struct VisitForm {
    c: Ctx,
    enterprise: EnterpriseView,
    today: NaiveDate,
    kinds: Vec<KindOption>,
}

async fn own_enterprise(
    state: &AppState,
    staff: &WebStaff,
    id: i64,
) -> Result<EnterpriseView, ApiError> {
    let query = TeamQuery {
        team_id: None,
        limit: Some(5_000),
    };
    list_for(state, &staff.principal, &query, false)
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "not_your_team",
                "该企业不属于您的服务队",
                "this enterprise belongs to another service team",
            )
        })
}

/// `GET /enterprise/{id}`: one enterprise of the team, with the visit form and the need form.
pub async fn enterprise_page(
    State(state): State<AppState>,
    staff: WebStaff,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = staff.require(&[Role::ServiceTeam]) {
        return *r;
    }
    match own_enterprise(&state, &staff, id).await {
        Ok(enterprise) => render(
            StatusCode::OK,
            &VisitForm {
                c: staff.c.clone(),
                enterprise,
                today: Utc::now().date_naive(),
                kinds: kind_options(),
            },
        ),
        Err(e) => error_page(staff.c, &e),
    }
}

/// The visit form.
#[derive(Debug, serde::Deserialize)]
pub struct VisitFormData {
    pub csrf: String,
    pub date: Option<NaiveDate>,
    #[serde(default)]
    pub notes: String,
    /// One problem per line.
    #[serde(default)]
    pub problems: String,
}

#[derive(Template)]
#[template(path = "enterprise_visit_done.html")]
struct VisitDone {
    c: Ctx,
    enterprise: String,
    visit: VisitRecord,
}

/// `POST /enterprise/{id}/visits`: logs the visit; each line of problems becomes a request.
pub async fn log_visit(
    State(state): State<AppState>,
    staff: WebStaff,
    Path(id): Path<i64>,
    Form(form): Form<VisitFormData>,
) -> Response {
    if let Err(r) = staff.check_csrf(&form.csrf) {
        return *r;
    }
    let run = async {
        let enterprise = own_enterprise(&state, &staff, id).await?;
        let problems: Vec<String> = form
            .problems
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let visit = record_visit_for(
            &state,
            &staff.principal,
            VisitBody {
                enterprise_id: id,
                date: form.date,
                member_ids: Vec::new(),
                notes: form.notes.clone(),
                problems,
            },
        )
        .await?;
        Ok::<_, ApiError>(VisitDone {
            c: staff.c.clone(),
            enterprise: enterprise.name,
            visit,
        })
    };
    match run.await {
        Ok(page) => render(StatusCode::CREATED, &page),
        Err(e) => error_page(staff.c, &e),
    }
}

/// The need form.
#[derive(Debug, serde::Deserialize)]
pub struct NeedFormData {
    pub csrf: String,
    pub kind: String,
    pub title: String,
    #[serde(default)]
    pub detail: String,
}

/// `POST /enterprise/{id}/needs`: posts a need and shows the proposed matches.
pub async fn post_need(
    State(state): State<AppState>,
    staff: WebStaff,
    Path(id): Path<i64>,
    Form(form): Form<NeedFormData>,
) -> Response {
    if let Err(r) = staff.check_csrf(&form.csrf) {
        return *r;
    }
    let run = async {
        own_enterprise(&state, &staff, id).await?;
        let kind = NeedKind::parse(&form.kind)
            .ok_or_else(|| ApiError::bad_request("请选择需求类型", "choose the kind of need"))?;
        if form.title.trim().is_empty() || form.title.chars().count() > 200 {
            return Err(ApiError::bad_request(
                "请填写需求标题（200 字以内）",
                "give the need a title (at most 200 characters)",
            ));
        }
        let need = state
            .store
            .create_need(
                &NewNeed {
                    enterprise: EnterpriseId(id),
                    kind,
                    title: form.title.clone(),
                    detail: form.detail.chars().take(5_000).collect(),
                },
                Some(staff.principal.user),
                Utc::now(),
            )
            .await?;
        propose_for(&state, &need).await?;
        Ok::<_, ApiError>(need.id)
    };
    match run.await {
        Ok(need) => Redirect::to(&format!("/enterprise/needs/{need}")).into_response(),
        Err(e) => error_page(staff.c, &e),
    }
}

#[derive(Template)]
#[template(path = "enterprise_need.html")]
struct NeedPage {
    c: Ctx,
    need: NeedView,
}

/// `GET /enterprise/needs/{id}`: a need and its matches, with the next step of each.
pub async fn need_page(
    State(state): State<AppState>,
    staff: WebStaff,
    Path(id): Path<i64>,
) -> Response {
    match need_with_matches(&state, &staff.principal, id).await {
        Ok(need) => render(
            StatusCode::OK,
            &NeedPage {
                c: staff.c.clone(),
                need,
            },
        ),
        Err(e) => error_page(staff.c, &e),
    }
}

/// A match's step from the need page.
#[derive(Debug, serde::Deserialize)]
pub struct MatchFormData {
    pub csrf: String,
    pub status: String,
    #[serde(default)]
    pub note: String,
}

/// `POST /enterprise/matches/{id}`: records contact or the outcome, back to the need.
pub async fn match_step(
    State(state): State<AppState>,
    staff: WebStaff,
    Path(id): Path<i64>,
    Form(form): Form<MatchFormData>,
) -> Response {
    if let Err(r) = staff.check_csrf(&form.csrf) {
        return *r;
    }
    let body = MatchStepBody {
        status: form.status,
        note: form.note,
    };
    match advance(&state, &staff.principal, id, &body).await {
        Ok(m) => Redirect::to(&format!("/enterprise/needs/{}", m.need_id)).into_response(),
        Err(e) => error_page(staff.c, &e),
    }
}

/// `?by=` of the figures page.
#[derive(Debug, serde::Deserialize, Default)]
pub struct KpiPageQuery {
    pub by: Option<String>,
}

#[derive(Template)]
#[template(path = "enterprise_kpis.html")]
struct KpiPage {
    c: Ctx,
    by: String,
    rows: Vec<ProgrammeKpiView>,
    totals: ProgrammeKpiView,
    data: String,
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0))
}

impl ProgrammeKpiView {
    /// Visits done against the plan, as a percentage.
    pub fn visit_pct(&self) -> String {
        percent(self.visit_rate)
    }
    /// Resolved among raised requests.
    pub fn resolution_pct(&self) -> String {
        percent(self.resolution_rate)
    }
    /// The satisfaction rate.
    pub fn satisfaction_pct(&self) -> String {
        percent(self.satisfaction_rate)
    }
}

/// `GET /enterprise/kpis?by=team|street|district`: the programme's key figures with a chart
/// (supervisors and administrators: every team; members: their own).
pub async fn kpi_page(
    State(state): State<AppState>,
    staff: WebStaff,
    Query(query): Query<KpiPageQuery>,
) -> Response {
    if let Err(r) = staff.require(&[Role::Supervisor, Role::Admin, Role::ServiceTeam]) {
        return *r;
    }
    let by = match query.by.as_deref() {
        Some("street") => "street",
        Some("team") => "team",
        _ if staff.principal.role == Role::ServiceTeam => "team",
        _ => "district",
    };
    let rows = match programme_kpis(&state, &staff.principal, Some(by)).await {
        Ok(rows) => rows,
        Err(e) => return error_page(staff.c, &e),
    };
    let totals = ProgrammeKpiView::total(&rows);
    // The chart shows at most 40 rows (the most enterprises first) to stay readable.
    let mut charted: Vec<&ProgrammeKpiView> = rows.iter().collect();
    charted.sort_by_key(|r| std::cmp::Reverse(r.enterprises));
    charted.truncate(40);
    let data = serde_json::json!({
        "names": charted.iter().map(|r| &r.name).collect::<Vec<_>>(),
        "done": charted.iter().map(|r| r.visits_done).collect::<Vec<_>>(),
        "planned": charted.iter().map(|r| r.visits_planned).collect::<Vec<_>>(),
        "agreed": charted.iter().map(|r| r.matches_agreed).collect::<Vec<_>>(),
        "labels": {
            "done": staff.c.t("visits_done"),
            "planned": staff.c.t("visits_planned"),
            "agreed": staff.c.t("matches_agreed"),
        },
    })
    .to_string()
    .replace('<', "\\u003c")
    .replace('>', "\\u003e")
    .replace('&', "\\u0026");
    render(
        StatusCode::OK,
        &KpiPage {
            c: staff.c.clone(),
            by: by.to_string(),
            rows,
            totals,
            data,
        },
    )
}
