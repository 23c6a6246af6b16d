//! The click log is the click store: append-only segment files of binary records
//! ([`record`]), an in-memory index of the newest record of each token, email and browser
//! (each record points back at the previous one of its key), and rollup counts kept as the
//! clicks are written ([`counts`]). Every click is durable before its redirect is sent.
//!
//! **Group commit without a writer thread.** A click is encoded on its request's thread and
//! queued under a lock; a request that finds no write under way starts one on the blocking pool,
//! which takes everything queued, adds the back pointers, appends it to the current segment with
//! one `write`, makes it durable with one `fdatasync`, publishes the records to the index and the
//! counts, wakes exactly the requests whose clicks those were (a oneshot each), and goes on with
//! what queued meanwhile until nothing is left. So a busy log is written continuously, an idle
//! one has no thread waiting, and nothing queued is left behind by a request that gave up
//! waiting. One thread hop per burst, not per click; no JSON, no B-tree per click.
//!
//! **Segments** (`data/clicks-<n>.log`, 64 MiB at most, a new one each UTC day) are deleted,
//! oldest first, once every click in them has expired and the counts have been folded past
//! them. At start, segments are read back in order: every record whose CRC holds is indexed
//! (a crash can only tear the last one, which was never answered; a damaged one is skipped and
//! the chains through it repaired), and the clicks after the folded counts' position are
//! counted again. The index costs about 30 bytes of memory per distinct token in the window.
//!
//! **Erasure** rewrites a key's records in place with the personal fields zeroed and syncs.
//!
//! Without a data directory (the in-memory store of tests) segments are memory buffers and
//! nothing is synced; everything else is the same code.

pub(crate) mod counts;
mod record;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use redb::Database;
use tokio::sync::oneshot;

use rft_core::click::TouchKey;
use rft_core::identity::IdentityHash;
use rft_core::ports::StoreError;
use rft_core::rollup::{RollupRow, code_slot};
use rft_core::{Click, Timestamp};

pub(crate) use counts::{ROLLUPS, add_steps};

/// A segment grows to this size at most.
const SEGMENT_BYTES: u64 = 64 << 20;
/// How often the counts are folded into redb and expired segments removed.
const FOLD_EVERY: Duration = Duration::from_secs(1);
/// Failed groups remembered for their waiters.
const FAILURES_KEPT: usize = 64;

type Outcome = Result<(), Arc<ClickLogError>>;

/// Why the click log could not take a click.
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
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ClickLogError + '_ {
    move |source| ClickLogError::Io { path: path.display().to_string(), source }
}

/// Keys already hashed: the index's maps use them as they are.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Fingerprints = HashMap<u64, u64, BuildHasherDefault<Identity>>;

/// Where a segment's bytes live.
enum Backing {
    File(File, PathBuf),
    Memory(Mutex<Vec<u8>>),
}

