//! The change stream: START_REPLICATION on the slot, pgoutput decoded into [`SourceEvent`]s.
//!
//! # Positions and acknowledgement
//!
//! The stream starts at the destination's checkpoint, and reports that same checkpoint to the
//! server as flushed until [`PgStream::confirm`] raises it. The runtime calls `confirm` only with
//! positions the destination has durably committed, so the slot's `confirmed_flush_lsn` never
//! passes what siphon could recover after a crash: on restart the server resends every
//! transaction after it, and the runtime skips those at or below its checkpoint.
//!
//! Keepalives are answered by the replication session itself (with the confirmed position).
//! A keepalive received outside a transaction becomes [`SourceEvent::Idle`]: the server has sent
//! everything before its `wal_end`.
//!
//! # Relations
//!
//! pgoutput describes each table (Relation message) before its first change in a session and
//! after every schema change. Its key flags follow the replica identity (all columns for
//! REPLICA IDENTITY FULL), so the key is taken from the catalog schema the runtime loaded, by
//! column name. Changes to tables outside the replicated set are dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use pgwire_replication::{FeedbackObserver, ReplicationClient, ReplicationEvent};
use siphon_core::change::{Change, ChangeKind, SourceEvent};
use siphon_core::row::{Datum, Row};
use siphon_core::schema::{Column, SourceType, TableName, TableSchema};
use siphon_core::{Error, Lsn};

use crate::connect::{replication_error, PgConnector};
use crate::protocol::pgoutput::{self, OldTuple, PgOutputMessage, Relation, TupleData, TupleValue};
use crate::slot::to_wire;

/// A running replication stream.
pub struct PgStream {
    client: ReplicationClient,
    /// Catalog schemas of the replicated tables.
    known: HashMap<TableName, Arc<TableSchema>>,
    /// Relation id -> current schema; `None` for tables outside the replicated set.
    relations: HashMap<u32, Option<Arc<TableSchema>>>,
    /// The last description of each table outside the replicated set, in case it joins it
    /// ([`PgStream::add_table`]): pgoutput describes a relation once per session.
    unknown: HashMap<u32, Relation>,
    queue: VecDeque<SourceEvent>,
    in_transaction: bool,
    /// The server's WAL position as of the latest message (for lag).
    server_wal_end: Lsn,
}

impl PgStream {
    /// Starts streaming from `from` (the destination's checkpoint).
    pub async fn start(
        connector: &PgConnector,
        slot: &str,
        publication: &str,
        from: Lsn,
        tables: &[Arc<TableSchema>],
    ) -> Result<PgStream, Error> {
        let cfg = connector
            .replication_config(slot, publication)
            .with_start_lsn(to_wire(from))
            .with_ack_lsn(to_wire(from))
            // Observing feedback makes unsent confirmations visible (see `shutdown`).
            .with_feedback_observer(FeedbackObserver::new(|_| {}));
        let mut client =
            ReplicationClient::connect(cfg).await.map_err(|e| replication_error(e, "could not start replication"))?;
        client.wait_started().await.map_err(|e| {
            replication_error(e, &format!("could not start replication on slot \"{slot}\"")).with_hint(
                "another process may be using the slot (pg_replication_slots.active), or the slot was dropped",
            )
        })?;
        tracing::info!(slot, from = %from, "replication started");
        Ok(PgStream {
            client,
            known: tables.iter().map(|t| (t.name.clone(), t.clone())).collect(),
            relations: HashMap::new(),
            unknown: HashMap::new(),
            queue: VecDeque::new(),
            in_transaction: false,
            server_wal_end: from,
        })
    }

    /// The next event. Errors are transient when the connection was lost.
    pub async fn next(&mut self) -> Result<SourceEvent, Error> {
        loop {
            if let Some(ev) = self.queue.pop_front() {
                return Ok(ev);
            }
            let ev = self
                .client
                .recv()
                .await
                .map_err(|e| replication_error(e, "the replication stream failed"))?
                .ok_or_else(|| Error::transient("the replication stream ended"))?;
            self.handle(ev)?;
        }
    }

