//! The HTTP server of minyi and its background jobs. The only crate that knows HTTP.
//!
//! It serves `GET /healthz`, the REST API under `/api/v1` ([`api`]) and runs the background jobs
//! ([`jobs`]: the clock sweeper 临期预警 / 超期督办, the outbox publisher, the reference watcher),
//! sharing them with the other nodes on the same database. Errors follow the policy in [`error`]; who is asking is in [`auth`].

pub mod api;
pub mod auth;
pub mod error;
pub mod export;
pub mod extract;
pub mod headers;
pub mod intake;
pub mod jobs;
pub mod limits;
pub mod metrics;
pub mod open311;
pub mod openapi;
pub mod password;
pub mod reference;
pub mod signals;
pub mod web;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::{Json, Router};
use error::ApiError;
use minyi_store::Store;
use serde::Serialize;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    /// The intelligent engine used at intake.
    pub engine: std::sync::Arc<intake::IntakeEngine>,
    /// Limits on public intake and sign-in per client address.
    pub rate_limits: limits::RateLimits,
    /// When repeated failed sign-ins lock a username.
    pub lockout: minyi_store::LockoutPolicy,
    /// Request counts and latencies for `/metrics`.
    pub http: std::sync::Arc<metrics::HttpStats>,
    /// Duplicates, hot spots and the knowledge base, followed across requests.
    pub signals: std::sync::Arc<signals::Signals>,
    /// How this node runs its background jobs (node id, intervals, NATS).
    pub jobs: jobs::JobSettings,
    /// What this node's background jobs did, for `/metrics`.
    pub job_stats: std::sync::Arc<jobs::JobStats>,
    /// The most rows a list download (CSV/XLSX) holds.
    pub export_rows: usize,
}

impl AppState {
    /// The state for a store, with cookies not marked `Secure`.
    pub fn new(store: Store) -> Self {
        AppState {
            store,
            city: reference::CityCache::default(),
            secure_cookies: false,
            engine: std::sync::Arc::new(intake::IntakeEngine::default()),
            rate_limits: limits::RateLimits::default(),
            lockout: minyi_store::LockoutPolicy::default(),
            http: std::sync::Arc::new(metrics::HttpStats::default()),
            signals: std::sync::Arc::new(signals::Signals::default()),
            jobs: jobs::JobSettings::default(),
            job_stats: std::sync::Arc::new(jobs::JobStats::default()),
            export_rows: minyi_store::RequestFilter::MAX_EXPORT_ROWS,
        }
    }

    /// The same state with another cap on the rows of a list download.
    pub fn with_export_rows(mut self, rows: usize) -> Self {
        self.export_rows = rows;
        self
    }

    /// The same state with these background-job settings.
    pub fn with_jobs(mut self, jobs: jobs::JobSettings) -> Self {
        self.jobs = jobs;
        self
    }

    /// The same state with other rate limits.
    pub fn with_rate_limits(mut self, limits: limits::RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// The same state with another sign-in lockout policy.
    pub fn with_lockout(mut self, lockout: minyi_store::LockoutPolicy) -> Self {
        self.lockout = lockout;
        self
    }

    /// The same state with this engine at intake.
    pub fn with_engine(mut self, engine: intake::IntakeEngine) -> Self {
        self.engine = std::sync::Arc::new(engine);
        self
    }
}

/// The largest request body accepted (413 beyond it).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What `/healthz` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
    version: &'static str,
    storage: &'static str,
}

/// `GET /healthz`: 200 with the version and the storage kind when the database answers, 503
/// otherwise.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, body = Health), (status = 503, description = "Database unavailable", body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
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

/// The documented routes and the OpenAPI document that describes them.
pub fn documented_routes(
    rate_limits: &limits::Layers,
) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let routes = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(metrics::metrics))
        .nest("/api/v1", api::router(rate_limits))
        .merge(open311::router());
    let (routes, mut document) = routes.split_for_parts();
    openapi::document_input_errors(&mut document);
    (routes, document)
}

/// The OpenAPI document of every route the server answers.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    documented_routes(&limits::Layers::new(limits::RateLimits::default())).1
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    let rate_limits = limits::Layers::new(state.rate_limits);
    let (routes, document) = documented_routes(&rate_limits);
    let routes = routes.route_layer(axum::middleware::from_fn_with_state(
        state.http.clone(),
        metrics::track,
    ));
    let https = state.secure_cookies;
    let app = Router::new()
        .merge(routes)
        .merge(openapi::docs_router(document))
        .merge(web::router(&rate_limits))
        .fallback(|| async { ApiError::unknown_path() })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(error::localize));
    headers::with_security_headers(app, https).with_state(state)
}

/// Serves the application on `listener` until `shutdown` completes, with the background jobs
/// ([`jobs`]) running.
pub async fn serve(
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(AppState::new(store), listener, shutdown).await
}

/// [`serve`] with a prepared state (an engine with a model, HTTPS cookies …).
pub async fn serve_with(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let jobs = jobs::spawn(&state.store, &state.city, &state.jobs, &state.job_stats);
    let app = router(state);
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    jobs.stop().await;
    result
}
