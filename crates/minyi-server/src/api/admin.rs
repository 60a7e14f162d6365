//! Administration (管理): divisions, units, the matter catalogue, the responsibility list and its
//! completeness check, the working calendar, staff accounts and Open311 API keys.
//!
//! Reads of divisions, units and the catalogue are open to every signed-in staff member (a
//! dispatcher picks units from them); every write and the other reads are for `admin` only. Each
//! write is all-or-nothing (the store validates the whole import before committing) and clears
//! the node's [`crate::reference::CityCache`], so the next request sees the new data.

use crate::AppState;
use crate::auth::Staff;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use minyi_domain::calendar::{WorkCalendar, WorkingHours};
use minyi_domain::unit::Role;
use minyi_store::{
    ApiKeyInfo, DivisionRow, MatterRow, Principal, RuleRow, Store, UnitRow, UserAccount,
    UserChange, UserInfo,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn require_admin(principal: &Principal) -> Result<(), ApiError> {
    if principal.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden("role_not_allowed"))
    }
}

/// How many rows an import wrote.
#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    pub rows: usize,
}

async fn imported(state: &AppState, rows: usize) -> Json<Imported> {
    state.city.invalidate().await;
    Json(Imported { rows })
}

/// `GET /api/v1/divisions`: every division, parents before children.
#[utoipa::path(get, path = "/divisions", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<DivisionRow>), (status = 401, body = ErrorBody)))]
pub async fn divisions(
    State(state): State<AppState>,
    _staff: Staff,
) -> Result<Json<Vec<DivisionRow>>, ApiError> {
    Ok(Json(state.store.export_divisions().await?))
}

/// `POST /api/v1/admin/divisions`: inserts or updates divisions by code.
#[utoipa::path(post, path = "/admin/divisions", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    request_body = Vec<DivisionRow>,
    responses((status = 200, body = Imported), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_divisions(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(rows): ApiJson<Vec<DivisionRow>>,
) -> Result<Json<Imported>, ApiError> {
    require_admin(&principal)?;
    let n = state.store.import_divisions(&rows).await?;
    Ok(imported(&state, n).await)
}

/// `GET /api/v1/units`: every unit.
#[utoipa::path(get, path = "/units", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<UnitRow>), (status = 401, body = ErrorBody)))]
pub async fn units(
    State(state): State<AppState>,
    _staff: Staff,
) -> Result<Json<Vec<UnitRow>>, ApiError> {
    Ok(Json(state.store.export_units().await?))
}

/// `POST /api/v1/admin/units`: inserts or updates units by code.
#[utoipa::path(post, path = "/admin/units", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    request_body = Vec<UnitRow>,
    responses((status = 200, body = Imported), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_units(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(rows): ApiJson<Vec<UnitRow>>,
) -> Result<Json<Imported>, ApiError> {
    require_admin(&principal)?;
    let n = state.store.import_units(&rows).await?;
    Ok(imported(&state, n).await)
}

/// `GET /api/v1/catalog`: the matter catalogue (事项目录).
#[utoipa::path(get, path = "/catalog", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<MatterRow>), (status = 401, body = ErrorBody)))]
pub async fn catalog(
    State(state): State<AppState>,
    _staff: Staff,
) -> Result<Json<Vec<MatterRow>>, ApiError> {
    Ok(Json(state.store.export_matters().await?))
}

/// `POST /api/v1/admin/catalog`: inserts or updates matters by code.
#[utoipa::path(post, path = "/admin/catalog", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    request_body = Vec<MatterRow>,
    responses((status = 200, body = Imported), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_catalog(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(rows): ApiJson<Vec<MatterRow>>,
) -> Result<Json<Imported>, ApiError> {
    require_admin(&principal)?;
    let n = state.store.import_matters(&rows).await?;
    Ok(imported(&state, n).await)
}

/// `GET /api/v1/admin/rules`: the responsibility list (职责清单).
#[utoipa::path(get, path = "/admin/rules", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<RuleRow>), (status = 403, body = ErrorBody)))]
pub async fn rules(
    State(state): State<AppState>,
    Staff(principal): Staff,
) -> Result<Json<Vec<RuleRow>>, ApiError> {
    require_admin(&principal)?;
    Ok(Json(state.store.export_rules().await?))
}

/// `PUT /api/v1/admin/rules`: replaces the whole responsibility list, all or nothing.
#[utoipa::path(put, path = "/admin/rules", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    request_body = Vec<RuleRow>,
    responses((status = 200, body = Imported), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_rules(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(rows): ApiJson<Vec<RuleRow>>,
) -> Result<Json<Imported>, ApiError> {
    require_admin(&principal)?;
    let n = state.store.replace_rules(&rows).await?;
    Ok(imported(&state, n).await)
}

/// One gap or conflict of the completeness check, by names.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingView {
    pub matter: String,
    pub division: String,
    pub rule_ids: Vec<i64>,
}

/// The completeness check of the responsibility list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    pub leaf_matters: usize,
    pub leaf_divisions: usize,
    pub combinations: u64,
    pub gaps: u64,
    pub conflicts: u64,
    pub complete: bool,
    pub gap_samples: Vec<FindingView>,
    pub conflict_samples: Vec<FindingView>,
}

/// `GET /api/v1/admin/rules/check`: every leaf matter × every leaf division resolved; gaps (no
/// rule: the fallback unit takes it) and conflicts (two rules, no winner) counted and sampled.
#[utoipa::path(get, path = "/admin/rules/check", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CheckView), (status = 403, body = ErrorBody)))]
pub async fn check_rules(
    State(state): State<AppState>,
    Staff(principal): Staff,
) -> Result<Json<CheckView>, ApiError> {
    require_admin(&principal)?;
    let city = state.city.get(&state.store).await?;
    let shared = city.clone();
    let report =
        tokio::task::spawn_blocking(move || shared.list.check(&shared.catalog, &shared.divisions))
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "check_failed",
                    "完整性检查未能完成",
                    "the completeness check did not finish",
                )
            })?;
    let finding = |f: &minyi_domain::responsibility::Finding| FindingView {
        matter: city.catalog.path_name(f.matter),
        division: city.divisions.path_name(f.division),
        rule_ids: f.rules.iter().map(|r| r.0).collect(),
    };
    Ok(Json(CheckView {
        leaf_matters: report.leaf_matters,
        leaf_divisions: report.leaf_divisions,
        combinations: report.combinations,
        gaps: report.gaps,
        conflicts: report.conflicts,
        complete: report.is_complete(),
        gap_samples: report.gap_samples.iter().map(finding).collect(),
        conflict_samples: report.conflict_samples.iter().map(finding).collect(),
    }))
}

