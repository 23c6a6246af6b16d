//! The click log: every click is durable before its redirect is sent, without paying a database
//! commit per click.
//!
//! Concurrent clicks queue for one writer thread (group commit). With a data directory, the
//! writer appends each group to a write-ahead log segment and makes it durable with one
//! `fdatasync`, then answers the group; a folder thread moves whole segments of thousands of
//! clicks into redb in one transaction each and deletes a segment once it is committed there.
//! redb's copy-on-write commit costs tens of microseconds per click in small groups and little
//! in large ones, which is what this buys. Reads and erasure first settle the log (everything
//! answered so far folded into redb), so they see every click that got a redirect; segments
//! left by a crash are folded in when the store next opens (re-inserting a click is harmless).
//! Without a directory (the in-memory store of tests) each group is committed to redb directly.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, channel, sync_channel};
use std::time::Duration;

use redb::Database;
use tokio::sync::oneshot;

use rft_core::Click;
use rft_core::ports::StoreError;

use crate::store::{encode, insert_clicks};

/// Most clicks taken into one group; bounds the time one group holds the writer.
const MAX_GROUP: usize = 1024;
/// Clicks per log segment: each segment is folded into redb in one transaction.
const SEGMENT_CLICKS: usize = 8192;
/// Segments handed to the folder and not yet folded, at most: beyond this the writer waits, so
/// a disk that cannot keep up slows the redirects instead of filling memory.
const FOLD_BACKLOG: usize = 4;
/// A quiet writer folds what it has after this long, so the log stays short.
const IDLE_FOLD: Duration = Duration::from_millis(250);

type Outcome = Result<(), Arc<ClickLogError>>;

/// Why the click log could not take a click or settle.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClickLogError {
    #[error("click log file {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] redb::Error),
    #[error("the click folder has stopped")]
    Stopped,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ClickLogError + '_ {
    move |source| ClickLogError::Io { path: path.display().to_string(), source }
}

enum Message {
    Click(Click, Waiter),
    Settle(Waiter),
}

/// The writer's inbox. Dropping the last clone ends the writer thread once its queue is empty.
#[derive(Clone)]
pub(crate) struct ClickWriter {
    inbox: Sender<Message>,
    /// With a log: how far logging and folding have got (none without one: nothing to settle).
    progress: Option<Arc<Progress>>,
}

/// Clicks logged (answered) and folded into redb so far, both in log order, so a read can tell
/// without asking anyone whether everything answered is already where it looks.
#[derive(Default)]
struct Progress {
    logged: AtomicU64,
    folded: AtomicU64,
}

impl ClickWriter {
    /// Starts the writer over `db`, logging to segments in `dir` (folding in any a crash left
    /// there first), or committing each group to `db` directly without one.
    pub(crate) fn start(db: Arc<Database>, dir: Option<&Path>) -> Result<Self, ClickLogError> {
        let (inbox, queue) = channel();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new().name(name.into()).spawn(f).expect("the click log's threads start");
        };
        let progress = match dir {
            None => {
                spawn("rft-click-writer", Box::new(move || run_direct(&db, &queue)));
                None
            }
            Some(dir) => {
                let next = recover(&db, dir)?;
                let progress = Arc::new(Progress::default());
                let (folds, folder) = sync_channel(FOLD_BACKLOG);
                let folded = progress.clone();
                spawn("rft-click-folder", Box::new(move || run_folder(&db, &folder, &folded)));
                let log = Log {
                    dir: dir.to_owned(),
                    next,
                    current: None,
                    clicks: Vec::new(),
                    folds,
                    progress: progress.clone(),
                };
                spawn("rft-click-writer", Box::new(move || log.run(&queue)));
                Some(progress)
            }
        };
        Ok(ClickWriter { inbox, progress })
    }

    /// Logs one click; returns once it is durable (with the others of its group).
    pub(crate) async fn record(&self, click: Click) -> Result<(), StoreError> {
        self.ask("log a click", |done| Message::Click(click, done)).await
    }

    /// Returns once every click answered before the call is in redb, where reads look.
    pub(crate) async fn settle(&self) -> Result<(), StoreError> {
        let Some(progress) = &self.progress else { return Ok(()) };
        // Folds go in log order, so folded >= logged means every answered click is in redb.
        let logged = progress.logged.load(Ordering::Acquire);
        if progress.folded.load(Ordering::Acquire) >= logged {
            return Ok(());
        }
        self.ask("settle the click log", Message::Settle).await
    }

    async fn ask(&self, op: &'static str, message: impl FnOnce(Waiter) -> Message) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        self.inbox.send(message(done)).map_err(|_| StoreError::unavailable(op, "the click writer has stopped"))?;
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::unavailable(op, e)),
            Err(_) => Err(StoreError::unavailable(op, "the click writer stopped mid-write")),
        }
    }
}

