//! Rollups: what the referrer's page, the stats API, the owner's console and the velocity rules
//! read, kept as counters so every read is a handful of rows whatever the history.
//!
//! A rollup is a *series* of rows, each row a *slot* holding named fields. Stores keep a row as
//! one item (DynamoDB: `counter#<series>` with the slot as sort key; locally one redb key per
//! field), so a step that moves several fields of one row is one write, and a range of slots
//! is one read (a DynamoDB Query on one partition).
//!
//! | series | slot | fields |
//! |---|---|---|
//! | `r#code#<CODE>` | UTC day | `clicks`, `clicks.<channel>`, `h00`..`h23` (clicks per hour of that day, for velocity), `signups`, `signups.<channel>`, `conversions`, `conversions.<channel>`, `rewarded`, `revenue.<CUR>`, `earned.<CUR>` |
//! | `r#all` | UTC day | the programme: the same without the hours, plus `rewards.<CUR>` (both sides) and `owed.<CUR>`, `paid.<CUR>`, `parked.<CUR>`, `forfeited.<CUR>` |
//! | `r#top#<YYYYMM>` | the code's number ([`code_slot`]) | a code's month: `signups`, `conversions`, `rewarded`, `revenue.<CUR>`, `earned.<CUR>` |
//!
//! Who moves what: clicks (and email invites, which the click log holds beside clicks and
//! which have always counted as clicks on the `email` channel) are counted by the click log's
//! follower, in batches ([`click_steps`]): locally the click log's folder, in AWS a DynamoDB
//! Stream on `rft-clicks` consumed by `rft-sweep`. A sign-up is counted when its referral opens
//! ([`signup_steps`]); a conversion when it is recorded on its referral ([`conversion_steps`]),
//! inside the payout's transaction when it pays at once ([`payout_steps`]). Keys carry codes and
//! days only: no customer id, so erasure has nothing to find in them (a code's owner is read
//! from the code, which erasure relabels).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::code::{ALPHABET, Code};
use crate::ids::CustomerId;
use crate::ledger::{CounterStep, Fulfilment, LedgerRow, Side};
use crate::money::Currency;
use crate::ports::{Counters, StoreError, Stores};
use crate::referral::{ConversionFacts, Referral, ReviewQueue};
use crate::time::Timestamp;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// Clicks (with email invites).
pub const CLICKS: &str = "clicks";
/// Referrals opened.
pub const SIGNUPS: &str = "signups";
/// Conversions recorded on a referral (paid at once, held for a person, or blocked).
pub const CONVERSIONS: &str = "conversions";
/// Referrals paid.
pub const REWARDED: &str = "rewarded";
/// The converting orders' value, per currency (`revenue.GBP`).
pub const REVENUE: &str = "revenue";
/// The referrer's side of each payout, per currency.
pub const EARNED: &str = "earned";
/// Both sides of each payout, per currency (programme rows).
pub const REWARDS: &str = "rewards";
/// Rewards committed and not yet acknowledged by the store (programme rows).
pub const OWED: &str = "owed";
/// Rewards the store acknowledged.
pub const PAID: &str = "paid";
/// Rewards parked for a person after the retry budget.
pub const PARKED: &str = "parked";
/// Rewards never to be sent (erased customers).
pub const FORFEITED: &str = "forfeited";
/// The channel name for a link shared without `?ch=`.
pub const DIRECT: &str = "direct";

/// The programme's daily series.
pub const PROGRAMME: &str = "r#all";

/// One row of a series as read: its slot and its fields (absent fields are zero).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RollupRow {
    /// The slot: a UTC day, or a code's number.
    pub slot: i64,
    /// Field values.
    pub fields: BTreeMap<String, i64>,
}

impl RollupRow {
    /// A field's value (zero when absent).
    pub fn get(&self, field: &str) -> i64 {
        self.fields.get(field).copied().unwrap_or(0)
    }
}

/// A code's daily series.
pub fn code_series(code: &Code) -> String {
    format!("r#code#{}", code.as_str())
}

