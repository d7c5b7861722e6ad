//! `status.json` in the state directory: what the pipeline is doing, rewritten atomically on
//! every state change and after every commit. `siphon status` reads it; tests wait on it.
//! It holds no secrets and no row values.

use std::path::Path;

use serde_json::json;
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
    /// Rows copied by the snapshot in this process.
    pub snapshot_rows: u64,
    /// Changes applied by streaming in this process.
    pub changes_applied: u64,
    /// Commits to the destination in this process.
    pub commits: u64,
    pub last_error: Option<String>,
    /// The latest event of note (gap detected / repaired).
    pub last_event: Option<serde_json::Value>,
    /// Progress of the running copy (snapshot or backfill), per table.
    pub copy: std::collections::BTreeMap<String, crate::copy::TableProgress>,
}

impl Status {
    pub fn new(pipeline: &str) -> Self {
        Status {
            pipeline: pipeline.into(),
            phase: Phase::Starting,
            checkpoint: None,
            snapshot_rows: 0,
            changes_applied: 0,
            commits: 0,
            last_error: None,
            last_event: None,
            copy: Default::default(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "pipeline": self.pipeline,
            "state": self.phase.as_str(),
            "checkpoint_lsn": self.checkpoint.map(|l| l.to_string()),
            "snapshot_rows": self.snapshot_rows,
            "changes_applied": self.changes_applied,
            "commits": self.commits,
            "last_error": self.last_error,
            "last_event": self.last_event,
            "copy": self.copy.iter().map(|(t, p)| (t.clone(), p.to_json())).collect::<serde_json::Map<_, _>>(),
            "pid": std::process::id(),
            "updated_at_unix_ms": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
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
