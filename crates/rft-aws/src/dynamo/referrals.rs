//! `ReferralStore` on `rft-referrals`: a referral and its identity claims are opened in one transaction; every later change is conditional on the version.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::Put;

use rft_core::ports::{ListWindow, Opened, ReferralStore, StoreError, WriteError};
use rft_core::{AuditEvent, CustomerId, IdentityKey, Referral, ReferralId, ReferralState, ReviewQueue, Timestamp};

use super::items::{audit_item, claim_key, referral_item};
use super::listing::Listing;
use super::{DynamoStore, NOT_EXISTS, cancelled_items, is_condition_failure, put, tx_put, unavailable};
use crate::item::{from_doc, get_s, item, n, s};
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
        // Whose sign-up these claims are: erasure finds them by it.
        let claimant = claims
            .iter()
            .find_map(|k| match k {
                IdentityKey::Customer(c) => Some(c.clone()),
                _ => None,
            })
            .unwrap_or_else(|| referral.referred_id.clone());
        let referral_put = Put::builder()
            .table_name(&self.tables.referrals)
            .set_item(Some(referral_item(referral)))
            .condition_expression(NOT_EXISTS)
            .expression_attribute_names("#pk", "referred_id")
            .build()
            .expect("table and item are set");
        let mut req = self.client.transact_write_items().transact_items(tx_put(referral_put));
        for key in &claim_keys {
            let claim = Put::builder()
                .table_name(&self.tables.referrals)
                .set_item(Some(item([
                    ("referred_id", s(key.as_str())),
                    ("referral_id", s(referral.referral_id.as_str())),
                    ("claimant", s(claimant.as_str())),
                ])))
                .condition_expression(NOT_EXISTS)
                .expression_attribute_names("#pk", "referred_id")
                .build()
                .expect("table and item are set");
            req = req.transact_items(tx_put(claim));
        }
        req = req.transact_items(tx_put(put(&self.tables.audit, audit_item(audit), None)));
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
            let added = self
                .client
                .put_item()
                .table_name(&self.tables.referrals)
                .set_item(Some(item([
                    ("referred_id", s(key.as_str())),
                    ("referral_id", s(id.as_str())),
                    ("claimant", s(claimant.as_str())),
                ])))
                .condition_expression(NOT_EXISTS)
                .expression_attribute_names("#pk", "referred_id")
                .send()
                .await;
            if let Err(e) = added
                && !is_condition_failure(&e)
            {
                return Err(StoreError::unavailable("extend an identity claim", e));
            }
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
            .set_item(Some(referral_item(referral)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected_version))
            .build()
            .expect("table and item are set");
        let mut req = self.client.transact_write_items().transact_items(tx_put(guarded));
        if let Some(event) = audit {
            req = req.transact_items(tx_put(put(&self.tables.audit, audit_item(event), None)));
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

    async fn forget_claims(&self, claimant: &CustomerId) -> Result<usize, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.referrals)
            .index_name(REFERRALS_BY_CLAIMANT)
            .key_condition_expression("claimant = :c")
            .expression_attribute_values(":c", s(claimant.as_str()));
        let items = self.query_all("list claims to forget", q).await?;
        for it in &items {
            let key = get_s(it, "referred_id").unwrap_or_default();
            self.client
                .delete_item()
                .table_name(&self.tables.referrals)
                .key("referred_id", s(key))
                .condition_expression("claimant = :c")
                .expression_attribute_values(":c", s(claimant.as_str()))
                .send()
                .await
                .map_err(unavailable("forget an identity claim"))?;
        }
        Ok(items.len())
    }

    async fn referrals_of(&self, referrer: &CustomerId) -> Result<Vec<Referral>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.referrals)
            .index_name(REFERRALS_BY_REFERRER)
            .key_condition_expression("referrer_id = :r")
            .expression_attribute_values(":r", s(referrer.as_str()));
        let items = self.query_all("list a referrer's referrals", q).await?;
        items.iter().map(|it| from_doc(it, get_s(it, "referral_id").unwrap_or_default())).collect()
    }

    async fn queue(&self, queue: ReviewQueue, until: Timestamp, limit: usize) -> Result<Vec<Referral>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        while out.len() < limit {
            let page = self
                .client
                .query()
                .table_name(&self.tables.referrals)
                .index_name(REFERRALS_BY_QUEUE)
                .key_condition_expression("#q = :q AND queue_ts <= :until")
                .expression_attribute_names("#q", "queue")
                .expression_attribute_values(":q", s(queue.as_str()))
                .expression_attribute_values(":until", n(until.as_millis()))
                .limit(i32::try_from(limit - out.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable("list a review queue"))?;
            for it in page.items.unwrap_or_default() {
                let id = get_s(&it, "referral_id").unwrap_or_default().to_owned();
                out.push(from_doc(&it, &id)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    async fn in_state(&self, state: ReferralState, window: &ListWindow) -> Result<Vec<Referral>, StoreError> {
        let listing = Listing {
            table: &self.tables.referrals,
            index: REFERRALS_BY_STATE,
            group_attr: "state",
            id_attr: "referral_id",
        };
        let items = self.newest_first("list referrals by state", &listing, state.as_str(), window).await?;
        items.iter().map(|it| from_doc(it, get_s(it, "referral_id").unwrap_or_default())).collect()
    }
}
