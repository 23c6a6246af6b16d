//! The owner's console, read side: the programme at a glance ([`overview`]), every referral
//! found by customer, code, state, method and date ([`search`]) and told as a story from the
//! audit ([`story`]), the referrers with their numbers ([`referrers`]), the CSV export
//! ([`export`]) and, for the referrer's own page, their friends in one plain sentence each
//! ([`friends`]). Everything here reads the stores by key or index; nothing scans a table.
//!
//! The overview is computed behind one trait, [`ConsoleOverview`], by [`RollupOverview`] from
//! the rollups: a handful of reads whatever the programme's history.

pub mod export;
pub mod friends;
pub mod overview;
pub mod programme;
pub mod referrers;
pub mod search;
pub mod story;
pub mod sums;

pub use overview::{ConsoleOverview, Overview, RollupOverview};
pub use search::{ReferralFilter, ReferralPage, search};

#[cfg(test)]
pub(crate) mod testing {
    //! A referral to test the console's pure parts with.

    use crate::code::Code;
    use crate::ids::{CustomerId, ReferralId};
    use crate::money::{Currency, Reward, RewardKind, Terms};
    use crate::referral::{FriendProfile, Method, Referral, ReferralState};
    use crate::time::Timestamp;

    /// A pending referral of `friend`, signed up at `at` (seconds).
    pub fn referral(friend: &str, first_name: Option<&str>, at: i64) -> Referral {
        let reward = Reward {
            kind: RewardKind::Credit,
            amount_minor: 1000,
            currency: Currency::parse("GBP").unwrap(),
            description: "£10 off".into(),
        };
        let at = Timestamp::from_secs(at);
        Referral {
            referral_id: ReferralId::generate(),
            referred_id: CustomerId::parse(friend).unwrap(),
            referrer_id: CustomerId::parse("c_dan").unwrap(),
            code: Code::parse("7QK2A9").unwrap(),
            state: ReferralState::Pending,
            method: Method::Token,
            terms: Terms {
                referrer_reward: reward.clone(),
                friend_reward: reward,
                window_secs: 30 * 86_400,
                tiers: vec![],
            },
            evidence: vec![],
            flags: vec![],
            friend: FriendProfile {
                first_name: first_name.map(str::to_owned),
                email: Some(crate::email::Email::parse(&format!("{friend}@example.com")).unwrap()),
                phone: None,
                identity: Default::default(),
            },
            touched_at: at,
            channel: Some("whatsapp".into()),
            attribution_token: None,
            conversion: None,
            refunded: None,
            created_at: at,
            updated_at: at,
            expires_at: at.plus(std::time::Duration::from_secs(30 * 86_400)),
            review_notified_at: None,
            cleared_rules: vec![],
            referrer_forfeited_at: None,
            confirms_at: None,
            version: 1,
        }
    }
}
