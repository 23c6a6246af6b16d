//! The referral tracker on one machine: every port on an embedded, persistent store with the
//! same semantics as the DynamoDB adapters (one conformance suite binds them).

pub mod queue;
pub mod store;

pub use queue::LocalQueue;
pub use store::LocalStore;
