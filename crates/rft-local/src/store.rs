//! The embedded store: every port of `rft-core` on one redb file. redb runs one write
//! transaction at a time, serialisably, so each conditional write of the DynamoDB design
//! (claim if absent, update if the version still matches, commit a payout as one unit) is a
//! read-check-write inside one transaction, durable once `commit` returns.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::clicklog::{ClickLogError, ClickWriter};
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use rft_core::ports::{
    AppendError, AuditStore, Begin, ClaimError, ClickStore, CodeStore, CommitError, CountError, Counters, LedgerStore,
    Opened, ReferralStore, StoreError, StoredResponse, WEBHOOK_MEMORY, WebhookLog, WriteError,
};
use rft_core::{
    AuditEvent, Click, Code, CodeRecord, CodeStatus, CustomerId, IdentityKey, LedgerRow, Referral, ReferralId,
    ReviewQueue, RewardCommit, Timestamp, click::TouchKey, identity::IdentityHash,
};

type Bytes = &'static [u8];

pub(crate) const CODES: TableDefinition<&str, Bytes> = TableDefinition::new("codes");
pub(crate) const ACTIVE_CODE: TableDefinition<&str, &str> = TableDefinition::new("active_code_by_customer");
pub(crate) const CODES_BY_REFERRER: TableDefinition<(&str, i64, &str), ()> = TableDefinition::new("codes_by_referrer");
pub(crate) const CLICKS: TableDefinition<(&str, i64), Bytes> = TableDefinition::new("clicks");
pub(crate) const CLICKS_BY_CODE: TableDefinition<(&str, i64, &str), i64> = TableDefinition::new("clicks_by_code");
pub(crate) const CLICKS_BY_BROWSER: TableDefinition<(&str, i64, &str), i64> = TableDefinition::new("clicks_by_browser");
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

/// The embedded store. Cheap to clone; clones share the database.
#[derive(Clone)]
pub struct LocalStore {
    pub(crate) db: Arc<Database>,
    clicks: ClickWriter,
}

/// Creates every table up front so readers never meet a missing one.
fn create_tables(txn: &WriteTransaction) -> Result<(), redb::Error> {
    txn.open_table(CODES)?;
    txn.open_table(ACTIVE_CODE)?;
    txn.open_table(CODES_BY_REFERRER)?;
    txn.open_table(CLICKS)?;
    txn.open_table(CLICKS_BY_CODE)?;
    txn.open_table(CLICKS_BY_BROWSER)?;
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
    /// Opens (or creates) the store in `dir/rft.redb`, with its click log beside it.
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
        let path = dir.join("rft.redb");
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
        Ok(LocalStore { clicks: ClickWriter::start(db.clone(), dir)?, db })
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

// ---- codes ----------------------------------------------------------------------------------

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
                record.status = CodeStatus::Retired;
                record.retired_at = Some(at);
                codes.insert(code.as_str(), encode(&record).as_slice())?;
                let mut active = txn.open_table(ACTIVE_CODE)?;
                let owns_guard = active.get(record.referrer_id.as_str())?.is_some_and(|c| c.value() == code.as_str());
                if owns_guard {
                    active.remove(record.referrer_id.as_str())?;
                }
            }
            Ok(Some(record))
        })
        .await
    }
}

// ---- clicks ---------------------------------------------------------------------------------

#[async_trait]
impl ClickStore for LocalStore {
    async fn record(&self, click: &Click) -> Result<(), StoreError> {
        self.clicks.record(click.clone()).await
    }

