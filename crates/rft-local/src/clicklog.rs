//! Group commit for the click log. Every click must be durable before its redirect is sent, and
//! one fsync per click caps a laptop at a few hundred clicks a second. So concurrent clicks
//! queue for one writer thread, which writes everything waiting in one transaction, commits
//! once, and only then answers each of them: one fsync covers the whole group, and no click is
//! answered before it is on disk.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};

use redb::Database;
use tokio::sync::oneshot;

use rft_core::Click;
use rft_core::ports::StoreError;

use crate::store::insert_clicks;

/// Most clicks committed in one transaction; bounds the time one group holds the writer.
const MAX_GROUP: usize = 1024;

type Outcome = Result<(), Arc<redb::Error>>;

struct Pending {
    click: Click,
    done: oneshot::Sender<Outcome>,
}

/// The writer's inbox. Dropping the last clone ends the writer thread once its queue is empty.
#[derive(Clone)]
pub(crate) struct ClickWriter {
    inbox: Sender<Pending>,
}

impl ClickWriter {
    /// Starts the writer thread over `db`.
    pub(crate) fn start(db: Arc<Database>) -> Self {
        let (inbox, queue) = channel();
        std::thread::Builder::new()
            .name("rft-click-writer".into())
            .spawn(move || run(&db, &queue))
            .expect("the click writer thread starts");
        ClickWriter { inbox }
    }

    /// Logs one click; returns once it is committed (with the others of its group).
    pub(crate) async fn record(&self, click: Click) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        self.inbox
            .send(Pending { click, done })
            .map_err(|_| StoreError::unavailable("log a click", "the click writer has stopped"))?;
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::unavailable("log a click", e)),
            Err(_) => Err(StoreError::unavailable("log a click", "the click writer stopped mid-commit")),
        }
    }
}

fn run(db: &Database, queue: &Receiver<Pending>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let outcome = commit(db, &group).map_err(Arc::new);
        for pending in group {
            // A waiter that gave up (its redirect went out on the time budget) is fine.
            let _ = pending.done.send(outcome.clone());
        }
    }
}

fn commit(db: &Database, group: &[Pending]) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    insert_clicks(&txn, group.iter().map(|pending| &pending.click))?;
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rft_core::click::TouchKey;
    use rft_core::ports::ClickStore;
    use rft_core::{Code, Timestamp, Token};

    use crate::LocalStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn every_click_of_a_concurrent_burst_is_committed_before_its_answer() {
        let store = LocalStore::in_memory();
        let at = Timestamp::from_secs(1_900_000_000);
        let clicks: Vec<_> = (0..500)
            .map(|i| rft_core::Click {
                key: TouchKey::Token(Token::generate()),
                at: at.plus(std::time::Duration::from_millis(i)),
                code: Code::parse("7QK2A9").unwrap(),
                ip_hash: None,
                user_agent: None,
                channel: None,
                browser: None,
                expires_at: at.plus(std::time::Duration::from_secs(3600)),
            })
            .collect();
        let writes = clicks.iter().cloned().map(|click| {
            let store = store.clone();
            tokio::spawn(async move { store.record(&click).await })
        });
        for write in writes.collect::<Vec<_>>() {
            write.await.unwrap().expect("committed");
        }
        for click in &clicks {
            assert_eq!(store.touches(&click.key, at).await.unwrap(), vec![click.clone()]);
        }
    }
}
