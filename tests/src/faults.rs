//! Fault injection for the crash-at-every-step tests: one wrapper that stands in for every port
//! the rewarder uses, counts calls, and fails call N, either before the call (it never happened)
//! or after it (it happened, but the caller never heard back: a crash mid-step).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use rft_core::identity::IdentityKey;
use rft_core::ports::*;
use rft_core::screen::Verdict;
use rft_core::{
    AuditEvent, Code, CodeRecord, CustomerId, LedgerRow, Referral, ReferralId, ReviewQueue, RewardCommit, Timestamp,
};

/// Where the fault strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strike {
    /// The call fails without happening.
    Before,
    /// The call happens; its answer is lost.
    After,
}

/// The call counter and the fault's position.
#[derive(Debug)]
pub struct Faults {
    calls: AtomicUsize,
    fail_at: usize,
    strike: Strike,
}

impl Faults {
    /// Fails call number `fail_at` (1-based).
    pub fn new(fail_at: usize, strike: Strike) -> Arc<Self> {
        Arc::new(Faults { calls: AtomicUsize::new(0), fail_at, strike })
    }

    /// Calls made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Whether the fault fired.
    pub fn fired(&self) -> bool {
        self.calls() >= self.fail_at
    }

    fn this_one(&self) -> bool {
        self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at
    }
}

/// The error a fault produces.
#[derive(Debug, thiserror::Error)]
#[error("injected fault")]
pub struct Injected;

/// Every port the rewarder uses, each call counted and maybe failed.
pub struct Faulty {
    /// The real stores.
    pub stores: Stores,
    /// The real screen.
    pub screener: Arc<dyn Screener>,
    /// The real store client.
    pub rewards: Arc<dyn RewardClient>,
    /// The real messenger.
    pub messenger: Arc<dyn Messenger>,
    /// The counter.
    pub faults: Arc<Faults>,
}

/// Runs `$call` under the fault: before, or after with the result dropped.
macro_rules! guarded {
    ($self:ident, $err:expr, $call:expr) => {{
        let strike = $self.faults.this_one();
        if strike && $self.faults.strike == Strike::Before {
            return Err($err);
        }
        let result = $call;
        if strike {
            return Err($err);
        }
        result
    }};
}

fn store_fault() -> StoreError {
    StoreError::unavailable("injected", Injected)
}

#[async_trait]
impl CodeStore for Faulty {
    async fn claim(&self, record: &CodeRecord) -> Result<(), ClaimError> {
        guarded!(self, ClaimError::Store(store_fault()), self.stores.codes.claim(record).await)
    }
    async fn get(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        guarded!(self, store_fault(), self.stores.codes.get(code).await)
    }
    async fn active_code_of(&self, c: &CustomerId) -> Result<Option<CodeRecord>, StoreError> {
        guarded!(self, store_fault(), self.stores.codes.active_code_of(c).await)
    }
    async fn codes_of(&self, c: &CustomerId) -> Result<Vec<CodeRecord>, StoreError> {
        guarded!(self, store_fault(), self.stores.codes.codes_of(c).await)
    }
    async fn retire(&self, code: &Code, at: Timestamp) -> Result<Option<CodeRecord>, StoreError> {
        guarded!(self, store_fault(), self.stores.codes.retire(code, at).await)
    }
    async fn forget_referrer(&self, code: &Code, opaque: &CustomerId, at: Timestamp) -> Result<(), StoreError> {
        guarded!(self, store_fault(), self.stores.codes.forget_referrer(code, opaque, at).await)
    }
}