impl Backing {
    fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<(), ClickLogError> {
        match self {
            Backing::File(f, path) => f.write_all_at(bytes, offset).map_err(io_error(path)),
            Backing::Memory(m) => {
                let mut m = m.lock().unwrap_or_else(PoisonError::into_inner);
                let end = offset as usize + bytes.len();
                if m.len() < end {
                    m.resize(end, 0);
                }
                m[offset as usize..end].copy_from_slice(bytes);
                Ok(())
            }
        }
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> bool {
        match self {
            Backing::File(f, _) => f.read_exact_at(buf, offset).is_ok(),
            Backing::Memory(m) => {
                let m = m.lock().unwrap_or_else(PoisonError::into_inner);
                match m.get(offset as usize..offset as usize + buf.len()) {
                    Some(bytes) => {
                        buf.copy_from_slice(bytes);
                        true
                    }
                    None => false,
                }
            }
        }
    }

    fn sync(&self) -> Result<(), ClickLogError> {
        match self {
            Backing::File(f, path) => f.sync_data().map_err(io_error(path)),
            Backing::Memory(_) => Ok(()),
        }
    }

    fn all(&self) -> Result<Vec<u8>, ClickLogError> {
        match self {
            Backing::File(_, path) => std::fs::read(path).map_err(io_error(path)),
            Backing::Memory(m) => Ok(m.lock().unwrap_or_else(PoisonError::into_inner).clone()),
        }
    }
}

/// A log position: the segment's number in the high half, the offset in the low half.
fn position(segment: u32, offset: u64) -> u64 {
    (u64::from(segment) << 32) | offset
}

fn segment_of(pos: u64) -> u32 {
    (pos >> 32) as u32
}

fn offset_of(pos: u64) -> u64 {
    pos & 0xffff_ffff
}

struct Segment {
    backing: Arc<Backing>,
    /// Bytes durable so far.
    len: u64,
    /// The latest expiry of any click in it.
    max_expiry: i64,
}

#[derive(Default)]
struct Index {
    keys: Fingerprints,
    browsers: Fingerprints,
    /// Back pointers that recovery found wrong (a damaged or erased record on the chain):
    /// (record position, browser chain?) -> the right previous position (`None`: the first).
    repairs: HashMap<(u64, bool), Option<u64>>,
    segments: BTreeMap<u32, Segment>,
}

/// The segment being appended to, owned by whoever leads.
struct Writer {
    current: Option<(u32, Arc<Backing>, u64, i64)>,
    next: u32,
    scratch: Vec<u8>,
}

/// A click on its way to the log: encoded on the request's thread, with what the writer needs.
struct Queued {
    body: record::Body,
    key: u64,
    browser: Option<u64>,
    code: u32,
    at_ms: i64,
    expires_ms: i64,
    day: i64,
}

struct State {
    queue: Vec<Queued>,
    /// Requests waiting for their click (by its number) to be durable; woken one by one.
    waiters: VecDeque<(u64, oneshot::Sender<()>)>,
    appended: u64,
    /// Clicks up to this number are durable or failed.
    settled: u64,
    failures: VecDeque<(u64, u64, Arc<ClickLogError>)>,
    /// `None` while a leader writes.
    writer: Option<Writer>,
}

struct Inner {
    /// Tests stop the background folds to take a crash's picture of the files.
    #[cfg(test)]
    paused: std::sync::atomic::AtomicBool,
    db: Arc<Database>,
    dir: Option<PathBuf>,
    fingerprints: RandomState,
    state: Mutex<State>,
    index: RwLock<Index>,
    counts: Mutex<counts::Counts>,
}

/// The click store. Cheap to clone; clones share the log.
#[derive(Clone)]
pub(crate) struct ClickLog {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ClickLog {
    /// Opens the log in `dir` (reading back what is there), or in memory without one; starts
    /// the thread that folds counts and removes expired segments.
    pub(crate) fn open(db: Arc<Database>, dir: Option<&Path>) -> Result<Self, ClickLogError> {
        let counts = counts::Counts::resume(&db)?;
        let inner = Arc::new(Inner {
            #[cfg(test)]
            paused: std::sync::atomic::AtomicBool::new(false),
            db,
            dir: dir.map(Path::to_owned),
            fingerprints: RandomState::new(),
            state: Mutex::new(State {
                queue: Vec::new(),
                waiters: VecDeque::new(),
                appended: 0,
                settled: 0,
                failures: VecDeque::new(),
                writer: Some(Writer { current: None, next: 0, scratch: Vec::new() }),
            }),
            index: RwLock::new(Index::default()),
            counts: Mutex::new(counts),
        });
        if let Some(dir) = dir {
            let next = inner.recover(dir)?;
            if let Some(w) = lock(&inner.state).writer.as_mut() {
                w.next = next;
            }
            legacy::migrate(&inner, dir)?;
        }
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("rft-click-counts".into())
            .spawn(move || background(&weak))
            .expect("the click log's thread starts");
        Ok(ClickLog { inner })
    }

    /// Logs one click; returns once it is durable.
    pub(crate) async fn record(&self, click: &Click) -> Result<(), StoreError> {
        let inner = &self.inner;
        let queued = inner.queued(click);
        let seq = {
            let mut st = lock(&inner.state);
            st.queue.push(queued);
            st.appended += 1;
            st.appended
        };
        loop {
            let (woken, writer) = {
                let mut st = lock(&inner.state);
                if st.settled >= seq {
                    return match st.failures.iter().find(|(from, to, _)| (*from..=*to).contains(&seq)) {
                        Some((_, _, e)) => Err(StoreError::unavailable("log a click", e.clone())),
                        None => Ok(()),
                    };
                }
                let (tx, rx) = oneshot::channel();
                st.waiters.push_back((seq, tx));
                (rx, st.writer.take())
            };
            if let Some(writer) = writer {
                if inner.dir.is_none() {
                    inner.drain(writer);
                } else {
                    // Writes and syncs block: on the blocking pool, so both request workers keep
                    // answering meanwhile. It runs until the queue is empty, whoever waits.
                    let inner = inner.clone();
                    tokio::task::spawn_blocking(move || inner.drain(writer));
                }
            }
            // Woken once this click is durable (or failed).
            if woken.await.is_err() {
                return Err(StoreError::unavailable("log a click", "the click log's writer stopped"));
            }
        }
    }

    /// The unexpired touches filed under `key`, newest first.
    pub(crate) fn touches(&self, key: &TouchKey, now: Timestamp) -> Vec<Click> {
        let fp = self.inner.fingerprints.hash_one(key);
        let start = self.inner.read_index().keys.get(&fp).copied();
        let mut out = Vec::new();
        self.inner.walk(start, false, |_, r| {
            if !r.erased && r.click.key == *key && r.click.expires_at > now {
                out.push(r.click);
            }
            true
        });
        out.sort_by_key(|c| std::cmp::Reverse(c.at));
        out
    }

