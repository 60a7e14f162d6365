//! Public endpoints for citizens and enterprises: submit a request, track it by its tracking code,
//! rate the result. No account: the tracking code finds the request, and the last four digits of
//! the requester's phone prove it is theirs before any detail is shown. Nothing here ever shows a
//! name or a phone number.

use super::requests::parse_satisfaction;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use minyi_domain::personal::{PersonName, PhoneNumber, TrackingCode};
use minyi_domain::request::{Channel, Command, Location, Request, RequesterKind};
use minyi_domain::unit::Actor;
use minyi_store::{NewRequest, RequesterInfo};
use serde::{Deserialize, Serialize};

/// Longest request text accepted, in characters.
pub const MAX_TEXT: usize = 4000;
/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest Idempotency-Key.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

/// `POST /api/v1/public/requests` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    #[serde(default)]
    pub title: String,
    pub text: String,
    /// The public code of the division (district to compound), if known.
    pub division_code: Option<String>,
    #[serde(default)]
    pub address: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub name: Option<String>,
    pub phone: String,
    /// `web` (default) or `mobile`.
    pub channel: Option<String>,
    /// `citizen` (default) or `enterprise`.
    pub requester_kind: Option<String>,
    pub enterprise_name: Option<String>,
    /// The category the requester chose (a leaf matter's code), if any: recorded as a person's
    /// choice in the intake transaction.
    pub matter_code: Option<String>,
}

/// What a requester gets back.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    pub tracking_code: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub received_at: DateTime<Utc>,
}

fn invalid(code: &'static str, zh: &str, en: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, zh, en)
}

/// `POST /api/v1/public/requests`: files a request. Idempotent under the `Idempotency-Key`
/// header; answers 201 only after the request is durable.
#[utoipa::path(post, path = "/public/requests", tag = "public", request_body = SubmitBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first answer")),
    responses(
        (status = 201, description = "Filed and durable", body = Receipt),
        (status = 200, description = "Replay of an earlier submission with the same Idempotency-Key", body = Receipt),
        (status = 400, description = "Malformed body", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid content (empty text, bad phone …)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many submissions from this address", body = crate::error::ErrorBody),
    ))]
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SubmitBody>,
) -> Result<(StatusCode, Json<Receipt>), ApiError> {
    let channel = match body.channel.as_deref() {
        None | Some("web") => Channel::Web,
        Some("mobile") => Channel::Mobile,
        Some(_) => {
            return Err(invalid(
                "invalid_channel",
                "渠道只能是 web 或 mobile",
                "channel must be web or mobile",
            ));
        }
    };
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
                .ok_or_else(|| {
                    ApiError::bad_request("Idempotency-Key 无效", "invalid Idempotency-Key")
                })?;
            Some(key.to_string())
        }
    };
    let new = new_request(&state, body, channel, idempotency_key).await?;
    let (request, created) = crate::intake::file(&state, new, Actor::REQUESTER).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Receipt {
            tracking_code: request.intake.tracking_code.to_string(),
            state: request.state.as_str(),
            state_label: request.state.label_zh(),
            received_at: request.received_at,
        }),
    ))
}

/// Checks a submission and builds the new request for `intake::file`: the text, phone, name,
/// place and the category the requester chose (a person's choice, classified in the intake
/// transaction). The channel is the caller's to say (the body's `channel` is not read here);
/// the operator's intake page files phone calls through this too.
pub(crate) async fn new_request(
    state: &AppState,
    body: SubmitBody,
    channel: Channel,
    idempotency_key: Option<String>,
) -> Result<NewRequest, ApiError> {
    let text = body.text.trim();
    if text.is_empty() {
        return Err(invalid(
            "empty_text",
            "诉求内容不能为空",
            "the request text must not be empty",
        ));
    }
    if text.chars().count() > MAX_TEXT || body.title.chars().count() > MAX_TITLE {
        return Err(invalid(
            "too_long",
            "标题不超过200字，内容不超过4000字",
            "the title is limited to 200 characters and the text to 4000",
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(invalid(
            "control_characters",
            "内容含有控制字符",
            "the text contains control characters",
        ));
    }
    let phone = PhoneNumber::parse(&body.phone).map_err(|_| {
        invalid(
            "invalid_phone",
            "请填写正确的手机号或带区号的座机号",
            "give a valid mobile or landline number",
        )
    })?;
    let name = match body.name.as_deref().filter(|n| !n.trim().is_empty()) {
        None => None,
        Some(n) => Some(
            PersonName::parse(n)
                .map_err(|_| invalid("invalid_name", "姓名格式不正确", "the name is not valid"))?,
        ),
    };
    let requester_kind = match body.requester_kind.as_deref() {
        None | Some("citizen") => RequesterKind::Citizen,
        Some("enterprise") => RequesterKind::Enterprise,
        Some(_) => {
            return Err(invalid(
                "invalid_requester_kind",
                "诉求人类型只能是 citizen 或 enterprise",
                "requester_kind must be citizen or enterprise",
            ));
        }
    };
    let lat_lng = match (body.lat, body.lng) {
        (Some(lat), Some(lng))
            if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng) =>
        {
            Some((lat, lng))
        }
        (None, None) => None,
        _ => {
            return Err(invalid(
                "invalid_location",
                "经纬度无效",
                "lat and lng must both be given and in range",
            ));
        }
    };
    let division = match body
        .division_code
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    {
        None => None,
        Some(code) => {
            let city = state.city.get(&state.store).await?;
            Some(city.division_by_code(code).ok_or_else(|| {
                invalid(
                    "unknown_division",
                    "未知的区划代码",
                    "unknown division code",
                )
            })?)
        }
    };
    let mut follow_up = Vec::new();
    if let Some(code) = body.matter_code.as_deref().filter(|c| !c.trim().is_empty()) {
        let city = state.city.get(&state.store).await?;
        let unknown = || {
            invalid(
                "unknown_matter",
                "未知的诉求类别，请选择最末级事项",
                "unknown category: choose a leaf matter",
            )
        };
        let matter = city
            .catalog_matter(code)
            .filter(|m| city.catalog.is_leaf(*m))
            .ok_or_else(unknown)?;
        let policy = city.catalog.policy(matter).ok_or_else(unknown)?;
        follow_up.push((
            Actor::SYSTEM,
            super::requests::classified_by_person(matter, policy),
        ));
    }
    let new = NewRequest {
        channel,
        requester_kind,
        title: body.title.trim().to_string(),
        text: text.to_string(),
        location: Location {
            division,
            address: body.address.trim().to_string(),
            lat_lng,
        },
        requester: RequesterInfo {
            name,
            phone: Some(phone),
            address: String::new(),
            enterprise_name: body.enterprise_name.filter(|n| !n.trim().is_empty()),
        },
        idempotency_key,
        follow_up,
    };
    Ok(new)
}

/// Query of the tracking page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrackQuery {
    pub phone_last4: Option<String>,
}

