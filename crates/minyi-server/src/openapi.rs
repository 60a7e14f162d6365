//! The OpenAPI 3 document, generated from the handlers' `#[utoipa::path]` annotations.
//!
//! Routes are registered through [`utoipa_axum::router::OpenApiRouter`], so a handler is only
//! reachable if it is documented: the router and the document cannot drift apart. The document is
//! served at `/api/openapi.json` and browsed with Swagger UI at `/api/docs`, whose assets are
//! compiled into the binary (feature `vendored`): nothing is fetched from the internet.

use crate::AppState;
use axum::Router;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";
/// Where Swagger UI is served.
pub const UI_PATH: &str = "/api/docs";

/// The document's fixed parts: title, tags and security schemes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "minyi 民意速办 API",
        description = "Closed-loop citizen requests: intake, dispatch, handling, rating, \
                       supervision and administration. Errors are `{\"code\", \"message\"}`; \
                       messages are Chinese unless `Accept-Language: en` or `?lang=en`.",
        license(name = "Apache-2.0"),
    ),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Sign-in and sessions (登录)"),
        (name = "public", description = "Citizens and enterprises: submit, track, rate (市民)"),
        (name = "requests", description = "Staff: queues, one request, life-cycle actions (诉求办理)"),
        (name = "supervision", description = "Supervisors: overdue lists, yellow and red cards (督办)"),
        (name = "admin", description = "Administrators: divisions, units, users, catalogue, rules, calendar, keys (管理)"),
        (name = "enterprise", description = "Service teams: enterprises, visits, KPIs (组工助企行)"),
        (name = "engine", description = "The engine across requests: duplicates, hot spots, knowledge base (智能引擎)"),
        (name = "open311", description = "Open311 GeoReport v2"),
        (name = "system", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "Browser session; unsafe methods also need the X-CSRF-Token header",
            ))),
        );
    }
}

/// Serves `document` at [`DOCUMENT_PATH`] and Swagger UI at [`UI_PATH`].
pub fn docs_router(document: Document) -> Router<AppState> {
    Router::from(SwaggerUi::new(UI_PATH).url(DOCUMENT_PATH, document))
}
