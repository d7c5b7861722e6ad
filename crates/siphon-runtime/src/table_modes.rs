//! `ModedDestination`: table modes (soft deletes, history, metadata columns, column lists,
//! hashing) in front of any destination.
//!
//! It wraps the destination `pipeline::open_destination` opened and maps every call onto the
//! destination tables of [`siphon_core::modes`]: schemas become the mapped table (and history
//! table) schemas, batches become batches of those tables, copied rows become mapped rows. The
//! destination below sees ordinary tables and row operations; its one extra duty is
//! [`TableBatch::update_all_first`] (a TRUNCATE in soft-delete mode).
//!
//! ```text
//!   Batch (compacted ops + per-key stamps + history entries, per source table)
//!     │ per table, under its TableMap
//!     ├─► s.t           Upsert(project(row) ++ deleted=false ++ metadata)
//!     │                 Delete(key) ──soft──► Upsert(key, other columns unchanged, deleted=true ++ metadata)
//!     │                 truncate_first ──soft──► update_all_first(deleted=true ++ metadata)
//!     └─► s.t__history  Upsert(history_row) per entry, key (position, seq)
//! ```
//!
//! *Exactly once.* The history rows of a batch go into the same destination transaction as the
//! batch's other rows, so they commit with the checkpoint; a transaction the runtime skips (at
//! or below the checkpoint) pushes nothing, so it writes no history row. The history table's
//! key `(__siphon_position, __siphon_seq)` names a change uniquely, and rows are upserted on it:
//! even a replayed change could not appear twice.

use std::collections::HashMap;
use std::sync::Arc;

use siphon_core::batch::{Batch, RowOp, TableBatch};
use siphon_core::destination::{Checkpoint, ChunkRecord, Destination, DestinationError};
use siphon_core::modes::{format_timestamptz, now_pg_micros, TableMap, TableModes};
use siphon_core::row::{Row, RowBlock};
use siphon_core::schema::{Column, TableName, TableSchema};

pub struct ModedDestination {
    inner: Box<dyn Destination>,
    modes: Arc<TableModes>,
    /// The map of each table's last seen source schema.
    maps: HashMap<TableName, TableMap>,
}

impl ModedDestination {
    pub fn new(inner: Box<dyn Destination>, modes: Arc<TableModes>) -> Self {
        ModedDestination { inner, modes, maps: HashMap::new() }
    }

    /// The map for `schema` (made again when the source schema changed).
    fn map(&mut self, schema: &Arc<TableSchema>) -> Result<&TableMap, DestinationError> {
        let fresh = self.maps.get(&schema.name).is_some_and(|m| *m.source == **schema);
        if !fresh {
            let map = self.modes.map(schema)?;
            self.maps.insert(schema.name.clone(), map);
        }
        Ok(&self.maps[&schema.name])
    }

    /// The map of a table seen before (by name).
    fn known(&self, table: &TableName) -> Option<&TableMap> {
        self.maps.get(table)
    }
}

/// The table with the current state, for one source table batch.
fn table_batch(map: &TableMap, tb: &TableBatch, synced_at: &str) -> TableBatch {
    let soft = map.mode.soft_delete;
    let ops = tb.stamped_ops().map(|(op, stamp)| match op {
        RowOp::Upsert(row) => RowOp::Upsert(map.table_row(row, false, stamp, synced_at)),
        RowOp::Move { from, row } => {
            RowOp::Move { from: map.map_key(from), row: map.table_row(row, false, stamp, synced_at) }
        }
        RowOp::Delete(key) if soft => RowOp::Upsert(match tb.tombstone(key) {
            Some(row) => map.table_row(row, true, stamp, synced_at),
            None => map.tombstone(key, stamp, synced_at),
        }),
        RowOp::Delete(key) => RowOp::Delete(map.map_key(key)),
    });
    let mut out = TableBatch::from_ops(map.table.clone(), ops.collect::<Vec<_>>());
    match (tb.truncate_first, soft) {
        (true, true) => out.update_all_first = map.truncate_marks(tb.truncated_by(), synced_at),
        (truncate, _) => out.truncate_first = truncate,
    }
    out
}

