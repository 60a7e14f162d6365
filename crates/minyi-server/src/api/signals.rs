//! What the engine finds across requests, for the dispatch centre and supervisors: duplicates
//! (重复件) to merge or dismiss, hot-spot alerts (热点预警) to acknowledge, and the knowledge base
//! (知识库) that operators answer consultations from, maintained by administrators.

use crate::AppState;
use crate::auth::Staff;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use minyi_domain::unit::Role;
use minyi_domain::{DivisionId, MatterId, RequestId};
use minyi_store::{DuplicateFlag, HotspotAlertRow, KnowledgeEntry, Principal};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The dispatch centre and those who watch it.
fn require_dispatch_view(principal: &Principal) -> Result<(), ApiError> {
    match principal.role {
        Role::Operator | Role::Dispatcher | Role::Supervisor | Role::Admin => Ok(()),
        _ => Err(ApiError::forbidden("role_not_allowed")),
    }
}

fn require_admin(principal: &Principal) -> Result<(), ApiError> {
    match principal.role {
        Role::Admin => Ok(()),
        _ => Err(ApiError::forbidden("role_not_allowed")),
    }
}

fn limit(l: Option<i64>) -> Result<i64, ApiError> {
    match l.unwrap_or(100) {
        n @ 1..=1000 => Ok(n),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            "limit 须在 1 到 1000 之间",
            "limit must be between 1 and 1000",
        )),
    }
}

/// Query of the duplicate list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DuplicateQuery {
    /// `open` (default), `merged`, `dismissed` or `all`.
    pub status: Option<String>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
}

/// A duplicate flag with both requests' titles and states.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateView {
    #[serde(flatten)]
    pub flag: DuplicateFlag,
    pub title: String,
    pub state: String,
    pub parent_title: String,
    pub parent_state: String,
    pub parent_tracking_code: String,
}

/// `GET /api/v1/duplicates`: requests the engine found to repeat an open one, newest first.
#[utoipa::path(get, path = "/duplicates", tag = "engine",
    security(("bearer" = []), ("cookie" = [])), params(DuplicateQuery),
    responses((status = 200, body = Vec<DuplicateView>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn duplicates(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiQuery(q): ApiQuery<DuplicateQuery>,
) -> Result<Json<Vec<DuplicateView>>, ApiError> {
    require_dispatch_view(&principal)?;
    let status = match q.status.as_deref().unwrap_or("open") {
        "all" => None,
        s @ ("open" | "merged" | "dismissed") => Some(s),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_status",
                "status 须为 open、merged、dismissed 或 all",
                "status must be open, merged, dismissed or all",
            ));
        }
    };
    let flags = state.store.duplicate_flags(status, limit(q.limit)?).await?;
    let mut out = Vec::with_capacity(flags.len());
    for flag in flags {
        let request = state.store.get_request(RequestId(flag.request_id)).await?;
        let parent = state.store.get_request(RequestId(flag.parent_id)).await?;
        out.push(DuplicateView {
            title: request.intake.title.clone(),
            state: request.state.as_str().to_owned(),
            parent_title: parent.intake.title.clone(),
            parent_state: parent.state.as_str().to_owned(),
            parent_tracking_code: parent.intake.tracking_code.to_string(),
            flag,
        });
    }
    Ok(Json(out))
}

/// `POST /api/v1/duplicates/{id}/dismiss`: a dispatcher finds that request `id` does not repeat
/// its candidate parent. (Merging is the request's `merge` action, which also settles the flag.)
#[utoipa::path(post, path = "/duplicates/{id}/dismiss", tag = "engine",
    security(("bearer" = []), ("cookie" = [])), params(("id" = i64, Path, description = "the flagged request")),
    responses((status = 200, body = DuplicateFlag), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn dismiss_duplicate(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DuplicateFlag>, ApiError> {
    if !matches!(principal.role, Role::Dispatcher | Role::Admin) {
        return Err(ApiError::forbidden("role_not_allowed"));
    }
    Ok(Json(
        state
            .store
            .decide_duplicate(id, "dismissed", principal.user.0, Utc::now())
            .await?,
    ))
}

/// Query of the hot-spot list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct HotspotQuery {
    /// `open` (default) or `all`.
    pub status: Option<String>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
}

/// A hot-spot alert with the names of its place and topic.
#[derive(Debug, Serialize, ToSchema)]
pub struct HotspotView {
    #[serde(flatten)]
    pub alert: HotspotAlertRow,
    /// `深圳市/福田区/华富街道`.
    pub division_path: String,
    /// The matter's name, when the topic is a matter.
    pub topic_name: Option<String>,
}

/// `GET /api/v1/hotspots`: surges of similar requests in one place, newest first.
#[utoipa::path(get, path = "/hotspots", tag = "engine",
    security(("bearer" = []), ("cookie" = [])), params(HotspotQuery),
    responses((status = 200, body = Vec<HotspotView>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn hotspots(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiQuery(q): ApiQuery<HotspotQuery>,
) -> Result<Json<Vec<HotspotView>>, ApiError> {
    match principal.role {
        Role::Operator | Role::Dispatcher | Role::Supervisor | Role::Admin => {}
        _ => return Err(ApiError::forbidden("role_not_allowed")),
    }
    let open_only = match q.status.as_deref().unwrap_or("open") {
        "open" => true,
        "all" => false,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_status",
                "status 须为 open 或 all",
                "status must be open or all",
            ));
        }
    };
    let city = state.city.get(&state.store).await?;
    // Intake reads new requests into the detector after answering; read what is stored
    // before listing, so the list holds every alert the stored requests raise.
    state
        .signals
        .catch_up(&state.store, &city, chrono::Utc::now())
        .await?;
    let alerts = state
        .store
        .hotspot_alerts(open_only, limit(q.limit)?)
        .await?;
    Ok(Json(
        alerts
            .into_iter()
            .map(|alert| HotspotView {
                division_path: city.divisions.path_name(DivisionId(alert.division_id)),
                topic_name: alert
                    .topic
                    .strip_prefix("matter:")
                    .and_then(|m| m.parse::<i64>().ok())
                    .and_then(|m| city.catalog.get(MatterId(m)))
                    .map(|m| m.name.clone()),
                alert,
            })
            .collect(),
    ))
}

