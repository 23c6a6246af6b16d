//! `GET`/`HEAD /r/{code}`: never an error page; the worst case is the fallback URL.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use rft_core::service::redirect::Visit;

use crate::{ClientIp, Edge};

fn cookie_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "rft")
        .map(|(_, value)| value.trim())
}

/// Handles every path under `/r/`; anything but one valid, live code goes to the fallback.
pub async fn redirect(State(edge): State<Arc<Edge>>, request: Request) -> Response {
    let path = request.uri().path();
    let code = path.strip_prefix("/r/").unwrap_or_default();
    let channel = request
        .uri()
        .query()
        .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "ch").map(|(_, v)| v.into_owned()));
    let ip = request.extensions().get::<ClientIp>().map(|ClientIp(ip)| ip.to_string());
    let headers = request.headers();
    let visit = Visit {
        code,
        head: request.method() == Method::HEAD,
        cookie_token: cookie_token(headers),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
        ip: ip.as_deref(),
        channel: channel.as_deref(),
    };
    let redirect = edge.redirector.visit(visit).await;
    let mut response = StatusCode::FOUND.into_response();
    let h = response.headers_mut();
    // Both values are built from parsed codes, tokens and configured URLs: always valid headers
    // (taken as they are, not copied).
    if let Ok(location) = HeaderValue::from_maybe_shared(Bytes::from(redirect.location)) {
        h.insert(header::LOCATION, location);
    }
    if let Some(cookie) = redirect.set_cookie.and_then(|c| HeaderValue::from_maybe_shared(Bytes::from(c)).ok()) {
        h.insert(header::SET_COOKIE, cookie);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rft_cookie_is_found_among_others() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; rft=abc ; b=2"));
        assert_eq!(cookie_token(&h), Some("abc"));
        h.insert(header::COOKIE, HeaderValue::from_static("xrft=1"));
        assert_eq!(cookie_token(&h), None);
    }
}
