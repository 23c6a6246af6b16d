//! `CodeStore`: codes, the active code per customer, codes by referrer.

use async_trait::async_trait;
use redb::ReadableTable;

use rft_core::ports::{ClaimError, CodeStore, ListWindow, StoreError};
use rft_core::{Code, CodeRecord, CodeStatus, CustomerId, Timestamp};

use super::listing::index_code;
use super::{ACTIVE_CODE, CODES, CODES_BY_REFERRER, CODES_BY_STATUS, LocalStore, decode, decode_w, encode};

#[async_trait]
impl CodeStore for LocalStore {
    async fn claim(&self, record: &CodeRecord) -> Result<(), ClaimError> {
        let record = record.clone();
        self.write("claim a code", move |txn| {
            let mut codes = txn.open_table(CODES)?;
            let mut active = txn.open_table(ACTIVE_CODE)?;
            if codes.get(record.code.as_str())?.is_some() {
                return Ok(Err(ClaimError::CodeTaken));
            }
            if let Some(existing) = active.get(record.referrer_id.as_str())? {
                let code = Code::parse(existing.value()).map_err(|e| redb::Error::Corrupted(e.to_string()))?;
                return Ok(Err(ClaimError::CustomerHasActiveCode(code)));
            }
            codes.insert(record.code.as_str(), encode(&record).as_slice())?;
            if record.is_active() {
                active.insert(record.referrer_id.as_str(), record.code.as_str())?;
            }
            txn.open_table(CODES_BY_REFERRER)?
                .insert((record.referrer_id.as_str(), record.created_at.as_millis(), record.code.as_str()), ())?;
            drop((codes, active));
            index_code(txn, &record, None)?;
            Ok(Ok(()))
        })
        .await?
    }

    async fn forget_referrer(&self, code: &Code, opaque: &CustomerId, at: Timestamp) -> Result<(), StoreError> {
        let code = code.clone();
        let opaque = opaque.clone();
        self.write_ok("forget a code's owner", move |txn| {
            let mut codes = txn.open_table(CODES)?;
            let Some(mut record) =
                codes.get(code.as_str())?.map(|v| decode_w::<CodeRecord>(code.as_str(), v.value())).transpose()?
            else {
                return Ok(());
            };
            let before = record.clone();
            let owner = record.referrer_id.clone();
            let mut active = txn.open_table(ACTIVE_CODE)?;
            if active.get(owner.as_str())?.is_some_and(|c| c.value() == code.as_str()) {
                active.remove(owner.as_str())?;
            }
            let mut index = txn.open_table(CODES_BY_REFERRER)?;
            index.remove((owner.as_str(), record.created_at.as_millis(), code.as_str()))?;
            index.insert((opaque.as_str(), record.created_at.as_millis(), code.as_str()), ())?;
            if record.status == CodeStatus::Active {
                record.status = CodeStatus::Retired;
                record.retired_at = Some(at);
            }
            record.referrer_id = opaque;
            record.referrer = Default::default();
            codes.insert(code.as_str(), encode(&record).as_slice())?;
            drop((codes, active, index));
            index_code(txn, &record, Some(&before))?;
            Ok(())
        })
        .await
    }

    async fn get(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        let code = code.clone();
        self.read("read a code", move |txn| {
            let table = txn.open_table(CODES)?;
            let found = table.get(code.as_str())?;
            found.map(|v| decode(code.as_str(), v.value())).transpose()
        })
        .await
    }

    async fn active_code_of(&self, customer: &CustomerId) -> Result<Option<CodeRecord>, StoreError> {
        let customer = customer.clone();
        self.read("read a customer's active code", move |txn| {
            let active = txn.open_table(ACTIVE_CODE)?;
            let Some(code) = active.get(customer.as_str())? else { return Ok(None) };
            let codes = txn.open_table(CODES)?;
            let found = codes.get(code.value())?;
            found.map(|v| decode(code.value(), v.value())).transpose()
        })
        .await
    }

    async fn codes_of(&self, customer: &CustomerId) -> Result<Vec<CodeRecord>, StoreError> {
        let customer = customer.clone();
        self.read("list a customer's codes", move |txn| {
            let index = txn.open_table(CODES_BY_REFERRER)?;
            let codes = txn.open_table(CODES)?;
            let mut out = Vec::new();
            for entry in index.range((customer.as_str(), i64::MIN, "")..=(customer.as_str(), i64::MAX, "\u{10FFFF}"))? {
                let (key, _) = entry?;
                let code = key.value().2;
                if let Some(v) = codes.get(code)? {
                    out.push(decode(code, v.value())?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn retire(&self, code: &Code, at: Timestamp) -> Result<Option<CodeRecord>, StoreError> {
        let code = code.clone();
        self.write_ok("retire a code", move |txn| {
            let mut codes = txn.open_table(CODES)?;
            let Some(mut record) =
                codes.get(code.as_str())?.map(|v| decode_w::<CodeRecord>(code.as_str(), v.value())).transpose()?
            else {
                return Ok(None);
            };
            if record.status == CodeStatus::Active {
                let before = record.clone();
                record.status = CodeStatus::Retired;
                record.retired_at = Some(at);
                codes.insert(code.as_str(), encode(&record).as_slice())?;
                let mut active = txn.open_table(ACTIVE_CODE)?;
                let owns_guard = active.get(record.referrer_id.as_str())?.is_some_and(|c| c.value() == code.as_str());
                if owns_guard {
                    active.remove(record.referrer_id.as_str())?;
                }
                drop((codes, active));
                index_code(txn, &record, Some(&before))?;
            }
            Ok(Some(record))
        })
        .await
    }

    async fn in_status(&self, status: CodeStatus, window: &ListWindow) -> Result<Vec<CodeRecord>, StoreError> {
        let window = window.clone();
        self.read("list codes by status", move |txn| {
            super::listing::page(txn, CODES_BY_STATUS, CODES, status.as_str(), &window)
        })
        .await
    }
}