/// `POST /api/v1/hotspots/{id}/acknowledge`: the alert was seen and is being dealt with.
#[utoipa::path(post, path = "/hotspots/{id}/acknowledge", tag = "engine",
    security(("bearer" = []), ("cookie" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = HotspotAlertRow), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn acknowledge_hotspot(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<HotspotAlertRow>, ApiError> {
    if !matches!(
        principal.role,
        Role::Dispatcher | Role::Supervisor | Role::Admin
    ) {
        return Err(ApiError::forbidden("role_not_allowed"));
    }
    Ok(Json(
        state
            .store
            .acknowledge_hotspot(id, principal.user.0, Utc::now())
            .await?,
    ))
}

/// Query of the knowledge base.
#[derive(Debug, Deserialize, IntoParams)]
pub struct KnowledgeQuery {
    /// Words to search for; without it every entry is listed.
    pub q: Option<String>,
    /// At most this many hits (1–50, default 5) when searching.
    pub k: Option<usize>,
}

/// A knowledge-base entry that matches a text.
#[derive(Debug, Serialize, ToSchema)]
pub struct KnowledgeHitView {
    #[serde(flatten)]
    pub entry: KnowledgeEntry,
    /// BM25 score (comparable within one search only).
    pub score: f64,
    /// The words the text shares with the entry, best first.
    pub matched: Vec<String>,
}

/// The best knowledge-base entries for a text (at most `k`, default 5, 1–50).
pub(crate) async fn search(
    state: &AppState,
    text: &str,
    k: Option<usize>,
) -> Result<Vec<KnowledgeHitView>, ApiError> {
    let k = match k.unwrap_or(5) {
        k @ 1..=50 => k,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_limit",
                "k 须在 1 到 50 之间",
                "k must be between 1 and 50",
            ));
        }
    };
    let kb = state.signals.knowledge(&state.store).await?;
    let entries = state.store.knowledge_entries().await?;
    Ok(kb
        .search(text, k)
        .into_iter()
        .filter_map(|hit| {
            entries
                .iter()
                .find(|e| e.id == hit.id)
                .map(|e| KnowledgeHitView {
                    entry: e.clone(),
                    score: hit.score,
                    matched: hit.matched,
                })
        })
        .collect())
}

/// `GET /api/v1/knowledge`: the knowledge base; with `q`, the best entries for the words.
#[utoipa::path(get, path = "/knowledge", tag = "engine",
    security(("bearer" = []), ("cookie" = [])), params(KnowledgeQuery),
    responses((status = 200, body = Vec<KnowledgeHitView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn knowledge(
    State(state): State<AppState>,
    Staff(_principal): Staff,
    ApiQuery(q): ApiQuery<KnowledgeQuery>,
) -> Result<Json<Vec<KnowledgeHitView>>, ApiError> {
    match q.q.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => Ok(Json(search(&state, text, q.k).await?)),
        _ => Ok(Json(
            state
                .store
                .knowledge_entries()
                .await?
                .into_iter()
                .map(|entry| KnowledgeHitView {
                    entry,
                    score: 0.0,
                    matched: Vec::new(),
                })
                .collect(),
        )),
    }
}

/// `GET /api/v1/requests/{id}/knowledge`: the entries that best answer a request, so that an
/// operator can answer a consultation at intake (即时办结).
#[utoipa::path(get, path = "/requests/{id}/knowledge", tag = "engine",
    security(("bearer" = []), ("cookie" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Vec<KnowledgeHitView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn request_knowledge(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<KnowledgeHitView>>, ApiError> {
    let request = super::requests::readable(&state, &principal, id).await?;
    let text = format!("{}\n{}", request.intake.title, request.intake.text);
    Ok(Json(search(&state, &text, Some(5)).await?))
}

/// `PUT /api/v1/admin/knowledge`: adds or replaces entries by id, all or nothing.
#[utoipa::path(put, path = "/admin/knowledge", tag = "admin",
    security(("bearer" = []), ("cookie" = [])), request_body = Vec<KnowledgeEntry>,
    responses((status = 200, body = Vec<KnowledgeEntry>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn upsert_knowledge(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(entries): ApiJson<Vec<KnowledgeEntry>>,
) -> Result<Json<Vec<KnowledgeEntry>>, ApiError> {
    require_admin(&principal)?;
    state
        .store
        .upsert_knowledge(&entries, principal.user.0, Utc::now())
        .await?;
    Ok(Json(state.store.knowledge_entries().await?))
}

/// `DELETE /api/v1/admin/knowledge/{id}`: removes one entry.
#[utoipa::path(delete, path = "/admin/knowledge/{id}", tag = "admin",
    security(("bearer" = []), ("cookie" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_knowledge(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&principal)?;
    state.store.delete_knowledge(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
