//! `CodeStore`: a claim fails if the code exists or the customer already has an active code.

use async_trait::async_trait;

use super::MemoryStore;
use crate::code::{Code, CodeFlag, CodeRecord, CodeStatus};
use crate::ids::CustomerId;
use crate::ports::{ClaimError, CodeStore, StoreError};
use crate::time::Timestamp;

impl MemoryStore {
    /// Another referrer claims whatever code the next claim asks for, just before it: the
    /// collision a random draw meets once in millions.
    pub fn someone_holds_the_next_code_claimed(&self) {
        self.state().next_claim_collides = true;
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn claim(&self, record: &CodeRecord) -> Result<(), ClaimError> {
        let mut s = self.enter("claim")?;
        if std::mem::take(&mut s.next_claim_collides) {
            let other = CustomerId::parse("c_someone_else").expect("a valid id");
            s.codes.insert(record.code.clone(), CodeRecord { referrer_id: other, ..record.clone() });
        }
        if s.codes.contains_key(&record.code) {
            return Err(ClaimError::CodeTaken);
        }
        if record.is_active() {
            if let Some(existing) = s.active.get(&record.referrer_id) {
                return Err(ClaimError::CustomerHasActiveCode(existing.clone()));
            }
            s.active.insert(record.referrer_id.clone(), record.code.clone());
        }
        s.codes.insert(record.code.clone(), record.clone());
        Ok(())
    }

    async fn flag(&self, code: &Code, flag: &CodeFlag) -> Result<bool, StoreError> {
        let mut s = self.enter("flag")?;
        let Some(record) = s.codes.get_mut(code) else { return Ok(false) };
        if record.flag.is_some() {
            return Ok(false);
        }
        record.flag = Some(flag.clone());
        Ok(true)
    }

    async fn clear_flag(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        let mut s = self.enter("clear_flag")?;
        Ok(s.codes.get_mut(code).map(|r| {
            r.flag = None;
            r.clone()
        }))
    }

    async fn flagged(&self, limit: usize) -> Result<Vec<CodeRecord>, StoreError> {
        let s = self.enter("flagged")?;
        let mut found: Vec<CodeRecord> =
            s.codes.values().filter(|c| c.is_active() && c.flag.is_some()).cloned().collect();
        found.sort_by_key(|c| c.flag.as_ref().map(|f| f.at));
        found.truncate(limit);
        Ok(found)
    }

    async fn in_status(
        &self,
        status: CodeStatus,
        window: &crate::ports::ListWindow,
    ) -> Result<Vec<CodeRecord>, StoreError> {
        let s = self.enter("in_status")?;
        let mut found: Vec<CodeRecord> = s
            .codes
            .values()
            .filter(|c| c.status == status)
            .filter(|c| window.holds(&crate::ports::ListPosition::of(c.created_at, c.code.as_str())))
            .cloned()
            .collect();
        found.sort_by(|a, b| (b.created_at, b.code.as_str()).cmp(&(a.created_at, a.code.as_str())));
        found.truncate(window.limit);
        Ok(found)
    }

    async fn get(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        Ok(self.enter("get_code")?.codes.get(code).cloned())
    }

    async fn active_code_of(&self, customer: &CustomerId) -> Result<Option<CodeRecord>, StoreError> {
        let s = self.enter("active_code_of")?;
        Ok(s.active.get(customer).and_then(|code| s.codes.get(code)).cloned())
    }

    async fn codes_of(&self, customer: &CustomerId) -> Result<Vec<CodeRecord>, StoreError> {
        let s = self.enter("codes_of")?;
        let mut codes: Vec<CodeRecord> = s.codes.values().filter(|c| c.referrer_id == *customer).cloned().collect();
        codes.sort_by_key(|c| c.created_at);
        Ok(codes)
    }

    async fn retire(&self, code: &Code, at: Timestamp) -> Result<Option<CodeRecord>, StoreError> {
        let mut s = self.enter("retire")?;
        let Some(mut record) = s.codes.get(code).cloned() else { return Ok(None) };
        if record.status == CodeStatus::Active {
            record.status = CodeStatus::Retired;
            record.retired_at = Some(at);
            if s.active.get(&record.referrer_id) == Some(code) {
                s.active.remove(&record.referrer_id);
            }
            s.codes.insert(code.clone(), record.clone());
        }
        Ok(Some(record))
    }

    async fn forget_referrer(&self, code: &Code, opaque: &CustomerId, at: Timestamp) -> Result<(), StoreError> {
        let mut s = self.enter("forget_referrer")?;
        let Some(mut record) = s.codes.get(code).cloned() else { return Ok(()) };
        if s.active.get(&record.referrer_id) == Some(code) {
            s.active.remove(&record.referrer_id);
        }
        if record.status == CodeStatus::Active {
            record.status = CodeStatus::Retired;
            record.retired_at = Some(at);
        }
        record.referrer_id = opaque.clone();
        record.referrer = Default::default();
        // The invite names the referrer.
        record.invite.clear();
        s.codes.insert(code.clone(), record);
        Ok(())
    }
}