/// What tracking shows: without the phone check only the state and dates.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Tracking {
    pub tracking_code: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub received_at: DateTime<Utc>,
    pub verified: bool,
    pub title: Option<String>,
    pub text: Option<String>,
    pub lead_unit: Option<String>,
    pub reply: Option<String>,
    pub handling_due_at: Option<DateTime<Utc>>,
    pub timeline: Vec<TimelineEntry>,
}

/// One step of the public timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub kind: &'static str,
}

async fn find(state: &AppState, code: &str) -> Result<(Request, Option<String>), ApiError> {
    let code = TrackingCode::parse(code).map_err(|e| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "bad_tracking_code",
            "查询码不正确，请核对",
            e.to_string(),
        )
    })?;
    let request = state
        .store
        .find_by_tracking_code(&code)
        .await?
        .ok_or_else(|| ApiError::not_found("request"))?;
    let phone = state
        .store
        .requester(request.id)
        .await?
        .and_then(|r| r.phone)
        .map(|p| p.last_four().to_string());
    Ok((request, phone))
}

/// `GET /api/v1/public/requests/{code}`: the state of a request; with `phone_last4` matching the
/// requester's phone, also its content, the handling unit, the reply and the timeline.
#[utoipa::path(get, path = "/public/requests/{code}", tag = "public",
    params(("code" = String, Path, description = "Tracking code (查询码)"), TrackQuery),
    responses((status = 200, body = Tracking), (status = 404, body = crate::error::ErrorBody)))]
pub async fn track(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
    ApiQuery(query): ApiQuery<TrackQuery>,
) -> Result<Json<Tracking>, ApiError> {
    let (request, phone) = find(&state, &code).await?;
    let verified =
        matches!((&query.phone_last4, &phone), (Some(given), Some(real)) if given == real);
    let mut tracking = Tracking {
        tracking_code: request.intake.tracking_code.to_string(),
        state: request.state.as_str(),
        state_label: request.state.label_zh(),
        received_at: request.received_at,
        verified,
        title: None,
        text: None,
        lead_unit: None,
        reply: None,
        handling_due_at: None,
        timeline: Vec::new(),
    };
    if verified {
        let city = state.city.get(&state.store).await?;
        tracking.title = Some(request.intake.title.clone());
        tracking.text = Some(request.intake.text.clone());
        tracking.lead_unit = request
            .lead()
            .and_then(|u| city.units.get(&u))
            .map(|u| u.name.clone());
        tracking.reply = request.reply.as_ref().map(|r| r.text.clone());
        tracking.handling_due_at = request.handling_clock.map(|c| c.due_at);
        tracking.timeline = state
            .store
            .events(request.id)
            .await?
            .iter()
            .map(|e| TimelineEntry {
                at: e.at,
                kind: e.kind.name(),
            })
            .collect();
    }
    Ok(Json(tracking))
}

/// `POST /api/v1/public/requests/{code}/rating` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingBody {
    pub phone_last4: String,
    pub satisfaction: String,
    pub solved: bool,
    #[serde(default)]
    pub comment: String,
}

/// `POST /api/v1/public/requests/{code}/rating`: the requester rates the reply (回访评价).
#[utoipa::path(post, path = "/public/requests/{code}/rating", tag = "public", request_body = RatingBody,
    params(("code" = String, Path, description = "Tracking code (查询码)")),
    responses((status = 200, body = Tracking), (status = 403, description = "Phone check failed", body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, description = "Not awaiting a rating", body = crate::error::ErrorBody)))]
pub async fn rate(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
    ApiJson(body): ApiJson<RatingBody>,
) -> Result<Json<Tracking>, ApiError> {
    let (request, phone) = find(&state, &code).await?;
    if phone.as_deref() != Some(body.phone_last4.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "phone_check_failed",
            "手机号后四位不匹配",
            "the last four digits of the phone do not match",
        ));
    }
    let command = Command::Rate {
        satisfaction: parse_satisfaction(&body.satisfaction)?,
        solved: body.solved,
        comment: body.comment,
    };
    state
        .store
        .execute(request.id, &Actor::REQUESTER, &command, Utc::now())
        .await?;
    track(
        State(state),
        ApiPath(code),
        ApiQuery(TrackQuery {
            phone_last4: Some(body.phone_last4),
        }),
    )
    .await
}
