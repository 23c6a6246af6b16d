//! Unsubscribing from programme email by the link in every enrolment email
//! (`/unsubscribe?e=<hash>&sig=<sig>`, docs/settings.md, `[enrolment]`). `GET` shows one
//! confirm button and changes nothing (mail scanners open links); `POST` records it, from that
//! button or from a mail client's RFC 8058 one-click (`List-Unsubscribe=One-Click`), whose body
//! is not needed: the signed link is the whole authority. A malformed or forged link gets the
//! 403 page; nothing here answers 5xx but a store outage.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use rft_core::identity::IdentityHash;
use rft_core::links::{LinkError, LinkPurpose};
use rft_core::messages::escape_html;

use crate::Edge;
use crate::ops::{forbidden, page};

/// The address hash a genuine link names.
fn verify(edge: &Edge, query: Option<&str>) -> Result<IdentityHash, LinkError> {
    let (mut e, mut sig) = (String::new(), String::new());
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "e" => e = v.into_owned(),
            "sig" => sig = v.into_owned(),
            _ => {}
        }
    }
    // Our hashes are 32 lower-case hex characters; anything else was never signed by us.
    if e.len() != 32 || !e.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(LinkError::Forged);
    }
    let hash = IdentityHash::from_stored(e);
    edge.links.verify_lasting(&LinkPurpose::Unsubscribe(hash.clone()), &sig)?;
    Ok(hash)
}

/// `GET /unsubscribe`: the confirm button.
pub async fn show(State(edge): State<Arc<Edge>>, RawQuery(query): RawQuery) -> Response {
    if let Err(e) = verify(&edge, query.as_deref()) {
        return forbidden(e);
    }
    let business = escape_html(&edge.settings.business.name);
    let body = format!(
        "<p>Stop emails about the {business} referral programme to this address? You will still get \
         receipts and messages about your orders from {business}.</p>\
         <form method=\"post\" action=\"/unsubscribe?{q}\"><button type=\"submit\">Unsubscribe</button></form>\
         <p class=\"hint\">Nothing changes until you press the button.</p>",
        q = escape_html(query.as_deref().unwrap_or_default()),
    );
    page(StatusCode::OK, "Unsubscribe?", &body)
}

/// `POST /unsubscribe`: records it (repeating is harmless).
pub async fn confirm(State(edge): State<Arc<Edge>>, RawQuery(query): RawQuery) -> Response {
    let hash = match verify(&edge, query.as_deref()) {
        Ok(hash) => hash,
        Err(e) => return forbidden(e),
    };
    // The item keeps when: the edge writes no audit events (its role may not).
    if let Err(e) = edge.stores.unsubscribes.unsubscribe(&hash, edge.clock.now()).await {
        tracing::error!(error = %e, "could not record an unsubscribe");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again shortly",
            "<p>Your choice could not be saved just now. Press the button again in a minute.</p>",
        );
    }
    let business = escape_html(&edge.settings.business.name);
    page(
        StatusCode::OK,
        "You are unsubscribed",
        &format!("<p>This address will get no more emails about the {business} referral programme.</p>"),
    )
}
