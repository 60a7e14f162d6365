//! The HTTP server of minyi and its background jobs. The only crate that knows HTTP.
//!
//! It serves `GET /healthz`, the REST API under `/api/v1` ([`api`]) and runs the clock sweeper
//! (临期预警 / 超期督办). Errors follow the policy in [`error`]; who is asking is in [`auth`].

pub mod api;
pub mod auth;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod reference;
pub mod web;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use error::ApiError;
use minyi_store::Store;
use serde::Serialize;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// The version reported by `/healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    /// The city's reference data, loaded on first use.
    pub city: reference::CityCache,
    /// Whether session cookies carry `Secure` (the server is behind HTTPS).
    pub secure_cookies: bool,
}

impl AppState {
    /// The state for a store, with cookies not marked `Secure`.
    pub fn new(store: Store) -> Self {
        AppState {
            store,
            city: reference::CityCache::default(),
            secure_cookies: false,
        }
    }
}

/// The largest request body accepted (413 beyond it).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    storage: &'static str,
}

/// `GET /healthz`: 200 with the version and the storage kind when the database answers, 503
/// otherwise.
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let ok = state.store.ping().await.is_ok();
    let health = Health {
        status: if ok { "ok" } else { "unavailable" },
        version: VERSION,
        storage: state.store.kind().as_str(),
    };
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(health))
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .nest("/api/v1", api::router())
        .merge(web::router())
        .fallback(|| async { ApiError::not_found("path") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(error::localize))
        .with_state(state)
}

/// Runs the clock sweeper every `every` until the returned handle is aborted. Each pass raises
/// due-soon warnings and overdue escalations exactly once (the store guarantees it even with
/// several nodes sweeping).
pub fn spawn_sweeper(store: Store, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.sweep(chrono::Utc::now()).await {
                Ok(report) if report.due_soon + report.escalated > 0 => tracing::info!(
                    due_soon = report.due_soon,
                    escalated = report.escalated,
                    "sweeper raised clock events"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(code = e.code(), "sweeper pass failed: {e}"),
            }
        }
    })
}

/// Serves the application on `listener` until `shutdown` completes, with the sweeper running.
pub async fn serve(
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = spawn_sweeper(store.clone(), Duration::from_secs(30));
    let app = router(AppState::new(store));
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    sweeper.abort();
    result
}
