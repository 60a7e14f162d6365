//! The REST API under `/api/v1`: one router, one module per resource. Every route is registered
//! from its `#[utoipa::path]` annotation, so it is in the OpenAPI document by construction.

pub mod admin;
pub mod enterprise;
pub mod kpi;
pub mod matchmaking;
pub mod public;
pub mod requests;
pub mod signals;
pub mod supervision;
pub mod view;

use crate::AppState;
use crate::auth;
use crate::limits::Layers;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The `/api/v1` routes with their documentation; public intake and sign-in are rate-limited
/// per client address.
pub fn router(limits: &Layers) -> OpenApiRouter<AppState> {
    let login = OpenApiRouter::new()
        .routes(routes!(auth::login))
        .layer(limits.login.clone());
    let intake = OpenApiRouter::new()
        .routes(routes!(public::submit))
        .layer(limits.public_intake.clone());
    OpenApiRouter::new()
        .merge(login)
        .merge(intake)
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(public::track))
        .routes(routes!(public::rate))
        .routes(routes!(requests::list))
        .routes(routes!(requests::get))
        .routes(routes!(requests::events))
        .routes(routes!(requests::act))
        .routes(routes!(supervision::queues))
        .routes(routes!(supervision::backlog))
        .routes(routes!(supervision::cards, supervision::issue_card))
        .routes(routes!(supervision::lift_card))
        .routes(routes!(admin::divisions))
        .routes(routes!(admin::import_divisions))
        .routes(routes!(admin::units))
        .routes(routes!(admin::import_units))
        .routes(routes!(admin::catalog))
        .routes(routes!(admin::import_catalog))
        .routes(routes!(admin::rules, admin::replace_rules))
        .routes(routes!(admin::check_rules))
        .routes(routes!(admin::calendar, admin::replace_calendar))
        .routes(routes!(admin::users, admin::create_user))
        .routes(routes!(admin::update_user))
        .routes(routes!(admin::api_keys, admin::issue_api_key))
        .routes(routes!(admin::revoke_api_key))
        .routes(routes!(enterprise::enterprises))
        .routes(routes!(enterprise::due_visits))
        .routes(routes!(enterprise::log_visit))
        .routes(routes!(enterprise::visit))
        .routes(routes!(enterprise::kpis))
        .routes(routes!(signals::duplicates))
        .routes(routes!(signals::dismiss_duplicate))
        .routes(routes!(signals::hotspots))
        .routes(routes!(signals::acknowledge_hotspot))
        .routes(routes!(signals::knowledge))
        .routes(routes!(signals::request_knowledge))
        .routes(routes!(signals::upsert_knowledge))
        .routes(routes!(signals::delete_knowledge))
        .routes(routes!(kpi::report))
        .routes(routes!(kpi::ranking))
        .routes(routes!(kpi::bulletin))
        .routes(routes!(kpi::weights, kpi::set_weights))
        .routes(routes!(kpi::card_rules, kpi::set_card_rules))
        .routes(routes!(kpi::apply_card_rules))
        .routes(routes!(
            matchmaking::resources,
            matchmaking::register_resource
        ))
        .routes(routes!(matchmaking::needs, matchmaking::post_need))
        .routes(routes!(matchmaking::need))
        .routes(routes!(matchmaking::propose))
        .routes(routes!(matchmaking::match_status))
        .routes(routes!(matchmaking::kpi_summary))
        .routes(routes!(matchmaking::kpi_csv))
}
