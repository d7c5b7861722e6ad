//! Batches: the changes of one or more source transactions, compacted per row key.
//!
//! Within a batch only the final state of each key matters to the destination, so a batch keeps
//! one [`RowOp`] per key and table: an insert followed by updates becomes one upsert, an insert
//! followed by a delete becomes a delete (a no-op for a key the destination never had), and a
//! primary-key update becomes a delete of the old key and an upsert of the new one. Because the
//! entries of a table batch have pairwise distinct keys, they commute: a destination may apply
//! all deletes and then all upserts, in any order within each group.
//!
//! A TRUNCATE discards the table's pending entries and sets [`TableBatch::truncate_first`], so the
//! destination empties the table before applying what came after it.
//!
//! Unchanged TOAST values ([`Datum::UnchangedToast`]) are filled in from an earlier upsert of the
//! same key in the batch when there is one; otherwise they stay in the row and the destination
//! must keep its stored value for those columns (a partial update) — or, when the update moved
//! the row to a new key, take them from the row stored under the old key ([`RowOp::Move`]).
//!
//! # Table modes
//!
//! Changes pushed through a [`Transaction`] ([`Batch::push_in`], [`Batch::truncate_in`]) are
//! stamped with their [`Origin`] (commit position, order in the transaction, commit time). For a
//! table with metadata columns the batch keeps the [`Stamp`] of the last change of each key (what
//! the row's `__siphon_*` columns say); for a table with history it also keeps *every* change, in
//! order, before compaction ([`TableBatch::history`]) — compaction never loses a history row.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// Per-key maps: foldhash (seeded per process, as the standard hasher) hashes a key several
/// times faster than SipHash, and a batch hashes every change's key.
type KeyMap<V> = HashMap<Vec<Datum>, V, foldhash::fast::RandomState>;
use std::sync::Arc;

use crate::change::{Change, ChangeKind};
use crate::modes::{ChangeOp, Origin, Stamp, TableModes};
use crate::position::Lsn;
use crate::row::{row_size, Datum, Row};
use crate::schema::{TableName, TableSchema};

/// The source transaction whose changes are being pushed: stamps each with its [`Origin`], and
/// knows from the table modes which tables want stamps and history.
#[derive(Clone, Debug)]
pub struct Transaction {
    modes: Arc<TableModes>,
    plain: bool,
    position: Lsn,
    commit_time_micros: i64,
    next_seq: u64,
}

impl Transaction {
    pub fn new(modes: Arc<TableModes>) -> Self {
        let plain = modes.is_plain();
        Transaction { modes, plain, position: Lsn(0), commit_time_micros: 0, next_seq: 0 }
    }

    /// A new source transaction: `position` is its commit position (pgoutput's `final_lsn`).
    pub fn begin(&mut self, position: Lsn, commit_time_micros: i64) {
        self.position = position;
        self.commit_time_micros = commit_time_micros;
        self.next_seq = 0;
    }

    fn next(&mut self) -> Origin {
        let origin =
            Origin { position: self.position, seq: self.next_seq, commit_time_micros: self.commit_time_micros };
        self.next_seq += 1;
        origin
    }

    /// What the batch keeps for `table`.
    fn keeps(&self, table: &TableName) -> Keeps {
        if self.plain {
            return Keeps::default();
        }
        let mode = self.modes.of(table);
        Keeps { stamps: mode.metadata_columns, history: mode.keeps_history(), tombstones: mode.soft_delete }
    }
}

/// What a batch keeps of a table's changes besides their compacted ops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Keeps {
    /// The stamp of each key's last change (metadata columns).
    stamps: bool,
    /// Every change (history).
    history: bool,
    /// The last row of each key deleted in the batch (soft deletes: the tombstone keeps it).
    tombstones: bool,
}

/// One change of a table with history, as it happened (before compaction).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub stamp: Stamp,
    /// The new row (insert, update: with unchanged TOAST values filled from earlier changes of
    /// the batch where it has them), the old key or row (delete), `None` (truncate).
    pub row: Option<Row>,
}

