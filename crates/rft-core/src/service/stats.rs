//! A referrer's numbers, computed by key, never by scanning a table or walking clicks: their
//! codes' clicks from the rollups (one read of each code's last 30 days, [`crate::rollup`]),
//! their referrals through the by-referrer index, their ledger rows through the by-customer
//! index. What a referrer has had grows these reads with their referrals, never with clicks.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::code::{Code, CodeRecord};
use crate::ids::CustomerId;
use crate::ledger::Side;
use crate::money::Currency;
use crate::ports::{StoreError, Stores};
use crate::referral::ReferralState;
use crate::rollup;
use crate::service::attribute::{PROGRAMME_CONVERSIONS, PROGRAMME_SIGNUPS};
use crate::time::Timestamp;

/// How many days the daily series covers.
pub const DAYS: usize = 30;

/// What a referrer has earned in one currency.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Earned {
    /// The currency.
    pub currency: Currency,
    /// The total, in minor units.
    pub amount_minor: u64,
    /// For people: `£30.00`.
    pub formatted: String,
}

/// One day of the series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    /// Clicks that day.
    pub clicks: u64,
    /// Conversions that day.
    pub conversions: u64,
}

/// One sharing channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelCount {
    /// `whatsapp`, `sms`, `email`, ... or `direct` when the link had no `?ch=`.
    pub channel: String,
    /// Clicks from it in the last 30 days.
    pub clicks: u64,
    /// Sign-ups credited through it.
    pub signups: u64,
    /// Conversions credited through it.
    pub conversions: u64,
}

/// A referrer's numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReferrerStats {
    /// Clicks on any of their codes in the last 30 UTC days, today included (email invites
    /// count as clicks on the `email` channel, as they always have).
    pub clicks: u64,
    /// Friends who signed up through them.
    pub signups: u64,
    /// Friends who converted.
    pub conversions: u64,
    /// Referrals waiting for a conversion.
    pub pending: u64,
    /// Referrals waiting for a person.
    pub held: u64,
    /// Referrals that paid.
    pub rewarded: u64,
    /// What they have earned, per currency.
    pub earned: Vec<Earned>,
    /// Their rewarded referrals over their sign-ups: the same measure as the programme's, so
    /// the two compare (a held conversion is not yet a conversion that counts).
    pub conversion_rate: Option<f64>,
    /// The programme's, for comparison.
    pub programme_conversion_rate: Option<f64>,
    /// The last 30 days, oldest first, today last.
    pub daily: Vec<Day>,
    /// By sharing channel.
    pub channels: Vec<ChannelCount>,
}

fn rate(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| (numerator as f64 / denominator as f64 * 1000.0).round() / 1000.0)
}

/// The referrer's active code (else their newest) and their numbers; `None` if they never had
/// a code.
pub async fn referrer_stats(
    stores: &Stores,
    customer: &CustomerId,
    now: Timestamp,
) -> Result<Option<(CodeRecord, ReferrerStats)>, StoreError> {
    let codes = stores.codes.codes_of(customer).await?;
    let Some(current) = codes.iter().rev().find(|c| c.is_active()).or(codes.last()).cloned() else { return Ok(None) };
    let since = Timestamp::from_millis((now.day() - (DAYS as i64 - 1)) * 86_400_000);
    let mut days: BTreeMap<i64, Day> = (0..DAYS as i64)
        .map(|i| {
            let day = since.day() + i;
            (day, Day { date: Timestamp::from_millis(day * 86_400_000).date(), clicks: 0, conversions: 0 })
        })
        .collect();
    let mut channels: BTreeMap<String, ChannelCount> = BTreeMap::new();
    let channel = |channels: &mut BTreeMap<String, ChannelCount>, name: Option<&str>| {
        let name = name.unwrap_or("direct").to_owned();
        channels
            .entry(name.clone())
            .or_insert(ChannelCount { channel: name, clicks: 0, signups: 0, conversions: 0 })
            .clone()
    };
    let mut clicks = 0;
    let code_list: Vec<Code> = codes.iter().map(|c| c.code.clone()).collect();
    for (day, fields) in rollup::days_of_codes(stores.counters.as_ref(), &code_list, since.day(), now.day()).await? {
        let n = u64::try_from(fields.get(rollup::CLICKS).copied().unwrap_or(0)).unwrap_or(0);
        clicks += n;
        if let Some(d) = days.get_mut(&day) {
            d.clicks += n;
        }
        for (name, n) in rollup::channels_of(&fields, rollup::CLICKS) {
            let mut c = channel(&mut channels, Some(&name));
            c.clicks += n;
            channels.insert(c.channel.clone(), c);
        }
    }
    let referrals = stores.referrals.referrals_of(customer).await?;
    let (mut pending, mut held, mut rewarded, mut conversions) = (0, 0, 0, 0);
    for r in &referrals {
        match r.state {
            ReferralState::Pending => pending += 1,
            ReferralState::Held => held += 1,
            ReferralState::Rewarded => rewarded += 1,
            _ => {}
        }
        let mut c = channel(&mut channels, r.channel.as_deref());
        c.signups += 1;
        if let Some(conv) = &r.conversion {
            conversions += 1;
            c.conversions += 1;
            if let Some(d) = days.get_mut(&conv.occurred_at.day()) {
                d.conversions += 1;
            }
        }
        channels.insert(c.channel.clone(), c);
    }
    let mut earned: BTreeMap<Currency, u64> = BTreeMap::new();
    for row in stores.ledger.rows_of(customer).await?.into_iter().filter(|r| r.side == Side::Referrer) {
        *earned.entry(row.reward.currency.clone()).or_insert(0) += row.reward.amount_minor;
    }
    let programme =
        stores.counters.counts(&[PROGRAMME_SIGNUPS.to_owned(), PROGRAMME_CONVERSIONS.to_owned()], now).await?;
    let (programme_signups, programme_conversions) = (programme[0], programme[1]);
    let signups = referrals.len() as u64;
    let stats = ReferrerStats {
        clicks,
        signups,
        conversions,
        pending,
        held,
        rewarded,
        earned: earned
            .into_iter()
            .map(|(currency, amount_minor)| Earned { formatted: currency.format(amount_minor), currency, amount_minor })
            .collect(),
        conversion_rate: rate(rewarded, signups),
        programme_conversion_rate: rate(u64::from(programme_conversions), u64::from(programme_signups)),
        daily: days.into_values().collect(),
        channels: {
            let mut list: Vec<ChannelCount> = channels.into_values().collect();
            list.sort_by(|a, b| b.clicks.cmp(&a.clicks).then(a.channel.cmp(&b.channel)));
            list
        },
    };
    Ok(Some((current, stats)))
}

/// How long a referrer's page link works.
pub const PORTAL_TTL: Duration = Duration::from_secs(30 * 86_400);
