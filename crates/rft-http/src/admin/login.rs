//! Signing in: `GET /admin` serves the console to a session and the sign-in page to anyone
//! else; `POST /admin/login` emails a single-use link to a team address (the same answer for
//! any other address, and no mail); the link's `GET /admin/auth` shows one button and changes
//! nothing (mail scanners open links), and its `POST` uses the link once and starts a session.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};

use rft_core::Email;
use rft_core::messages::{email_html, escape_html};
use rft_core::ports::{Begin, Channel, MessageKind, OutboundMessage};

use super::limiter::{PER_ADDRESS, PER_IP};
use super::session::{self, LINK_TTL, Session, TokenError};
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;
use crate::ops::page;
use crate::{ClientIp, Edge};

fn static_page(html: &'static str) -> Response {
    let mut response = Html(html).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

/// `GET /admin`: the console for a session, the sign-in page for anyone else.
pub async fn home(State(edge): State<Arc<Edge>>, headers: HeaderMap) -> Response {
    match session::session_of(&edge.links, &edge.settings, &headers, edge.clock.now()) {
        Some(_) => static_page(include_str!("../../assets/admin.html")),
        None => static_page(include_str!("../../assets/admin-login.html")),
    }
}

/// `POST /admin/login` body.
#[derive(Deserialize)]
struct LoginBody {
    email: Email,
}

/// What `POST /admin/login` answers, whoever asked.
#[derive(Serialize)]
pub struct LinkRequested {
    /// Always `sent`.
    pub status: &'static str,
    /// The same sentence for every address.
    pub message: &'static str,
}

const SENT: LinkRequested = LinkRequested {
    status: "sent",
    message: "If that address belongs to the team, a sign-in link is on its way. It works once, within 15 minutes.",
};

/// `POST /admin/login`: emails a sign-in link to a team address; the same 202 for any other.
pub async fn request_link(
    State(edge): State<Arc<Edge>>,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_limited(body).await?;
    if session::cross_site(&headers) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "cross_site", "sign in from the console's own page"));
    }
    let body: LoginBody = parse_json(&body)?;
    let now = edge.clock.now();
    let ip = ip.map(|Extension(ClientIp(ip))| ip.to_string()).unwrap_or_else(|| "unknown".to_owned());
    let keys =
        [(format!("ip:{ip}"), PER_IP), (format!("address:{}", body.email.as_str().to_ascii_lowercase()), PER_ADDRESS)];
    if !edge.console.limiter.allow(&keys, now) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many sign-in requests; wait 15 minutes and ask again",
        ));
    }
    if let Some(member) = edge.settings.team.member(body.email.as_str()) {
        let token = session::sign_in_token(&edge.links, member, now);
        let base = edge.settings.links.base_url.as_str().trim_end_matches('/');
        let link = format!("{base}/admin/auth?token={token}");
        let business = &edge.settings.business.name;
        let subject = format!("Your sign-in link to the {business} referrals console");
        let lines = vec![
            "Someone (we hope you) asked to sign in to the referrals console.".to_owned(),
            format!(
                "The link works once, within {} minutes. If it wasn't you, ignore this email.",
                LINK_TTL.as_secs() / 60
            ),
        ];
        let message = OutboundMessage {
            channel: Channel::Email,
            to: member.to_string(),
            subject: subject.clone(),
            body: format!("{}\n\n{link}\n\n{}\n", lines[0], lines[1]),
            html: Some(email_html(business, &subject, &lines, &[("Sign in", &link, false)])),
            kind: MessageKind::ConsoleSignIn,
        };
        // The answer is the same whether or not the mail went, so it says nothing about the
        // address; a failure is for the logs.
        if let Err(e) = edge.console.messenger.send(&message).await {
            tracing::error!(error = %rft_core::ports::error_chain(&e), "could not send a console sign-in link");
        }
    }
    Ok((StatusCode::ACCEPTED, Json(SENT)).into_response())
}

fn refused(e: TokenError) -> Response {
    let why = match e {
        TokenError::Expired => "This sign-in link has expired: links work for 15 minutes.",
        TokenError::Forged | TokenError::NotOnTeam => "This sign-in link is not valid.",
    };
    page(
        StatusCode::FORBIDDEN,
        "Sign-in link not valid",
        &format!("<p>{why}</p><p><a href=\"/admin\">Ask for a new link</a></p>"),
    )
}

fn token_of(query: Option<&str>) -> String {
    super::rows::query_pairs(query).remove("token").unwrap_or_default()
}

/// `GET /admin/auth?token=…`: one button; nothing changes until it is pressed.
pub async fn confirm(State(edge): State<Arc<Edge>>, RawQuery(query): RawQuery) -> Response {
    let token = token_of(query.as_deref());
    match session::open_sign_in(&edge.links, &edge.settings, &token, edge.clock.now()) {
        Ok((email, _, _)) => page(
            StatusCode::OK,
            "Sign in to the referrals console",
            &format!(
                "<p>Signing in as <strong>{}</strong>.</p>\
                 <form method=\"post\" action=\"/admin/auth\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
                 <button type=\"submit\">Sign in</button></form>\
                 <p class=\"hint\">The link works once. Nothing happens until you press the button.</p>",
                escape_html(email.as_str()),
                escape_html(&token)
            ),
        ),
        Err(e) => refused(e),
    }
}

/// `POST /admin/auth` (form `token=…`): uses the link once and starts a 12-hour session.
pub async fn sign_in(State(edge): State<Arc<Edge>>, headers: HeaderMap, body: Body) -> Response {
    let Ok(body) = read_limited(body).await else { return refused(TokenError::Forged) };
    if session::cross_site(&headers) {
        return refused(TokenError::Forged);
    }
    let token = url::form_urlencoded::parse(&body).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned());
    let now = edge.clock.now();
    let (email, nonce, exp) = match session::open_sign_in(&edge.links, &edge.settings, &token.unwrap_or_default(), now)
    {
        Ok(found) => found,
        Err(e) => return refused(e),
    };
    // The nonce is held past the link's own expiry, so no instance can take it again.
    let hold = exp.since(now) + Duration::from_secs(60);
    match edge.stores.webhooks.begin(&format!("console-sign-in:{nonce}"), now, hold).await {
        Ok(Begin::Fresh) => {}
        Ok(Begin::InFlight | Begin::Done(_)) => {
            return page(
                StatusCode::FORBIDDEN,
                "Sign-in link already used",
                "<p>This sign-in link has already been used: each link works once.</p>\
                 <p><a href=\"/admin\">Ask for a new link</a></p>",
            );
        }
        Err(e) => {
            tracing::error!(error = %rft_core::ports::error_chain(&e), "could not record a console sign-in");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                "<p>Signing in failed just now. Press the button again in a minute.</p>",
            );
        }
    }
    let (cookie, _) = session::new_session(&edge.links, &email, now);
    tracing::info!("console sign-in");
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/admin")]).into_response();
    response.headers_mut().insert(header::SET_COOKIE, session::set_cookie(&cookie));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Signed out.
#[derive(Serialize)]
pub struct SignedOut {
    /// Always `signed_out`.
    pub status: &'static str,
}

/// `POST /admin/api/logout`: ends the session in this browser.
pub async fn sign_out(Extension(_session): Extension<Session>) -> Response {
    let mut response = Json(SignedOut { status: "signed_out" }).into_response();
    response.headers_mut().insert(header::SET_COOKIE, session::clear_cookie());
    response
}