/// The final operation for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowOp {
    /// Insert the row, or replace the stored row with the same key. Columns holding
    /// [`Datum::UnchangedToast`] keep their stored value.
    Upsert(Row),
    /// Delete the row with this key (the datums of the key columns, in key order).
    Delete(Vec<Datum>),
    /// A primary-key update that left TOASTed values out: insert `row` (under its new key),
    /// taking the columns holding [`Datum::UnchangedToast`] from the stored row with key `from`.
    /// That row is deleted by its own [`RowOp::Delete`] in the same batch, so a destination
    /// applies every `Move` before the deletes.
    Move { from: Vec<Datum>, row: Row },
}

/// The compacted changes to one table.
#[derive(Clone, Debug)]
pub struct TableBatch {
    pub schema: Arc<TableSchema>,
    /// Empty the table before applying `ops`.
    pub truncate_first: bool,
    /// Before applying `ops`, set these columns (by position in `schema`) to these values in
    /// every stored row: a TRUNCATE in soft-delete mode (see [`crate::modes`]). Empty otherwise.
    pub update_all_first: Vec<(usize, Datum)>,
    ops: KeyMap<RowOp>,
    /// The stamp of the last change of each key (tables with metadata columns).
    last: KeyMap<Stamp>,
    /// The stamp of the last TRUNCATE (pushed through a [`Transaction`]).
    truncated_by: Option<Stamp>,
    /// Every change in order (tables with history).
    history: Vec<HistoryEntry>,
    /// The row each key deleted in this batch had in it before (soft-delete tables).
    tombstones: KeyMap<Row>,
}

impl TableBatch {
    pub fn new(schema: Arc<TableSchema>) -> Self {
        TableBatch {
            schema,
            truncate_first: false,
            update_all_first: Vec::new(),
            ops: KeyMap::default(),
            last: KeyMap::default(),
            truncated_by: None,
            history: Vec::new(),
            tombstones: KeyMap::default(),
        }
    }

    /// A table batch of `ops`, whose keys must be distinct (for a destination wrapper that maps
    /// one batch onto another).
    pub fn from_ops(schema: Arc<TableSchema>, ops: impl IntoIterator<Item = RowOp>) -> Self {
        let mut tb = TableBatch::new(schema);
        for op in ops {
            let key = match &op {
                RowOp::Upsert(row) | RowOp::Move { row, .. } => tb.key_of(row),
                RowOp::Delete(key) => key.clone(),
            };
            tb.ops.insert(key, op);
        }
        tb
    }

    /// The operations, one per key, in no particular order.
    pub fn ops(&self) -> impl Iterator<Item = &RowOp> {
        self.ops.values()
    }

    /// The operations with the stamp of the change that left each (tables with metadata
    /// columns, changes pushed through a [`Transaction`]; else `None`).
    pub fn stamped_ops(&self) -> impl Iterator<Item = (&RowOp, Option<&Stamp>)> {
        self.ops.iter().map(|(k, op)| (op, self.last.get(k)))
    }

    /// The last TRUNCATE's stamp, when `truncate_first` came from one pushed through a
    /// [`Transaction`].
    pub fn truncated_by(&self) -> Option<&Stamp> {
        self.truncated_by.as_ref()
    }

    /// For a key deleted in this batch (soft-delete tables): the row an earlier change of the
    /// batch gave it, which the destination never saw — its tombstone keeps these values, as if
    /// the changes had been applied one by one. `None` when the row is the stored one.
    pub fn tombstone(&self, key: &[Datum]) -> Option<&Row> {
        self.tombstones.get(key)
    }

