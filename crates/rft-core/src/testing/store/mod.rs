//! Every store port in memory, behind one lock: each method reads, checks its condition and
//! writes while holding it, which is what a conditional write or a transaction promises. Tests
//! can make the next call of an operation fail, or let "another writer" change the state just
//! before it, to reach the paths a race or an outage takes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use crate::audit::AuditEvent;
use crate::click::Click;
use crate::code::{Code, CodeRecord};
use crate::ids::{CustomerId, ReferralId};
use crate::ledger::{LedgerRow, Side};
use crate::ports::{StoreError, StoredResponse};
use crate::referral::Referral;
use crate::time::Timestamp;

mod audit;
mod clicks;
mod codes;
mod counters;
mod ledger;
mod orders;
mod personal_keys;
mod referrals;
mod unsubscribes;
mod webhooks;

/// Everything stored.
#[derive(Default, Clone)]
pub(crate) struct State {
    pub codes: BTreeMap<Code, CodeRecord>,
    /// The "one active code per customer" guard.
    pub active: HashMap<CustomerId, Code>,
    pub clicks: Vec<Click>,
    pub referrals: HashMap<ReferralId, Referral>,
    /// Identity claims by storage key: the referral they name and whose sign-up made them.
    pub claims: HashMap<String, Claim>,
    pub ledger: BTreeMap<(ReferralId, Side), LedgerRow>,
    pub tallies: HashMap<CustomerId, u32>,
    pub audit: Vec<AuditEvent>,
    /// Count and expiry.
    pub counters: HashMap<String, (u32, Timestamp)>,
    /// Rollup rows by series and slot.
    pub rollups: BTreeMap<(String, i64), BTreeMap<String, i64>>,
    pub webhooks: HashMap<String, WebhookRecord>,
    /// The store's orders by id.
    pub orders: HashMap<String, crate::ports::OrderRecord>,
    /// Each customer's first paid order.
    pub first_orders: HashMap<CustomerId, String>,
    /// Unsubscribed addresses' hashes, and when.
    pub unsubscribes: HashMap<String, Timestamp>,
    /// Owners whose sealing keys erasure destroyed, in order.
    pub destroyed_keys: Vec<String>,
    /// The opaque ids of erased customers.
    pub erasures: std::collections::HashSet<CustomerId>,
    /// See [`MemoryStore::someone_holds_the_next_code_claimed`].
    pub next_claim_collides: bool,
}

impl State {
    /// A copy of everything, as a backup would take it.
    pub fn snapshot(&self) -> State {
        self.clone()
    }

    /// Everything replaced by `copy`, except what a restore of the records does not reach:
    /// the record of erasures and the keys.
    pub fn restore(&mut self, copy: State) {
        let (erasures, destroyed) = (std::mem::take(&mut self.erasures), std::mem::take(&mut self.destroyed_keys));
        *self = State { erasures, destroyed_keys: destroyed, ..copy };
    }
}

/// One identity claim.
#[derive(Clone, Debug)]
pub(crate) struct Claim {
    pub referral: ReferralId,
    pub claimant: CustomerId,
}

/// A processed (or in-flight) webhook id.
#[derive(Clone, Debug)]
pub(crate) struct WebhookRecord {
    pub response: Option<StoredResponse>,
    pub lease_until: Timestamp,
    pub expires_at: Timestamp,
}

/// What happens to the next call of an operation.
enum Fault {
    /// It fails as an unreachable backend would.
    Unavailable,
    /// Another writer changes the state first.
    Before(Box<dyn FnOnce(&mut State) + Send>),
}

/// The in-memory store.
#[derive(Default)]
pub(crate) struct MemoryStore {
    state: Mutex<State>,
    faults: Mutex<HashMap<&'static str, VecDeque<Fault>>>,
    calls: Mutex<Vec<&'static str>>,
}

impl MemoryStore {
    /// The next call of `op` (a port method's name) fails with `StoreError::Unavailable`.
    pub fn fail_next(&self, op: &'static str) {
        self.faults.lock().unwrap().entry(op).or_default().push_back(Fault::Unavailable);
    }

    /// Just before the next call of `op`, `change` runs on the stored state (a concurrent
    /// writer that got there first).
    pub fn before_next(&self, op: &'static str, change: impl FnOnce(&mut State) + Send + 'static) {
        self.faults.lock().unwrap().entry(op).or_default().push_back(Fault::Before(Box::new(change)));
    }

    /// How many times `op` was called.
    pub fn calls(&self, op: &str) -> usize {
        self.calls.lock().unwrap().iter().filter(|c| **c == op).count()
    }

    /// How many calls of any operation so far.
    pub fn total_calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    /// The stored state, to seed it or look at it.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Starts one call of `op`: records it, plays its scripted fault, and locks the state.
    fn enter(&self, op: &'static str) -> Result<MutexGuard<'_, State>, StoreError> {
        self.calls.lock().unwrap().push(op);
        let fault = self.faults.lock().unwrap().get_mut(op).and_then(VecDeque::pop_front);
        let mut state = self.state();
        match fault {
            None => {}
            Some(Fault::Before(change)) => change(&mut state),
            Some(Fault::Unavailable) => return Err(StoreError::unavailable(op, "the test took the store away")),
        }
        Ok(state)
    }
}
