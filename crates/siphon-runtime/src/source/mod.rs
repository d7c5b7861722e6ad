//! What the pipeline needs from a source database, whatever its kind.
//!
//! The pipeline ([`crate::pipeline`]) owns the order of everything that touches correctness:
//! checkpoints, hand-offs, gaps. A [`Source`] supplies the source-specific steps it orders:
//!
//! - the replicated tables and their schemas ([`Source::tables`]);
//! - whether a stored checkpoint can still be resumed from ([`Source::continuity`]): the log
//!   after it must still exist on the same server;
//! - a *fresh start* ([`Source::fresh_start`]): a position to stream from, with no usable
//!   checkpoint (first start, or after a gap), and, when the source offers one, a snapshot
//!   consistent with exactly that position for the copy of every table;
//! - the change stream from a position ([`Source::stream`], [`ChangeStream`]);
//! - table copies: key-range chunks read at a snapshot whose *consistent point* is known
//!   ([`Source::copy_snapshot`], [`Source::copy_chunk`]). A source that cannot share one
//!   snapshot between connections (MySQL) reads each chunk at a snapshot of its own and reports
//!   its consistent point through [`ChunkSink::snapshot`] before the chunk's rows; the hand-off
//!   argument in [`crate::copy`] holds per chunk.
//!
//! Positions are [`Lsn`]s: 64-bit, totally ordered within one server's history. A source maps
//! its own positions onto them (PostgreSQL: the LSN itself; MySQL: binlog file number and
//! offset) and says how to print them ([`Source::format_position`]).

use std::future::Future;
use std::sync::Arc;

use siphon_core::change::SourceEvent;
use siphon_core::copy::{AsyncRowSink, KeyRange};
use siphon_core::destination::Checkpoint;
use siphon_core::row::{Row, RowBlock};
use siphon_core::schema::{TableName, TableSchema};
use siphon_core::{Error, Lsn};
use tokio::sync::mpsc;

use crate::copy::CopyMsg;

/// A break in the change stream after the checkpoint `from`.
#[derive(Clone, Debug)]
pub struct Gap {
    pub reason: String,
    pub from: Lsn,
}

/// Can a stored checkpoint be resumed from?
pub enum Continuity {
    /// Yes: stream from this position (the checkpoint).
    Resume(Lsn),
    /// `siphon upgrade finish` left an anchor that matches the source: continue from `lsn` on
    /// the server identified by `identity` (commit it as the new checkpoint first).
    Anchored { lsn: Lsn, identity: String },
    /// The checkpoint's transactions are on another server now (a failover in the source's
    /// replication topology, proven by GTIDs): continue from `lsn`, that server's position
    /// right after them, on the server identified by `identity` (`was`: the checkpoint's).
    Moved { lsn: Lsn, identity: String, was: String },
    /// No: changes after the checkpoint may be missing.
    Gap(Gap),
}

/// A position to stream from when there is no usable checkpoint.
pub struct Fresh<S> {
    /// The stream starts here; committed as the checkpoint with every table emptied.
    pub position: Lsn,
    /// The source server the position belongs to (stored with the checkpoint).
    pub identity: String,
    /// The GTID set of every transaction before `position` (MySQL / MariaDB with GTIDs).
    pub gtid: Option<String>,
    /// A snapshot consistent with `position`, held for the first copy, when the source made one.
    pub snapshot: Option<S>,
}

/// The source's replication-health numbers, for metrics and alerts.
#[derive(Clone, Debug, Default)]
pub struct SourceHealth {
    /// Log the source retains for siphon (bytes), when known.
    pub retained_bytes: Option<i64>,
    /// How much more the source may retain before it invalidates siphon's position.
    pub safe_bytes: Option<i64>,
    /// The server-side state of siphon's position (PostgreSQL `wal_status`).
    pub status: Option<String>,
    /// A session holds siphon's position (the replication connection is up).
    pub active: bool,
}

/// A running change stream.
pub trait ChangeStream: Send {
    /// The next event, in commit order (see [`SourceEvent`]).
    fn next(&mut self) -> impl Future<Output = Result<SourceEvent, Error>> + Send;
    /// The server's latest position known to the stream (for the lag in bytes).
    fn server_end(&self) -> Lsn;
    /// Tells the source that everything up to `lsn` is durable at the destination.
    fn confirm(&self, lsn: Lsn);
    /// Columns of `table` the stream saw renamed (`(old, new)`) since the last call, when the
    /// source's log says so (MySQL `ALTER TABLE ... RENAME COLUMN / CHANGE`); empty otherwise.
    fn renamed(&mut self, _table: &TableName) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Streams `schema`'s table too from now on (it joined the replicated set while streaming).
    fn add_table(&mut self, schema: Arc<TableSchema>);
    /// The GTID set of every transaction up to the last `Commit` [`ChangeStream::next`]
    /// returned, when the source has GTIDs (committed with the checkpoint at that commit).
    fn gtid(&self) -> Option<String> {
        None
    }
    fn shutdown(self) -> impl Future<Output = ()> + Send;
}

