//! Ops decisions from an email link (docs/operations.md, "Held referrals and the ops emails"): `GET` shows the case and one confirm
//! button and changes nothing (mail scanners open links); `POST` (the button) queues the
//! decision for the rewarder. Forged or expired links get a 403 page.

use std::sync::Arc;

use axum::extract::{RawQuery, State};

use crate::params::PagePath;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use rft_core::jobs::DecisionJob;
use rft_core::links::{Action, LinkError, LinkPurpose};
use rft_core::messages::escape_html;
use rft_core::referral::Flag;
use rft_core::{Job, Referral, ReferralId, ReferralState};

use crate::Edge;

/// A small self-contained page; people open these on phones from an email.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{t}</title>\
         <link rel=\"stylesheet\" href=\"/assets/app.css\"></head>\
         <body class=\"ops\"><main><h1>{t}</h1>{body}</main></body></html>",
        t = escape_html(title)
    );
    let mut response = (status, Html(html)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    response
}

/// The 403 page for a forged or expired link.
pub fn forbidden(e: LinkError) -> Response {
    let why = match e {
        LinkError::Expired => "This link has expired. Ask for a fresh one from the referrals team.",
        LinkError::Forged => "This link is not valid.",
    };
    page(StatusCode::FORBIDDEN, "Link not valid", &format!("<p>{why}</p>"))
}

fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, "Not found", "<p>There is no such referral decision.</p>")
}

/// The `exp` and `sig` query parameters.
pub fn exp_sig(query: Option<&str>) -> (String, String) {
    let mut exp = String::new();
    let mut sig = String::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "exp" => exp = v.into_owned(),
            "sig" => sig = v.into_owned(),
            _ => {}
        }
    }
    (exp, sig)
}

/// Why a decision link was refused.
enum Refused {
    NoSuchDecision,
    Link(LinkError),
}

impl Refused {
    fn page(self) -> Response {
        match self {
            Refused::NoSuchDecision => not_found(),
            Refused::Link(e) => forbidden(e),
        }
    }
}

/// Checks the path and the link; the referral id and action if it is genuine.
fn verify(edge: &Edge, id: &str, action: &str, query: Option<&str>) -> Result<(ReferralId, Action), Refused> {
    let (Ok(id), Some(action)) = (ReferralId::parse(id), Action::parse(action)) else {
        return Err(Refused::NoSuchDecision);
    };
    let (exp, sig) = exp_sig(query);
    edge.links.verify(&LinkPurpose::Decide(id.clone(), action), &exp, &sig, edge.clock.now()).map_err(Refused::Link)?;
    Ok((id, action))
}

/// The case, for a person: who, what fired, with what numbers.
pub fn case_html(r: &Referral) -> String {
    let evidence: String = r
        .evidence
        .iter()
        .map(|e| format!("<li><strong>{}</strong>: {}</li>", escape_html(&e.rule), escape_html(&e.detail)))
        .collect();
    let conversion = r
        .conversion
        .as_ref()
        .map(|c| {
            format!("order {} ({}), {}", escape_html(&c.order_id), c.currency.format(c.amount_minor), c.occurred_at)
        })
        .unwrap_or_else(|| "not yet".into());
    let flags = match (&r.refunded, r.flags.contains(&Flag::RefundReview)) {
        (Some(refund), true) => format!(
            "<p class=\"flag\">Order {} was refunded at {}, after the reward.</p>",
            escape_html(&refund.order_id),
            refund.at
        ),
        (Some(refund), false) => format!(
            "<p class=\"flag\">Order {} was refunded at {}: approving cannot pay this referral.</p>",
            escape_html(&refund.order_id),
            refund.at
        ),
        (None, true) => "<p class=\"flag\">The converting order was refunded after the reward.</p>".to_owned(),
        (None, false) => String::new(),
    };
    format!(
        "<dl class=\"case\"><dt>Referral</dt><dd>{id}</dd><dt>Referrer</dt><dd>{referrer} (code {code})</dd>\
         <dt>Referred customer</dt><dd>{friend}</dd><dt>State</dt><dd>{state}</dd><dt>Attributed by</dt><dd>{method:?}</dd>\
         <dt>Converted</dt><dd>{conversion}</dd></dl>{flags}<h2>Why it is here</h2><ul class=\"evidence\">{evidence}</ul>",
        id = escape_html(r.referral_id.as_str()),
        referrer = escape_html(r.referrer_id.as_str()),
        code = escape_html(r.code.as_str()),
        friend = escape_html(r.referred_id.as_str()),
        state = r.state.as_str(),
        method = r.method,
    )
}

fn decidable(r: &Referral) -> bool {
    r.state == ReferralState::Held || (r.state == ReferralState::Rewarded && r.flags.contains(&Flag::RefundReview))
}

/// `GET /ops/referrals/{id}/{action}`: shows the case and a confirm button; changes nothing.
pub async fn show(
    State(edge): State<Arc<Edge>>,
    PagePath((id, action)): PagePath<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let (id, action) = match verify(&edge, &id, &action, query.as_deref()) {
        Ok(v) => v,
        Err(refused) => return refused.page(),
    };
    let referral = match edge.stores.referrals.get(&id).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "could not read a referral for an ops page");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                "<p>The referral could not be read just now.</p>",
            );
        }
    };
    let verb = match action {
        Action::Approve => "Approve",
        Action::Reject => "Reject",
    };
    let form = if decidable(&referral) {
        format!(
            "<form method=\"post\" action=\"/ops/referrals/{id}/{a}?{q}\"><button type=\"submit\" class=\"{a}\">{verb} this referral</button></form>\
             <p class=\"hint\">Nothing changes until you press the button.</p>",
            a = action.as_str(),
            q = escape_html(query.as_deref().unwrap_or_default()),
        )
    } else {
        format!(
            "<p>This referral is already <strong>{}</strong>: there is nothing to decide.</p>",
            referral.state.as_str()
        )
    };
    page(StatusCode::OK, &format!("{verb} referral?"), &format!("{}{form}", case_html(&referral)))
}

/// `POST /ops/referrals/{id}/{action}`: queues the decision for the rewarder.
pub async fn decide(
    State(edge): State<Arc<Edge>>,
    PagePath((id, action)): PagePath<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let (id, action) = match verify(&edge, &id, &action, query.as_deref()) {
        Ok(v) => v,
        Err(refused) => return refused.page(),
    };
    let job = Job::Decision(DecisionJob { referral_id: id.clone(), action, decided_at: edge.clock.now(), by: None });
    if let Err(e) = edge.reward_jobs.send(&job).await {
        tracing::error!(error = %e, referral = %id, "could not queue an ops decision");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again shortly",
            "<p>Your decision could not be recorded just now. Press the button again in a minute.</p>",
        );
    }
    let done = match action {
        Action::Approve => {
            "Approved. A held referral pays at once if the friend has converted, or returns to pending if not; \
             for a refund review, the rewards stand."
        }
        Action::Reject => {
            "Rejected. A held referral will never pay; for a refund review, the reward is recorded as disputed."
        }
    };
    page(
        StatusCode::OK,
        "Decision recorded",
        &format!("<p>Referral {}: {done} Pressing the button again changes nothing.</p>", escape_html(id.as_str())),
    )
}
