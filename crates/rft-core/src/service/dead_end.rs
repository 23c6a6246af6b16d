//! Jobs that can never succeed: a job on the wrong queue, a message that is not a job, a job
//! about something corrupt or missing. Redelivering them five times into a dead-letter queue
//! only hides them; instead each is written to the audit and emailed to the team, and the
//! message is acknowledged. (Jobs that fail for a reason a retry can cure still go back to the
//! queue, and after five receives to its dead-letter queue.)

use std::sync::Arc;

use serde_json::json;

use crate::audit::{AuditEvent, AuditKind};
use crate::jobs::Job;
use crate::ports::{AuditStore, Messenger};
use crate::settings::Settings;
use crate::time::Clock;

/// Records jobs that can never succeed.
pub struct DeadEnds {
    audit: Arc<dyn AuditStore>,
    messenger: Arc<dyn Messenger>,
    settings: Arc<Settings>,
    clock: Arc<dyn Clock>,
}

impl DeadEnds {
    /// Over the audit and the team's mailbox.
    pub fn new(
        audit: Arc<dyn AuditStore>,
        messenger: Arc<dyn Messenger>,
        settings: Arc<Settings>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        DeadEnds { audit, messenger, settings, clock }
    }

    /// A job that failed for good.
    pub async fn job(&self, job: &Job, reason: &str) {
        self.record(job.kind(), &job.subject(), reason, json!({ "job": job })).await;
    }

    /// A message that is not a job at all. Its start is kept for the person who looks: on our
    /// own queues it can only be a job from a newer or older release, or one sent by hand.
    pub async fn not_a_job(&self, message_id: &str, body: &str) {
        let start: String = body.chars().take(2000).collect();
        let what = json!({ "message_id": message_id, "body_start": start });
        self.record("unreadable", message_id, "the message is not a job this release can read", what).await;
    }

    async fn record(&self, kind: &str, subject: &str, reason: &str, what: serde_json::Value) {
        tracing::error!(kind, subject, reason, "a job that can never succeed was set aside for a person");
        let facts = json!({ "kind": kind, "reason": reason, "what": what });
        let event = AuditEvent::new(AuditKind::JobDropped, subject, self.clock.now(), facts);
        if let Err(e) = self.audit.append(&event).await {
            tracing::error!(error = %e, "could not audit a job set aside");
        }
        let message = crate::team_mail::job_dropped(&self.settings, kind, subject, reason);
        if let Err(e) = self.messenger.send(&message).await {
            tracing::error!(error = %e, "could not email the team about a job set aside");
        }
    }
}