/// The series of every code's month `YYYYMM` (slots are [`code_slot`]s): top referrers.
pub fn top_series(month: u32) -> String {
    format!("r#top#{month}")
}

/// A code as a number (base 31 over [`ALPHABET`]), so it can be a slot.
pub fn code_slot(code: &Code) -> i64 {
    code.as_str().bytes().fold(0i64, |n, b| n * 31 + ALPHABET.iter().position(|a| *a == b).map_or(0, |p| p as i64))
}

/// The code a slot of a top series stands for.
pub fn code_from_slot(slot: i64) -> Option<Code> {
    let mut n = slot;
    let mut out = [0u8; 6];
    for c in out.iter_mut().rev() {
        *c = ALPHABET[usize::try_from(n.rem_euclid(31)).ok()?];
        n = n.div_euclid(31);
    }
    (n == 0).then(|| Code::parse(std::str::from_utf8(&out).ok()?).ok()).flatten()
}

/// The UTC month of a day, as `YYYYMM`.
pub fn month_of_day(day: i64) -> u32 {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp_millis(day.saturating_mul(DAY_MS))
        .map_or(197001, |d| u32::try_from(d.year()).unwrap_or(1970) * 100 + d.month())
}

/// The first day of the month `YYYYMM`.
pub fn first_day_of_month(month: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(i32::try_from(month / 100).unwrap_or(1970), month % 100, 1)
        .map_or(0, |d| d.signed_duration_since(chrono::NaiveDate::default()).num_days())
}

/// The date of a day, `YYYY-MM-DD`.
pub fn date_of_day(day: i64) -> String {
    Timestamp::from_millis(day.saturating_mul(DAY_MS)).date()
}

/// `metric.<channel>`, with [`DIRECT`] for a link shared without one.
pub fn channel_field(metric: &str, channel: Option<&str>) -> String {
    format!("{metric}.{}", channel.unwrap_or(DIRECT))
}

fn hour_field(hour: i64) -> String {
    format!("h{:02}", hour.rem_euclid(24))
}

/// Clicks of one code in one hour through one channel: what the click log's followers count
/// by, before [`click_steps`] turns them into rows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClickCell {
    /// The code clicked.
    pub code: Code,
    /// Hours since the epoch (UTC).
    pub hour: i64,
    /// `?ch=`, if any.
    pub channel: Option<String>,
}

impl ClickCell {
    /// The cell a click falls in.
    pub fn of(code: &Code, at: Timestamp, channel: Option<&str>) -> Self {
        ClickCell { code: code.clone(), hour: at.as_millis().div_euclid(HOUR_MS), channel: channel.map(str::to_owned) }
    }

    fn day(&self) -> i64 {
        self.hour.div_euclid(24)
    }
}

/// Accumulates steps and merges those of one row into one.
#[derive(Default)]
struct Rows(BTreeMap<(String, i64), BTreeMap<String, i64>>);

impl Rows {
    fn add(&mut self, series: &str, slot: i64, field: impl Into<String>, by: i64) {
        if by != 0 {
            *self.0.entry((series.to_owned(), slot)).or_default().entry(field.into()).or_default() += by;
        }
    }

    fn steps(self) -> Vec<CounterStep> {
        self.0
            .into_iter()
            .map(|((key, slot), adds)| CounterStep {
                key,
                expires_at: Timestamp::NEVER,
                slot,
                adds: adds.into_iter().collect(),
            })
            .collect()
    }
}

/// The rows a batch of clicks moves: each code's day (total, channel, hour) and the
/// programme's day (total, channel). One step per row, however many clicks.
pub fn click_steps<'a>(cells: impl IntoIterator<Item = (&'a ClickCell, u64)>) -> Vec<CounterStep> {
    let mut rows = Rows::default();
    for (cell, n) in cells {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let (series, day, channel) = (code_series(&cell.code), cell.day(), cell.channel.as_deref());
        rows.add(&series, day, CLICKS, n);
        rows.add(&series, day, channel_field(CLICKS, channel), n);
        rows.add(&series, day, hour_field(cell.hour), n);
        rows.add(PROGRAMME, day, CLICKS, n);
        rows.add(PROGRAMME, day, channel_field(CLICKS, channel), n);
    }
    rows.steps()
}

