//! The programme at a glance: clicks, sign-ups, conversions, conversion rate, referred revenue,
//! rewards paid, owed and parked, held; by day, week and month; top referrers and channels.
//!
//! [`ConsoleOverview`] is the one place the console gets these from. [`StoreOverview`] computes
//! them from what the stores hold today: every referrer's numbers exactly as the stats API
//! computes them (so the two agree to the unit), the referrals by state for the series and
//! revenue, the ledger rows of rewarded referrals for the rewards, and the programme counters
//! for the conversion rate. That reads more the bigger the programme grows; rollups replace it
//! behind the same trait.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;

use crate::ledger::Fulfilment;
use crate::ports::{StoreError, Stores};
use crate::referral::{Flag, Referral, ReferralState};
use crate::service::attribute::{PROGRAMME_CONVERSIONS, PROGRAMME_SIGNUPS};
use crate::service::console::programme;
use crate::service::console::referrers::{self, ReferrerFigures};
use crate::service::console::sums::{Amount, Sums};
use crate::service::stats::{ChannelCount, DAYS};
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
    /// Referred friends whose first order arrived (whatever became of the referral).
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
    /// The referrers with the most rewarded referrals, then conversions, sign-ups and clicks.
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

/// The overview computed from the stores as they are (see the module's note).
pub struct StoreOverview {
    stores: Stores,
}

impl StoreOverview {
    /// Over these stores.
    pub fn new(stores: Stores) -> Self {
        StoreOverview { stores }
    }
}

