//! The programme at a glance: clicks, sign-ups, conversions, conversion rate, referred revenue,
//! rewards paid, owed and parked, held; by day, week and month; top referrers and channels.
//!
//! [`ConsoleOverview`] is the one place the console gets these from. [`RollupOverview`] reads
//! them from the rollups ([`crate::rollup`]), so its reads do not grow with clicks, referrals or
//! time: the programme's all-time row (totals, referrals by state, refunds, rewards by where they
//! stand), its days back to the oldest month shown (one query of at most 366 rows), the two
//! programme counters of the stats API's rate, each month's top series (codes with sign-ups,
//! conversions or rewards that month), and for the [`TOP`] referrers their numbers exactly as
//! the stats API computes them (so the two agree to the unit).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;

use crate::code::Code;
use crate::ids::CustomerId;
use crate::money::Currency;
use crate::ports::{StoreError, Stores};
use crate::referral::ReferralState;
use crate::rollup::{self, ALL_TIME, COUNT_SUFFIX, PROGRAMME};
use crate::service::attribute::{PROGRAMME_CONVERSIONS, PROGRAMME_SIGNUPS};
use crate::service::console::referrers::ReferrerFigures;
use crate::service::console::sums::Amount;
use crate::service::stats::{ChannelCount, DAYS, referrer_stats};
use crate::time::Timestamp;

/// How many weeks and months the series cover.
pub const WEEKS: usize = 12;
/// How many months the monthly series covers.
pub const MONTHS: usize = 12;
/// How many referrers the overview ranks.
pub const TOP: usize = 10;

/// The programme's totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Totals {
    /// Clicks in the last 30 days (clicks are kept as long as the attribution window).
    pub clicks: u64,
    /// Referrals opened (friends who signed up through a referrer).
    pub signups: u64,
    /// Referred friends whose first order arrived (paid, held, blocked or waiting out its
    /// confirmation period).
    pub conversions: u64,
    /// Referrals paid.
    pub rewarded: u64,
    /// Rewarded over sign-ups, from the programme's counters: the stats API's
    /// `programme_conversion_rate`.
    pub conversion_rate: Option<f64>,
    /// Waiting for a first order.
    pub pending: u64,
    /// Waiting for a person.
    pub held: u64,
    /// Refused by the screen.
    pub blocked: u64,
    /// Refused by a person.
    pub rejected: u64,
    /// The window passed without an order.
    pub expired: u64,
    /// The converting orders' amounts.
    pub revenue: Vec<Amount>,
    /// Converting orders later refunded (as the referral records it, or flagged for review).
    pub refunded: Vec<Amount>,
    /// Rewards the store acknowledged (both sides).
    pub rewards_paid: Vec<Amount>,
    /// Rewards owed and being delivered.
    pub rewards_owed: Vec<Amount>,
    /// Rewards the store would not take: waiting for a person.
    pub rewards_parked: Vec<Amount>,
    /// Rewards never to be sent (the customer was erased first).
    pub rewards_forfeited: Vec<Amount>,
}

/// One day, week or month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// Its first day, `YYYY-MM-DD` (UTC; weeks start on Monday).
    pub start: String,
    /// Clicks in it (only the last 30 days' clicks are kept).
    pub clicks: u64,
    /// Referrals opened in it.
    pub signups: u64,
    /// First orders of referred friends in it.
    pub conversions: u64,
    /// Those orders' amounts.
    pub revenue: Vec<Amount>,
}

/// The programme at a glance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Overview {
    /// When it was computed.
    pub generated_at: String,
    /// The first day whose clicks are counted.
    pub clicks_since: String,
    /// The totals.
    pub totals: Totals,
    /// The last 30 days, oldest first.
    pub daily: Vec<Bucket>,
    /// The last 12 weeks, oldest first.
    pub weekly: Vec<Bucket>,
    /// The last 12 months, oldest first.
    pub monthly: Vec<Bucket>,
    /// The referrers with the most rewarded referrals, then conversions, sign-ups and clicks,
    /// among those with sign-ups, conversions or rewards in the last 12 months.
    pub top_referrers: Vec<ReferrerFigures>,
    /// Sharing channels: clicks, sign-ups and conversions, most clicks first.
    pub channels: Vec<ChannelCount>,
}

/// Where the console reads the overview from.
#[async_trait]
pub trait ConsoleOverview: Send + Sync {
    /// The programme at `now`.
    async fn overview(&self, now: Timestamp) -> Result<Overview, StoreError>;
}

/// The overview read from the rollups (see the module's note).
pub struct RollupOverview {
    stores: Stores,
}

impl RollupOverview {
    /// Over these stores.
    pub fn new(stores: Stores) -> Self {
        RollupOverview { stores }
    }
}

