//! The conversion step on fakes: who is paid, who is not, and what is queued next.

use std::time::Duration;

use crate::audit::AuditKind;
use crate::jobs::{FulfilJob, Job, JobFailure};
use crate::ledger::{Fulfilment, Side};
use crate::referral::{Outcome, ReferralState};
use crate::service::reward::RewardError;
use crate::testing::World;

fn fulfil_sides(w: &World) -> Vec<Side> {
    w.jobs_sent()
        .into_iter()
        .filter_map(|(job, _)| match job {
            Job::Fulfil(FulfilJob { side, .. }) => Some(side),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_clean_conversion_pays_both_sides_at_the_pinned_terms_and_queues_their_fulfilment() {
    // GIVEN Mara's pending referral through Dan's code
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    w.advance(Duration::from_secs(3600));
    // WHEN her first order arrives
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    // THEN the referral is rewarded, both rows are owed at the pinned amounts, and one fulfil job per side is queued
    assert_eq!(w.referral(&referral.referral_id).state, ReferralState::Rewarded);
    let rows = w.rows(&referral.referral_id);
    assert_eq!(
        rows.iter().map(|r| (r.side, r.reward.amount_minor)).collect::<Vec<_>>(),
        [(Side::Referrer, 1000), (Side::Friend, 1000)]
    );
    assert!(rows.iter().all(|r| matches!(r.fulfilment, Fulfilment::Owing { attempts: 0, .. })));
    assert_eq!(fulfil_sides(&w), [Side::Referrer, Side::Friend]);
    assert!(w.audit_kinds(referral.referral_id.as_str()).contains(&AuditKind::Paid));
}

#[tokio::test]
async fn a_pending_referral_converting_after_its_window_expires_and_pays_nothing() {
    // GIVEN a pending referral whose 30-day window has passed (the sweep has not run yet)
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    w.advance(Duration::from_secs(31 * 86_400));
    // WHEN the friend's first order arrives
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    // THEN the referral is expired, no ledger row exists, nothing is queued, and the audit says why
    assert_eq!(w.referral(&referral.referral_id).state, ReferralState::Expired);
    assert!(w.rows(&referral.referral_id).is_empty());
    assert!(w.jobs_sent().is_empty());
    assert_eq!(
        w.audit_kinds(referral.referral_id.as_str()),
        [AuditKind::Attributed, AuditKind::Expired, AuditKind::NotPaid]
    );
}

#[tokio::test]
async fn a_conversion_the_screen_holds_waits_for_a_person_and_the_team_is_told_once() {
    // GIVEN the screen finds a conversion seconds after the click suspicious
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    w.screener.finds("conversion_too_soon", Outcome::Hold);
    // WHEN the conversion is delivered, and delivered again
    let rewarder = w.rewarder();
    rewarder.handle(Job::Conversion(w.conversion())).await.unwrap();
    rewarder.handle(Job::Conversion(w.conversion())).await.unwrap();
    // THEN it is held with the rule's evidence and its conversion kept, nothing is paid, and the team got one email
    let held = w.referral(&referral.referral_id);
    assert_eq!(held.state, ReferralState::Held);
    assert_eq!(held.reasons(), ["conversion_too_soon"]);
    assert!(held.conversion.is_some() && held.review_notified_at.is_some());
    assert!(w.rows(&referral.referral_id).is_empty());
    assert_eq!(w.screener.holds().len(), 1);
}

#[tokio::test]
async fn a_conversion_the_screen_blocks_is_blocked_and_never_paid() {
    // GIVEN the screen finds a self-referral
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    w.screener.finds("self_referral", Outcome::Block);
    // WHEN the conversion arrives
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    // THEN the referral is blocked, nothing is owed, and nobody is emailed
    assert_eq!(w.referral(&referral.referral_id).state, ReferralState::Blocked);
    assert!(w.rows(&referral.referral_id).is_empty());
    assert!(w.screener.holds().is_empty() && w.messenger.sent().is_empty());
}

#[tokio::test]
async fn a_rule_a_person_cleared_does_not_hold_the_referral_again() {
    // GIVEN a referral a person approved past the `conversion_too_soon` rule, and a screen that still finds it
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    w.store.state().referrals.get_mut(&referral.referral_id).unwrap().cleared_rules.push("conversion_too_soon".into());
    w.screener.finds("conversion_too_soon", Outcome::Hold);
    // WHEN the conversion arrives
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    // THEN it pays
    assert_eq!(w.referral(&referral.referral_id).state, ReferralState::Rewarded);
}

#[tokio::test]
async fn a_duplicate_conversion_pays_nothing_more_and_requeues_only_what_is_unfinished() {
    // GIVEN a rewarded referral whose referrer side was fulfilled and thanked, friend side still owed
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    let rewarder = w.rewarder();
    rewarder.handle(Job::Conversion(w.conversion())).await.unwrap();
    {
        let mut state = w.store.state();
        let row = state.ledger.values_mut().find(|r| r.side == Side::Referrer).unwrap();
        row.fulfilment = Fulfilment::Fulfilled { at: row.created_at, attempts: 1, reference: None };
        row.note_sent_at = Some(row.created_at);
    }
    w.queue.clear();
    // WHEN the same conversion is delivered again
    rewarder.handle(Job::Conversion(w.conversion())).await.unwrap();
    // THEN no second payout is committed, and only the friend's fulfilment is queued again
    assert_eq!(w.store.state().tallies.values().copied().collect::<Vec<_>>(), [1]);
    assert_eq!(w.rows(&referral.referral_id).len(), 2);
    assert_eq!(fulfil_sides(&w), [Side::Friend]);
}

#[tokio::test]
async fn the_referrers_third_rewarded_referral_pays_the_tier_reward() {
    // GIVEN Dan already has two rewarded referrals (the example's tier starts at the third)
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    w.store.state().tallies.insert(code.referrer_id.clone(), 2);
    // WHEN Mara converts
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    // THEN Dan's row is the tier's £25 and says it is his third; Mara's is unchanged
    let rows = w.rows(&referral.referral_id);
    assert_eq!((rows[0].reward.amount_minor, rows[0].nth), (2500, Some(3)));
    assert_eq!(rows[1].reward.amount_minor, 1000);
}

#[tokio::test]
async fn a_tally_moved_by_a_concurrent_payout_is_read_again_and_the_next_step_paid() {
    // GIVEN another of Dan's referrals is paid between this payout's read of his tally and its commit
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    w.store.state().tallies.insert(code.referrer_id.clone(), 1);
    let dan = code.referrer_id.clone();
    w.store.before_next("commit_reward", move |s| *s.tallies.get_mut(&dan).unwrap() += 1);
    // WHEN Mara converts
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    // THEN her referral is Dan's third, not a second "second"
    assert_eq!(w.rows(&referral.referral_id)[0].nth, Some(3));
}

#[tokio::test]
async fn a_payout_the_store_fails_to_commit_writes_nothing_and_is_retried() {
    // GIVEN the ledger's transaction fails
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    w.store.fail_next("commit_reward");
    // WHEN the conversion arrives
    let failed = w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap_err();
    // THEN the job asks to be retried and nothing of the payout was written
    assert!(failed.is_retryable());
    assert_eq!(w.referral(&referral.referral_id).state, ReferralState::Pending);
    assert!(w.rows(&referral.referral_id).is_empty() && w.jobs_sent().is_empty());
}

#[tokio::test]
async fn a_conversion_before_its_sign_up_is_attributed_is_retried() {
    // GIVEN no referral for Mara yet (her sign-up job has not run)
    let w = World::new();
    // WHEN her conversion arrives
    let early = w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap_err();
    // THEN the job fails for a retry
    assert!(matches!(early, RewardError::NotYetAttributed(_)) && early.is_retryable());
}

#[tokio::test]
async fn a_conversion_of_a_customer_nobody_referred_pays_nothing_and_is_done() {
    // GIVEN Mara's sign-up was recorded as unattributed
    let w = World::new();
    let unattributed =
        crate::audit::AuditEvent::new(AuditKind::Unattributed, "c_mara", w.clock_now(), serde_json::json!({}));
    w.store.state().audit.push(unattributed);
    // WHEN her conversion arrives
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    // THEN the audit says it paid nothing, and nothing is queued
    assert_eq!(w.audit_kinds("c_mara"), [AuditKind::Unattributed, AuditKind::NotPaid]);
    assert!(w.jobs_sent().is_empty());
}

#[tokio::test]
async fn a_conversion_of_a_rejected_referral_pays_nothing() {
    // GIVEN a referral a person rejected
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    w.store.state().referrals.get_mut(&referral.referral_id).unwrap().state = ReferralState::Rejected;
    // WHEN the conversion arrives
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    // THEN it stays rejected, unpaid, and the audit says so
    assert_eq!(w.referral(&referral.referral_id).state, ReferralState::Rejected);
    assert!(w.rows(&referral.referral_id).is_empty());
    assert_eq!(w.audit_kinds(referral.referral_id.as_str()).last(), Some(&AuditKind::NotPaid));
}

#[tokio::test]
async fn the_card_a_purchase_brings_is_screened_and_kept_on_the_referral() {
    // GIVEN Mara signed up without a card
    let w = World::new();
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    let card = w.hasher().hash(crate::identity::Field::Payment, "card_mara");
    let mut conversion = w.conversion();
    conversion.identity.payment = card.clone();
    // WHEN her purchase arrives with one
    w.rewarder().handle(Job::Conversion(conversion)).await.unwrap();
    // THEN the screen compared it (with Dan's card from his code), and the referral keeps it
    let case = &w.screener.cases()[0];
    assert_eq!((case.friend.payment.clone(), case.referrer.payment.is_some()), (card.clone(), true));
    assert_eq!(w.referral(&referral.referral_id).friend.identity.payment, card);
}
