//! A slot's changes read over SQL (`pg_logical_slot_peek_binary_changes` /
//! `pg_logical_slot_get_binary_changes` with pgoutput), for `siphon verify`.
//!
//! Verification compares the source at one position with the replica at another, and bridges
//! the two with exactly the changes committed in between. Those come from a logical slot, read
//! through the SQL interface: the same pgoutput messages the pipeline streams, decoded by the
//! same [`crate::protocol::pgoutput`] decoder into the same [`Change`]s, compacted per key by
//! [`Batch`] exactly as the pipeline compacts them.
//!
//! - [`ReadMode::Peek`] reads without consuming (the pipeline's own slot, while nothing streams
//!   from it).
//! - [`ReadMode::Consume`] reads and advances the slot (a verification's own slot).
//!
//! Decoding stops after the record that ends at or past `upto`: a transaction is included
//! exactly when its commit record ends at or before `upto` — for `upto` a transaction's end
//! (a checkpoint) or a slot's consistent point, those are the transactions committed before it.
//! Transactions whose commit record starts before `skip_before` are left out, as the pipeline
//! skips them after a restart (they are already applied).

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use siphon_core::batch::Batch;
use siphon_core::change::{Change, ChangeKind};
use siphon_core::schema::{quote_ident, TableName, TableSchema};
use siphon_core::{Error, Lsn};
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use crate::connect::classify;
use crate::protocol::pgoutput::{self, PgOutputMessage, Relation};
use crate::stream::{old_tuple, row};

/// Whether reading advances the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    Peek,
    Consume,
}

/// Which changes to read.
#[derive(Clone, Debug)]
pub struct SlotRead {
    pub slot: String,
    pub publication: String,
    pub mode: ReadMode,
    /// Read transactions whose commit record ends at or before this position.
    pub upto: Lsn,
    /// Leave out transactions whose commit record starts before this position.
    pub skip_before: Lsn,
    /// Hand the compacted changes over whenever this many were read (bounds memory).
    pub batch_changes: usize,
}

/// Reads the changes of `tables` (others are ignored), handing them over as compacted batches
/// in commit order; returns how many changes were read.
pub async fn read(
    client: &Client,
    req: &SlotRead,
    tables: &[Arc<TableSchema>],
    mut on_batch: impl FnMut(Batch) -> Result<(), Error>,
) -> Result<u64, Error> {
    let function = match req.mode {
        ReadMode::Peek => "pg_logical_slot_peek_binary_changes",
        ReadMode::Consume => "pg_logical_slot_get_binary_changes",
    };
    let sql = format!(
        "SELECT data FROM {function}($1, $2::text::pg_lsn, NULL, 'proto_version', '1', 'publication_names', $3)"
    );
    let (upto, publications) = (req.upto.to_string(), quote_ident(&req.publication));
    let params: [&(dyn ToSql + Sync); 3] = [&req.slot, &upto, &publications];
    let what = format!("could not read the changes of replication slot \"{}\"", req.slot);
    let rows = client.query_raw(&sql, params.iter().copied()).await.map_err(|e| classify(e, &what))?;
    futures_util::pin_mut!(rows);
    let mut decoder = Decoder {
        known: tables.iter().map(|t| (t.name.clone(), t.clone())).collect(),
        relations: HashMap::new(),
        skip_before: req.skip_before,
        skipping: false,
        batch: Batch::new(),
    };
    let mut total = 0u64;
    while let Some(r) = rows.next().await {
        let r = r.map_err(|e| classify(e, &what))?;
        decoder.message(r.get::<_, &[u8]>(0))?;
        if decoder.batch.change_count() >= req.batch_changes {
            total += decoder.batch.change_count() as u64;
            on_batch(std::mem::take(&mut decoder.batch))?;
        }
    }
    total += decoder.batch.change_count() as u64;
    if !decoder.batch.is_empty() {
        on_batch(decoder.batch)?;
    }
    Ok(total)
}

struct Decoder {
    known: HashMap<TableName, Arc<TableSchema>>,
    /// Relation id -> schema; `None` for tables outside `known`.
    relations: HashMap<u32, Option<Arc<TableSchema>>>,
    skip_before: Lsn,
    /// The current transaction is left out.
    skipping: bool,
    batch: Batch,
}

impl Decoder {
    fn message(&mut self, data: &[u8]) -> Result<(), Error> {
        let msg = pgoutput::decode(data, false)
            .map_err(|e| Error::fatal("could not decode a pgoutput message").with_detail(e.to_string()))?;
        match msg {
            PgOutputMessage::Begin(b) => self.skipping = Lsn(b.final_lsn) < self.skip_before,
            PgOutputMessage::Relation(rel) => self.relation(rel)?,
            _ if self.skipping => {}
            PgOutputMessage::Insert { relation_id, new, .. } => {
                if let Some(table) = self.table(relation_id)? {
                    let kind = ChangeKind::Insert { new: row(new, &table)? };
                    self.batch.push(Change { table, kind });
                }
            }
            PgOutputMessage::Update { relation_id, old, new, .. } => {
                if let Some(table) = self.table(relation_id)? {
                    let old_key = old.map(|o| row(old_tuple(o), &table)).transpose()?;
                    let kind = ChangeKind::Update { old_key, new: row(new, &table)? };
                    self.batch.push(Change { table, kind });
                }
            }
            PgOutputMessage::Delete { relation_id, old, .. } => {
                if let Some(table) = self.table(relation_id)? {
                    let kind = ChangeKind::Delete { old_key: row(old_tuple(old), &table)? };
                    self.batch.push(Change { table, kind });
                }
            }
            PgOutputMessage::Truncate { relation_ids, .. } => {
                for id in relation_ids {
                    if let Some(table) = self.table(id)? {
                        self.batch.truncate(table);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn table(&self, relation_id: u32) -> Result<Option<Arc<TableSchema>>, Error> {
        self.relations.get(&relation_id).cloned().ok_or_else(|| {
            Error::fatal("pgoutput sent a change for a relation it never described")
                .with_detail(format!("relation id {relation_id}"))
        })
    }

    /// Maps a relation to its schema; its columns must be the schema's (rows are taken by position).
    fn relation(&mut self, rel: Relation) -> Result<(), Error> {
        let name = TableName::new(rel.namespace, rel.name);
        let schema = self.known.get(&name).cloned();
        if let Some(s) = &schema {
            let names: Vec<&str> = rel.columns.iter().map(|c| c.name.as_str()).collect();
            let expected: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
            if names != expected {
                return Err(Error::fatal(format!("the columns of {name} changed while it was being verified"))
                    .with_detail(format!("columns were {}, changes carry {}", expected.join(", "), names.join(", ")))
                    .with_hint("run siphon verify again"));
            }
        }
        self.relations.insert(rel.id, schema);
        Ok(())
    }
}