fn counted(rows: &mut Rows, referral: &Referral, day: i64, fields: &[(String, i64)]) {
    let code = code_series(&referral.code);
    let top = top_series(month_of_day(day));
    let slot = code_slot(&referral.code);
    for (field, by) in fields {
        rows.add(&code, day, field.clone(), *by);
        rows.add(PROGRAMME, day, field.clone(), *by);
        if !field.contains('.') || field.starts_with(REVENUE) || field.starts_with(EARNED) {
            rows.add(&top, slot, field.clone(), *by);
        }
    }
}

/// What opening `referral` adds: a sign-up on its code's, its month's and the programme's day.
pub fn signup_steps(referral: &Referral) -> Vec<CounterStep> {
    let mut rows = Rows::default();
    let fields = [(SIGNUPS.to_owned(), 1), (channel_field(SIGNUPS, referral.channel.as_deref()), 1)];
    counted(&mut rows, referral, referral.created_at.day(), &fields);
    rows.steps()
}

fn conversion_fields(referral: &Referral, conversion: &ConversionFacts) -> Vec<(String, i64)> {
    vec![
        (CONVERSIONS.to_owned(), 1),
        (channel_field(CONVERSIONS, referral.channel.as_deref()), 1),
        (
            format!("{REVENUE}.{}", conversion.currency.as_str()),
            i64::try_from(conversion.amount_minor).unwrap_or(i64::MAX),
        ),
    ]
}

/// What recording `conversion` on `referral` adds (when it does not pay at once: held for a
/// person, or blocked): a conversion and its order's value, on the conversion's day.
pub fn conversion_steps(referral: &Referral, conversion: &ConversionFacts) -> Vec<CounterStep> {
    let mut rows = Rows::default();
    counted(&mut rows, referral, conversion.occurred_at.day(), &conversion_fields(referral, conversion));
    rows.steps()
}

/// What a payout adds, for its transaction: a rewarded referral and both sides' rewards on the
/// payout's day, and, when the payout records the conversion too (`new_conversion`), the
/// conversion on its own day.
pub fn payout_steps(paid: &Referral, rows: &[LedgerRow], new_conversion: bool) -> Vec<CounterStep> {
    let mut out = Rows::default();
    let day = rows.first().map_or(paid.updated_at, |r| r.created_at).day();
    let mut fields = vec![(REWARDED.to_owned(), 1)];
    for row in rows {
        let (currency, amount) = (row.reward.currency.as_str(), i64::try_from(row.reward.amount_minor).unwrap_or(0));
        if row.side == Side::Referrer {
            fields.push((format!("{EARNED}.{currency}"), amount));
        }
        out.add(PROGRAMME, day, format!("{REWARDS}.{currency}"), amount);
        out.add(PROGRAMME, day, format!("{OWED}.{currency}"), amount);
    }
    counted(&mut out, paid, day, &fields);
    if new_conversion && let Some(conversion) = &paid.conversion {
        counted(&mut out, paid, conversion.occurred_at.day(), &conversion_fields(paid, conversion));
    }
    out.steps()
}

fn fulfilment_field(f: &Fulfilment) -> &'static str {
    match f {
        Fulfilment::Owing { .. } => OWED,
        Fulfilment::Fulfilled { .. } => PAID,
        Fulfilment::Parked { .. } => PARKED,
        Fulfilment::Forfeited { .. } => FORFEITED,
    }
}

/// What a ledger row's move between owed, paid, parked and forfeited does to the programme's
/// reward counts (on the row's payout day), for the fulfilment path to apply with the row.
pub fn fulfilment_moved(before: &LedgerRow, after: &LedgerRow) -> Vec<CounterStep> {
    let (from, to) = (fulfilment_field(&before.fulfilment), fulfilment_field(&after.fulfilment));
    let mut rows = Rows::default();
    if from != to {
        let (currency, amount) =
            (after.reward.currency.as_str(), i64::try_from(after.reward.amount_minor).unwrap_or(0));
        let day = after.created_at.day();
        rows.add(PROGRAMME, day, format!("{from}.{currency}"), -amount);
        rows.add(PROGRAMME, day, format!("{to}.{currency}"), amount);
    }
    rows.steps()
}

