//! The owner's console (`/admin`): sign-in by a single-use emailed link, a 12-hour session
//! cookie, and pages and JSON for the programme at a glance, every referral and its story, the
//! referrers, and the actions a team member takes (each audited with their address).
//!
//! - [`session`]: the sign-in link, the session cookie and the CSRF token;
//! - [`login`]: the sign-in page, asking for a link, using it, signing out;
//! - [`views`]: what the pages read; [`actions`]: what they change; [`hooks`]: the actions
//!   still to come, answering 501; [`export`]: the referrals as CSV (the ledger's export is
//!   `crate::exports`, shared with the signed API); [`live`]: server-sent events.
//!
//! Every `/admin/api/*` route sits behind [`guard`]: no session, no answer (401); a change
//! (any method but GET) also needs the session's CSRF token and a same-site request (403).

pub mod actions;
pub mod credit;
pub mod customer;
pub mod export;
pub mod limiter;
pub mod live;
pub mod login;
pub mod rows;
pub mod session;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use rft_core::ports::Messenger;
use rft_core::service::console::ConsoleOverview;

use crate::Edge;
use crate::error::ApiError;

pub use session::Session;

/// How the console's live updates reach the browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Live {
    /// A long-lived event stream: the overview is recomputed every `every` and sent when it
    /// changed, for up to `for_at_most`, after which the browser reconnects (`rft-local`).
    Stream {
        /// How often the overview is recomputed.
        every: Duration,
        /// How long one connection is held.
        for_at_most: Duration,
    },
    /// One snapshot per connection and a `retry:` telling the browser when to reconnect: the
    /// same event stream, polled (the Lambda edge, where a held stream would hold an instance).
    Snapshot {
        /// When the browser reconnects.
        retry: Duration,
    },
}

/// What the console needs beyond the rest of the surface.
pub struct Console {
    /// Sends sign-in links.
    pub messenger: Arc<dyn Messenger>,
    /// Where the overview comes from.
    pub overview: Arc<dyn ConsoleOverview>,
    /// How live updates are delivered.
    pub live: Live,
    /// Sign-in requests per IP and per address.
    pub limiter: limiter::Limiter,
}

impl Console {
    /// The console over a messenger and an overview, delivering live updates as `live` says.
    pub fn new(messenger: Arc<dyn Messenger>, overview: Arc<dyn ConsoleOverview>, live: Live) -> Self {
        Console { messenger, overview, live, limiter: limiter::Limiter::default() }
    }
}

/// Every console route.
pub fn routes(edge: Arc<Edge>) -> Router<Arc<Edge>> {
    let api = Router::new()
        .route("/admin/api/session", get(views::session))
        .route("/admin/api/logout", post(login::sign_out))
        .route("/admin/api/overview", get(views::overview))
        .route("/admin/api/referrals", get(views::referrals))
        .route("/admin/api/referrals/{id}", get(views::referral))
        .route("/admin/api/referrals/{id}/approve", post(actions::approve))
        .route("/admin/api/referrals/{id}/reject", post(actions::reject))
        .route("/admin/api/codes/{code}/retire", post(actions::retire))
        .route("/admin/api/referrers", get(views::referrers))
        .route("/admin/api/referrers/{customer_id}", get(views::referrer))
        .route("/admin/api/queues", get(views::queues))
        .route("/admin/api/export/referrals.csv", get(export::referrals))
        .route("/admin/api/events", get(live::events))
        .route("/admin/api/credits", post(credit::credit))
        .route("/admin/api/customers/{customer_id}", get(customer::customer))
        .route("/admin/api/rewards/{referral_id}/{side}/retry", post(actions::retry))
        .route("/admin/api/codes/{code}/clear-flag", post(actions::clear_flag))
        // The signed API's streamed ledger export, behind the session instead of a signature.
        .route("/admin/api/export/ledger.csv", get(crate::exports::ledger_csv))
        .route_layer(from_fn_with_state(edge, guard));
    Router::new()
        .route("/admin", get(login::home))
        .route("/admin/login", post(login::request_link))
        .route("/admin/auth", get(login::confirm).post(login::sign_in))
        .route("/assets/admin.js", get(|| async { crate::script(include_str!("../../assets/admin.js")) }))
        .route("/assets/admin-login.js", get(|| async { crate::script(include_str!("../../assets/admin-login.js")) }))
        .route("/assets/admin.css", get(|| async { crate::stylesheet_of(include_str!("../../assets/admin.css")) }))
        .merge(api)
}

fn unauthorized() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "sign in to the console first")
}

/// The session every console API route needs, and for changes the CSRF token and a same-site
/// request; the session goes in the request's extensions for the handler.
async fn guard(State(edge): State<Arc<Edge>>, mut request: Request, next: Next) -> Response {
    let now = edge.clock.now();
    let Some(session) = session::session_of(&edge.links, &edge.settings, request.headers(), now) else {
        return unauthorized().into_response();
    };
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let headers = request.headers();
        if session::cross_site(headers) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_site",
                "changes are accepted from the console's own pages only",
            )
            .into_response();
        }
        let token = headers.get(session::CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !session::csrf_ok(&edge.links, &session, token, now) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                format!("{}: the console's CSRF token is missing or wrong; reload the page", session::CSRF_HEADER),
            )
            .into_response();
        }
    }
    request.extensions_mut().insert(session);
    next.run(request).await
}
