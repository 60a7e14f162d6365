//! Staff endpoints on requests: lists (queues), one request with its history, and the
//! life-cycle actions. Unit roles see and act only on requests where their unit is the lead or a
//! co-unit; personal data is shown in clear only to the roles that must call the requester.

use super::view::{EventView, RequestView};
use crate::AppState;
use crate::auth::Staff;
use crate::error::ApiError;
use crate::export::{self, Cell, Format, Sheet};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use minyi_domain::request::{
    Assignment, CategorySource, Classification, Command, Request, RequesterKind, Satisfaction,
    State as RState,
};
use minyi_domain::unit::{Actor, Role};
use minyi_domain::{DivisionId, MatterId, RequestId, UnitId};
use minyi_store::{
    Page, Principal, RequestFilter, RequestSummary, SearchText, SearchTextError, Sort,
};
use serde::Deserialize;

/// Whether the principal may see this request at all.
pub fn can_read(principal: &Principal, request: &Request) -> bool {
    match principal.role {
        Role::Operator | Role::Dispatcher | Role::Supervisor | Role::Admin => true,
        Role::UnitHandler | Role::UnitLeader => {
            principal.unit.is_some_and(|u| request.involves_unit(u))
        }
        Role::ServiceTeam => request.intake.requester_kind == RequesterKind::Enterprise,
        Role::Requester | Role::System => false,
    }
}

/// Whether the principal sees the requester's personal data in clear (to call them back).
pub fn sees_personal_data(principal: &Principal) -> bool {
    matches!(
        principal.role,
        Role::Operator | Role::Dispatcher | Role::UnitHandler | Role::UnitLeader
    )
}

/// The actor a staff member's command is recorded under.
pub(crate) fn actor(principal: &Principal) -> Actor {
    Actor {
        user: Some(principal.user),
        role: principal.role,
        unit: principal.unit,
    }
}

/// Query of `GET /api/v1/requests`.
#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Comma-separated states.
    pub state: Option<String>,
    pub unit_id: Option<i64>,
    pub matter_id: Option<i64>,
    pub division_id: Option<i64>,
    /// `true`: only open requests past a deadline now.
    pub overdue: Option<bool>,
    /// Only requests whose handling deadline falls within this many hours.
    pub due_within_hours: Option<i64>,
    /// Only requests received at or after this instant (RFC 3339, e.g. `2025-03-01T00:00:00Z`).
    pub received_from: Option<DateTime<Utc>>,
    /// Only requests received before this instant (RFC 3339).
    pub received_to: Option<DateTime<Utc>>,
    /// Full-text search (全文检索) in the title, text, the problem's address and the replies (and
    /// the requester's own address for roles that see personal data): terms separated by
    /// spaces, each of at least 2 characters, all of which must occur; at most 64 characters and
    /// 8 terms. Combines with every other filter; the order is `sort`'s. A search counts up to
    /// 1000 matches: beyond, `total` is 1000 and `total_capped` is true.
    #[param(max_length = 64, example = "路灯 不亮")]
    pub q: Option<String>,
    pub sort: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
    /// `json` (default, one page), or `csv` / `xlsx`: a download of every matching request
    /// (pages ignored) in `sort`'s order, up to 100,000 rows; when more matched, the file holds
    /// the first 100,000 and the response carries `X-Export-Truncated: true`.
    pub format: Option<String>,
}

/// The search text of a list, or the client error it deserves (400 `query_too_short`,
/// `query_too_long` or `control_characters`).
pub fn search_text(q: Option<&str>) -> Result<Option<SearchText>, ApiError> {
    let Some(q) = q else { return Ok(None) };
    SearchText::parse(q).map_err(|e| match e {
        SearchTextError::TooShort => ApiError::new(
            StatusCode::BAD_REQUEST,
            "query_too_short",
            format!("检索词每个至少 {} 个字", SearchText::MIN_TERM_CHARS),
            format!(
                "each search term needs at least {} characters",
                SearchText::MIN_TERM_CHARS
            ),
        ),
        SearchTextError::TooLong => ApiError::new(
            StatusCode::BAD_REQUEST,
            "query_too_long",
            format!(
                "检索内容最多 {} 个字、{} 个词",
                SearchText::MAX_CHARS,
                SearchText::MAX_TERMS
            ),
            format!(
                "the search text is limited to {} characters and {} terms",
                SearchText::MAX_CHARS,
                SearchText::MAX_TERMS
            ),
        ),
        SearchTextError::ControlCharacters => ApiError::new(
            StatusCode::BAD_REQUEST,
            "control_characters",
            "检索内容含有控制字符",
            "the search text contains control characters",
        ),
    })
}