    /// The newest unexpired click from `browser` in `since..=now`.
    pub(crate) fn latest_from_browser(
        &self,
        browser: &IdentityHash,
        since: Timestamp,
        now: Timestamp,
    ) -> Option<Click> {
        let fp = self.inner.fingerprints.hash_one(browser);
        let start = self.inner.read_index().browsers.get(&fp).copied();
        let mut best: Option<Click> = None;
        self.inner.walk(start, true, |_, r| {
            let c = r.click;
            // Records are in the order clicks were answered, so the walk can stop once it is
            // before the lookback.
            if c.at < since {
                return false;
            }
            if !r.erased
                && c.browser.as_ref() == Some(browser)
                && c.at <= now
                && c.expires_at > now
                && best.as_ref().is_none_or(|b| c.at > b.at)
            {
                best = Some(c);
            }
            true
        });
        best
    }

    /// Erases every record filed under `key` (rewritten in place, synced); returns how many.
    pub(crate) fn forget(&self, key: &TouchKey) -> Result<usize, ClickLogError> {
        let fp = self.inner.fingerprints.hash_one(key);
        let start = self.inner.read_index().keys.get(&fp).copied();
        let mut doomed = Vec::new();
        self.inner.walk(start, false, |pos, r| {
            if !r.erased && r.click.key == *key {
                doomed.push(pos);
            }
            true
        });
        let mut touched: HashMap<u32, Arc<Backing>> = HashMap::new();
        for pos in &doomed {
            let Some((backing, bytes)) = self.inner.read_record(*pos) else { continue };
            if let Some(wiped) = record::erased(&bytes) {
                backing.write_at(offset_of(*pos), &wiped)?;
                touched.insert(segment_of(*pos), backing);
            }
        }
        for backing in touched.values() {
            backing.sync()?;
        }
        Ok(doomed.len())
    }

    /// A rollup series' rows, with the clicks counted and not yet folded.
    pub(crate) fn rows(&self, series: &str, from: i64, to: i64) -> Result<Vec<RollupRow>, redb::Error> {
        counts::rows(&self.inner.db, &self.inner.counts, series, from, to)
    }

    /// Folds the counts into redb now (tests; the background thread does it every second).
    #[cfg(test)]
    pub(crate) fn fold(&self) -> Result<bool, redb::Error> {
        counts::fold(&self.inner.db, &self.inner.counts)
    }

    /// Removes segments whose clicks have all expired by `now` and are folded (tests call it
    /// with their own clock).
    #[cfg(test)]
    pub(crate) fn purge(&self, now: Timestamp) -> usize {
        self.inner.purge(now)
    }