/// Applies rollup steps, logging rather than failing: counts are figures for people, and a
/// caller's own work (an opened referral, a recorded conversion) must not be undone by them.
pub async fn apply(counters: &dyn Counters, steps: &[CounterStep]) {
    if let Err(e) = counters.add(steps).await {
        tracing::warn!(error = %e, rows = steps.len(), "rollup counts not updated");
    }
}

// ---- reads ----------------------------------------------------------------------------------

/// A code's clicks in the hour before `at` (the velocity rule): the current clock hour plus the
/// previous one weighted by how much of it the hour still covers, from the code's last two
/// days (one read).
pub async fn code_clicks_last_hour(counters: &dyn Counters, code: &Code, at: Timestamp) -> Result<u64, StoreError> {
    let hour = at.as_millis().div_euclid(HOUR_MS);
    let rows = counters.rows(&code_series(code), (hour - 1).div_euclid(24), hour.div_euclid(24)).await?;
    let count = |h: i64| {
        rows.iter()
            .find(|r| r.slot == h.div_euclid(24))
            .map_or(0, |r| u64::try_from(r.get(&hour_field(h))).unwrap_or(0))
    };
    let elapsed = at.as_millis().rem_euclid(HOUR_MS) as f64 / HOUR_MS as f64;
    Ok(count(hour) + (count(hour - 1) as f64 * (1.0 - elapsed)).ceil() as u64)
}

/// Several codes' rows summed per day, for days `from..=to`: a referrer's numbers.
pub async fn days_of_codes(
    counters: &dyn Counters,
    codes: &[Code],
    from: i64,
    to: i64,
) -> Result<BTreeMap<i64, BTreeMap<String, i64>>, StoreError> {
    let mut days: BTreeMap<i64, BTreeMap<String, i64>> = BTreeMap::new();
    for code in codes {
        for row in counters.rows(&code_series(code), from, to).await? {
            let day = days.entry(row.slot).or_default();
            for (field, n) in row.fields {
                *day.entry(field).or_default() += n;
            }
        }
    }
    Ok(days)
}

/// Channels' counts of one metric in summed fields, `direct` included.
pub fn channels_of(fields: &BTreeMap<String, i64>, metric: &str) -> BTreeMap<String, u64> {
    let prefix = format!("{metric}.");
    fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_owned(), u64::try_from(*v).unwrap_or(0))))
        .collect()
}

/// An amount in one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Amount {
    /// The currency.
    pub currency: Currency,
    /// In minor units.
    pub amount_minor: i64,
    /// For people: `£30.00`.
    pub formatted: String,
}

fn amounts(fields: &BTreeMap<String, i64>, metric: &str) -> Vec<Amount> {
    let prefix = format!("{metric}.");
    fields
        .iter()
        .filter_map(|(k, v)| {
            let currency = Currency::parse(k.strip_prefix(&prefix)?).ok()?;
            let formatted = if *v < 0 {
                format!("-{}", currency.format(v.unsigned_abs()))
            } else {
                currency.format(v.unsigned_abs())
            };
            Some(Amount { currency, amount_minor: *v, formatted })
        })
        .collect()
}

fn rate(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| (numerator as f64 / denominator as f64 * 1000.0).round() / 1000.0)
}

