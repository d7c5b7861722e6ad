//! The live binlog stream: a replica session (`COM_REGISTER_SLAVE` + `COM_BINLOG_DUMP`, through
//! mysql_async) whose events go through the [`Decoder`].
//!
//! ```text
//!  server ──binlog events──► mysql_async::BinlogStream ──Event──► Decoder ──SourceEvent──► runtime
//!     ▲  heartbeat every HEARTBEAT_PERIOD when idle ─────────────────────► Idle { wal_end }
//! ```
//!
//! * Start: at a position (`file:pos` from an [`Lsn`], checked against `SHOW BINARY LOGS` first,
//!   so a purged file is reported as such) or, on MariaDB, at a GTID state
//!   (`@slave_connect_state`). Before streaming, the session reads the server's collations
//!   (to decode character columns) and, on MariaDB, `BINLOG_GTID_POS(file, pos)` (so
//!   [`BinlogStream::gtid_state`] is known from the first event on).
//! * Heartbeats: `@master_heartbeat_period` asks the server for a HEARTBEAT event after each
//!   second without events; it carries the file and position the server has reached, which
//!   the decoder turns into `Idle` when no transaction is open.
//! * `@mariadb_slave_capability = 4` makes MariaDB send its GTID events (instead of rewriting
//!   them as `BEGIN` queries).
//! * The server drops a replica session whose `server_id` another session registers with:
//!   every stream of one server needs its own id.
//! * `confirm` is a no-op: a binlog reader holds nothing on the server (retention is by time
//!   or size, `binlog_expire_logs_seconds`); it is kept for symmetry with the PostgreSQL source.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::BinlogStreamRequest;
use siphon_core::change::SourceEvent;
use siphon_core::schema::TableSchema;
use siphon_core::{Error, Lsn};

use crate::catalog::{self, Flavor};
use crate::connect::{classify, MySqlConnector};
use crate::decoder::{Decoder, DecoderOptions};
use crate::gtid::{GtidState, MariaGtidState};
use crate::position::{split_file_name, BinlogPosition};

/// How often an idle server sends a heartbeat.
pub const HEARTBEAT_PERIOD: Duration = Duration::from_secs(1);

/// Where a stream starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// A binlog position (a `Commit.end_lsn`, or a position from `current_position`).
    Position(Lsn),
    /// After the transactions of a GTID state (MariaDB `0-1-42,1-2-7`) or set (MySQL
    /// `uuid:1-42`): the server finds where they end in its own binlog.
    Gtid(String),
}

/// A running binlog stream.
pub struct BinlogStream {
    stream: mysql_async::BinlogStream,
    decoder: Decoder,
    pending: VecDeque<SourceEvent>,
    basename: String,
}

/// How long [`BinlogStream::position_after`] waits for the server to say where it is.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

impl BinlogStream {
    /// Streams the changes of `tables` from the binlog position `from`; `applied`: the GTID set
    /// of the transactions already applied (the checkpoint's), which are delivered empty.
    pub async fn start(
        connector: &MySqlConnector,
        from: Lsn,
        applied: Option<&str>,
        tables: &[Arc<TableSchema>],
    ) -> Result<Self, Error> {
        Self::start_at(connector, StartAt::Position(from), applied, tables).await
    }

    /// Streams from `start` (see [`BinlogStream::start`] for `applied`).
    pub async fn start_at(
        connector: &MySqlConnector,
        start: StartAt,
        applied: Option<&str>,
        tables: &[Arc<TableSchema>],
    ) -> Result<Self, Error> {
        match Self::open(connector, &start, applied, tables).await? {
            Ok(s) => Ok(s),
            Err(server) => Err(position_unavailable(&start_display(&start), &server)),
        }
    }

