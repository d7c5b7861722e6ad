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
    identity: Option<String>,
}

impl NullDestination {
    pub fn new(state_dir: &std::path::Path) -> Self {
        NullDestination { file: state_dir.join("null-checkpoint"), snapshotted: Vec::new(), identity: None }
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
        // First line: `LSN` or `LSN IDENTITY`; then `gtid=SET` when there is one; then one
        // snapshotted table per line.
        let first = lines.next().ok_or_else(corrupt)?;
        let mut lines = lines.peekable();
        let gtid = lines.next_if(|l| l.starts_with("gtid=")).map(|l| l["gtid=".len()..].to_string());
        let (lsn, identity) = match first.split_once(' ') {
            Some((l, i)) => (l, Some(i.to_string())),
            None => (first, None),
        };
        let lsn = lsn.parse().map_err(|_| corrupt())?;
        self.identity = identity.clone();
        let tables = lines.map(|l| TableName::parse(l).map_err(|_| corrupt())).collect::<Result<Vec<_>, _>>()?;
        self.snapshotted = tables.clone();
        Ok(Some(Checkpoint {
            lsn,
            snapshotted_tables: tables,
            source_identity: identity,
            gtid,
            ..Checkpoint::default()
        }))
    }

    fn ensure_table(&mut self, _schema: &TableSchema) -> Result<(), DestinationError> {
        Ok(())
    }

    fn apply(&mut self, _batch: Batch) -> Result<(), DestinationError> {
        Ok(())
    }

    fn apply_rows(
        &mut self,
        _table: &std::sync::Arc<siphon_core::schema::TableSchema>,
        _rows: Vec<siphon_core::row::Row>,
    ) -> Result<(), DestinationError> {
        Ok(())
    }

    fn apply_block(
        &mut self,
        _table: &std::sync::Arc<TableSchema>,
        _block: siphon_core::row::RowBlock,
    ) -> Result<(), DestinationError> {
        Ok(())
    }

    fn commit(&mut self, checkpoint: &Checkpoint) -> Result<(), DestinationError> {
        for t in &checkpoint.snapshotted_tables {
            if !self.snapshotted.contains(t) {
                self.snapshotted.push(t.clone());
            }
        }
        if checkpoint.source_identity.is_some() {
            self.identity = checkpoint.source_identity.clone();
        }
        let mut text = match &self.identity {
            Some(i) => format!("{} {i}\n", checkpoint.lsn),
            None => format!("{}\n", checkpoint.lsn),
        };
        if let Some(g) = &checkpoint.gtid {
            text.push_str(&format!("gtid={g}\n"));
        }
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
