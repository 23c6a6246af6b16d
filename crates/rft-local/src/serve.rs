//! `rft-local serve`: settings, secrets, the embedded store, the outbox, the HTTP surface on a
//! socket and the queue workers, until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::watch;

use rft_core::ports::Stores;
use rft_core::time::SystemClock;
use rft_core::{Clock, Settings};
use rft_http::ClientIp;

use crate::outbox::Outbox;
use crate::queue::LocalQueue;
use crate::store::LocalStore;
use crate::system::{Ports, System, TemplatesOnly};

/// The sign-up queue's name.
pub const SIGNUP_QUEUE: &str = "rft-signup-jobs";
/// The reward queue's name.
pub const REWARD_QUEUE: &str = "rft-reward-jobs";

/// Reads and validates the settings file.
pub fn load_settings(path: &Path) -> anyhow::Result<Settings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the settings file {}", path.display()))?;
    Ok(Settings::parse(&text)?)
}

/// Copies the peer address into [`ClientIp`] for the redirect's hashed-IP click field.
async fn client_ip(ConnectInfo(peer): ConnectInfo<SocketAddr>, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(ClientIp(peer.ip()));
    next.run(request).await
}

/// Starts everything and serves until Ctrl-C or SIGTERM.
pub async fn run(settings_path: PathBuf, data: PathBuf, listen: SocketAddr, outbox: PathBuf) -> anyhow::Result<()> {
    let settings = Arc::new(load_settings(&settings_path)?);
    std::fs::create_dir_all(&data)
        .with_context(|| format!("could not create the data directory {}", data.display()))?;
    let secrets = crate::secrets::load(&data, settings.store.kind)?;
    // Also after a crash: whatever the last run erased leaves the file before anything opens it.
    rewrite_data_file(&data, RewriteWhen::Start);
    let store = LocalStore::open(&data)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let signup_queue = LocalQueue::new(store.clone(), SIGNUP_QUEUE, clock.clone());
    let reward_queue = LocalQueue::new(store.clone(), REWARD_QUEUE, clock.clone());
    let timeout = rft_http::providers::timeout_for(settings.store.kind);
    let ports = Ports {
        stores: Stores::from_backend(Arc::new(store)),
        signup_jobs: Arc::new(signup_queue.clone()),
        reward_jobs: Arc::new(reward_queue.clone()),
        messenger: Arc::new(
            Outbox::new(outbox.clone(), clock.clone())
                .with_context(|| format!("could not create the outbox {}", outbox.display()))?,
        ),
        writer: Arc::new(TemplatesOnly),
        rewards: rft_http::providers::reward_client(&settings, &secrets.set, timeout)?,
        discounts: rft_http::providers::discounts(&settings, &secrets.set, timeout)?,
        clock,
    };
    let system = Arc::new(System::assemble(settings.clone(), &secrets.set, ports));
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("could not listen on {listen}"))?;
    let addr = listener.local_addr()?;
    print_banner(addr, &secrets, &data, &outbox);

    let (stop, stopped) = watch::channel(false);
    let workers = [
        tokio::spawn(signup_worker(system.clone(), signup_queue, stopped.clone())),
        tokio::spawn(reward_worker(system.clone(), reward_queue, stopped.clone())),
        tokio::spawn(sweep_loop(system.clone(), settings.sweep.every, stopped.clone())),
    ];
    let mut app = system.router();
    // The demo signs requests and hands out ops links for whoever asks: only for this machine.
    if addr.ip().is_loopback() {
        let demo = Arc::new(crate::demo::Demo::new(
            system.clone(),
            rft_core::signature::Signer::new(&secrets.set.signing),
            outbox.clone(),
            secrets.set.store_api_key.clone(),
            secrets.set.store_signing.as_ref(),
        ));
        app = app.merge(crate::demo::routes(demo));
        let connected = Arc::new(crate::demo_providers::ConnectedDemo::new(system.clone(), &secrets.set));
        app = app.merge(crate::demo_providers::routes(connected));
    }
    let app = app.layer(axum::middleware::from_fn(client_ip));
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    let _ = stop.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    // The last handles on the store go with the system; then what was erased leaves the file.
    drop(system);
    rewrite_data_file(&data, RewriteWhen::Stop);
    println!("rft-local: stopped");
    Ok(())
}

