//! Matchmaking (我帮企业找市场 / 找资金) and the programme's key figures: a service-team member
//! posts the needs of the team's enterprises, the engine proposes registered resources by text
//! similarity within the enterprise's industry and division, and the member follows each match
//! to its outcome; supervisors and administrators register resources and see every team. The
//! key figures per team, street or district come as JSON or as a CSV file.

use crate::AppState;
use crate::api::enterprise::visible_teams;
use crate::auth::Staff;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{NaiveDate, Utc};
use minyi_domain::DivisionId;
use minyi_domain::enterprise::{EnterpriseId, TeamId, VisitPlan};
use minyi_domain::matchmaking::{MatchStatus, NeedKind, NeedStatus, ResourceKind, agreement_rate};
use minyi_domain::unit::Role;
use minyi_engine::Segmenter;
use minyi_engine::matching::{MatchIndex, MatchNeed, MatchResource};
use minyi_store::{
    MatchRecord, NeedRecord, NewNeed, NewResource, Principal, ProgrammeGroup, ProgrammeKpi,
    Proposal,
};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use utoipa::{IntoParams, ToSchema};

/// Proposals kept per need, and the least similarity worth proposing.
pub const PROPOSALS_PER_NEED: usize = 5;
pub const MIN_SCORE: f64 = 0.05;

/// jieba's dictionary takes a moment to load: once per process, off the async threads.
async fn segmenter() -> Result<Arc<Segmenter>, ApiError> {
    static SEGMENTER: OnceLock<Arc<Segmenter>> = OnceLock::new();
    if let Some(s) = SEGMENTER.get() {
        return Ok(s.clone());
    }
    let built = tokio::task::spawn_blocking(|| Arc::new(Segmenter::new()))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "engine_unavailable",
                "匹配引擎加载失败",
                "the matching engine could not be loaded",
            )
        })?;
    Ok(SEGMENTER.get_or_init(|| built).clone())
}

fn not_your_team() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not_your_team",
        "该企业或需求不属于您的服务队",
        "this enterprise or need belongs to another service team",
    )
}

/// Refuses unless the principal may act for an enterprise of `team` (its member, or a
/// supervisor or administrator).
async fn check_team(
    state: &AppState,
    principal: &Principal,
    team: Option<TeamId>,
) -> Result<(), ApiError> {
    match visible_teams(state, principal).await? {
        None => Ok(()),
        Some(mine) if team.is_some_and(|t| mine.contains(&t)) => Ok(()),
        Some(_) => Err(not_your_team()),
    }
}

fn bad_value(field: &str, value: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_value",
        format!("{field} 的取值无效：{value}"),
        format!("{field} has an invalid value: {value}"),
    )
}

// ---------------------------------------------------------------------------------------------
// Resources.

/// A registered resource (资源).
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceView {
    pub id: i64,
    /// `programme`, `fund`, `buyer`, `talent_service`, `space`, `technology_service`, `other`.
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub name: String,
    pub provider: String,
    pub description: String,
    /// Industries served; empty for every industry.
    pub industries: Vec<String>,
    /// The district or street it is open to; absent for the whole city.
    pub scope_division_id: Option<i64>,
    /// The need kinds it serves.
    pub serves: Vec<&'static str>,
    pub active: bool,
}

/// A resource to register.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResourceBody {
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub industries: Vec<String>,
    pub scope_division_id: Option<i64>,
}

/// `GET /api/v1/enterprise/resources`: the active resources.
#[utoipa::path(get, path = "/enterprise/resources", tag = "enterprise",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<ResourceView>), (status = 403, body = ErrorBody)))]
pub async fn resources(
    State(state): State<AppState>,
    Staff(principal): Staff,
) -> Result<Json<Vec<ResourceView>>, ApiError> {
    visible_teams(&state, &principal).await?;
    let out = state
        .store
        .resources(true)
        .await?
        .into_iter()
        .map(|r| ResourceView {
            id: r.id,
            kind: r.kind.as_str(),
            kind_label: r.kind.label_zh(),
            name: r.name,
            provider: r.provider,
            description: r.description,
            industries: r.industries,
            scope_division_id: r.scope.map(|d| d.0),
            serves: r.serves.into_iter().map(NeedKind::as_str).collect(),
            active: r.active,
        })
        .collect();
    Ok(Json(out))
}

