//! Supervision (督办): the backlog of every unit (open, overdue, due soon), the queues a signed-in
//! role works from, and yellow and red cards (挂牌督办) for units and requests. Urging one request
//! is the `urge` action in [`super::requests`].

use crate::AppState;
use crate::auth::Staff;
use crate::error::{ApiError, ErrorBody};
use crate::export::{self, Cell, Format, Sheet};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use minyi_domain::request::State as RState;
use minyi_domain::unit::Role;
use minyi_domain::{RequestId, UnitId};
use minyi_store::{Card, CardColour, CardTarget, Principal, RequestFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Hours ahead that count as "due soon" in the queues and the backlog.
pub const DUE_SOON_HOURS: i64 = 24;

fn require_supervision(principal: &Principal) -> Result<(), ApiError> {
    match principal.role {
        Role::Supervisor | Role::Admin => Ok(()),
        _ => Err(ApiError::forbidden("role_not_allowed")),
    }
}

/// One unit's backlog, with its name and open cards.
#[derive(Debug, Serialize, ToSchema)]
pub struct BacklogRow {
    pub unit_id: i64,
    pub unit_name: String,
    pub open: i64,
    pub overdue: i64,
    pub due_soon: i64,
    pub open_cards: usize,
}

/// Query of the backlog.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BacklogQuery {
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

/// `GET /api/v1/supervision/backlog`: every unit with open requests, most overdue first.
#[utoipa::path(get, path = "/supervision/backlog", tag = "supervision",
    security(("bearer" = []), ("cookie" = [])), params(BacklogQuery),
    responses((status = 200, body = Vec<BacklogRow>, description = "JSON, or a CSV/XLSX file with format=csv|xlsx"),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn backlog(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiQuery(query): ApiQuery<BacklogQuery>,
) -> Result<Response, ApiError> {
    require_supervision(&principal)?;
    let format = Format::parse(query.format.as_deref())?;
    let now = Utc::now();
    let city = state.city.get(&state.store).await?;
    let rows = state
        .store
        .unit_backlog(now, now + Duration::hours(DUE_SOON_HOURS))
        .await?;
    let cards = state.store.list_cards(true, None).await?;
    let rows: Vec<BacklogRow> = rows
        .into_iter()
        .map(|r| BacklogRow {
            unit_name: city
                .units
                .get(&UnitId(r.unit_id))
                .map(|u| u.name.clone())
                .unwrap_or_default(),
            open_cards: cards
                .iter()
                .filter(|c| c.target_kind == "unit" && c.target_id == r.unit_id)
                .count(),
            unit_id: r.unit_id,
            open: r.open,
            overdue: r.overdue,
            due_soon: r.due_soon,
        })
        .collect();
    if format == Format::Json {
        return Ok(Json(rows).into_response());
    }
    let sheet = Sheet {
        title: "积压督办".into(),
        headers: [
            "单位编号 unit id",
            "单位 unit",
            "在办 open",
            "已超期 overdue",
            "即将到期 due soon",
            "在挂牌 open cards",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::Int(r.unit_id),
                    Cell::Text(r.unit_name.clone()),
                    Cell::Int(r.open),
                    Cell::Int(r.overdue),
                    Cell::Int(r.due_soon),
                    Cell::Int(i64::try_from(r.open_cards).unwrap_or(i64::MAX)),
                ]
            })
            .collect(),
    };
    export::download(format, "backlog", &[sheet])
}

/// The size of one queue and the list query that shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueCount {
    /// e.g. `to_dispatch`, `returned`, `to_sign`, `in_hand`, `due_soon`, `overdue`.
    pub queue: &'static str,
    pub label: &'static str,
    pub count: i64,
    /// Query string for `GET /api/v1/requests` that lists the queue.
    pub query: String,
}

/// `GET /api/v1/queues`: the queues of the signed-in role with their sizes (dispatchers: to
/// dispatch and returned; units: to sign, in hand, due soon, overdue; supervisors: due soon and
/// overdue city-wide).
#[utoipa::path(get, path = "/queues", tag = "supervision",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<QueueCount>), (status = 401, body = ErrorBody)))]
pub async fn queues(
    State(state): State<AppState>,
    Staff(principal): Staff,
) -> Result<Json<Vec<QueueCount>>, ApiError> {
    let now = Utc::now();
    let unit = match principal.role {
        Role::UnitHandler | Role::UnitLeader => Some(
            principal
                .unit
                .ok_or_else(|| ApiError::forbidden("no_unit"))?,
        ),
        _ => None,
    };
    let due_before = now + Duration::hours(DUE_SOON_HOURS);
    type Spec = (&'static str, &'static str, Vec<RState>, bool, bool);
    let open = vec![RState::Dispatched, RState::Handling, RState::Paused];
    let specs: Vec<Spec> = match principal.role {
        Role::Operator | Role::Dispatcher => vec![
            (
                "to_dispatch",
                "待分拨",
                vec![RState::Received],
                false,
                false,
            ),
            (
                "returned",
                "退回待裁定",
                vec![RState::Returned],
                false,
                false,
            ),
            ("overdue", "已超期", vec![], true, false),
        ],
        Role::UnitHandler | Role::UnitLeader => vec![
            ("to_sign", "待签收", vec![RState::Dispatched], false, false),
            (
                "in_hand",
                "办理中",
                vec![RState::Handling, RState::Paused],
                false,
                false,
            ),
            ("due_soon", "即将到期", open.clone(), false, true),
            ("overdue", "已超期", vec![], true, false),
        ],
        Role::Supervisor | Role::Admin => vec![
            ("due_soon", "即将到期", open.clone(), false, true),
            ("overdue", "已超期", vec![], true, false),
            (
                "returned",
                "退回待裁定",
                vec![RState::Returned],
                false,
                false,
            ),
        ],
        _ => return Err(ApiError::forbidden("role_not_allowed")),
    };
    let mut out = Vec::with_capacity(specs.len());
    for (queue, label, states, overdue, soon) in specs {
        let filter = RequestFilter {
            states: states.clone(),
            unit,
            overdue_at: overdue.then_some(now),
            due_before: soon.then_some(due_before),
            page: 1,
            page_size: 1,
            ..RequestFilter::default()
        };
        let count = state.store.list_requests(&filter).await?.total;
        let mut query = Vec::new();
        if !states.is_empty() {
            let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
            query.push(format!("state={}", names.join(",")));
        }
        if overdue {
            query.push("overdue=true".into());
        }
        if soon {
            query.push(format!("due_within_hours={DUE_SOON_HOURS}"));
        }
        query.push("sort=due_asc".into());
        out.push(QueueCount {
            queue,
            label,
            count,
            query: query.join("&"),
        });
    }
    Ok(Json(out))
}

