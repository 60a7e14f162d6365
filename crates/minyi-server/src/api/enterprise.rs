//! The enterprise service programme (组工助企行): a service-team member (助企专员) sees the
//! enterprises of the team and those due for a visit, logs a visit whose problems become
//! enterprise requests through the one intake pipeline, and follows their outcome; supervisors and
//! administrators see every team, and everyone sees the key figures (考核指标) of the teams they
//! may see. Contact names and phones never appear in these lists.

use crate::AppState;
use crate::auth::Staff;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use minyi_domain::UserId;
use minyi_domain::enterprise::{EnterpriseId, TeamId, VisitId, VisitPlan, VisitStatus};
use minyi_domain::unit::{Actor, Role};
use minyi_store::{NewVisit, Principal, TeamEnterprise, TeamKpi, VisitRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The teams whose data the principal may see: `None` for every team (supervisor, admin),
/// else the teams the member belongs to.
pub(crate) async fn visible_teams(
    state: &AppState,
    principal: &Principal,
) -> Result<Option<Vec<TeamId>>, ApiError> {
    match principal.role {
        Role::Supervisor | Role::Admin => Ok(None),
        Role::ServiceTeam => Ok(Some(state.store.teams_of_user(principal.user).await?)),
        _ => Err(ApiError::forbidden("role_not_allowed")),
    }
}

fn not_your_team() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not_your_team",
        "该企业或走访不属于您的服务队",
        "this enterprise or visit belongs to another service team",
    )
}

/// One enterprise in a team's list, with its place in the visit plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnterpriseView {
    pub id: i64,
    pub name: String,
    pub credit_code: String,
    pub industry: String,
    pub size: String,
    pub division_id: i64,
    pub team_id: i64,
    /// Pinned to the team by hand.
    pub manual: bool,
    pub assigned_on: NaiveDate,
    pub last_visit: Option<NaiveDate>,
    pub next_due: NaiveDate,
    /// `planned`, `due` or `overdue`.
    pub status: &'static str,
}

impl From<TeamEnterprise> for EnterpriseView {
    fn from(e: TeamEnterprise) -> Self {
        EnterpriseView {
            id: e.id.0,
            name: e.name,
            credit_code: e.credit_code,
            industry: e.industry,
            size: e.size,
            division_id: e.division.0,
            team_id: e.team.0,
            manual: e.manual,
            assigned_on: e.assigned_on,
            last_visit: e.last_visit,
            next_due: e.next_due,
            status: e.status.as_str(),
        }
    }
}

/// Filter of the enterprise lists.
#[derive(Debug, Deserialize, IntoParams)]
pub struct TeamQuery {
    /// One team; a member may name only a team of theirs.
    pub team_id: Option<i64>,
    /// At most this many rows (default 500).
    pub limit: Option<i64>,
}

pub(crate) async fn list_for(
    state: &AppState,
    principal: &Principal,
    query: &TeamQuery,
    only_due: bool,
) -> Result<Vec<EnterpriseView>, ApiError> {
    let teams: Vec<Option<TeamId>> = match (visible_teams(state, principal).await?, query.team_id) {
        (None, t) => vec![t.map(TeamId)],
        (Some(mine), Some(t)) if mine.contains(&TeamId(t)) => vec![Some(TeamId(t))],
        (Some(_), Some(_)) => return Err(not_your_team()),
        (Some(mine), None) => mine.into_iter().map(Some).collect(),
    };
    let limit = query.limit.unwrap_or(500).clamp(1, 5_000);
    let today = Utc::now().date_naive();
    let mut out = Vec::new();
    for team in teams {
        let rows = state
            .store
            .team_enterprises(team, VisitPlan::default(), today, i64::MAX)
            .await?;
        out.extend(
            rows.into_iter()
                .filter(|e| !only_due || e.status != VisitStatus::Planned)
                .map(EnterpriseView::from),
        );
    }
    out.sort_by_key(|e| (e.next_due, e.id));
    out.truncate(usize::try_from(limit).unwrap_or(500));
    Ok(out)
}

/// `GET /api/v1/enterprise/enterprises`: the enterprises of the member's teams (every team for
/// supervisors and administrators), the next visit first.
#[utoipa::path(get, path = "/enterprise/enterprises", tag = "enterprise", params(TeamQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<EnterpriseView>), (status = 403, body = ErrorBody)))]
pub async fn enterprises(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiQuery(query): ApiQuery<TeamQuery>,
) -> Result<Json<Vec<EnterpriseView>>, ApiError> {
    Ok(Json(list_for(&state, &principal, &query, false).await?))
}

/// `GET /api/v1/enterprise/visits/due`: enterprises whose visit is due (待走访) or overdue.
#[utoipa::path(get, path = "/enterprise/visits/due", tag = "enterprise", params(TeamQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<EnterpriseView>), (status = 403, body = ErrorBody)))]
pub async fn due_visits(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiQuery(query): ApiQuery<TeamQuery>,
) -> Result<Json<Vec<EnterpriseView>>, ApiError> {
    Ok(Json(list_for(&state, &principal, &query, true).await?))
}

/// A visit to log.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VisitBody {
    pub enterprise_id: i64,
    /// The day of the visit (default today).
    pub date: Option<NaiveDate>,
    /// Other members present; the signed-in member is always counted.
    #[serde(default)]
    pub member_ids: Vec<i64>,
    #[serde(default)]
    pub notes: String,
    /// Each problem becomes one enterprise request.
    #[serde(default)]
    pub problems: Vec<String>,
}

