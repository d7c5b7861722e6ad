//! A slot's changes read over SQL (`pg_logical_slot_peek_binary_changes` /
//! `pg_logical_slot_get_binary_changes` with pgoutput), for `siphon verify`.
//!
//! Verification compares the source at one position with the replica at another, and bridges
//! the two with exactly the changes committed in between. Those come from a logical slot, read
//! through the SQL interface: the same pgoutput messages the pipeline streams, decoded by the
//! same [`crate::protocol::pgoutput`] decoder into the same [`Change`]s, compacted per key by
//! [`Batch`] exactly as the pipeline compacts them.
//!
//! - [`peek`] reads a slot without consuming it (the pipeline's own slot, while nothing streams
//!   from it).
//! - [`TemporarySlot`] is a verification's own slot, consumed as it goes. It is *temporary*: the
//!   server drops it when its session ends, so a verification that dies leaves no slot behind
//!   retaining WAL.
//!
//! Decoding stops after the record that ends at or past `upto`, so a transaction is included
//! exactly when its commit record ends at or before `upto` — for `upto` a transaction's end (a
//! checkpoint), exactly the transactions up to it. WAL is decoded only once flushed, so reading
//! first waits until `upto` is. Transactions whose commit record starts before `after` are left
//! out, as the pipeline skips them after a restart (they are already applied).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use siphon_core::batch::Batch;
use siphon_core::schema::{quote_ident, TableName, TableSchema};
use siphon_core::{Error, Lsn};
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use crate::connect::{classify, PgConnector};
use crate::protocol::pgoutput::{self, PgOutputMessage, Relation};

/// Changes decoded before they are handed over (bounds memory).
const CHANGES_PER_BATCH: usize = 10_000;

/// Which changes of a slot to read: transactions committed after `after` up to `upto`.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub after: Lsn,
    pub upto: Lsn,
}

/// Reads, without consuming, the changes of `tables` (others are ignored) in `window` from
/// `slot`, handing them over as compacted batches in commit order; returns how many were read.
pub async fn peek(
    client: &Client,
    slot: &str,
    publication: &str,
    window: Window,
    tables: &[Arc<TableSchema>],
    on_batch: impl FnMut(Batch) -> Result<(), Error>,
) -> Result<u64, Error> {
    read(client, "pg_logical_slot_peek_binary_changes", slot, publication, window, tables, on_batch).await
}

/// A temporary pgoutput slot, owned by a session of its own.
pub struct TemporarySlot {
    client: Client,
    name: String,
    /// Where the slot starts: it holds every transaction committed after this position.
    pub start: Lsn,
}

impl TemporarySlot {
    /// Creates the slot (waiting, as any slot creation does, for transactions in progress).
    pub async fn create(connector: &PgConnector, name: &str) -> Result<TemporarySlot, Error> {
        let client = connector.sql().await?;
        let what = format!("could not create the temporary replication slot \"{name}\"");
        let row = client
            .query_one("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput', true)", &[&name])
            .await
            .map_err(|e| {
                classify(e, &what).with_hint("max_replication_slots must have room for one more slot while verifying")
            })?;
        let start =
            row.get::<_, String>(0).parse().map_err(|_| Error::fatal(what.clone()).with_detail("invalid LSN"))?;
        Ok(TemporarySlot { client, name: name.into(), start })
    }

    /// Reads and consumes the changes of `tables` committed up to `upto`, like [`peek`].
    pub async fn consume(
        &self,
        publication: &str,
        upto: Lsn,
        tables: &[Arc<TableSchema>],
        on_batch: impl FnMut(Batch) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let window = Window { after: self.start, upto };
        read(&self.client, "pg_logical_slot_get_binary_changes", &self.name, publication, window, tables, on_batch)
            .await
    }

    /// Drops the slot now (ending the session would too).
    pub async fn remove(self) {
        if let Err(e) = self.client.execute("SELECT pg_drop_replication_slot($1)", &[&self.name]).await {
            tracing::debug!(slot = %self.name, error = %e, "dropping the temporary slot failed; it goes with its session");
        }
    }
}

async fn read(
    client: &Client,
    function: &str,
    slot: &str,
    publication: &str,
    window: Window,
    tables: &[Arc<TableSchema>],
    mut on_batch: impl FnMut(Batch) -> Result<(), Error>,
) -> Result<u64, Error> {
    let what = format!("could not read the changes of replication slot \"{slot}\"");
    wait_flushed(client, window.upto, &what).await?;
    let sql = format!(
        "SELECT data FROM {function}($1, $2::text::pg_lsn, NULL, 'proto_version', '1', 'publication_names', $3)"
    );
    let (upto, publications) = (window.upto.to_string(), quote_ident(publication));
    let params: [&(dyn ToSql + Sync); 3] = [&slot, &upto, &publications];
    let rows = client.query_raw(&sql, params.iter().copied()).await.map_err(|e| classify(e, &what))?;
    futures_util::pin_mut!(rows);
    let mut decoder = Decoder {
        known: tables.iter().map(|t| (t.name.clone(), t.clone())).collect(),
        relations: HashMap::new(),
        after: window.after,
        skipping: false,
        batch: Batch::new(),
    };
    let mut total = 0u64;
    while let Some(r) = rows.next().await {
        let r = r.map_err(|e| classify(e, &what))?;
        decoder.message(r.get::<_, &[u8]>(0))?;
        if decoder.batch.change_count() >= CHANGES_PER_BATCH {
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

/// Waits (at most a few seconds: the WAL writer flushes on its own) until `lsn` is flushed.
async fn wait_flushed(client: &Client, lsn: Lsn, what: &str) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let flushed: String = client
            .query_one("SELECT pg_current_wal_flush_lsn()::text", &[])
            .await
            .map_err(|e| classify(e, what))?
            .get(0);
        if flushed.parse::<Lsn>().is_ok_and(|f| f >= lsn) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(
                Error::fatal(what.to_string()).with_detail(format!("WAL up to {lsn} was not flushed after 10 s"))
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Decoder {
    known: HashMap<TableName, Arc<TableSchema>>,
    /// Relation id -> schema; `None` for tables outside `known`.
    relations: HashMap<u32, Option<Arc<TableSchema>>>,
    /// Transactions committing before this are left out.
    after: Lsn,
    /// The current transaction is left out.
    skipping: bool,
    batch: Batch,
}

impl Decoder {
    fn message(&mut self, data: &[u8]) -> Result<(), Error> {
        let msg = pgoutput::decode(data, false)
            .map_err(|e| Error::fatal("could not decode a pgoutput message").with_detail(e.to_string()))?;
        match msg {
            PgOutputMessage::Begin(b) => self.skipping = Lsn(b.final_lsn) < self.after,
            PgOutputMessage::Relation(rel) => self.relation(rel)?,
            _ if self.skipping => {}
            m @ (PgOutputMessage::Insert { .. } | PgOutputMessage::Update { .. } | PgOutputMessage::Delete { .. }) => {
                if let Some(change) = crate::stream::row_change(m, |id| self.table(id))? {
                    self.batch.push(change);
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
