//! The MySQL / MariaDB source: the binlog read as a replica, copies at per-chunk consistent
//! snapshots. See [`siphon_mysql`] for the protocol; this module only maps it onto [`Source`].
//!
//! # Positions and continuity
//!
//! A position is a binlog file and offset ([`siphon_mysql::position`]), ordered as an [`Lsn`]
//! within one server's binlog. A checkpoint can be resumed only if the server is the one it came
//! from (its identity: server id or uuid, and binlog base name) and still holds the checkpoint's
//! binlog file; otherwise the stream has a gap (purged binlogs, a replaced server), handled by
//! `pipeline.on_gap` as for PostgreSQL. A binlog reader holds nothing on the server, so there is
//! no slot to create, drop or release: a fresh start is the server's current position.
//!
//! # Copies
//!
//! MySQL cannot share one snapshot between connections, so every chunk is read in a
//! `START TRANSACTION WITH CONSISTENT SNAPSHOT` of its own, whose binlog position is exact on
//! MariaDB (`binlog_snapshot_file/position`, no lock) and taken under a brief lock on MySQL; the
//! chunk reports that position before its rows ([`ChunkSink::snapshot`]), and the pipeline
//! applies the rows once the stream has passed it (the argument is in [`crate::copy`]).

use std::sync::Arc;

use siphon_core::config::Secret;
use siphon_core::copy::KeyRange;
use siphon_core::destination::Checkpoint;
use siphon_core::schema::{TableName, TableSchema};
use siphon_core::{Error, Lsn};
use siphon_mysql::{catalog, position, snapshot, BinlogStream, MySqlConnector};

use super::{CatalogSeen, ChangeStream, ChunkSink, Continuity, Fresh, Gap, Source};

/// Rows per message from a copy worker to the pipeline.
const PIECE_ROWS: usize = 20_000;

#[derive(Clone)]
pub struct MySqlSource {
    connector: MySqlConnector,
}

impl MySqlSource {
    pub fn new(url: &Secret, server_id: u32) -> Result<Self, Error> {
        Ok(MySqlSource { connector: MySqlConnector::new(url.expose(), server_id)? })
    }
}

impl ChangeStream for BinlogStream {
    async fn next(&mut self) -> Result<siphon_core::change::SourceEvent, Error> {
        BinlogStream::next(self).await
    }

    fn server_end(&self) -> Lsn {
        BinlogStream::server_end(self)
    }

    fn confirm(&self, lsn: Lsn) {
        BinlogStream::confirm(self, lsn)
    }

    fn renamed(&mut self, table: &TableName) -> Vec<(String, String)> {
        BinlogStream::take_renames(self, table)
    }

    fn add_table(&mut self, schema: Arc<TableSchema>) {
        BinlogStream::add_table(self, &schema.name)
    }

    fn gtid(&self) -> Option<String> {
        BinlogStream::gtid_state(self)
    }

    async fn shutdown(self) {
        BinlogStream::shutdown(self).await
    }
}

impl Source for MySqlSource {
    type Stream = BinlogStream;
    type Snapshot = ();
    type Conn = mysql_async::Conn;
    const KIND: &'static str = "mysql";

    fn describe(&self) -> String {
        self.connector.describe()
    }

    fn format_position(&self, lsn: Lsn) -> String {
        position::lsn_display(lsn)
    }

    /// Within one binlog file, the offset difference; across files, the offset into the later
    /// file (a lower bound: the sizes of the files between are not at hand here).
    fn log_bytes_between(&self, from: Lsn, to: Lsn) -> u64 {
        if from.0 >> 32 == to.0 >> 32 {
            to.0.saturating_sub(from.0)
        } else {
            to.0 & 0xFFFF_FFFF
        }
    }

    async fn tables(&self, configured: Option<&[TableName]>) -> Result<Vec<Arc<TableSchema>>, Error> {
        let mut conn = self.connector.conn().await?;
        let names = catalog::list_tables(&mut conn, configured).await?;
        let mut schemas = Vec::new();
        for t in &names {
            schemas.push(catalog::table_schema(&mut conn, t).await?);
        }
        Ok(schemas)
    }