    /// The server's WAL position as of the latest message received.
    pub fn server_wal_end(&self) -> Lsn {
        self.server_wal_end
    }

    /// Replicates `schema`'s table from now on (a table that joined the publication while
    /// streaming). Its changes are delivered from the next message on.
    pub fn add_table(&mut self, schema: Arc<TableSchema>) {
        let name = schema.name.clone();
        self.known.insert(name.clone(), schema);
        let ids: Vec<u32> = self
            .unknown
            .iter()
            .filter(|(_, r)| r.namespace == name.schema && r.name == name.name)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(rel) = self.unknown.remove(&id) {
                self.relation(rel);
            }
        }
    }

    /// Reports `lsn` as durably applied (the slot may release WAL before it).
    pub fn confirm(&self, lsn: Lsn) {
        self.client.update_applied_lsn(to_wire(lsn));
    }

    /// Stops the stream. The last confirmed position is reported to the server first (waiting
    /// at most a few status intervals), so the slot's `confirmed_flush_lsn` matches the
    /// checkpoint when siphon stops.
    pub async fn shutdown(mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while self.client.feedback_pending_since().is_some() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let _ = self.client.shutdown().await;
    }

    fn handle(&mut self, ev: ReplicationEvent) -> Result<(), Error> {
        if let ReplicationEvent::KeepAlive { wal_end, .. } | ReplicationEvent::XLogData { wal_end, .. } = &ev {
            self.server_wal_end = self.server_wal_end.max(Lsn(wal_end.as_u64()));
        }
        match ev {
            ReplicationEvent::Begin { final_lsn, commit_time_micros, .. } => {
                self.in_transaction = true;
                self.queue.push_back(SourceEvent::Begin { final_lsn: Lsn(final_lsn.as_u64()), commit_time_micros });
            }
            ReplicationEvent::Commit { end_lsn, commit_time_micros, .. } => {
                self.in_transaction = false;
                self.queue.push_back(SourceEvent::Commit { end_lsn: Lsn(end_lsn.as_u64()), commit_time_micros });
            }
            ReplicationEvent::KeepAlive { wal_end, .. } if !self.in_transaction => {
                self.queue.push_back(SourceEvent::Idle { wal_end: Lsn(wal_end.as_u64()) });
            }
            ReplicationEvent::XLogData { data, .. } => self.decode(&data)?,
            ReplicationEvent::StoppedAt { .. } => return Err(Error::transient("the replication stream stopped")),
            ReplicationEvent::KeepAlive { .. } | ReplicationEvent::Message { .. } => {}
        }
        Ok(())
    }

    fn decode(&mut self, data: &[u8]) -> Result<(), Error> {
        let msg = pgoutput::decode(data, false)
            .map_err(|e| Error::fatal("could not decode a pgoutput message").with_detail(e.to_string()))?;
        match msg {
            PgOutputMessage::Relation(rel) => self.relation(rel),
            m @ (PgOutputMessage::Insert { .. } | PgOutputMessage::Update { .. } | PgOutputMessage::Delete { .. }) => {
                if let Some(change) = row_change(m, |id| self.table(id))? {
                    self.queue.push_back(SourceEvent::Change(change));
                }
            }
            PgOutputMessage::Truncate { relation_ids, .. } => {
                let mut names = Vec::new();
                for id in relation_ids {
                    if let Some(t) = self.table(id)? {
                        names.push(t.name.clone());
                    }
                }
                if !names.is_empty() {
                    self.queue.push_back(SourceEvent::Truncate(names));
                }
            }
            // Begin, Commit and Message arrive as their own replication events; Origin and Type
            // carry nothing siphon needs; streaming messages are not requested (protocol v1).
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

    fn relation(&mut self, rel: Relation) {
        let name = TableName::new(rel.namespace.clone(), rel.name.clone());
        let schema = self.known.get(&name).map(|known| Arc::new(merge_schema(known, &rel)));
        if let Some(s) = &schema {
            self.known.insert(name, s.clone());
            self.queue.push_back(SourceEvent::Schema(s.clone()));
        }
        let id = rel.id;
        if schema.is_none() {
            self.unknown.insert(id, rel);
        } else {
            self.unknown.remove(&id);
        }
        self.relations.insert(id, schema);
    }
}

/// The table as pgoutput describes it now, with keys and nullability from the catalog schema.
fn merge_schema(known: &TableSchema, rel: &Relation) -> TableSchema {
    let columns = rel
        .columns
        .iter()
        .map(|c| {
            let prior = known.columns.iter().find(|k| k.name == c.name);
            let same_type =
                prior.is_some_and(|p| p.source_type.oid == c.type_oid && p.source_type.modifier == c.type_modifier);
            Column {
                name: c.name.clone(),
                source_type: match prior {
                    Some(p) if same_type => p.source_type.clone(),
                    _ => SourceType { oid: c.type_oid, modifier: c.type_modifier, name: String::new(), base: None },
                },
                is_key: prior.is_some_and(|p| p.is_key),
                nullable: prior.is_none_or(|p| p.nullable),
            }
        })
        .collect();
    TableSchema { name: known.name.clone(), columns }
}

/// The row change an Insert, Update or Delete message describes, for a table `table` knows
/// (`None` for other tables or messages). Shared by the stream and by reads of a slot over SQL.
pub(crate) fn row_change(
    msg: PgOutputMessage,
    table: impl Fn(u32) -> Result<Option<Arc<TableSchema>>, Error>,
) -> Result<Option<Change>, Error> {
    let (relation_id, kind) = match msg {
        PgOutputMessage::Insert { relation_id, new, .. } => (relation_id, Kind::Insert(new)),
        PgOutputMessage::Update { relation_id, old, new, .. } => (relation_id, Kind::Update(old, new)),
        PgOutputMessage::Delete { relation_id, old, .. } => (relation_id, Kind::Delete(old)),
        _ => return Ok(None),
    };
    let Some(table) = table(relation_id)? else { return Ok(None) };
    let kind = match kind {
        Kind::Insert(new) => ChangeKind::Insert { new: row(new, &table)? },
        Kind::Update(old, new) => {
            let full_old = matches!(old, Some(OldTuple::Full(_)));
            let old_key = old.map(|o| row(old_tuple(o), &table)).transpose()?;
            let mut new = row(new, &table)?;
            // REPLICA IDENTITY FULL: the old row has every value, unchanged TOAST ones too.
            if let (true, Some(old)) = (full_old, &old_key) {
                for (n, o) in new.iter_mut().zip(old) {
                    if *n == Datum::UnchangedToast && *o != Datum::UnchangedToast {
                        *n = o.clone();
                    }
                }
            }
            ChangeKind::Update { old_key, new }
        }
        Kind::Delete(old) => ChangeKind::Delete { old_key: row(old_tuple(old), &table)? },
    };
    Ok(Some(Change { table, kind }))
}

enum Kind {
    Insert(TupleData),
    Update(Option<OldTuple>, TupleData),
    Delete(OldTuple),
}

fn old_tuple(o: OldTuple) -> TupleData {
    match o {
        OldTuple::Key(t) | OldTuple::Full(t) => t,
    }
}

fn row(tuple: TupleData, table: &TableSchema) -> Result<Row, Error> {
    if tuple.0.len() != table.columns.len() {
        return Err(Error::fatal(format!(
            "a change to {} has {} columns, its relation has {}",
            table.name,
            tuple.0.len(),
            table.columns.len()
        )));
    }
    tuple
        .0
        .into_iter()
        .map(|v| match v {
            TupleValue::Null => Ok(Datum::Null),
            TupleValue::UnchangedToast => Ok(Datum::UnchangedToast),
            TupleValue::Text(s) => Ok(Datum::Text(s)),
            TupleValue::Binary(_) => Err(Error::fatal("pgoutput sent a binary value; siphon requests text")),
        })
        .collect()
}
