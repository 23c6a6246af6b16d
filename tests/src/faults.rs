//! Fault injection for the crash-at-every-step tests: one wrapper that stands in for every port
//! the rewarder uses, counts calls, and fails call N, either before the call (it never happened)
//! or after it (it happened, but the caller never heard back: a crash mid-step).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use rft_core::identity::IdentityKey;
use rft_core::ledger::Side;
use rft_core::ports::*;
use rft_core::screen::Verdict;
use rft_core::{
    AuditEvent, Code, CodeRecord, CustomerId, Delivery, Fulfilment, Job, LedgerRow, Referral, ReferralId, ReviewQueue,
    RewardCommit, Timestamp,
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
    steps: std::sync::Mutex<Vec<String>>,
    fail_at: usize,
    strike: Strike,
}

impl Faults {
    /// Fails call number `fail_at` (1-based).
    pub fn new(fail_at: usize, strike: Strike) -> Arc<Self> {
        Arc::new(Faults { calls: AtomicUsize::new(0), steps: Default::default(), fail_at, strike })
    }

    /// Calls made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Whether the fault fired.
    pub fn fired(&self) -> bool {
        self.calls() >= self.fail_at
    }

    /// Every call made so far, in order, by name (`ledger.row`, `queue.send(fulfil)`).
    pub fn steps(&self) -> Vec<String> {
        self.steps.lock().expect("not poisoned").clone()
    }