type Fields = BTreeMap<String, i64>;

#[async_trait]
impl ConsoleOverview for RollupOverview {
    async fn overview(&self, now: Timestamp) -> Result<Overview, StoreError> {
        let counters = self.stores.counters.as_ref();
        let today = date_of(now);
        let first_month = today.with_day(1).unwrap_or(today).checked_sub_months(Months::new(MONTHS as u32 - 1));
        let oldest = first_month.unwrap_or(today).min(today - chrono::Days::new(7 * WEEKS as u64));
        let all: Fields =
            counters.rows(PROGRAMME, ALL_TIME, ALL_TIME).await?.pop().map(|r| r.fields).unwrap_or_default();
        let days: BTreeMap<NaiveDate, Fields> = counters
            .rows(PROGRAMME, day_number(oldest), now.day())
            .await?
            .into_iter()
            .map(|r| (date_of(Timestamp::from_millis(r.slot * 86_400_000)), r.fields))
            .collect();
        let rate =
            match counters.counts(&[PROGRAMME_SIGNUPS.to_owned(), PROGRAMME_CONVERSIONS.to_owned()], now).await?[..] {
                [signups, conversions] if signups > 0 => {
                    Some((f64::from(conversions) / f64::from(signups) * 1000.0).round() / 1000.0)
                }
                _ => None,
            };

        let first_day = today - chrono::Days::new(DAYS as u64 - 1);
        let window = sum(days.range(first_day..).map(|(_, f)| f));
        let n = |fields: &Fields, field: &str| u64::try_from(fields.get(field).copied().unwrap_or(0)).unwrap_or(0);
        let state = |s: ReferralState| n(&all, &rollup::state_field(s));
        let totals = Totals {
            clicks: n(&window, rollup::CLICKS),
            signups: n(&all, rollup::SIGNUPS),
            conversions: n(&all, rollup::CONVERSIONS),
            rewarded: n(&all, rollup::REWARDED),
            conversion_rate: rate,
            pending: state(ReferralState::Pending),
            held: state(ReferralState::Held),
            blocked: state(ReferralState::Blocked),
            rejected: state(ReferralState::Rejected),
            expired: state(ReferralState::Expired),
            revenue: amounts(&all, rollup::REVENUE),
            refunded: amounts(&all, rollup::REFUNDED),
            rewards_paid: amounts(&all, rollup::PAID),
            rewards_owed: amounts(&all, rollup::OWED),
            rewards_parked: amounts(&all, rollup::PARKED),
            rewards_forfeited: amounts(&all, rollup::FORFEITED),
        };

        let daily =
            series(&days, (0..DAYS).map(|i| first_day + chrono::Days::new(i as u64)), |d| d.succ_opt().unwrap_or(d));
        let monday = today - chrono::Days::new(u64::from(today.weekday().num_days_from_monday()));
        let weekly = series(&days, (0..WEEKS).rev().map(|i| monday - chrono::Days::new(7 * i as u64)), |d| {
            d + chrono::Days::new(7)
        });
        let month = today.with_day(1).unwrap_or(today);
        let monthly = series(
            &days,
            (0..MONTHS).rev().map(|i| month.checked_sub_months(Months::new(i as u32)).unwrap_or(month)),
            |d| d.checked_add_months(Months::new(1)).unwrap_or(d),
        );

        // Clicks by channel over the window; sign-ups and conversions since the start.
        let mut channels: BTreeMap<String, ChannelCount> = BTreeMap::new();
        fn channel(channels: &mut BTreeMap<String, ChannelCount>, name: String) -> &mut ChannelCount {
            channels.entry(name.clone()).or_insert(ChannelCount {
                channel: name,
                clicks: 0,
                signups: 0,
                conversions: 0,
            })
        }
        for (name, clicks) in rollup::channels_of(&window, rollup::CLICKS) {
            channel(&mut channels, name).clicks = clicks;
        }
        for (name, signups) in rollup::channels_of(&all, rollup::SIGNUPS) {
            channel(&mut channels, name).signups = signups;
        }
        for (name, conversions) in rollup::channels_of(&all, rollup::CONVERSIONS) {
            channel(&mut channels, name).conversions = conversions;
        }
        let mut channels: Vec<ChannelCount> = channels.into_values().collect();
        channels
            .sort_by(|a, b| b.clicks.cmp(&a.clicks).then(b.signups.cmp(&a.signups)).then(a.channel.cmp(&b.channel)));

        Ok(Overview {
            generated_at: now.to_rfc3339(),
            clicks_since: first_day.format("%Y-%m-%d").to_string(),
            totals,
            daily,
            weekly,
            monthly,
            top_referrers: top_referrers(&self.stores, now).await?,
            channels,
        })
    }
}

