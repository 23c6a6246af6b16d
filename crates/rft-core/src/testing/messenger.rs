//! `Messenger` that keeps what it is given, and can refuse the next message.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use crate::ports::{MessageError, MessageKind, Messenger, OutboundMessage};

/// Records every message sent.
#[derive(Default)]
pub(crate) struct RecordingMessenger {
    sent: Mutex<Vec<OutboundMessage>>,
    fail_next: AtomicBool,
}

impl RecordingMessenger {
    /// Every message sent, in order.
    pub fn sent(&self) -> Vec<OutboundMessage> {
        self.sent.lock().unwrap().clone()
    }

    /// The messages of one kind.
    pub fn of_kind(&self, kind: MessageKind) -> Vec<OutboundMessage> {
        self.sent().into_iter().filter(|m| m.kind == kind).collect()
    }

    /// The next message fails as a provider outage would (and is not recorded).
    pub fn fail_next(&self) {
        self.fail_next.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl Messenger for RecordingMessenger {
    async fn send(&self, message: &OutboundMessage) -> Result<(), MessageError> {
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(MessageError { kind: message.kind, source: "the test's provider is down".into() });
        }
        self.sent.lock().unwrap().push(message.clone());
        Ok(())
    }
}
