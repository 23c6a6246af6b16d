//! The use cases, over the ports: each is a struct holding exactly the ports it needs, so the
//! Lambda that runs it needs exactly the permissions those ports imply.

pub mod assemble;
pub mod attribute;
mod checkout;
#[cfg(test)]
mod checkout_tests;
pub mod console;
pub mod credit;
#[cfg(test)]
mod credit_tests;
pub mod dead_end;
pub mod enrol;
pub mod erase;
pub mod flags;
pub mod friend_discount;
pub mod import;
#[cfg(test)]
mod import_tests;
pub mod mint;
pub mod redirect;
pub mod reward;
pub mod screening;
pub mod stats;
pub mod sweep;
pub mod touches;
pub mod unsubscribe;
pub mod velocity;

pub use assemble::{AttributorClients, RewarderClients, Services};
pub use attribute::{Attributor, AttributorPorts};
pub use dead_end::DeadEnds;
pub use friend_discount::FriendDiscount;
pub use mint::MintService;
pub use redirect::Redirector;
pub use reward::{FulfilPolicy, Rewarder, RewarderPorts};
pub use screening::ScreenService;
pub use sweep::Sweeper;
