//! `ReferralStore`: referrals, identity claims and review queues, each change one transaction.

use async_trait::async_trait;
use redb::ReadableTable;
use redb::WriteTransaction;

use rft_core::ports::{ListWindow, Opened, ReferralStore, StoreError, WriteError};
use rft_core::{AuditEvent, CustomerId, IdentityKey, Referral, ReferralId, ReferralState, ReviewQueue, Timestamp};

use super::audit::append_audit;
use super::index::listed;
use super::{
    CLAIMS, CLAIMS_BY_CLAIMANT, LocalStore, REFERRALS, REFERRALS_BY_REFERRER, REFERRALS_BY_STATE, REVIEW, encode,
    get_record, load_record,
};

pub(super) fn load_referral(txn: &WriteTransaction, id: &str) -> Result<Option<Referral>, redb::Error> {
    load_record(&txn.open_table(REFERRALS)?, id)
}

/// Writes a referral and moves its review-queue entry from where `old` had it.
pub(super) fn put_referral(
    txn: &WriteTransaction,
    referral: &Referral,
    old: Option<&Referral>,
) -> Result<(), redb::Error> {
    let id = referral.referral_id.as_str();
    let mut review = txn.open_table(REVIEW)?;
    if let Some((queue, at)) = old.and_then(Referral::queue) {
        review.remove((queue.as_str(), at.as_millis(), id))?;
    }
    if let Some((queue, at)) = referral.queue() {
        review.insert((queue.as_str(), at.as_millis(), id), ())?;
    }
    let mut by_referrer = txn.open_table(REFERRALS_BY_REFERRER)?;
    if let Some(o) = old
        && o.referrer_id != referral.referrer_id
    {
        by_referrer.remove((o.referrer_id.as_str(), o.created_at.as_millis(), id))?;
    }
    if old.is_none_or(|o| o.referrer_id != referral.referrer_id) {
        by_referrer.insert((referral.referrer_id.as_str(), referral.created_at.as_millis(), id), ())?;
    }
    txn.open_table(REFERRALS)?.insert(id, encode(referral).as_slice())?;
    super::listing::index_referral(txn, referral, old)?;
    Ok(())
}

#[async_trait]
impl ReferralStore for LocalStore {
    async fn open(
        &self,
        referral: &Referral,
        claims: &[IdentityKey],
        audit: &AuditEvent,
    ) -> Result<Opened, StoreError> {
        let referral = referral.clone();
        let keys: Vec<String> = claims.iter().map(IdentityKey::storage_key).collect();
        let claimant = IdentityKey::claimant(claims).unwrap_or(&referral.referred_id).as_str().to_owned();
        let audit = audit.clone();
        self.write_ok("open a referral", move |txn| {
            let mut claims = txn.open_table(CLAIMS)?;
            let mut by_claimant = txn.open_table(CLAIMS_BY_CLAIMANT)?;
            let mut holder = None;
            for key in &keys {
                if let Some(id) = claims.get(key.as_str())? {
                    holder = Some(id.value().to_owned());
                    break;
                }
            }
            if let Some(id) = holder {
                // Same person: extend their referral with the new keys, create nothing.
                for key in &keys {
                    if claims.get(key.as_str())?.is_none() {
                        claims.insert(key.as_str(), id.as_str())?;
                        by_claimant.insert((claimant.as_str(), key.as_str()), ())?;
                    }
                }
                drop((claims, by_claimant));
                let existing = load_referral(txn, &id)?
                    .ok_or_else(|| redb::Error::Corrupted(format!("claim points at missing referral {id}")))?;
                return Ok(Opened::Existing(Box::new(existing)));
            }
            for key in &keys {
                claims.insert(key.as_str(), referral.referral_id.as_str())?;
                by_claimant.insert((claimant.as_str(), key.as_str()), ())?;
            }
            drop((claims, by_claimant));
            put_referral(txn, &referral, None)?;
            append_audit(txn, &audit)?;
            Ok(Opened::Created)
        })
        .await
    }

    async fn get(&self, id: &ReferralId) -> Result<Option<Referral>, StoreError> {
        let id = id.clone();
        self.read("read a referral", move |txn| get_record(&txn.open_table(REFERRALS)?, id.as_str())).await
    }

    async fn find(&self, key: &IdentityKey) -> Result<Option<Referral>, StoreError> {
        let key = key.storage_key();
        self.read("find a referral by identity", move |txn| {
            let claims = txn.open_table(CLAIMS)?;
            let Some(id) = claims.get(key.as_str())? else { return Ok(None) };
            get_record(&txn.open_table(REFERRALS)?, id.value())
        })
        .await
    }

    async fn save(
        &self,
        referral: &Referral,
        expected_version: u64,
        audit: Option<&AuditEvent>,
    ) -> Result<(), WriteError> {
        let referral = referral.clone();
        let audit = audit.cloned();
        self.write("update a referral", move |txn| {
            let old = load_referral(txn, referral.referral_id.as_str())?;
            match &old {
                Some(o) if o.version == expected_version => {}
                _ => return Ok(Err(WriteError::Conflict)),
            }
            put_referral(txn, &referral, old.as_ref())?;
            if let Some(event) = &audit {
                append_audit(txn, event)?;
            }
            Ok(Ok(()))
        })
        .await?
    }

    async fn tombstone_claims(&self, claimant: &CustomerId) -> Result<usize, StoreError> {
        let claimant = claimant.clone();
        self.write_ok("tombstone identity claims", move |txn| {
            let mut index = txn.open_table(CLAIMS_BY_CLAIMANT)?;
            let c = claimant.as_str();
            let mut keys: Vec<String> = Vec::new();
            for entry in index.range((c, "")..=(c, "\u{10FFFF}"))? {
                let (k, _) = entry?;
                keys.push(k.value().1.to_owned());
            }
            let mut claims = txn.open_table(CLAIMS)?;
            let id_claim = IdentityKey::Customer(claimant.clone()).storage_key();
            for key in &keys {
                // The claimant index entry goes; the hashed claim itself stays as the tombstone.
                index.remove((c, key.as_str()))?;
                if *key == id_claim {
                    claims.remove(key.as_str())?;
                }
            }
            Ok(keys.len())
        })
        .await
    }

    async fn referrals_of(&self, referrer: &CustomerId) -> Result<Vec<Referral>, StoreError> {
        let referrer = referrer.clone();
        self.read("list a referrer's referrals", move |txn| {
            let (index, referrals) = (txn.open_table(REFERRALS_BY_REFERRER)?, txn.open_table(REFERRALS)?);
            listed(&index, &referrals, referrer.as_str(), i64::MIN..=i64::MAX, usize::MAX)
        })
        .await
    }

    async fn queue(&self, queue: ReviewQueue, until: Timestamp, limit: usize) -> Result<Vec<Referral>, StoreError> {
        self.read("list a review queue", move |txn| {
            let (review, referrals) = (txn.open_table(REVIEW)?, txn.open_table(REFERRALS)?);
            listed(&review, &referrals, queue.as_str(), i64::MIN..=until.as_millis(), limit)
        })
        .await
    }

    async fn in_state(&self, state: ReferralState, window: &ListWindow) -> Result<Vec<Referral>, StoreError> {
        let window = window.clone();
        self.read("list referrals by state", move |txn| {
            super::listing::page(txn, REFERRALS_BY_STATE, REFERRALS, state.as_str(), &window)
        })
        .await
    }
}
