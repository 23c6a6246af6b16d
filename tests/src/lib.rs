//! Test harness shared by the cross-crate tests: fresh stores on each backend (redb in memory,
//! DynamoDB Local and moto's SQS on the emulators `make test` starts, or the emulators
//! `AWS_ENDPOINT_URL_<SERVICE>` names), sample records, what the emulators sent, and the storage
//! conformance suite written once for every store implementation.

pub mod aws;
pub mod backends;
pub mod conformance;
pub mod connected;
pub mod console;
pub mod enrolment;
pub mod erasure;
pub mod faults;
pub mod fixtures;
pub mod harness;
pub mod imports;
pub mod inbound;
pub mod lifecycle;
/// The Stripe and Shopify stand-ins, which live in rft-local so its demo can serve them too.
pub use rft_local::standins as provider_standins;
pub mod rewards;
pub mod sent;
pub mod signing_interop;
pub mod skip;
pub mod streams;
pub mod switch;
pub mod tiers;
