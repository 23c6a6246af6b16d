//! The rewards ledger: what is owed and paid, one row per referral and side. It is the truth
//! for "has this been paid?"; the store's own view follows it.

use serde::{Deserialize, Serialize};

use crate::audit::AuditEvent;
use crate::ids::{CustomerId, ReferralId};
use crate::money::Reward;
use crate::referral::Referral;
use crate::time::Timestamp;

/// Which side of a referral a ledger row pays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The customer who shared the link.
    Referrer,
    /// The friend who converted.
    Friend,
}

impl Side {
    /// The wire and storage spelling (the ledger's sort key).
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Referrer => "referrer",
            Side::Friend => "friend",
        }
    }

    /// Parses the storage spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "referrer" => Some(Side::Referrer),
            "friend" => Some(Side::Friend),
            _ => None,
        }
    }
}

/// Where the store's side of a ledger row stands. The row is the only checkpoint of the reward
/// path: a `fulfil` job reads it, calls the store once and writes the outcome back under the
/// row's version (see docs/architecture.md, "Conversion").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Fulfilment {
    /// Owed. A `fulfil` job for it is queued (or being retried after `next_attempt_at`).
    Owing {
        /// Store calls made so far.
        attempts: u32,
        /// When the queued retry becomes due.
        next_attempt_at: Timestamp,
        /// What the last attempt got back.
        last_error: Option<String>,
    },
    /// The store acknowledged it.
    Fulfilled {
        /// When the store acknowledged.
        at: Timestamp,
        /// Store calls it took.
        attempts: u32,
        /// The provider's reference for it (a balance transaction or discount id), if it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// For a code reward, the code the customer types: kept here so the thank-you (and a
        /// resend of it) can carry it, and so the export shows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
    /// The retry budget ran out, or the store refused it for good: still owed, waiting for a
    /// person (the ops page retries it).
    Parked {
        /// Store calls made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// Never to be sent: the customer was erased before it was fulfilled (the amount stays
    /// in the ledger as a record).
    Forfeited {
        /// When erasure forfeited it.
        at: Timestamp,
        /// Why, in one sentence.
        reason: String,
    },
}

impl Fulfilment {
    /// The storage spelling of the state: `owing`, `fulfilled`, `parked` or `forfeited`.
    pub fn state(&self) -> &'static str {
        match self {
            Fulfilment::Owing { .. } => "owing",
            Fulfilment::Fulfilled { .. } => "fulfilled",
            Fulfilment::Parked { .. } => "parked",
            Fulfilment::Forfeited { .. } => "forfeited",
        }
    }

    /// The provider's reference, once fulfilled with one.
    pub fn reference(&self) -> Option<&str> {
        match self {
            Fulfilment::Fulfilled { reference, .. } => reference.as_deref(),
            _ => None,
        }
    }

    /// The code sent to the customer, once fulfilled as a code.
    pub fn code(&self) -> Option<&str> {
        match self {
            Fulfilment::Fulfilled { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// Who is making a reward call that must not be made twice, since when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallClaim {
    /// When the call was claimed.
    pub at: Timestamp,
    /// Which delivery claimed it (random): two deliveries that claim in the same millisecond
    /// still write different rows, so only one can take a conflicting write for its own.
    pub id: String,
}

/// One side of one referral's payout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRow {
    /// The referral paid.
    pub referral_id: ReferralId,
    /// Referrer or friend.
    pub side: Side,
    /// Who receives it.
    pub customer_id: CustomerId,
    /// Exactly what is owed (from the pinned terms and tier).
    pub reward: Reward,
    /// For the referrer: which rewarded referral of theirs this was (tiers).
    pub nth: Option<u32>,
    /// When the payout that owes it committed.
    pub created_at: Timestamp,
    /// The store's side.
    pub fulfilment: Fulfilment,
    /// When this side's thank-you was claimed for sending. Set (conditionally, on the row's
    /// version) just before the note goes, so duplicate `thank` jobs send it once.
    pub note_sent_at: Option<Timestamp>,
    /// Which attempt claimed the note: a claim whose answer was lost is recognised as ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_claim: Option<String>,
    /// A call that is not idempotent (Shopify store credit), claimed on this row just before it
    /// was made and cleared with its outcome. While it is set no other delivery calls, and one
    /// that finds it left behind by a delivery that died parks the row, because that call may
    /// have landed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_claim: Option<CallClaim>,
    /// Optimistic-concurrency counter.
    pub version: u64,
}

impl LedgerRow {
    /// A fresh owed row.
    pub fn owed(
        referral_id: ReferralId,
        side: Side,
        customer_id: CustomerId,
        reward: Reward,
        nth: Option<u32>,
        now: Timestamp,
    ) -> Self {
        LedgerRow {
            referral_id,
            side,
            customer_id,
            reward,
            nth,
            created_at: now,
            fulfilment: Fulfilment::Owing { attempts: 0, next_attempt_at: now, last_error: None },
            note_sent_at: None,
            note_claim: None,
            call_claim: None,
            version: 1,
        }
    }

    /// The next revision of this row, to be saved on the condition that the stored one is still
    /// `self.version`: the one place a row's version moves.
    pub fn successor(&self) -> LedgerRow {
        LedgerRow { version: self.version + 1, ..self.clone() }
    }

    /// Whether the store still has to acknowledge this row (owing or parked).
    pub fn is_owing(&self) -> bool {
        matches!(self.fulfilment, Fulfilment::Owing { .. } | Fulfilment::Parked { .. })
    }

    /// Whether the store has acknowledged this row.
    pub fn is_fulfilled(&self) -> bool {
        matches!(self.fulfilment, Fulfilment::Fulfilled { .. })
    }

    /// The idempotency key the store sees: `<referral_id>:<side>`.
    pub fn idempotency_key(&self) -> String {
        format!("{}:{}", self.referral_id, self.side.as_str())
    }
}

/// The referrer's count of rewarded referrals, moved in the same transaction as the payout so
/// two concurrent payouts can never both be "the 3rd" (tiers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TallyStep {
    /// The referrer whose rewarded referrals are counted.
    pub referrer_id: CustomerId,
    /// The count read before the payout (0 if none yet).
    pub expected: u32,
}

/// Everything a payout writes, committed as one transaction: the referral's flip to
/// `rewarded`, both ledger rows, the referrer's tally step and the audit row (docs/invariants.md, invariant 4).
#[derive(Clone, Debug)]
pub struct RewardCommit {
    /// The referral as it will be stored (state `rewarded`, version already bumped).
    pub referral: Referral,
    /// The version the payer read; the commit fails if anything moved since.
    pub expected_version: u64,
    /// The referrer's row and the friend's row.
    pub rows: [LedgerRow; 2],
    /// The tally step.
    pub tally: TallyStep,
    /// The `paid` audit event.
    pub audit: AuditEvent,
    /// Counters that count payouts (programme totals), each moved by one in the same
    /// transaction, so they agree with the ledger exactly.
    pub counters: Vec<CounterStep>,
    /// The converting order, linked to the referral in the same transaction on the condition
    /// that it was not refunded: a refund that overtook its conversion stops the payout.
    pub order_id: Option<String>,
}

/// One counter row moved inside a payout's transaction (or by a rollup's follower): a plain
/// counter's `count` by one ([`CounterStep::one`]), or several fields of one rollup row, each
/// by its amount (built by [`crate::rollup`]). Stores write one step as one update of one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterStep {
    /// The counter's key, or the rollup series the row belongs to.
    pub key: String,
    /// When a counter started by this step expires ([`Timestamp::NEVER`] for totals and rollups).
    pub expires_at: Timestamp,
    /// The row within the series: 0 for a plain counter, a day or a code's number for a rollup.
    pub slot: i64,
    /// The fields moved and by how much (a plain counter: `count` by one).
    pub adds: Vec<(String, i64)>,
}

/// The field of a plain counter.
pub const COUNT_FIELD: &str = "count";

impl CounterStep {
    /// A plain counter moved by one (a quota, a velocity bucket, a programme total).
    pub fn one(key: impl Into<String>, expires_at: Timestamp) -> Self {
        CounterStep { key: key.into(), expires_at, slot: 0, adds: vec![(COUNT_FIELD.to_owned(), 1)] }
    }

    /// Whether this is a plain counter's step (`count` by one in slot 0), which stores keep
    /// with the expiring counters rather than with the rollups.
    pub fn is_plain_count(&self) -> bool {
        self.slot == 0 && matches!(&self.adds[..], [(field, 1)] if field == COUNT_FIELD)
    }
}
