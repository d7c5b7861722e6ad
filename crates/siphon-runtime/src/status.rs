//! `status.json` in the state directory: what the pipeline is doing, rewritten atomically on
//! every state change and after every commit. `siphon status` reads it; tests wait on it.
//! It holds no secrets and no row values.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::json;
use siphon_core::schema::TableName;
use siphon_core::Lsn;

use crate::state_dir::write_atomic;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Snapshotting,
    Streaming,
    Paused,
    Reconnecting,
    Stopped,
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Snapshotting => "snapshotting",
            Phase::Streaming => "streaming",
            Phase::Paused => "paused",
            Phase::Reconnecting => "reconnecting",
            Phase::Stopped => "stopped",
            Phase::Failed => "failed",
        }
    }
}

/// The pipeline's current status.
#[derive(Clone, Debug)]
pub struct Status {
    pub pipeline: String,
    pub phase: Phase,
    /// The last committed checkpoint.
    pub checkpoint: Option<Lsn>,
    /// The checkpoint's GTID set (MySQL / MariaDB with GTIDs).
    pub checkpoint_gtid: Option<String>,
    /// Rows copied by the snapshot in this process.
    pub snapshot_rows: u64,
    /// Changes applied by streaming in this process.
    pub changes_applied: u64,
    /// Commits to the destination in this process.
    pub commits: u64,
    pub last_error: Option<String>,
    /// The latest event of note (gap detected / repaired).
    pub last_event: Option<serde_json::Value>,
    /// Progress of the running copy (snapshot or backfill), per table; serialized as
    /// `tables.<name>.snapshot` (and `copy.<name>`).
    pub copy: BTreeMap<String, crate::copy::TableProgress>,
    /// Per replicated table (`schema.table`), in this process.
    pub tables: BTreeMap<String, TableStatus>,
    /// The source kind and how it prints a position (`checkpoint` in the JSON; `checkpoint_lsn`
    /// keeps the `X/Y` form every source's positions are ordered by).
    pub source: SourceLabel,
}

/// The source's kind and its way of printing a position.
#[derive(Clone)]
pub struct SourceLabel {
    pub kind: &'static str,
    pub format: std::sync::Arc<dyn Fn(Lsn) -> String + Send + Sync>,
}

impl Default for SourceLabel {
    fn default() -> Self {
        SourceLabel { kind: "postgres", format: std::sync::Arc::new(|l: Lsn| l.to_string()) }
    }
}

impl std::fmt::Debug for SourceLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind)
    }
}

/// A row operation, as counted per table (and labelled in the metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowOp {
    Insert,
    Update,
    Delete,
    Truncate,
}

impl RowOp {
    pub fn as_str(self) -> &'static str {
        match self {
            RowOp::Insert => "insert",
            RowOp::Update => "update",
            RowOp::Delete => "delete",
            RowOp::Truncate => "truncate",
        }
    }
}

/// One table's entry in `tables`: row changes committed to the destination by streaming.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TableStatus {
    pub inserts: u64,
    pub updates: u64,
    pub deletes: u64,
    pub truncates: u64,
    /// When a destination commit last carried a change to this table (ms since the Unix epoch).
    pub last_change_unix_ms: Option<u64>,
}

impl TableStatus {
    /// Adds `n` committed changes of kind `op`, the last of them committed at `at_unix_ms`.
    pub fn add(&mut self, op: RowOp, n: u64, at_unix_ms: u64) {
        let counter = match op {
            RowOp::Insert => &mut self.inserts,
            RowOp::Update => &mut self.updates,
            RowOp::Delete => &mut self.deletes,
            RowOp::Truncate => &mut self.truncates,
        };
        *counter += n;
        self.last_change_unix_ms = Some(at_unix_ms);
    }
}

impl Status {
    pub fn new(pipeline: &str) -> Self {
        Status {
            pipeline: pipeline.into(),
            phase: Phase::Starting,
            checkpoint: None,
            checkpoint_gtid: None,
            snapshot_rows: 0,
            changes_applied: 0,
            commits: 0,
            last_error: None,
            last_event: None,
            copy: BTreeMap::new(),
            tables: BTreeMap::new(),
            source: SourceLabel::default(),
        }
    }

    /// The entry of `table`, created (all zero) if it has none yet.
    pub fn table_mut(&mut self, table: &TableName) -> &mut TableStatus {
        self.tables.entry(table.to_string()).or_default()
    }

    /// `tables`, with each copied table's progress as its `snapshot`.
    fn tables_json(&self) -> serde_json::Value {
        let mut tables = serde_json::to_value(&self.tables).unwrap_or_default();
        for (name, progress) in &self.copy {
            if let Some(map) = tables.as_object_mut() {
                let entry = map.entry(name.clone()).or_insert_with(|| serde_json::json!({}));
                entry["snapshot"] = progress.to_json();
            }
        }
        tables
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "pipeline": self.pipeline,
            "state": self.phase.as_str(),
            "source": self.source.kind,
            "checkpoint": self.checkpoint.map(|l| (self.source.format)(l)),
            "checkpoint_lsn": self.checkpoint.map(|l| l.to_string()),
            "checkpoint_gtid": self.checkpoint_gtid,
            "snapshot_rows": self.snapshot_rows,
            "changes_applied": self.changes_applied,
            "commits": self.commits,
            "last_error": self.last_error,
            "last_event": self.last_event,
            "tables": self.tables_json(),
            "copy": self.copy.iter().map(|(t, p)| (t.clone(), p.to_json())).collect::<serde_json::Map<_, _>>(),
            "pid": std::process::id(),
            "updated_at_unix_ms": unix_ms_now(),
        })
    }

    /// Writes `status.json` into `dir`; a failure is logged, never fatal.
    pub fn write(&self, dir: &Path) {
        let body = serde_json::to_vec_pretty(&self.to_json()).unwrap_or_default();
        if let Err(e) = write_atomic(&dir.join("status.json"), &body) {
            tracing::warn!(error = %e, "could not write status.json");
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
