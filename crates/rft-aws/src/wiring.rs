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
    Attributor, AttributorClients, DeadEnds, FriendDiscount, FulfilPolicy, MintService, Rewarder, RewarderClients,
    ScreenService, Services, Sweeper,
};
use rft_core::settings::StoreKind;
use rft_core::time::SystemClock;
use rft_http::providers::timeout_for;
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

/// The console's live updates on Lambda: an instance serves one request at a time, so each
/// event stream is one overview and a reconnect after ten seconds rather than a connection
/// held open (see `rft_http::admin::live`).
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

/// `rft-minter`: codes, Bedrock for the invite, SES for email invites (the secret's identity key
/// hashes the friend's address to honour an unsubscribe); for a connected store also each
/// code's friend discount at the provider (with the secret's API key), queued for the rewarder
/// on `rft-reward-jobs` when the provider does not answer in time.
pub async fn minter(env: &Environment) -> Result<MintService, EnvError> {
    let services = services(env, warm_stores(env).await);
    let secrets = env.secrets().await?;
    let discounts = if env.settings.store.kind == StoreKind::Webhooks {
        FriendDiscount::none()
    } else {
        friend_discount(env, &secrets)?
    };
    let hasher = IdentityHasher::new(secrets.identity.clone());
    Ok(services.minter(Arc::new(env.writer()), Arc::new(env.messenger(false)), discounts, hasher))
}

/// The friend's discounts for the store, with `rft-reward-jobs` for what cannot wait.
fn friend_discount(env: &Environment, secrets: &SecretSet) -> Result<FriendDiscount, EnvError> {
    let settings = &env.settings;
    let discounts = rft_http::providers::discounts(settings, secrets, timeout_for(settings.store.kind))?;
    Ok(FriendDiscount::new(discounts, Some(Arc::new(env.reward_queue()?))))
}

/// `rft-screen`: velocity reads, SES for hold emails, the ops key for their links.
pub async fn screen(env: &Environment, secrets: &SecretSet) -> ScreenService {
    services(env, warm_stores(env).await).screen(Arc::new(env.messenger(false)), LinkSigner::new(secrets.ops.clone()))
}

/// `rft-attributor`: attribution over DynamoDB, screening through `rft-screen`; a connected
/// store's orders go on to `rft-reward-jobs`, and a first order's enrolment (queued on its own
/// `rft-signup-jobs`) mints through `rft-minter` and mails through SES, its unsubscribe link
/// signed with the ops key.
pub async fn attributor(env: &Environment, secrets: &SecretSet) -> Result<Attributor, EnvError> {
    let stores = warm_stores(env).await;
    let clients = AttributorClients {
        screener: Arc::new(env.screener()?),
        reward_jobs: Arc::new(env.reward_queue()?),
        signup_jobs: Arc::new(env.signup_queue()?),
        minter: Arc::new(env.minter()?),
        messenger: Arc::new(env.messenger(false)),
        hasher: IdentityHasher::new(secrets.identity.clone()),
        links: LinkSigner::new(secrets.ops.clone()),
    };
    Ok(services(env, stores).attributor(clients))
}

/// `rft-rewarder`: the ledger, the store's reward endpoint or provider (and the friend's
/// discounts the minter queued), Bedrock for thank-yous, SES and SNS, screening through
/// `rft-screen`.
pub async fn rewarder(env: &Environment, secrets: &SecretSet) -> Result<Rewarder, EnvError> {
    rewarder_with(env, secrets, timeout_for(env.settings.store.kind), FulfilPolicy::default()).await
}

/// [`rewarder`] with the store call timeout and retry policy given (tests shorten both).
pub async fn rewarder_with(
    env: &Environment,
    secrets: &SecretSet,
    store_timeout: std::time::Duration,
    policy: FulfilPolicy,
) -> Result<Rewarder, EnvError> {
    let stores = warm_stores(env).await;
    let clients = RewarderClients {
        screener: Arc::new(env.screener()?),
        store: rft_http::providers::reward_client(&env.settings, secrets, store_timeout)?,
        discounts: friend_discount(env, secrets)?,
        messenger: Arc::new(env.messenger(true)),
        writer: Arc::new(env.writer()),
        links: LinkSigner::new(secrets.ops.clone()),
        queue: Arc::new(env.reward_queue()?),
        hasher: IdentityHasher::new(secrets.identity.clone()),
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

/// What the rewarder's direct calls act on: its eraser and its store.
pub async fn rewarder_ops(env: &Environment, secrets: &SecretSet) -> crate::invoke::RewarderOps {
    crate::invoke::RewarderOps { eraser: eraser(env, secrets).await, store: env.store() }
}

/// The rewarder's erasure (it alone may rewrite the ledger). The friend discounts of the codes
/// it retires are deactivated through the reward queue.
pub async fn eraser(env: &Environment, secrets: &SecretSet) -> Eraser {
    let discounts = friend_discount(env, secrets).unwrap_or_else(|e| {
        // The rewarder's own wiring fails on the same error, so the function never runs with
        // it; this keeps the eraser's signature.
        tracing::error!(error = %e, "erasure cannot deactivate discounts");
        FriendDiscount::none()
    });
    services(env, warm_stores(env).await).eraser(IdentityHasher::new(secrets.identity.clone()), discounts)
}