    /// Every change of a table with history, in order.
    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && !self.truncate_first && self.update_all_first.is_empty()
    }

    fn key_of(&self, row: &Row) -> Vec<Datum> {
        self.schema.columns.iter().zip(row.iter()).filter(|(c, _)| c.is_key).map(|(_, d)| d.clone()).collect()
    }

    fn upsert(&mut self, mut row: Row) {
        let key = self.key_of(&row);
        match self.ops.entry(key) {
            Entry::Vacant(e) => {
                e.insert(RowOp::Upsert(row));
            }
            Entry::Occupied(mut e) => {
                let op = match e.get() {
                    RowOp::Upsert(prev) => {
                        fill_unchanged(&mut row, prev);
                        RowOp::Upsert(row)
                    }
                    RowOp::Move { from, row: prev } => {
                        fill_unchanged(&mut row, prev);
                        if row.contains(&Datum::UnchangedToast) {
                            RowOp::Move { from: from.clone(), row }
                        } else {
                            RowOp::Upsert(row)
                        }
                    }
                    RowOp::Delete(_) => RowOp::Upsert(row),
                };
                e.insert(op);
            }
        }
    }

    /// Applies a stamped change, keeping its stamp per key and/or its history entry.
    fn apply_stamped(&mut self, kind: ChangeKind, stamp: Stamp, keeps: Keeps) {
        let (key, old_key, deleted) = match &kind {
            ChangeKind::Insert { new } | ChangeKind::Update { old_key: None, new } => (self.key_of(new), None, None),
            ChangeKind::Update { old_key: Some(old), new } => (self.key_of(new), Some(self.key_of(old)), None),
            ChangeKind::Delete { old_key } => (self.key_of(old_key), None, keeps.history.then(|| old_key.clone())),
        };
        // The key that leaves, for its tombstone.
        let leaving = match &kind {
            ChangeKind::Delete { .. } => Some(key.clone()),
            ChangeKind::Update { .. } => old_key.clone().filter(|o| *o != key),
            ChangeKind::Insert { .. } => None,
        };
        if let Some(k) = leaving.filter(|_| keeps.tombstones) {
            match self.ops.get(&k) {
                Some(RowOp::Upsert(row) | RowOp::Move { row, .. }) => {
                    let row = row.clone();
                    self.tombstones.insert(k, row);
                }
                _ => {
                    self.tombstones.remove(&k);
                }
            }
        }
        let (last, history) = (keeps.stamps, keeps.history);
        self.apply(kind);
        if last {
            if let Some(old) = old_key {
                self.last.insert(old, stamp);
            }
            self.last.insert(key.clone(), stamp);
        }
        if history {
            let row = deleted.or_else(|| match self.ops.get(&key) {
                Some(RowOp::Upsert(row) | RowOp::Move { row, .. }) => Some(row.clone()),
                _ => None,
            });
            self.history.push(HistoryEntry { stamp, row });
        }
    }

    fn apply(&mut self, kind: ChangeKind) {
        match kind {
            ChangeKind::Insert { new } => self.upsert(new),
            ChangeKind::Update { old_key: None, new } => self.upsert(new),
            ChangeKind::Update { old_key: Some(old), mut new } => {
                let old_key = self.key_of(&old);
                let new_key = self.key_of(&new);
                if old_key == new_key {
                    return self.upsert(new);
                }
                // The stored row the unchanged values come from, unless this batch has them.
                let mut from = Some(old_key.clone());
                match self.ops.get(&old_key) {
                    Some(RowOp::Upsert(prev)) => {
                        fill_unchanged(&mut new, prev);
                        // A partial upsert of the old key changed nothing the new row lacks: what
                        // is still unchanged comes from the stored row.
                        if !prev.contains(&Datum::UnchangedToast) {
                            from = None;
                        }
                    }
                    Some(RowOp::Move { from: f, row: prev }) => {
                        fill_unchanged(&mut new, prev);
                        from = Some(f.clone());
                    }
                    _ => {}
                }
                self.ops.insert(old_key.clone(), RowOp::Delete(old_key));
                match from {
                    Some(from) if new.contains(&Datum::UnchangedToast) => {
                        self.ops.insert(new_key, RowOp::Move { from, row: new });
                    }
                    _ => {
                        self.ops.insert(new_key, RowOp::Upsert(new));
                    }
                }
            }
            ChangeKind::Delete { old_key } => {
                let key = self.key_of(&old_key);
                self.ops.insert(key.clone(), RowOp::Delete(key));
            }
        }
    }
}

