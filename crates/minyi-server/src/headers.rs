//! Security headers on every response, pages and API alike.
//!
//! The pages load only our own files (stylesheet, htmx, ECharts, the dashboard script; the
//! dashboard's figures travel in a `<script type="application/json">` block, which is data and
//! not run), so the Content-Security-Policy allows scripts, styles, fonts and connections from
//! our own origin only. One concession: `style-src-attr 'unsafe-inline'`, because ECharts writes
//! its tooltips as HTML with `style` attributes; `<style>` elements stay forbidden (htmx's own
//! indicator styles are turned off in `base.html`). No page may be framed (clickjacking), the
//! browser must not guess content types, and no referrer leaves a page (a tracking page's
//! address holds the tracking code). HSTS is sent only when the server says it is behind HTTPS
//! (`secure_cookies`), since it would lock a plain-HTTP installation out of browsers.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// The Content-Security-Policy of every response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// HSTS for a server behind HTTPS: one year.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// The headers every response carries (HSTS on top when `https`).
pub fn security_headers(https: bool) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = vec![
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    if https {
        headers.push((
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        ));
    }
    headers
}

/// `router` with the security headers added to every response that does not set its own.
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(
    mut router: Router<S>,
    https: bool,
) -> Router<S> {
    for (name, value) in security_headers(https) {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, value));
    }
    router
}
