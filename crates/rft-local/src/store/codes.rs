//! `CodeStore`: codes, the active code per customer, codes by referrer.

use async_trait::async_trait;
use redb::ReadableTable;

use rft_core::code::CodeFlag;
use rft_core::ports::{ClaimError, CodeStore, ListWindow, StoreError};
use rft_core::{Code, CodeRecord, CodeStatus, CustomerId, Timestamp};

use super::index::listed;
use super::listing::index_code;
use super::{
    ACTIVE_CODE, CODES, CODES_BY_REFERRER, CODES_BY_STATUS, FLAGGED_CODES, LocalStore, decode, decode_w, encode,
    get_record, load_record,
};

/// Reads, changes and writes one code inside a write transaction; `None` if there is none.
fn update_code(
    txn: &redb::WriteTransaction,
    code: &Code,
    change: impl FnOnce(&mut CodeRecord),
) -> Result<Option<(CodeRecord, CodeRecord)>, redb::Error> {
    let mut codes = txn.open_table(CODES)?;
    let Some(before) =
        codes.get(code.as_str())?.map(|v| decode_w::<CodeRecord>(code.as_str(), v.value())).transpose()?
    else {
        return Ok(None);
    };
    let mut after = before.clone();
    change(&mut after);
    codes.insert(code.as_str(), encode(&after).as_slice())?;
    Ok(Some((before, after)))
}

#[async_trait]
impl CodeStore for LocalStore {
    async fn flag(&self, code: &Code, flag: &CodeFlag) -> Result<bool, StoreError> {
        let (code, flag) = (code.clone(), flag.clone());
        self.write_ok("flag a code", move |txn| {
            let changed = update_code(txn, &code, |r| {
                r.flag.get_or_insert(flag);
            })?;
            let Some((before, after)) = changed else { return Ok(false) };
            if before.flag.is_some() {
                return Ok(false);
            }
            if let Some(f) = &after.flag {
                txn.open_table(FLAGGED_CODES)?.insert((f.at.as_millis(), code.as_str()), ())?;
            }
            Ok(true)
        })
        .await
    }

    async fn clear_flag(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        let code = code.clone();
        self.write_ok("clear a code's flag", move |txn| {
            let Some((before, after)) = update_code(txn, &code, |r| r.flag = None)? else { return Ok(None) };
            if let Some(f) = &before.flag {
                txn.open_table(FLAGGED_CODES)?.remove((f.at.as_millis(), code.as_str()))?;
            }
            Ok(Some(after))
        })
        .await
    }

    async fn flagged(&self, limit: usize) -> Result<Vec<CodeRecord>, StoreError> {
        self.read("list flagged codes", move |txn| {
            let index = txn.open_table(FLAGGED_CODES)?;
            let codes = txn.open_table(CODES)?;
            let mut out = Vec::new();
            for entry in index.iter()? {
                let (key, _) = entry?;
                let code = key.value().1;
                if let Some(v) = codes.get(code)? {
                    let record: CodeRecord = decode(code, v.value())?;
                    if record.is_active() {
                        out.push(record);
                    }
                }
                if out.len() >= limit {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

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
            let Some(mut record) = load_record::<CodeRecord>(&codes, code.as_str())? else {
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
            // The invite names the referrer.
            record.invite.clear();
            codes.insert(code.as_str(), encode(&record).as_slice())?;
            drop((codes, active, index));
            index_code(txn, &record, Some(&before))?;
            Ok(())
        })
        .await
    }

    async fn get(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        let code = code.clone();
        self.read("read a code", move |txn| get_record(&txn.open_table(CODES)?, code.as_str())).await
    }

    async fn active_code_of(&self, customer: &CustomerId) -> Result<Option<CodeRecord>, StoreError> {
        let customer = customer.clone();
        self.read("read a customer's active code", move |txn| {
            let active = txn.open_table(ACTIVE_CODE)?;
            let Some(code) = active.get(customer.as_str())? else { return Ok(None) };
            get_record(&txn.open_table(CODES)?, code.value())
        })
        .await
    }

    async fn codes_of(&self, customer: &CustomerId) -> Result<Vec<CodeRecord>, StoreError> {
        let customer = customer.clone();
        self.read("list a customer's codes", move |txn| {
            let (index, codes) = (txn.open_table(CODES_BY_REFERRER)?, txn.open_table(CODES)?);
            listed(&index, &codes, customer.as_str(), i64::MIN..=i64::MAX, usize::MAX)
        })
        .await
    }

    async fn retire(&self, code: &Code, at: Timestamp) -> Result<Option<CodeRecord>, StoreError> {
        let code = code.clone();
        self.write_ok("retire a code", move |txn| {
            let mut codes = txn.open_table(CODES)?;
            let Some(mut record) = load_record::<CodeRecord>(&codes, code.as_str())? else {
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
