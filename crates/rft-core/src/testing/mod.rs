//! In-memory fakes of the ports, and a [`World`] of them to run a service on, for the unit tests
//! beside each service. Each fake keeps its port's documented contract (conditional writes,
//! version checks, the payout transaction's all-or-nothing, expiry by `now`, queue delays) and
//! nothing more, so a rule proven here holds on any store the conformance suite passes. They
//! live here rather than in `rft-local` because `rft-core` cannot depend on an adapter.

mod messenger;
mod queue;
mod reward_client;
mod screener;
mod store;
mod world;
mod writer;

pub(crate) use messenger::RecordingMessenger;
pub(crate) use queue::MemoryQueue;
pub(crate) use reward_client::ScriptedStore;
pub(crate) use screener::ScriptedScreener;
pub(crate) use store::MemoryStore;
pub(crate) use world::{START, World, customer};
pub(crate) use writer::ScriptedWriter;