#[async_trait]
impl ConsoleOverview for StoreOverview {
    async fn overview(&self, now: Timestamp) -> Result<Overview, StoreError> {
        let stores = &self.stores;
        let per_referrer = referrers::all_stats(stores, now).await?;
        let referrals = programme::all_referrals(stores).await?;
        let rewarded: Vec<_> =
            referrals.iter().filter(|r| r.state == ReferralState::Rewarded).map(|r| r.referral_id.clone()).collect();
        let rows = programme::each(rewarded, |id| {
            let stores = stores.clone();
            async move { stores.ledger.rows(&id).await }
        })
        .await?;
        let counters =
            stores.counters.counts(&[PROGRAMME_SIGNUPS.to_owned(), PROGRAMME_CONVERSIONS.to_owned()], now).await?;
        let rate = match counters[..] {
            [signups, conversions] if signups > 0 => {
                Some((f64::from(conversions) / f64::from(signups) * 1000.0).round() / 1000.0)
            }
            _ => None,
        };

        let mut totals = Totals {
            clicks: 0,
            signups: 0,
            conversions: 0,
            rewarded: 0,
            conversion_rate: rate,
            pending: 0,
            held: 0,
            blocked: 0,
            rejected: 0,
            expired: 0,
            revenue: Vec::new(),
            refunded: Vec::new(),
            rewards_paid: Vec::new(),
            rewards_owed: Vec::new(),
            rewards_parked: Vec::new(),
            rewards_forfeited: Vec::new(),
        };
        let mut daily_clicks: BTreeMap<String, u64> = BTreeMap::new();
        let mut channels: BTreeMap<String, ChannelCount> = BTreeMap::new();
        for (_, stats) in &per_referrer {
            totals.clicks += stats.clicks;
            totals.signups += stats.signups;
            totals.conversions += stats.conversions;
            totals.pending += stats.pending;
            totals.held += stats.held;
            totals.rewarded += stats.rewarded;
            for day in &stats.daily {
                *daily_clicks.entry(day.date.clone()).or_default() += day.clicks;
            }
            for c in &stats.channels {
                let entry = channels.entry(c.channel.clone()).or_insert(ChannelCount {
                    channel: c.channel.clone(),
                    clicks: 0,
                    signups: 0,
                    conversions: 0,
                });
                entry.clicks += c.clicks;
                entry.signups += c.signups;
                entry.conversions += c.conversions;
            }
        }
        let (mut revenue, mut refunded) = (Sums::default(), Sums::default());
        for r in &referrals {
            match r.state {
                ReferralState::Blocked => totals.blocked += 1,
                ReferralState::Rejected => totals.rejected += 1,
                ReferralState::Expired => totals.expired += 1,
                _ => {}
            }
            if let Some(c) = &r.conversion {
                revenue.add(&c.currency, c.amount_minor);
                if r.refunded.is_some() || r.flags.contains(&Flag::RefundReview) {
                    refunded.add(&c.currency, c.amount_minor);
                }
            }
        }
        let (mut paid, mut owed, mut parked, mut forfeited) =
            (Sums::default(), Sums::default(), Sums::default(), Sums::default());
        for row in rows.iter().flatten() {
            let sums = match row.fulfilment {
                Fulfilment::Fulfilled { .. } => &mut paid,
                Fulfilment::Owing { .. } => &mut owed,
                Fulfilment::Parked { .. } => &mut parked,
                Fulfilment::Forfeited { .. } => &mut forfeited,
            };
            sums.add(&row.reward.currency, row.reward.amount_minor);
        }
        totals.revenue = revenue.amounts();
        totals.refunded = refunded.amounts();
        totals.rewards_paid = paid.amounts();
        totals.rewards_owed = owed.amounts();
        totals.rewards_parked = parked.amounts();
        totals.rewards_forfeited = forfeited.amounts();

        let today = date_of(now);
        let first_day = today - chrono::Days::new(DAYS as u64 - 1);
        let daily =
            series(&referrals, &daily_clicks, (0..DAYS).map(|i| first_day + chrono::Days::new(i as u64)), |d| {
                d.succ_opt().unwrap_or(d)
            });
        let monday = today - chrono::Days::new(u64::from(today.weekday().num_days_from_monday()));
        let weekly = series(
            &referrals,
            &daily_clicks,
            (0..WEEKS).rev().map(|i| monday - chrono::Days::new(7 * i as u64)),
            |d| d + chrono::Days::new(7),
        );
        let month = today.with_day(1).unwrap_or(today);
        let monthly = series(
            &referrals,
            &daily_clicks,
            (0..MONTHS).rev().map(|i| month.checked_sub_months(Months::new(i as u32)).unwrap_or(month)),
            |d| d.checked_add_months(Months::new(1)).unwrap_or(d),
        );

        let mut ranked: Vec<ReferrerFigures> =
            per_referrer.iter().map(|(code, stats)| ReferrerFigures::new(code, stats)).collect();
        ranked.sort_by(|a, b| {
            (b.rewarded, b.conversions, b.signups, b.clicks)
                .cmp(&(a.rewarded, a.conversions, a.signups, a.clicks))
                .then(a.customer_id.as_str().cmp(b.customer_id.as_str()))
        });
        ranked.truncate(TOP);
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
            top_referrers: ranked,
            channels,
        })
    }
}

fn date_of(t: Timestamp) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(t.as_millis()).map(|d| d.date_naive()).unwrap_or_default()
}

/// Buckets starting on `starts`, each ending where `end_of` says.
fn series(
    referrals: &[Referral],
    daily_clicks: &BTreeMap<String, u64>,
    starts: impl Iterator<Item = NaiveDate>,
    end_of: impl Fn(NaiveDate) -> NaiveDate,
) -> Vec<Bucket> {
    starts
        .map(|start| {
            let end = end_of(start);
            let inside = |t: Timestamp| {
                let d = date_of(t);
                d >= start && d < end
            };
            let clicks = daily_clicks
                .iter()
                .filter(|(day, _)| NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok_and(|d| d >= start && d < end))
                .map(|(_, n)| n)
                .sum();
            let mut revenue = Sums::default();
            let mut conversions = 0;
            for c in referrals.iter().filter_map(|r| r.conversion.as_ref()).filter(|c| inside(c.occurred_at)) {
                conversions += 1;
                revenue.add(&c.currency, c.amount_minor);
            }
            Bucket {
                start: start.format("%Y-%m-%d").to_string(),
                clicks,
                signups: referrals.iter().filter(|r| inside(r.created_at)).count() as u64,
                conversions,
                revenue: revenue.amounts(),
            }
        })
        .collect()
}
