//! Forgetting a customer: their clicks, identity claims and personal fields are removed or
//! replaced by an opaque id; ledger amounts and audit decisions stay, keyed by that id.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::audit::{AuditEvent, AuditKind};
use crate::click::TouchKey;
use crate::identity::{Field, IdentityHasher, IdentityKey};
use crate::ids::CustomerId;
use crate::ledger::{Fulfilment, LedgerRow};
use crate::personal::PERSONAL_KEYS;
use crate::ports::{BoxError, Erasure, StoreError, Stores, WriteError};
use crate::referral::{FriendProfile, ReferralState};
use crate::service::reward::FORFEITED_BY_ERASURE;
use crate::time::Clock;
use crate::time::Timestamp;

/// The eraser.
pub struct Eraser {
    stores: Stores,
    hasher: IdentityHasher,
    clock: Arc<dyn Clock>,
    friend_discount: crate::service::FriendDiscount,
}

/// Removes personal keys and replaces every mention of `needles` with `opaque`.
fn scrub(value: &mut Value, needles: &[String], opaque: &str) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !PERSONAL_KEYS.contains(&k.as_str()));
            map.values_mut().for_each(|v| scrub(v, needles, opaque));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub(v, needles, opaque)),
        Value::String(s) if needles.iter().any(|n| s == n) => *s = opaque.to_owned(),
        _ => {}
    }
}

/// The stable opaque id that replaces a customer id on erasure (keyed, so not reversible); also
/// what an answer kept for replays is filed about, so erasure can forget it.
pub fn opaque_id(hasher: &IdentityHasher, customer: &CustomerId) -> CustomerId {
    let hash =
        hasher.hash(Field::Email, &format!("customer:{customer}")).map(|h| h.as_str().to_owned()).unwrap_or_default();
    CustomerId::parse(&format!("erased_{hash}")).unwrap_or_else(|_| customer.clone())
}

impl Eraser {
    /// An eraser over the stores; `hasher` derives the opaque id.
    pub fn new(stores: Stores, hasher: IdentityHasher, clock: Arc<dyn Clock>) -> Self {
        Eraser { stores, hasher, clock, friend_discount: crate::service::FriendDiscount::none() }
    }

    /// The same eraser, also deactivating the friend discounts of the codes it retires (a
    /// connected store), through the rewarder's queue.
    pub fn with_discounts(mut self, friend_discount: crate::service::FriendDiscount) -> Self {
        self.friend_discount = friend_discount;
        self
    }

    /// The stable opaque id that replaces a customer id (keyed, so not reversible).
    pub fn opaque_id(&self, customer: &CustomerId) -> CustomerId {
        opaque_id(&self.hasher, customer)
    }

    /// Erases a customer as referrer and as friend. Safe to repeat.
    pub async fn erase_customer(&self, customer: &CustomerId) -> Result<(), StoreError> {
        let s = &self.stores;
        let now = self.clock.now();
        let opaque = self.opaque_id(customer);
        // First, so that a restore of the records from before this erasure can be erased again
        // even if this one stops half-way.
        s.keys.remember_erasure(&opaque).await?;
        let mut needles = vec![customer.as_str().to_owned()];
        let mut subjects = vec![customer.as_str().to_owned()];
        // As a referrer: their codes and the referrals crediting them.
        for code in s.codes.codes_of(customer).await? {
            if let Some(e) = &code.referrer.email {
                needles.push(e.to_string());
            }
            if let Some(n) = &code.referrer.first_name {
                needles.push(n.clone());
            }
            subjects.push(code.code.to_string());
            s.codes.forget_referrer(&code.code, &opaque, now).await?;
            // Forgetting retires the code, so its discount at the provider goes too.
            if code.status == crate::code::CodeStatus::Active {
                self.friend_discount.later(&code.code).await;
            }
        }
        // Their side of a referral not yet paid is forfeited (the friend's still pays): nothing
        // is ever sent to the store under the opaque id.
        for referral in s.referrals.referrals_of(customer).await? {
            subjects.push(referral.referral_id.to_string());
            self.rewrite(&referral.referral_id, |r| {
                r.referrer_id = opaque.clone();
                if r.state != ReferralState::Rewarded {
                    r.referrer_forfeited_at.get_or_insert(now);
                }
            })
            .await?;
        }
        // As a friend: their clicks, invites to them, their referral's personal fields.
        if let Some(referral) = s.referrals.find(&IdentityKey::Customer(customer.clone())).await? {
            subjects.push(referral.referral_id.to_string());
            if referral.referred_id == *customer {
                if let Some(token) = &referral.attribution_token {
                    s.clicks.forget(&TouchKey::Token(token.clone())).await?;
                }
                if let Some(email) = &referral.friend.identity.email {
                    s.clicks.forget(&TouchKey::Email(email.clone())).await?;
                }
                if let Some(e) = &referral.friend.email {
                    needles.push(e.to_string());
                }
                if let Some(n) = &referral.friend.first_name {
                    needles.push(n.clone());
                }
                self.rewrite(&referral.referral_id, |r| {
                    r.referred_id = opaque.clone();
                    r.friend = FriendProfile::default();
                    r.attribution_token = None;
                })
                .await?;
            }
        }
        s.referrals.tombstone_claims(customer).await?;
        s.orders.forget_first_order(customer).await?;
        s.webhooks.forget_answers_about(&opaque).await?;
        // The ledger keeps amounts, under the opaque id; what was not yet sent is forfeited.
        for row in s.ledger.rows_of(customer).await? {
            self.relabel_row(row, &opaque, now).await?;
        }
        // The audit keeps decisions, without personal data.
        subjects.sort();
        subjects.dedup();
        for subject in &subjects {
            for mut event in s.audit.events_for(subject).await? {
                let before = event.facts.clone();
                scrub(&mut event.facts, &needles, opaque.as_str());
                if event.subject == customer.as_str() {
                    event.subject = opaque.to_string();
                }
                if event.facts != before || event.subject != subject.as_str() {
                    s.audit.redact(&event).await?;
                }
            }
        }
        // Nothing live is sealed under these keys any more; destroying them makes every older
        // copy (a backup) of what they sealed unreadable.
        subjects.push(opaque.to_string());
        s.keys.destroy(&subjects).await?;
        let done = AuditEvent::new(AuditKind::Erased, opaque.as_str(), now, json!({ "subjects": subjects.len() }));
        if let Err(e) = s.audit.append(&done).await {
            tracing::warn!(error = %e, "erased, but the audit row failed");
        }
        Ok(())
    }