type Waiter = oneshot::Sender<Outcome>;

/// Takes what is waiting (up to a group) after `first`: the clicks, and who asks to settle.
fn gather(first: Message, queue: &Receiver<Message>) -> (Vec<(Click, Waiter)>, Vec<Waiter>) {
    let (mut clicks, mut settles) = (Vec::new(), Vec::new());
    let mut next = Some(first);
    while let Some(message) = next.take() {
        match message {
            Message::Click(click, done) => clicks.push((click, done)),
            Message::Settle(done) => settles.push(done),
        }
        if clicks.len() < MAX_GROUP {
            next = queue.try_recv().ok();
        }
    }
    (clicks, settles)
}

fn answer(waiters: impl IntoIterator<Item = Waiter>, outcome: &Outcome) {
    for done in waiters {
        // A waiter that gave up (its redirect went out on the time budget) is fine.
        let _ = done.send(outcome.clone());
    }
}

fn run_direct(db: &Database, queue: &Receiver<Message>) {
    while let Ok(first) = queue.recv() {
        let (clicks, settles) = gather(first, queue);
        let outcome = commit(db, clicks.iter().map(|(click, _)| click)).map_err(Arc::new);
        answer(clicks.into_iter().map(|(_, done)| done), &outcome);
        answer(settles, &Ok(()));
    }
}

fn commit<'c>(db: &Database, clicks: impl IntoIterator<Item = &'c Click>) -> Result<(), ClickLogError> {
    let txn = db.begin_write().map_err(redb::Error::from)?;
    insert_clicks(&txn, clicks)?;
    txn.commit().map_err(redb::Error::from)?;
    Ok(())
}

// ---- the write-ahead log --------------------------------------------------------------------

/// One segment's clicks on their way into redb, and who waits for them to arrive.
struct Fold {
    clicks: Vec<Click>,
    segment: Option<PathBuf>,
    waiters: Vec<Waiter>,
}

struct Log {
    dir: PathBuf,
    next: u64,
    current: Option<(PathBuf, File)>,
    clicks: Vec<Click>,
    folds: SyncSender<Fold>,
    progress: Arc<Progress>,
}