fn fill_unchanged(row: &mut Row, prev: &Row) {
    for (d, p) in row.iter_mut().zip(prev) {
        if *d == Datum::UnchangedToast {
            *d = p.clone();
        }
    }
}

/// Compacted changes to any number of tables, with a running size for flush decisions.
#[derive(Debug, Default)]
pub struct Batch {
    tables: HashMap<TableName, TableBatch, foldhash::fast::RandomState>,
    changes: usize,
    bytes: usize,
}

impl Batch {
    pub fn new() -> Self {
        Batch::default()
    }

    pub fn push(&mut self, change: Change) {
        self.changes += 1;
        self.bytes += change_size(&change.kind);
        let table = self.table_mut(&change.table);
        // A schema change mid-batch: later rows follow the newer schema.
        table.schema = change.table;
        table.apply(change.kind);
    }

    pub fn truncate(&mut self, schema: Arc<TableSchema>) {
        self.changes += 1;
        let table = self.tables.entry(schema.name.clone()).or_insert_with(|| TableBatch::new(schema));
        table.ops.clear();
        table.last.clear();
        table.truncate_first = true;
    }

    /// Pushes a change of the source transaction `tx` (see the module doc).
    pub fn push_in(&mut self, change: Change, tx: &mut Transaction) {
        let keeps = tx.keeps(&change.table.name);
        let origin = tx.next();
        if keeps == Keeps::default() {
            return self.push(change);
        }
        let op = match &change.kind {
            ChangeKind::Insert { .. } => ChangeOp::Insert,
            ChangeKind::Update { .. } => ChangeOp::Update,
            ChangeKind::Delete { .. } => ChangeOp::Delete,
        };
        let stamp = Stamp { origin, op };
        self.changes += 1;
        let size = change_size(&change.kind);
        self.bytes += if keeps.history { 2 * size } else { size };
        let table = self.table_mut(&change.table);
        table.schema = change.table;
        table.apply_stamped(change.kind, stamp, keeps);
    }

    /// The table's batch (created empty); found without cloning its name in the common case.
    fn table_mut(&mut self, schema: &Arc<TableSchema>) -> &mut TableBatch {
        if !self.tables.contains_key(&schema.name) {
            self.tables.insert(schema.name.clone(), TableBatch::new(schema.clone()));
        }
        self.tables.get_mut(&schema.name).expect("inserted above")
    }

    /// A TRUNCATE of the source transaction `tx`. In a soft-delete table, rows the batch
    /// wrote before it become tombstones (as if applied one by one, then marked).
    pub fn truncate_in(&mut self, schema: Arc<TableSchema>, tx: &mut Transaction) {
        let origin = tx.next();
        let keeps = tx.keeps(&schema.name);
        let stamp = Stamp { origin, op: ChangeOp::Truncate };
        let name = schema.name.clone();
        let mut pending = Vec::new();
        if let Some(table) = self.tables.get_mut(&name).filter(|_| keeps.tombstones) {
            for (key, op) in std::mem::take(&mut table.ops) {
                match op {
                    RowOp::Upsert(row) | RowOp::Move { row, .. } => {
                        table.tombstones.insert(key.clone(), row);
                        pending.push(key);
                    }
                    // Deleted earlier in the batch, before the destination saw it: still a tombstone.
                    RowOp::Delete(_) if table.tombstones.contains_key(&key) => pending.push(key),
                    RowOp::Delete(_) => {}
                }
            }
        }
        self.truncate(schema);
        let table = self.tables.get_mut(&name).expect("truncate inserted the table");
        table.truncated_by = Some(stamp);
        for key in pending {
            if keeps.stamps {
                table.last.insert(key.clone(), stamp);
            }
            table.ops.insert(key.clone(), RowOp::Delete(key));
        }
        if keeps.history {
            table.history.push(HistoryEntry { stamp, row: None });
        }
    }

