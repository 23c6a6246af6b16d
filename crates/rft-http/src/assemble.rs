//! The edge built from the shared [`Services`], for `rft-edge` and `rft-local` alike.

use std::sync::Arc;

use rft_core::identity::IdentityHasher;
use rft_core::links::LinkSigner;
use rft_core::ports::{Erasure, JobQueue, Minter};
use rft_core::secrets::SecretSet;
use rft_core::service::Services;
use rft_core::signature::Signer;

use crate::Edge;

/// Where the edge hands work on: in AWS Lambda invokes and SQS queues, locally the services
/// and the embedded queues themselves.
pub struct EdgePorts {
    /// Minting, retiring, invites.
    pub minter: Arc<dyn Minter>,
    /// Forgetting a customer.
    pub erasure: Arc<dyn Erasure>,
    /// Sign-ups, for the attributor.
    pub signup_jobs: Arc<dyn JobQueue>,
    /// Conversions, refunds and ops decisions, for the rewarder.
    pub reward_jobs: Arc<dyn JobQueue>,
    /// The owner's console: its mailer, overview and live updates.
    pub console: crate::admin::Console,
}

impl Edge {
    /// The edge over `services`, keyed by `secrets` (signatures, identity hashes, people's links).
    pub fn assemble(services: &Services, secrets: &SecretSet, ports: EdgePorts) -> Edge {
        let hasher = IdentityHasher::new(secrets.identity.clone());
        let EdgePorts { minter, erasure, signup_jobs, reward_jobs, console } = ports;
        Edge {
            redirector: services.redirector(hasher.clone()),
            settings: services.settings.clone(),
            clock: services.clock.clone(),
            signer: Signer::new(&secrets.signing),
            hasher,
            links: LinkSigner::new(secrets.ops.clone()),
            stores: services.stores.clone(),
            minter,
            erasure,
            signup_jobs,
            reward_jobs,
            console,
            connector: crate::provider_webhooks::Connector::from_settings(&services.settings, secrets),
        }
    }
}