/// The programme's (or a referrer's) figures over some days, as the console shows them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Clicks (with email invites).
    pub clicks: u64,
    /// Referrals opened.
    pub signups: u64,
    /// Conversions recorded (paid, held or blocked).
    pub conversions: u64,
    /// Referrals paid.
    pub rewarded: u64,
    /// Rewarded over sign-ups: the stats API's measure.
    pub conversion_rate: Option<f64>,
    /// The converting orders' value, per currency.
    pub revenue: Vec<Amount>,
    /// Rewards committed (both sides), per currency.
    pub rewards: Vec<Amount>,
    /// The referrers' side of those rewards, per currency.
    pub earned: Vec<Amount>,
    /// Committed and not yet acknowledged by the store.
    pub owed: Vec<Amount>,
    /// Acknowledged by the store.
    pub paid: Vec<Amount>,
    /// Parked for a person.
    pub parked: Vec<Amount>,
}

impl Figures {
    /// The figures in summed fields.
    pub fn of(fields: &BTreeMap<String, i64>) -> Self {
        let n = |f: &str| u64::try_from(fields.get(f).copied().unwrap_or(0)).unwrap_or(0);
        Figures {
            clicks: n(CLICKS),
            signups: n(SIGNUPS),
            conversions: n(CONVERSIONS),
            rewarded: n(REWARDED),
            conversion_rate: rate(n(REWARDED), n(SIGNUPS)),
            revenue: amounts(fields, REVENUE),
            rewards: amounts(fields, REWARDS),
            earned: amounts(fields, EARNED),
            owed: amounts(fields, OWED),
            paid: amounts(fields, PAID),
            parked: amounts(fields, PARKED),
        }
    }
}

fn sum<'a>(rows: impl IntoIterator<Item = &'a BTreeMap<String, i64>>) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for fields in rows {
        for (k, v) in fields {
            *out.entry(k.clone()).or_default() += v;
        }
    }
    out
}

/// One period (a day, an ISO week or a month) and its figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeriodFigures {
    /// `2026-11-28`, `2026-W48` or `2026-11`.
    pub period: String,
    /// Its first day shown, `YYYY-MM-DD`.
    pub from: String,
    /// Its last day shown (today for the current one).
    pub to: String,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// One channel's counts over the overview's days.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelFigures {
    /// `whatsapp`, `email`, ... or `direct`.
    pub channel: String,
    /// Clicks through it.
    pub clicks: u64,
    /// Sign-ups credited through it.
    pub signups: u64,
    /// Conversions credited through it.
    pub conversions: u64,
}

/// One of the month's top referrers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopReferrer {
    /// Who (an opaque id once erased).
    pub referrer_id: CustomerId,
    /// Their codes with any count this month.
    pub codes: Vec<Code>,
    /// Their figures for the month (clicks included).
    #[serde(flatten)]
    pub figures: Figures,
}

/// The programme at a glance, for the owner's console.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Overview {
    /// Today, `YYYY-MM-DD` (UTC).
    pub today: String,
    /// Each day, oldest first, today last.
    pub days: Vec<PeriodFigures>,
    /// Each ISO week (Monday to Sunday) those days touch, oldest first; the first may be partial.
    pub weeks: Vec<PeriodFigures>,
    /// Each calendar month those days touch, oldest first; the first may be partial.
    pub months: Vec<PeriodFigures>,
    /// All those days together.
    pub totals: Figures,
    /// Channels over those days, most clicked first.
    pub channels: Vec<ChannelFigures>,
    /// This month's top referrers, most sign-ups first.
    pub top_referrers: Vec<TopReferrer>,
    /// Referrals waiting for a person now.
    pub held: u64,
}

fn periods(days: &BTreeMap<i64, BTreeMap<String, i64>>, label: impl Fn(i64) -> String) -> Vec<PeriodFigures> {
    let mut groups: Vec<(String, Vec<i64>)> = Vec::new();
    for day in days.keys() {
        let name = label(*day);
        match groups.last_mut() {
            Some((last, members)) if *last == name => members.push(*day),
            _ => groups.push((name, vec![*day])),
        }
    }
    groups
        .into_iter()
        .map(|(period, members)| PeriodFigures {
            period,
            from: date_of_day(members[0]),
            to: date_of_day(*members.last().unwrap_or(&members[0])),
            figures: Figures::of(&sum(members.iter().filter_map(|d| days.get(d)))),
        })
        .collect()
}