/// `GET /api/v1/requests`: a page of requests, optionally searched with `q`. Unit roles get
/// their own unit's only. A bad `q` is a 400 with code `query_too_short`, `query_too_long` or
/// `control_characters`. With `format=csv|xlsx`, every matching request as a file (the same
/// columns as the JSON, with the names of the matter, division and lead unit; no personal data,
/// as in the JSON), at most 100,000 rows.
#[utoipa::path(get, path = "/requests", tag = "requests", security(("bearer" = []), ("cookie" = [])), params(ListQuery),
    responses((status = 200, body = Page<RequestSummary>,
            description = "JSON, or a CSV/XLSX file with format=csv|xlsx",
            headers(("X-Export-Truncated" = String, description = "`true` when a download stopped at its row cap"),
                ("X-Export-Rows" = i64, description = "rows in a download"))),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let format = Format::parse(query.format.as_deref())?;
    let filter = list_filter(&principal, &query)?;
    if format == Format::Json {
        return Ok(Json(state.store.list_requests(&filter).await?).into_response());
    }
    let (rows, truncated) = state
        .store
        .export_requests(&filter, state.export_rows)
        .await?;
    let city = state.city.get(&state.store).await?;
    export_list(format, "requests", &city, &rows, truncated)
}

/// Column headers of a request list download.
const LIST_HEADERS: [&str; 16] = [
    "编号 id",
    "查询码 tracking code",
    "状态 state",
    "渠道 channel",
    "标题 title",
    "事项 matter",
    "区划 division",
    "主办单位 lead unit",
    "紧急程度 urgency",
    "受理时间 received",
    "响应期限 response due",
    "办理期限 handling due",
    "更新时间 updated",
    "事项编号 matter id",
    "区划编号 division id",
    "单位编号 unit id",
];