/// The history table's rows for one source table batch.
fn history_batch(map: &TableMap, tb: &TableBatch) -> TableBatch {
    let rows = tb.history().iter().map(|h| RowOp::Upsert(map.history_row(h.row.as_deref(), &h.stamp)));
    TableBatch::from_ops(map.history.clone(), rows.collect::<Vec<_>>())
}

fn synced_at() -> String {
    format_timestamptz(now_pg_micros())
}

impl Destination for ModedDestination {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn load_checkpoint(&mut self) -> Result<Option<Checkpoint>, DestinationError> {
        self.inner.load_checkpoint()
    }

    fn ensure_table(&mut self, schema: &TableSchema) -> Result<(), DestinationError> {
        let map = self.map(&Arc::new(schema.clone()))?.clone();
        if map.mode.is_plain() {
            return self.inner.ensure_table(schema);
        }
        if map.mode.keeps_table() {
            self.inner.ensure_table(&map.table)?;
        }
        if map.mode.keeps_history() {
            self.inner.ensure_table(&map.history)?;
        }
        Ok(())
    }

    fn add_columns(&mut self, table: &TableName, columns: &[Column]) -> Result<(), DestinationError> {
        let Some(map) = self.known(table).cloned() else { return self.inner.add_columns(table, columns) };
        let mapped: Vec<Column> = columns.iter().filter_map(|c| map.map_column(c)).collect();
        if mapped.is_empty() {
            return Ok(());
        }
        if map.mode.keeps_table() {
            self.inner.add_columns(table, &mapped)?;
        }
        if map.mode.keeps_history() {
            let nullable: Vec<Column> =
                mapped.into_iter().map(|c| Column { is_key: false, nullable: true, ..c }).collect();
            self.inner.add_columns(&map.history.name, &nullable)?;
        }
        Ok(())
    }

    /// A column the table's settings name (include / exclude / hash) cannot be renamed
    /// silently: under its new name it would fall out of (or into) the list — a hashed column
    /// would arrive in clear. siphon stops and asks for the settings to follow the rename.
    fn rename_columns(&mut self, table: &TableName, renamed: &[(String, String)]) -> Result<(), DestinationError> {
        let Some(map) = self.known(table).cloned() else { return self.inner.rename_columns(table, renamed) };
        let m = &map.mode;
        let named = |c: &String| {
            m.include.as_ref().is_some_and(|i| i.contains(c)) || m.exclude.contains(c) || m.hash.contains(c)
        };
        if let Some((old, new)) = renamed.iter().find(|(o, n)| named(o) || named(n)) {
            return Err(DestinationError::fatal(format!(
                "column {table}.{old} was renamed to {new} at the source, and the table's include/exclude/hash settings name it"
            ))
            .with_hint(format!("update [tables.\"{table}\"] to the new name, then restart siphon")));
        }
        if m.include.is_some() {
            return Ok(()); // columns outside the include list never reached the destination
        }
        if m.keeps_table() {
            self.inner.rename_columns(table, renamed)?;
        }
        if m.keeps_history() {
            self.inner.rename_columns(&map.history.name, renamed)?;
        }
        Ok(())
    }

    fn change_columns(
        &mut self,
        table: &TableName,
        retyped: &[Column],
        dropped: &[String],
    ) -> Result<(), DestinationError> {
        let Some(map) = self.known(table).cloned() else {
            return self.inner.change_columns(table, retyped, dropped);
        };
        // A hashed column stays text whatever the source's type.
        let retyped: Vec<Column> =
            retyped.iter().filter(|c| !map.is_hashed(&c.name)).filter_map(|c| map.map_column(c)).collect();
        let dropped: Vec<String> = dropped
            .iter()
            .filter(|d| map.source.columns.iter().find(|c| &c.name == *d).is_none_or(|c| map.map_column(c).is_some()))
            .cloned()
            .collect();
        if map.mode.keeps_table() {
            self.inner.change_columns(table, &retyped, &dropped)?;
        }
        if map.mode.keeps_history() {
            // History keeps the values of dropped columns.
            self.inner.change_columns(&map.history.name, &retyped, &[])?;
        }
        Ok(())
    }

