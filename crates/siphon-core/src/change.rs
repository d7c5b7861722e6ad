//! Change events, as a source delivers them to the runtime.

use std::sync::Arc;

use crate::position::Lsn;
use crate::row::Row;
use crate::schema::{TableName, TableSchema};

/// A row-level change to one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub table: Arc<TableSchema>,
    pub kind: ChangeKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Insert {
        new: Row,
    },
    /// `old_key` is the full old row or its key columns (the rest NULL) when the key changed
    /// or the table has REPLICA IDENTITY FULL; `None` when the key did not change.
    Update {
        old_key: Option<Row>,
        new: Row,
    },
    /// `old_key` holds at least the key columns.
    Delete {
        old_key: Row,
    },
}

/// What a source emits, in commit order. Changes only occur between a `Begin` and its `Commit`;
/// transactions never interleave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceEvent {
    Begin {
        final_lsn: Lsn,
        commit_time_micros: i64,
    },
    /// A table's schema as of the following changes (sent before its first change and after
    /// every schema change).
    Schema(Arc<TableSchema>),
    Change(Change),
    Truncate(Vec<TableName>),
    /// `end_lsn` is the position just past the commit record: the checkpoint once applied.
    Commit {
        end_lsn: Lsn,
        commit_time_micros: i64,
    },
    /// The server says it has sent everything up to `wal_end` and nothing is in flight. When no
    /// transaction is open and everything before is durable, this position may be confirmed.
    Idle {
        wal_end: Lsn,
    },
}