/// A list of requests as a CSV/XLSX download, with `X-Export-Rows` and, when the list was cut
/// at its cap, `X-Export-Truncated: true`.
pub fn export_list(
    format: Format,
    stem: &str,
    city: &crate::reference::City,
    rows: &[RequestSummary],
    truncated: bool,
) -> Result<Response, ApiError> {
    let time =
        |t: Option<DateTime<Utc>>| t.map_or(Cell::Empty, |t| Cell::Text(crate::web::local_time(t)));
    let id = |v: Option<i64>| v.map_or(Cell::Empty, Cell::Int);
    let name = |v: Option<String>| Cell::Text(v.unwrap_or_default());
    let sheet = Sheet {
        title: "诉求列表".into(),
        headers: LIST_HEADERS.iter().map(|h| h.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::Int(r.id.0),
                    Cell::Text(r.tracking_code.clone()),
                    Cell::Text(r.state.clone()),
                    Cell::Text(r.channel.clone()),
                    Cell::Text(r.title.clone()),
                    name(
                        r.matter_id
                            .and_then(|m| city.catalog.get(MatterId(m)))
                            .map(|m| m.name.clone()),
                    ),
                    name(
                        r.division_id
                            .and_then(|d| city.divisions.get(DivisionId(d)))
                            .map(|d| d.name.clone()),
                    ),
                    name(
                        r.lead_unit_id
                            .and_then(|u| city.units.get(&UnitId(u)))
                            .map(|u| u.name.clone()),
                    ),
                    Cell::Text(r.urgency.clone().unwrap_or_default()),
                    time(Some(r.received_at)),
                    time(r.response_due_at),
                    time(r.handling_due_at),
                    time(Some(r.updated_at)),
                    id(r.matter_id),
                    id(r.division_id),
                    id(r.lead_unit_id),
                ]
            })
            .collect(),
    };
    let mut response = export::download(format, stem, &[sheet])?;
    let headers = response.headers_mut();
    headers.insert("x-export-rows", HeaderValue::from(rows.len()));
    if truncated {
        headers.insert("x-export-truncated", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The store filter of a list query for this principal (unit roles: their own unit only).
fn list_filter(principal: &Principal, query: &ListQuery) -> Result<RequestFilter, ApiError> {
    let mut filter = RequestFilter {
        page: query.page.unwrap_or(1),
        page_size: query.page_size.unwrap_or(50),
        ..RequestFilter::default()
    };
    if filter.page_size > RequestFilter::MAX_PAGE_SIZE || filter.page == 0 {
        return Err(ApiError::bad_request(
            format!(
                "page 从 1 开始，page_size 为 1 至 {}",
                RequestFilter::MAX_PAGE_SIZE
            ),
            format!(
                "page starts at 1; page_size is 1 to {}",
                RequestFilter::MAX_PAGE_SIZE
            ),
        ));
    }
    if let Some(states) = query.state.as_deref().filter(|s| !s.is_empty()) {
        for s in states.split(',') {
            filter.states.push(RState::parse(s.trim()).ok_or_else(|| {
                ApiError::bad_request(format!("未知状态 {s}"), format!("unknown state {s}"))
            })?);
        }
    }
    if let Some(sort) = query.sort.as_deref() {
        filter.sort = Sort::parse(sort).ok_or_else(|| {
            ApiError::bad_request(format!("未知排序 {sort}"), format!("unknown sort {sort}"))
        })?;
    }
    filter.text = search_text(query.q.as_deref())?;
    filter.text_in_personal = sees_personal_data(principal);
    filter.received_from = query.received_from;
    filter.received_to = query.received_to;
    filter.matter = query.matter_id.map(MatterId);
    filter.division = query.division_id.map(DivisionId);
    let now = Utc::now();
    if query.overdue == Some(true) {
        filter.overdue_at = Some(now);
    }
    if let Some(hours) = query.due_within_hours {
        if !(0..=24 * 365).contains(&hours) {
            return Err(ApiError::bad_request(
                "due_within_hours 超出范围",
                "due_within_hours out of range",
            ));
        }
        filter.due_before = Some(now + Duration::hours(hours));
    }
    match principal.role {
        Role::UnitHandler | Role::UnitLeader => {
            let own = principal
                .unit
                .ok_or_else(|| ApiError::forbidden("no_unit"))?;
            if query.unit_id.is_some_and(|u| u != own.0) {
                return Err(ApiError::forbidden("not_your_unit"));
            }
            filter.unit = Some(own);
        }
        Role::Operator | Role::Dispatcher | Role::Supervisor | Role::Admin => {
            filter.unit = query.unit_id.map(UnitId);
        }
        _ => return Err(ApiError::forbidden("role_not_allowed")),
    }
    Ok(filter)
}

pub(crate) async fn readable(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> Result<Request, ApiError> {
    let request = state.store.get_request(RequestId(id)).await?;
    if !can_read(principal, &request) {
        return Err(ApiError::forbidden("not_your_unit"));
    }
    Ok(request)
}

/// `GET /api/v1/requests/{id}`: one request, personal data masked unless the role needs it.
#[utoipa::path(get, path = "/requests/{id}", tag = "requests", security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = RequestView), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RequestView>, ApiError> {
    let request = readable(&state, &principal, id).await?;
    let city = state.city.get(&state.store).await?;
    let requester = state.store.requester(request.id).await?;
    let mut view = RequestView::build(
        &request,
        &city,
        requester.as_ref(),
        sees_personal_data(&principal),
    );
    view.suggestion = state
        .store
        .suggestion(request.id)
        .await?
        .and_then(|s| serde_json::from_str(&s).ok());
    Ok(Json(view))
}

/// `GET /api/v1/requests/{id}/events`: the whole history.
#[utoipa::path(get, path = "/requests/{id}/events", tag = "requests", security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<EventView>), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<EventView>>, ApiError> {
    let request = readable(&state, &principal, id).await?;
    let events = state.store.events(request.id).await?;
    Ok(Json(events.iter().map(EventView::from).collect()))
}

/// The body of an action; each action reads the fields it needs.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    pub matter_id: Option<i64>,
    pub lead_unit_id: Option<i64>,
    pub co_unit_ids: Option<Vec<i64>>,
    pub legal_basis: Option<String>,
    pub reason: Option<String>,
    pub text: Option<String>,
    pub ruling: Option<String>,
    pub working_days: Option<u32>,
    pub parent_id: Option<i64>,
    /// For `split`: the parts, each a title and a text.
    pub parts: Option<Vec<SplitPart>>,
    pub satisfaction: Option<String>,
    pub solved: Option<bool>,
    pub comment: Option<String>,
    pub note: Option<String>,
}

