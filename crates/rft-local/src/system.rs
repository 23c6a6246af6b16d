//! The whole system in one process: every service assembled over one set of ports, with direct
//! function calls where AWS has Lambda invokes. `rft-local serve` runs it on the embedded
//! store; the lifecycle tests run it on the embedded store and on DynamoDB Local alike.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use rft_core::identity::IdentityHasher;
use rft_core::jobs::JobFailure;
use rft_core::links::LinkSigner;
use rft_core::ports::error_chain;
use rft_core::ports::{
    Discounts, DraftRequest, FulfilError, FulfilOutcome, FulfilmentRequest, JobQueue, MessageError, Messenger,
    NoDiscounts, OutboundMessage, RewardClient, Stores, TextWriter, WriterError,
};
use rft_core::secrets::SecretSet;
use rft_core::service::{
    Attributor, AttributorClients, DeadEnds, FriendDiscount, FulfilPolicy, MintService, Rewarder, RewarderClients,
    ScreenService, Services, Sweeper,
};
use rft_core::{Clock, Job, Settings};
use rft_http::{Edge, EdgePorts};

/// The ports a system runs on.
#[derive(Clone)]
pub struct Ports {
    /// The seven stores.
    pub stores: Stores,
    /// The attributor's queue.
    pub signup_jobs: Arc<dyn JobQueue>,
    /// The rewarder's queue.
    pub reward_jobs: Arc<dyn JobQueue>,
    /// Email and SMS.
    pub messenger: Arc<dyn Messenger>,
    /// The model.
    pub writer: Arc<dyn TextWriter>,
    /// The store's reward endpoint, or the connected store's provider.
    pub rewards: Arc<dyn RewardClient>,
    /// The friend's discounts at a connected store's provider ([`NoDiscounts`] otherwise).
    pub discounts: Arc<dyn Discounts>,
    /// The clock every service reads (a manual one in tests).
    pub clock: Arc<dyn Clock>,
}

/// A text writer with no model behind it: every draft fails, so the fixed templates are used.
/// `rft-local` uses it unless a model endpoint is configured.
pub struct TemplatesOnly;

#[async_trait]
impl TextWriter for TemplatesOnly {
    async fn draft(&self, _request: &DraftRequest) -> Result<String, WriterError> {
        Err(WriterError("no model is configured locally; the templates are used".into()))
    }
}

/// Accepts every message and every reward and keeps none: for benchmarks and fuzzing, where
/// only the HTTP surface and the store matter.
pub struct Discard;

#[async_trait]
impl Messenger for Discard {
    async fn send(&self, _message: &OutboundMessage) -> Result<(), MessageError> {
        Ok(())
    }
}

#[async_trait]
impl RewardClient for Discard {
    async fn fulfil(&self, _request: &FulfilmentRequest) -> Result<FulfilOutcome, FulfilError> {
        Ok(FulfilOutcome::Applied)
    }
}

/// The console's live updates locally: one held event stream per page, the overview
/// recomputed every two seconds, each stream ended after five minutes (the browser reconnects).
pub const LIVE: rft_http::admin::Live =
    rft_http::admin::Live::Stream { every: Duration::from_secs(2), for_at_most: Duration::from_secs(300) };

/// Every service, wired.
pub struct System {
    /// The HTTP surface's state.
    pub edge: Arc<Edge>,
    /// The minter.
    pub minter: Arc<MintService>,
    /// The screen.
    pub screen: Arc<ScreenService>,
    /// The attributor.
    pub attributor: Arc<Attributor>,
    /// The rewarder.
    pub rewarder: Arc<Rewarder>,
    /// The expiry sweep.
    pub sweeper: Arc<Sweeper>,
    /// Where jobs that can never succeed are set aside.
    pub dead_ends: Arc<DeadEnds>,
    /// The ports underneath.
    pub ports: Ports,
}

impl System {
    /// Wires every service over `ports`.
    pub fn assemble(settings: Arc<Settings>, secrets: &SecretSet, ports: Ports) -> Self {
        Self::assemble_with(settings, secrets, ports, FulfilPolicy::default())
    }

