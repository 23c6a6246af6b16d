//! The programme's all-time row: slot [`ALL_TIME`] of the programme's series. Every programme
//! field but clicks is added to it as well as to its day (clicks are read over the window's
//! days), each amount with its count of items (`revenue_n.GBP`); and it holds what no day can: how
//! many referrals are in each state now (`state.pending`, ...) and how many converting orders
//! were refunded (`refunded`, `refunded.<CUR>`). The console's overview reads its totals here
//! in one key, however long the programme has run.
//!
//! The state gauges move when a referral is opened ([`super::signup_steps`]), paid (the payout's
//! transaction) and saved with another state or refund ([`save_counted`]). Like every rollup
//! step outside the payout, a gauge step follows its write and is not part of it: a crash
//! between the two leaves one referral uncounted or counted in its old state.

use super::{PROGRAMME, Rows};
use crate::audit::AuditEvent;
use crate::ledger::CounterStep;
use crate::ports::{Counters, ReferralStore, WriteError};
use crate::referral::{Flag, Referral, ReferralState};

/// The all-time row's slot. Days are never negative, so no range of days reaches it.
pub const ALL_TIME: i64 = -1;
/// Referrals now in a state: `state.<state>`.
pub const STATE: &str = "state";
/// Converting orders later refunded (rejected for it, or flagged for review after a reward):
/// `refunded` counts them, `refunded.<CUR>` sums their amounts.
pub const REFUNDED: &str = "refunded";
/// The suffix of an amount's count: `revenue_n.GBP` beside `revenue.GBP`.
pub const COUNT_SUFFIX: &str = "_n";

/// `state.<state>`.
pub fn state_field(state: ReferralState) -> String {
    format!("{STATE}.{}", state.as_str())
}

/// Whether `r`'s converting order counts as refunded, and its amount.
fn refunded_order(r: &Referral) -> Option<(&str, i64)> {
    let c = r.conversion.as_ref()?;
    let refunded = r.refunded.is_some() || r.flags.contains(&Flag::RefundReview);
    refunded.then(|| (c.currency.as_str(), i64::try_from(c.amount_minor).unwrap_or(i64::MAX)))
}

/// What a referral's change from `before` to `after` does to the all-time row: the state
/// gauges, and the refunded orders. Nothing when neither moved.
pub fn referral_moved(before: &Referral, after: &Referral) -> Vec<CounterStep> {
    let mut rows = Rows::default();
    moved(&mut rows, before, after);
    rows.steps()
}

/// [`referral_moved`] into steps being built (the payout's).
pub(super) fn moved(rows: &mut Rows, before: &Referral, after: &Referral) {
    if before.state != after.state {
        rows.put(PROGRAMME, ALL_TIME, state_field(before.state), -1);
        rows.put(PROGRAMME, ALL_TIME, state_field(after.state), 1);
    }
    for (r, sign) in [(before, -1), (after, 1)] {
        if let Some((currency, amount)) = refunded_order(r) {
            rows.put(PROGRAMME, ALL_TIME, REFUNDED, sign);
            rows.programme(ALL_TIME, &format!("{REFUNDED}.{currency}"), sign * amount);
        }
    }
}

/// Saves `after` over `before` (conditional on `before`'s version, with its audit row) and,
/// once saved, counts what moved in the all-time row.
pub async fn save_counted(
    referrals: &dyn ReferralStore,
    counters: &dyn Counters,
    before: &Referral,
    after: &Referral,
    audit: Option<&AuditEvent>,
) -> Result<(), WriteError> {
    referrals.save(after, before.version, audit).await?;
    let steps = referral_moved(before, after);
    if !steps.is_empty() {
        super::apply(counters, &steps).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::referral::RefundFacts;
    use crate::service::console::testing::referral;

    fn fields(steps: &[CounterStep]) -> Vec<(String, i64)> {
        assert!(steps.iter().all(|s| s.key == PROGRAMME && s.slot == ALL_TIME), "{steps:?}");
        steps.iter().flat_map(|s| s.adds.clone()).collect()
    }

    #[test]
    fn a_state_change_moves_one_gauge_down_and_one_up() {
        let before = referral("c_mara", None, 1);
        let mut after = before.clone();
        after.state = ReferralState::Expired;
        let moved = fields(&referral_moved(&before, &after));
        assert_eq!(moved, [("state.expired".into(), 1), ("state.pending".into(), -1)]);
        assert!(referral_moved(&before, &before).is_empty(), "nothing moved, nothing written");
    }

    #[test]
    fn a_refund_of_a_converting_order_is_counted_once_with_its_amount() {
        let mut before = referral("c_mara", None, 1);
        before.conversion = Some(crate::referral::ConversionFacts {
            order_id: "o_1".into(),
            amount_minor: 3999,
            currency: crate::money::Currency::parse("GBP").unwrap(),
            occurred_at: before.created_at,
            discount_code: None,
        });
        let mut after = before.clone();
        after.state = ReferralState::Rejected;
        after.refunded = Some(RefundFacts { order_id: "o_1".into(), at: before.created_at });
        let moved = fields(&referral_moved(&before, &after));
        for f in [("refunded", 1), ("refunded.GBP", 3999), ("refunded_n.GBP", 1), ("state.rejected", 1)] {
            assert!(moved.contains(&(f.0.into(), f.1)), "{f:?} in {moved:?}");
        }
        let mut again = after.clone();
        again.flags.push(Flag::RefundReview);
        assert!(referral_moved(&after, &again).is_empty(), "already counted");
    }
}
