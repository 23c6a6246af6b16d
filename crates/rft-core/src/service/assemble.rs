//! Every service built in one place. Each constructor's argument list lives here once, so the
//! AWS functions (`rft-aws`'s wiring, one service per function) and the single-process system
//! (`rft-local`, every service) cannot drift apart when a service gains a port.
//!
//! [`Services`] holds what every service shares (settings, clock, stores); each method builds
//! one service from it plus the ports only that service uses. A Lambda function calls the one
//! method it needs, so it builds nothing else, and any client it passes in stays as lazy as it
//! was built.

use std::sync::Arc;

use crate::identity::IdentityHasher;
use crate::links::LinkSigner;
use crate::ports::{JobQueue, Messenger, RewardClient, Screener, Stores, TextWriter};
use crate::service::erase::Eraser;
use crate::service::{
    Attributor, AttributorPorts, DeadEnds, FulfilPolicy, MintService, Redirector, Rewarder, RewarderPorts,
    ScreenService, Sweeper,
};
use crate::settings::Settings;
use crate::time::Clock;

/// What every service is built over.
#[derive(Clone)]
pub struct Services {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// The clock every service reads (a manual one in tests).
    pub clock: Arc<dyn Clock>,
    /// Every store over one backend.
    pub stores: Stores,
}

/// The rewarder's ports beyond the stores.
pub struct RewarderClients {
    /// The screen (a Lambda invoke in AWS, the service itself locally).
    pub screener: Arc<dyn Screener>,
    /// The store's reward endpoint.
    pub store: Arc<dyn RewardClient>,
    /// Email and SMS, for thank-yous and the team's emails.
    pub messenger: Arc<dyn Messenger>,
    /// The model, for thank-yous.
    pub writer: Arc<dyn TextWriter>,
    /// Signs the ops links in team emails.
    pub links: LinkSigner,
    /// The reward queue itself: each step queues the next.
    pub queue: Arc<dyn JobQueue>,
}

impl Services {
    /// The shared parts.
    pub fn new(settings: Arc<Settings>, clock: Arc<dyn Clock>, stores: Stores) -> Self {
        Services { settings, clock, stores }
    }

    /// `rft-minter`: codes, invites, the model's invite text.
    pub fn minter(&self, writer: Arc<dyn TextWriter>, messenger: Arc<dyn Messenger>) -> MintService {
        let s = &self.stores;
        MintService::new(
            s.codes.clone(),
            s.clicks.clone(),
            s.audit.clone(),
            s.counters.clone(),
            writer,
            messenger,
            self.settings.clone(),
            self.clock.clone(),
        )
    }

    /// `rft-screen`: velocity reads, and hold emails with signed ops links.
    pub fn screen(&self, messenger: Arc<dyn Messenger>, links: LinkSigner) -> ScreenService {
        let s = &self.stores;
        ScreenService::new(s.counters.clone(), messenger, self.settings.clone(), links, self.clock.clone())
    }

    /// `rft-attributor`: attribution, screening through `screener`; a connected store's orders
    /// go on to the rewarder on `reward_jobs`.
    pub fn attributor(&self, screener: Arc<dyn Screener>, reward_jobs: Arc<dyn JobQueue>) -> Attributor {
        Attributor::new(
            &self.stores,
            AttributorPorts { screener, reward_jobs },
            self.clock.clone(),
            self.settings.attribution.fingerprint_fallback,
        )
    }

    /// `rft-rewarder`: the reward chain.
    pub fn rewarder(&self, clients: RewarderClients, policy: FulfilPolicy) -> Rewarder {
        let s = &self.stores;
        let RewarderClients { screener, store, messenger, writer, links, queue } = clients;
        let ports = RewarderPorts {
            codes: s.codes.clone(),
            referrals: s.referrals.clone(),
            ledger: s.ledger.clone(),
            audit: s.audit.clone(),
            counters: s.counters.clone(),
            orders: s.orders.clone(),
            screener,
            store,
            messenger,
            writer,
            links,
            queue,
            clock: self.clock.clone(),
        };
        Rewarder::new(ports, self.settings.clone(), policy)
    }

    /// `rft-sweep`: expiry of pending referrals, and conversions past their confirmation
    /// period handed to the rewarder on `reward_jobs`.
    pub fn sweeper(&self, reward_jobs: Arc<dyn JobQueue>) -> Sweeper {
        Sweeper::new(self.stores.referrals.clone(), self.stores.counters.clone(), reward_jobs, self.clock.clone())
    }

    /// Erasure (the rewarder's in AWS: it alone may rewrite the ledger); `hasher` derives the
    /// opaque id.
    pub fn eraser(&self, hasher: IdentityHasher) -> Eraser {
        Eraser::new(self.stores.clone(), hasher, self.clock.clone())
    }

    /// The redirect (`rft-edge`'s hot path).
    pub fn redirector(&self, hasher: IdentityHasher) -> Redirector {
        let s = &self.stores;
        Redirector::new(s.codes.clone(), s.clicks.clone(), self.settings.clone(), hasher, self.clock.clone())
    }

    /// Where a queue consumer sets aside jobs that can never succeed.
    pub fn dead_ends(&self, messenger: Arc<dyn Messenger>) -> DeadEnds {
        DeadEnds::new(self.stores.audit.clone(), messenger, self.settings.clone(), self.clock.clone())
    }
}