    /// Wires every service, with a given fulfilment policy (tests shorten the backoff).
    pub fn assemble_with(settings: Arc<Settings>, secrets: &SecretSet, ports: Ports, policy: FulfilPolicy) -> Self {
        let services = Services::new(settings, ports.clock.clone(), ports.stores.clone());
        let links = LinkSigner::new(secrets.ops.clone());
        // Discounts the minter cannot make in time are queued for the rewarder.
        let friend_discount = FriendDiscount::new(ports.discounts.clone(), Some(ports.reward_jobs.clone()));
        let hasher = IdentityHasher::new(secrets.identity.clone());
        let minter = Arc::new(services.minter(
            ports.writer.clone(),
            ports.messenger.clone(),
            friend_discount.clone(),
            hasher.clone(),
        ));
        let screen = Arc::new(services.screen(ports.messenger.clone(), links.clone()));
        let attributor = Arc::new(services.attributor(AttributorClients {
            screener: screen.clone(),
            reward_jobs: ports.reward_jobs.clone(),
            signup_jobs: ports.signup_jobs.clone(),
            minter: minter.clone(),
            messenger: ports.messenger.clone(),
            hasher: hasher.clone(),
            links: links.clone(),
        }));
        let clients = RewarderClients {
            screener: screen.clone(),
            store: ports.rewards.clone(),
            discounts: friend_discount.clone(),
            messenger: ports.messenger.clone(),
            writer: ports.writer.clone(),
            links,
            queue: ports.reward_jobs.clone(),
            hasher: hasher.clone(),
        };
        let rewarder = Arc::new(services.rewarder(clients, policy));
        let sweeper = Arc::new(services.sweeper(ports.reward_jobs.clone()));
        let eraser = Arc::new(services.eraser(hasher, friend_discount));
        let edge_ports = EdgePorts {
            minter: minter.clone(),
            erasure: eraser,
            signup_jobs: ports.signup_jobs.clone(),
            reward_jobs: ports.reward_jobs.clone(),
            console: rft_http::admin::Console::new(
                ports.messenger.clone(),
                Arc::new(rft_core::service::console::RollupOverview::new(services.stores.clone())),
                LIVE,
            ),
        };
        let edge = Arc::new(Edge::assemble(&services, secrets, edge_ports));
        let dead_ends = Arc::new(services.dead_ends(ports.messenger.clone()));
        System { edge, minter, screen, attributor, rewarder, sweeper, dead_ends, ports }
    }

    /// The whole system on a fresh in-memory store with fresh secrets, the system clock, the
    /// templates for text, and messages and rewards discarded (benchmarks, fuzzing).
    pub fn in_memory(settings: Settings) -> (Self, SecretSet) {
        let [s, o, k, i] = SecretSet::generate_parts();
        let secrets = SecretSet::from_parts(&s, &o, &k, &i).expect("generated secrets are valid");
        let store = crate::LocalStore::in_memory();
        let clock: Arc<dyn Clock> = Arc::new(rft_core::time::SystemClock);
        let ports = Ports {
            stores: Stores::from_backend(Arc::new(store.clone())),
            signup_jobs: Arc::new(crate::LocalQueue::new(store.clone(), "rft-signup-jobs", clock.clone())),
            reward_jobs: Arc::new(crate::LocalQueue::new(store, "rft-reward-jobs", clock.clone())),
            messenger: Arc::new(Discard),
            writer: Arc::new(TemplatesOnly),
            rewards: Arc::new(Discard),
            discounts: Arc::new(NoDiscounts),
            clock,
        };
        (Self::assemble(Arc::new(settings), &secrets, ports), secrets)
    }

    /// The HTTP surface.
    pub fn router(&self) -> axum::Router {
        rft_http::router(self.edge.clone())
    }

    /// Receives and handles sign-up jobs until the queue has nothing visible; returns how many
    /// were handled. Failed jobs stay queued for their retry.
    pub async fn drain_signups(&self) -> usize {
        drain(&*self.ports.signup_jobs, &self.dead_ends, |job| self.attributor.handle(job)).await
    }

    /// Receives and handles reward jobs until none is visible; returns how many succeeded.
    pub async fn drain_rewards(&self) -> usize {
        drain(&*self.ports.reward_jobs, &self.dead_ends, |job| self.rewarder.handle(job)).await
    }
}

/// How long a received job stays hidden while being handled.
pub const VISIBILITY: Duration = Duration::from_secs(30);

/// Receives and handles jobs until none is visible. A job that succeeds is acknowledged; one
/// that failed for a reason a retry can cure stays for its redelivery; one that can never
/// succeed is set aside for a person ([`DeadEnds`]) and acknowledged.
pub async fn drain<F, Fut, E>(queue: &dyn JobQueue, dead_ends: &DeadEnds, handle: F) -> usize
where
    F: Fn(Job) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: JobFailure,
{
    let mut handled = 0;
    loop {
        let deliveries = match queue.receive(10, VISIBILITY).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "could not receive jobs");
                return handled;
            }
        };
        if deliveries.is_empty() {
            return handled;
        }
        for delivery in deliveries {
            let kind = delivery.job.kind();
            let settled = match handle(delivery.job.clone()).await {
                Ok(()) => {
                    handled += 1;
                    true
                }
                Err(e) if e.is_retryable() => {
                    tracing::warn!(error = %error_chain(&e), kind, receive = delivery.receive_count, "job failed; it will be retried");
                    false
                }
                Err(e) => {
                    dead_ends.job(&delivery.job, &error_chain(&e)).await;
                    true
                }
            };
            if settled && let Err(e) = queue.ack(&delivery.receipt).await {
                tracing::error!(error = %e, kind, "could not acknowledge a job; it will be redelivered and is idempotent");
            }
        }
    }
}
