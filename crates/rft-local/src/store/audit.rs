//! `AuditStore`: the append-only audit, by subject.

use async_trait::async_trait;
use redb::ReadableTable;
use redb::WriteTransaction;

use rft_core::AuditEvent;
use rft_core::ports::{AppendError, AuditStore, StoreError};

use super::index::under;
use super::{AUDIT, AUDIT_BY_SUBJECT, LocalStore, decode, decode_w, encode};

pub(super) fn append_audit(txn: &WriteTransaction, event: &AuditEvent) -> Result<bool, redb::Error> {
    let mut audit = txn.open_table(AUDIT)?;
    let key = (event.event_id.as_str(), event.ts.as_millis());
    if audit.get(key)?.is_some() {
        return Ok(false);
    }
    audit.insert(key, encode(event).as_slice())?;
    txn.open_table(AUDIT_BY_SUBJECT)?
        .insert((event.subject.as_str(), event.ts.as_millis(), event.event_id.as_str()), ())?;
    Ok(true)
}

#[async_trait]
impl AuditStore for LocalStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), AppendError> {
        let event = event.clone();
        self.write("append to the audit", move |txn| {
            Ok(if append_audit(txn, &event)? { Ok(()) } else { Err(AppendError::Duplicate) })
        })
        .await?
    }

    async fn redact(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let event = event.clone();
        self.write_ok("redact an audit event", move |txn| {
            let mut audit = txn.open_table(AUDIT)?;
            let key = (event.event_id.as_str(), event.ts.as_millis());
            let Some(old) = audit.get(key)?.map(|v| decode_w::<AuditEvent>(&event.event_id, v.value())).transpose()?
            else {
                return Ok(());
            };
            audit.insert(key, encode(&event).as_slice())?;
            if old.subject != event.subject {
                let mut by_subject = txn.open_table(AUDIT_BY_SUBJECT)?;
                by_subject.remove((old.subject.as_str(), old.ts.as_millis(), old.event_id.as_str()))?;
                by_subject.insert((event.subject.as_str(), event.ts.as_millis(), event.event_id.as_str()), ())?;
            }
            Ok(())
        })
        .await
    }

    async fn events_for(&self, subject: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let subject = subject.to_owned();
        self.read("read the audit", move |txn| {
            let index = txn.open_table(AUDIT_BY_SUBJECT)?;
            let audit = txn.open_table(AUDIT)?;
            let mut out = Vec::new();
            for entry in under(&index, &subject)? {
                let (key, _) = entry?;
                let (_, ts, event_id) = key.value();
                if let Some(v) = audit.get((event_id, ts))? {
                    out.push(decode(event_id, v.value())?);
                }
            }
            Ok(out)
        })
        .await
    }
}
