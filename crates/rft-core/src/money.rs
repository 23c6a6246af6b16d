//! Money and the reward terms a code promises.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Largest amount accepted anywhere (ten million in major units): keeps sums far from overflow.
pub const MAX_AMOUNT_MINOR: u64 = 1_000_000_000;

/// An ISO 4217 currency code: three upper-case letters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

/// Why a string is not a currency code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("currency must be a three-letter ISO 4217 code such as GBP")]
pub struct CurrencyError;

impl Currency {
    /// Parses a currency code, case-insensitive.
    pub fn parse(s: &str) -> Result<Self, CurrencyError> {
        let up = s.trim().to_ascii_uppercase();
        if up.len() == 3 && up.bytes().all(|b| b.is_ascii_uppercase()) { Ok(Currency(up)) } else { Err(CurrencyError) }
    }

    /// The code, e.g. `GBP`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Formats an amount for people: `£10.00`, `€5.50`, `1,000 JPY` stays simple.
    pub fn format(&self, amount_minor: u64) -> String {
        let symbol = match self.0.as_str() {
            "GBP" => "£",
            "EUR" => "€",
            "USD" | "AUD" | "CAD" | "NZD" => "$",
            _ => "",
        };
        let decimals = self.exponent();
        let number = if decimals == 0 {
            amount_minor.to_string()
        } else {
            let unit = 10u64.pow(decimals);
            format!("{}.{:0width$}", amount_minor / unit, amount_minor % unit, width = decimals as usize)
        };
        if symbol.is_empty() { format!("{number} {}", self.0) } else { format!("{symbol}{number}") }
    }

    /// Digits after the decimal point in this currency's minor unit (ISO 4217): 0 for the yen,
    /// 3 for the Gulf dinars, 2 for everything else. Stores that send decimal strings (Shopify's
    /// `"199.00"`) are converted with it.
    pub fn exponent(&self) -> u32 {
        match self.0.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
            | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }

    /// Parses a decimal amount in major units (`"199.00"`, `"199"`, `"1.5"`) into minor units
    /// of this currency. Digits beyond the currency's exponent must be zeros: a price of
    /// `"1.005"` GBP is not a price, and rounding it would invent money.
    pub fn parse_major(&self, text: &str) -> Result<u64, AmountError> {
        let t = text.trim();
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(frac) || whole.len() > 12 {
            return Err(AmountError);
        }
        let exp = self.exponent() as usize;
        let (kept, rest) = frac.split_at(frac.len().min(exp));
        if rest.bytes().any(|b| b != b'0') {
            return Err(AmountError);
        }
        let mut minor: u64 = whole.parse().map_err(|_| AmountError)?;
        for i in 0..exp {
            let d = kept.as_bytes().get(i).map_or(0, |b| u64::from(b - b'0'));
            minor = minor.checked_mul(10).and_then(|m| m.checked_add(d)).ok_or(AmountError)?;
        }
        if minor > MAX_AMOUNT_MINOR {
            return Err(AmountError);
        }
        Ok(minor)
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Currency::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount in minor units (pence, cents) of one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Minor units, never negative.
    pub amount_minor: u64,
    /// The currency.
    pub currency: Currency,
}

/// Why an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("amount_minor must be a whole number from 0 to {MAX_AMOUNT_MINOR}")]
pub struct AmountError;

impl Money {
    /// Builds an amount, refusing absurd values.
    pub fn new(amount_minor: u64, currency: Currency) -> Result<Self, AmountError> {
        if amount_minor > MAX_AMOUNT_MINOR {
            return Err(AmountError);
        }
        Ok(Money { amount_minor, currency })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.currency.format(self.amount_minor))
    }
}

/// What kind of thing the store hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardKind {
    /// Account credit.
    Credit,
    /// Money off an order.
    Discount,
    /// Something free (a box, a cut).
    FreeItem,
}

/// One side's reward, as promised and as paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reward {
    /// Credit, discount or a free item.
    pub kind: RewardKind,
    /// Value in minor units.
    pub amount_minor: u64,
    /// Currency of the value.
    pub currency: Currency,
    /// How people see it: "£10 off your next box".
    pub description: String,
}

impl Reward {
    /// The value as money.
    pub fn money(&self) -> Money {
        Money { amount_minor: self.amount_minor, currency: self.currency.clone() }
    }
}

/// A step up in the referrer's reward from their n-th rewarded referral.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Applies from the referrer's `from`-th rewarded referral onwards.
    pub from: u32,
    /// The referrer's reward value at this step.
    pub amount_minor: u64,
    /// How people see it.
    pub description: String,
}

/// The terms a code promises, pinned when it is minted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    /// What the referrer gets (below the first tier).
    pub referrer_reward: Reward,
    /// What the friend gets.
    pub friend_reward: Reward,
    /// The last-touch window, in seconds.
    pub window_secs: u64,
    /// The referrer's tier ladder, ascending by `from`; empty when the reward is flat.
    #[serde(default)]
    pub tiers: Vec<Tier>,
}

