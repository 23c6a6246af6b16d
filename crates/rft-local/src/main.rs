//! `rft-local serve`: the whole referral tracker in one process on an embedded store.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "rft-local", about = "The referral tracker on one machine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the public surface and run the workers, on an embedded persistent store.
    Serve {
        /// The settings file (docs/settings.md).
        #[arg(long)]
        settings: PathBuf,
        /// Where the store and generated secrets live (created if missing).
        #[arg(long)]
        data: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: SocketAddr,
        /// Where emails and SMS are written, one JSON file each.
        #[arg(long)]
        outbox: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    match Cli::parse().command {
        Command::Serve { settings, data, listen, outbox } => {
            rft_local::serve::run(settings, data, listen, outbox).await.context("rft-local serve stopped")
        }
    }
}
