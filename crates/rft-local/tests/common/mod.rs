//! What the tests that run the `rft-local` binary share: a free port, the `serve` command line,
//! and waiting until the server answers.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nothing listens on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `rft-local serve` with `settings`, its data and outbox under `dir`, on `port`; its log is
/// appended to `dir/rft-local.log` (when `dir` exists), and it generates its own signing secret.
pub fn serve(dir: &Path, port: u16, settings: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rft-local"));
    command
        .arg("serve")
        .arg("--settings")
        .arg(settings)
        .arg("--data")
        .arg(dir.join("data"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--outbox")
        .arg(dir.join("outbox"))
        .env_remove("RFT_SIGNING_SECRET")
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("rft-local.log"))
                .map_or_else(|_| Stdio::null(), Stdio::from),
        );
    command
}

/// Waits (20 s at most) until `base/healthz` answers 200.
pub async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("rft-local did not become healthy");
}