impl Terms {
    /// The referrer's reward for their `nth` rewarded referral (1-based): the highest tier
    /// reached, else the base reward.
    pub fn referrer_reward_for(&self, nth: u32) -> Reward {
        match self.tiers.iter().rev().find(|t| nth >= t.from) {
            Some(t) => Reward {
                amount_minor: t.amount_minor,
                description: t.description.clone(),
                ..self.referrer_reward.clone()
            },
            None => self.referrer_reward.clone(),
        }
    }

    /// The window as a duration.
    pub fn window(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.window_secs)
    }

    /// Where a referrer with `rewarded` rewarded referrals stands on the ladder.
    pub fn position(&self, rewarded: u32) -> LadderPosition {
        let next = rewarded.saturating_add(1);
        let next_tier = self.tiers.iter().find(|t| t.from > next).cloned();
        LadderPosition {
            rewarded,
            next_reward: self.referrer_reward_for(next),
            referrals_to_next_tier: next_tier.as_ref().map(|t| t.from - rewarded - 1),
            next_tier,
        }
    }
}

/// A referrer's place on the tier ladder, shown with their terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LadderPosition {
    /// Rewarded referrals so far.
    pub rewarded: u32,
    /// What their next rewarded referral pays them.
    pub next_reward: Reward,
    /// The next step up, if any.
    pub next_tier: Option<Tier>,
    /// Rewarded referrals still to come before that step starts paying.
    pub referrals_to_next_tier: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbp(n: u64, d: &str) -> Reward {
        Reward {
            kind: RewardKind::Credit,
            amount_minor: n,
            currency: Currency::parse("gbp").unwrap(),
            description: d.into(),
        }
    }

    #[test]
    fn tiers_step_up_from_their_nth_referral() {
        let terms = Terms {
            referrer_reward: gbp(1000, "£10"),
            friend_reward: gbp(1000, "£10"),
            window_secs: 60,
            tiers: vec![
                Tier { from: 3, amount_minor: 2500, description: "£25".into() },
                Tier { from: 10, amount_minor: 5000, description: "£50".into() },
            ],
        };
        let ladder: Vec<u64> = (1..=11).map(|n| terms.referrer_reward_for(n).amount_minor).collect();
        assert_eq!(ladder, [1000, 1000, 2500, 2500, 2500, 2500, 2500, 2500, 2500, 5000, 5000]);
        assert_eq!(terms.referrer_reward_for(10).description, "£50");
    }

    #[test]
    fn the_position_names_the_next_reward_and_step() {
        let terms = Terms {
            referrer_reward: gbp(1000, "£10"),
            friend_reward: gbp(1000, "£10"),
            window_secs: 60,
            tiers: vec![Tier { from: 3, amount_minor: 2500, description: "£25".into() }],
        };
        let start = terms.position(0);
        assert_eq!((start.next_reward.amount_minor, start.referrals_to_next_tier), (1000, Some(2)));
        let two = terms.position(2);
        assert_eq!((two.next_reward.amount_minor, two.next_tier.clone()), (2500, None), "the 3rd pays the tier");
        assert_eq!(terms.position(1).referrals_to_next_tier, Some(1), "one more, then the 3rd pays the tier");
    }

    #[test]
    fn currencies_format_for_people() {
        let gbp = Currency::parse("GBP").unwrap();
        assert_eq!(gbp.format(1050), "£10.50");
        assert_eq!(Currency::parse("chf").unwrap().format(5), "0.05 CHF");
        assert!(Currency::parse("POUND").is_err());
        assert!(Money::new(MAX_AMOUNT_MINOR + 1, gbp).is_err());
        assert_eq!(Currency::parse("JPY").unwrap().format(1000), "1000 JPY");
        assert_eq!(Currency::parse("KWD").unwrap().format(1500), "1.500 KWD");
    }

    #[test]
    fn decimal_prices_become_minor_units_by_the_currencys_exponent() {
        let c = |s: &str| Currency::parse(s).unwrap();
        assert_eq!(c("GBP").parse_major("199.00"), Ok(19_900));
        assert_eq!(c("GBP").parse_major("199"), Ok(19_900));
        assert_eq!(c("GBP").parse_major("1.5"), Ok(150));
        assert_eq!(c("GBP").parse_major("0.010"), Ok(1));
        assert_eq!(c("JPY").parse_major("1200"), Ok(1_200));
        assert_eq!(c("JPY").parse_major("1200.00"), Ok(1_200));
        assert_eq!(c("KWD").parse_major("12.345"), Ok(12_345));
        for bad in ["", ".5", "1.005", "-1.00", "1,00", "1.2.3", "abc", "1e3", " 1 . 0", "99999999999999"] {
            assert_eq!(c("GBP").parse_major(bad), Err(AmountError), "{bad:?}");
        }
        assert_eq!(c("JPY").parse_major("1.5"), Err(AmountError));
    }
}
