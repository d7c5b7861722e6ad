//! The contract every destination implements.
//!
//! # Calls and their order
//!
//! The runtime drives one destination from one thread, in this order:
//!
//! ```text
//!   load_checkpoint                      once, at start
//!   ensure_table*                        before the first rows of a table, and after a schema change
//!   ( (apply | apply_block)* commit )*  repeated; nothing applied is visible until commit
//!   rollback                             after an error, to discard what was applied since commit
//! ```
//!
//! # Accepted versus durable
//!
//! [`Destination::apply`] only *accepts* a batch: the rows may sit in an open transaction, and a
//! crash loses them. [`Destination::commit`] makes everything applied since the previous commit
//! durable **together with the checkpoint**, atomically: after a crash, the destination holds
//! either all of it and the new checkpoint, or none of it and the old checkpoint. Only after
//! `commit` returns may the runtime confirm the checkpoint's position to the source (and so let
//! the source discard its log up to there).
//!
//! # Delivery
//!
//! Because the checkpoint and the data commit together, and the runtime skips every source
//! transaction at or below the loaded checkpoint, each source transaction takes effect exactly
//! once. A destination that cannot commit data and checkpoint atomically must be idempotent
//! instead (upserts and deletes by key are), and say so in its docs.
//!
//! # Batches
//!
//! `apply` receives [`Batch`]es compacted per key (see [`crate::batch`]): for each table, empty it
//! first when `truncate_first`, set the columns of `update_all_first` in every row (a TRUNCATE in
//! soft-delete mode, see [`crate::modes`]), then apply every [`crate::RowOp::Delete`], then every
//! [`crate::RowOp::Upsert`]. Table modes never reach a destination otherwise: the runtime maps
//! them onto ordinary tables and rows before calling it. A batch may hold part of a source transaction (large transactions
//! arrive in several batches before one commit).

use crate::batch::Batch;
use crate::position::Lsn;
use crate::schema::{TableName, TableSchema};

/// What a destination stores atomically with the data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// The end position of the last source transaction applied (or the snapshot's consistent
    /// point).
    pub lsn: Lsn,
    /// Source tables whose initial snapshot is complete in the destination.
    pub snapshotted_tables: Vec<TableName>,
    /// The source server the positions belong to (`system_identifier/timeline`). Written with
    /// the snapshot; `None` on an ordinary commit keeps the stored one.
    pub source_identity: Option<String>,
    /// MySQL / MariaDB with GTIDs: the GTID set of every source transaction applied up to `lsn`
    /// (`0-1-42,1-2-7`, or `uuid:1-42`). What lets the stream continue on another server of the
    /// replication topology, whose binlog positions differ. Stored as given on every commit:
    /// `None` clears it (the position alone then says where to resume).
    pub gtid: Option<String>,
    /// Copy chunks to record (planned or done) with this commit, replacing stored records of
    /// the same job, table and chunk.
    pub chunks: Vec<ChunkRecord>,
    /// Copy jobs that finished: their chunk records are deleted with this commit.
    pub finished_jobs: Vec<String>,
}

impl Checkpoint {
    /// An ordinary commit: a new position, nothing else changes.
    pub fn at(lsn: Lsn) -> Self {
        Checkpoint { lsn, ..Checkpoint::default() }
    }
}

/// One chunk of a table copy (initial snapshot, added table, `siphon backfill`), stored by the
/// destination with the commit that applied its rows, so that a restarted copy skips it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkRecord {
    /// The copy job (one per snapshot or backfill request).
    pub job: String,
    pub table: TableName,
    pub chunk: u32,
    /// `merge` or `truncate` (how the job treats rows already at the destination).
    pub mode: String,
    /// The chunk's key range, as JSON arrays of the key columns' text values: `lower`
    /// inclusive, `upper` exclusive, `None` unbounded.
    pub lower: Option<String>,
    pub upper: Option<String>,
    /// The rows are applied (committed with this record).
    pub done: bool,
    pub rows: u64,
}