fn iso_week(day: i64) -> String {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp_millis(day.saturating_mul(DAY_MS))
        .map(|d| d.iso_week())
        .map_or_else(String::new, |w| format!("{}-W{:02}", w.year(), w.week()))
}

fn month_label(day: i64) -> String {
    let m = month_of_day(day);
    format!("{}-{:02}", m / 100, m % 100)
}

/// The programme's days `from..=to` (one read of the programme's series).
pub async fn programme_days(
    counters: &dyn Counters,
    from: i64,
    to: i64,
) -> Result<BTreeMap<i64, BTreeMap<String, i64>>, StoreError> {
    let mut days: BTreeMap<i64, BTreeMap<String, i64>> = (from..=to).map(|d| (d, BTreeMap::new())).collect();
    for row in counters.rows(PROGRAMME, from, to).await? {
        days.insert(row.slot, row.fields);
    }
    Ok(days)
}

/// The month's (`YYYYMM`) top referrers, most sign-ups first (then conversions, then rewards):
/// one read of the month's series, then each leader's code (its owner) and its days (its
/// clicks). `limit` bounds the reads.
pub async fn top_referrers(stores: &Stores, month: u32, limit: usize) -> Result<Vec<TopReferrer>, StoreError> {
    let mut codes: Vec<(Code, BTreeMap<String, i64>)> = stores
        .counters
        .rows(&top_series(month), 0, i64::MAX)
        .await?
        .into_iter()
        .filter_map(|row| Some((code_from_slot(row.slot)?, row.fields)))
        .collect();
    let key = |f: &BTreeMap<String, i64>| {
        let n = |k: &str| f.get(k).copied().unwrap_or(0);
        (n(SIGNUPS), n(CONVERSIONS), n(REWARDED))
    };
    codes.sort_by(|a, b| key(&b.1).cmp(&key(&a.1)).then(a.0.cmp(&b.0)));
    let (first, last) = (first_day_of_month(month), first_day_of_month(next_month(month)) - 1);
    // Per leader: who, their codes, and each code's fields.
    type Leader = (CustomerId, Vec<Code>, Vec<BTreeMap<String, i64>>);
    let mut leaders: Vec<Leader> = Vec::new();
    for (code, fields) in codes {
        if leaders.len() >= limit && !leaders.iter().any(|l| l.1.contains(&code)) {
            break;
        }
        let Some(record) = stores.codes.get(&code).await? else { continue };
        let clicks = days_of_codes(stores.counters.as_ref(), std::slice::from_ref(&code), first, last).await?;
        let mut fields = fields;
        fields.insert(CLICKS.to_owned(), clicks.values().map(|d| d.get(CLICKS).copied().unwrap_or(0)).sum());
        let room = leaders.len() < limit;
        match leaders.iter_mut().find(|l| l.0 == record.referrer_id) {
            Some(l) => {
                l.1.push(code);
                l.2.push(fields);
            }
            None if room => leaders.push((record.referrer_id, vec![code], vec![fields])),
            None => {}
        }
    }
    Ok(leaders
        .into_iter()
        .map(|(referrer_id, codes, fields)| TopReferrer { referrer_id, codes, figures: Figures::of(&sum(&fields)) })
        .collect())
}

fn next_month(month: u32) -> u32 {
    if month % 100 >= 12 { (month / 100 + 1) * 100 + 1 } else { month + 1 }
}

/// How many held referrals the overview counts at most (the held queue is read, not counted).
pub const HELD_READ_LIMIT: usize = 1000;