impl Log {
    fn run(mut self, queue: &Receiver<Message>) {
        loop {
            let first = match queue.recv_timeout(IDLE_FOLD) {
                Ok(message) => message,
                Err(RecvTimeoutError::Timeout) => {
                    if !self.clicks.is_empty() {
                        self.rotate(Vec::new());
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let (clicks, settles) = gather(first, queue);
            if !clicks.is_empty() {
                let (clicks, waiters): (Vec<Click>, Vec<Waiter>) = clicks.into_iter().unzip();
                let outcome = self.append(&clicks).map_err(Arc::new);
                if outcome.is_ok() {
                    self.progress.logged.fetch_add(clicks.len() as u64, Ordering::Release);
                    self.clicks.extend(clicks);
                } else {
                    // The segment may end in a torn record now: start a fresh one.
                    self.rotate(Vec::new());
                }
                answer(waiters, &outcome);
            }
            if !settles.is_empty() || self.clicks.len() >= SEGMENT_CLICKS {
                self.rotate(settles);
            }
        }
        self.rotate(Vec::new());
    }

    /// Appends a group to the current segment and makes it durable.
    fn append(&mut self, clicks: &[Click]) -> Result<(), ClickLogError> {
        let mut records = Vec::new();
        for click in clicks {
            write_record(&mut records, click);
        }
        let (path, file) = match &mut self.current {
            Some(open) => open,
            None => {
                let path = self.dir.join(format!("clicks-{:016}.wal", self.next));
                let file = OpenOptions::new().create_new(true).append(true).open(&path).map_err(io_error(&path))?;
                self.next += 1;
                // The new file's name must be durable too, or a crash could lose the segment.
                File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io_error(&self.dir))?;
                self.current.insert((path, file))
            }
        };
        file.write_all(&records).and_then(|()| file.sync_data()).map_err(io_error(path))
    }

    /// Hands the current segment to the folder (and the settlers, answered once it is in).
    fn rotate(&mut self, waiters: Vec<Waiter>) {
        let segment = self.current.take().map(|(path, _)| path);
        let fold = Fold { clicks: std::mem::take(&mut self.clicks), segment, waiters };
        if let Err(lost) = self.folds.send(fold) {
            answer(lost.0.waiters, &Err(Arc::new(ClickLogError::Stopped)));
        }
    }
}

fn run_folder(db: &Database, folds: &Receiver<Fold>, progress: &Progress) {
    // A fold that fails stays first in line (its clicks stay on disk), so later segments never
    // overtake it; the next fold to arrive retries it.
    let mut backlog: VecDeque<Fold> = VecDeque::new();
    while let Ok(fold) = folds.recv() {
        backlog.push_back(fold);
        while let Some(fold) = backlog.front() {
            match fold_in(db, fold) {
                Ok(()) => {
                    let fold = backlog.pop_front().expect("the front fold exists");
                    progress.folded.fetch_add(fold.clicks.len() as u64, Ordering::Release);
                    answer(fold.waiters, &Ok(()));
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not fold the click log into the store; will retry");
                    let failure = Err(Arc::new(e));
                    for fold in &mut backlog {
                        answer(std::mem::take(&mut fold.waiters), &failure);
                    }
                    break;
                }
            }
        }
    }
}

fn fold_in(db: &Database, fold: &Fold) -> Result<(), ClickLogError> {
    if !fold.clicks.is_empty() {
        commit(db, &fold.clicks)?;
    }
    if let Some(segment) = &fold.segment {
        std::fs::remove_file(segment).map_err(io_error(segment))?;
    }
    Ok(())
}

/// One record per line: a CRC-32 of the JSON, then the JSON. A torn or damaged line fails its
/// check.
fn write_record(out: &mut Vec<u8>, click: &Click) {
    let json = encode(click);
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{:08x} ", crc32fast::hash(&json));
    out.extend_from_slice(&json);
    out.push(b'\n');
}

fn parse(line: &str) -> Option<Click> {
    let (sum, json) = line.split_once(' ')?;
    (u32::from_str_radix(sum, 16).ok()? == crc32fast::hash(json.as_bytes())).then(|| serde_json::from_str(json).ok())?
}

/// Folds the segments a crash left into redb, oldest first, and returns the next segment number.
fn recover(db: &Database, dir: &Path) -> Result<u64, ClickLogError> {
    let mut segments: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .map_err(io_error(dir))?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let n = path.file_name()?.to_str()?.strip_prefix("clicks-")?.strip_suffix(".wal")?.parse().ok()?;
            Some((n, path))
        })
        .collect();
    segments.sort();
    for (_, path) in &segments {
        let bytes = std::fs::read(path).map_err(io_error(path))?;
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').filter(|line| !line.is_empty()).collect();
        // A line that fails its check is skipped: a crash can only tear the last one (never
        // answered), and skipping rather than stopping keeps the lines after a damaged one.
        let clicks: Vec<Click> =
            lines.iter().filter_map(|line| std::str::from_utf8(line).ok().and_then(parse)).collect();
        tracing::info!(
            segment = %path.display(),
            clicks = clicks.len(),
            skipped = lines.len() - clicks.len(),
            "folding a click log segment left by a restart"
        );
        fold_in(db, &Fold { clicks, segment: Some(path.clone()), waiters: Vec::new() })?;
    }
    Ok(segments.last().map_or(0, |(n, _)| n + 1))
}

#[cfg(test)]
mod tests {
    use rft_core::click::TouchKey;
    use rft_core::ports::ClickStore;
    use rft_core::{Code, Timestamp, Token};

    use crate::LocalStore;

    fn clicks(n: u64) -> Vec<rft_core::Click> {
        let at = Timestamp::from_secs(1_900_000_000);
        (0..n)
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
            .collect()
    }