/// `POST /api/v1/enterprise/resources`: a supervisor or administrator registers a resource.
#[utoipa::path(post, path = "/enterprise/resources", tag = "enterprise",
    request_body = ResourceBody, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = ResourceView), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn register_resource(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(body): ApiJson<ResourceBody>,
) -> Result<(StatusCode, Json<ResourceView>), ApiError> {
    if !matches!(principal.role, Role::Supervisor | Role::Admin) {
        return Err(ApiError::forbidden("role_not_allowed"));
    }
    let kind = ResourceKind::parse(&body.kind).ok_or_else(|| bad_value("kind", &body.kind))?;
    if body.name.trim().is_empty() || body.name.chars().count() > 200 {
        return Err(bad_value("name", &body.name));
    }
    if body.description.chars().count() > 5_000 {
        return Err(bad_value("description", "…"));
    }
    if let Some(scope) = body.scope_division_id {
        let city = state.city.get(&state.store).await?;
        if city.divisions.get(DivisionId(scope)).is_none() {
            return Err(bad_value("scope_division_id", &scope.to_string()));
        }
    }
    let industries: Vec<String> = body
        .industries
        .iter()
        .map(|i| i.trim().to_string())
        .filter(|i| !i.is_empty())
        .collect();
    let ids = state
        .store
        .register_resources(
            &[NewResource {
                kind,
                name: body.name.trim().into(),
                provider: body.provider.trim().into(),
                description: body.description.trim().into(),
                industries: industries.clone(),
                scope: body.scope_division_id.map(DivisionId),
            }],
            Utc::now(),
        )
        .await?;
    let id = ids.first().copied().unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(ResourceView {
            id,
            kind: kind.as_str(),
            kind_label: kind.label_zh(),
            name: body.name.trim().into(),
            provider: body.provider.trim().into(),
            description: body.description.trim().into(),
            industries,
            scope_division_id: body.scope_division_id,
            serves: kind
                .served_needs()
                .into_iter()
                .map(NeedKind::as_str)
                .collect(),
            active: true,
        }),
    ))
}

// ---------------------------------------------------------------------------------------------
// Needs and matches.

/// A step of a match.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchStepView {
    pub status: &'static str,
    pub note: String,
    pub at: chrono::DateTime<Utc>,
    pub user_id: Option<i64>,
}

/// A match of a need with a resource (对接).
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchView {
    pub id: i64,
    pub need_id: i64,
    pub enterprise_id: i64,
    pub resource_id: i64,
    pub resource_name: String,
    pub resource_kind: &'static str,
    pub provider: String,
    /// Text similarity 0–1.
    pub score: f64,
    /// Words need and resource share.
    pub terms: Vec<String>,
    /// `proposed`, `contacted`, `agreed` or `declined`.
    pub status: &'static str,
    pub status_label: &'static str,
    pub proposed_on: NaiveDate,
    pub contacted_on: Option<NaiveDate>,
    pub decided_on: Option<NaiveDate>,
    pub steps: Vec<MatchStepView>,
}

impl From<MatchRecord> for MatchView {
    fn from(m: MatchRecord) -> Self {
        MatchView {
            id: m.id,
            need_id: m.need,
            enterprise_id: m.enterprise.0,
            resource_id: m.resource,
            resource_name: m.resource_name,
            resource_kind: m.resource_kind.as_str(),
            provider: m.provider,
            score: m.score,
            terms: m.terms,
            status: m.status.as_str(),
            status_label: m.status.label_zh(),
            proposed_on: m.proposed_on,
            contacted_on: m.contacted_on,
            decided_on: m.decided_on,
            steps: m
                .steps
                .into_iter()
                .map(|s| MatchStepView {
                    status: s.status.as_str(),
                    note: s.note,
                    at: s.at,
                    user_id: s.user.map(|u| u.0),
                })
                .collect(),
        }
    }
}

