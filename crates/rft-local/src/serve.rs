//! Wiring for `rft-local serve`: settings, secrets, the store, the router on a socket.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use rft_core::Settings;

use crate::store::LocalStore;

/// Starts everything and serves until Ctrl-C or SIGTERM.
pub async fn run(settings_path: PathBuf, data: PathBuf, listen: SocketAddr, outbox: PathBuf) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&settings_path)
        .with_context(|| format!("could not read the settings file {}", settings_path.display()))?;
    let _settings = Settings::parse(&text)?;
    std::fs::create_dir_all(&data)
        .with_context(|| format!("could not create the data directory {}", data.display()))?;
    std::fs::create_dir_all(&outbox).with_context(|| format!("could not create the outbox {}", outbox.display()))?;
    let secrets = crate::secrets::load(&data)?;
    let _store = LocalStore::open(&data)?;
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("could not listen on {listen}"))?;
    println!("rft-local: listening on http://{}", listener.local_addr()?);
    for (var, value, generated) in &secrets.shown {
        let note = if *generated { " (generated, saved in the data dir)" } else { "" };
        println!("  {var}={value}{note}");
    }
    println!("  data: {}  outbox: {}", data.display(), outbox.display());
    axum::serve(listener, rft_http::router()).with_graceful_shutdown(shutdown()).await?;
    println!("rft-local: stopped");
    Ok(())
}

async fn shutdown() {
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
