//! The REST API under `/api/v1`: one router, one module per resource.

pub mod public;
pub mod requests;
pub mod view;

use crate::AppState;
use crate::auth;
use axum::Router;
use axum::routing::{get, post};

/// The `/api/v1` routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route("/public/requests", post(public::submit))
        .route("/public/requests/{code}", get(public::track))
        .route("/public/requests/{code}/rating", post(public::rate))
        .route("/requests", get(requests::list))
        .route("/requests/{id}", get(requests::get))
        .route("/requests/{id}/events", get(requests::events))
        .route("/requests/{id}/{action}", post(requests::act))
}