/// When the data file is rewritten.
#[derive(Clone, Copy, Debug)]
enum RewriteWhen {
    Start,
    Stop,
}

/// Rewrites the data file so erased people leave the disk (docs/operations.md, "Erasure"). A
/// failure is logged, never fatal: the data is whole either way, and the next start tries again.
fn rewrite_data_file(data: &Path, when: RewriteWhen) {
    let path = data.join(crate::store::DATA_FILE);
    // At a stop, a background fold may still hold the file for a moment.
    let attempts = match when {
        RewriteWhen::Start => 1,
        RewriteWhen::Stop => 40,
    };
    for attempt in 1..=attempts {
        match crate::store::rewrite::rewrite(&path) {
            Ok(_) => return,
            Err(e) if attempt < attempts && e.is_still_open() => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                tracing::error!(error = %rft_core::ports::error_chain(&e), ?when, "the data file was not rewritten");
                return;
            }
        }
    }
}

/// Handles sign-up jobs as they arrive (woken by sends, with a slow poll for retries).
async fn signup_worker(system: Arc<System>, queue: LocalQueue, mut stopped: watch::Receiver<bool>) {
    loop {
        system.drain_signups().await;
        tokio::select! {
            _ = queue.sent() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Handles reward jobs as they arrive; failed ones come back after their visibility timeout.
async fn reward_worker(system: Arc<System>, queue: LocalQueue, mut stopped: watch::Receiver<bool>) {
    loop {
        system.drain_rewards().await;
        tokio::select! {
            _ = queue.sent() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Runs the expiry sweep every `sweep.every` (EventBridge does this hourly in AWS).
async fn sweep_loop(system: Arc<System>, every: Duration, mut stopped: watch::Receiver<bool>) {
    loop {
        match system.sweeper.run().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "sweep expired pending referrals"),
            Err(e) => tracing::error!(error = %e, "sweep failed; it runs again next time"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped.changed() => return,
        }
    }
}

fn print_banner(addr: SocketAddr, secrets: &crate::secrets::Loaded, data: &Path, outbox: &Path) {
    println!("rft-local: serving on http://{addr}");
    println!(
        "  secrets (from the environment, or generated once and kept in {}):",
        data.join(crate::secrets::FILE).display()
    );
    for (var, value, generated) in &secrets.shown {
        println!("    {var}={value}{}", if *generated { "   (new)" } else { "" });
    }
    println!("  outbox (emails and SMS, one JSON file each): {}", outbox.display());
    println!("  data: {}", data.display());
    if let Some(key) = secrets.set.signing.first() {
        let hex = hex::encode(key.key().expose());
        println!("  mint a link for Dan (a signed request; paste into a shell with openssl and curl):");
        println!(
            "    body='{{\"customer_id\":\"c_dan\",\"first_name\":\"Dan\",\"email\":\"dan@example.com\"}}'; id=msg_$(date +%s%N); ts=$(date +%s); \
             sig=$(printf '%s' \"$id.$ts.$body\" | openssl dgst -sha256 -mac HMAC -macopt hexkey:{hex} -binary | base64); \
             curl -s -X POST http://{addr}/api/links -H \"webhook-id: $id\" -H \"webhook-timestamp: $ts\" -H \"webhook-signature: v1,$sig\" -H 'content-type: application/json' -d \"$body\"; echo"
        );
    }
    if addr.ip().is_loopback() {
        println!("  demo shop: http://{addr}/demo   (play Dan, Mara and the team; see the emails and rewards land)");
        println!(
            "  provider stand-ins for a connected demo: http://{addr}{} (Stripe), http://{addr}{} (Shopify)",
            crate::demo_providers::STRIPE_API_PATH,
            crate::demo_providers::SHOPIFY_API_PATH
        );
    } else {
        println!("  demo shop: off (it signs requests for anyone, so it is only served on a loopback address)");
    }
    println!("  Ctrl-C stops it; data persists in the data directory.");
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