/// The working calendar: working hours and the day overrides as CSV (`date,kind,name`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarBody {
    /// e.g. `09:00-12:00,14:00-18:00`.
    pub working_hours: String,
    /// Holidays (`holiday`) and make-up working days (`workday`), one per line.
    pub overrides_csv: String,
}

/// `GET /api/v1/admin/calendar`.
#[utoipa::path(get, path = "/admin/calendar", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CalendarBody), (status = 403, body = ErrorBody)))]
pub async fn calendar(
    State(state): State<AppState>,
    Staff(principal): Staff,
) -> Result<Json<CalendarBody>, ApiError> {
    require_admin(&principal)?;
    let calendar = state.store.calendar();
    Ok(Json(CalendarBody {
        working_hours: calendar.hours().to_string(),
        overrides_csv: WorkCalendar::overrides_to_csv(calendar.overrides()),
    }))
}

/// `PUT /api/v1/admin/calendar`: replaces the calendar; deadlines already set keep their dates,
/// new clocks use the new calendar.
#[utoipa::path(put, path = "/admin/calendar", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    request_body = CalendarBody,
    responses((status = 200, body = CalendarBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_calendar(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(body): ApiJson<CalendarBody>,
) -> Result<Json<CalendarBody>, ApiError> {
    require_admin(&staff.0)?;
    let invalid = |e: minyi_domain::calendar::CalendarError| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_calendar",
            format!("日历无效：{e}"),
            e.to_string(),
        )
    };
    let hours = WorkingHours::parse(&body.working_hours).map_err(invalid)?;
    let overrides = WorkCalendar::parse_overrides_csv(&body.overrides_csv).map_err(invalid)?;
    state.store.replace_calendar(&overrides, &hours).await?;
    calendar(State(state), staff).await
}

/// `GET /api/v1/admin/users`: every staff account.
#[utoipa::path(get, path = "/admin/users", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<UserInfo>), (status = 403, body = ErrorBody)))]
pub async fn users(
    State(state): State<AppState>,
    Staff(principal): Staff,
) -> Result<Json<Vec<UserInfo>>, ApiError> {
    require_admin(&principal)?;
    Ok(Json(state.store.list_users().await?))
}

/// A new staff account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    pub username: String,
    pub display_name: String,
    /// operator, dispatcher, unit_handler, unit_leader, supervisor, admin, service_team.
    pub role: String,
    /// Required for unit_handler and unit_leader.
    pub unit_code: Option<String>,
    pub password: String,
}

/// Changes to an account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChangeBody {
    pub display_name: Option<String>,
    pub role: Option<String>,
    /// A unit code; an empty string removes the unit.
    pub unit_code: Option<String>,
    pub active: Option<bool>,
    pub password: Option<String>,
}

fn parse_role(s: &str) -> Result<Role, ApiError> {
    Role::parse(s)
        .filter(|r| !matches!(r, Role::Requester | Role::System))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_role",
                format!("未知角色 {s}"),
                format!("unknown role {s}"),
            )
        })
}

