//! Staff sign-in and sign-out, and the home that sends each role to its page. The session is the
//! API's cookie session (same cookie, same store call), so pages and API share it.

use super::i18n::Lang;
use super::{Ctx, NextQuery, WebStaff, cookie_value, error_page, render, safe_next};
use crate::AppState;
use crate::auth::{LoginRefusal, SESSION_COOKIE, SESSION_HOURS, check_credentials};
use crate::error::ApiError;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use minyi_domain::unit::Role;
use minyi_store::SessionKind;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Ctx,
    next: String,
    username: String,
    error: String,
}

/// `GET /login`: the sign-in form.
pub async fn login_form(l: Lang, Query(q): Query<NextQuery>) -> Response {
    render(
        StatusCode::OK,
        &LoginPage {
            c: Ctx::public(l, "/login"),
            next: q.next.unwrap_or_default(),
            username: String::new(),
            error: String::new(),
        },
    )
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub next: String,
}

/// `POST /login`: checks the password, opens a cookie session and goes on.
pub async fn login(State(state): State<AppState>, l: Lang, Form(f): Form<LoginForm>) -> Response {
    let c = Ctx::public(l, "/login");
    let user = match check_credentials(&state, &f.username, &f.password).await {
        Ok(user) => user,
        Err(LoginRefusal::Error(e)) => return error_page(c, &e),
        Err(refusal) => {
            let (status, message, retry_after) = match refusal {
                LoginRefusal::Locked { retry_after_secs } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "account_locked",
                    Some(retry_after_secs),
                ),
                _ => (StatusCode::UNAUTHORIZED, "bad_credentials", None),
            };
            let mut response = render(
                status,
                &LoginPage {
                    error: c.t(message).to_string(),
                    c,
                    next: f.next,
                    username: f.username,
                },
            );
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return response;
        }
    };
    let session = match state
        .store
        .create_session(
            user,
            SessionKind::Cookie,
            Duration::hours(SESSION_HOURS),
            Utc::now(),
        )
        .await
    {
        Ok(s) => s,
        Err(e) => return error_page(c, &ApiError::from(e)),
    };
    let next = if f.next.is_empty() {
        "/home".to_string()
    } else {
        safe_next(Some(&f.next))
    };
    let mut response = Redirect::to(&next).into_response();
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        session.token,
        SESSION_HOURS * 3600
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// A form that only carries the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /logout`: ends the session.
pub async fn logout(
    State(state): State<AppState>,
    staff: WebStaff,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = staff.check_csrf(&f.csrf) {
        return *r;
    }
    if let Some(token) = cookie_value(&headers, SESSION_COOKIE)
        && let Err(e) = state.store.delete_session(token).await
    {
        return error_page(staff.c, &ApiError::from(e));
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("minyi_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    response
}

/// The page each role starts on.
pub fn home_of(role: Role) -> &'static str {
    match role {
        Role::Dispatcher => "/dispatch",
        Role::Operator => "/intake",
        Role::UnitHandler | Role::UnitLeader => "/unit",
        Role::Supervisor => "/supervise",
        Role::Admin => "/dashboard",
        Role::ServiceTeam => "/enterprise",
        Role::Requester | Role::System => "/",
    }
}

/// `GET /home`: sends the signed-in staff member to their page.
pub async fn home(staff: WebStaff) -> Response {
    Redirect::to(home_of(staff.principal.role)).into_response()
}
