//! What became of each touch a sign-up had, for the audit: the one credited and why every other
//! one lost. Recorded with the attribution so the console can tell a referral's story (and an
//! unattributed sign-up's) long after the clicks themselves have expired.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::code::{Code, CodeRecord};
use crate::referral::Method;
use crate::service::attribute::Touch;
use crate::time::Timestamp;

/// Why a touch did or did not win.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TouchResult {
    /// Credited: the newest live touch inside its window.
    Won,
    /// A newer touch was credited (last touch wins).
    Older,
    /// Its code is retired or unknown.
    RetiredCode,
    /// Its code's window had closed by the sign-up.
    OutsideWindow,
    /// It came after the sign-up.
    AfterSignup,
    /// A code typed (or applied at checkout by the link) on the code the friend clicked: the
    /// click is credited in its place.
    SameCodeAsClick,
}

/// One touch as the audit keeps it: no identity, only the code, time, how and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TouchFact {
    /// The code touched.
    pub code: Code,
    /// When.
    pub at: Timestamp,
    /// How: a click, a typed code, an email invite, the fingerprint fallback.
    pub method: Method,
    /// Where the link was shared (`?ch=`), if the click said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// What became of it.
    pub result: TouchResult,
}

/// How far after the sign-up a touch still counts (clocks differ); the same as attribution's.
const SKEW_MS: i64 = 5_000;

/// Each touch, newest first, with what became of it; `winner` is the credited one if any.
pub fn report(
    touches: &[Touch],
    codes: &HashMap<Code, CodeRecord>,
    at: Timestamp,
    winner: Option<&Touch>,
) -> Vec<TouchFact> {
    let mut sorted: Vec<&Touch> = touches.iter().collect();
    sorted.sort_by_key(|t| std::cmp::Reverse(t.at));
    let mut won = false;
    sorted
        .into_iter()
        .map(|t| {
            let live = codes.get(&t.code).filter(|r| r.is_active());
            let result = if t.at.as_millis() > at.as_millis() + SKEW_MS {
                TouchResult::AfterSignup
            } else if winner.is_some_and(|w| w != t && t.method == Method::Code && w.code == t.code) {
                TouchResult::SameCodeAsClick
            } else if !won && winner == Some(t) {
                won = true;
                TouchResult::Won
            } else if won {
                TouchResult::Older
            } else {
                match live {
                    None => TouchResult::RetiredCode,
                    Some(_) => TouchResult::OutsideWindow,
                }
            };
            TouchFact { code: t.code.clone(), at: t.at, method: t.method, channel: t.channel.clone(), result }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::{CodeStatus, ReferrerProfile};
    use crate::ids::CustomerId;
    use crate::money::{Currency, Reward, RewardKind, Terms};
    use crate::service::attribute::last_touch;

    fn record(code: &str, window_secs: u64, status: CodeStatus) -> (Code, CodeRecord) {
        let reward = Reward {
            kind: RewardKind::Credit,
            amount_minor: 1,
            currency: Currency::parse("GBP").unwrap(),
            description: "x".into(),
        };
        let c = Code::parse(code).unwrap();
        let record = CodeRecord {
            code: c.clone(),
            referrer_id: CustomerId::parse("c").unwrap(),
            status,
            terms: Terms { referrer_reward: reward.clone(), friend_reward: reward, window_secs, tiers: vec![] },
            referrer: ReferrerProfile::default(),
            invite: String::new(),
            created_at: Timestamp::EPOCH,
            retired_at: None,
            flag: None,
        };
        (c, record)
    }

    fn touch(code: &str, secs: i64) -> Touch {
        Touch { code: Code::parse(code).unwrap(), at: Timestamp::from_secs(secs), method: Method::Token, channel: None }
    }

    #[test]
    fn every_touch_says_why_it_won_or_lost() {
        let codes: HashMap<_, _> = [
            record("DANDAN", 100, CodeStatus::Active),
            record("SAMSAM", 10, CodeStatus::Active),
            record("RETRED", 100, CodeStatus::Retired),
        ]
        .into();
        let at = Timestamp::from_secs(150);
        let touches = vec![
            touch("DANDAN", 60),
            touch("RETRED", 140),
            touch("SAMSAM", 120),
            touch("DANDAN", 100),
            touch("SAMSAM", 400),
        ];
        let (winner, _) = last_touch(touches.clone(), &codes, at).unwrap();
        let results: Vec<(String, i64, TouchResult)> = report(&touches, &codes, at, Some(&winner))
            .into_iter()
            .map(|f| (f.code.to_string(), f.at.as_secs(), f.result))
            .collect();
        assert_eq!(
            results,
            vec![
                ("SAMSAM".into(), 400, TouchResult::AfterSignup),
                ("RETRED".into(), 140, TouchResult::RetiredCode),
                ("SAMSAM".into(), 120, TouchResult::OutsideWindow),
                ("DANDAN".into(), 100, TouchResult::Won),
                ("DANDAN".into(), 60, TouchResult::Older),
            ]
        );
        let unattributed = report(&[touch("RETRED", 140)], &codes, at, None);
        assert_eq!(unattributed[0].result, TouchResult::RetiredCode);
    }

    #[test]
    fn a_code_applied_at_the_checkout_of_the_link_clicked_gives_way_to_the_click() {
        let codes: HashMap<_, _> = [record("DANDAN", 100, CodeStatus::Active)].into();
        let at = Timestamp::from_secs(150);
        let typed = Touch { method: Method::Code, ..touch("DANDAN", 150) };
        let touches = vec![touch("DANDAN", 100), typed];
        let (winner, _) = last_touch(touches.clone(), &codes, at).unwrap();
        let results: Vec<(Method, TouchResult)> =
            report(&touches, &codes, at, Some(&winner)).into_iter().map(|f| (f.method, f.result)).collect();
        assert_eq!(results, [(Method::Code, TouchResult::SameCodeAsClick), (Method::Token, TouchResult::Won)]);
    }
}