    fn apply(&mut self, batch: Batch) -> Result<(), DestinationError> {
        let synced_at = synced_at();
        let mut out = Vec::new();
        for tb in batch.into_tables() {
            let map = self.map(&tb.schema)?;
            if map.mode.is_plain() {
                out.push(tb);
                continue;
            }
            if map.mode.keeps_table() {
                out.push(table_batch(map, &tb, &synced_at));
            }
            if map.mode.keeps_history() && !tb.history().is_empty() {
                out.push(history_batch(map, &tb));
            }
        }
        self.inner.apply(Batch::from_tables(out))
    }

    fn apply_rows(&mut self, table: &Arc<TableSchema>, rows: Vec<Row>) -> Result<(), DestinationError> {
        let map = self.map(table)?;
        if map.mode.is_plain() {
            return self.inner.apply_rows(table, rows);
        }
        if !map.mode.keeps_table() {
            // History records changes; a copy's rows are the state, which only the table keeps.
            return Ok(());
        }
        let synced_at = synced_at();
        let mapped: Vec<Row> = rows.iter().map(|r| map.copied_row(r, &synced_at)).collect();
        let schema = map.table.clone();
        self.inner.apply_rows(&schema, mapped)
    }

    fn apply_block(&mut self, table: &Arc<TableSchema>, block: RowBlock) -> Result<(), DestinationError> {
        if self.map(table)?.mode.is_plain() {
            return self.inner.apply_block(table, block);
        }
        self.apply_rows(table, block.into_rows())
    }

    fn commit(&mut self, checkpoint: &Checkpoint) -> Result<(), DestinationError> {
        self.inner.commit(checkpoint)
    }

    fn rollback(&mut self) -> Result<(), DestinationError> {
        self.inner.rollback()
    }

    fn load_chunks(&mut self) -> Result<Vec<ChunkRecord>, DestinationError> {
        self.inner.load_chunks()
    }

    fn count_rows(&mut self, table: &TableName) -> Result<Option<u64>, DestinationError> {
        self.inner.count_rows(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use siphon_core::change::{Change, ChangeKind};
    use siphon_core::config::{HistoryMode, Secret};
    use siphon_core::modes::TableMode;
    use siphon_core::row::Datum;
    use siphon_core::{batch::Transaction, Lsn};

    fn schema() -> Arc<TableSchema> {
        siphon_core::testing::int_table(&["v"])
    }

    fn t(s: &str) -> Datum {
        Datum::Text(s.into())
    }

    #[test]
    fn a_soft_delete_becomes_a_partial_upsert_and_history_keeps_every_change() {
        let mode = TableMode { soft_delete: true, history: HistoryMode::Both, ..TableMode::default() };
        let modes = Arc::new(TableModes::with_defaults(mode, Some(Secret::new("0123456789abcdef"))));
        let map = modes.map(&schema()).unwrap();
        let mut tx = Transaction::new(modes);
        tx.begin(Lsn(7), 0);
        let mut b = Batch::new();
        b.push_in(Change { table: schema(), kind: ChangeKind::Insert { new: vec![t("1"), t("a")] } }, &mut tx);
        b.push_in(Change { table: schema(), kind: ChangeKind::Delete { old_key: vec![t("1"), Datum::Null] } }, &mut tx);
        let tb = b.into_tables().next().unwrap();
        let ops: Vec<RowOp> = table_batch(&map, &tb, "now").ops().cloned().collect();
        assert_eq!(ops, vec![RowOp::Upsert(vec![t("1"), t("a"), t("t")])], "the tombstone keeps the batch's row");
        let history: Vec<Vec<Datum>> = history_batch(&map, &tb)
            .ops()
            .map(|op| match op {
                RowOp::Upsert(r) => r.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(history.len(), 2);
        let ops: Vec<&Datum> = history.iter().map(|r| &r[2]).collect();
        assert!(ops.contains(&&t("insert")) && ops.contains(&&t("delete")));
    }
}