/// An enterprise's need (企业需求).
#[derive(Debug, Serialize, ToSchema)]
pub struct NeedView {
    pub id: i64,
    pub enterprise_id: i64,
    pub enterprise_name: String,
    pub industry: String,
    pub team_id: Option<i64>,
    /// `market`, `funding`, `talent`, `land`, `technology`, `policy`, `other`.
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub title: String,
    pub detail: String,
    /// `open`, `met` or `withdrawn`.
    pub status: &'static str,
    pub created_on: NaiveDate,
    /// Matches by status.
    pub proposed: i64,
    pub contacted: i64,
    pub agreed: i64,
    pub declined: i64,
    /// The matches (in the lists: empty).
    pub matches: Vec<MatchView>,
}

impl From<NeedRecord> for NeedView {
    fn from(n: NeedRecord) -> Self {
        NeedView {
            id: n.id,
            enterprise_id: n.enterprise.0,
            enterprise_name: n.enterprise_name,
            industry: n.industry,
            team_id: n.team.map(|t| t.0),
            kind: n.kind.as_str(),
            kind_label: n.kind.label_zh(),
            title: n.title,
            detail: n.detail,
            status: n.status.as_str(),
            created_on: n.created_on,
            proposed: n.matches[0],
            contacted: n.matches[1],
            agreed: n.matches[2],
            declined: n.matches[3],
            matches: Vec::new(),
        }
    }
}

/// Ranks the active resources for a need with the engine and stores the best as proposals.
pub async fn propose_for(
    state: &AppState,
    need: &NeedRecord,
) -> Result<Vec<MatchRecord>, ApiError> {
    let city = state.city.get(&state.store).await?;
    let divisions: Vec<i64> = city
        .divisions
        .self_and_ancestors(need.division)
        .into_iter()
        .map(|d| d.0)
        .collect();
    let resources: Vec<MatchResource> = state
        .store
        .resources(true)
        .await?
        .into_iter()
        .map(|r| MatchResource {
            id: r.id,
            text: format!("{} {} {}", r.name, r.provider, r.description),
            industries: r.industries,
            scope: r.scope.map(|d| d.0),
            serves: r.serves.iter().map(|k| k.as_str().to_string()).collect(),
        })
        .collect();
    let segmenter = segmenter().await?;
    let text = format!("{} {}", need.title, need.detail);
    let industry = need.industry.clone();
    let kind = need.kind.as_str();
    let proposals = tokio::task::spawn_blocking(move || {
        let index = MatchIndex::new(resources, &segmenter);
        index.propose(
            &segmenter,
            &MatchNeed {
                text: &text,
                industry: &industry,
                divisions: &divisions,
                kind,
            },
            PROPOSALS_PER_NEED,
            MIN_SCORE,
        )
    })
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "engine_unavailable",
            "匹配引擎运行失败",
            "the matching engine failed",
        )
    })?;
    let proposals: Vec<Proposal> = proposals
        .into_iter()
        .map(|p| Proposal {
            resource: p.resource,
            score: p.score,
            terms: p.terms,
        })
        .collect();
    Ok(state
        .store
        .propose_matches(need.id, &proposals, None, Utc::now())
        .await?)
}

/// A need to post.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NeedBody {
    pub enterprise_id: i64,
    /// `market`, `funding`, `talent`, `land`, `technology`, `policy` or `other`.
    pub kind: String,
    pub title: String,
    #[serde(default)]
    pub detail: String,
}

