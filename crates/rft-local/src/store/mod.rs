//! The embedded store: every port of `rft-core` on one redb file. redb runs one write
//! transaction at a time, serialisably, so each conditional write of the DynamoDB design
//! (claim if absent, update if the version still matches, commit a payout as one unit) is a
//! read-check-write inside one transaction, durable once `commit` returns.
//!
//! One file per port: [`codes`], [`clicks`] (the click log itself is `crate::clicklog`, outside
//! redb), [`referrals`], [`ledger`], [`audit`], [`webhooks`], [`counters`] (with the rollups),
//! [`unsubscribes`]; [`index`] reads the secondary indexes; [`listing`] keeps the console's
//! indexes; [`inspect`] reads everything back for tests; [`rewrite`] copies the file afresh.

use std::path::Path;
use std::sync::Arc;

use crate::clicklog::{ClickLog, ClickLogError};
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Serialize, de::DeserializeOwned};

use rft_core::ports::StoreError;

mod audit;
mod clicks;
mod codes;
mod counters;
pub(crate) mod index;
mod inspect;
mod ledger;
mod listing;
mod orders;
mod personal_keys;
mod referrals;
pub mod rewrite;
mod unsubscribes;
mod webhooks;

pub(crate) type Bytes = &'static [u8];

/// The data file's name in the data directory.
pub const DATA_FILE: &str = "rft.redb";

pub(crate) const CODES: TableDefinition<&str, Bytes> = TableDefinition::new("codes");
pub(crate) const ACTIVE_CODE: TableDefinition<&str, &str> = TableDefinition::new("active_code_by_customer");
pub(crate) const CODES_BY_REFERRER: TableDefinition<(&str, i64, &str), ()> = TableDefinition::new("codes_by_referrer");
pub(crate) const REFERRALS: TableDefinition<&str, Bytes> = TableDefinition::new("referrals");
pub(crate) const CLAIMS: TableDefinition<&str, &str> = TableDefinition::new("identity_claims");
pub(crate) const CLAIMS_BY_CLAIMANT: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("identity_claims_by_claimant");
pub(crate) const REVIEW: TableDefinition<(&str, i64, &str), ()> = TableDefinition::new("review_queues");
pub(crate) const REFERRALS_BY_REFERRER: TableDefinition<(&str, i64, &str), ()> =
    TableDefinition::new("referrals_by_referrer");
pub(crate) const LEDGER_BY_CUSTOMER: TableDefinition<(&str, i64, &str), &str> =
    TableDefinition::new("ledger_by_customer");
pub(crate) const LEDGER: TableDefinition<(&str, &str), Bytes> = TableDefinition::new("ledger");
pub(crate) const TALLY: TableDefinition<&str, u32> = TableDefinition::new("referrer_tally");
pub(crate) const AUDIT: TableDefinition<(&str, i64), Bytes> = TableDefinition::new("audit");
pub(crate) const AUDIT_BY_SUBJECT: TableDefinition<(&str, i64, &str), ()> = TableDefinition::new("audit_by_subject");
pub(crate) const WEBHOOKS: TableDefinition<&str, Bytes> = TableDefinition::new("webhooks");
pub(crate) const COUNTERS: TableDefinition<&str, (u32, i64)> = TableDefinition::new("counters");
pub(crate) const ORDERS: TableDefinition<&str, Bytes> = TableDefinition::new("orders");
pub(crate) const FIRST_ORDERS: TableDefinition<&str, &str> = TableDefinition::new("first_order_by_customer");
/// Unsubscribed addresses: the hash of the address's identity form, and when (ms).
pub(crate) const UNSUBSCRIBES: TableDefinition<&str, i64> = TableDefinition::new("unsubscribes");
pub(crate) const FLAGGED_CODES: TableDefinition<(i64, &str), ()> = TableDefinition::new("flagged_codes");
/// The console's listings: referrals by (state, created at, id), codes by (status, created at, code).
pub(crate) const REFERRALS_BY_STATE: TableDefinition<(&str, i64, &str), ()> =
    TableDefinition::new("referrals_by_state");
pub(crate) const CODES_BY_STATUS: TableDefinition<(&str, i64, &str), ()> = TableDefinition::new("codes_by_status");

/// The embedded store. Cheap to clone; clones share the database.
#[derive(Clone)]
pub struct LocalStore {
    pub(crate) db: Arc<Database>,
    pub(crate) clicks: ClickLog,
}