    /// Where, in this server's binlog, the transactions after GTID set `gtid` begin: the start of
    /// the first one the server would send a replica that has applied `gtid`, or the end of the
    /// binlog when there is none yet. `Ok(Err(reason))` when the server cannot continue after
    /// `gtid` (it lacks some of those transactions, or purged what follows them), in its words.
    pub async fn position_after(connector: &MySqlConnector, gtid: &str) -> Result<Result<Lsn, String>, Error> {
        let mut stream = match Self::open(connector, &StartAt::Gtid(gtid.to_string()), None, &[]).await? {
            Ok(s) => s,
            Err(reason) => return Ok(Err(reason)),
        };
        let found = tokio::time::timeout(PROBE_TIMEOUT, async {
            loop {
                let event = match stream.stream.next().await {
                    Some(Ok(event)) => event,
                    Some(Err(mysql_async::Error::Server(s))) if s.code == 1236 => return Ok(Err(s.message)),
                    Some(Err(e)) => return Err(classify(e, "could not read the binlog")),
                    None => return Err(Error::transient("the server closed the binlog session")),
                };
                let mut out = Vec::new();
                stream.decoder.handle(&event, &mut out)?;
                for e in out {
                    match e {
                        SourceEvent::Begin { final_lsn, .. } => return Ok(Ok(final_lsn)),
                        SourceEvent::Idle { wal_end } => return Ok(Ok(wal_end)),
                        _ => {}
                    }
                }
            }
        })
        .await;
        stream.shutdown().await;
        match found {
            Ok(r) => r,
            Err(_) => Err(Error::transient(format!(
                "the server did not say where the transactions after GTID {gtid} begin within {PROBE_TIMEOUT:?}"
            ))),
        }
    }

    /// Opens the replica session; `Ok(Err(message))` when the server refuses the start (error
    /// 1236: a purged file, a position past the end, GTIDs it does not have).
    async fn open(
        connector: &MySqlConnector,
        start: &StartAt,
        applied: Option<&str>,
        tables: &[Arc<TableSchema>],
    ) -> Result<Result<Self, String>, Error> {
        let mut conn = connector.conn().await?;
        let flavor = catalog::flavor(&mut conn).await?;
        let mariadb = flavor == Flavor::MariaDb;
        let collations = catalog::collations(&mut conn).await?;
        let (current, _) = catalog::master_status(&mut conn).await?;
        let basename = split_file_name(&current)?.0.to_string();
        let what = "could not start the binlog stream";
        let period_ns = HEARTBEAT_PERIOD.as_nanos() as u64;
        conn.query_drop(format!("SET @master_heartbeat_period = {period_ns}")).await.map_err(|e| classify(e, what))?;
        if mariadb {
            conn.query_drop("SET @mariadb_slave_capability = 4").await.map_err(|e| classify(e, what))?;
        }
        let parse = |text: &str| {
            GtidState::parse(text, mariadb).map_err(|_| {
                Error::fatal(format!("invalid GTID set {text:?} for this server")).with_hint(if mariadb {
                    "MariaDB GTIDs are domain-server-seq, e.g. 0-1-42"
                } else {
                    "MySQL GTID sets are uuid:interval[:interval], e.g. 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42"
                })
            })
        };
        let applied = applied.map(parse).transpose()?;
        let mut gtid = applied.clone();
        let (file, pos, dump_gtid) = match start {
            StartAt::Position(lsn) => {
                let pos = BinlogPosition::from_lsn(*lsn, &basename);
                if let Err(reason) = catalog::position_available(&mut conn, *lsn).await? {
                    return Ok(Err(reason));
                }
                if mariadb && gtid.is_none() {
                    let state: Option<Option<String>> = conn
                        .exec_first("SELECT BINLOG_GTID_POS(?, ?)", (&pos.file, pos.pos))
                        .await
                        .map_err(|e| classify(e, what))?;
                    gtid = state.flatten().and_then(|s| s.parse::<MariaGtidState>().ok()).map(GtidState::MariaDb);
                }
                (pos.file, u64::from(pos.pos), None)
            }
            StartAt::Gtid(text) => {
                // A set in the other flavour's form (a MariaDB state on MySQL, or the reverse):
                // this server cannot continue after it, which the caller handles as a refusal.
                let Ok(state) = GtidState::parse(text, mariadb) else {
                    let flavour = if mariadb { "MariaDB" } else { "MySQL" };
                    return Ok(Err(format!("GTID set {text:?} is not in the form of this server's GTIDs ({flavour})")));
                };
                if let GtidState::MariaDb(s) = &state {
                    conn.exec_drop("SET @slave_connect_state = ?", (s.to_string(),))
                        .await
                        .map_err(|e| classify(e, what))?;
                    conn.query_drop("SET @slave_gtid_strict_mode = 1, @slave_gtid_ignore_duplicates = 0")
                        .await
                        .map_err(|e| classify(e, what))?;
                }
                gtid = Some(state.clone());
                (String::new(), 4, Some(state))
            }
        };
        let tables: HashSet<_> = tables.iter().map(|t| t.name.clone()).collect();
        let decoder = Decoder::new(DecoderOptions { tables, collations, gtid, applied });
        let mut request = BinlogStreamRequest::new(connector.server_id()).with_filename(file.as_bytes()).with_pos(pos);
        if let Some(GtidState::MySql(set)) = &dump_gtid {
            // COM_BINLOG_DUMP_GTID: the server skips the transactions in the set.
            request = request.with_gtid().with_gtid_set(set.sids());
        }
        let stream = match conn.get_binlog_stream(request).await {
            Ok(s) => s,
            Err(mysql_async::Error::Server(s)) if s.code == 1236 => return Ok(Err(s.message)),
            Err(e) => return Err(classify(e, "binlog stream failed")),
        };
        tracing::info!(server_id = connector.server_id(), start = ?start, "binlog stream started");
        Ok(Ok(BinlogStream { stream, decoder, pending: VecDeque::new(), basename }))
    }