/// `POST /api/v1/enterprise/needs`: posts a need of an enterprise of the member's team and
/// proposes the closest resources at once.
#[utoipa::path(post, path = "/enterprise/needs", tag = "enterprise", request_body = NeedBody,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = NeedView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn post_need(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(body): ApiJson<NeedBody>,
) -> Result<(StatusCode, Json<NeedView>), ApiError> {
    let kind = NeedKind::parse(&body.kind).ok_or_else(|| bad_value("kind", &body.kind))?;
    if body.title.trim().is_empty() || body.title.chars().count() > 200 {
        return Err(bad_value("title", &body.title));
    }
    if body.detail.chars().count() > 5_000 {
        return Err(bad_value("detail", "…"));
    }
    let enterprise = EnterpriseId(body.enterprise_id);
    let team = state.store.team_of_enterprise(enterprise).await?;
    check_team(&state, &principal, team).await?;
    let need = state
        .store
        .create_need(
            &NewNeed {
                enterprise,
                kind,
                title: body.title,
                detail: body.detail,
            },
            Some(principal.user),
            Utc::now(),
        )
        .await?;
    let matches = propose_for(&state, &need).await?;
    let need = state.store.need(need.id).await?;
    let mut view = NeedView::from(need);
    view.matches = matches.into_iter().map(MatchView::from).collect();
    Ok((StatusCode::CREATED, Json(view)))
}

/// Filter of the need list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct NeedQuery {
    /// One team; a member may name only a team of theirs.
    pub team_id: Option<i64>,
    /// `open`, `met` or `withdrawn`.
    pub status: Option<String>,
    /// At most this many rows (default 200).
    pub limit: Option<i64>,
}

/// `GET /api/v1/enterprise/needs`: needs of the enterprises of the member's teams (every team
/// for supervisors and administrators), newest first.
#[utoipa::path(get, path = "/enterprise/needs", tag = "enterprise", params(NeedQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<NeedView>), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn needs(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiQuery(query): ApiQuery<NeedQuery>,
) -> Result<Json<Vec<NeedView>>, ApiError> {
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(NeedStatus::parse(s).ok_or_else(|| bad_value("status", s))?),
    };
    let limit = query.limit.unwrap_or(200).clamp(1, 2_000);
    Ok(Json(
        need_list(&state, &principal, query.team_id, status, limit).await?,
    ))
}

/// The needs the principal may see (shared with the web pages).
pub async fn need_list(
    state: &AppState,
    principal: &Principal,
    team: Option<i64>,
    status: Option<NeedStatus>,
    limit: i64,
) -> Result<Vec<NeedView>, ApiError> {
    let teams: Vec<Option<TeamId>> = match (visible_teams(state, principal).await?, team) {
        (None, t) => vec![t.map(TeamId)],
        (Some(mine), Some(t)) if mine.contains(&TeamId(t)) => vec![Some(TeamId(t))],
        (Some(_), Some(_)) => return Err(not_your_team()),
        (Some(mine), None) => mine.into_iter().map(Some).collect(),
    };
    let mut out = Vec::new();
    for t in teams {
        out.extend(
            state
                .store
                .needs(t, status, limit)
                .await?
                .into_iter()
                .map(NeedView::from),
        );
    }
    out.sort_by_key(|n| std::cmp::Reverse(n.id));
    out.truncate(usize::try_from(limit).unwrap_or(200));
    Ok(out)
}