/// A problem of a visit and the request it became.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemView {
    pub seq: i64,
    pub text: String,
    pub request_id: Option<i64>,
    pub tracking_code: Option<String>,
    /// The request's state (`replied` and `closed` mean handled).
    pub state: Option<&'static str>,
}

/// A visit with the outcome of its problems.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitView {
    pub id: i64,
    pub enterprise_id: i64,
    pub team_id: i64,
    pub date: NaiveDate,
    pub member_ids: Vec<i64>,
    pub notes: String,
    pub problems: Vec<ProblemView>,
}

impl From<VisitRecord> for VisitView {
    fn from(v: VisitRecord) -> Self {
        VisitView {
            id: v.id.0,
            enterprise_id: v.enterprise.0,
            team_id: v.team.0,
            date: v.date,
            member_ids: v.members.iter().map(|u| u.0).collect(),
            notes: v.notes,
            problems: v
                .problems
                .into_iter()
                .map(|p| ProblemView {
                    seq: p.seq,
                    text: p.text,
                    request_id: p.request.map(|r| r.0),
                    tracking_code: p.tracking_code,
                    state: p.state,
                })
                .collect(),
        }
    }
}

/// `POST /api/v1/enterprise/visits`: a member logs a visit to an enterprise of the team; each
/// problem is filed as an enterprise request (channel `enterprise_visit`).
#[utoipa::path(post, path = "/enterprise/visits", tag = "enterprise", request_body = VisitBody,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = VisitView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn log_visit(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(body): ApiJson<VisitBody>,
) -> Result<(StatusCode, Json<VisitView>), ApiError> {
    let record = record_visit_for(&state, &principal, body).await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

/// Records a visit of a member to an enterprise of the member's team (shared with the pages).
pub(crate) async fn record_visit_for(
    state: &AppState,
    principal: &Principal,
    body: VisitBody,
) -> Result<VisitRecord, ApiError> {
    if principal.role != Role::ServiceTeam {
        return Err(ApiError::forbidden("role_not_allowed"));
    }
    let enterprise = EnterpriseId(body.enterprise_id);
    let team = state
        .store
        .team_of_enterprise(enterprise)
        .await?
        .ok_or_else(not_your_team)?;
    if !state
        .store
        .teams_of_user(principal.user)
        .await?
        .contains(&team)
    {
        return Err(not_your_team());
    }
    if body.problems.iter().any(|p| p.chars().count() > 2_000) || body.notes.len() > 20_000 {
        return Err(ApiError::bad_request(
            "问题描述或走访记录过长",
            "a problem or the notes are too long",
        ));
    }
    let now = Utc::now();
    let mut members: Vec<UserId> = body.member_ids.iter().map(|&u| UserId(u)).collect();
    members.push(principal.user);
    let actor = Actor {
        user: Some(principal.user),
        role: Role::ServiceTeam,
        unit: None,
    };
    Ok(state
        .store
        .record_visit(
            NewVisit {
                enterprise,
                team,
                date: body.date.unwrap_or_else(|| now.date_naive()),
                members,
                notes: body.notes,
                problems: body.problems,
            },
            actor,
            now,
        )
        .await?)
}

/// `GET /api/v1/enterprise/visits/{id}`: one visit and the state of the requests it raised.
#[utoipa::path(get, path = "/enterprise/visits/{id}", tag = "enterprise",
    params(("id" = i64, Path, description = "visit id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = VisitView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn visit(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<VisitView>, ApiError> {
    let teams = visible_teams(&state, &principal).await?;
    let record = state.store.visit(VisitId(id)).await?;
    if let Some(mine) = teams
        && !mine.contains(&record.team)
    {
        return Err(not_your_team());
    }
    Ok(Json(record.into()))
}

/// Key figures of one team.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiView {
    pub team_id: i64,
    pub name: String,
    pub enterprises: i64,
    pub visits_done: i64,
    /// Visits the plan (one per enterprise every 90 days) called for so far.
    pub visits_planned: i64,
    /// Enterprises whose visit is overdue.
    pub overdue: i64,
    pub requests_raised: i64,
    /// Raised requests now replied or closed.
    pub requests_resolved: i64,
}

impl From<TeamKpi> for KpiView {
    fn from(k: TeamKpi) -> Self {
        KpiView {
            team_id: k.team.0,
            name: k.name,
            enterprises: k.enterprises,
            visits_done: k.visits_done,
            visits_planned: k.visits_planned,
            overdue: k.overdue,
            requests_raised: k.requests_raised,
            requests_resolved: k.requests_resolved,
        }
    }
}

/// `GET /api/v1/enterprise/kpis`: key figures of the member's teams (every team for supervisors
/// and administrators).
#[utoipa::path(get, path = "/enterprise/kpis", tag = "enterprise",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<KpiView>), (status = 403, body = ErrorBody)))]
pub async fn kpis(
    State(state): State<AppState>,
    Staff(principal): Staff,
) -> Result<Json<Vec<KpiView>>, ApiError> {
    let today = Utc::now().date_naive();
    let plan = VisitPlan::default();
    let out = match visible_teams(&state, &principal).await? {
        None => state.store.team_kpis(None, plan, today).await?,
        Some(mine) => {
            let mut all = Vec::new();
            for t in mine {
                all.extend(state.store.team_kpis(Some(t), plan, today).await?);
            }
            all
        }
    };
    Ok(Json(out.into_iter().map(KpiView::from).collect()))
}