    /// The next event. Errors are classified: a lost connection is transient; a position the
    /// server no longer has, or a malformed event, is fatal.
    pub async fn next(&mut self) -> Result<SourceEvent, Error> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(e);
            }
            let event = match self.stream.next().await {
                Some(Ok(event)) => event,
                Some(Err(mysql_async::Error::Server(s))) if s.code == 1236 => {
                    return Err(position_unavailable(
                        &crate::position::lsn_display(self.decoder.server_end()),
                        &s.message,
                    ))
                }
                Some(Err(e)) => return Err(classify(e, "binlog stream failed")),
                None => {
                    return Err(Error::transient("the binlog stream ended")
                        .with_detail("the server closed the replica session"))
                }
            };
            let mut out = Vec::new();
            self.decoder.handle(&event, &mut out)?;
            self.pending.extend(out);
            if let Some(base) = self.decoder.basename() {
                if base != self.basename {
                    self.basename = base.to_string();
                }
            }
        }
    }

    /// The latest position the server is known to have reached (events and heartbeats), for lag.
    pub fn server_end(&self) -> Lsn {
        self.decoder.server_end()
    }

    /// Columns of `table` renamed by `ALTER TABLE` statements streamed since the last call.
    pub fn take_renames(&mut self, table: &siphon_core::schema::TableName) -> Vec<(String, String)> {
        self.decoder.take_renames(table)
    }

    /// Streams `table`'s changes too, from the next transaction on (call between transactions).
    pub fn add_table(&mut self, table: &siphon_core::schema::TableName) {
        self.decoder.add_table(table.clone());
    }

    /// A no-op: the server keeps binlogs by time or size, not by reader progress.
    pub fn confirm(&self, _lsn: Lsn) {}

    /// The GTID state after the last transaction delivered (`0-1-42` on MariaDB, a GTID set on
    /// MySQL when the stream started with one or at the beginning of a file), when known.
    ///
    /// Read when [`BinlogStream::next`] has just returned a `Commit`, it is the state after that
    /// commit: events are decoded one binlog event at a time, only once the previous one's
    /// output is all delivered, and a `Commit` is the last output of its event.
    pub fn gtid_state(&self) -> Option<String> {
        self.decoder.gtid_state().map(|g| g.to_string())
    }

    /// The binlog base name (`binlog`), to display an `Lsn` as `binlog.000042:1234`.
    pub fn basename(&self) -> &str {
        &self.basename
    }

    /// Closes the replica session.
    pub async fn shutdown(self) {
        let _ = self.stream.close().await;
    }
}

fn position_unavailable(at: &str, reason: &str) -> Error {
    Error::fatal(format!("binlog position {at} is not available"))
        .with_detail(reason.to_string())
        .with_hint("the changes after the checkpoint are gone from the server: re-snapshot (on_gap), and keep binlogs longer (binlog_expire_logs_seconds)")
}

fn start_display(start: &StartAt) -> String {
    match start {
        StartAt::Position(l) => crate::position::lsn_display(*l),
        StartAt::Gtid(g) => format!("after GTID {g}"),
    }
}
