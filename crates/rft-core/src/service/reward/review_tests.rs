//! What needs a person, on fakes: refunds after a reward, and the decisions from ops links.

use crate::audit::AuditKind;
use crate::jobs::{DecisionJob, FulfilJob, Job, RefundJob};
use crate::links::Action;
use crate::ports::MessageKind;
use crate::referral::{Evidence, Flag, Outcome, Referral, ReferralState};
use crate::testing::{World, customer};

async fn rewarded(w: &World) -> Referral {
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    w.queue.clear();
    referral
}

/// A referral the screen held: at conversion (the conversion kept on it) or at sign-up.
async fn held(w: &World, converted: bool) -> Referral {
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    if converted {
        w.screener.finds("conversion_too_soon", Outcome::Hold);
        w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
        w.screener.passes();
    } else {
        let mut state = w.store.state();
        let stored = state.referrals.get_mut(&referral.referral_id).unwrap();
        stored.state = ReferralState::Held;
        stored.evidence.push(Evidence {
            rule: "shared_device".into(),
            outcome: Outcome::Hold,
            detail: "the test".into(),
        });
    }
    w.referral(&referral.referral_id)
}

fn refund(order: &str) -> Job {
    Job::Refund(RefundJob {
        webhook_id: format!("msg_refund_{order}"),
        customer_id: Some(customer("c_mara")),
        order_id: order.into(),
        order_aliases: Vec::new(),
        occurred_at: crate::testing::START,
    })
}

fn decide(referral: &Referral, action: Action) -> Job {
    Job::Decision(DecisionJob {
        referral_id: referral.referral_id.clone(),
        action,
        decided_at: crate::testing::START,
        by: None,
    })
}

#[tokio::test]
async fn a_refund_after_a_reward_flags_the_referral_and_claws_nothing_back() {
    // GIVEN a rewarded referral
    let w = World::new();
    let referral = rewarded(&w).await;
    let rows_before = w.rows(&referral.referral_id);
    // WHEN its converting order is refunded
    w.rewarder().handle(refund("o_1")).await.unwrap();
    // THEN it is flagged for a person, audited, the team is emailed, and the ledger is untouched
    let flagged = w.referral(&referral.referral_id);
    assert_eq!((flagged.state, flagged.flags.as_slice()), (ReferralState::Rewarded, &[Flag::RefundReview][..]));
    assert!(w.audit_kinds(referral.referral_id.as_str()).contains(&AuditKind::RefundFlagged));
    assert_eq!(w.messenger.of_kind(MessageKind::RefundReview).len(), 1);
    assert_eq!(w.rows(&referral.referral_id), rows_before);
}

#[tokio::test]
async fn a_refund_delivered_twice_emails_the_team_once() {
    // GIVEN a rewarded referral whose refund was handled
    let w = World::new();
    rewarded(&w).await;
    let rewarder = w.rewarder();
    rewarder.handle(refund("o_1")).await.unwrap();
    // WHEN the refund is delivered again
    rewarder.handle(refund("o_1")).await.unwrap();
    // THEN there is still one email
    assert_eq!(w.messenger.of_kind(MessageKind::RefundReview).len(), 1);
}

#[tokio::test]
async fn a_refund_of_another_order_is_audited_and_changes_nothing() {
    // GIVEN a rewarded referral converted by order o_1
    let w = World::new();
    let referral = rewarded(&w).await;
    // WHEN Mara's later order o_2 is refunded
    w.rewarder().handle(refund("o_2")).await.unwrap();
    // THEN the referral is not flagged and nobody is emailed; the refund is remembered for o_2
    assert!(w.referral(&referral.referral_id).flags.is_empty());
    assert!(w.messenger.sent().is_empty());
    assert_eq!(w.audit_kinds("c_mara"), [AuditKind::RefundNoted]);
}

#[tokio::test]
async fn approving_a_held_conversion_pays_it() {
    // GIVEN a conversion held by the screen
    let w = World::new();
    let referral = held(&w, true).await;
    w.queue.clear();
    // WHEN a person approves it
    w.rewarder().handle(decide(&referral, Action::Approve)).await.unwrap();
    // THEN it is rewarded, both sides are owed and queued, and the cleared rule is remembered
    let paid = w.referral(&referral.referral_id);
    assert_eq!(paid.state, ReferralState::Rewarded);
    assert_eq!(paid.cleared_rules, ["conversion_too_soon"]);
    assert_eq!(w.rows(&referral.referral_id).len(), 2);
    assert_eq!(w.jobs_sent().iter().filter(|(j, _)| matches!(j, Job::Fulfil(FulfilJob { .. }))).count(), 2);
}