/// Minimum password length for staff accounts.
pub const MIN_PASSWORD_CHARS: usize = crate::password::MIN_CHARS;

fn check_username(username: &str) -> Result<(), ApiError> {
    let ok = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_username",
            "用户名须为 3 至 64 个字母、数字、下划线、连字符或点",
            "a username has 3 to 64 letters, digits, '_', '-' or '.'",
        ))
    }
}

/// `POST /api/v1/admin/users`: creates an account.
#[utoipa::path(post, path = "/admin/users", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    request_body = NewUserBody,
    responses((status = 201, body = UserInfo), (status = 403, body = ErrorBody),
        (status = 409, description = "Username taken", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_user(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<(StatusCode, Json<UserInfo>), ApiError> {
    require_admin(&principal)?;
    check_username(&body.username)?;
    crate::password::check(&body.username, &body.password)?;
    let role = parse_role(&body.role)?;
    if state
        .store
        .list_users()
        .await?
        .iter()
        .any(|u| u.username == body.username)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "username_taken",
            "用户名已被使用",
            "the username is taken",
        ));
    }
    let display_name = body.display_name.trim();
    let id = state
        .store
        .create_user(
            &UserAccount {
                username: body.username.clone(),
                display_name: if display_name.is_empty() {
                    body.username.clone()
                } else {
                    display_name.to_string()
                },
                role,
                unit_code: body.unit_code.filter(|c| !c.trim().is_empty()),
                password: body.password,
            },
            Utc::now().timestamp_millis(),
        )
        .await?;
    let user = find_user(&state.store, |u| u.id == id.0).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn find_user(store: &Store, pred: impl Fn(&UserInfo) -> bool) -> Result<UserInfo, ApiError> {
    store
        .list_users()
        .await?
        .into_iter()
        .find(pred)
        .ok_or_else(|| ApiError::not_found("user"))
}

/// `PATCH /api/v1/admin/users/{username}`: changes role, unit, name, password or deactivates;
/// a change of role or password, or deactivation, ends the account's sessions.
#[utoipa::path(patch, path = "/admin/users/{username}", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    params(("username" = String, Path)), request_body = UserChangeBody,
    responses((status = 200, body = UserInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn update_user(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath(username): ApiPath<String>,
    ApiJson(body): ApiJson<UserChangeBody>,
) -> Result<Json<UserInfo>, ApiError> {
    require_admin(&principal)?;
    if let Some(p) = &body.password {
        crate::password::check(&username, p)?;
    }
    if username == principal.username && (body.active == Some(false) || body.role.is_some()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "cannot_demote_self",
            "不能停用自己的账号或更改自己的角色",
            "you cannot deactivate your own account or change your own role",
        ));
    }
    let change = UserChange {
        display_name: body.display_name,
        role: body.role.as_deref().map(parse_role).transpose()?,
        unit_code: body
            .unit_code
            .map(|c| Some(c.trim().to_string()).filter(|c| !c.is_empty())),
        active: body.active,
        password: body.password,
    };
    Ok(Json(state.store.update_user(&username, &change).await?))
}

/// `GET /api/v1/admin/api-keys`: the Open311 API keys (ids and labels; keys are shown once).
#[utoipa::path(get, path = "/admin/api-keys", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<ApiKeyInfo>), (status = 403, body = ErrorBody)))]
pub async fn api_keys(
    State(state): State<AppState>,
    Staff(principal): Staff,
) -> Result<Json<Vec<ApiKeyInfo>>, ApiError> {
    require_admin(&principal)?;
    Ok(Json(state.store.list_api_keys().await?))
}

/// A key to issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    /// Who the key is for, e.g. the city app's name.
    pub label: String,
}

/// A freshly issued key: `api_key` is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedKey {
    pub key_id: String,
    pub label: String,
    pub api_key: String,
}

/// `POST /api/v1/admin/api-keys`: issues an Open311 API key.
#[utoipa::path(post, path = "/admin/api-keys", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    request_body = NewKeyBody,
    responses((status = 201, body = IssuedKey), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn issue_api_key(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiJson(body): ApiJson<NewKeyBody>,
) -> Result<(StatusCode, Json<IssuedKey>), ApiError> {
    require_admin(&principal)?;
    let label = body.label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_label",
            "标签须为 1 至 100 个字符",
            "the label has 1 to 100 characters",
        ));
    }
    let key = state.store.create_api_key(label, Utc::now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedKey {
            key_id: Store::api_key_id(&key),
            label: label.to_string(),
            api_key: key,
        }),
    ))
}

/// `DELETE /api/v1/admin/api-keys/{key_id}`: revokes a key at once.
#[utoipa::path(delete, path = "/admin/api-keys/{key_id}", tag = "admin", security(("bearer" = []), ("cookie" = [])),
    params(("key_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    Staff(principal): Staff,
    ApiPath(key_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&principal)?;
    state.store.revoke_api_key(&key_id, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
