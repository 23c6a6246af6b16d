//! `GET /admin/api/events`: live updates by server-sent events. Each `overview` event carries
//! the programme at a glance; the page redraws it and reloads whatever else it shows.
//!
//! How long a connection lasts depends on where the edge runs ([`Live`]):
//! - `rft-local` holds the stream open, recomputes the overview every few seconds and sends it
//!   when it changed (with a comment now and then to keep proxies from closing it), and ends
//!   the stream after a while so the browser reconnects;
//! - the Lambda edge's Function URL answers in buffered mode (the whole router runs under
//!   `lambda_http::run`, and the redirect's hot path is not worth moving to streaming), so a
//!   held stream would arrive only when it ended. There the answer is one `overview` event and
//!   a `retry:` interval: EventSource reconnects by itself, which makes the same route a poll.
//!
//! A client that does not ask for `text/event-stream` gets the one-event answer as well.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::stream;

use super::Live;
use super::views::overview_of;
use crate::Edge;
use crate::error::ApiError;

/// How often a held stream says something even when nothing changed.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// The reconnect interval a one-event answer names when the edge holds streams.
const RECONNECT: Duration = Duration::from_secs(2);
/// The reconnect interval after the overview could not be computed.
const FAILED_RETRY: Duration = Duration::from_secs(10);

fn event(json: &str) -> String {
    format!("event: overview\ndata: {json}\n\n")
}

/// The overview as the event's JSON, and the same without its timestamp (to see changes).
async fn snapshot(edge: &Edge) -> Result<(String, String), ApiError> {
    let overview = overview_of(edge).await?;
    let json = serde_json::to_string(&overview).map_err(|e| ApiError::internal("writing the overview", &e))?;
    let mut unstamped = overview;
    unstamped.generated_at = String::new();
    let key = serde_json::to_string(&unstamped).map_err(|e| ApiError::internal("writing the overview", &e))?;
    Ok((json, key))
}

fn headers_of(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// `GET /admin/api/events`.
pub async fn events(State(edge): State<Arc<Edge>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let wants_stream =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/event-stream"));
    let (json, key) = match snapshot(&edge).await {
        Ok(found) => found,
        // EventSource gives up for good on an error status, so a failure is an empty stream
        // with a reconnect interval: the page tries again by itself.
        Err(e) => {
            tracing::warn!(error = %e.message, "live overview unavailable; the browser will reconnect");
            let body = format!(
                "retry: {}
: the overview is unavailable for now

",
                FAILED_RETRY.as_millis()
            );
            return Ok(headers_of((StatusCode::OK, body).into_response()));
        }
    };
    let (every, for_at_most) = match edge.console.live {
        Live::Stream { every, for_at_most } if wants_stream => (every, for_at_most),
        Live::Stream { .. } => {
            let body = format!("retry: {}\n{}", RECONNECT.as_millis(), event(&json));
            return Ok(headers_of((StatusCode::OK, body).into_response()));
        }
        Live::Snapshot { retry } => {
            let body = format!("retry: {}\n{}", retry.as_millis(), event(&json));
            return Ok(headers_of((StatusCode::OK, body).into_response()));
        }
    };
    let first = format!("retry: {}\n{}", RECONNECT.as_millis(), event(&json));
    let started = tokio::time::Instant::now();
    let state = (edge, key, tokio::time::Instant::now());
    let rest = stream::unfold(state, move |(edge, mut last, mut spoke)| async move {
        loop {
            tokio::time::sleep(every).await;
            if started.elapsed() >= for_at_most {
                return None;
            }
            match snapshot(&edge).await {
                Ok((json, key)) if key != last => {
                    last = key;
                    return Some((event(&json), (edge, last, tokio::time::Instant::now())));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e.message, "live overview not refreshed"),
            }
            if spoke.elapsed() >= HEARTBEAT {
                spoke = tokio::time::Instant::now();
                return Some((": still here\n\n".to_owned(), (edge, last, spoke)));
            }
        }
    });
    let body = stream::once(async move { first }).chain(rest).map(Ok::<_, Infallible>);
    Ok(headers_of((StatusCode::OK, Body::from_stream(body)).into_response()))
}
