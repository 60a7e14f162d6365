//! The web interface, rendered on the server: the citizens' portal (submit, track, rate) and
//! the staff pages (sign-in, operator intake, dispatch console, unit workbench, request search,
//! supervision, dashboard, administration).
//!
//! Pages call the store and the city cache directly. Staff sign in with the same HttpOnly session
//! cookie as the API; every form that changes something carries the session's CSRF token in a
//! hidden field, checked here before anything runs. Chinese is the default language; `?lang=en`
//! or the `minyi_lang` cookie switches to English.

pub mod admin;
pub mod citizen;
pub mod dashboard;
pub mod dispatch;
pub mod enterprise;
pub mod i18n;
pub mod intake;
pub mod kpi;
pub mod request;
pub mod search;
pub mod staff;
pub mod supervise;
pub mod unit;

use crate::AppState;
use crate::auth::SESSION_COOKIE;
use crate::error::ApiError;
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Path};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use i18n::Lang;
use minyi_store::Principal;
use rust_embed::Embed;

/// Our stylesheet and the vendored browser libraries (see `build.rs`).
#[derive(Embed)]
#[folder = "assets/"]
struct Assets;

/// The web routes (pages at `/` and below, static files under `/static/`).
pub fn router(limits: &crate::limits::Layers) -> Router<AppState> {
    Router::new()
        .route("/", get(citizen::portal))
        .route(
            "/submit",
            get(citizen::submit_form).post(citizen::submit.layer(limits.public_intake.clone())),
        )
        .route("/catalog/search", get(citizen::catalog_search))
        .route("/divisions/options", get(citizen::division_options))
        .route("/track", get(citizen::track))
        .route("/rate", post(citizen::rate))
        .route("/lang/{lang}", get(switch_language))
        .route(
            "/login",
            get(staff::login_form).post(staff::login.layer(limits.login.clone())),
        )
        .route("/logout", post(staff::logout))
        .route("/home", get(staff::home))
        .route("/intake", get(intake::form).post(intake::file))
        .route("/intake/suggest", post(intake::suggest))
        .route("/requests", get(search::page))
        .route("/requests/{id}", get(request::page))
        .route("/requests/{id}/{action}", post(request::act))
        .route("/dispatch", get(dispatch::console))
        .route(
            "/duplicates/{id}/dismiss",
            post(dispatch::dismiss_duplicate),
        )
        .route(
            "/hotspots/{id}/acknowledge",
            post(dispatch::acknowledge_hotspot),
        )
        .route("/unit", get(unit::workbench))
        .route("/supervise", get(supervise::page))
        .route("/dashboard", get(dashboard::page))
        .route("/kpi", get(kpi::page))
        .route("/kpi/bulletin", get(kpi::bulletin))
        .route("/enterprise", get(enterprise::workbench))
        .route("/enterprise/kpis", get(enterprise::kpi_page))
        .route("/enterprise/needs/{id}", get(enterprise::need_page))
        .route("/enterprise/matches/{id}", post(enterprise::match_step))
        .route("/enterprise/{id}", get(enterprise::enterprise_page))
        .route("/enterprise/{id}/visits", post(enterprise::log_visit))
        .route("/enterprise/{id}/needs", post(enterprise::post_need))
        .route("/admin", get(admin::index))
        .route("/admin/divisions", get(admin::divisions))
        .route(
            "/admin/divisions/{id}/children",
            get(admin::division_children),
        )
        .route("/admin/catalog", get(admin::catalog))
        .route("/admin/catalog/{id}/children", get(admin::catalog_children))
        .route("/admin/pick/matters", get(admin::pick_matters))
        .route("/admin/pick/divisions", get(admin::pick_divisions))
        .route("/admin/rules", get(admin::rules).post(admin::save_rule))
        .route("/admin/rules/check", get(admin::rules_check))
        .route("/admin/rules/{index}/delete", post(admin::delete_rule))
        .route("/admin/units", get(admin::units).post(admin::save_unit))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/{username}", post(admin::update_user))
        .route(
            "/admin/calendar",
            get(admin::calendar).post(admin::save_calendar),
        )
        .route(
            "/admin/api-keys",
            get(admin::api_keys).post(admin::issue_api_key),
        )
        .route(
            "/admin/api-keys/{key_id}/revoke",
            post(admin::revoke_api_key),
        )
        .route(
            "/admin/knowledge",
            get(admin::knowledge).post(admin::save_knowledge),
        )
        .route("/static/{*path}", get(asset))
}

async fn asset(Path(path): Path<String>) -> Response {
    let mime = match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let Some(file) = Assets::get(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        file.data.into_owned(),
    )
        .into_response()
}