    /// Every record as text (tests that prove what is and is not stored).
    pub(crate) fn dump(&self) -> String {
        let mut out = String::new();
        let segments: Vec<Arc<Backing>> =
            self.inner.read_index().segments.values().map(|s| s.backing.clone()).collect();
        for backing in segments {
            let Ok(bytes) = backing.all() else { continue };
            scan(&bytes, |_, _, r| out.push_str(&format!("click {:?}\n", r.click)));
        }
        out
    }
}

/// Folds counts and removes expired segments every second, until the log is dropped.
fn background(inner: &Weak<Inner>) {
    loop {
        std::thread::sleep(FOLD_EVERY);
        let Some(inner) = inner.upgrade() else { return };
        #[cfg(test)]
        if inner.paused.load(std::sync::atomic::Ordering::SeqCst) {
            continue;
        }
        if let Err(e) = counts::fold(&inner.db, &inner.counts) {
            tracing::error!(error = %e, "could not fold the click counts; will retry");
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        inner.purge(Timestamp::from_millis(now));
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(e) = counts::fold(&self.db, &self.counts) {
            tracing::warn!(error = %e, "click counts not folded at close; they are recounted from the log at start");
        }
    }
}

/// Calls `visit(position, length, record)` for each sound record of a segment's bytes, in
/// order; a torn tail ends the scan, a damaged record of plausible length is skipped.
fn scan(bytes: &[u8], mut visit: impl FnMut(u64, usize, record::Record)) -> usize {
    let mut offset = 0usize;
    let mut skipped = 0;
    while offset + record::HEADER <= bytes.len() {
        let Some(len) = record::length(&bytes[offset..]) else { break };
        if offset + len > bytes.len() {
            break;
        }
        match record::decode(&bytes[offset..offset + len]) {
            Some(r) => visit(offset as u64, len, r),
            None => skipped += 1,
        }
        offset += len;
    }
    skipped
}

impl Inner {
    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_index(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// A click encoded for the queue, on the calling thread.
    fn queued(&self, click: &Click) -> Queued {
        Queued {
            body: record::body(click),
            key: self.fingerprints.hash_one(&click.key),
            browser: click.browser.as_ref().map(|b| self.fingerprints.hash_one(b)),
            code: code_slot(&click.code) as u32,
            at_ms: click.at.as_millis(),
            expires_ms: click.expires_at.as_millis(),
            day: click.at.day(),
        }
    }

    /// Writes groups while clicks are queued, then hands the writer back: each group appended
    /// and synced once, published, settled, and its waiters woken.
    fn drain(&self, mut writer: Writer) {
        loop {
            let (group, last) = {
                let mut st = lock(&self.state);
                if st.queue.is_empty() {
                    st.writer = Some(writer);
                    return;
                }
                let room = st.queue.len().next_power_of_two();
                (std::mem::replace(&mut st.queue, Vec::with_capacity(room)), st.appended)
            };
            let first = last + 1 - group.len() as u64;
            let outcome: Outcome = self.write_group(&mut writer, &group).map_err(Arc::new);
            let mut st = lock(&self.state);
            if let Err(e) = outcome {
                tracing::error!(error = %e, clicks = group.len(), "clicks not logged; starting a new segment");
                // The segment may end in a torn record now: the next group starts a fresh one.
                writer.current = None;
                st.failures.push_back((first, last, e));
                if st.failures.len() > FAILURES_KEPT {
                    st.failures.pop_front();
                }
            }
            st.settled = last;
            while st.waiters.front().is_some_and(|(seq, _)| *seq <= last) {
                if let Some((_, done)) = st.waiters.pop_front() {
                    let _ = done.send(());
                }
            }
        }
    }

    fn open_segment(&self, number: u32) -> Result<Arc<Backing>, ClickLogError> {
        let backing = match &self.dir {
            None => Backing::Memory(Mutex::new(Vec::new())),
            Some(dir) => {
                let path = segment_path(dir, number);
                let file =
                    OpenOptions::new().read(true).write(true).create_new(true).open(&path).map_err(io_error(&path))?;
                // The new file's name must be durable too, or a crash could lose the segment.
                File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))?;
                Backing::File(file, path)
            }
        };
        let backing = Arc::new(backing);
        self.write_index().segments.insert(number, Segment { backing: backing.clone(), len: 0, max_expiry: i64::MIN });
        Ok(backing)
    }

    fn write_group(&self, w: &mut Writer, group: &[Queued]) -> Result<(), ClickLogError> {
        let day = group[0].day;
        let (number, backing, base) = match &w.current {
            Some((number, backing, len, d)) if *d == day && *len < SEGMENT_BYTES => (*number, backing.clone(), *len),
            _ => {
                let number = w.next;
                w.next += 1;
                let backing = self.open_segment(number)?;
                w.current = Some((number, backing.clone(), 0, day));
                (number, backing, 0)
            }
        };
        let mut buf = std::mem::take(&mut w.scratch);
        buf.clear();
        struct Entry {
            key: u64,
            browser: Option<u64>,
            pos: u64,
            end: u64,
        }
        let mut entries = Vec::with_capacity(group.len());
        {
            let index = self.read_index();
            let mut keys: HashMap<u64, u64, BuildHasherDefault<Identity>> = HashMap::default();
            let mut browsers: HashMap<u64, u64, BuildHasherDefault<Identity>> = HashMap::default();
            for click in group {
                let pos = position(number, base + buf.len() as u64);
                let key = click.key;
                let prev = keys.get(&key).or(index.keys.get(&key)).map_or(0, |p| pos - p);
                let browser = click.browser;
                let prev_browser =
                    browser.and_then(|b| browsers.get(&b).or(index.browsers.get(&b))).map_or(0, |p| pos - p);
                let len = record::seal_into(&mut buf, &click.body, prev, prev_browser);
                keys.insert(key, pos);
                if let Some(b) = browser {
                    browsers.insert(b, pos);
                }
                entries.push(Entry { key, browser, pos, end: pos + len as u64 });
            }
        }
        let written = backing.write_at(base, &buf).and_then(|()| backing.sync());
        let end = base + buf.len() as u64;
        w.scratch = buf;
        written?;
        if let Some(current) = w.current.as_mut() {
            current.2 = end;
        }
        let max_expiry = group.iter().map(|c| c.expires_ms).max().unwrap_or(i64::MIN);
        {
            let mut index = self.write_index();
            for e in &entries {
                index.keys.insert(e.key, e.pos);
                if let Some(b) = e.browser {
                    index.browsers.insert(b, e.pos);
                }
            }
            if let Some(segment) = index.segments.get_mut(&number) {
                segment.len = end;
                segment.max_expiry = segment.max_expiry.max(max_expiry);
            }
        }
        let mut counts = lock(&self.counts);
        for (click, e) in group.iter().zip(&entries) {
            counts.add(click.code, click.at_ms, click.body.channel(), e.end);
        }
        Ok(())
    }

    /// A record's bytes, with the segment holding it.
    fn read_record(&self, pos: u64) -> Option<(Arc<Backing>, Vec<u8>)> {
        let (backing, len) = {
            let index = self.read_index();
            let s = index.segments.get(&segment_of(pos))?;
            (s.backing.clone(), s.len)
        };
        let offset = offset_of(pos);
        let mut header = [0u8; record::HEADER];
        if offset + record::HEADER as u64 > len || !backing.read_at(offset, &mut header) {
            return None;
        }
        let total = record::length(&header)?;
        if offset + total as u64 > len {
            return None;
        }
        let mut bytes = vec![0u8; total];
        backing.read_at(offset, &mut bytes).then_some((backing, bytes))
    }

    /// Walks a chain back from `start` (the key's chain, or the browser's), while `visit` says
    /// to go on.
    fn walk(&self, start: Option<u64>, browser: bool, mut visit: impl FnMut(u64, record::Record) -> bool) {
        let mut next = start;
        while let Some(pos) = next {
            let Some(r) = self.read_record(pos).and_then(|(_, bytes)| record::decode(&bytes)) else { return };
            let back = if browser { r.prev_browser } else { r.prev_key };
            let repaired = self.read_index().repairs.get(&(pos, browser)).copied();
            if !visit(pos, r) {
                return;
            }
            next = match repaired {
                Some(to) => to,
                None if back == 0 => None,
                None => pos.checked_sub(back),
            };
        }
    }

    /// Reads back every segment in `dir`: rebuilds the index, recounts the clicks after the
    /// folded counts, and returns the next segment's number.
    fn recover(&self, dir: &Path) -> Result<u32, ClickLogError> {
        let mut numbers: Vec<u32> = std::fs::read_dir(dir)
            .map_err(io_error(dir))?
            .filter_map(|entry| {
                let name = entry.ok()?.file_name();
                name.to_str()?.strip_prefix("clicks-")?.strip_suffix(".log")?.parse().ok()
            })
            .collect();
        numbers.sort_unstable();
        let mut index = self.write_index();
        let mut counts = lock(&self.counts);
        let counted_to = counts.counted_to;
        for number in &numbers {
            let path = segment_path(dir, *number);
            let file = OpenOptions::new().read(true).write(true).open(&path).map_err(io_error(&path))?;
            let bytes = std::fs::read(&path).map_err(io_error(&path))?;
            let mut max_expiry = i64::MIN;
            let mut end = 0u64;
            let mut records = 0usize;
            let skipped = scan(&bytes, |offset, len, r| {
                let pos = position(*number, offset);
                records += 1;
                end = offset + len as u64;
                max_expiry = max_expiry.max(r.click.expires_at.as_millis());
                for (chain, fp, back) in [
                    (false, (!r.erased).then(|| self.fingerprints.hash_one(&r.click.key)), r.prev_key),
                    (true, r.click.browser.as_ref().map(|b| self.fingerprints.hash_one(b)), r.prev_browser),
                ] {
                    let Some(fp) = fp else { continue };
                    let map = if chain { &mut index.browsers } else { &mut index.keys };
                    let expected = map.get(&fp).map_or(0, |p| pos - p);
                    if expected != back {
                        let to = map.get(&fp).copied();
                        index.repairs.insert((pos, chain), to);
                    }
                    let map = if chain { &mut index.browsers } else { &mut index.keys };
                    map.insert(fp, pos);
                }
                if pos >= counted_to {
                    counts.add(
                        code_slot(&r.click.code) as u32,
                        r.click.at.as_millis(),
                        r.click.channel.as_deref(),
                        pos + len as u64,
                    );
                }
            });
            tracing::info!(segment = %path.display(), records, skipped, "click log segment read back");
            let backing = Arc::new(Backing::File(file, path));
            index.segments.insert(*number, Segment { backing, len: end, max_expiry });
        }
        Ok(numbers.last().map_or(0, |n| n + 1))
    }

    /// Deletes the oldest segments while every click in them has expired by `now` and their
    /// counts are committed; never the one being written.
    fn purge(&self, now: Timestamp) -> usize {
        let writing = lock(&self.state).writer.as_ref().and_then(|w| w.current.as_ref().map(|c| c.0));
        let folded_to = lock(&self.counts).folded_to;
        let mut removed = 0;
        loop {
            let doomed = {
                let index = self.read_index();
                let Some((number, s)) = index.segments.iter().next() else { break };
                let done = s.max_expiry <= now.as_millis()
                    && position(*number, s.len) <= folded_to
                    && Some(*number) != writing
                    && index.segments.len() > 1;
                if !done {
                    break;
                }
                *number
            };
            let mut index = self.write_index();
            if let Some(s) = index.segments.remove(&doomed) {
                index.keys.retain(|_, p| segment_of(*p) != doomed);
                index.browsers.retain(|_, p| segment_of(*p) != doomed);
                index.repairs.retain(|(p, _), _| segment_of(*p) != doomed);
                if let Backing::File(_, path) = &*s.backing
                    && let Err(e) = std::fs::remove_file(path)
                {
                    tracing::warn!(error = %e, segment = %path.display(), "could not remove an expired click segment");
                }
                removed += 1;
            }
        }
        removed
    }
}

fn segment_path(dir: &Path, number: u32) -> PathBuf {
    dir.join(format!("clicks-{number:010}.log"))
}

/// Clicks written by earlier versions (a JSON write-ahead log, and redb tables), moved into
/// the log once.
pub(crate) mod legacy {
    use std::path::Path;
    use std::sync::Arc;