/// Creates every table up front so readers never meet a missing one.
fn create_tables(txn: &WriteTransaction) -> Result<(), redb::Error> {
    txn.open_table(CODES)?;
    txn.open_table(ACTIVE_CODE)?;
    txn.open_table(CODES_BY_REFERRER)?;
    txn.open_table(crate::clicklog::ROLLUPS)?;
    txn.open_table(REFERRALS)?;
    txn.open_table(CLAIMS)?;
    txn.open_table(CLAIMS_BY_CLAIMANT)?;
    txn.open_table(REVIEW)?;
    txn.open_table(REFERRALS_BY_REFERRER)?;
    txn.open_table(LEDGER_BY_CUSTOMER)?;
    txn.open_table(LEDGER)?;
    txn.open_table(TALLY)?;
    txn.open_table(AUDIT)?;
    txn.open_table(AUDIT_BY_SUBJECT)?;
    txn.open_table(WEBHOOKS)?;
    txn.open_table(COUNTERS)?;
    txn.open_table(ORDERS)?;
    txn.open_table(FIRST_ORDERS)?;
    txn.open_table(FLAGGED_CODES)?;
    txn.open_table(UNSUBSCRIBES)?;
    txn.open_table(REFERRALS_BY_STATE)?;
    txn.open_table(CODES_BY_STATUS)?;
    listing::backfill(txn)?;
    crate::queue::create_tables(txn)?;
    Ok(())
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalStore")
    }
}

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("could not open the data file {path}")]
pub struct OpenError {
    path: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl LocalStore {
    /// Opens (or creates) the store in `dir/rft.redb`, with its click log beside it
    /// (`dir/clicks-<n>.log`).
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
        let path = dir.join(DATA_FILE);
        let failed =
            |source: Box<dyn std::error::Error + Send + Sync>| OpenError { path: path.display().to_string(), source };
        let db = Database::create(&path).map_err(|e| failed(Box::new(redb::Error::from(e))))?;
        Self::with_db(db, Some(dir)).map_err(|e| failed(Box::new(e)))
    }

    /// A throwaway store in memory, for tests.
    pub fn in_memory() -> Self {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("an in-memory database always opens");
        Self::with_db(db, None).expect("an in-memory database always initialises")
    }

    fn with_db(db: Database, dir: Option<&Path>) -> Result<Self, ClickLogError> {
        let txn = db.begin_write().map_err(redb::Error::from)?;
        create_tables(&txn)?;
        txn.commit().map_err(redb::Error::from)?;
        let db = Arc::new(db);
        Ok(LocalStore { clicks: ClickLog::open(db.clone(), dir)?, db })
    }

    /// Runs `f` in a write transaction on the blocking pool. `Ok(Ok(t))` commits; `Ok(Err(d))`
    /// aborts (a lost condition) and returns `d`; `Err` is a storage failure.
    pub(crate) async fn write<T, D, F>(&self, op: &'static str, f: F) -> Result<Result<T, D>, StoreError>
    where
        T: Send + 'static,
        D: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<Result<T, D>, redb::Error> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || -> Result<Result<T, D>, redb::Error> {
            let txn = db.begin_write()?;
            let outcome = f(&txn)?;
            match outcome {
                Ok(t) => {
                    txn.commit()?;
                    Ok(Ok(t))
                }
                Err(d) => {
                    txn.abort()?;
                    Ok(Err(d))
                }
            }
        })
        .await
        .map_err(|e| StoreError::unavailable(op, e))?
        .map_err(|e| StoreError::unavailable(op, e))
    }

    /// Runs `f` in a write transaction that has no condition to lose, and commits it.
    pub(crate) async fn write_ok<T, F>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, redb::Error> + Send + 'static,
    {
        match self.write(op, move |txn| f(txn).map(Ok::<T, std::convert::Infallible>)).await? {
            Ok(t) => Ok(t),
            Err(never) => match never {},
        }
    }

    /// Runs `f` on a read snapshot on the blocking pool.
    pub(crate) async fn read<T, F>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> Result<T, ReadFailure> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read().map_err(|e| ReadFailure::Db(e.into()))?;
            f(&txn)
        })
        .await
        .map_err(|e| StoreError::unavailable(op, e))?
        .map_err(|e| e.into_store_error(op))
    }
}

/// A failure inside a read: the database, or an item that does not decode.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    Db(redb::Error),
    Corrupt(String, serde_json::Error),
}

impl ReadFailure {
    fn into_store_error(self, op: &'static str) -> StoreError {
        match self {
            ReadFailure::Db(e) => StoreError::unavailable(op, e),
            ReadFailure::Corrupt(key, e) => StoreError::corrupt(key, e),
        }
    }
}

macro_rules! read_failure_from {
    ($($t:ty),*) => {$(
        impl From<$t> for ReadFailure {
            fn from(e: $t) -> Self {
                ReadFailure::Db(e.into())
            }
        }
    )*};
}
read_failure_from!(redb::Error, redb::TableError, redb::StorageError, redb::TransactionError);

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Domain records always serialise: no maps with non-string keys, no failing impls.
    serde_json::to_vec(value).expect("domain records serialise to JSON")
}

/// Decodes inside a write transaction, where a corrupt item is reported as a storage error.
pub(crate) fn decode_w<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, redb::Error> {
    serde_json::from_slice(bytes).map_err(|e| redb::Error::Corrupted(format!("{key}: {e}")))
}

pub(crate) fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, ReadFailure> {
    serde_json::from_slice(bytes).map_err(|e| ReadFailure::Corrupt(key.to_owned(), e))
}

/// The record stored under `key`, decoded (in a read).
pub(crate) fn get_record<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, Bytes>,
    key: &str,
) -> Result<Option<T>, ReadFailure> {
    table.get(key)?.map(|v| decode(key, v.value())).transpose()
}

/// The record stored under `key`, decoded (in a write, where a corrupt one fails it).
pub(crate) fn load_record<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, Bytes>,
    key: &str,
) -> Result<Option<T>, redb::Error> {
    table.get(key)?.map(|v| decode_w(key, v.value())).transpose()
}