#[tokio::test]
async fn approving_a_hold_before_any_conversion_returns_it_to_pending_cleared_of_the_rule() {
    // GIVEN a sign-up held for a shared device, no conversion yet
    let w = World::new();
    let referral = held(&w, false).await;
    // WHEN a person approves it
    w.rewarder().handle(decide(&referral, Action::Approve)).await.unwrap();
    // THEN it is pending again, without evidence, and the rule will not hold it again
    let pending = w.referral(&referral.referral_id);
    assert_eq!(pending.state, ReferralState::Pending);
    assert!(pending.evidence.is_empty());
    assert_eq!(pending.cleared_rules, ["shared_device"]);
    assert!(w.rows(&referral.referral_id).is_empty());
}

#[tokio::test]
async fn a_rejected_hold_is_final_and_its_conversion_never_pays() {
    // GIVEN a held referral a person rejects
    let w = World::new();
    let referral = held(&w, false).await;
    let rewarder = w.rewarder();
    rewarder.handle(decide(&referral, Action::Reject)).await.unwrap();
    // WHEN the friend then converts, and someone presses approve on an old link
    rewarder.handle(Job::Conversion(w.conversion())).await.unwrap();
    rewarder.handle(decide(&referral, Action::Approve)).await.unwrap();
    // THEN it stays rejected and nothing is owed
    assert_eq!(w.referral(&referral.referral_id).state, ReferralState::Rejected);
    assert!(w.rows(&referral.referral_id).is_empty());
}

#[tokio::test]
async fn repeating_an_approval_pays_once() {
    // GIVEN an approved, paid hold
    let w = World::new();
    let referral = held(&w, true).await;
    let rewarder = w.rewarder();
    rewarder.handle(decide(&referral, Action::Approve)).await.unwrap();
    // WHEN the same decision is delivered again
    rewarder.handle(decide(&referral, Action::Approve)).await.unwrap();
    // THEN there is still one payout
    assert_eq!(w.rows(&referral.referral_id).len(), 2);
    assert_eq!(w.store.state().tallies.get(&customer("c_dan")), Some(&1));
}

#[tokio::test]
async fn keeping_the_rewards_after_a_refund_clears_the_flag() {
    // GIVEN a rewarded referral flagged by a refund
    let w = World::new();
    let referral = rewarded(&w).await;
    let rewarder = w.rewarder();
    rewarder.handle(refund("o_1")).await.unwrap();
    // WHEN a person keeps the rewards
    rewarder.handle(decide(&referral, Action::Approve)).await.unwrap();
    // THEN the flag is gone, the referral stays rewarded, and the decision is audited
    let kept = w.referral(&referral.referral_id);
    assert_eq!((kept.state, kept.flags.is_empty()), (ReferralState::Rewarded, true));
    assert_eq!(w.audit_kinds(referral.referral_id.as_str()).last(), Some(&AuditKind::Approved));
}

#[tokio::test]
async fn disputing_the_rewards_after_a_refund_records_it_and_reverses_nothing() {
    // GIVEN a rewarded referral flagged by a refund
    let w = World::new();
    let referral = rewarded(&w).await;
    let rewarder = w.rewarder();
    rewarder.handle(refund("o_1")).await.unwrap();
    let rows_before = w.rows(&referral.referral_id);
    // WHEN a person disputes the reward
    rewarder.handle(decide(&referral, Action::Reject)).await.unwrap();
    // THEN the decision is audited, the flag is gone, and the ledger is as it was
    assert_eq!(w.audit_kinds(referral.referral_id.as_str()).last(), Some(&AuditKind::Rejected));
    assert!(w.referral(&referral.referral_id).flags.is_empty());
    assert_eq!(w.rows(&referral.referral_id), rows_before);
}

#[tokio::test]
async fn a_decision_about_an_unknown_referral_changes_nothing() {
    // GIVEN no referrals at all
    let w = World::new();
    let code = w.given_code().await;
    let never_stored = Referral { referral_id: crate::ids::ReferralId::generate(), ..w.given_referral(&code).await };
    // WHEN a decision names an id nobody stored
    w.rewarder().handle(decide(&never_stored, Action::Approve)).await.unwrap();
    // THEN nothing is written or sent
    assert!(w.messenger.sent().is_empty() && w.jobs_sent().is_empty());
    assert!(w.audit_kinds(never_stored.referral_id.as_str()).is_empty());
}
