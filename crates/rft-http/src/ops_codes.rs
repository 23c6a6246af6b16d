//! Actions on a flagged code from the ops queue, two-step like the referral decisions: `GET
//! /ops/codes/{code}/{clear|retire}` shows the code and one confirm button and changes nothing;
//! `POST` acts. Clearing queues the release of its held referrals for the rewarder; retiring
//! retires the code through the minter. Forged or expired links get a 403 page.

use std::sync::Arc;

use axum::extract::{RawQuery, State};

use crate::params::PagePath;
use axum::http::StatusCode;
use axum::response::Response;

use rft_core::Job;
use rft_core::code::{Code, CodeRecord};
use rft_core::jobs::ClearFlagJob;
use rft_core::links::{CodeAction, LinkError, LinkPurpose};
use rft_core::messages::escape_html;

use crate::Edge;
use crate::ops::{exp_sig, forbidden, page};

fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, "Not found", "<p>There is no such flagged code.</p>")
}

fn unavailable(what: &str) -> Response {
    page(StatusCode::SERVICE_UNAVAILABLE, "Try again shortly", &format!("<p>{what}</p>"))
}

/// Why a code-action link was refused.
enum Refused {
    NoSuchCode,
    Link(LinkError),
}

impl Refused {
    fn page(self) -> Response {
        match self {
            Refused::NoSuchCode => not_found(),
            Refused::Link(e) => forbidden(e),
        }
    }
}

/// Checks the path and the link: the code and action if it is genuine.
fn verify(edge: &Edge, code: &str, action: &str, query: Option<&str>) -> Result<(Code, CodeAction), Refused> {
    let (Ok(code), Some(action)) = (Code::parse(code), CodeAction::parse(action)) else {
        return Err(Refused::NoSuchCode);
    };
    let (exp, sig) = exp_sig(query);
    edge.links.verify(&LinkPurpose::Code(code.clone(), action), &exp, &sig, edge.clock.now()).map_err(Refused::Link)?;
    Ok((code, action))
}

/// The code, its owner and why it was flagged, for a person.
pub fn code_html(record: &CodeRecord) -> String {
    let evidence: String = record
        .flag
        .iter()
        .flat_map(|f| f.evidence.iter())
        .map(|e| format!("<li><strong>{}</strong>: {}</li>", escape_html(&e.rule), escape_html(&e.detail)))
        .collect();
    let flagged = record.flag.as_ref().map(|f| f.at.to_string()).unwrap_or_else(|| "not flagged".into());
    format!(
        "<dl class=\"case\"><dt>Code</dt><dd>{code}</dd><dt>Referrer</dt><dd>{referrer}</dd><dt>Status</dt><dd>{status}</dd>\
         <dt>Flagged</dt><dd>{flagged}</dd></dl><h2>Why it was flagged</h2><ul class=\"evidence\">{evidence}</ul>",
        code = escape_html(record.code.as_str()),
        referrer = escape_html(record.referrer_id.as_str()),
        status = record.status.as_str(),
    )
}

/// `GET /ops/codes/{code}/{action}`: shows the code and a confirm button; changes nothing.
pub async fn show(
    State(edge): State<Arc<Edge>>,
    PagePath((code, action)): PagePath<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let (code, action) = match verify(&edge, &code, &action, query.as_deref()) {
        Ok(v) => v,
        Err(refused) => return refused.page(),
    };
    let record = match edge.stores.codes.get(&code).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "could not read a code for an ops page");
            return unavailable("The code could not be read just now.");
        }
    };
    let (verb, what) = match action {
        CodeAction::Clear => {
            ("Clear the flag on", "Its referrals go back to pending (or pay, if the friend has converted).")
        }
        CodeAction::Retire => ("Retire", "It stops crediting anyone; its held referrals wait for their own decisions."),
    };
    let form = if record.flag.is_some() && record.is_active() {
        format!(
            "<p>{what}</p><form method=\"post\" action=\"/ops/codes/{c}/{a}?{q}\"><button type=\"submit\" class=\"{a}\">{verb} code {c}</button></form>\
             <p class=\"hint\">Nothing changes until you press the button.</p>",
            c = escape_html(code.as_str()),
            a = action.as_str(),
            q = escape_html(query.as_deref().unwrap_or_default()),
        )
    } else {
        "<p>This code is not flagged any more: there is nothing to decide.</p>".to_owned()
    };
    page(StatusCode::OK, &format!("{verb} code {code}?"), &format!("{}{form}", code_html(&record)))
}

/// `POST /ops/codes/{code}/{action}`: clears the flag (the rewarder releases its referrals) or
/// retires the code.
pub async fn act(
    State(edge): State<Arc<Edge>>,
    PagePath((code, action)): PagePath<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let (code, action) = match verify(&edge, &code, &action, query.as_deref()) {
        Ok(v) => v,
        Err(refused) => return refused.page(),
    };
    let done = match action {
        CodeAction::Clear => {
            let job = Job::ClearFlag(ClearFlagJob { code: code.clone(), decided_at: edge.clock.now() });
            if let Err(e) = edge.reward_jobs.send(&job).await {
                tracing::error!(error = %e, code = %code, "could not queue clearing a flag");
                return unavailable("The flag could not be cleared just now. Press the button again in a minute.");
            }
            "Cleared. Its referrals go back to pending, or pay if the friend has converted."
        }
        CodeAction::Retire => match edge.minter.retire(&code, None).await {
            Ok(Some(_)) => "Retired. It credits nobody from now on; its held referrals wait for their own decisions.",
            Ok(None) => return not_found(),
            Err(e) => {
                tracing::error!(error = %e, code = %code, "could not retire a flagged code");
                return unavailable("The code could not be retired just now. Press the button again in a minute.");
            }
        },
    };
    page(
        StatusCode::OK,
        "Decision recorded",
        &format!("<p>Code {}: {done} Pressing the button again changes nothing.</p>", escape_html(code.as_str())),
    )
}
