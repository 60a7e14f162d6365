//! Signing in and who is asking.
//!
//! Staff sign in with username and password (Argon2id, checked by the store) and get either a
//! bearer token (API clients) or an HttpOnly, SameSite=Lax session cookie (browsers; `Secure`
//! when the server is configured for HTTPS). A cookie session must send its CSRF token in the
//! `X-CSRF-Token` header on every unsafe method. [`Staff`] extracts the principal or refuses with
//! 401; handlers then check the role.
//!
//! Both sign-in forms (this API and the web page) go through [`check_credentials`]: after
//! [`minyi_store::LockoutPolicy::max_failures`] failures for one username within the window, the
//! username is refused for a while with 429 `account_locked` and `Retry-After`, whatever the
//! password; the failures are counted in the database, so every node agrees. The lock applies to
//! any username typed, so it does not tell which accounts exist.

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiJson;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use minyi_domain::UserId;
use minyi_store::{Principal, SessionKind};
use serde::{Deserialize, Serialize};

/// The cookie that carries a browser session.
pub const SESSION_COOKIE: &str = "minyi_session";
/// The header that carries a cookie session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;

/// A signed-in staff member.
#[derive(Debug, Clone)]
pub struct Staff(pub Principal);

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, via_cookie) = match (bearer(&parts.headers), cookie(&parts.headers)) {
            (Some(t), _) => (t.to_string(), false),
            (None, Some(t)) => (t.to_string(), true),
            (None, None) => return Err(ApiError::unauthenticated()),
        };
        let principal = state
            .store
            .session_principal(&token, Utc::now())
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if via_cookie && unsafe_method {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if sent != Some(principal.csrf_token.as_str()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_failed",
                    "缺少或错误的 CSRF 令牌",
                    "missing or wrong CSRF token",
                ));
            }
        }
        Ok(Staff(principal))
    }
}

/// `POST /api/v1/auth/login` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
    /// `bearer` (default) or `cookie`.
    #[serde(default)]
    pub session: Option<String>,
}

/// The signed-in account, as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub unit_id: Option<i64>,
}

impl From<&Principal> for Me {
    fn from(p: &Principal) -> Self {
        Me {
            id: p.user.0,
            username: p.username.clone(),
            display_name: p.display_name.clone(),
            role: p.role.as_str(),
            unit_id: p.unit.map(|u| u.0),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginAnswer {
    /// The bearer token (absent for cookie sessions).
    token: Option<String>,
    csrf_token: String,
    expires_at: chrono::DateTime<Utc>,
    user: Me,
}

/// `POST /api/v1/auth/login`: checks the password and opens a session.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in; cookie sessions also get `Set-Cookie`", body = LoginAnswer),
        (status = 401, description = "Wrong username or password", body = crate::error::ErrorBody),
        (status = 429, description = "Too many attempts from this address (`rate_limited`), or too many failed sign-ins for this username (`account_locked`); see `Retry-After`", body = crate::error::ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let kind = match body.session.as_deref() {
        None | Some("bearer") => SessionKind::Bearer,
        Some("cookie") => SessionKind::Cookie,
        Some(_) => {
            return Err(ApiError::bad_request(
                "session 只能是 bearer 或 cookie",
                "session must be bearer or cookie",
            ));
        }
    };
    let user = match check_credentials(&state, &body.username, &body.password).await {
        Ok(user) => user,
        Err(refusal) => return Ok(refusal.into_response()),
    };
    let now = Utc::now();
    let session = state
        .store
        .create_session(user, kind, Duration::hours(SESSION_HOURS), now)
        .await?;
    let principal = state
        .store
        .session_principal(&session.token, now)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    let answer = LoginAnswer {
        token: (kind == SessionKind::Bearer).then(|| session.token.clone()),
        csrf_token: session.csrf_token.clone(),
        expires_at: session.expires_at,
        user: Me::from(&principal),
    };
    let mut response = Json(answer).into_response();
    if kind == SessionKind::Cookie {
        let secure = if state.secure_cookies { "; Secure" } else { "" };
        let value = format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            session.token,
            SESSION_HOURS * 3600
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// Why a sign-in was refused.
#[derive(Debug)]
pub enum LoginRefusal {
    /// Wrong username or password (401 `bad_credentials`).
    BadCredentials,
    /// Too many failures: refused until then (429 `account_locked` with `Retry-After`).
    Locked { retry_after_secs: i64 },
    /// The store failed.
    Error(ApiError),
}

impl From<minyi_store::StoreError> for LoginRefusal {
    fn from(e: minyi_store::StoreError) -> Self {
        LoginRefusal::Error(e.into())
    }
}

impl IntoResponse for LoginRefusal {
    fn into_response(self) -> Response {
        match self {
            LoginRefusal::BadCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "用户名或密码错误",
                "wrong username or password",
            )
            .into_response(),
            LoginRefusal::Locked { retry_after_secs } => {
                let minutes = (retry_after_secs + 59) / 60;
                let mut response = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "account_locked",
                    format!("登录失败次数过多，账号已临时锁定，请 {minutes} 分钟后再试"),
                    format!(
                        "too many failed sign-ins: the account is locked; try again in {minutes} min"
                    ),
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                response
            }
            LoginRefusal::Error(e) => e.into_response(),
        }
    }
}

/// Checks a username and password under the lockout policy: a locked username is refused
/// before its password is looked at; a failure is counted (and may lock); a success clears the
/// count.
pub async fn check_credentials(
    state: &AppState,
    username: &str,
    password: &str,
) -> Result<UserId, LoginRefusal> {
    let now = Utc::now();
    let locked = |until: chrono::DateTime<Utc>| LoginRefusal::Locked {
        retry_after_secs: ((until - now).num_milliseconds() + 999)
            .div_euclid(1000)
            .max(1),
    };
    if let Some(until) = state.store.login_locked_until(username, now).await? {
        return Err(locked(until));
    }
    match state.store.verify_password(username, password).await? {
        Some((user, _, _)) => {
            state.store.clear_login_failures(username).await?;
            Ok(user)
        }
        None => match state
            .store
            .record_login_failure(username, state.lockout, now)
            .await?
        {
            Some(until) => Err(locked(until)),
            None => Err(LoginRefusal::BadCredentials),
        },
    }
}

/// `POST /api/v1/auth/logout`: ends the session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    _staff: Staff,
) -> Result<Response, ApiError> {
    if let Some(token) = bearer(&headers).or_else(|| cookie(&headers)) {
        state.store.delete_session(token).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("minyi_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(response)
}

/// `GET /api/v1/auth/me`: the signed-in account.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Me),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody)))]
pub async fn me(Staff(principal): Staff) -> Json<Me> {
    Json(Me::from(&principal))
}