/// `GET /lang/{zh|en}?next=…`: remembers the language in a cookie and goes back.
async fn switch_language(
    Path(lang): Path<String>,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Response {
    let lang = Lang::parse(&lang).unwrap_or_default();
    let next = safe_next(q.next.as_deref());
    let mut response = Redirect::to(&next).into_response();
    let cookie = format!(
        "{}={}; Path=/; SameSite=Lax; Max-Age=31536000",
        i18n::LANG_COOKIE,
        lang.code()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// A `next=` query parameter.
#[derive(Debug, serde::Deserialize, Default)]
pub struct NextQuery {
    pub next: Option<String>,
}

/// Only paths on this site are followed after sign-in or a language switch.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

/// A cookie's value from the request headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The signed-in staff member as the layout shows them.
#[derive(Debug, Clone)]
pub struct UserView {
    pub name: String,
    pub role: &'static str,
    pub role_label: &'static str,
}

/// What every page's layout needs: the language, who is signed in, the CSRF token for forms
/// and the current path (for the language switch).
#[derive(Debug, Clone)]
pub struct Ctx {
    pub l: Lang,
    pub user: Option<UserView>,
    pub csrf: String,
    pub path: String,
}

impl Ctx {
    /// A context for a visitor who is not signed in.
    pub fn public(l: Lang, path: &str) -> Self {
        Ctx {
            l,
            user: None,
            csrf: String::new(),
            path: path.to_string(),
        }
    }

    /// A context for a signed-in staff member.
    pub fn staff(l: Lang, principal: &Principal, path: &str) -> Self {
        Ctx {
            l,
            user: Some(UserView {
                name: principal.display_name.clone(),
                role: principal.role.as_str(),
                role_label: l.role(principal.role),
            }),
            csrf: principal.csrf_token.clone(),
            path: path.to_string(),
        }
    }

    /// The message for a key in the page's language.
    pub fn t(&self, key: &str) -> &'static str {
        self.l.t(key)
    }

    /// The link that switches to the other language and comes back here.
    pub fn switch_href(&self) -> String {
        format!(
            "/lang/{}?next={}",
            self.l.other().code(),
            i18n::url_encode(&self.path)
        )
    }

    /// Whether the signed-in user has this role.
    pub fn is(&self, role: &str) -> bool {
        self.user.as_ref().is_some_and(|u| u.role == role)
    }
}

/// Renders a template with a status; a template that fails to render is a 500.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("template failed: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub c: Ctx,
    pub status: u16,
    pub message: String,
}

/// An error as a page in the visitor's language.
pub fn error_page(c: Ctx, error: &ApiError) -> Response {
    let message = match c.l {
        Lang::Zh => error.zh.clone(),
        Lang::En => error.en.clone(),
    };
    render(
        error.status,
        &ErrorPage {
            status: error.status.as_u16(),
            c,
            message,
        },
    )
}

/// A staff member signed in through the session cookie, with the page's language. Pages that
/// need it send anyone else to the sign-in page.
pub struct WebStaff {
    pub principal: Principal,
    pub c: Ctx,
}

impl FromRequestParts<AppState> for WebStaff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let l = Lang::from_parts(parts);
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let to_login =
            || Redirect::to(&format!("/login?next={}", i18n::url_encode(&path))).into_response();
        let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        match state.store.session_principal(token, Utc::now()).await {
            Ok(Some(principal)) => {
                let c = Ctx::staff(l, &principal, &path);
                Ok(WebStaff { principal, c })
            }
            Ok(None) => Err(to_login()),
            Err(e) => Err(error_page(Ctx::public(l, &path), &ApiError::from(e))),
        }
    }
}

impl WebStaff {
    /// Refuses with a 403 page unless the staff member has one of these roles.
    pub fn require(&self, roles: &[minyi_domain::unit::Role]) -> Result<(), Box<Response>> {
        if roles.contains(&self.principal.role) {
            Ok(())
        } else {
            Err(Box::new(error_page(
                self.c.clone(),
                &ApiError::forbidden("role_not_allowed"),
            )))
        }
    }

    /// Refuses with a 403 page unless the staff member has one of these roles and, for a form
    /// (`Some`), the form carried this session's CSRF token.
    pub fn admit(
        &self,
        roles: &[minyi_domain::unit::Role],
        csrf: Option<&str>,
    ) -> Result<(), Box<Response>> {
        self.require(roles)?;
        if let Some(sent) = csrf {
            self.check_csrf(sent)?;
        }
        Ok(())
    }

    /// Refuses with a 403 page unless the form carried this session's CSRF token.
    pub fn check_csrf(&self, sent: &str) -> Result<(), Box<Response>> {
        if !sent.is_empty() && sent == self.principal.csrf_token {
            Ok(())
        } else {
            Err(Box::new(error_page(
                self.c.clone(),
                &ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_failed",
                    "表单已失效，请刷新页面后重试",
                    "the form has expired; reload the page and try again",
                ),
            )))
        }
    }
}

/// A time as people in the city read it (UTC+8), `YYYY-MM-DD HH:MM`.
pub fn local_time(at: DateTime<Utc>) -> String {
    match chrono::FixedOffset::east_opt(8 * 3600) {
        Some(cst) => at.with_timezone(&cst).format("%Y-%m-%d %H:%M").to_string(),
        None => at.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}
