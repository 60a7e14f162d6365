//! Signing in and who is asking.
//!
//! Staff sign in with username and password (Argon2id, checked by the store) and get either a
//! bearer token (API clients) or an HttpOnly, SameSite=Lax session cookie (browsers; `Secure`
//! when the server is configured for HTTPS). A cookie session must send its CSRF token in the
//! `X-CSRF-Token` header on every unsafe method. [`Staff`] extracts the principal or refuses with
//! 401; handlers then check the role.

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiJson;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
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
        (status = 429, description = "Too many attempts", body = crate::error::ErrorBody),
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
    let Some((user, _, _)) = state
        .store
        .verify_password(&body.username, &body.password)
        .await?
    else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "用户名或密码错误",
            "wrong username or password",
        ));
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
