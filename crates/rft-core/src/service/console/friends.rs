//! The referrer's own page lists their friends: a first name only, where each stands, and for
//! anyone not credited why, in one plain sentence, so "why didn't I get my reward?" answers
//! itself. Nothing about the screen's evidence beyond that sentence reaches the referrer.

use serde::Serialize;

use crate::referral::{Referral, ReferralState};
use crate::service::console::story::when;

/// One friend as the referrer sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FriendLine {
    /// Their first name only (or "A friend").
    pub name: String,
    /// `signed_up`, `checking`, `rewarded` or `not_credited`.
    pub status: &'static str,
    /// The status for people.
    pub status_words: &'static str,
    /// When they signed up, `YYYY-MM-DD`.
    pub signed_up: String,
    /// Where they were not credited (or not yet), why.
    pub why: Option<String>,
}

/// A first name as the referrer may see it: its first word, at most 20 characters.
fn first_name(referral: &Referral) -> String {
    referral
        .friend
        .first_name
        .as_deref()
        .and_then(|n| n.split_whitespace().next())
        .map(|n| n.chars().take(20).collect())
        .unwrap_or_else(|| "A friend".to_owned())
}

/// The referrer's friends, newest first.
pub fn friend_lines(referrals: &[Referral]) -> Vec<FriendLine> {
    let mut sorted: Vec<&Referral> = referrals.iter().collect();
    sorted.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    sorted
        .into_iter()
        .map(|r| {
            let reasons = r.reasons();
            let (status, status_words, why) = match r.state {
                ReferralState::Pending => (
                    "signed_up",
                    "Signed up",
                    Some(format!(
                        "They've signed up: your reward comes when they place their first order, by {}.",
                        when(r.expires_at).split(',').next().unwrap_or_default()
                    )),
                ),
                ReferralState::Held => (
                    "checking",
                    "Being checked",
                    Some(
                        "Our team is checking this one before any reward goes out; there's nothing you need to do."
                            .to_owned(),
                    ),
                ),
                ReferralState::Rewarded => ("rewarded", "Rewarded", None),
                ReferralState::Blocked if reasons.iter().any(|x| x == "self_referral") => {
                    ("not_credited", "Not credited", Some("Not credited: it was your own account.".to_owned()))
                }
                ReferralState::Blocked => (
                    "not_credited",
                    "Not credited",
                    Some(
                        "Not credited: it looked like the same person as you, so it didn't pass our checks.".to_owned(),
                    ),
                ),
                ReferralState::Rejected if r.refunded.is_some() => {
                    ("not_credited", "Not credited", Some("Not credited: their first order was refunded.".to_owned()))
                }
                ReferralState::Rejected => (
                    "not_credited",
                    "Not credited",
                    Some("Not credited: our team checked it and it didn't qualify.".to_owned()),
                ),
                ReferralState::Expired => (
                    "not_credited",
                    "Not credited",
                    Some(format!(
                        "Not credited: they didn't place a first order within {} days of your link.",
                        r.terms.window_secs / 86_400
                    )),
                ),
            };
            FriendLine { name: first_name(r), status, status_words, signed_up: r.created_at.date(), why }
        })
        .collect()
}
