//! The cross-crate tests as one binary: each file is one area, a module here. One binary links
//! the AWS SDK, axum and the adapters once, where a binary per file linked them once per file.
//! Test names keep their file as a prefix (`conformance::local::…`), so nextest filters such as
//! `-E 'test(local_fifty_referrals_twenty_deliveries_each)'` match as before.

mod aws_calls;
mod aws_edge_lambda;
mod aws_functions;
mod aws_permissions;
mod conformance;
mod erasure;
mod exactly_once;
mod faults;
mod lifecycle;
mod pages;
mod providers;
mod rewards;
mod router;
mod security;
mod signature_interop;
mod tiers;
