//! Which AWS clients each function's service runs on: used by the function binaries and by the
//! tests that run the same wiring against the emulators. The services themselves are built by
//! [`Services`], as `rft-local` builds them.

use std::sync::Arc;

use rft_core::identity::IdentityHasher;
use rft_core::links::LinkSigner;
use rft_core::ports::Stores;
use rft_core::secrets::SecretSet;
use rft_core::service::erase::Eraser;
use rft_core::service::{
    Attributor, DeadEnds, FulfilPolicy, MintService, Rewarder, RewarderClients, ScreenService, Services, Sweeper,
};
use rft_core::time::SystemClock;
use rft_http::{Edge, EdgePorts};

use crate::env::{EnvError, Environment};

async fn warm_stores(env: &Environment) -> Stores {
    let store = env.store();
    store.warm().await;
    Stores::from_backend(store)
}

/// The shared parts of every service, over `stores`, on the system clock.
fn services(env: &Environment, stores: Stores) -> Services {
    Services::new(env.settings.clone(), Arc::new(SystemClock), stores)
}

/// The console's live updates on Lambda: the Function URL buffers responses, so each event
/// stream is one overview and a reconnect after ten seconds (see `rft_http::admin::live`).
pub const LIVE: rft_http::admin::Live = rft_http::admin::Live::Snapshot { retry: std::time::Duration::from_secs(10) };

/// `rft-edge` at a cold start: the secret is fetched while the DynamoDB connection warms, so
/// the two round trips overlap instead of adding up.
pub async fn edge_at_start(env: &Environment) -> Result<Edge, EnvError> {
    let (secrets, stores) = tokio::join!(env.secrets(), warm_stores(env));
    edge_over(env, &secrets?, stores)
}

/// `rft-edge`: the HTTP surface over DynamoDB and SQS, minting through `rft-minter`.
pub async fn edge(env: &Environment, secrets: &SecretSet) -> Result<Edge, EnvError> {
    edge_over(env, secrets, warm_stores(env).await)
}

fn edge_over(env: &Environment, secrets: &SecretSet, stores: Stores) -> Result<Edge, EnvError> {
    // Each of these holds a client built on its first call, which most requests never make.
    let ports = EdgePorts {
        minter: Arc::new(env.minter()?),
        erasure: Arc::new(env.eraser()?),
        signup_jobs: Arc::new(env.signup_queue()?),
        reward_jobs: Arc::new(env.reward_queue()?),
        console: rft_http::admin::Console::new(
            // Sign-in links go through SES like every other email.
            Arc::new(env.messenger(false)),
            Arc::new(rft_core::service::console::RollupOverview::new(stores.clone())),
            LIVE,
        ),
    };
    Ok(Edge::assemble(&services(env, stores), secrets, ports))
}

/// `rft-minter`: codes, Bedrock for the invite, SES for email invites.
pub async fn minter(env: &Environment) -> MintService {
    services(env, warm_stores(env).await).minter(Arc::new(env.writer()), Arc::new(env.messenger(false)))
}

/// `rft-screen`: velocity reads, SES for hold emails, the ops key for their links.
pub async fn screen(env: &Environment, secrets: &SecretSet) -> ScreenService {
    services(env, warm_stores(env).await).screen(Arc::new(env.messenger(false)), LinkSigner::new(secrets.ops.clone()))
}

/// `rft-attributor`: attribution over DynamoDB, screening through `rft-screen`; a connected
/// store's orders go on to `rft-reward-jobs`.
pub async fn attributor(env: &Environment) -> Result<Attributor, EnvError> {
    let stores = warm_stores(env).await;
    Ok(services(env, stores).attributor(Arc::new(env.screener()?), Arc::new(env.reward_queue()?)))
}

/// `rft-rewarder`: the ledger, the store's reward endpoint, Bedrock for thank-yous, SES and SNS,
/// screening through `rft-screen`.
pub async fn rewarder(env: &Environment, secrets: &SecretSet) -> Result<Rewarder, EnvError> {
    rewarder_with(env, secrets, rft_http::store_client::TIMEOUT, FulfilPolicy::default()).await
}

/// [`rewarder`] with the store call timeout and retry policy given (tests shorten both).
pub async fn rewarder_with(
    env: &Environment,
    secrets: &SecretSet,
    store_timeout: std::time::Duration,
    policy: FulfilPolicy,
) -> Result<Rewarder, EnvError> {
    let stores = warm_stores(env).await;
    let store = rft_http::store_client::HttpRewardClient::new(
        // `None` for a connected store: its provider client replaces this one (wired by the services).
        env.settings.store.reward_url.as_ref().map_or("", |u| u.as_str()),
        secrets.store_api_key.clone(),
        secrets.store_signing.as_ref(),
        store_timeout,
    );
    let clients = RewarderClients {
        screener: Arc::new(env.screener()?),
        store: Arc::new(store),
        messenger: Arc::new(env.messenger(true)),
        writer: Arc::new(env.writer()),
        links: LinkSigner::new(secrets.ops.clone()),
        queue: Arc::new(env.reward_queue()?),
    };
    Ok(services(env, stores).rewarder(clients, policy))
}

/// Where a consumer sets aside jobs that can never succeed: the audit and the team's mailbox.
pub async fn dead_ends(env: &Environment) -> DeadEnds {
    services(env, env.stores()).dead_ends(Arc::new(env.messenger(false)))
}

/// `rft-sweep`: expires pending referrals past their window. No warm-up: nobody waits on an
/// hourly batch, and the warm-up's read of `rft-codes` is one its role (rightly) may not make.
pub async fn sweeper(env: &Environment) -> Result<Sweeper, EnvError> {
    Ok(services(env, env.stores()).sweeper(Arc::new(env.reward_queue()?)))
}

/// `rft-sweep`'s other job: counting `rft-clicks`' stream into the rollups.
pub async fn follower(env: &Environment) -> crate::follower::ClickFollower {
    crate::follower::ClickFollower::new((*env.store()).clone())
}

/// The rewarder's erasure (it alone may rewrite the ledger).
pub async fn eraser(env: &Environment, secrets: &SecretSet) -> Eraser {
    services(env, warm_stores(env).await).eraser(IdentityHasher::new(secrets.identity.clone()))
}