/// A table's columns in the source catalog, with the source's position read after them.
pub struct CatalogSeen {
    pub schema: Arc<TableSchema>,
    /// Columns with a default value.
    pub defaults: Vec<String>,
    pub position: Lsn,
}

/// One source database. See the module doc.
pub trait Source: Clone + Send + Sync + 'static {
    type Stream: ChangeStream;
    /// A snapshot every worker of a copy reads at (`()` for a source that reads each chunk at
    /// its own snapshot).
    type Snapshot: Send + Sync + 'static;
    /// A copy worker's connection.
    type Conn: Send + 'static;

    /// The source's kind, as `source.kind` names it.
    const KIND: &'static str;

    /// For logs (never a secret).
    fn describe(&self) -> String;

    /// Prints a position the way the source's own tools do.
    fn format_position(&self, lsn: Lsn) -> String {
        lsn.to_string()
    }

    /// Bytes of log from `from` to `to` (for the lag in bytes), when the source can tell.
    fn log_bytes_between(&self, from: Lsn, to: Lsn) -> u64 {
        to.0.saturating_sub(from.0)
    }

    /// The replicated tables' current schemas: the configured ones, or every table the source
    /// offers (a PostgreSQL publication, a MySQL database).
    fn tables(
        &self,
        configured: Option<&[TableName]>,
    ) -> impl Future<Output = Result<Vec<Arc<TableSchema>>, Error>> + Send;

    /// Whether streaming can resume at `cp` (`confirmed`: the highest position siphon itself
    /// confirmed to the source; `anchor`: a `siphon upgrade finish` anchor).
    fn continuity(
        &self,
        cp: &Checkpoint,
        confirmed: Lsn,
        anchor: Option<&crate::upgrade::Anchor>,
    ) -> impl Future<Output = Result<Continuity, Error>> + Send;

    /// A position to stream from with no usable checkpoint (`gap`: after a gap, whose broken
    /// position is discarded).
    fn fresh_start(&self, gap: bool) -> impl Future<Output = Result<Fresh<Self::Snapshot>, Error>> + Send;

    /// Streams the changes after `from` to `tables`; `gtid`: the checkpoint's GTID set, when it
    /// has one (a source that has GTIDs starts after the transactions in it).
    fn stream(
        &self,
        from: Lsn,
        gtid: Option<&str>,
        tables: &[Arc<TableSchema>],
    ) -> impl Future<Output = Result<Self::Stream, Error>> + Send;

    /// The tables the catalog poll ([`poll_catalog`]) reads: the `configured` ones, or every
    /// table the source offers now (so a table that joined it is seen too).
    fn catalog_tables(
        &self,
        conn: &mut Self::Conn,
        configured: Option<&[TableName]>,
    ) -> impl Future<Output = Result<Vec<TableName>, Error>> + Send;

    /// One table's columns as the catalog shows them now, with the source's position read after.
    fn catalog_table(
        &self,
        conn: &mut Self::Conn,
        table: &TableName,
    ) -> impl Future<Output = Result<CatalogSeen, Error>> + Send;

    /// Each current column's stable identity in the source catalog (PostgreSQL: `attnum`), which
    /// a rename keeps and a drop-and-add does not; `None` when the source has none.
    fn column_ids(
        &self,
        _table: &TableName,
    ) -> impl Future<Output = Result<Option<std::collections::HashMap<String, i64>>, Error>> + Send {
        async { Ok(None) }
    }

    /// After a pause: waits until the source has let go of siphon's position.
    fn released(&self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// The replication-health numbers (`None` when the source has none to offer).
    fn health(&self) -> impl Future<Output = Result<Option<SourceHealth>, Error>> + Send {
        async { Ok(None) }
    }

    /// The snapshot a copy's workers read at: `held` (made by [`Source::fresh_start`]) or a new
    /// one, with its consistent point (`None` when each chunk reports its own).
    fn copy_snapshot(
        &self,
        held: Option<Self::Snapshot>,
    ) -> impl Future<Output = Result<(Self::Snapshot, Option<Lsn>), Error>> + Send;

    /// A copy worker's connection.
    fn copy_connect(&self) -> impl Future<Output = Result<Self::Conn, Error>> + Send;

    /// The table's estimated row count.
    fn estimate_rows(
        &self,
        conn: &mut Self::Conn,
        schema: &TableSchema,
    ) -> impl Future<Output = Result<u64, Error>> + Send;

    /// Splits the table into key ranges of about `chunk_rows` rows.
    fn plan_chunks(
        &self,
        conn: &mut Self::Conn,
        schema: &TableSchema,
        estimated_rows: u64,
        chunk_rows: u64,
    ) -> impl Future<Output = Result<Vec<KeyRange>, Error>> + Send;

    /// Reads one chunk at `snapshot` into `sink`; returns the rows read.
    fn copy_chunk(
        &self,
        conn: &mut Self::Conn,
        snapshot: &Self::Snapshot,
        schema: &TableSchema,
        range: &KeyRange,
        sink: &mut ChunkSink<'_>,
    ) -> impl Future<Output = Result<u64, Error>> + Send;

    /// The copy is over: the snapshot may go.
    fn release_snapshot(&self, _snapshot: Self::Snapshot) {}
}