/// One need with its matches, if the principal may see it.
pub async fn need_with_matches(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> Result<NeedView, ApiError> {
    let need = state.store.need(id).await?;
    check_team(state, principal, need.team).await?;
    let matches = state.store.matches_of_need(id).await?;
    let mut view = NeedView::from(need);
    view.matches = matches.into_iter().map(MatchView::from).collect();
    Ok(view)
}

/// `GET /api/v1/enterprise/needs/{id}`: one need and its matches with their steps.
#[utoipa::path(get, path = "/enterprise/needs/{id}", tag = "enterprise",
    params(("id" = i64, Path, description = "need id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = NeedView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn need(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<NeedView>, ApiError> {
    // The role first, so that other roles cannot probe which ids exist.
    visible_teams(&state, &principal).await?;
    Ok(Json(need_with_matches(&state, &principal, id).await?))
}

/// `POST /api/v1/enterprise/needs/{id}/propose`: proposes again (after resources were added);
/// resources already matched are kept as they are.
#[utoipa::path(post, path = "/enterprise/needs/{id}/propose", tag = "enterprise",
    params(("id" = i64, Path, description = "need id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = NeedView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn propose(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<NeedView>, ApiError> {
    visible_teams(&state, &principal).await?;
    let need = state.store.need(id).await?;
    check_team(&state, &principal, need.team).await?;
    propose_for(&state, &need).await?;
    Ok(Json(need_with_matches(&state, &principal, id).await?))
}

/// A match's next step.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MatchStepBody {
    /// `contacted`, `agreed` or `declined`.
    pub status: String,
    #[serde(default)]
    pub note: String,
}

/// Moves a match on, if the principal may act for its enterprise (shared with the web pages).
pub async fn advance(
    state: &AppState,
    principal: &Principal,
    id: i64,
    body: &MatchStepBody,
) -> Result<MatchView, ApiError> {
    let to = MatchStatus::parse(&body.status).ok_or_else(|| bad_value("status", &body.status))?;
    if body.note.chars().count() > 2_000 {
        return Err(bad_value("note", "…"));
    }
    let current = state.store.match_record(id).await?;
    check_team(state, principal, current.team).await?;
    if let Err(e) = current.status.advance(to) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "invalid_match_transition",
            format!(
                "对接状态为「{}」，不能改为「{}」",
                e.from.label_zh(),
                e.to.label_zh()
            ),
            e.to_string(),
        ));
    }
    Ok(state
        .store
        .advance_match(id, to, &body.note, Some(principal.user), Utc::now())
        .await?
        .into())
}

/// `POST /api/v1/enterprise/matches/{id}/status`: records that the enterprise and the resource
/// were put in touch (`contacted`), or the outcome (`agreed`, `declined`), with a note.
#[utoipa::path(post, path = "/enterprise/matches/{id}/status", tag = "enterprise",
    params(("id" = i64, Path, description = "match id")), request_body = MatchStepBody,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = MatchView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn match_status(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<MatchStepBody>,
) -> Result<Json<MatchView>, ApiError> {
    visible_teams(&state, &principal).await?;
    Ok(Json(advance(&state, &principal, id, &body).await?))
}

// ---------------------------------------------------------------------------------------------
// Key figures.

/// The programme's key figures of one team, street or district.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgrammeKpiView {
    /// `team`, `street` or `district`.
    pub group: &'static str,
    /// The team id, or the street's or district's division id.
    pub id: i64,
    pub name: String,
    pub teams: i64,
    pub enterprises: i64,
    pub visits_done: i64,
    /// Visits the plan (one per enterprise every 90 days) called for so far.
    pub visits_planned: i64,
    /// visits_done / visits_planned (absent when nothing was planned yet).
    pub visit_rate: Option<f64>,
    /// Enterprises whose visit is overdue.
    pub overdue: i64,
    pub requests_raised: i64,
    pub requests_resolved: i64,
    pub resolution_rate: Option<f64>,
    pub rated: i64,
    pub satisfied: i64,
    /// (satisfied + basically satisfied) / rated.
    pub satisfaction_rate: Option<f64>,
    pub needs: i64,
    pub matches_proposed: i64,
    pub matches_contacted: i64,
    /// Matches made (对接成功).
    pub matches_agreed: i64,
    pub matches_declined: i64,
    /// agreed / (agreed + declined).
    pub agreement_rate: Option<f64>,
}

fn ratio(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| (n as f64 / d as f64 * 10_000.0).round() / 10_000.0)
}

