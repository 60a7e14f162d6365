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
        (name = "kpi", description = "KPIs, rankings, bulletins, automatic cards (考核、排名、通报)"),
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

/// The error answer for an input refusal: `ErrorBody`, or Open311's list of `Open311Error`.
fn refusal(open311: bool, description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::schema::Array;
    use utoipa::openapi::{Content, Ref, ResponseBuilder};
    let content = if open311 {
        Content::new(Some(Array::new(Ref::from_schema_name("Open311Error"))))
    } else {
        Content::new(Some(Ref::from_schema_name("ErrorBody")))
    };
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
        .build()
        .into()
}

/// Documents the refusals the extractors give before any handler runs (see [`crate::extract`]),
/// on every operation they can reach: 400 for a path or query that is malformed, not UTF-8 or
/// holds control characters; for a JSON body also 400 (malformed, not UTF-8), 413 (larger than
/// [`crate::MAX_BODY_BYTES`]), 415 (not JSON, another charset) and 422 (fields of the wrong type,
/// unknown fields, control characters). Responses an operation documents itself are kept.
pub fn document_input_errors(document: &mut Document) {
    for (path, item) in document.paths.paths.iter_mut() {
        let open311 = path.starts_with("/open311");
        let in_path = path.contains('{') || item.parameters.as_ref().is_some_and(|p| !p.is_empty());
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let has_parameters =
                in_path || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let json_body = !open311 && operation.request_body.is_some();
            let mut add = |status: &str, description: &str| {
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| refusal(open311, description));
            };
            if has_parameters || json_body {
                add(
                    "400",
                    "Malformed request: path, query or body not parseable, not UTF-8 or with control characters",
                );
            }
            if json_body {
                add("413", "Body larger than the limit (payload_too_large)");
                add(
                    "415",
                    "Body not JSON, or not UTF-8 (unsupported_media_type, unsupported_charset)",
                );
                add(
                    "422",
                    "Fields of the wrong type, unknown or with control characters (invalid_body, control_characters)",
                );
            }
        }
    }
}