/// Where a copy worker sends a chunk: its consistent point (when it has its own) and its rows,
/// best as [`RowBlock`]s ([`AsyncRowSink::block`]); [`AsyncRowSink::rows`] puts rows into one.
pub struct ChunkSink<'a> {
    pub(crate) tx: &'a mpsc::Sender<CopyMsg>,
    pub(crate) table: usize,
    /// The table's columns (every row has one value per column).
    pub(crate) columns: usize,
}

fn cancelled() -> Error {
    Error::transient("the copy was cancelled")
}

impl ChunkSink<'_> {
    /// The chunk is read at a snapshot of its own that sees exactly the transactions that
    /// commit before `lsn`: its rows may be applied once the stream has delivered those.
    pub async fn snapshot(&mut self, lsn: Lsn) -> Result<(), Error> {
        self.tx.send(CopyMsg::Snapshot(lsn)).await.map_err(|_| cancelled())
    }
}

impl AsyncRowSink for ChunkSink<'_> {
    async fn rows(&mut self, rows: Vec<Row>) -> Result<(), Error> {
        let block = RowBlock::from_rows(self.columns, &rows).map_err(|e| {
            Error::fatal("a copy produced a row that does not fit its table").with_detail(e.to_string())
        })?;
        self.block(block).await
    }

    async fn block(&mut self, block: RowBlock) -> Result<(), Error> {
        if block.columns() != self.columns {
            return Err(Error::fatal("a copy produced a row that does not fit its table").with_detail(format!(
                "{} values for {} columns",
                block.columns(),
                self.columns
            )));
        }
        self.tx.send(CopyMsg::Rows { table: self.table, block }).await.map_err(|_| cancelled())
    }
}
pub mod postgres;

/// Reads the replicated tables' columns from `source`'s catalog every `every` for the session's
/// life, sending what it sees to `tx` (see [`Source::catalog_tables`]). A table that cannot be
/// replicated (no key) is reported once and skipped; a connection error reconnects at the next
/// round.
///
/// Why polling (and not, on PostgreSQL, an event trigger that emits a logical message): it needs
/// no superuser, creates nothing in the source database, and sees changes made by any role; the
/// cost is one small catalog query per table per interval, and a delay of at most `every`.
pub async fn poll_catalog<S: Source>(
    source: S,
    configured: Option<Vec<TableName>>,
    every: std::time::Duration,
    tx: mpsc::Sender<CatalogSeen>,
) {
    let mut conn = None;
    let mut refused = std::collections::HashSet::new();
    loop {
        tokio::time::sleep(every).await;
        if conn.is_none() {
            conn = source.copy_connect().await.ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        let tables = match source.catalog_tables(c, configured.as_deref()).await {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(error = %e, "catalog poll failed");
                conn = None;
                continue;
            }
        };
        for t in &tables {
            match source.catalog_table(c, t).await {
                Ok(seen) => {
                    if tx.send(seen).await.is_err() {
                        return;
                    }
                }
                Err(e) if !e.is_transient() => {
                    if refused.insert(t.clone()) {
                        tracing::warn!(table = %t, error = %e, "a table of the source cannot be replicated");
                    }
                }
                Err(e) => {
                    tracing::debug!(table = %t, error = %e, "catalog poll failed");
                    conn = None;
                    break;
                }
            }
        }
    }
}

/// Refuses a command that exists only for a PostgreSQL source (slots, upgrades, verify), with
/// a clear error for another kind.
pub fn require_postgres(config: &siphon_core::config::Config, what: &str) -> Result<(), Error> {
    match config.source.kind {
        siphon_core::config::SourceKind::Postgres => Ok(()),
        siphon_core::config::SourceKind::Mysql => {
            let hint = if what.contains("upgrade") {
                "a MySQL/MariaDB upgrade needs no siphon command: `siphon pause`, upgrade the server (in place, or promote an upgraded GTID replica and point source.url at it), `siphon resume`; siphon checks on its own that the binlog continues (position and GTIDs, see docs/mysql.md), and re-copies if it does not"
            } else if what.contains("slots") {
                "a MySQL/MariaDB source holds no slot on the server: the binlog is kept by the server's retention (binlog_expire_logs_seconds); `siphon doctor` checks it"
            } else {
                "see docs/mysql.md for what a MySQL source supports; `siphon backfill TABLE` re-copies a table online"
            };
            Err(Error::fatal(format!(
                "{what} is not available for a MySQL/MariaDB source (it works on PostgreSQL sources)"
            ))
            .with_hint(hint))
        }
    }
}
pub mod mysql;
