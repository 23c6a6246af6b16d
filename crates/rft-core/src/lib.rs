//! The referral tracker's domain: what a code, a click, a referral and a payout are, the rules
//! that move them, and the ports through which adapters store and send them. No AWS and no I/O
//! here, so every rule is testable in memory.

#![warn(missing_docs)]

pub mod audit;
pub mod click;
pub mod code;
pub mod connectors;
pub mod email;
pub mod identity;
pub mod ids;
pub mod jobs;
pub mod ledger;
pub mod links;
pub mod messages;
pub mod money;
pub mod personal;
pub mod ports;
pub mod referral;
pub mod rollup;
pub mod screen;
pub mod secrets;
pub mod service;
pub mod settings;
pub mod signature;
pub mod team_mail;
#[cfg(test)]
mod testing;
pub mod time;

pub use audit::{AuditEvent, AuditKind};
pub use click::Click;
pub use code::{Code, CodeRecord, CodeStatus, ReferrerProfile};
pub use email::Email;
pub use identity::{HashedIdentity, IdentityFacts, IdentityHash, IdentityHasher, IdentityKey};
pub use ids::{CustomerId, ReferralId, Token};
pub use jobs::{Delivery, Job};
pub use ledger::{Fulfilment, LedgerRow, RewardCommit, Side};
pub use money::{Currency, Money, Reward, RewardKind, Terms, Tier};
pub use referral::{Referral, ReferralState, ReviewQueue, StateEvent};
pub use settings::Settings;
pub use time::{Clock, Timestamp};
