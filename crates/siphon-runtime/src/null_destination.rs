//! The `null` destination: discards rows, keeps checkpoints.
//!
//! For benchmarks (it measures the source and runtime alone) and diagnosis. The checkpoint is a
//! small file in the state directory, replaced atomically and durably on every commit, so
//! restarts resume exactly as with a real destination.

use std::path::PathBuf;

use siphon_core::batch::Batch;
use siphon_core::destination::{Checkpoint, Destination, DestinationError};
use siphon_core::schema::{TableName, TableSchema};

use crate::state_dir::write_atomic;

pub struct NullDestination {
    file: PathBuf,
    snapshotted: Vec<TableName>,
}

impl NullDestination {
    pub fn new(state_dir: &std::path::Path) -> Self {
        NullDestination { file: state_dir.join("null-checkpoint"), snapshotted: Vec::new() }
    }
}

impl Destination for NullDestination {
    fn describe(&self) -> String {
        "null".into()
    }

    fn load_checkpoint(&mut self) -> Result<Option<Checkpoint>, DestinationError> {
        let text = match std::fs::read_to_string(&self.file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(DestinationError::fatal("could not read the null destination's checkpoint")
                    .with_detail(e.to_string()))
            }
        };
        let mut lines = text.lines();
        let corrupt = || DestinationError::fatal(format!("corrupt checkpoint file {}", self.file.display()));
        let lsn = lines.next().and_then(|l| l.parse().ok()).ok_or_else(corrupt)?;
        let tables = lines.map(|l| TableName::parse(l).map_err(|_| corrupt())).collect::<Result<Vec<_>, _>>()?;
        self.snapshotted = tables.clone();
        Ok(Some(Checkpoint { lsn, snapshotted_tables: tables }))
    }

    fn ensure_table(&mut self, _schema: &TableSchema) -> Result<(), DestinationError> {
        Ok(())
    }

    fn apply(&mut self, _batch: Batch) -> Result<(), DestinationError> {
        Ok(())
    }

    fn commit(&mut self, checkpoint: &Checkpoint) -> Result<(), DestinationError> {
        for t in &checkpoint.snapshotted_tables {
            if !self.snapshotted.contains(t) {
                self.snapshotted.push(t.clone());
            }
        }
        let mut text = format!("{}\n", checkpoint.lsn);
        for t in &self.snapshotted {
            text.push_str(&format!("{t}\n"));
        }
        write_atomic(&self.file, text.as_bytes()).map_err(|e| {
            DestinationError::fatal("could not write the null destination's checkpoint").with_detail(e.to_string())
        })
    }

    fn rollback(&mut self) -> Result<(), DestinationError> {
        Ok(())
    }
}