    async fn touches(&self, key: &TouchKey, now: Timestamp) -> Result<Vec<Click>, StoreError> {
        let id = key.attribution_id();
        self.clicks.settle().await?;
        self.read("read a token's clicks", move |txn| {
            let clicks = txn.open_table(CLICKS)?;
            let mut out = Vec::new();
            for entry in clicks.range((id.as_str(), i64::MIN)..=(id.as_str(), i64::MAX))?.rev() {
                let (_, v) = entry?;
                let click: Click = decode(&id, v.value())?;
                if click.expires_at > now {
                    out.push(click);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn forget(&self, key: &TouchKey) -> Result<usize, StoreError> {
        let id = key.attribution_id();
        self.clicks.settle().await?;
        self.write_ok("forget touches", move |txn| {
            let mut clicks = txn.open_table(CLICKS)?;
            let mut doomed: Vec<(i64, Click)> = Vec::new();
            for entry in clicks.range((id.as_str(), i64::MIN)..=(id.as_str(), i64::MAX))? {
                let (k, v) = entry?;
                doomed.push((k.value().1, decode_w::<Click>(&id, v.value())?));
            }
            let mut by_code = txn.open_table(CLICKS_BY_CODE)?;
            let mut by_browser = txn.open_table(CLICKS_BY_BROWSER)?;
            for (at, click) in &doomed {
                clicks.remove((id.as_str(), *at))?;
                by_code.remove((click.code.as_str(), *at, id.as_str()))?;
                if let Some(b) = &click.browser {
                    by_browser.remove((b.as_str(), *at, id.as_str()))?;
                }
            }
            Ok(doomed.len())
        })
        .await
    }

    async fn latest_from_browser(
        &self,
        browser: &IdentityHash,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Click>, StoreError> {
        let browser = browser.clone();
        self.clicks.settle().await?;
        self.read("find a browser's latest click", move |txn| {
            let index = txn.open_table(CLICKS_BY_BROWSER)?;
            let clicks = txn.open_table(CLICKS)?;
            let b = browser.as_str();
            for entry in index.range((b, since.as_millis(), "")..=(b, now.as_millis(), "\u{10FFFF}"))?.rev() {
                let (key, expires_at) = entry?;
                if expires_at.value() <= now.as_millis() {
                    continue;
                }
                let (_, at, id) = key.value();
                if let Some(v) = clicks.get((id, at))? {
                    return Ok(Some(decode(id, v.value())?));
                }
            }
            Ok(None)
        })
        .await
    }

    async fn clicks_of_code(
        &self,
        code: &Code,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<(Timestamp, Option<String>)>, StoreError> {
        let code = code.clone();
        self.clicks.settle().await?;
        self.read("list a code's clicks", move |txn| {
            let index = txn.open_table(CLICKS_BY_CODE)?;
            let clicks = txn.open_table(CLICKS)?;
            let mut out = Vec::new();
            for entry in
                index.range((code.as_str(), since.as_millis(), "")..=(code.as_str(), now.as_millis(), "\u{10FFFF}"))?
            {
                let (key, expires_at) = entry?;
                if expires_at.value() <= now.as_millis() {
                    continue;
                }
                let (_, at, id) = key.value();
                if let Some(v) = clicks.get((id, at))? {
                    let click: Click = decode(id, v.value())?;
                    out.push((click.at, click.channel));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn count_for_code(&self, code: &Code, since: Timestamp, now: Timestamp) -> Result<u64, StoreError> {
        let code = code.clone();
        self.clicks.settle().await?;
        self.read("count a code's clicks", move |txn| {
            let index = txn.open_table(CLICKS_BY_CODE)?;
            let mut n = 0;
            for entry in
                index.range((code.as_str(), since.as_millis(), "")..=(code.as_str(), i64::MAX, "\u{10FFFF}"))?
            {
                let (_, expires_at) = entry?;
                if expires_at.value() > now.as_millis() {
                    n += 1;
                }
            }
            Ok(n)
        })
        .await
    }
}

/// Writes clicks and their index entries; the tables are opened once for the whole group.
pub(crate) fn insert_clicks<'c>(
    txn: &WriteTransaction,
    clicks: impl IntoIterator<Item = &'c Click>,
) -> Result<(), redb::Error> {
    let mut by_id = txn.open_table(CLICKS)?;
    let mut by_code = txn.open_table(CLICKS_BY_CODE)?;
    let mut by_browser = txn.open_table(CLICKS_BY_BROWSER)?;
    for click in clicks {
        let id = click.key.attribution_id();
        let (at, expires_at) = (click.at.as_millis(), click.expires_at.as_millis());
        by_id.insert((id.as_str(), at), encode(click).as_slice())?;
        by_code.insert((click.code.as_str(), at, id.as_str()), expires_at)?;
        if let Some(browser) = &click.browser {
            by_browser.insert((browser.as_str(), at, id.as_str()), expires_at)?;
        }
    }
    Ok(())
}

// ---- referrals ------------------------------------------------------------------------------

fn load_referral(txn: &WriteTransaction, id: &str) -> Result<Option<Referral>, redb::Error> {
    let table = txn.open_table(REFERRALS)?;
    let found = table.get(id)?;
    found.map(|v| decode_w(id, v.value())).transpose()
}

/// Writes a referral and moves its review-queue entry from where `old` had it.
fn put_referral(txn: &WriteTransaction, referral: &Referral, old: Option<&Referral>) -> Result<(), redb::Error> {
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
    Ok(())
}

/// Whose sign-up a set of claims comes from: the customer-id claim among them.
fn claimant_of(claims: &[IdentityKey], referral: &Referral) -> String {
    claims
        .iter()
        .find_map(|k| match k {
            IdentityKey::Customer(c) => Some(c.as_str().to_owned()),
            _ => None,
        })
        .unwrap_or_else(|| referral.referred_id.as_str().to_owned())
}

fn append_audit(txn: &WriteTransaction, event: &AuditEvent) -> Result<bool, redb::Error> {
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
impl ReferralStore for LocalStore {
    async fn open(
        &self,
        referral: &Referral,
        claims: &[IdentityKey],
        audit: &AuditEvent,
    ) -> Result<Opened, StoreError> {
        let referral = referral.clone();
        let keys: Vec<String> = claims.iter().map(IdentityKey::storage_key).collect();
        let claimant = claimant_of(claims, &referral);
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
        self.read("read a referral", move |txn| {
            let table = txn.open_table(REFERRALS)?;
            let found = table.get(id.as_str())?;
            found.map(|v| decode(id.as_str(), v.value())).transpose()
        })
        .await
    }

    async fn find(&self, key: &IdentityKey) -> Result<Option<Referral>, StoreError> {
        let key = key.storage_key();
        self.read("find a referral by identity", move |txn| {
            let claims = txn.open_table(CLAIMS)?;
            let Some(id) = claims.get(key.as_str())? else { return Ok(None) };
            let table = txn.open_table(REFERRALS)?;
            let found = table.get(id.value())?;
            found.map(|v| decode(id.value(), v.value())).transpose()
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

    async fn forget_claims(&self, claimant: &CustomerId) -> Result<usize, StoreError> {
        let claimant = claimant.clone();
        self.write_ok("forget identity claims", move |txn| {
            let mut index = txn.open_table(CLAIMS_BY_CLAIMANT)?;
            let c = claimant.as_str();
            let mut keys: Vec<String> = Vec::new();
            for entry in index.range((c, "")..=(c, "\u{10FFFF}"))? {
                let (k, _) = entry?;
                keys.push(k.value().1.to_owned());
            }
            let mut claims = txn.open_table(CLAIMS)?;
            for key in &keys {
                claims.remove(key.as_str())?;
                index.remove((c, key.as_str()))?;
            }
            Ok(keys.len())
        })
        .await
    }

    async fn referrals_of(&self, referrer: &CustomerId) -> Result<Vec<Referral>, StoreError> {
        let referrer = referrer.clone();
        self.read("list a referrer's referrals", move |txn| {
            let index = txn.open_table(REFERRALS_BY_REFERRER)?;
            let referrals = txn.open_table(REFERRALS)?;
            let r = referrer.as_str();
            let mut out = Vec::new();
            for entry in index.range((r, i64::MIN, "")..=(r, i64::MAX, "\u{10FFFF}"))? {
                let (key, _) = entry?;
                let id = key.value().2;
                if let Some(v) = referrals.get(id)? {
                    out.push(decode(id, v.value())?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn queue(&self, queue: ReviewQueue, until: Timestamp, limit: usize) -> Result<Vec<Referral>, StoreError> {
        self.read("list a review queue", move |txn| {
            let review = txn.open_table(REVIEW)?;
            let referrals = txn.open_table(REFERRALS)?;
            let q = queue.as_str();
            let mut out = Vec::new();
            for entry in review.range((q, i64::MIN, "")..=(q, until.as_millis(), "\u{10FFFF}"))? {
                if out.len() >= limit {
                    break;
                }
                let (key, _) = entry?;
                let id = key.value().2;
                if let Some(v) = referrals.get(id)? {
                    out.push(decode(id, v.value())?);
                }
            }
            Ok(out)
        })
        .await
    }
}

// ---- ledger ---------------------------------------------------------------------------------

#[async_trait]
impl LedgerStore for LocalStore {
    async fn commit_reward(&self, commit: &RewardCommit) -> Result<(), CommitError> {
        let commit = commit.clone();
        self.write("commit a payout", move |txn| {
            let id = commit.referral.referral_id.as_str();
            let old = load_referral(txn, id)?;
            match &old {
                Some(o) if o.version == commit.expected_version => {}
                _ => return Ok(Err(CommitError::Stale)),
            }
            let mut ledger = txn.open_table(LEDGER)?;
            for row in &commit.rows {
                if ledger.get((id, row.side.as_str()))?.is_some() {
                    return Ok(Err(CommitError::AlreadyPaid));
                }
            }
            let mut tally = txn.open_table(TALLY)?;
            let referrer = commit.tally.referrer_id.as_str();
            let current = tally.get(referrer)?.map(|v| v.value()).unwrap_or(0);
            if current != commit.tally.expected {
                return Ok(Err(CommitError::TallyMoved));
            }
            tally.insert(referrer, current + 1)?;
            let mut by_customer = txn.open_table(LEDGER_BY_CUSTOMER)?;
            for row in &commit.rows {
                ledger.insert((id, row.side.as_str()), encode(row).as_slice())?;
                by_customer.insert((row.customer_id.as_str(), row.created_at.as_millis(), id), row.side.as_str())?;
            }
            drop(by_customer);
            drop((ledger, tally));
            put_referral(txn, &commit.referral, old.as_ref())?;
            append_audit(txn, &commit.audit)?;
            Ok(Ok(()))
        })
        .await?
    }

    async fn rows(&self, referral: &ReferralId) -> Result<Vec<LedgerRow>, StoreError> {
        let referral = referral.clone();
        self.read("read ledger rows", move |txn| {
            let ledger = txn.open_table(LEDGER)?;
            let id = referral.as_str();
            let mut rows: Vec<LedgerRow> = Vec::new();
            for entry in ledger.range((id, "")..=(id, "\u{10FFFF}"))? {
                let (_, v) = entry?;
                rows.push(decode(id, v.value())?);
            }
            rows.sort_by_key(|r| r.side);
            Ok(rows)
        })
        .await
    }

    async fn save_row(&self, row: &LedgerRow, expected_version: u64) -> Result<(), WriteError> {
        let row = row.clone();
        self.write("update a ledger row", move |txn| {
            let mut ledger = txn.open_table(LEDGER)?;
            let key = (row.referral_id.as_str(), row.side.as_str());
            let current =
                ledger.get(key)?.map(|v| decode_w::<LedgerRow>(row.referral_id.as_str(), v.value())).transpose()?;
            let Some(current) = current.filter(|c| c.version == expected_version) else {
                return Ok(Err(WriteError::Conflict));
            };
            ledger.insert(key, encode(&row).as_slice())?;
            if current.customer_id != row.customer_id {
                let mut by_customer = txn.open_table(LEDGER_BY_CUSTOMER)?;
                let id = row.referral_id.as_str();
                by_customer.remove((current.customer_id.as_str(), current.created_at.as_millis(), id))?;
                by_customer.insert((row.customer_id.as_str(), row.created_at.as_millis(), id), row.side.as_str())?;
            }
            Ok(Ok(()))
        })
        .await?
    }

    async fn rows_of(&self, customer: &CustomerId) -> Result<Vec<LedgerRow>, StoreError> {
        let customer = customer.clone();
        self.read("list a customer's ledger rows", move |txn| {
            let index = txn.open_table(LEDGER_BY_CUSTOMER)?;
            let ledger = txn.open_table(LEDGER)?;
            let c = customer.as_str();
            let mut out = Vec::new();
            for entry in index.range((c, i64::MIN, "")..=(c, i64::MAX, "\u{10FFFF}"))? {
                let (key, side) = entry?;
                let id = key.value().2;
                if let Some(v) = ledger.get((id, side.value()))? {
                    out.push(decode(id, v.value())?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn tally(&self, referrer: &CustomerId) -> Result<u32, StoreError> {
        let referrer = referrer.clone();
        self.read("read a referrer's tally", move |txn| {
            let tally = txn.open_table(TALLY)?;
            let n = tally.get(referrer.as_str())?.map(|v| v.value()).unwrap_or(0);
            Ok(n)
        })
        .await
    }
}

// ---- audit ----------------------------------------------------------------------------------

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
            for entry in index.range((subject.as_str(), i64::MIN, "")..=(subject.as_str(), i64::MAX, "\u{10FFFF}"))? {
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

// ---- processed webhook ids ------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct WebhookRecord {
    response: Option<StoredResponse>,
    lease_until: Timestamp,
    expires_at: Timestamp,
}

#[async_trait]
impl WebhookLog for LocalStore {
    async fn begin(&self, id: &str, now: Timestamp, lease: Duration) -> Result<Begin, StoreError> {
        let id = id.to_owned();
        self.write_ok("claim a webhook id", move |txn| {
            let mut table = txn.open_table(WEBHOOKS)?;
            let existing = table
                .get(id.as_str())?
                .map(|v| decode_w::<WebhookRecord>(&id, v.value()))
                .transpose()?
                .filter(|r| r.expires_at > now);
            match existing {
                Some(WebhookRecord { response: Some(r), .. }) => return Ok(Begin::Done(r)),
                Some(r) if r.lease_until > now => return Ok(Begin::InFlight),
                _ => {}
            }
            let record =
                WebhookRecord { response: None, lease_until: now.plus(lease), expires_at: now.plus(WEBHOOK_MEMORY) };
            table.insert(id.as_str(), encode(&record).as_slice())?;
            Ok(Begin::Fresh)
        })
        .await
    }

    async fn finish(&self, id: &str, response: &StoredResponse, now: Timestamp) -> Result<(), StoreError> {
        let id = id.to_owned();
        let record =
            WebhookRecord { response: Some(response.clone()), lease_until: now, expires_at: now.plus(WEBHOOK_MEMORY) };
        self.write_ok("record a webhook answer", move |txn| {
            txn.open_table(WEBHOOKS)?.insert(id.as_str(), encode(&record).as_slice())?;
            Ok(())
        })
        .await
    }

    async fn abandon(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write_ok("release a webhook id", move |txn| {
            let mut table = txn.open_table(WEBHOOKS)?;
            let unanswered = table
                .get(id.as_str())?
                .map(|v| decode_w::<WebhookRecord>(&id, v.value()))
                .transpose()?
                .is_some_and(|r| r.response.is_none());
            if unanswered {
                table.remove(id.as_str())?;
            }
            Ok(())
        })
        .await
    }
}

// ---- counters -------------------------------------------------------------------------------

#[async_trait]
impl Counters for LocalStore {
    async fn increment(
        &self,
        key: &str,
        limit: Option<u32>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<u32, CountError> {
        let key = key.to_owned();
        self.write("increment a counter", move |txn| {
            let mut counters = txn.open_table(COUNTERS)?;
            let current = counters
                .get(key.as_str())?
                .map(|v| v.value())
                .filter(|(_, exp)| *exp > now.as_millis())
                .map(|(n, _)| n);
            if let (Some(n), Some(limit)) = (current, limit)
                && n >= limit
            {
                return Ok(Err(CountError::LimitReached { limit }));
            }
            let (next, expiry) = match current {
                Some(n) => (n + 1, counters.get(key.as_str())?.map(|v| v.value().1).unwrap_or(expires_at.as_millis())),
                None => (1, expires_at.as_millis()),
            };
            counters.insert(key.as_str(), (next, expiry))?;
            Ok(Ok(next))
        })
        .await?
    }

    async fn count(&self, key: &str, now: Timestamp) -> Result<u32, StoreError> {
        let key = key.to_owned();
        self.read("read a counter", move |txn| {
            let counters = txn.open_table(COUNTERS)?;
            let n = counters
                .get(key.as_str())?
                .map(|v| v.value())
                .filter(|(_, exp)| *exp > now.as_millis())
                .map(|(n, _)| n);
            Ok(n.unwrap_or(0))
        })
        .await
    }
}

// ---- inspection -----------------------------------------------------------------------------

impl LocalStore {
    /// Every key and value in every table, as text: for tests that prove what is and is not
    /// stored (erasure, hashing). Not for production use: it reads everything.
    pub async fn dump(&self) -> String {
        // Logged clicks are folded in first, so the dump holds everything stored.
        let _ = self.clicks.settle().await;
        let db = self.db.clone();
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
            dump!(CODES, ACTIVE_CODE, CODES_BY_REFERRER, CLICKS, CLICKS_BY_CODE, CLICKS_BY_BROWSER, REFERRALS, CLAIMS);
            dump!(CLAIMS_BY_CLAIMANT, REVIEW, REFERRALS_BY_REFERRER, LEDGER, LEDGER_BY_CUSTOMER, TALLY, AUDIT, AUDIT_BY_SUBJECT);
            dump!(WEBHOOKS, COUNTERS);
            out
        })
        .await
        .unwrap_or_default()
    }
}

/// Stored JSON shows up as a debug byte list; turn such lists back into text for searching.
fn readable(debug: &str) -> String {
    let bytes: Option<Vec<u8>> =
        debug.trim_start_matches('[').trim_end_matches(']').split(", ").map(|b| b.trim().parse::<u8>().ok()).collect();
    match bytes {
        Some(b) if !b.is_empty() => String::from_utf8_lossy(&b).into_owned(),
        _ => debug.to_owned(),
    }
}
