//! The local stand-in for SES and SNS: every email and SMS is a JSON file in the outbox
//! directory, `{"channel", "to", "subject", "body", "kind"}` (plus the HTML part of emails),
//! written atomically so a reader never sees half a message.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde_json::json;

use rft_core::ports::{MessageError, Messenger, OutboundMessage};
use rft_core::{Clock, ids::random_base32};

/// Writes messages to a directory.
pub struct Outbox {
    dir: PathBuf,
    clock: std::sync::Arc<dyn Clock>,
    seq: AtomicU64,
}

impl Outbox {
    /// An outbox in `dir` (created if missing).
    pub fn new(dir: PathBuf, clock: std::sync::Arc<dyn Clock>) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Outbox { dir, clock, seq: AtomicU64::new(0) })
    }

    /// Every message in the outbox, oldest first (for tests and the demo).
    pub fn read_all(dir: &std::path::Path) -> std::io::Result<Vec<serde_json::Value>> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| {
                let bytes = std::fs::read(&p)?;
                serde_json::from_slice(&bytes).map_err(std::io::Error::other)
            })
            .collect()
    }
}

#[async_trait]
impl Messenger for Outbox {
    async fn send(&self, message: &OutboundMessage) -> Result<(), MessageError> {
        let fail = |e: std::io::Error| MessageError { kind: message.kind, source: Box::new(e) };
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let name = format!("{:013}-{seq:06}-{}", self.clock.now().as_millis().max(0), &random_base32()[..6]);
        let body = json!({
            "channel": message.channel,
            "to": message.to,
            "subject": message.subject,
            "body": message.body,
            "kind": message.kind,
            "html": message.html,
        });
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let path = self.dir.join(format!("{name}.json"));
        let bytes = serde_json::to_vec_pretty(&body).expect("JSON values serialise");
        tokio::fs::write(&tmp, bytes).await.map_err(fail)?;
        tokio::fs::rename(&tmp, &path).await.map_err(fail)?;
        tracing::info!(kind = ?message.kind, to = %message.to, file = %path.display(), "message written to the outbox");
        Ok(())
    }
}
