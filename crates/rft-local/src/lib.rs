//! The referral tracker on one machine: every port on an embedded, persistent store with the
//! same semantics as the DynamoDB adapters (one conformance suite binds them), and
//! `rft-local serve`, which runs the whole system in one process.

mod clicklog;
pub mod demo;
pub mod demo_providers;
pub mod import;
pub mod outbox;
pub mod provider_events;
pub mod queue;
pub mod secrets;
pub mod serve;
pub mod standins;
pub mod store;
pub mod system;

pub use queue::LocalQueue;
pub use store::LocalStore;
