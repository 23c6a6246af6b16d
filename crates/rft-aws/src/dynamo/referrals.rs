//! `ReferralStore` on `rft-referrals`: a referral and its identity claims are opened in one transaction; every later change is conditional on the version.

use std::ops::ControlFlow;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::Put;

use rft_core::ports::{ListWindow, Opened, ReferralStore, StoreError, WriteError};
use rft_core::{AuditEvent, CustomerId, IdentityKey, Referral, ReferralId, ReferralState, ReviewQueue, Timestamp};

use super::items::claim_key;
use super::listing::Listing;
use super::{DynamoStore, cancelled_items, put, put_absent, tx_put};
use crate::item::{get_s, item, n, s};
use crate::tables::{REFERRALS_BY_CLAIMANT, REFERRALS_BY_QUEUE, REFERRALS_BY_REFERRER, REFERRALS_BY_STATE};

#[async_trait]
impl ReferralStore for DynamoStore {
    async fn open(
        &self,
        referral: &Referral,
        claims: &[IdentityKey],
        audit: &AuditEvent,
    ) -> Result<Opened, StoreError> {
        let claim_keys: Vec<String> = claims.iter().map(claim_key).collect();
        let claimant = IdentityKey::claimant(claims).unwrap_or(&referral.referred_id);
        let claim = |key: &str, id: &str| {
            item([("referred_id", s(key)), ("referral_id", s(id)), ("claimant", s(claimant.as_str()))])
        };
        let id = referral.referral_id.as_str();
        let referral_put = put_absent(&self.tables.referrals, self.stored_referral(referral).await?, "referred_id");
        let mut req = self.client.transact_write_items().transact_items(tx_put(referral_put));
        for key in &claim_keys {
            req = req.transact_items(tx_put(put_absent(&self.tables.referrals, claim(key, id), "referred_id")));
        }
        req = req.transact_items(tx_put(put(&self.tables.audit, self.stored_audit(audit).await?, None)));
        let Err(err) = req.send().await else { return Ok(Opened::Created) };
        let failed = cancelled_items("open a referral", err)?;
        // Positions 1..=claims are the claims; the first one held names the person's referral.
        let mut holder = None;
        for i in failed.iter().filter(|i| (1..=claim_keys.len()).contains(*i)) {
            if let Some(id) = self.referral_id_for_claim(&claim_keys[i - 1]).await? {
                holder = Some(id);
                break;
            }
        }
        let Some(id) = holder else {
            return Err(StoreError::unavailable(
                "open a referral",
                format!("transaction cancelled without a held claim (failed items {failed:?})"),
            ));
        };
        for key in &claim_keys {
            // A key someone holds already stays theirs.
            self.put_if_absent("extend an identity claim", &self.tables.referrals, "referred_id", claim(key, &id))
                .await?;
        }
        let existing = self
            .referral_by_id(&id)
            .await?
            .ok_or_else(|| StoreError::corrupt(id.clone(), "a claim points at a missing referral"))?;
        Ok(Opened::Existing(Box::new(existing)))
    }

    async fn get(&self, id: &ReferralId) -> Result<Option<Referral>, StoreError> {
        self.referral_by_id(id.as_str()).await
    }

    async fn find(&self, key: &IdentityKey) -> Result<Option<Referral>, StoreError> {
        match self.referral_id_for_claim(&claim_key(key)).await? {
            Some(id) => self.referral_by_id(&id).await,
            None => Ok(None),
        }
    }

    async fn save(
        &self,
        referral: &Referral,
        expected_version: u64,
        audit: Option<&AuditEvent>,
    ) -> Result<(), WriteError> {
        let guarded = Put::builder()
            .table_name(&self.tables.referrals)
            .set_item(Some(self.stored_referral(referral).await?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected_version))
            .build()
            .expect("table and item are set");
        let mut req = self.client.transact_write_items().transact_items(tx_put(guarded));
        if let Some(event) = audit {
            req = req.transact_items(tx_put(put(&self.tables.audit, self.stored_audit(event).await?, None)));
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(err) => {
                let failed = cancelled_items("update a referral", err)?;
                if failed.contains(&0) {
                    Err(WriteError::Conflict)
                } else {
                    Err(StoreError::unavailable("update a referral", format!("cancelled items {failed:?}")).into())
                }
            }
        }
    }

    async fn tombstone_claims(&self, claimant: &CustomerId) -> Result<usize, StoreError> {
        let q = self.query_key(&self.tables.referrals, Some(REFERRALS_BY_CLAIMANT), "claimant", claimant.as_str());
        let items = self.query_all("list claims to tombstone", q).await?;
        let id_claim = claim_key(&IdentityKey::Customer(claimant.clone()));
        for it in &items {
            let key = get_s(it, "referred_id").unwrap_or_default();
            if key == id_claim {
                // It holds the customer id itself: it goes.
                let deleted = self
                    .client
                    .delete_item()
                    .table_name(&self.tables.referrals)
                    .key("referred_id", s(key))
                    .condition_expression("claimant = :c")
                    .expression_attribute_values(":c", s(claimant.as_str()))
                    .send()
                    .await;
                match deleted {
                    Ok(_) => {}
                    // Done by an earlier, interrupted erasure.
                    Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {}
                    Err(e) => return Err(StoreError::unavailable("forget a customer-id claim", e)),
                }
            } else {
                // A keyed hash: it stays as the tombstone, without saying whose it was (which
                // also takes it out of the claimant index).
                let stripped = self
                    .client
                    .update_item()
                    .table_name(&self.tables.referrals)
                    .key("referred_id", s(key))
                    .update_expression("REMOVE claimant")
                    .condition_expression("claimant = :c")
                    .expression_attribute_values(":c", s(claimant.as_str()))
                    .send()
                    .await;
                match stripped {
                    Ok(_) => {}
                    Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {}
                    Err(e) => return Err(StoreError::unavailable("tombstone an identity claim", e)),
                }
            }
        }
        Ok(items.len())
    }

    async fn referrals_of(&self, referrer: &CustomerId) -> Result<Vec<Referral>, StoreError> {
        let q = self.query_key(&self.tables.referrals, Some(REFERRALS_BY_REFERRER), "referrer_id", referrer.as_str());
        let items = self.query_all("list a referrer's referrals", q).await?;
        self.open_all(&items, referrer.as_str()).await
    }

    async fn queue(&self, queue: ReviewQueue, until: Timestamp, limit: usize) -> Result<Vec<Referral>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.referrals)
            .index_name(REFERRALS_BY_QUEUE)
            .key_condition_expression("#q = :q AND queue_ts <= :until")
            .expression_attribute_names("#q", "queue")
            .expression_attribute_values(":q", s(queue.as_str()))
            .expression_attribute_values(":until", n(until.as_millis()))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        let mut items = Vec::new();
        self.paginate("list a review queue", q, |page| {
            items.extend(page.items.unwrap_or_default().into_iter().take(limit - items.len()));
            Ok(if items.len() < limit { ControlFlow::Continue(()) } else { ControlFlow::Break(()) })
        })
        .await?;
        self.open_all(&items, "a queued referral").await
    }

    async fn in_state(&self, state: ReferralState, window: &ListWindow) -> Result<Vec<Referral>, StoreError> {
        let listing = Listing {
            table: &self.tables.referrals,
            index: REFERRALS_BY_STATE,
            group_attr: "state",
            id_attr: "referral_id",
        };
        let items = self.newest_first("list referrals by state", &listing, state.as_str(), window).await?;
        self.open_all(&items, "a listed referral").await
    }
}