    /// A batch of `tables` (for a destination wrapper that maps one batch onto another).
    pub fn from_tables(tables: impl IntoIterator<Item = TableBatch>) -> Self {
        let mut batch = Batch::new();
        for tb in tables {
            batch.changes += tb.ops.len() + usize::from(tb.truncate_first || !tb.update_all_first.is_empty());
            batch.tables.insert(tb.schema.name.clone(), tb);
        }
        batch
    }

    /// Changes pushed since the batch was created (before compaction).
    pub fn change_count(&self) -> usize {
        self.changes
    }

    /// Approximate bytes of row data pushed (before compaction): an upper bound of what the
    /// batch holds.
    pub fn byte_size(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.changes == 0
    }

    pub fn tables(&self) -> impl Iterator<Item = &TableBatch> {
        self.tables.values()
    }

    pub fn into_tables(self) -> impl Iterator<Item = TableBatch> {
        self.tables.into_values()
    }
}

fn change_size(kind: &ChangeKind) -> usize {
    match kind {
        ChangeKind::Insert { new } => row_size(new),
        ChangeKind::Update { old_key, new } => row_size(new) + old_key.as_ref().map_or(0, row_size),
        ChangeKind::Delete { old_key } => row_size(old_key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn schema() -> Arc<TableSchema> {
        crate::testing::int_table(&["v"])
    }

    fn row(id: i64, v: &str) -> Row {
        vec![Datum::Text(id.to_string()), Datum::Text(v.into())]
    }

    fn change(kind: ChangeKind) -> Change {
        Change { table: schema(), kind }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(i64, u8),
        Update(i64, u8),
        MoveKey(i64, i64),
        /// An update or key move that leaves `v` out (unchanged TOAST).
        TouchToast(i64),
        MoveKeyToast(i64, i64),
        Delete(i64),
        Truncate,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..6i64, any::<u8>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0..6i64, any::<u8>()).prop_map(|(k, v)| Op::Update(k, v)),
            (0..6i64, 0..6i64).prop_map(|(a, b)| Op::MoveKey(a, b)),
            (0..6i64).prop_map(Op::TouchToast),
            (0..6i64, 0..6i64).prop_map(|(a, b)| Op::MoveKeyToast(a, b)),
            (0..6i64).prop_map(Op::Delete),
            Just(Op::Truncate),
        ]
    }

    /// Applies the batch to a table model the way a destination must: truncate, deletes, upserts.
    fn apply(table: &mut BTreeMap<i64, String>, batch: Batch) {
        for tb in batch.into_tables() {
            if tb.truncate_first {
                table.clear();
            }
            let key = |d: &Datum| d.as_text().unwrap().parse::<i64>().unwrap();
            // Moves read the stored rows they come from before any delete.
            let moved: Vec<(i64, String)> = tb
                .ops()
                .filter_map(|op| match op {
                    RowOp::Move { from, row } => {
                        let v = match &row[1] {
                            Datum::UnchangedToast => table[&key(&from[0])].clone(),
                            d => d.as_text().unwrap().to_string(),
                        };
                        Some((key(&row[0]), v))
                    }
                    _ => None,
                })
                .collect();
            for op in tb.ops() {
                if let RowOp::Delete(k) = op {
                    table.remove(&key(&k[0]));
                }
            }
            table.extend(moved);
            for op in tb.ops() {
                if let RowOp::Upsert(r) = op {
                    match &r[1] {
                        // A partial update keeps the stored value (the key exists).
                        Datum::UnchangedToast => {
                            assert!(table.contains_key(&key(&r[0])), "partial update of a missing row")
                        }
                        d => {
                            table.insert(key(&r[0]), d.as_text().unwrap().to_string());
                        }
                    }
                }
            }
        }
    }

    proptest! {
        /// Applying the compacted batch gives the same table as applying every change in order,
        /// from any starting state.
        #[test]
        fn compaction_preserves_final_state(
            start in proptest::collection::btree_map(0..6i64, "[a-z]{1,3}", 0..6),
            ops in proptest::collection::vec(op(), 0..40),
        ) {
            let mut expected = start.clone();
            let mut batch = Batch::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) if !expected.contains_key(&k) => {
                        expected.insert(k, v.to_string());
                        batch.push(change(ChangeKind::Insert { new: row(k, &v.to_string()) }));
                    }
                    Op::Update(k, v) if expected.contains_key(&k) => {
                        expected.insert(k, v.to_string());
                        batch.push(change(ChangeKind::Update { old_key: None, new: row(k, &v.to_string()) }));
                    }
                    Op::MoveKey(a, b) if expected.contains_key(&a) && !expected.contains_key(&b) => {
                        let v = expected.remove(&a).unwrap();
                        expected.insert(b, v.clone());
                        batch.push(change(ChangeKind::Update {
                            old_key: Some(vec![Datum::Text(a.to_string()), Datum::Null]),
                            new: row(b, &v),
                        }));
                    }
                    Op::TouchToast(k) if expected.contains_key(&k) => {
                        batch.push(change(ChangeKind::Update {
                            old_key: None,
                            new: vec![Datum::Text(k.to_string()), Datum::UnchangedToast],
                        }));
                    }
                    Op::MoveKeyToast(a, b) if expected.contains_key(&a) && !expected.contains_key(&b) => {
                        let v = expected.remove(&a).unwrap();
                        expected.insert(b, v);
                        batch.push(change(ChangeKind::Update {
                            old_key: Some(vec![Datum::Text(a.to_string()), Datum::Null]),
                            new: vec![Datum::Text(b.to_string()), Datum::UnchangedToast],
                        }));
                    }
                    Op::Delete(k) if expected.contains_key(&k) => {
                        expected.remove(&k);
                        batch.push(change(ChangeKind::Delete { old_key: vec![Datum::Text(k.to_string()), Datum::Null] }));
                    }
                    Op::Truncate => {
                        expected.clear();
                        batch.truncate(schema());
                    }
                    _ => {}
                }
            }
            let mut actual = start;
            apply(&mut actual, batch);
            prop_assert_eq!(actual, expected);
        }
    }

    fn history_tx() -> Transaction {
        let mode = crate::modes::TableMode {
            history: crate::config::HistoryMode::Both,
            metadata_columns: true,
            ..Default::default()
        };
        let mut tx = Transaction::new(Arc::new(TableModes::with_defaults(mode, None)));
        tx.begin(Lsn(0x100), 42);
        tx
    }

    proptest! {
        /// Every change of a table with history is kept once, in order, with its op, row and
        /// position in the transaction, however the batch compacts; and compaction still gives
        /// the final state.
        #[test]
        fn history_keeps_every_change_in_order(
            ops in proptest::collection::vec(op(), 0..40),
        ) {
            let mut tx = history_tx();
            let mut batch = Batch::new();
            let mut state: BTreeMap<i64, String> = BTreeMap::new();
            let mut expected: Vec<(ChangeOp, Option<Row>)> = Vec::new();
            for op in ops {
                let (kind, entry) = match op {
                    Op::Insert(k, v) if !state.contains_key(&k) => {
                        state.insert(k, v.to_string());
                        (ChangeKind::Insert { new: row(k, &v.to_string()) }, (ChangeOp::Insert, Some(row(k, &v.to_string()))))
                    }
                    Op::Update(k, v) if state.contains_key(&k) => {
                        state.insert(k, v.to_string());
                        (ChangeKind::Update { old_key: None, new: row(k, &v.to_string()) }, (ChangeOp::Update, Some(row(k, &v.to_string()))))
                    }
                    Op::MoveKey(a, b) if state.contains_key(&a) && !state.contains_key(&b) => {
                        let v = state.remove(&a).unwrap();
                        state.insert(b, v.clone());
                        let old_key = Some(vec![Datum::Text(a.to_string()), Datum::Null]);
                        (ChangeKind::Update { old_key, new: row(b, &v) }, (ChangeOp::Update, Some(row(b, &v))))
                    }
                    Op::Delete(k) if state.contains_key(&k) => {
                        state.remove(&k);
                        let old_key = vec![Datum::Text(k.to_string()), Datum::Null];
                        (ChangeKind::Delete { old_key: old_key.clone() }, (ChangeOp::Delete, Some(old_key)))
                    }
                    Op::Truncate => {
                        state.clear();
                        batch.truncate_in(schema(), &mut tx);
                        expected.push((ChangeOp::Truncate, None));
                        continue;
                    }
                    _ => continue,
                };
                batch.push_in(change(kind), &mut tx);
                expected.push(entry);
            }
            let history: Vec<HistoryEntry> = batch.tables().flat_map(|t| t.history().to_vec()).collect();
            let actual: Vec<(ChangeOp, Option<Row>)> = history.iter().map(|h| (h.stamp.op, h.row.clone())).collect();
            prop_assert_eq!(actual, expected);
            for (i, h) in history.iter().enumerate() {
                prop_assert_eq!(h.stamp.origin, Origin { position: Lsn(0x100), seq: i as u64, commit_time_micros: 42 });
            }
            let mut actual_state = BTreeMap::new();
            apply(&mut actual_state, batch);
            prop_assert_eq!(actual_state, state);
        }
    }

    /// A soft-delete table as a destination keeps it: `key -> (v, deleted)`, applied the way
    /// the runtime's `ModedDestination` maps a batch (mark all on truncate, tombstones).
    fn apply_soft(table: &mut BTreeMap<i64, (String, bool)>, batch: Batch) {
        let key = |d: &Datum| d.as_text().unwrap().parse::<i64>().unwrap();
        for tb in batch.into_tables() {
            if tb.truncate_first {
                table.values_mut().for_each(|v| v.1 = true);
            }
            for op in tb.ops() {
                match op {
                    RowOp::Delete(k) => match tb.tombstone(k) {
                        Some(row) => {
                            table.insert(key(&k[0]), (row[1].as_text().unwrap().to_string(), true));
                        }
                        None => {
                            if let Some(v) = table.get_mut(&key(&k[0])) {
                                v.1 = true;
                            }
                        }
                    },
                    RowOp::Upsert(r) => {
                        table.insert(key(&r[0]), (r[1].as_text().unwrap().to_string(), false));
                    }
                    RowOp::Move { .. } => unreachable!("no unchanged TOAST values here"),
                }
            }
        }
    }

    proptest! {
        /// Soft deletes give the same table whether changes are applied one by one or compacted
        /// in one batch: a row inserted and deleted between two commits still leaves its
        /// tombstone, and a TRUNCATE marks the rows the batch wrote before it.
        #[test]
        fn soft_deletes_do_not_depend_on_batch_boundaries(ops in proptest::collection::vec(op(), 0..40)) {
            let mode = crate::modes::TableMode { soft_delete: true, ..Default::default() };
            let mut tx = Transaction::new(Arc::new(TableModes::with_defaults(mode, None)));
            tx.begin(Lsn(1), 0);
            let (mut one_by_one, mut compacted) = (BTreeMap::new(), BTreeMap::new());
            let mut live: BTreeMap<i64, String> = BTreeMap::new();
            let mut batch = Batch::new();
            for op in ops {
                let kind = match op {
                    Op::Insert(k, v) if !live.contains_key(&k) => {
                        live.insert(k, v.to_string());
                        ChangeKind::Insert { new: row(k, &v.to_string()) }
                    }
                    Op::Update(k, v) if live.contains_key(&k) => {
                        live.insert(k, v.to_string());
                        ChangeKind::Update { old_key: None, new: row(k, &v.to_string()) }
                    }
                    Op::MoveKey(a, b) if live.contains_key(&a) && !live.contains_key(&b) => {
                        let v = live.remove(&a).unwrap();
                        live.insert(b, v.clone());
                        ChangeKind::Update { old_key: Some(vec![Datum::Text(a.to_string()), Datum::Null]), new: row(b, &v) }
                    }
                    Op::Delete(k) if live.contains_key(&k) => {
                        live.remove(&k);
                        ChangeKind::Delete { old_key: vec![Datum::Text(k.to_string()), Datum::Null] }
                    }
                    Op::Truncate => {
                        live.clear();
                        let mut single = Batch::new();
                        single.truncate_in(schema(), &mut tx);
                        apply_soft(&mut one_by_one, single);
                        batch.truncate_in(schema(), &mut tx);
                        continue;
                    }
                    _ => continue,
                };
                let mut single = Batch::new();
                single.push_in(change(kind.clone()), &mut tx);
                apply_soft(&mut one_by_one, single);
                batch.push_in(change(kind), &mut tx);
            }
            apply_soft(&mut compacted, batch);
            prop_assert_eq!(&compacted, &one_by_one);
            let alive: BTreeMap<i64, String> =
                compacted.into_iter().filter(|(_, (_, d))| !d).map(|(k, (v, _))| (k, v)).collect();
            prop_assert_eq!(alive, live);
        }
    }

    #[test]
    fn the_last_change_of_each_key_stamps_its_row() {
        let mut tx = history_tx();
        let mut b = Batch::new();
        b.push_in(change(ChangeKind::Insert { new: row(1, "a") }), &mut tx);
        b.push_in(change(ChangeKind::Update { old_key: None, new: row(1, "b") }), &mut tx);
        b.push_in(change(ChangeKind::Insert { new: row(2, "c") }), &mut tx);
        b.push_in(change(ChangeKind::Delete { old_key: vec![Datum::Text("2".into()), Datum::Null] }), &mut tx);
        let tb = b.tables().next().unwrap();
        let mut stamped: Vec<(RowOp, ChangeOp, u64)> =
            tb.stamped_ops().map(|(op, s)| (op.clone(), s.unwrap().op, s.unwrap().origin.seq)).collect();
        stamped.sort_by_key(|s| s.2);
        assert_eq!(
            stamped,
            vec![
                (RowOp::Upsert(row(1, "b")), ChangeOp::Update, 1),
                (RowOp::Delete(vec![Datum::Text("2".into())]), ChangeOp::Delete, 3)
            ]
        );
    }

    #[test]
    fn history_rows_get_unchanged_toast_values_from_earlier_changes_of_the_batch() {
        let mut tx = history_tx();
        let mut b = Batch::new();
        b.push_in(change(ChangeKind::Insert { new: row(1, "big") }), &mut tx);
        b.push_in(
            change(ChangeKind::Update { old_key: None, new: vec![Datum::Text("1".into()), Datum::UnchangedToast] }),
            &mut tx,
        );
        let rows: Vec<Option<Row>> = b.tables().flat_map(|t| t.history().iter().map(|h| h.row.clone())).collect();
        assert_eq!(rows, vec![Some(row(1, "big")), Some(row(1, "big"))]);
    }

    #[test]
    fn unchanged_toast_is_filled_from_an_earlier_upsert_of_the_key() {
        let mut b = Batch::new();
        b.push(change(ChangeKind::Insert { new: row(1, "big") }));
        b.push(change(ChangeKind::Update { old_key: None, new: vec![Datum::Text("1".into()), Datum::UnchangedToast] }));
        let ops: Vec<_> = b.tables().flat_map(|t| t.ops().cloned()).collect();
        assert_eq!(ops, vec![RowOp::Upsert(row(1, "big"))]);
    }

    #[test]
    fn unchanged_toast_without_an_earlier_upsert_stays_for_the_destination() {
        let mut b = Batch::new();
        let partial = vec![Datum::Text("1".into()), Datum::UnchangedToast];
        b.push(change(ChangeKind::Update { old_key: None, new: partial.clone() }));
        let ops: Vec<_> = b.tables().flat_map(|t| t.ops().cloned()).collect();
        assert_eq!(ops, vec![RowOp::Upsert(partial)]);
    }
}
