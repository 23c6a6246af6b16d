//! The console's listings: referrals by state and codes by status, each an index keyed
//! `(group, created at, id)` kept in the same transaction as the item, read newest first.
//! Stores made before these indexes existed are indexed once, when they are opened.

use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;

use rft_core::ports::ListWindow;
use rft_core::{CodeRecord, Referral};

use super::{CODES, CODES_BY_STATUS, REFERRALS, REFERRALS_BY_STATE, ReadFailure, decode, decode_w};

type Index = TableDefinition<'static, (&'static str, i64, &'static str), ()>;
type Items = TableDefinition<'static, &'static str, &'static [u8]>;

/// Moves a referral's entry in the by-state index from where `old` had it.
pub(super) fn index_referral(
    txn: &WriteTransaction,
    new: &Referral,
    old: Option<&Referral>,
) -> Result<(), redb::Error> {
    let mut index = txn.open_table(REFERRALS_BY_STATE)?;
    let id = new.referral_id.as_str();
    if let Some(o) = old {
        index.remove((o.state.as_str(), o.created_at.as_millis(), id))?;
    }
    index.insert((new.state.as_str(), new.created_at.as_millis(), id), ())?;
    Ok(())
}

/// Moves a code's entry in the by-status index from where `old` had it.
pub(super) fn index_code(
    txn: &WriteTransaction,
    new: &CodeRecord,
    old: Option<&CodeRecord>,
) -> Result<(), redb::Error> {
    let mut index = txn.open_table(CODES_BY_STATUS)?;
    let code = new.code.as_str();
    if let Some(o) = old {
        index.remove((o.status.as_str(), o.created_at.as_millis(), code))?;
    }
    index.insert((new.status.as_str(), new.created_at.as_millis(), code), ())?;
    Ok(())
}

/// Indexes every referral and code of a store written before the indexes existed.
pub(super) fn backfill(txn: &WriteTransaction) -> Result<(), redb::Error> {
    if txn.open_table(REFERRALS_BY_STATE)?.is_empty()? {
        let referrals = txn.open_table(REFERRALS)?;
        let mut index = txn.open_table(REFERRALS_BY_STATE)?;
        for entry in referrals.iter()? {
            let (id, bytes) = entry?;
            let r: Referral = decode_w(id.value(), bytes.value())?;
            index.insert((r.state.as_str(), r.created_at.as_millis(), r.referral_id.as_str()), ())?;
        }
    }
    if txn.open_table(CODES_BY_STATUS)?.is_empty()? {
        let codes = txn.open_table(CODES)?;
        let mut index = txn.open_table(CODES_BY_STATUS)?;
        for entry in codes.iter()? {
            let (code, bytes) = entry?;
            let c: CodeRecord = decode_w(code.value(), bytes.value())?;
            index.insert((c.status.as_str(), c.created_at.as_millis(), c.code.as_str()), ())?;
        }
    }
    Ok(())
}

/// One page of `group` in `index`, newest first, each item read from `items`.
pub(super) fn page<T: DeserializeOwned>(
    txn: &ReadTransaction,
    index: Index,
    items: Items,
    group: &str,
    window: &ListWindow,
) -> Result<Vec<T>, ReadFailure> {
    let (since, before) = (window.since.as_millis(), &window.before);
    if window.limit == 0 || since > before.at.as_millis() {
        return Ok(Vec::new());
    }
    let index = txn.open_table(index)?;
    let items = txn.open_table(items)?;
    let mut out = Vec::new();
    for entry in index.range((group, since, "")..(group, before.at.as_millis(), before.id.as_str()))?.rev() {
        if out.len() >= window.limit {
            break;
        }
        let (key, _) = entry?;
        let id = key.value().2;
        if let Some(v) = items.get(id)? {
            out.push(decode(id, v.value())?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use rft_core::ports::{ListPosition, ListWindow, ReferralStore};
    use rft_core::{ReferralState, Timestamp};

    use super::*;
    use crate::store::LocalStore;

    #[tokio::test]
    async fn a_store_from_before_the_listings_is_indexed_when_opened() {
        let store = LocalStore::in_memory();
        let referral: Referral = serde_json::from_value(serde_json::json!({
            "referral_id": "rf_0000000000000000000000000a", "referred_id": "c_mara", "referrer_id": "c_dan",
            "code": "7QK2A9", "state": "pending", "method": "token",
            "terms": {"referrer_reward": {"kind": "credit", "amount_minor": 1, "currency": "GBP", "description": "x"},
                      "friend_reward": {"kind": "credit", "amount_minor": 1, "currency": "GBP", "description": "x"},
                      "window_secs": 60},
            "evidence": [], "flags": [], "friend": {"first_name": null, "email": null, "identity": {}},
            "touched_at": 1000, "conversion": null, "created_at": 1000, "updated_at": 1000, "expires_at": 61000,
            "version": 1
        }))
        .unwrap();
        // A referral written as an older version did: in the table, not in the index.
        store
            .write_ok("write an old referral", move |txn| {
                txn.open_table(REFERRALS)?
                    .insert(referral.referral_id.as_str(), crate::store::encode(&referral).as_slice())?;
                Ok(())
            })
            .await
            .unwrap();
        let window =
            ListWindow { since: Timestamp::EPOCH, before: ListPosition::before_time(Timestamp::NEVER), limit: 10 };
        assert!(store.in_state(ReferralState::Pending, &window).await.unwrap().is_empty());
        store.write_ok("backfill", backfill).await.unwrap();
        let listed = store.in_state(ReferralState::Pending, &window).await.unwrap();
        assert_eq!(listed.len(), 1, "indexed");
    }
}