    fn this_one(&self, label: impl Into<String>) -> bool {
        self.steps.lock().expect("not poisoned").push(label.into());
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
    /// The real reward queue.
    pub queue: Arc<dyn JobQueue>,
    /// The counter.
    pub faults: Arc<Faults>,
}

/// Runs `$call` under the fault: before, or after with the result dropped.
macro_rules! guarded {
    ($self:ident, $label:expr, $err:expr, $call:expr) => {{
        let strike = $self.faults.this_one($label);
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

/// Which of the reward path's row writes this is.
fn save_row_step(row: &LedgerRow) -> &'static str {
    match (&row.fulfilment, row.note_sent_at) {
        (Fulfilment::Fulfilled { .. }, Some(_)) => "ledger.save_row(note claimed)",
        (Fulfilment::Fulfilled { .. }, None) => "ledger.save_row(fulfilled)",
        (Fulfilment::Owing { .. }, _) if row.call_claim.is_some() => "ledger.save_row(call claimed)",
        (Fulfilment::Owing { .. }, _) => "ledger.save_row(owing)",
        (Fulfilment::Parked { .. }, _) => "ledger.save_row(parked)",
        (Fulfilment::Forfeited { .. }, _) => "ledger.save_row(forfeited)",
    }
}

fn store_fault() -> StoreError {
    StoreError::unavailable("injected", Injected)
}

#[async_trait]
impl CodeStore for Faulty {
    async fn claim(&self, record: &CodeRecord) -> Result<(), ClaimError> {
        guarded!(self, "codes.claim", ClaimError::Store(store_fault()), self.stores.codes.claim(record).await)
    }
    async fn get(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        guarded!(self, "codes.get", store_fault(), self.stores.codes.get(code).await)
    }
    async fn active_code_of(&self, c: &CustomerId) -> Result<Option<CodeRecord>, StoreError> {
        guarded!(self, "codes.active_code_of", store_fault(), self.stores.codes.active_code_of(c).await)
    }
    async fn codes_of(&self, c: &CustomerId) -> Result<Vec<CodeRecord>, StoreError> {
        guarded!(self, "codes.codes_of", store_fault(), self.stores.codes.codes_of(c).await)
    }
    async fn retire(&self, code: &Code, at: Timestamp) -> Result<Option<CodeRecord>, StoreError> {
        guarded!(self, "codes.retire", store_fault(), self.stores.codes.retire(code, at).await)
    }
    async fn flag(&self, code: &Code, flag: &rft_core::code::CodeFlag) -> Result<bool, StoreError> {
        guarded!(self, "codes.flag", store_fault(), self.stores.codes.flag(code, flag).await)
    }
    async fn clear_flag(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        guarded!(self, "codes.clear_flag", store_fault(), self.stores.codes.clear_flag(code).await)
    }
    async fn flagged(&self, limit: usize) -> Result<Vec<CodeRecord>, StoreError> {
        guarded!(self, "codes.flagged", store_fault(), self.stores.codes.flagged(limit).await)
    }
    async fn forget_referrer(&self, code: &Code, opaque: &CustomerId, at: Timestamp) -> Result<(), StoreError> {
        guarded!(
            self,
            "codes.forget_referrer",
            store_fault(),
            self.stores.codes.forget_referrer(code, opaque, at).await
        )
    }
    async fn in_status(
        &self,
        s: rft_core::CodeStatus,
        w: &rft_core::ports::ListWindow,
    ) -> Result<Vec<CodeRecord>, StoreError> {
        guarded!(self, "codes.in_status", store_fault(), self.stores.codes.in_status(s, w).await)
    }
}

#[async_trait]
impl ReferralStore for Faulty {
    async fn open(&self, r: &Referral, claims: &[IdentityKey], audit: &AuditEvent) -> Result<Opened, StoreError> {
        guarded!(self, "referrals.open", store_fault(), self.stores.referrals.open(r, claims, audit).await)
    }
    async fn get(&self, id: &ReferralId) -> Result<Option<Referral>, StoreError> {
        guarded!(self, "referrals.get", store_fault(), self.stores.referrals.get(id).await)
    }
    async fn find(&self, key: &IdentityKey) -> Result<Option<Referral>, StoreError> {
        guarded!(self, "referrals.find", store_fault(), self.stores.referrals.find(key).await)
    }
    async fn save(&self, r: &Referral, v: u64, audit: Option<&AuditEvent>) -> Result<(), WriteError> {
        guarded!(
            self,
            "referrals.save",
            WriteError::Store(store_fault()),
            self.stores.referrals.save(r, v, audit).await
        )
    }
    async fn tombstone_claims(&self, c: &CustomerId) -> Result<usize, StoreError> {
        guarded!(self, "referrals.tombstone_claims", store_fault(), self.stores.referrals.tombstone_claims(c).await)
    }
    async fn referrals_of(&self, c: &CustomerId) -> Result<Vec<Referral>, StoreError> {
        guarded!(self, "referrals.referrals_of", store_fault(), self.stores.referrals.referrals_of(c).await)
    }
    async fn queue(&self, q: ReviewQueue, until: Timestamp, limit: usize) -> Result<Vec<Referral>, StoreError> {
        guarded!(self, "referrals.queue", store_fault(), self.stores.referrals.queue(q, until, limit).await)
    }
    async fn in_state(
        &self,
        s: rft_core::ReferralState,
        w: &rft_core::ports::ListWindow,
    ) -> Result<Vec<Referral>, StoreError> {
        guarded!(self, "referrals.in_state", store_fault(), self.stores.referrals.in_state(s, w).await)
    }
}

#[async_trait]
impl LedgerStore for Faulty {
    async fn commit_reward(&self, commit: &RewardCommit) -> Result<(), CommitError> {
        guarded!(
            self,
            "ledger.commit_reward",
            CommitError::Store(store_fault()),
            self.stores.ledger.commit_reward(commit).await
        )
    }
    async fn row(&self, id: &ReferralId, side: Side) -> Result<Option<LedgerRow>, StoreError> {
        guarded!(self, "ledger.row", store_fault(), self.stores.ledger.row(id, side).await)
    }
    async fn rows(&self, id: &ReferralId) -> Result<Vec<LedgerRow>, StoreError> {
        guarded!(self, "ledger.rows", store_fault(), self.stores.ledger.rows(id).await)
    }
    async fn save_row(&self, row: &LedgerRow, v: u64) -> Result<(), WriteError> {
        guarded!(self, save_row_step(row), WriteError::Store(store_fault()), self.stores.ledger.save_row(row, v).await)
    }
    async fn rows_of(&self, c: &CustomerId) -> Result<Vec<LedgerRow>, StoreError> {
        guarded!(self, "ledger.rows_of", store_fault(), self.stores.ledger.rows_of(c).await)
    }
    async fn tally(&self, c: &CustomerId) -> Result<u32, StoreError> {
        guarded!(self, "ledger.tally", store_fault(), self.stores.ledger.tally(c).await)
    }
    async fn page(&self, after: Option<&LedgerCursor>, limit: usize) -> Result<LedgerPage, StoreError> {
        guarded!(self, "ledger.page", store_fault(), self.stores.ledger.page(after, limit).await)
    }
}

#[async_trait]
impl AuditStore for Faulty {
    async fn append(&self, e: &AuditEvent) -> Result<(), AppendError> {
        guarded!(self, "audit.append", AppendError::Store(store_fault()), self.stores.audit.append(e).await)
    }
    async fn redact(&self, e: &AuditEvent) -> Result<(), StoreError> {
        guarded!(self, "audit.redact", store_fault(), self.stores.audit.redact(e).await)
    }
    async fn events_for(&self, s: &str) -> Result<Vec<AuditEvent>, StoreError> {
        guarded!(self, "audit.events_for", store_fault(), self.stores.audit.events_for(s).await)
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
        guarded!(
            self,
            "counters.increment",
            CountError::Store(store_fault()),
            self.stores.counters.increment(key, limit, exp, now).await
        )
    }
    async fn count(&self, key: &str, now: Timestamp) -> Result<u32, StoreError> {
        guarded!(self, "counters.count", store_fault(), self.stores.counters.count(key, now).await)
    }
    async fn counts(&self, keys: &[String], now: Timestamp) -> Result<Vec<u32>, StoreError> {
        guarded!(self, "counters.counts", store_fault(), self.stores.counters.counts(keys, now).await)
    }
    async fn add(&self, steps: &[rft_core::ledger::CounterStep]) -> Result<(), StoreError> {
        guarded!(self, "counters.add", store_fault(), self.stores.counters.add(steps).await)
    }
    async fn rows(&self, series: &str, from: i64, to: i64) -> Result<Vec<rft_core::rollup::RollupRow>, StoreError> {
        guarded!(self, "counters.rows", store_fault(), self.stores.counters.rows(series, from, to).await)
    }
}

#[async_trait]
impl OrderStore for Faulty {
    async fn order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        guarded!(self, "orders.order", store_fault(), self.stores.orders.order(id).await)
    }
    async fn link_order(&self, id: &str, r: &ReferralId) -> Result<OrderRecord, StoreError> {
        guarded!(self, "orders.link_order", store_fault(), self.stores.orders.link_order(id, r).await)
    }
    async fn first_order(&self, c: &CustomerId, id: &str) -> Result<String, StoreError> {
        guarded!(self, "orders.first_order", store_fault(), self.stores.orders.first_order(c, id).await)
    }
    async fn forget_first_order(&self, c: &CustomerId) -> Result<(), StoreError> {
        guarded!(self, "orders.forget_first_order", store_fault(), self.stores.orders.forget_first_order(c).await)
    }
    async fn mark_imported(&self, id: &str, at: Timestamp) -> Result<(), StoreError> {
        guarded!(self, "orders.mark_imported", store_fault(), self.stores.orders.mark_imported(id, at).await)
    }
    async fn refund_order(&self, id: &str, at: Timestamp) -> Result<OrderRecord, StoreError> {
        guarded!(self, "orders.refund_order", store_fault(), self.stores.orders.refund_order(id, at).await)
    }
}

#[async_trait]
impl Screener for Faulty {
    async fn screen(&self, case: &ScreenCase) -> Result<Verdict, ScreenError> {
        guarded!(self, "screener.screen", ScreenError(Box::new(Injected)), self.screener.screen(case).await)
    }
    async fn notify_hold(&self, r: &Referral) -> Result<(), ScreenError> {
        guarded!(self, "screener.notify_hold", ScreenError(Box::new(Injected)), self.screener.notify_hold(r).await)
    }
}

#[async_trait]
impl RewardClient for Faulty {
    async fn fulfil(&self, request: &FulfilmentRequest) -> Result<FulfilOutcome, FulfilError> {
        // Before: the call was never sent (a plain failure). After: it was made and its answer
        // lost, which is what a timeout looks like to the caller.
        let strike = self.faults.this_one("store.fulfil");
        if strike && self.faults.strike == Strike::Before {
            return Err(FulfilError { outcome_unknown: false, ..FulfilError::no_answer(Injected) });
        }
        let result = self.rewards.fulfil(request).await;
        if strike {
            return Err(FulfilError::no_answer(Injected));
        }
        result
    }

    fn idempotent(&self) -> bool {
        self.rewards.idempotent()
    }
}

#[async_trait]
impl Messenger for Faulty {
    async fn send(&self, m: &OutboundMessage) -> Result<(), MessageError> {
        guarded!(
            self,
            format!("messenger.send({:?})", m.kind),
            MessageError { kind: m.kind, source: Box::new(Injected) },
            self.messenger.send(m).await
        )
    }
}

/// Sending the next job of the chain can fail like any other call; receiving and acknowledging
/// are the test's own (it plays the queue's consumer), so they pass straight through.
#[async_trait]
impl JobQueue for Faulty {
    async fn send(&self, job: &Job) -> Result<(), QueueError> {
        guarded!(
            self,
            format!("queue.send({})", job.kind()),
            QueueError::new("send", Injected),
            self.queue.send(job).await
        )
    }
    async fn send_after(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        guarded!(
            self,
            format!("queue.send_after({})", job.kind()),
            QueueError::new("send", Injected),
            self.queue.send_after(job, delay).await
        )
    }
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, QueueError> {
        self.queue.receive(max, visibility).await
    }
    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        self.queue.ack(receipt).await
    }
    async fn dead_letters(&self, max: usize) -> Result<Vec<Job>, QueueError> {
        self.queue.dead_letters(max).await
    }
}

/// A rewarder over the harness's real ports, with some of them replaced by `with`.
pub fn rewarder_with(
    h: &crate::harness::Harness,
    with: impl FnOnce(rft_core::service::RewarderPorts) -> rft_core::service::RewarderPorts,
) -> rft_core::service::Rewarder {
    let ports = &h.system.ports;
    let real = rft_core::service::RewarderPorts {
        codes: ports.stores.codes.clone(),
        referrals: ports.stores.referrals.clone(),
        ledger: ports.stores.ledger.clone(),
        audit: ports.stores.audit.clone(),
        counters: ports.stores.counters.clone(),
        orders: ports.stores.orders.clone(),
        screener: h.system.screen.clone(),
        store: ports.rewards.clone(),
        messenger: ports.messenger.clone(),
        writer: ports.writer.clone(),
        links: h.system.edge.links.clone(),
        queue: ports.reward_jobs.clone(),
        clock: ports.clock.clone(),
    };
    rft_core::service::Rewarder::new(with(real), h.system.edge.settings.clone(), crate::harness::quick_policy())
}

/// A rewarder whose every port call (the queue's sends included) is counted and call N fails.
pub fn faulty_rewarder(h: &crate::harness::Harness, faults: Arc<Faults>) -> rft_core::service::Rewarder {
    let ports = &h.system.ports;
    let faulty = Arc::new(Faulty {
        stores: ports.stores.clone(),
        screener: h.system.screen.clone(),
        rewards: ports.rewards.clone(),
        messenger: ports.messenger.clone(),
        queue: ports.reward_jobs.clone(),
        faults,
    });
    rewarder_with(h, |real| rft_core::service::RewarderPorts {
        codes: faulty.clone(),
        referrals: faulty.clone(),
        ledger: faulty.clone(),
        audit: faulty.clone(),
        counters: faulty.clone(),
        orders: faulty.clone(),
        screener: faulty.clone(),
        store: faulty.clone(),
        messenger: faulty.clone(),
        queue: faulty,
        ..real
    })
}

/// Runs the reward queue through `rewarder` until its fault fires or nothing is left, moving
/// the clock to delayed jobs as `Harness::settle` does.
pub async fn run_until_the_fault(h: &crate::harness::Harness, rewarder: &rft_core::service::Rewarder, faults: &Faults) {
    let (_, rewards) = h.queues.clone().expect("the harness's own queues");
    for _ in 0..100 {
        rft_local::system::drain(&rewards, &h.system.dead_ends, |job| rewarder.handle(job)).await;
        if faults.fired() {
            return;
        }
        match rewards.next_visible_at().await.expect("reads") {
            Some(at) => h.clock.set(at.max(h.clock_now())),
            None => return,
        }
    }
}