/// One child of a split.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitPart {
    #[serde(default)]
    pub title: String,
    pub text: String,
}

fn required<T>(value: Option<T>, field: &'static str) -> Result<T, ApiError> {
    value.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
            format!("缺少字段 {field}"),
            format!("missing field {field}"),
        )
    })
}

/// Parses a satisfaction from the API's names.
pub fn parse_satisfaction(s: &str) -> Result<Satisfaction, ApiError> {
    match s {
        "satisfied" => Ok(Satisfaction::Satisfied),
        "basically_satisfied" => Ok(Satisfaction::BasicallySatisfied),
        "unsatisfied" => Ok(Satisfaction::Unsatisfied),
        other => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_satisfaction",
            "评价只能是 satisfied、basically_satisfied 或 unsatisfied",
            format!(
                "satisfaction must be satisfied, basically_satisfied or unsatisfied, not {other}"
            ),
        )),
    }
}

/// A person's choice of category (the requester's, an operator's or a dispatcher's): the matter
/// with its policy's urgency and consultation flag, no confidence.
pub(crate) fn classified_by_person(
    matter: MatterId,
    policy: minyi_domain::catalog::MatterPolicy,
) -> Command {
    Command::Classify {
        classification: Classification {
            matter,
            source: CategorySource::Person,
            confidence: None,
            urgency: policy.urgency,
            consultation: policy.consultation,
        },
    }
}

/// The names of the actions, as in `POST /api/v1/requests/{id}/{action}`.
pub const ACTIONS: [&str; 18] = [
    "classify",
    "answer",
    "dispatch",
    "arbitrate",
    "sign",
    "co-opinion",
    "reply",
    "return",
    "extension",
    "approve-extension",
    "refuse-extension",
    "pause",
    "resume",
    "merge",
    "split",
    "urge",
    "rate",
    "close",
];

fn assignment(
    city: &crate::reference::City,
    request: &Request,
    body: &ActionBody,
) -> Result<Assignment, ApiError> {
    let matter = request
        .classification
        .map(|c| c.matter)
        .ok_or_else(|| ApiError::from(minyi_domain::request::DomainError::NotClassified))?;
    let mut assignment = city.suggest(matter, request.intake.location.division)?;
    if let Some(lead) = body.lead_unit_id {
        let lead = UnitId(lead);
        if !city.units.contains_key(&lead) {
            return Err(ApiError::not_found("unit"));
        }
        if lead != assignment.lead {
            // A dispatcher's own choice: the rule no longer applies.
            assignment.rule = None;
            assignment.co_units.clear();
        }
        assignment.lead = lead;
    }
    if let Some(co) = &body.co_unit_ids {
        let co: Vec<UnitId> = co.iter().copied().map(UnitId).collect();
        if co.iter().any(|u| !city.units.contains_key(u)) {
            return Err(ApiError::not_found("unit"));
        }
        assignment.co_units = co;
    }
    if let Some(basis) = &body.legal_basis {
        assignment.legal_basis = basis.clone();
    }
    Ok(assignment)
}

/// `POST /api/v1/requests/{id}/{action}`: performs a life-cycle action and returns the request.
#[utoipa::path(post, path = "/requests/{id}/{action}", tag = "requests", security(("bearer" = []), ("cookie" = [])),
    request_body = ActionBody,
    params(("id" = i64, Path),
        ("action" = String, Path, description = "classify, answer, dispatch, arbitrate, sign, co-opinion, reply, return, extension, approve-extension, refuse-extension, pause, resume, merge, split, urge, rate, close")),
    responses((status = 200, description = "The request after the action", body = RequestView),
        (status = 401, body = crate::error::ErrorBody), (status = 403, description = "Role or unit may not act", body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, description = "The request's state does not allow it", body = crate::error::ErrorBody),
        (status = 422, description = "Missing or invalid field", body = crate::error::ErrorBody)))]