pub use crate::error::{Error as DestinationError, ErrorClass};

/// A replication destination. See the module doc for the contract.
pub trait Destination: Send {
    /// A short description for logs (never containing secrets).
    fn describe(&self) -> String;

    /// The checkpoint of the last commit, or `None` if nothing was ever committed.
    fn load_checkpoint(&mut self) -> Result<Option<Checkpoint>, DestinationError>;

    /// Creates the table for `schema` if missing, or adds the columns it lacks.
    fn ensure_table(&mut self, schema: &TableSchema) -> Result<(), DestinationError>;

    /// Adds `columns` to the destination table of `table` if it lacks them, without changing how
    /// rows of the current schema are applied (a column seen in the source catalog before any
    /// change carries it). The default does nothing (a destination that keeps no tables).
    fn add_columns(&mut self, _table: &TableName, _columns: &[crate::schema::Column]) -> Result<(), DestinationError> {
        Ok(())
    }

    /// A schema change at the source: `retyped` columns changed type (e.g. `integer` to
    /// `bigint`) and the destination column must take the new type; `dropped` columns are to be
    /// dropped. Done in the open transaction, before rows of the new schema. The default does
    /// nothing (a destination that keeps no tables).
    fn change_columns(
        &mut self,
        _table: &TableName,
        _retyped: &[crate::schema::Column],
        _dropped: &[String],
    ) -> Result<(), DestinationError> {
        Ok(())
    }

    /// Columns renamed at the source, `(old, new)`: the destination column keeps its values
    /// under the new name. Done in the open transaction, before rows of the new schema. The
    /// default does nothing (a destination that keeps no tables).
    fn rename_columns(&mut self, _table: &TableName, _renamed: &[(String, String)]) -> Result<(), DestinationError> {
        Ok(())
    }

    /// Accepts a batch into the open transaction (opening one if needed).
    fn apply(&mut self, batch: Batch) -> Result<(), DestinationError>;

    /// Accepts copied rows of one table (a snapshot or backfill chunk: distinct keys, whole
    /// rows) as upserts, after everything accepted before. The default goes through a [`Batch`];
    /// a destination may write them directly, without per-key compaction.
    fn apply_rows(
        &mut self,
        table: &std::sync::Arc<TableSchema>,
        rows: Vec<crate::row::Row>,
    ) -> Result<(), DestinationError> {
        let mut batch = Batch::new();
        for new in rows {
            batch.push(crate::change::Change { table: table.clone(), kind: crate::change::ChangeKind::Insert { new } });
        }
        self.apply(batch)
    }

    /// Accepts copied rows of one table as one [`RowBlock`](crate::row::RowBlock): what the
    /// runtime calls for a copy, with [`Destination::apply_rows`]' meaning. The default converts
    /// the block to rows for `apply_rows`; a destination that can write values from `&str`
    /// slices should override it, to allocate nothing per value.
    fn apply_block(
        &mut self,
        table: &std::sync::Arc<TableSchema>,
        block: crate::row::RowBlock,
    ) -> Result<(), DestinationError> {
        self.apply_rows(table, block.into_rows())
    }

    /// Makes everything accepted since the last commit durable, atomically with `checkpoint`.
    fn commit(&mut self, checkpoint: &Checkpoint) -> Result<(), DestinationError>;

    /// Discards everything accepted since the last commit.
    fn rollback(&mut self) -> Result<(), DestinationError>;

    /// Chunk records of unfinished copy jobs (see [`Checkpoint::chunks`]); empty for a
    /// destination that keeps none (its copies restart from the beginning).
    fn load_chunks(&mut self) -> Result<Vec<ChunkRecord>, DestinationError> {
        Ok(Vec::new())
    }

    /// Committed rows of `table`, for verification; `None` when the destination keeps no rows.
    fn count_rows(&mut self, _table: &TableName) -> Result<Option<u64>, DestinationError> {
        Ok(None)
    }
}
