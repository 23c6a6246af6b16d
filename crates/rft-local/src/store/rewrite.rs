//! Erasure that reaches the disk (docs/invariants.md, invariant 12). redb is copy-on-write: an
//! update or a delete frees the old page without overwriting it, so an erased person's fields
//! can sit in freed pages until the space is reused, readable by anyone with a copy of the
//! data directory. So the file is rewritten at every clean stop and at every start (which also
//! covers a crash): each table is copied, entry by entry, into a fresh file that then replaces
//! the old one; freed pages are never copied.
//!
//! A table this module does not know (one added without being listed here) stops the rewrite
//! and keeps the old file whole: losing data is worse than keeping stale pages one run longer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use redb::{
    Database, Key, MultimapTableHandle, ReadTransaction, ReadableDatabase, TableDefinition, TableError, TableHandle,
    Value, WriteTransaction,
};

use crate::clicklog::counts::{META, ROLLUPS};
use crate::clicklog::legacy;
use crate::queue::{DEAD_LETTERS, JOBS, JOBS_BY_VISIBILITY};
use crate::store::*;

/// Why the file was not rewritten (it is left as it was).
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// redb failed reading the old file or writing the new one.
    #[error("rewriting {path}")]
    Database {
        /// The data file.
        path: String,
        /// redb's error.
        #[source]
        source: redb::Error,
    },
    /// Renaming or syncing the new file failed.
    #[error("replacing {path}")]
    Io {
        /// The data file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file holds a table the rewrite would not copy.
    #[error("{path} holds tables the rewrite does not know ({tables}); the file was left as it was")]
    UnknownTables {
        /// The data file.
        path: String,
        /// Their names.
        tables: String,
    },
}

impl RewriteError {
    /// Whether another handle in this process still has the file open (it closes shortly).
    pub fn is_still_open(&self) -> bool {
        matches!(self, RewriteError::Database { source: redb::Error::DatabaseAlreadyOpen, .. })
    }
}

/// Rewrites the data file at `path` in place, if there is one; returns whether it did. No other
/// handle on the file may be open.
pub fn rewrite(path: &Path) -> Result<bool, RewriteError> {
    if !path.exists() {
        return Ok(false);
    }
    let fresh = path.with_extension("redb.rewrite");
    let result = copy_into(path, &fresh).and_then(|()| replace(path, &fresh));
    if result.is_err() {
        let _ = std::fs::remove_file(&fresh);
    }
    result.map(|()| true)
}

fn copy_into(path: &Path, fresh: &Path) -> Result<(), RewriteError> {
    let failed = |source: redb::Error| RewriteError::Database { path: path.display().to_string(), source };
    let _ = std::fs::remove_file(fresh);
    let old = Database::open(path).map_err(|e| failed(e.into()))?;
    let new = Database::create(fresh).map_err(|e| failed(e.into()))?;
    let read = old.begin_read().map_err(|e| failed(e.into()))?;
    let write = new.begin_write().map_err(|e| failed(e.into()))?;
    let copied = copy_every_table(&read, &write).map_err(failed)?;
    let mut unknown: Vec<String> = read
        .list_tables()
        .map_err(|e| failed(e.into()))?
        .map(|t| t.name().to_owned())
        .chain(read.list_multimap_tables().map_err(|e| failed(e.into()))?.map(|t| t.name().to_owned()))
        .filter(|name| !copied.contains(name))
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(RewriteError::UnknownTables { path: path.display().to_string(), tables: unknown.join(", ") });
    }
    write.commit().map_err(|e| failed(e.into()))?;
    Ok(())
}

/// Every table of the store, the queues and the click log.
fn copy_every_table(read: &ReadTransaction, write: &WriteTransaction) -> Result<BTreeSet<String>, redb::Error> {
    let mut copied = BTreeSet::new();
    macro_rules! copy_all {
        ($($table:expr),* $(,)?) => { $( copy(read, write, $table, &mut copied)?; )* };
    }
    copy_all!(
        CODES,
        ACTIVE_CODE,
        CODES_BY_REFERRER,
        ROLLUPS,
        META,
        legacy::CLICKS,
        legacy::BY_CODE,
        legacy::BY_BROWSER,
        REFERRALS,
        CLAIMS,
        CLAIMS_BY_CLAIMANT,
        REVIEW,
        REFERRALS_BY_REFERRER,
        LEDGER_BY_CUSTOMER,
        LEDGER,
        TALLY,
        AUDIT,
        AUDIT_BY_SUBJECT,
        WEBHOOKS,
        COUNTERS,
        ORDERS,
        FIRST_ORDERS,
        FLAGGED_CODES,
        REFERRALS_BY_STATE,
        CODES_BY_STATUS,
        UNSUBSCRIBES,
        JOBS,
        JOBS_BY_VISIBILITY,
        DEAD_LETTERS,
    );
    Ok(copied)
}

fn copy<K: Key + 'static, V: Value + 'static>(
    read: &ReadTransaction,
    write: &WriteTransaction,
    table: TableDefinition<K, V>,
    copied: &mut BTreeSet<String>,
) -> Result<(), redb::Error> {
    let source = match read.open_table(table) {
        Ok(source) => source,
        Err(TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut target = write.open_table(table)?;
    for entry in redb::ReadableTable::iter(&source)? {
        let (key, value) = entry?;
        target.insert(key.value(), value.value())?;
    }
    copied.insert(table.name().to_owned());
    Ok(())
}

/// Puts the fresh file in the old one's place durably: its bytes, then the rename.
fn replace(path: &Path, fresh: &PathBuf) -> Result<(), RewriteError> {
    let failed = |source| RewriteError::Io { path: path.display().to_string(), source };
    std::fs::File::open(fresh).and_then(|f| f.sync_all()).map_err(failed)?;
    std::fs::rename(fresh, path).map_err(failed)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(failed)?;
    }
    Ok(())
}
