//! A connected store's friend who typed the referral code at the checkout has had their reward
//! already: the code is their discount at the provider (docs/connect-stripe.md,
//! docs/connect-shopify.md). Their ledger row is written fulfilled at payout, with the discount
//! on the order as its evidence, and no provider call is made for it.

use serde_json::{Value, json};

use crate::ledger::{Fulfilment, LedgerRow};
use crate::referral::Referral;
use crate::settings::StoreKind;

/// The ledger's reference for a friend's discount taken at the checkout.
pub fn reference(code: &str, order_id: &str) -> String {
    format!("discount {code} on order {order_id}")
}

/// Marks `friend_row` fulfilled when `referral`'s converting order carried its code as a
/// discount at a connected store; returns the audit's evidence when it did.
pub fn apply(kind: StoreKind, referral: &Referral, friend_row: &mut LedgerRow) -> Option<Value> {
    let conversion = referral.conversion.as_ref()?;
    let used_the_code = conversion.discount_code.as_ref() == Some(&referral.code);
    if kind == StoreKind::Webhooks || !used_the_code {
        return None;
    }
    friend_row.fulfilment = Fulfilment::Fulfilled {
        at: conversion.occurred_at,
        attempts: 0,
        reference: Some(reference(referral.code.as_str(), &conversion.order_id)),
        code: None,
    };
    Some(json!({ "discount_code": referral.code, "order_id": conversion.order_id, "store": kind.as_str() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Code;
    use crate::ledger::Side;
    use crate::referral::ConversionFacts;
    use crate::testing::World;

    async fn converted_with(w: &World, discount: Option<&str>) -> (Referral, LedgerRow) {
        let code = w.given_code().await;
        let mut referral = w.given_referral(&code).await;
        let job = w.conversion();
        referral.conversion = Some(ConversionFacts {
            order_id: job.order_id,
            amount_minor: job.amount_minor,
            currency: job.currency,
            occurred_at: job.occurred_at,
            discount_code: discount.map(|d| Code::parse(d).unwrap()),
        });
        let row = LedgerRow::owed(
            referral.referral_id.clone(),
            Side::Friend,
            referral.referred_id.clone(),
            referral.terms.friend_reward.clone(),
            None,
            w.clock_now(),
        );
        (referral, row)
    }

    #[tokio::test]
    async fn the_friend_who_used_the_code_at_a_connected_checkout_is_fulfilled_with_the_evidence() {
        let w = World::new();
        let (referral, mut row) = converted_with(&w, Some("DAN234")).await;
        let evidence = apply(StoreKind::Shopify, &referral, &mut row).expect("fulfilled at checkout");
        assert_eq!(evidence["discount_code"], "DAN234");
        assert_eq!(evidence["order_id"], "o_1");
        let Fulfilment::Fulfilled { attempts, reference, .. } = &row.fulfilment else { panic!("{:?}", row.fulfilment) };
        assert_eq!((*attempts, reference.as_deref()), (0, Some("discount DAN234 on order o_1")));
    }

    #[tokio::test]
    async fn another_code_no_code_or_a_store_on_our_webhooks_leaves_the_friend_owed() {
        for (kind, discount) in
            [(StoreKind::Stripe, Some("SPRNG2")), (StoreKind::Stripe, None), (StoreKind::Webhooks, Some("DAN234"))]
        {
            let (referral, mut row) = converted_with(&World::new(), discount).await;
            assert_eq!(apply(kind, &referral, &mut row), None, "{kind:?} {discount:?}");
            assert!(matches!(row.fulfilment, Fulfilment::Owing { .. }));
        }
    }
}
