//! `JobQueue` in memory on the test's clock: a delayed job is invisible until its delay has
//! passed, a received one until its visibility timeout has, and a job received
//! [`MAX_RECEIVES`] times without an acknowledgement goes to the dead-letter list.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::jobs::{Delivery, Job, MAX_RECEIVES};
use crate::ports::{JobQueue, MAX_DELAY, QueueError};
use crate::time::{Clock, Timestamp};

struct Queued {
    id: u64,
    job: Job,
    visible_at: Timestamp,
    receives: u32,
}

#[derive(Default)]
struct Lists {
    next_id: u64,
    queued: Vec<Queued>,
    dead: Vec<Job>,
    /// Every send, in order, with the delay asked for.
    sent: Vec<(Job, Duration)>,
}

/// The in-memory queue.
pub(crate) struct MemoryQueue {
    clock: Arc<dyn Clock>,
    lists: Mutex<Lists>,
}

impl MemoryQueue {
    /// An empty queue on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MemoryQueue { clock, lists: Mutex::new(Lists::default()) }
    }

    /// Every job sent so far, in order, with the delay each was sent with.
    pub fn sent(&self) -> Vec<(Job, Duration)> {
        self.lists.lock().unwrap().sent.clone()
    }

    /// Forgets what was sent and queued (the test moves on to its next step).
    pub fn clear(&self) {
        let mut lists = self.lists.lock().unwrap();
        lists.queued.clear();
        lists.sent.clear();
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    async fn send(&self, job: &Job) -> Result<(), QueueError> {
        self.send_after(job, Duration::ZERO).await
    }

    async fn send_after(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        let delay = delay.min(MAX_DELAY);
        let visible_at = self.clock.now().plus(delay);
        let mut lists = self.lists.lock().unwrap();
        lists.next_id += 1;
        let id = lists.next_id;
        lists.queued.push(Queued { id, job: job.clone(), visible_at, receives: 0 });
        lists.sent.push((job.clone(), delay));
        Ok(())
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, QueueError> {
        let now = self.clock.now();
        let mut lists = self.lists.lock().unwrap();
        let Lists { queued, dead, .. } = &mut *lists;
        let mut out = Vec::new();
        queued.retain_mut(|q| {
            if out.len() >= max || q.visible_at > now {
                return true;
            }
            if q.receives >= MAX_RECEIVES {
                dead.push(q.job.clone());
                return false;
            }
            q.receives += 1;
            q.visible_at = now.plus(visibility);
            out.push(Delivery {
                receipt: format!("{}/{}", q.id, q.receives),
                job: q.job.clone(),
                receive_count: q.receives,
            });
            true
        });
        Ok(out)
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        self.lists.lock().unwrap().queued.retain(|q| format!("{}/{}", q.id, q.receives) != receipt);
        Ok(())
    }

    async fn dead_letters(&self, max: usize) -> Result<Vec<Job>, QueueError> {
        let mut lists = self.lists.lock().unwrap();
        let n = lists.dead.len().min(max);
        Ok(lists.dead.drain(..n).collect())
    }
}
