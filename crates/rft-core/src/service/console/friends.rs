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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::referral::{Evidence, Outcome, RefundFacts};
    use crate::service::console::testing::referral;
    use crate::time::Timestamp;

    #[test]
    fn each_friend_says_where_they_stand_in_one_sentence() {
        let pending = referral("c_a", Some("Mara Jones"), 100);
        let mut held = referral("c_b", None, 200);
        held.state = ReferralState::Held;
        let mut rewarded = referral("c_c", Some("Sam"), 300);
        rewarded.state = ReferralState::Rewarded;
        let mut own = referral("c_d", Some("Dan"), 400);
        own.state = ReferralState::Blocked;
        own.evidence = vec![Evidence { rule: "self_referral".into(), outcome: Outcome::Block, detail: "x".into() }];
        let mut refunded = referral("c_e", Some("Kim"), 500);
        refunded.state = ReferralState::Rejected;
        refunded.refunded = Some(RefundFacts { order_id: "o".into(), at: Timestamp::from_secs(600) });
        let mut expired = referral("c_f", Some("Lee"), 600);
        expired.state = ReferralState::Expired;
        let lines = friend_lines(&[pending, held, rewarded, own, refunded, expired]);
        let said: Vec<(&str, &str, Option<&str>)> =
            lines.iter().map(|l| (l.name.as_str(), l.status, l.why.as_deref())).collect();
        assert_eq!(
            said,
            vec![
                (
                    "Lee",
                    "not_credited",
                    Some("Not credited: they didn't place a first order within 30 days of your link.")
                ),
                ("Kim", "not_credited", Some("Not credited: their first order was refunded.")),
                ("Dan", "not_credited", Some("Not credited: it was your own account.")),
                ("Sam", "rewarded", None),
                (
                    "A friend",
                    "checking",
                    Some("Our team is checking this one before any reward goes out; there's nothing you need to do.")
                ),
                (
                    "Mara",
                    "signed_up",
                    Some("They've signed up: your reward comes when they place their first order, by 31 Jan 1970.")
                ),
            ],
            "newest first, first names only"
        );
    }
}
