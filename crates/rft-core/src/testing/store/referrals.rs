//! `ReferralStore`: a person's claims map them to one referral; changes need the version read.

use async_trait::async_trait;

use super::{Claim, MemoryStore};
use crate::audit::AuditEvent;
use crate::identity::IdentityKey;
use crate::ids::{CustomerId, ReferralId};
use crate::ports::{Opened, ReferralStore, StoreError, WriteError};
use crate::referral::{Referral, ReviewQueue};
use crate::time::Timestamp;

#[async_trait]
impl ReferralStore for MemoryStore {
    async fn open(
        &self,
        referral: &Referral,
        claims: &[IdentityKey],
        audit: &AuditEvent,
    ) -> Result<Opened, StoreError> {
        let mut s = self.enter("open")?;
        let claimant = IdentityKey::claimant(claims).unwrap_or(&referral.referred_id).clone();
        let held = claims.iter().find_map(|k| s.claims.get(&k.storage_key()).map(|c| c.referral.clone()));
        let owner = held.clone().unwrap_or_else(|| referral.referral_id.clone());
        for key in claims {
            let claim = Claim { referral: owner.clone(), claimant: claimant.clone() };
            s.claims.entry(key.storage_key()).or_insert(claim);
        }
        if let Some(id) = held {
            let existing =
                s.referrals.get(&id).cloned().ok_or_else(|| StoreError::corrupt(id.as_str(), "no such referral"))?;
            return Ok(Opened::Existing(Box::new(existing)));
        }
        s.referrals.insert(referral.referral_id.clone(), referral.clone());
        s.audit.push(audit.clone());
        Ok(Opened::Created)
    }

    async fn get(&self, id: &ReferralId) -> Result<Option<Referral>, StoreError> {
        Ok(self.enter("get_referral")?.referrals.get(id).cloned())
    }

    async fn find(&self, key: &IdentityKey) -> Result<Option<Referral>, StoreError> {
        let s = self.enter("find")?;
        Ok(s.claims.get(&key.storage_key()).and_then(|c| s.referrals.get(&c.referral)).cloned())
    }

    async fn save(
        &self,
        referral: &Referral,
        expected_version: u64,
        audit: Option<&AuditEvent>,
    ) -> Result<(), WriteError> {
        let mut s = self.enter("save")?;
        match s.referrals.get(&referral.referral_id) {
            Some(stored) if stored.version == expected_version => {}
            _ => return Err(WriteError::Conflict),
        }
        s.referrals.insert(referral.referral_id.clone(), referral.clone());
        s.audit.extend(audit.cloned());
        Ok(())
    }

    async fn tombstone_claims(&self, claimant: &CustomerId) -> Result<usize, StoreError> {
        let mut s = self.enter("tombstone_claims")?;
        let id_claim = IdentityKey::Customer(claimant.clone()).storage_key();
        let theirs: Vec<String> =
            s.claims.iter().filter(|(_, c)| c.claimant == *claimant).map(|(k, _)| k.clone()).collect();
        let nobody = CustomerId::parse("tombstone").expect("a valid id");
        for key in &theirs {
            if *key == id_claim {
                s.claims.remove(key);
            } else if let Some(claim) = s.claims.get_mut(key) {
                claim.claimant = nobody.clone();
            }
        }
        Ok(theirs.len())
    }

    async fn in_state(
        &self,
        state: crate::referral::ReferralState,
        window: &crate::ports::ListWindow,
    ) -> Result<Vec<Referral>, StoreError> {
        let s = self.enter("in_state")?;
        let mut found: Vec<Referral> = s
            .referrals
            .values()
            .filter(|r| r.state == state)
            .filter(|r| window.holds(&crate::ports::ListPosition::of(r.created_at, r.referral_id.as_str())))
            .cloned()
            .collect();
        found.sort_by(|a, b| (b.created_at, b.referral_id.as_str()).cmp(&(a.created_at, a.referral_id.as_str())));
        found.truncate(window.limit);
        Ok(found)
    }

    async fn referrals_of(&self, referrer: &CustomerId) -> Result<Vec<Referral>, StoreError> {
        let s = self.enter("referrals_of")?;
        let mut found: Vec<Referral> = s.referrals.values().filter(|r| r.referrer_id == *referrer).cloned().collect();
        found.sort_by_key(|r| r.created_at);
        Ok(found)
    }

    async fn queue(&self, queue: ReviewQueue, until: Timestamp, limit: usize) -> Result<Vec<Referral>, StoreError> {
        let s = self.enter("queue")?;
        let mut found: Vec<(Timestamp, Referral)> = s
            .referrals
            .values()
            .filter_map(|r| r.queue().filter(|(q, at)| *q == queue && *at <= until).map(|(_, at)| (at, r.clone())))
            .collect();
        found.sort_by_key(|(at, _)| *at);
        Ok(found.into_iter().take(limit).map(|(_, r)| r).collect())
    }
}
