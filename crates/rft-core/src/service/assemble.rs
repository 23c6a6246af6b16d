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
use crate::ports::{JobQueue, Messenger, Minter, RewardClient, Screener, Stores, TextWriter};
use crate::service::enrol::{EnrolPorts, Enroller};
use crate::service::erase::Eraser;
use crate::service::unsubscribe::HonourUnsubscribes;
use crate::service::{
    Attributor, AttributorPorts, DeadEnds, FriendDiscount, FulfilPolicy, MintService, Redirector, Rewarder,
    RewarderPorts, ScreenService, Sweeper,
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
    /// The store's reward endpoint, or the connected store's provider.
    pub store: Arc<dyn RewardClient>,
    /// The friend's discounts at a connected store's provider (`Job::Discount`).
    pub discounts: FriendDiscount,
    /// Email and SMS, for thank-yous and the team's emails.
    pub messenger: Arc<dyn Messenger>,
    /// The model, for thank-yous.
    pub writer: Arc<dyn TextWriter>,
    /// Signs the ops links in team emails.
    pub links: LinkSigner,
    /// The reward queue itself: each step queues the next.
    pub queue: Arc<dyn JobQueue>,
    /// Hashes thank-yous' addresses to honour unsubscribes.
    pub hasher: IdentityHasher,
}

/// The attributor's ports beyond the stores.
pub struct AttributorClients {
    /// The screen (a Lambda invoke in AWS, the service itself locally).
    pub screener: Arc<dyn Screener>,
    /// The rewarder's queue: a connected store's orders go on to it.
    pub reward_jobs: Arc<dyn JobQueue>,
    /// The sign-up queue (its own): a first order's enrolment.
    pub signup_jobs: Arc<dyn JobQueue>,
    /// Mints an enrolled customer's link (`rft-minter` by invoke in AWS).
    pub minter: Arc<dyn Minter>,
    /// Email, for enrolments.
    pub messenger: Arc<dyn Messenger>,
    /// Hashes addresses for unsubscribe links and checks.
    pub hasher: IdentityHasher,
    /// Signs unsubscribe links.
    pub links: LinkSigner,
}

impl Services {
    /// The shared parts.
    pub fn new(settings: Arc<Settings>, clock: Arc<dyn Clock>, stores: Stores) -> Self {
        Services { settings, clock, stores }
    }

    /// `messenger` as services send customer email through it: unsubscribed addresses get no
    /// programme email, the team's mail passes untouched.
    pub fn customer_mail(&self, messenger: Arc<dyn Messenger>, hasher: IdentityHasher) -> Arc<dyn Messenger> {
        let s = &self.stores;
        Arc::new(HonourUnsubscribes::new(
            messenger,
            s.unsubscribes.clone(),
            s.audit.clone(),
            hasher,
            self.clock.clone(),
        ))
    }

    /// `rft-minter`: codes, invites (not to unsubscribed addresses), the model's invite text, and
    /// each code's friend discount at a connected store's provider ([`FriendDiscount::none`] for
    /// a store on webhooks).
    pub fn minter(
        &self,
        writer: Arc<dyn TextWriter>,
        messenger: Arc<dyn Messenger>,
        discounts: FriendDiscount,
        hasher: IdentityHasher,
    ) -> MintService {
        let messenger = self.customer_mail(messenger, hasher);
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
        .with_discounts(discounts)
    }

    /// `rft-screen`: velocity reads, and hold emails with signed ops links.
    pub fn screen(&self, messenger: Arc<dyn Messenger>, links: LinkSigner) -> ScreenService {
        let s = &self.stores;
        ScreenService::new(s.counters.clone(), messenger, self.settings.clone(), links, self.clock.clone())
    }

    /// `rft-attributor`: attribution, screening through `screener`; a connected store's orders
    /// go on to the rewarder on `reward_jobs`, and first orders' enrolments through `minter`.
    pub fn attributor(&self, clients: AttributorClients) -> Attributor {
        let AttributorClients { screener, reward_jobs, signup_jobs, minter, messenger, hasher, links } = clients;
        let messenger = self.customer_mail(messenger, hasher.clone());
        let enroller = Enroller::new(
            &self.stores,
            EnrolPorts { minter, messenger, hasher, links },
            self.settings.clone(),
            self.clock.clone(),
        );
        let ports = AttributorPorts { screener, reward_jobs, signup_jobs, enroller: Arc::new(enroller) };
        Attributor::new(&self.stores, ports, self.clock.clone(), &self.settings)
    }

    /// `rft-rewarder`: the reward chain.
    pub fn rewarder(&self, clients: RewarderClients, policy: FulfilPolicy) -> Rewarder {
        let s = &self.stores;
        let RewarderClients { screener, store, discounts, messenger, writer, links, queue, hasher } = clients;
        let messenger = self.customer_mail(messenger, hasher);
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
        Rewarder::new(ports, self.settings.clone(), policy).with_discounts(discounts)
    }

    /// `rft-sweep`: expiry of pending referrals, and conversions past their confirmation
    /// period handed to the rewarder on `reward_jobs`.
    pub fn sweeper(&self, reward_jobs: Arc<dyn JobQueue>) -> Sweeper {
        Sweeper::new(self.stores.referrals.clone(), self.stores.counters.clone(), reward_jobs, self.clock.clone())
    }

    /// Erasure (the rewarder's in AWS: it alone may rewrite the ledger); `hasher` derives the
    /// opaque id; the friend discounts of the codes it retires are deactivated through
    /// `discounts`' queue.
    pub fn eraser(&self, hasher: IdentityHasher, discounts: FriendDiscount) -> Eraser {
        Eraser::new(self.stores.clone(), hasher, self.clock.clone()).with_discounts(discounts)
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