/// The [`TOP`] referrers, ranked as [`Overview::top_referrers`] says. Candidates are the codes
/// in the last 12 months' top series, summed and ranked by rewards, conversions and sign-ups;
/// their owners are read until [`TOP`] are found, then each one's numbers as the stats API has
/// them, which settle the order (clicks included).
async fn top_referrers(stores: &Stores, now: Timestamp) -> Result<Vec<ReferrerFigures>, StoreError> {
    let this_month = rollup::month_of_day(now.day());
    let mut months = vec![this_month];
    for _ in 1..MONTHS {
        let last = *months.last().unwrap_or(&this_month);
        months.push(if last % 100 == 1 { (last / 100 - 1) * 100 + 12 } else { last - 1 });
    }
    let mut codes: BTreeMap<Code, Fields> = BTreeMap::new();
    for month in months {
        for row in stores.counters.rows(&rollup::top_series(month), 0, i64::MAX).await? {
            if let Some(code) = rollup::code_from_slot(row.slot) {
                let fields = codes.entry(code).or_default();
                for (k, v) in row.fields {
                    *fields.entry(k).or_default() += v;
                }
            }
        }
    }
    let key = |f: &Fields| {
        let n = |k: &str| f.get(k).copied().unwrap_or(0);
        (n(rollup::REWARDED), n(rollup::CONVERSIONS), n(rollup::SIGNUPS))
    };
    let mut ranked: Vec<(Code, Fields)> = codes.into_iter().collect();
    ranked.sort_by(|a, b| key(&b.1).cmp(&key(&a.1)).then(a.0.cmp(&b.0)));
    let mut owners: Vec<CustomerId> = Vec::new();
    for (code, _) in ranked {
        if owners.len() >= TOP {
            break;
        }
        if let Some(record) = stores.codes.get(&code).await?
            && !owners.contains(&record.referrer_id)
        {
            owners.push(record.referrer_id);
        }
    }
    let mut top = Vec::new();
    for owner in owners {
        if let Some((code, stats)) = referrer_stats(stores, &owner, now).await? {
            top.push(ReferrerFigures::new(&code, &stats));
        }
    }
    top.sort_by(|a, b| {
        (b.rewarded, b.conversions, b.signups, b.clicks)
            .cmp(&(a.rewarded, a.conversions, a.signups, a.clicks))
            .then(a.customer_id.as_str().cmp(b.customer_id.as_str()))
    });
    Ok(top)
}

fn date_of(t: Timestamp) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(t.as_millis()).map(|d| d.date_naive()).unwrap_or_default()
}

fn day_number(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis().div_euclid(86_400_000))
}

fn sum<'a>(rows: impl IntoIterator<Item = &'a Fields>) -> Fields {
    let mut out = Fields::new();
    for fields in rows {
        for (k, v) in fields {
            *out.entry(k.clone()).or_default() += v;
        }
    }
    out
}

/// Each currency's `metric.<CUR>` with its count (`metric_n.<CUR>`), in currency order.
fn amounts(fields: &Fields, metric: &str) -> Vec<Amount> {
    let prefix = format!("{metric}.");
    fields
        .iter()
        .filter_map(|(k, v)| {
            let currency = Currency::parse(k.strip_prefix(&prefix)?).ok()?;
            let amount_minor = u64::try_from(*v).unwrap_or(0);
            let count = fields.get(&format!("{metric}{COUNT_SUFFIX}.{}", currency.as_str())).copied().unwrap_or(0);
            let count = u64::try_from(count).unwrap_or(0);
            (amount_minor > 0 || count > 0).then(|| Amount {
                formatted: currency.format(amount_minor),
                currency,
                amount_minor,
                count,
            })
        })
        .collect()
}

/// Buckets starting on `starts`, each ending where `end_of` says, from the programme's days.
fn series(
    days: &BTreeMap<NaiveDate, Fields>,
    starts: impl Iterator<Item = NaiveDate>,
    end_of: impl Fn(NaiveDate) -> NaiveDate,
) -> Vec<Bucket> {
    starts
        .map(|start| {
            let fields = sum(days.range(start..end_of(start)).map(|(_, f)| f));
            let n = |field: &str| u64::try_from(fields.get(field).copied().unwrap_or(0)).unwrap_or(0);
            Bucket {
                start: start.format("%Y-%m-%d").to_string(),
                clicks: n(rollup::CLICKS),
                signups: n(rollup::SIGNUPS),
                conversions: n(rollup::CONVERSIONS),
                revenue: amounts(&fields, rollup::REVENUE),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "overview_tests.rs"]
mod tests;