/// Query of the card list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CardQuery {
    /// `true` (default): only cards not yet lifted.
    pub open: Option<bool>,
    pub unit_id: Option<i64>,
    pub request_id: Option<i64>,
}

/// `GET /api/v1/supervision/cards`: cards, newest first. Unit roles see their own unit's.
#[utoipa::path(get, path = "/supervision/cards", tag = "supervision",
    security(("bearer" = []), ("cookie" = [])), params(CardQuery),
    responses((status = 200, body = Vec<Card>), (status = 403, body = ErrorBody)))]
pub async fn cards(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiQuery(query): ApiQuery<CardQuery>,
) -> Result<Json<Vec<Card>>, ApiError> {
    let target = match (query.unit_id, query.request_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "unit_id 与 request_id 只能给一个",
                "give unit_id or request_id, not both",
            ));
        }
        (Some(u), None) => Some(CardTarget::Unit(u)),
        (None, Some(r)) => Some(CardTarget::Request(r)),
        (None, None) => None,
    };
    let target = match principal.role {
        Role::Supervisor | Role::Admin | Role::Dispatcher => target,
        Role::UnitHandler | Role::UnitLeader => {
            let own = principal
                .unit
                .ok_or_else(|| ApiError::forbidden("no_unit"))?;
            match target {
                None => Some(CardTarget::Unit(own.0)),
                Some(CardTarget::Unit(u)) if u == own.0 => target,
                _ => return Err(ApiError::forbidden("not_your_unit")),
            }
        }
        _ => return Err(ApiError::forbidden("role_not_allowed")),
    };
    Ok(Json(
        state
            .store
            .list_cards(query.open.unwrap_or(true), target)
            .await?,
    ))
}

/// A card to issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardBody {
    /// `yellow` or `red`.
    pub colour: String,
    pub unit_id: Option<i64>,
    pub request_id: Option<i64>,
    pub reason: String,
}

/// `POST /api/v1/supervision/cards`: issues a yellow or red card to a unit or a request. A card
/// on a request also urges it (the unit sees the urge in the request's history).
#[utoipa::path(post, path = "/supervision/cards", tag = "supervision",
    security(("bearer" = []), ("cookie" = [])), request_body = CardBody,
    responses((status = 201, body = Card), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn issue_card(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(body): ApiJson<CardBody>,
) -> Result<(StatusCode, Json<Card>), ApiError> {
    require_supervision(&principal)?;
    let colour = CardColour::parse(&body.colour).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_colour",
            "牌色只能是 yellow 或 red",
            "colour must be yellow or red",
        )
    })?;
    let target = match (body.unit_id, body.request_id) {
        (Some(u), None) => CardTarget::Unit(u),
        (None, Some(r)) => CardTarget::Request(r),
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "card_target",
                "须指定 unit_id 或 request_id 之一",
                "give exactly one of unit_id and request_id",
            ));
        }
    };
    let now = Utc::now();
    let card = state
        .store
        .issue_card(target, colour, &body.reason, principal.user, now)
        .await?;
    if let CardTarget::Request(id) = target {
        let actor = minyi_domain::unit::Actor {
            user: Some(principal.user),
            role: principal.role,
            unit: principal.unit,
        };
        let urge = minyi_domain::request::Command::Urge {
            note: format!(
                "{}牌督办：{}",
                if colour == CardColour::Red {
                    "红"
                } else {
                    "黄"
                },
                body.reason.trim()
            ),
        };
        // Urging a closed request is refused by the domain; the card still stands.
        let _ = state.store.execute(RequestId(id), &actor, &urge, now).await;
    }
    Ok((StatusCode::CREATED, Json(card)))
}

/// Lifting a card.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftBody {
    #[serde(default)]
    pub note: String,
}

/// `POST /api/v1/supervision/cards/{id}/lift`: lifts a card (摘牌).
#[utoipa::path(post, path = "/supervision/cards/{id}/lift", tag = "supervision",
    security(("bearer" = []), ("cookie" = [])), params(("id" = i64, Path)), request_body = LiftBody,
    responses((status = 200, body = Card), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn lift_card(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<LiftBody>,
) -> Result<Json<Card>, ApiError> {
    require_supervision(&principal)?;
    Ok(Json(
        state
            .store
            .lift_card(id, &body.note, principal.user, Utc::now())
            .await?,
    ))
}
