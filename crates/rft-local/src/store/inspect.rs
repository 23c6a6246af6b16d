//! Reading everything back, for tests that prove what is and is not stored.

use super::{
    ACTIVE_CODE, AUDIT, AUDIT_BY_SUBJECT, CLAIMS, CLAIMS_BY_CLAIMANT, CODES, CODES_BY_REFERRER, COUNTERS, FIRST_ORDERS,
    FLAGGED_CODES, LEDGER, LEDGER_BY_CUSTOMER, LocalStore, ORDERS, REFERRALS, REFERRALS_BY_REFERRER, REVIEW, TALLY,
    WEBHOOKS,
};
use redb::{ReadableDatabase, ReadableTable};

impl LocalStore {
    /// Every key and value in every table, as text: for tests that prove what is and is not
    /// stored (erasure, hashing). Not for production use: it reads everything.
    pub async fn dump(&self) -> String {
        let db = self.db.clone();
        let clicks = self.clicks.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = String::new();
            let Ok(txn) = db.begin_read() else { return out };
            macro_rules! dump {
                ($($table:expr),* $(,)?) => {$(
                    if let Ok(t) = txn.open_table($table) {
                        if let Ok(range) = t.iter() {
                            for (k, v) in range.flatten() {
                                out.push_str(&format!("{:?} => {}\n", k.value(), readable(&format!("{:?}", v.value()))));
                            }
                        }
                    }
                )*};
            }
            out.push_str(&clicks.dump());
            dump!(CODES, ACTIVE_CODE, CODES_BY_REFERRER, REFERRALS, CLAIMS);
            dump!(CLAIMS_BY_CLAIMANT, REVIEW, REFERRALS_BY_REFERRER, LEDGER, LEDGER_BY_CUSTOMER, TALLY, AUDIT, AUDIT_BY_SUBJECT);
            dump!(WEBHOOKS, COUNTERS, ORDERS, FLAGGED_CODES, FIRST_ORDERS, crate::clicklog::ROLLUPS);
            out
        })
        .await
        .unwrap_or_default()
    }
}

/// Stored JSON shows up as a debug byte list; turn such lists back into text for searching.
pub(super) fn readable(debug: &str) -> String {
    let bytes: Option<Vec<u8>> =
        debug.trim_start_matches('[').trim_end_matches(']').split(", ").map(|b| b.trim().parse::<u8>().ok()).collect();
    match bytes {
        Some(b) if !b.is_empty() => String::from_utf8_lossy(&b).into_owned(),
        _ => debug.to_owned(),
    }
}
