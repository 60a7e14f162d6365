//! Abuse limits on the endpoints anyone can reach without an account: filing a request and
//! signing in. Each client address gets a bucket of `burst` requests that refills one request
//! every `refill_ms`; beyond it the answer is 429 `rate_limited` with `Retry-After`. The API and
//! the web pages that do the same thing (the portal's submit form, the sign-in page) draw from
//! the same bucket ([`Layers`]).

use crate::error::ApiError;
use axum::body::Body;
use axum::http::{Response, StatusCode, header};
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use std::sync::Arc;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::PeerIpKeyExtractor;

/// One limit: a bucket per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub burst: u32,
    pub refill_ms: u64,
}

/// The limits of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `POST /api/v1/public/requests` (and the citizen portal's form).
    pub public_intake: Limit,
    /// `POST /api/v1/auth/login` (and the sign-in page's form).
    pub login: Limit,
}

impl Default for RateLimits {
    /// 30 requests at once, then one every 2 s per address; 10 sign-in attempts at once, then one
    /// every 6 s. A call centre behind one address should raise `public_intake`.
    fn default() -> Self {
        RateLimits {
            public_intake: Limit {
                burst: 30,
                refill_ms: 2_000,
            },
            login: Limit {
                burst: 10,
                refill_ms: 6_000,
            },
        }
    }
}

/// The tower layer type for one limit.
pub type Layer = GovernorLayer<PeerIpKeyExtractor, NoOpMiddleware, Body>;

fn refused(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("请求过于频繁，请 {wait_time} 秒后再试"),
                format!("too many requests; try again in {wait_time} s"),
            )
            .into_response();
            if let Ok(v) = wait_time.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        GovernorError::UnableToExtractKey | GovernorError::Other { .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "no_client_address",
            "无法识别客户端地址",
            "the client's address is unknown",
        )
        .into_response(),
    }
}

/// The limits of one server as layers: clones share their bucket, so every route a layer is
/// put on counts against the same allowance per address.
#[derive(Clone)]
pub struct Layers {
    pub public_intake: Layer,
    pub login: Layer,
}

impl Layers {
    /// Fresh buckets for `limits`.
    pub fn new(limits: RateLimits) -> Self {
        Layers {
            public_intake: layer(limits.public_intake),
            login: layer(limits.login),
        }
    }
}

/// The layer enforcing `limit`.
pub fn layer(limit: Limit) -> Layer {
    let config = GovernorConfigBuilder::default()
        .per_millisecond(limit.refill_ms.max(1))
        .burst_size(limit.burst.max(1))
        .finish()
        .map(Arc::new);
    match config {
        Some(config) => GovernorLayer::new(config).error_handler(refused),
        // Unreachable with the `max(1)` above; a permissive default rather than a panic.
        None => GovernorLayer::new(Arc::new(GovernorConfig::default())).error_handler(refused),
    }
}