    use redb::{ReadableDatabase, ReadableTable, TableDefinition};

    use rft_core::Click;

    use super::{ClickLogError, Inner, io_error, lock};

    type Bytes = &'static [u8];
    pub(crate) const CLICKS: TableDefinition<(&str, i64), Bytes> = TableDefinition::new("clicks");
    pub(crate) const BY_CODE: TableDefinition<(&str, i64, &str), i64> = TableDefinition::new("clicks_by_code");
    pub(crate) const BY_BROWSER: TableDefinition<(&str, i64, &str), i64> = TableDefinition::new("clicks_by_browser");

    fn parse_line(line: &[u8]) -> Option<Click> {
        let line = std::str::from_utf8(line).ok()?;
        let (sum, json) = line.split_once(' ')?;
        (u32::from_str_radix(sum, 16).ok()? == crc32fast::hash(json.as_bytes()))
            .then(|| serde_json::from_str(json).ok())?
    }

    pub(super) fn migrate(inner: &Arc<Inner>, dir: &Path) -> Result<(), ClickLogError> {
        let mut clicks: Vec<Click> = Vec::new();
        {
            let txn = inner.db.begin_read().map_err(redb::Error::from)?;
            match txn.open_table(CLICKS) {
                Ok(table) => {
                    for entry in table.iter().map_err(redb::Error::from)? {
                        let (_, v) = entry.map_err(redb::Error::from)?;
                        if let Ok(c) = serde_json::from_slice::<Click>(v.value()) {
                            clicks.push(c);
                        }
                    }
                }
                Err(redb::TableError::TableDoesNotExist(_)) => {}
                Err(e) => return Err(redb::Error::from(e).into()),
            }
        }
        let mut wal: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .map_err(io_error(dir))?
            .filter_map(|e| {
                let p = e.ok()?.path();
                (p.extension()? == "wal" && p.file_name()?.to_str()?.starts_with("clicks-")).then_some(p)
            })
            .collect();
        wal.sort();
        for path in &wal {
            let bytes = std::fs::read(path).map_err(io_error(path))?;
            clicks.extend(bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).filter_map(parse_line));
        }
        if clicks.is_empty() && wal.is_empty() {
            return Ok(());
        }
        clicks.sort_by_key(|c| c.at);
        clicks.dedup_by(|a, b| a.key == b.key && a.at == b.at);
        tracing::info!(clicks = clicks.len(), "moving clicks of an earlier version into the click log");
        let mut writer = lock(&inner.state).writer.take().expect("no one writes during open");
        let queued: Vec<super::Queued> = clicks.iter().map(|c| inner.queued(c)).collect();
        let written = queued.chunks(4096).try_for_each(|group| inner.write_group(&mut writer, group));
        lock(&inner.state).writer = Some(writer);
        written?;
        let txn = inner.db.begin_write().map_err(redb::Error::from)?;
        txn.delete_table(CLICKS).map_err(redb::Error::from)?;
        txn.delete_table(BY_CODE).map_err(redb::Error::from)?;
        txn.delete_table(BY_BROWSER).map_err(redb::Error::from)?;
        txn.commit().map_err(redb::Error::from)?;
        for path in &wal {
            std::fs::remove_file(path).map_err(io_error(path))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use rft_core::click::TouchKey;
    use rft_core::ports::{ClickStore, Counters};
    use rft_core::rollup::{PROGRAMME, code_series};
    use rft_core::{Click, Code, IdentityHash, Timestamp, Token};

    use crate::LocalStore;

    const T0: Timestamp = Timestamp::from_secs(1_900_000_000);

    fn click(token: &Token, at: Timestamp, window: Duration) -> Click {
        Click {
            key: TouchKey::Token(token.clone()),
            at,
            code: Code::parse("7QK2A9").unwrap(),
            ip_hash: Some(IdentityHash::from_stored("0123456789abcdef0123456789abcdef".into())),
            user_agent: Some(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
                    .into(),
            ),
            channel: None,
            browser: None,
            expires_at: at.plus(window),
        }
    }

    fn clicks(n: u64) -> Vec<Click> {
        (0..n)
            .map(|i| click(&Token::generate(), T0.plus(Duration::from_millis(i)), Duration::from_secs(3600)))
            .collect()
    }

    async fn burst(store: &LocalStore, clicks: &[Click]) {
        let writes = clicks.iter().cloned().map(|click| {
            let store = store.clone();
            tokio::spawn(async move { store.record(&click).await })
        });
        for write in writes.collect::<Vec<_>>() {
            write.await.unwrap().expect("logged");
        }
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rft-clicklog-{}", Token::generate().as_str()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn segments(dir: &Path) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        out.sort();
        out
    }

    /// Stops the background folds, so a test decides when counts are folded.
    fn pause(store: &LocalStore) {
        store.clicks.inner.paused.store(true, Ordering::SeqCst);
    }

    /// A copy of the data directory as a crash would leave it (folds paused).
    fn crash_copy(dir: &Path) -> PathBuf {
        let copy = temp_dir();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
        }
        copy
    }