    /// After the records were restored from a copy taken before some erasures: erases again
    /// each of `customers` (every customer the restored records name) who was erased since.
    /// Returns how many.
    pub async fn reapply(&self, customers: &[CustomerId]) -> Result<usize, StoreError> {
        let mut again = 0;
        for customer in customers {
            if self.stores.keys.was_erased(&self.opaque_id(customer)).await? {
                self.erase_customer(customer).await?;
                again += 1;
            }
        }
        Ok(again)
    }

    /// Relabels a ledger row to the opaque id, forfeiting it if the store has not taken it yet
    /// (a `fulfil` job still queued finds it forfeited and sends nothing).
    async fn relabel_row(&self, mut row: LedgerRow, opaque: &CustomerId, now: Timestamp) -> Result<(), StoreError> {
        for _ in 0..6 {
            let mut relabelled = row.successor();
            relabelled.customer_id = opaque.clone();
            if matches!(relabelled.fulfilment, Fulfilment::Owing { .. } | Fulfilment::Parked { .. }) {
                relabelled.fulfilment = Fulfilment::Forfeited { at: now, reason: FORFEITED_BY_ERASURE.to_owned() };
            }
            match self.stores.ledger.save_row(&relabelled, row.version).await {
                Ok(()) => {
                    let moved = crate::rollup::fulfilment_moved(&row, &relabelled);
                    if !moved.is_empty() {
                        crate::rollup::apply(self.stores.counters.as_ref(), &moved).await;
                    }
                    return Ok(());
                }
                Err(WriteError::Conflict) => match self.stores.ledger.row(&row.referral_id, row.side).await? {
                    Some(current) if current.customer_id == *opaque => return Ok(()),
                    Some(current) => row = current,
                    None => return Ok(()),
                },
                Err(WriteError::Store(e)) => return Err(e),
            }
        }
        Err(StoreError::unavailable("relabel a ledger row for erasure", "the row kept changing"))
    }

    async fn rewrite(
        &self,
        id: &crate::ids::ReferralId,
        change: impl Fn(&mut crate::referral::Referral),
    ) -> Result<(), StoreError> {
        for _ in 0..6 {
            let Some(current) = self.stores.referrals.get(id).await? else { return Ok(()) };
            let mut next = current.successor(current.updated_at);
            change(&mut next);
            match self.stores.referrals.save(&next, current.version, None).await {
                Ok(()) => return Ok(()),
                Err(WriteError::Conflict) => continue,
                Err(WriteError::Store(e)) => return Err(e),
            }
        }
        Err(StoreError::unavailable("rewrite a referral for erasure", "the referral kept changing"))
    }
}

#[async_trait]
impl Erasure for Eraser {
    async fn erase(&self, customer: &CustomerId) -> Result<(), BoxError> {
        self.erase_customer(customer).await.map_err(|e| Box::new(e) as BoxError)
    }
}

#[cfg(test)]
#[path = "erase_tests.rs"]
mod tests;