    async fn burst(store: &LocalStore, clicks: &[rft_core::Click]) {
        let writes = clicks.iter().cloned().map(|click| {
            let store = store.clone();
            tokio::spawn(async move { store.record(&click).await })
        });
        for write in writes.collect::<Vec<_>>() {
            write.await.unwrap().expect("logged");
        }
    }

    fn record(click: &rft_core::Click) -> Vec<u8> {
        let mut line = Vec::new();
        super::write_record(&mut line, click);
        line
    }

    fn segments(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "wal"))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn every_click_of_a_concurrent_burst_is_committed_before_its_answer() {
        let store = LocalStore::in_memory();
        let clicks = clicks(500);
        burst(&store, &clicks).await;
        let at = clicks[0].at;
        for click in &clicks {
            assert_eq!(store.touches(&click.key, at).await.unwrap(), vec![click.clone()]);
        }
    }

    /// A click answered from the log is seen by the very next read, and the log is emptied
    /// into redb as it goes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn reads_see_every_logged_click_and_the_log_empties_into_the_store() {
        let dir = std::env::temp_dir().join(format!("rft-clicklog-{}", Token::generate().as_str()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = LocalStore::open(&dir).unwrap();
        let clicks = clicks(3000);
        burst(&store, &clicks).await;
        let at = clicks[0].at;
        let code = Code::parse("7QK2A9").unwrap();
        assert_eq!(store.count_for_code(&code, at, at).await.unwrap(), 3000);
        assert!(segments(&dir).is_empty(), "settled: every segment folded and deleted");
        for click in clicks.iter().step_by(97) {
            assert_eq!(store.touches(&click.key, at).await.unwrap(), vec![click.clone()]);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Erasure right after a click still finds it: the log is settled first, so the click is
    /// neither left in a segment nor folded back in after the erasure.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn erasure_right_after_a_click_leaves_nothing_in_the_log_or_the_store() {
        let dir = std::env::temp_dir().join(format!("rft-clicklog-{}", Token::generate().as_str()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = LocalStore::open(&dir).unwrap();
        let click = clicks(1).remove(0);
        store.record(&click).await.unwrap();
        assert_eq!(store.forget(&click.key).await.unwrap(), 1, "the logged click is found and forgotten");
        tokio::time::sleep(super::IDLE_FOLD * 2).await;
        let id = click.key.attribution_id();
        assert!(!store.dump().await.contains(id.as_str()), "nothing of it in the store");
        for segment in segments(&dir) {
            assert!(!std::fs::read_to_string(segment).unwrap().contains(id.as_str()), "nothing of it in the log");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Segments a crash left (a torn last record, and a damaged one mid-segment) are folded in
    /// when the store opens: every sound record is kept, the others dropped, the files removed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn segments_left_by_a_crash_are_folded_in_at_open() {
        let dir = std::env::temp_dir().join(format!("rft-clicklog-{}", Token::generate().as_str()));
        std::fs::create_dir_all(&dir).unwrap();
        let clicks = clicks(5);
        let mut first: Vec<u8> = clicks[..1].iter().flat_map(record).collect();
        let mut damaged = record(&clicks[4]);
        damaged[3] ^= 0x01; // its checksum no longer matches
        first.extend_from_slice(&damaged);
        first.extend(clicks[1..3].iter().flat_map(record));
        let torn = record(&clicks[4]);
        first.extend_from_slice(&torn[..torn.len() / 2]);
        std::fs::write(dir.join("clicks-0000000000000007.wal"), first).unwrap();
        std::fs::write(dir.join("clicks-0000000000000008.wal"), record(&clicks[3])).unwrap();
        let store = LocalStore::open(&dir).unwrap();
        assert!(segments(&dir).is_empty(), "recovered segments are removed");
        let at = clicks[0].at;
        for click in &clicks[..4] {
            assert_eq!(store.touches(&click.key, at).await.unwrap(), vec![click.clone()], "whole records kept");
        }
        assert!(store.touches(&clicks[4].key, at).await.unwrap().is_empty(), "torn and damaged records are dropped");
        store.record(&clicks[4]).await.unwrap();
        assert_eq!(store.count_for_code(&clicks[4].code, at, at).await.unwrap(), 5, "numbering continues");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
