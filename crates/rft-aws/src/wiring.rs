//! How each function's service is assembled from its environment: one place, used by the
//! function binaries and by the tests that run the same wiring against the emulators.

use std::sync::Arc;

use rft_core::identity::IdentityHasher;
use rft_core::links::LinkSigner;
use rft_core::ports::Stores;
use rft_core::secrets::SecretSet;
use rft_core::service::{
    Attributor, FulfilPolicy, MintService, Redirector, Rewarder, RewarderPorts, ScreenService, Sweeper,
};
use rft_core::signature::Signer;
use rft_core::time::SystemClock;
use rft_http::Edge;

use crate::env::{EnvError, Environment};

async fn warm_stores(env: &Environment) -> Stores {
    let store = env.store();
    store.warm().await;
    Stores::from_backend(store)
}

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
    let clock = Arc::new(SystemClock);
    let hasher = IdentityHasher::new(secrets.identity.clone());
    Ok(Edge {
        redirector: Redirector::new(
            stores.codes.clone(),
            stores.clicks.clone(),
            env.settings.clone(),
            hasher.clone(),
            clock.clone(),
        ),
        settings: env.settings.clone(),
        clock,
        signer: Signer::new(&secrets.signing),
        hasher,
        links: LinkSigner::new(secrets.ops.clone()),
        stores,
        minter: Arc::new(env.minter()?),
        erasure: Arc::new(env.eraser()?),
        signup_jobs: Arc::new(env.signup_queue()?),
        reward_jobs: Arc::new(env.reward_queue()?),
    })
}

/// `rft-minter`: codes, Bedrock for the invite, SES for email invites.
pub async fn minter(env: &Environment) -> MintService {
    let s = warm_stores(env).await;
    MintService::new(
        s.codes.clone(),
        s.clicks.clone(),
        s.audit.clone(),
        s.counters.clone(),
        Arc::new(env.writer()),
        Arc::new(env.messenger(false)),
        env.settings.clone(),
        Arc::new(SystemClock),
    )
}

/// `rft-screen`: velocity reads, SES for hold emails, the ops key for their links.
pub async fn screen(env: &Environment, secrets: &SecretSet) -> ScreenService {
    let s = warm_stores(env).await;
    ScreenService::new(
        s.counters.clone(),
        Arc::new(env.messenger(false)),
        env.settings.clone(),
        LinkSigner::new(secrets.ops.clone()),
        Arc::new(SystemClock),
    )
}

/// `rft-attributor`: attribution over DynamoDB, screening through `rft-screen`.
pub async fn attributor(env: &Environment) -> Result<Attributor, EnvError> {
    let s = warm_stores(env).await;
    Ok(Attributor::new(
        s.codes.clone(),
        s.clicks.clone(),
        s.referrals.clone(),
        s.audit.clone(),
        s.counters.clone(),
        Arc::new(env.screener()?),
        Arc::new(SystemClock),
        env.settings.attribution.fingerprint_fallback,
    ))
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
    let s = warm_stores(env).await;
    let store = rft_http::store_client::HttpRewardClient::new(
        // `None` for a connected store: its provider client replaces this one (wired by the services).
        env.settings.store.reward_url.as_ref().map_or("", |u| u.as_str()),
        secrets.store_api_key.clone(),
        store_timeout,
    );
    Ok(Rewarder::new(
        RewarderPorts {
            codes: s.codes.clone(),
            referrals: s.referrals.clone(),
            ledger: s.ledger.clone(),
            audit: s.audit.clone(),
            counters: s.counters.clone(),
            screener: Arc::new(env.screener()?),
            store: Arc::new(store),
            messenger: Arc::new(env.messenger(true)),
            writer: Arc::new(env.writer()),
            links: LinkSigner::new(secrets.ops.clone()),
            queue: Arc::new(env.reward_queue()?),
            clock: Arc::new(SystemClock),
        },
        env.settings.clone(),
        policy,
    ))
}

/// Where a consumer sets aside jobs that can never succeed: the audit and the team's mailbox.
pub async fn dead_ends(env: &Environment) -> rft_core::service::DeadEnds {
    rft_core::service::DeadEnds::new(
        env.stores().audit,
        Arc::new(env.messenger(false)),
        env.settings.clone(),
        Arc::new(SystemClock),
    )
}

/// `rft-sweep`: expires pending referrals past their window. No warm-up: nobody waits on an
/// hourly batch, and the warm-up's read of `rft-codes` is one its role (rightly) may not make.
pub async fn sweeper(env: &Environment) -> Sweeper {
    Sweeper::new(env.stores().referrals.clone(), Arc::new(SystemClock))
}

/// `rft-sweep`'s other job: counting `rft-clicks`' stream into the rollups.
pub async fn follower(env: &Environment) -> crate::follower::ClickFollower {
    crate::follower::ClickFollower::new((*env.store()).clone())
}

/// The rewarder's erasure (it alone may rewrite the ledger).
pub async fn eraser(env: &Environment, secrets: &SecretSet) -> rft_core::service::erase::Eraser {
    let stores = warm_stores(env).await;
    rft_core::service::erase::Eraser::new(stores, IdentityHasher::new(secrets.identity.clone()), Arc::new(SystemClock))
}