impl ProgrammeKpiView {
    /// The sum of `rows`, with its rates.
    pub fn total(rows: &[ProgrammeKpiView]) -> Self {
        let mut k = ProgrammeKpi::default();
        for r in rows {
            k.teams += r.teams;
            k.enterprises += r.enterprises;
            k.visits_done += r.visits_done;
            k.visits_planned += r.visits_planned;
            k.overdue += r.overdue;
            k.requests_raised += r.requests_raised;
            k.requests_resolved += r.requests_resolved;
            k.rated += r.rated;
            k.satisfied += r.satisfied;
            k.needs += r.needs;
            k.matches_proposed += r.matches_proposed;
            k.matches_contacted += r.matches_contacted;
            k.matches_agreed += r.matches_agreed;
            k.matches_declined += r.matches_declined;
        }
        let mut total = Self::new(ProgrammeGroup::Team, k);
        total.group = "total";
        total
    }

    fn new(group: ProgrammeGroup, k: ProgrammeKpi) -> Self {
        ProgrammeKpiView {
            group: match group {
                ProgrammeGroup::Team => "team",
                ProgrammeGroup::Street => "street",
                ProgrammeGroup::District => "district",
            },
            id: k.id,
            visit_rate: ratio(k.visits_done, k.visits_planned),
            resolution_rate: ratio(k.requests_resolved, k.requests_raised),
            satisfaction_rate: ratio(k.satisfied, k.rated),
            agreement_rate: agreement_rate(k.matches_agreed, k.matches_declined)
                .map(|r| (r * 10_000.0).round() / 10_000.0),
            name: k.name,
            teams: k.teams,
            enterprises: k.enterprises,
            visits_done: k.visits_done,
            visits_planned: k.visits_planned,
            overdue: k.overdue,
            requests_raised: k.requests_raised,
            requests_resolved: k.requests_resolved,
            rated: k.rated,
            satisfied: k.satisfied,
            needs: k.needs,
            matches_proposed: k.matches_proposed,
            matches_contacted: k.matches_contacted,
            matches_agreed: k.matches_agreed,
            matches_declined: k.matches_declined,
        }
    }
}

/// Grouping of the key figures.
#[derive(Debug, Deserialize, IntoParams)]
pub struct KpiQuery {
    /// `team` (default), `street` or `district`.
    pub by: Option<String>,
}

/// The key figures the principal may see (shared with the web pages).
pub async fn programme_kpis(
    state: &AppState,
    principal: &Principal,
    by: Option<&str>,
) -> Result<Vec<ProgrammeKpiView>, ApiError> {
    let group = match by {
        None | Some("") => ProgrammeGroup::Team,
        Some(s) => ProgrammeGroup::parse(s).ok_or_else(|| bad_value("by", s))?,
    };
    let teams = visible_teams(state, principal).await?;
    let rows = state
        .store
        .programme_kpis(
            teams.as_deref(),
            group,
            VisitPlan::default(),
            Utc::now().date_naive(),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|k| ProgrammeKpiView::new(group, k))
        .collect())
}

/// `GET /api/v1/enterprise/kpis/summary`: the programme's key figures per team, street or
/// district (a member sees those of their teams only).
#[utoipa::path(get, path = "/enterprise/kpis/summary", tag = "enterprise", params(KpiQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<ProgrammeKpiView>), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn kpi_summary(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiQuery(query): ApiQuery<KpiQuery>,
) -> Result<Json<Vec<ProgrammeKpiView>>, ApiError> {
    Ok(Json(
        programme_kpis(&state, &principal, query.by.as_deref()).await?,
    ))
}

/// `GET /api/v1/enterprise/kpis.csv`: the same figures as a CSV file (UTF-8 with a byte-order
/// mark, so that spreadsheet programs read the Chinese names).
#[utoipa::path(get, path = "/enterprise/kpis.csv", tag = "enterprise", params(KpiQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn kpi_csv(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiQuery(query): ApiQuery<KpiQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let rows = programme_kpis(&state, &principal, query.by.as_deref()).await?;
    let mut out = "\u{feff}".as_bytes().to_vec();
    minyi_store::write_csv(&rows, &mut out)?;
    let name = format!(
        "attachment; filename=\"enterprise-kpis-{}.csv\"",
        query.by.as_deref().unwrap_or("team")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        out,
    ))
}