    /// Resumes at the checkpoint, or at the position siphon last confirmed while idle when that
    /// is later (`confirmed`: everything before it was received and committed, and heartbeats
    /// carried the server's position past commits of nothing — e.g. a binlog rotation on an idle
    /// server, after which the checkpoint's file may be purged without any change lost).
    ///
    /// On another server (a failover: the URL now reaches another member of the replication
    /// topology), the checkpoint's GTID set says which transactions are applied; the server
    /// itself finds where they end in its binlog ([`BinlogStream::position_after`]), and the
    /// pipeline continues there ([`Continuity::Moved`]). Without GTIDs, or when that server
    /// lacks some of the applied transactions (a replica that was behind) or purged what
    /// follows them, it is a gap.
    async fn continuity(
        &self,
        cp: &Checkpoint,
        confirmed: Lsn,
        _anchor: Option<&crate::upgrade::Anchor>,
    ) -> Result<Continuity, Error> {
        let from = cp.lsn.max(confirmed);
        let mut conn = self.connector.conn().await?;
        let identity = catalog::server_identity(&mut conn).await?;
        let gap = |reason: String| Ok(Continuity::Gap(Gap { reason, from }));
        if let Some(was) = cp.source_identity.as_deref().filter(|was| *was != identity) {
            let Some(gtid) = cp.gtid.as_deref() else {
                return gap(format!(
                    "the source server changed: server id/binlog was {was}, is {identity} (another server, or its binlog was reset), and the checkpoint has no GTID set to continue by"
                ));
            };
            drop(conn);
            return match BinlogStream::position_after(&self.connector, gtid).await? {
                Ok(lsn) => Ok(Continuity::Moved { lsn, identity, was: was.to_string() }),
                Err(reason) => gap(format!(
                    "the source server changed (server id/binlog was {was}, is {identity}) and cannot continue after the checkpoint's GTID set {gtid}: {reason}"
                )),
            };
        }
        if let Some(gtid) = cp.gtid.as_deref() {
            if let Err(reason) = catalog::gtid_covered(&mut conn, gtid).await? {
                return gap(format!(
                    "the server no longer has transactions the checkpoint includes (its binlog was reset, or it was restored from an older backup): {reason}"
                ));
            }
        }
        match catalog::position_available(&mut conn, from).await? {
            Ok(()) => Ok(Continuity::Resume(from)),
            Err(reason) => {
                gap(format!("the binlog after the checkpoint ({}) is gone: {reason}", position::lsn_display(from)))
            }
        }
    }

    async fn fresh_start(&self, _gap: bool) -> Result<Fresh<()>, Error> {
        let mut conn = self.connector.conn().await?;
        let (position, gtid) = catalog::current_position_and_gtid(&mut conn).await?;
        let identity = catalog::server_identity(&mut conn).await?;
        Ok(Fresh { position, identity, gtid, snapshot: None })
    }

    /// From the position, delivering the transactions in `gtid` (already applied) empty.
    async fn stream(&self, from: Lsn, gtid: Option<&str>, tables: &[Arc<TableSchema>]) -> Result<BinlogStream, Error> {
        BinlogStream::start(&self.connector, from, gtid, tables).await
    }

    /// Every table with a primary key in the URL's database when none are configured (keyless
    /// ones are left out here, not refused).
    async fn catalog_tables(
        &self,
        conn: &mut mysql_async::Conn,
        configured: Option<&[TableName]>,
    ) -> Result<Vec<TableName>, Error> {
        match configured {
            Some(t) => Ok(t.to_vec()),
            None => catalog::keyed_tables(conn).await,
        }
    }

    /// The binlog describes every change with its table's columns (TABLE_MAP with full row
    /// metadata), so the poll is only for what no row event carries: a column added (with a
    /// default, existing rows got a value no event carries) and tables that joined the
    /// database.
    async fn catalog_table(&self, conn: &mut mysql_async::Conn, table: &TableName) -> Result<CatalogSeen, Error> {
        let schema = catalog::table_schema(conn, table).await?;
        let defaults = catalog::columns_with_defaults(conn, table).await?;
        let position = catalog::current_position(conn).await?;
        Ok(CatalogSeen { schema, defaults, position })
    }

    async fn copy_snapshot(&self, _held: Option<()>) -> Result<((), Option<Lsn>), Error> {
        Ok(((), None))
    }

    async fn copy_connect(&self) -> Result<mysql_async::Conn, Error> {
        self.connector.conn().await
    }

    async fn estimate_rows(&self, conn: &mut mysql_async::Conn, schema: &TableSchema) -> Result<u64, Error> {
        snapshot::estimate_rows(conn, schema).await
    }

    async fn plan_chunks(
        &self,
        conn: &mut mysql_async::Conn,
        schema: &TableSchema,
        estimated_rows: u64,
        chunk_rows: u64,
    ) -> Result<Vec<KeyRange>, Error> {
        snapshot::plan_chunks(conn, schema, estimated_rows, chunk_rows).await
    }

    async fn copy_chunk(
        &self,
        conn: &mut mysql_async::Conn,
        _snapshot: &(),
        schema: &TableSchema,
        range: &KeyRange,
        sink: &mut ChunkSink<'_>,
    ) -> Result<u64, Error> {
        let at = snapshot::begin(conn).await?;
        sink.snapshot(at).await?;
        let rows = snapshot::copy_chunk(conn, schema, range, PIECE_ROWS, &mut *sink).await?;
        snapshot::end(conn).await?;
        Ok(rows)
    }
}