    async fn day_clicks(store: &LocalStore, series: &str) -> i64 {
        store.rows(series, T0.day(), T0.day()).await.unwrap().iter().map(|r| r.get("clicks")).sum()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn every_click_of_a_concurrent_burst_is_durable_found_and_counted() {
        let store = LocalStore::in_memory();
        let clicks = clicks(500);
        burst(&store, &clicks).await;
        for click in &clicks {
            assert_eq!(store.touches(&click.key, T0).await.unwrap(), vec![click.clone()]);
        }
        let code = code_series(&clicks[0].code);
        assert_eq!(day_clicks(&store, &code).await, 500, "counted before any fold");
        assert!(store.clicks.fold().unwrap());
        assert_eq!(day_clicks(&store, &code).await, 500, "and the same once folded");
        assert_eq!(day_clicks(&store, PROGRAMME).await, 500);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tokens_clicks_chain_back_newest_first_through_groups_and_segments() {
        let dir = temp_dir();
        let store = LocalStore::open(&dir).unwrap();
        let token = Token::generate();
        let day = Duration::from_secs(86_400);
        let mine: Vec<Click> = (0..3).map(|i| click(&token, T0.plus(day * i), day * 30)).collect();
        for c in &mine {
            let others: Vec<Click> = (0..20).map(|_| click(&Token::generate(), c.at, day)).collect();
            burst(&store, &others).await;
            store.record(c).await.unwrap();
        }
        assert_eq!(segments(&dir).len(), 3, "a segment per UTC day");
        let found = store.touches(&mine[0].key, T0.plus(day * 3)).await.unwrap();
        assert_eq!(found, mine.iter().rev().cloned().collect::<Vec<_>>());
        let later = T0.plus(day * 30).plus(Duration::from_secs(3600));
        assert_eq!(store.touches(&mine[0].key, later).await.unwrap().len(), 2, "the first expired");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What a crash leaves (clicks folded, clicks only in the log, a torn last record and a
    /// damaged one mid-chain) is read back at start: every sound record found, the chain
    /// through the damaged one repaired, every click counted exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crash_is_read_back_counting_every_click_once() {
        let dir = temp_dir();
        let store = LocalStore::open(&dir).unwrap();
        pause(&store);
        let token = Token::generate();
        let hour = Duration::from_secs(3600);
        let chain: Vec<Click> = (0..3).map(|i| click(&token, T0.plus(Duration::from_secs(i)), hour)).collect();
        store.record(&chain[0]).await.unwrap();
        burst(&store, &clicks(100)).await;
        assert!(store.clicks.fold().unwrap());
        store.record(&chain[1]).await.unwrap();
        let after = clicks(50);
        burst(&store, &after).await;
        store.record(&chain[2]).await.unwrap();
        let copy = crash_copy(&dir);
        drop(store);
        // The middle click of the chain is damaged and the last record torn.
        let segment = segments(&copy).pop().unwrap();
        let mut bytes = std::fs::read(&segment).unwrap();
        let needle = {
            let mut one = Vec::new();
            super::record::encode(&mut one, &chain[1], 0, 0);
            one[super::record::HEADER + 1..super::record::HEADER + 18].to_vec()
        };
        let mut found = bytes.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i);
        let at = found.nth(1).expect("the middle click is the token's second record");
        bytes[at + 3] ^= 0xff;
        let mut torn = Vec::new();
        super::record::encode(&mut torn, &clicks(1)[0], 0, 0);
        bytes.extend_from_slice(&torn[..torn.len() / 2]);
        std::fs::write(&segment, bytes).unwrap();

        let back = LocalStore::open(&copy).unwrap();
        let found = back.touches(&chain[0].key, T0).await.unwrap();
        assert_eq!(found, vec![chain[2].clone(), chain[0].clone()], "the damaged one is skipped, the chain repaired");
        for c in after.iter().step_by(7) {
            assert_eq!(back.touches(&c.key, T0).await.unwrap(), vec![c.clone()]);
        }
        let code = code_series(&chain[0].code);
        assert_eq!(day_clicks(&back, &code).await, 152, "101 folded, 51 recounted, the damaged one lost");
        back.record(&click(&token, T0.plus(Duration::from_secs(9)), hour)).await.unwrap();
        assert_eq!(back.touches(&chain[0].key, T0).await.unwrap().len(), 3, "writing goes on in a new segment");
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&copy).unwrap();
    }

    /// Erasure rewrites the records in place: the token, IP hash and user agent are gone from
    /// the files, the counts stay, and a restart does not bring anything back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn erasure_leaves_nothing_in_the_files_and_keeps_the_counts() {
        let dir = temp_dir();
        let store = LocalStore::open(&dir).unwrap();
        let token = Token::generate();
        let mut mine = click(&token, T0, Duration::from_secs(3600));
        mine.ip_hash = Some(IdentityHash::from_stored("fedcba9876543210fedcba9876543210".into()));
        store.record(&mine).await.unwrap();
        store.record(&click(&token, T0.plus(Duration::from_secs(1)), Duration::from_secs(3600))).await.unwrap();
        burst(&store, &clicks(10)).await;
        assert_eq!(store.forget(&mine.key).await.unwrap(), 2);
        assert!(store.touches(&mine.key, T0).await.unwrap().is_empty());
        let dump = store.dump().await;
        assert!(!dump.contains(token.as_str()) && !dump.contains("fedcba98"), "{dump}");
        let ip = hex::decode("fedcba9876543210fedcba9876543210").unwrap();
        for segment in segments(&dir) {
            let bytes = std::fs::read(segment).unwrap();
            assert!(!bytes.windows(16).any(|w| w == ip), "the IP hash's bytes are gone");
        }
        assert_eq!(day_clicks(&store, &code_series(&mine.code)).await, 12, "counts keep erased clicks");
        drop(store);
        let back = LocalStore::open(&dir).unwrap();
        assert!(back.touches(&mine.key, T0).await.unwrap().is_empty());
        assert_eq!(day_clicks(&back, &code_series(&mine.code)).await, 12);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Segments go once every click in them has expired and is counted, oldest first; the
    /// counts stay.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expired_segments_are_removed_and_their_counts_kept() {
        let dir = temp_dir();
        let store = LocalStore::open(&dir).unwrap();
        pause(&store);
        let day = Duration::from_secs(86_400);
        for i in 0..3 {
            store.record(&click(&Token::generate(), T0.plus(day * i), day)).await.unwrap();
        }
        assert_eq!(segments(&dir).len(), 3);
        assert_eq!(store.clicks.purge(T0.plus(day * 3)), 0, "nothing goes before its counts are folded");
        store.clicks.fold().unwrap();
        assert_eq!(store.clicks.purge(T0.plus(day).minus(Duration::from_millis(1))), 0, "nothing before it expires");
        assert_eq!(store.clicks.purge(T0.plus(day * 2)), 2, "both expired ones, never the one being written");
        assert_eq!(segments(&dir).len(), 1);
        let code = code_series(&Code::parse("7QK2A9").unwrap());
        let rows = store.rows(&code, T0.day(), T0.day() + 2).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.get("clicks")).sum::<i64>(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A data directory of the previous version (a JSON write-ahead log) is moved into the
    /// click log at start, and its clicks counted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_earlier_versions_log_is_moved_in_and_counted() {
        let dir = temp_dir();
        let old = clicks(3);
        let lines: String = old
            .iter()
            .map(|c| {
                let json = serde_json::to_string(c).unwrap();
                format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes()))
            })
            .collect();
        std::fs::write(dir.join("clicks-0000000000000004.wal"), lines).unwrap();
        let store = LocalStore::open(&dir).unwrap();
        for c in &old {
            assert_eq!(store.touches(&c.key, T0).await.unwrap(), vec![c.clone()]);
        }
        assert_eq!(day_clicks(&store, &code_series(&old[0].code)).await, 3);
        assert!(!dir.join("clicks-0000000000000004.wal").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
