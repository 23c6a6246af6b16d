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
//! | `r#all` | UTC day | the programme: the same without the hours, plus `rewards.<CUR>` (both sides), each amount with its count of items (`revenue_n.<CUR>`) |
//! | `r#all` | [`ALL_TIME`] | the programme since it began: every field of its days but clicks, `owed.<CUR>`, `paid.<CUR>`, `parked.<CUR>`, `forfeited.<CUR>` (rewards by where they stand), the referrals in each state now (`state.<state>`) and the refunded orders (`refunded`, `refunded.<CUR>`): `rollup/gauges.rs` |
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

use crate::code::{ALPHABET, Code};
use crate::ledger::{CounterStep, Fulfilment, LedgerRow, Side};
use crate::ports::{Counters, StoreError};
use crate::referral::{ConversionFacts, Referral};
use crate::time::Timestamp;

mod gauges;
pub use gauges::{ALL_TIME, COUNT_SUFFIX, REFUNDED, STATE, referral_moved, save_counted, state_field};

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

/// The programme's amounts, per currency (`revenue.GBP`): its rows count their items too.
const MONEY: [&str; 8] = [REVENUE, EARNED, REWARDS, OWED, PAID, PARKED, FORFEITED, gauges::REFUNDED];

/// Accumulates steps and merges those of one row into one.
#[derive(Default)]
struct Rows(BTreeMap<(String, i64), BTreeMap<String, i64>>);

impl Rows {
    /// Adds to a row; a programme day's fields other than clicks go to the all-time row too.
    fn add(&mut self, series: &str, slot: i64, field: impl Into<String>, by: i64) {
        let field = field.into();
        if series != PROGRAMME {
            return self.put(series, slot, field, by);
        }
        if slot != ALL_TIME && field != CLICKS && !field.starts_with("clicks.") {
            self.programme(ALL_TIME, &field, by);
        }
        self.programme(slot, &field, by);
    }

    /// Adds to a programme row, with an amount's count (`revenue_n.GBP`) moved by one item.
    fn programme(&mut self, slot: i64, field: &str, by: i64) {
        if let Some((metric, currency)) = field.split_once('.')
            && MONEY.contains(&metric)
        {
            self.put(PROGRAMME, slot, format!("{metric}{}.{currency}", gauges::COUNT_SUFFIX), by.signum());
        }
        self.put(PROGRAMME, slot, field, by);
    }

    fn put(&mut self, series: &str, slot: i64, field: impl Into<String>, by: i64) {
        if by != 0 {
            *self.0.entry((series.to_owned(), slot)).or_default().entry(field.into()).or_default() += by;
        }
    }

    /// One step per row; fields that netted to zero (and rows left empty) are left out.
    fn steps(self) -> Vec<CounterStep> {
        self.0
            .into_iter()
            .map(|((key, slot), adds)| CounterStep {
                key,
                expires_at: Timestamp::NEVER,
                slot,
                adds: adds.into_iter().filter(|(_, by)| *by != 0).collect(),
            })
            .filter(|step| !step.adds.is_empty())
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
    rows.put(PROGRAMME, ALL_TIME, gauges::state_field(referral.state), 1);
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

/// What a payout of `before` as `paid` adds, for its transaction: a rewarded referral and both
/// sides' rewards on the payout's day, the state gauges' move, and, when the payout records the
/// conversion too (`new_conversion`), the conversion on its own day.
pub fn payout_steps(before: &Referral, paid: &Referral, rows: &[LedgerRow], new_conversion: bool) -> Vec<CounterStep> {
    let mut out = Rows::default();
    gauges::moved(&mut out, before, paid);
    let day = rows.first().map_or(paid.updated_at, |r| r.created_at).day();
    let mut fields = vec![(REWARDED.to_owned(), 1)];
    for row in rows {
        let (currency, amount) = (row.reward.currency.as_str(), i64::try_from(row.reward.amount_minor).unwrap_or(0));
        if row.side == Side::Referrer {
            fields.push((format!("{EARNED}.{currency}"), amount));
        }
        out.add(PROGRAMME, day, format!("{REWARDS}.{currency}"), amount);
        // Owed, or forfeited already when the referrer was erased before the payout. Where
        // rewards stand is kept for all time only: no read wants it by day.
        out.programme(ALL_TIME, &format!("{}.{currency}", fulfilment_field(&row.fulfilment)), amount);
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
/// all-time reward counts, for the fulfilment path and erasure to apply after the row's write.
pub fn fulfilment_moved(before: &LedgerRow, after: &LedgerRow) -> Vec<CounterStep> {
    let (from, to) = (fulfilment_field(&before.fulfilment), fulfilment_field(&after.fulfilment));
    let mut rows = Rows::default();
    if from != to {
        let (currency, amount) =
            (after.reward.currency.as_str(), i64::try_from(after.reward.amount_minor).unwrap_or(0));
        rows.programme(ALL_TIME, &format!("{from}.{currency}"), -amount);
        rows.programme(ALL_TIME, &format!("{to}.{currency}"), amount);
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
    fn months_are_utc_calendar_ones() {
        let day = Timestamp::parse_rfc3339("2026-11-28T23:59:59Z").unwrap().day();
        assert_eq!(month_of_day(day), 202611);
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
}