/// The programme over the `days` days ending today: by day, ISO week and month, totals,
/// channels, this month's top referrers (`top` of them) and the held count. Reads: the
/// programme's series once, the month's top series once, a code and a series per leader, and
/// the held queue.
pub async fn overview(stores: &Stores, now: Timestamp, days: usize, top: usize) -> Result<Overview, StoreError> {
    let today = now.day();
    let from = today - i64::try_from(days.max(1)).unwrap_or(1) + 1;
    let rows = programme_days(stores.counters.as_ref(), from, today).await?;
    let totals = sum(rows.values());
    let mut channels: BTreeMap<String, ChannelFigures> = BTreeMap::new();
    for (metric, pick) in [(CLICKS, 0), (SIGNUPS, 1), (CONVERSIONS, 2)] {
        for (channel, n) in channels_of(&totals, metric) {
            let c = channels.entry(channel.clone()).or_insert(ChannelFigures {
                channel,
                clicks: 0,
                signups: 0,
                conversions: 0,
            });
            match pick {
                0 => c.clicks += n,
                1 => c.signups += n,
                _ => c.conversions += n,
            }
        }
    }
    let mut channels: Vec<ChannelFigures> = channels.into_values().collect();
    channels.sort_by(|a, b| b.clicks.cmp(&a.clicks).then(b.signups.cmp(&a.signups)).then(a.channel.cmp(&b.channel)));
    let held = stores.referrals.queue(ReviewQueue::Held, now, HELD_READ_LIMIT).await?.len() as u64;
    Ok(Overview {
        today: date_of_day(today),
        days: periods(&rows, date_of_day),
        weeks: periods(&rows, iso_week),
        months: periods(&rows, month_label),
        totals: Figures::of(&totals),
        channels,
        top_referrers: top_referrers(stores, month_of_day(today), top).await?,
        held,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_slots_round_trip() {
        for c in ["222222", "ZZZZZZ", "7QK2A9"] {
            let code = Code::parse(c).unwrap();
            assert_eq!(code_from_slot(code_slot(&code)), Some(code));
        }
        assert!(code_slot(&Code::parse("222223").unwrap()) > code_slot(&Code::parse("222222").unwrap()));
        assert_eq!(code_from_slot(31i64.pow(6)), None);
    }

    #[test]
    fn months_and_weeks_are_utc_calendar_ones() {
        let day = Timestamp::parse_rfc3339("2026-11-28T23:59:59Z").unwrap().day();
        assert_eq!(month_of_day(day), 202611);
        assert_eq!(date_of_day(first_day_of_month(202611)), "2026-11-01");
        assert_eq!(next_month(202612), 202701);
        assert_eq!(iso_week(day), "2026-W48");
        assert_eq!(month_label(day), "2026-11");
    }

    #[test]
    fn many_clicks_of_one_code_are_one_step_per_row() {
        let code = Code::parse("7QK2A9").unwrap();
        let at = Timestamp::parse_rfc3339("2026-11-28T10:15:00Z").unwrap();
        let a = ClickCell::of(&code, at, Some("whatsapp"));
        let b = ClickCell::of(&code, at, None);
        let steps = click_steps([(&a, 40), (&b, 2)]);
        assert_eq!(steps.len(), 2, "the code's day and the programme's day: {steps:?}");
        let code_row = steps.iter().find(|s| s.key == code_series(&code)).unwrap();
        assert_eq!(code_row.slot, at.day());
        let adds: BTreeMap<_, _> = code_row.adds.iter().cloned().collect();
        assert_eq!(adds["clicks"], 42);
        assert_eq!((adds["clicks.whatsapp"], adds["clicks.direct"], adds["h10"]), (40, 2, 42));
        let programme: BTreeMap<_, _> =
            steps.iter().find(|s| s.key == PROGRAMME).unwrap().adds.iter().cloned().collect();
        assert_eq!((programme["clicks"], programme.contains_key("h10")), (42, false));
    }

    #[test]
    fn figures_read_counts_amounts_and_the_rate() {
        let fields: BTreeMap<String, i64> = [
            ("signups", 4),
            ("rewarded", 1),
            ("conversions", 2),
            ("revenue.GBP", 3999),
            ("owed.GBP", 2000),
            ("paid.GBP", 0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let f = Figures::of(&fields);
        assert_eq!((f.signups, f.conversions, f.rewarded, f.conversion_rate), (4, 2, 1, Some(0.25)));
        assert_eq!(f.revenue[0].formatted, "£39.99");
        assert_eq!(f.owed[0].amount_minor, 2000);
    }
}