#[async_trait]
impl ReferralStore for Faulty {
    async fn open(&self, r: &Referral, claims: &[IdentityKey], audit: &AuditEvent) -> Result<Opened, StoreError> {
        guarded!(self, store_fault(), self.stores.referrals.open(r, claims, audit).await)
    }
    async fn get(&self, id: &ReferralId) -> Result<Option<Referral>, StoreError> {
        guarded!(self, store_fault(), self.stores.referrals.get(id).await)
    }
    async fn find(&self, key: &IdentityKey) -> Result<Option<Referral>, StoreError> {
        guarded!(self, store_fault(), self.stores.referrals.find(key).await)
    }
    async fn save(&self, r: &Referral, v: u64, audit: Option<&AuditEvent>) -> Result<(), WriteError> {
        guarded!(self, WriteError::Store(store_fault()), self.stores.referrals.save(r, v, audit).await)
    }
    async fn forget_claims(&self, c: &CustomerId) -> Result<usize, StoreError> {
        guarded!(self, store_fault(), self.stores.referrals.forget_claims(c).await)
    }
    async fn referrals_of(&self, c: &CustomerId) -> Result<Vec<Referral>, StoreError> {
        guarded!(self, store_fault(), self.stores.referrals.referrals_of(c).await)
    }
    async fn queue(&self, q: ReviewQueue, until: Timestamp, limit: usize) -> Result<Vec<Referral>, StoreError> {
        guarded!(self, store_fault(), self.stores.referrals.queue(q, until, limit).await)
    }
}

#[async_trait]
impl LedgerStore for Faulty {
    async fn commit_reward(&self, commit: &RewardCommit) -> Result<(), CommitError> {
        guarded!(self, CommitError::Store(store_fault()), self.stores.ledger.commit_reward(commit).await)
    }
    async fn rows(&self, id: &ReferralId) -> Result<Vec<LedgerRow>, StoreError> {
        guarded!(self, store_fault(), self.stores.ledger.rows(id).await)
    }
    async fn save_row(&self, row: &LedgerRow, v: u64) -> Result<(), WriteError> {
        guarded!(self, WriteError::Store(store_fault()), self.stores.ledger.save_row(row, v).await)
    }
    async fn rows_of(&self, c: &CustomerId) -> Result<Vec<LedgerRow>, StoreError> {
        guarded!(self, store_fault(), self.stores.ledger.rows_of(c).await)
    }
    async fn tally(&self, c: &CustomerId) -> Result<u32, StoreError> {
        guarded!(self, store_fault(), self.stores.ledger.tally(c).await)
    }
}

#[async_trait]
impl AuditStore for Faulty {
    async fn append(&self, e: &AuditEvent) -> Result<(), AppendError> {
        guarded!(self, AppendError::Store(store_fault()), self.stores.audit.append(e).await)
    }
    async fn redact(&self, e: &AuditEvent) -> Result<(), StoreError> {
        guarded!(self, store_fault(), self.stores.audit.redact(e).await)
    }
    async fn events_for(&self, s: &str) -> Result<Vec<AuditEvent>, StoreError> {
        guarded!(self, store_fault(), self.stores.audit.events_for(s).await)
    }
}

#[async_trait]
impl Counters for Faulty {
    async fn increment(
        &self,
        key: &str,
        limit: Option<u32>,
        exp: Timestamp,
        now: Timestamp,
    ) -> Result<u32, CountError> {
        guarded!(self, CountError::Store(store_fault()), self.stores.counters.increment(key, limit, exp, now).await)
    }
    async fn count(&self, key: &str, now: Timestamp) -> Result<u32, StoreError> {
        guarded!(self, store_fault(), self.stores.counters.count(key, now).await)
    }
}

#[async_trait]
impl Screener for Faulty {
    async fn screen(&self, case: &ScreenCase) -> Result<Verdict, ScreenError> {
        guarded!(self, ScreenError(Box::new(Injected)), self.screener.screen(case).await)
    }
    async fn notify_hold(&self, r: &Referral) -> Result<(), ScreenError> {
        guarded!(self, ScreenError(Box::new(Injected)), self.screener.notify_hold(r).await)
    }
}

#[async_trait]
impl RewardClient for Faulty {
    async fn fulfil(&self, request: &FulfilmentRequest) -> Result<FulfilOutcome, FulfilError> {
        guarded!(
            self,
            FulfilError { status: None, source: Some(Box::new(Injected)) },
            self.rewards.fulfil(request).await
        )
    }
}

#[async_trait]
impl Messenger for Faulty {
    async fn send(&self, m: &OutboundMessage) -> Result<(), MessageError> {
        guarded!(self, MessageError { kind: m.kind, source: Box::new(Injected) }, self.messenger.send(m).await)
    }
}

/// Keeps `Duration` in scope for callers building policies.
pub const LEASE: Duration = Duration::from_secs(60);