pub async fn act(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath((id, action)): ApiPath<(i64, String)>,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<Json<RequestView>, ApiError> {
    let request = readable(&state, &principal, id).await?;
    let city = state.city.get(&state.store).await?;
    let actor = actor(&principal);
    let now = Utc::now();
    let text = |field: &'static str, v: &Option<String>| required(v.clone(), field);
    let command = match action.as_str() {
        "classify" => {
            let matter = MatterId(required(body.matter_id, "matter_id")?);
            let policy = city
                .catalog
                .policy(matter)
                .ok_or_else(|| ApiError::not_found("matter"))?;
            if !city.catalog.is_leaf(matter) {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "not_a_leaf_matter",
                    "请选择最末级事项",
                    "choose a leaf matter",
                ));
            }
            classified_by_person(matter, policy)
        }
        "answer" => Command::AnswerAtIntake {
            answer: text("text", &body.text)?,
        },
        "dispatch" => Command::Dispatch {
            assignment: assignment(&city, &request, &body)?,
        },
        "arbitrate" => Command::Arbitrate {
            ruling: text("ruling", &body.ruling)?,
            assignment: assignment(&city, &request, &body)?,
        },
        "sign" => Command::Sign,
        "co-opinion" => Command::CoUnitOpinion {
            text: text("text", &body.text)?,
        },
        "reply" => Command::Reply {
            text: text("text", &body.text)?,
        },
        "return" => Command::Return {
            reason: text("reason", &body.reason)?,
            legal_basis: text("legal_basis", &body.legal_basis)?,
        },
        "extension" => Command::RequestExtension {
            working_days: required(body.working_days, "working_days")?,
            reason: text("reason", &body.reason)?,
        },
        "approve-extension" => Command::ApproveExtension,
        "refuse-extension" => Command::RefuseExtension {
            reason: text("reason", &body.reason)?,
        },
        "pause" => Command::Pause {
            reason: text("reason", &body.reason)?,
        },
        "resume" => Command::Resume,
        "urge" => Command::Urge {
            note: body.note.clone().unwrap_or_default(),
        },
        "rate" => Command::Rate {
            satisfaction: parse_satisfaction(&required(
                body.satisfaction.clone(),
                "satisfaction",
            )?)?,
            solved: required(body.solved, "solved")?,
            comment: body.comment.clone().unwrap_or_default(),
        },
        "close" => Command::CloseWithoutRating {
            reason: text("reason", &body.reason)?,
        },
        "merge" => {
            if principal.role != Role::Dispatcher {
                return Err(ApiError::forbidden("role_not_allowed"));
            }
            let parent = RequestId(required(body.parent_id, "parent_id")?);
            state.store.merge(request.id, parent, &actor, now).await?;
            // The engine's flag on it, if any, is settled by the merge.
            match state
                .store
                .decide_duplicate(request.id.0, "merged", principal.user.0, now)
                .await
            {
                Ok(_) | Err(minyi_store::StoreError::NotFound(_)) => {}
                Err(minyi_store::StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
            return view(&state, &principal, request.id).await;
        }
        "split" => {
            if principal.role != Role::Dispatcher {
                return Err(ApiError::forbidden("role_not_allowed"));
            }
            let parts: Vec<(String, String)> = required(body.parts, "parts")?
                .into_iter()
                .map(|p| (p.title, p.text))
                .collect();
            state.store.split(request.id, &parts, &actor, now).await?;
            return view(&state, &principal, request.id).await;
        }
        _ => return Err(ApiError::not_found("action")),
    };
    state
        .store
        .execute(request.id, &actor, &command, now)
        .await?;
    view(&state, &principal, request.id).await
}

async fn view(
    state: &AppState,
    principal: &Principal,
    id: RequestId,
) -> Result<Json<RequestView>, ApiError> {
    let request = state.store.get_request(id).await?;
    let city = state.city.get(&state.store).await?;
    let requester = state.store.requester(id).await?;
    // After an action (a return, a re-dispatch) the unit may no longer be involved: it still sees
    // the result of its own action, without personal data.
    let clear = sees_personal_data(principal) && can_read(principal, &request);
    Ok(Json(RequestView::build(
        &request,
        &city,
        requester.as_ref(),
        clear,
    )))
}
