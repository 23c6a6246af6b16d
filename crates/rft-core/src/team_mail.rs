//! The emails the programme sends its own team: a referral held for review, a refund after a
//! reward, a reward the store would not take, a job that can never succeed. Built in one place
//! so they share their shape: a plain-text body with the links, and the same in HTML.

use crate::ledger::LedgerRow;
use crate::links::{Action, LinkSigner, decision_url, queue_url};
use crate::messages::email_html;
use crate::ports::{Channel, MessageKind, OutboundMessage};
use crate::referral::Referral;
use crate::settings::Settings;
use crate::time::Timestamp;

/// A button in the HTML part: label, link, and whether it is the quiet (secondary) style.
type Button<'a> = (&'a str, &'a str, bool);

fn to_team(
    settings: &Settings,
    kind: MessageKind,
    subject: String,
    body: String,
    lines: &[String],
    buttons: &[Button<'_>],
) -> OutboundMessage {
    OutboundMessage {
        channel: Channel::Email,
        to: settings.team.email.to_string(),
        html: Some(email_html(&settings.business.name, &subject, lines, buttons)),
        subject,
        body,
        kind,
        unsubscribe: None,
    }
}

/// A referral held by the screen: who, why (every rule with its numbers), and the two ops links.
pub fn hold_review(settings: &Settings, links: &LinkSigner, referral: &Referral, now: Timestamp) -> OutboundMessage {
    let exp = now.plus(settings.team.ops_link_ttl);
    let base = settings.links.base_url.as_str();
    let approve = decision_url(base, links, &referral.referral_id, Action::Approve, exp);
    let reject = decision_url(base, links, &referral.referral_id, Action::Reject, exp);
    let queue = queue_url(base, links, exp);
    let subject = format!("Referral held for review: {}", referral.reasons().join(", "));
    let mut lines = vec![
        format!("Referrer: {} (code {})", referral.referrer_id, referral.code),
        format!("Referred customer: {}", referral.referred_id),
        format!("Attributed by: {:?}, at {}", referral.method, referral.touched_at),
        "Why it was held:".to_owned(),
    ];
    lines.extend(referral.evidence.iter().map(|e| format!("- {}: {}", e.rule, e.detail)));
    if let Some(refund) = &referral.refunded {
        lines.push(format!(
            "Order {} was refunded at {}: approving cannot pay this referral.",
            refund.order_id, refund.at
        ));
    }
    let body = format!(
        "{}\n\nApprove (pays if the friend has converted, else returns it to pending):\n{approve}\n\nReject (final):\n{reject}\n\nEach link opens a page with a confirm button; nothing changes until you press it.\n\nEverything waiting for a person:\n{queue}\n",
        lines.join("\n")
    );
    let buttons = [
        ("Review and approve", approve.as_str(), false),
        ("Review and reject", reject.as_str(), true),
        ("See the review queue", queue.as_str(), true),
    ];
    to_team(settings, MessageKind::HoldReview, subject, body, &lines, &buttons)
}

/// A rewarded referral's converting order was refunded: nothing is clawed back; a person decides.
pub fn refund_review(
    settings: &Settings,
    links: &LinkSigner,
    referral: &Referral,
    order_id: &str,
    now: Timestamp,
) -> OutboundMessage {
    let exp = now.plus(settings.team.ops_link_ttl);
    let base = settings.links.base_url.as_str();
    let keep = decision_url(base, links, &referral.referral_id, Action::Approve, exp);
    let dispute = decision_url(base, links, &referral.referral_id, Action::Reject, exp);
    let queue = queue_url(base, links, exp);
    let subject = format!("Refund after a referral reward: {}", referral.referral_id);
    let lines = vec![
        format!(
            "Order {order_id} by {} was refunded after referral {} paid both sides.",
            referral.referred_id, referral.referral_id
        ),
        format!("Referrer: {} (code {}).", referral.referrer_id, referral.code),
        "Nothing has been clawed back. Decide whether the rewards stand.".to_owned(),
        "Disputing records the decision; reverse the reward in the store by hand if you need to.".to_owned(),
    ];
    let body = format!(
        "{}\n\nKeep the rewards: {keep}\nDispute the reward: {dispute}\n\nEverything waiting for a person: {queue}\n",
        lines.join("\n")
    );
    let buttons = [
        ("Keep the rewards", keep.as_str(), false),
        ("Dispute the reward", dispute.as_str(), true),
        ("See the review queue", queue.as_str(), true),
    ];
    to_team(settings, MessageKind::RefundReview, subject, body, &lines, &buttons)
}

/// A ledger row the store would not take within the retry budget (or refused for good).
pub fn fulfilment_parked(settings: &Settings, row: &LedgerRow, reason: &str) -> OutboundMessage {
    let subject = format!("Reward not fulfilled: {} ({})", row.referral_id, row.side.as_str());
    let lines = vec![
        format!(
            "The store's reward endpoint did not accept the {} reward for referral {}.",
            row.side.as_str(),
            row.referral_id
        ),
        format!("Customer: {}. Reward: {}.", row.customer_id, row.reward.description),
        format!("Last error: {reason}"),
        format!(
            "It stays owed in the ledger; retry it from the ops page, or apply it in the store with Idempotency-Key {}.",
            row.idempotency_key()
        ),
    ];
    let body = format!("{}\n", lines.join("\n"));
    to_team(settings, MessageKind::FulfilmentParked, subject, body, &lines, &[])
}

/// A queued job that can never succeed (it reached the wrong queue, or what it needs is
/// corrupt): recorded instead of being redelivered into the dead-letter queue.
pub fn job_dropped(settings: &Settings, kind: &str, subject_id: &str, reason: &str) -> OutboundMessage {
    let subject = format!("A {kind} job could not be processed");
    let lines = vec![
        format!("A {kind} job about {subject_id} can never succeed, so it was not retried."),
        format!("Why: {reason}"),
        "It is recorded in the audit under the same subject; see docs/operations.md, \"Jobs that cannot succeed\"."
            .to_owned(),
    ];
    let body = format!("{}\n", lines.join("\n"));
    to_team(settings, MessageKind::JobDropped, subject, body, &lines, &[])
}
