//! The click log's rollup counts: each durable click is counted in memory at once, and a fold
//! every second moves the counts into redb's rollup rows in one transaction, together with
//! how far into the log they go (so a crash recounts exactly the clicks after that point).
//! Reads add what is counted in memory and not yet folded to what redb holds, so they see
//! every click that got a redirect.

use std::collections::HashMap;

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use rft_core::Code;
use rft_core::ledger::CounterStep;
use rft_core::rollup::{ClickCell, RollupRow, click_steps, code_from_slot};

/// Rollup rows: (series, slot, field) -> value.
pub(crate) const ROLLUPS: TableDefinition<(&str, i64, &str), i64> = TableDefinition::new("rollups");
/// The click log's bookkeeping in redb: `counted_to` (the log position the folded counts
/// reach) and `folds` (how many folds have committed).
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("click_log_meta");

const COUNTED_TO: &str = "counted_to";
const FOLDS: &str = "folds";

/// Clicks of one code in one hour through one channel (an interned id; 0 is none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Cell {
    code: u32,
    hour: i64,
    channel: u32,
}

#[derive(Default)]
pub(crate) struct Counts {
    channel_ids: HashMap<String, u32>,
    channels: Vec<String>,
    pending: HashMap<Cell, u64>,
    /// The counts of a fold under way, with its number: still read until it has committed.
    folding: Option<(u64, HashMap<Cell, u64>)>,
    /// The log position just after the last click counted.
    pub(crate) counted_to: u64,
    /// The log position the committed counts reach.
    pub(crate) folded_to: u64,
    folds: u64,
}

impl Counts {
    /// Starts from what redb says was folded.
    pub(crate) fn resume(db: &Database) -> Result<Self, redb::Error> {
        let txn = db.begin_read()?;
        let (counted_to, folds) = match txn.open_table(META) {
            Ok(meta) => (
                meta.get(COUNTED_TO)?.map(|v| v.value()).unwrap_or(0),
                meta.get(FOLDS)?.map(|v| v.value()).unwrap_or(0),
            ),
            Err(redb::TableError::TableDoesNotExist(_)) => (0, 0),
            Err(e) => return Err(e.into()),
        };
        Ok(Counts { counted_to, folded_to: counted_to, folds, ..Counts::default() })
    }

    /// Counts one durable click ending at log position `end`.
    pub(crate) fn add(&mut self, code: u32, at_ms: i64, channel: Option<&str>, end: u64) {
        let channel = match channel {
            None => 0,
            Some(c) => match self.channel_ids.get(c) {
                Some(id) => *id,
                None => {
                    self.channels.push(c.to_owned());
                    let id = self.channels.len() as u32;
                    self.channel_ids.insert(c.to_owned(), id);
                    id
                }
            },
        };
        *self.pending.entry(Cell { code, hour: at_ms.div_euclid(3_600_000), channel }).or_default() += 1;
        self.counted_to = self.counted_to.max(end);
    }

    fn cells<'a>(&'a self, counts: &'a HashMap<Cell, u64>) -> impl Iterator<Item = (ClickCell, u64)> + 'a {
        counts.iter().filter_map(|(cell, n)| {
            let code: Code = code_from_slot(i64::from(cell.code))?;
            let channel = (cell.channel > 0).then(|| self.channels[cell.channel as usize - 1].clone());
            Some((ClickCell { code, hour: cell.hour, channel }, *n))
        })
    }

    fn steps(&self, counts: &HashMap<Cell, u64>) -> Vec<CounterStep> {
        let cells: Vec<(ClickCell, u64)> = self.cells(counts).collect();
        click_steps(cells.iter().map(|(c, n)| (c, *n)))
    }
}

/// Adds rollup steps inside a write transaction.
pub(crate) fn add_steps(txn: &WriteTransaction, steps: &[CounterStep]) -> Result<(), redb::Error> {
    let mut rows = txn.open_table(ROLLUPS)?;
    for step in steps {
        for (field, by) in &step.adds {
            let key = (step.key.as_str(), step.slot, field.as_str());
            let now = rows.get(key)?.map(|v| v.value()).unwrap_or(0);
            rows.insert(key, now + by)?;
        }
    }
    Ok(())
}

/// Folds the counts held in memory into redb. Returns whether there was anything to fold.
pub(crate) fn fold(db: &Database, counts: &std::sync::Mutex<Counts>) -> Result<bool, redb::Error> {
    let (number, steps, to) = {
        let mut c = counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if c.pending.is_empty() && c.folded_to >= c.counted_to {
            return Ok(false);
        }
        let number = c.folds + 1;
        let taken = std::mem::take(&mut c.pending);
        let steps = c.steps(&taken);
        c.folding = Some((number, taken));
        (number, steps, c.counted_to)
    };
    let committed = (|| {
        let txn = db.begin_write()?;
        add_steps(&txn, &steps)?;
        {
            let mut meta = txn.open_table(META)?;
            meta.insert(COUNTED_TO, to)?;
            meta.insert(FOLDS, number)?;
        }
        txn.commit()?;
        Ok::<(), redb::Error>(())
    })();
    let mut c = counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (_, taken) = c.folding.take().unwrap_or_default();
    match committed {
        Ok(()) => {
            c.folds = number;
            c.folded_to = to;
            Ok(true)
        }
        Err(e) => {
            // Back into memory: the next fold tries again.
            for (cell, n) in taken {
                *c.pending.entry(cell).or_default() += n;
            }
            Err(e)
        }
    }
}

/// A series' rows `from..=to`: redb's, plus the counts not yet folded. The snapshot is taken
/// under the counts' lock, and a fold's counts are added only if the snapshot does not hold
/// them yet, so nothing is missed or counted twice while a fold commits.
pub(crate) fn rows(
    db: &Database,
    counts: &std::sync::Mutex<Counts>,
    series: &str,
    from: i64,
    to: i64,
) -> Result<Vec<RollupRow>, redb::Error> {
    let (txn, unfolded): (ReadTransaction, Vec<CounterStep>) = {
        let c = counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let txn = db.begin_read()?;
        let folded = match txn.open_table(META) {
            Ok(meta) => meta.get(FOLDS)?.map(|v| v.value()).unwrap_or(0),
            Err(redb::TableError::TableDoesNotExist(_)) => 0,
            Err(e) => return Err(e.into()),
        };
        let mut steps = Vec::new();
        if series.starts_with("r#code#") || series == rft_core::rollup::PROGRAMME {
            steps = c.steps(&c.pending);
            if let Some((number, taken)) = &c.folding
                && *number > folded
            {
                steps.extend(c.steps(taken));
            }
        }
        (txn, steps)
    };
    let mut out: std::collections::BTreeMap<i64, RollupRow> = std::collections::BTreeMap::new();
    match txn.open_table(ROLLUPS) {
        Ok(table) => {
            for entry in table.range((series, from, "")..=(series, to, "\u{10FFFF}"))? {
                let (k, v) = entry?;
                let (_, slot, field) = k.value();
                let row = out.entry(slot).or_insert_with(|| RollupRow { slot, fields: Default::default() });
                *row.fields.entry(field.to_owned()).or_default() += v.value();
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e.into()),
    }
    for step in unfolded.iter().filter(|s| s.key == series && (from..=to).contains(&s.slot)) {
        let row = out.entry(step.slot).or_insert_with(|| RollupRow { slot: step.slot, fields: Default::default() });
        for (field, by) in &step.adds {
            *row.fields.entry(field.clone()).or_default() += by;
        }
    }
    Ok(out.into_values().collect())
}
