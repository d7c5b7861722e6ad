//! Binlog events -> [`SourceEvent`]s: the pure state machine behind [`crate::BinlogStream`].
//!
//! ```text
//!  binlog event             state                         emitted
//!  ─────────────────────    ───────────────────────────   ─────────────────────────────────────────
//!  ROTATE (fake or real)    file := name                  -
//!  GTID (MariaDB 162 /      tx := open at event start     Begin { final_lsn: event start }
//!   MySQL 33, 34)
//!  QUERY "BEGIN"            tx body (opens tx if none)    (Begin if no GTID opened it)
//!  TABLE_MAP                table_id := decoded schema    -
//!  WRITE/UPDATE/DELETE      rows of a replicated table    Schema (first time / changed), Change*
//!  QUERY "TRUNCATE t"       -                             Truncate([t]) when t is replicated
//!  XID / QUERY "COMMIT"     tx closed, GTID applied       Commit { end_lsn: event end }
//!  QUERY (DDL) standalone   tx closed                     Commit { end_lsn: event end }
//!  HEARTBEAT (idle server;  -                             Idle { wal_end } (outside a transaction)
//!   v1 27, MySQL v2 41)
//!  TRANSACTION_PAYLOAD      payload := (bounds, bytes)    - (its events follow, see below)
//! ```
//!
//! # MySQL compressed transactions (`TRANSACTION_PAYLOAD`, `binlog_transaction_compression`)
//!
//! MySQL writes a transaction's events (`BEGIN`, TABLE_MAPs, rows, XID; never its GTID) into
//! one zstd-compressed `TRANSACTION_PAYLOAD` event. mysql_async yields that event and then each
//! event inside it (decompressed, without checksums). The events inside have no position of
//! their own: the decoder takes the payload event's bounds for them (the transaction commits at
//! the payload's end) and counts their bytes against the payload's uncompressed size. An event
//! that cannot be inside a payload arriving while bytes are still expected, or a size that does
//! not add up, means the payload was not expanded whole (mysql_async drops a payload it cannot
//! decompress without an error): the stream stops instead of losing the transaction.
//!
//! # Why positions are exact
//!
//! Every event header carries `log_pos`, the offset just past the event in the current file;
//! the event starts `event_size` bytes earlier. A transaction begins at its GTID event (or its
//! `BEGIN` when the server writes no GTIDs) and ends with its XID (or `COMMIT`, or, for a
//! standalone statement such as DDL, its own QUERY event). So `Commit.end_lsn` of one
//! transaction is the offset where the next event starts, which is the next transaction's
//! `Begin.final_lsn` unless non-transaction events (ROTATE, GTID_LIST, ...) lie between. The
//! runtime checkpoints at `Commit.end_lsn` and, after a restart from that checkpoint, skips
//! transactions whose `Begin.final_lsn` is below it: none is skipped twice or lost, and a stream
//! started *at* a `Commit.end_lsn` (a valid event boundary the server accepts) yields exactly the
//! following transactions. Every transaction produces a Begin/Commit pair, also when it touches
//! no replicated table and for DDL, so the checkpoint moves with the server.
//!
//! # Why each row decodes with the schema it was written under
//!
//! A row event refers to the TABLE_MAP written just before it in the same transaction, and with
//! `binlog_row_metadata = FULL` that TABLE_MAP describes the table's columns (names, types,
//! signedness, character sets, labels, key) *at the time the row was written*. Rows written
//! before an `ALTER TABLE` are decoded with the old columns, rows after it with the new ones,
//! wherever the stream starts: no schema history, no catalog query at replay time, nothing that
//! a concurrent `ALTER` could race. A `Schema` event goes out whenever a table's TABLE_MAP
//! schema differs from the last one sent, before the change that needs it.
//!
//! # What is not handled
//!
//! XA transactions, MariaDB compressed row events (`log_bin_compress`), MySQL partial JSON
//! updates (`binlog_row_value_options = PARTIAL_JSON`), `binlog_row_image` other than FULL, and
//! statement-format events (`binlog_format` must be `ROW`). `RENAME TABLE` and
//! `DROP TABLE` of a replicated table are not turned into events.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use mysql_common::binlog::consts::EventType;
use mysql_common::binlog::events::{
    Event, EventData, GtidEvent, PreviousGtidsEvent, QueryEvent, RotateEvent, RowsEventData,
};
use siphon_core::change::{Change, ChangeKind, SourceEvent};
use siphon_core::schema::{TableName, TableSchema};
use siphon_core::{Error, Lsn, Row};

use crate::events::{self, GTID_LIST_EVENT, HEARTBEAT_LOG_EVENT_V2, MARIA_GTID_EVENT};
use crate::gtid::{GtidState, MariaGtid, MySqlGtidSet};
use crate::position::split_file_name;
use crate::tablemap::{decode_row, Collations, DecodedTable, Reader, RowError, TableMap};

/// Seconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;

/// µs since 2000-01-01 of a Unix timestamp in seconds.
pub fn pg_micros(unix_secs: u32) -> i64 {
    (i64::from(unix_secs) - PG_EPOCH_UNIX_SECS) * 1_000_000
}

/// The `TRANSACTION_PAYLOAD` whose inner events are being replayed.
#[derive(Clone, Copy, Debug)]
struct Payload {
    start: Option<Lsn>,
    end: Option<Lsn>,
    /// Bytes of inner events still expected.
    remaining: u64,
}

/// Event types that are never inside a `TRANSACTION_PAYLOAD`.
fn never_in_payload(t: u8) -> bool {
    use EventType as E;
    [
        E::ROTATE_EVENT as u8,
        E::FORMAT_DESCRIPTION_EVENT as u8,
        E::GTID_EVENT as u8,
        E::ANONYMOUS_GTID_EVENT as u8,
        E::GTID_TAGGED_LOG_EVENT as u8,
        E::PREVIOUS_GTIDS_EVENT as u8,
        E::TRANSACTION_PAYLOAD_EVENT as u8,
        E::HEARTBEAT_EVENT as u8,
        HEARTBEAT_LOG_EVENT_V2,
        MARIA_GTID_EVENT,
        GTID_LIST_EVENT,
    ]
    .contains(&t)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TxState {
    /// A MariaDB standalone GTID: one statement, no BEGIN/COMMIT.
    Standalone,
    /// A MySQL GTID: a `BEGIN` follows for a transaction, any other QUERY is standalone.
    AwaitBegin,
    /// Between BEGIN (or a MariaDB transaction GTID) and its commit.
    Body,
}

#[derive(Clone, Copy, Debug)]
enum TxGtid {
    Maria(MariaGtid),
    MySql([u8; 16], u64),
}

#[derive(Debug)]
struct Tx {
    time: i64,
    state: TxState,
    gtid: Option<TxGtid>,
    /// Its GTID is in [`DecoderOptions::applied`]: its changes are not delivered.
    skip: bool,
}

/// The decoder's configuration.
#[derive(Clone, Debug, Default)]
pub struct DecoderOptions {
    /// The replicated tables; row events of others are dropped (their transactions are not).
    pub tables: HashSet<TableName>,
    /// Collation id -> (character set, max bytes per character), from the server.
    pub collations: Collations,
    /// The GTID state the stream starts at, when known.
    pub gtid: Option<GtidState>,
    /// Transactions already applied (the checkpoint's GTID set): one whose GTID is in it is
    /// delivered empty, wherever it appears in the binlog (on a server the stream moved to,
    /// transactions replicated in parallel may be logged in another order than where they
    /// were applied).
    pub applied: Option<GtidState>,
}

/// Turns binlog events into source events; see the module doc.
#[derive(Debug)]
pub struct Decoder {
    opts: DecoderOptions,
    maps: HashMap<u64, Option<Arc<DecodedTable>>>,
    sent: HashMap<TableName, Arc<TableSchema>>,
    file_seq: Option<u32>,
    basename: Option<String>,
    /// The first (fake) ROTATE arrives before the FORMAT_DESCRIPTION that says whether events
    /// carry checksums, so its name may end in 4 CRC bytes: it is resolved at the FDE.
    pending_rotate: Option<Vec<u8>>,
    seen_fde: bool,
    tx: Option<Tx>,
    gtid: Option<GtidState>,
    server_end: Lsn,
    /// The MySQL TRANSACTION_PAYLOAD being replayed: its inner events carry no position.
    payload: Option<Payload>,
    /// Columns renamed by `ALTER TABLE` statements, per table, in order, until the runtime takes
    /// them ([`Decoder::take_renames`]).
    renames: HashMap<TableName, Vec<(String, String)>>,
}

impl Decoder {
    /// The columns of `table` renamed by `ALTER TABLE` since the last call, `(old, new)`, with
    /// chains resolved (`a -> b`, `b -> c` is `a -> c`).
    pub fn take_renames(&mut self, table: &TableName) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (old, new) in self.renames.remove(table).unwrap_or_default() {
            match out.iter_mut().find(|(_, n)| *n == old) {
                Some(pair) => pair.1 = new,
                None => out.push((old, new)),
            }
        }
        out.retain(|(o, n)| o != n);
        out
    }

    /// Decodes `name`'s rows too from the next TABLE_MAP on (a TABLE_MAP precedes the row
    /// events of every transaction, so called between transactions, nothing of it is missed).
    pub fn add_table(&mut self, name: TableName) {
        self.opts.tables.insert(name);
    }

    pub fn new(opts: DecoderOptions) -> Self {
        let gtid = opts.gtid.clone();
        Decoder {
            opts,
            maps: HashMap::new(),
            sent: HashMap::new(),
            file_seq: None,
            basename: None,
            pending_rotate: None,
            seen_fde: false,
            tx: None,
            gtid,
            server_end: Lsn::ZERO,
            payload: None,
            renames: HashMap::new(),
        }
    }

    /// The latest server position seen (event ends and heartbeats).
    pub fn server_end(&self) -> Lsn {
        self.server_end
    }

    /// The GTID state after the last committed transaction, when known.
    pub fn gtid_state(&self) -> Option<&GtidState> {
        self.gtid.as_ref()
    }

    /// The binlog base name (`binlog` of `binlog.000042`), once a ROTATE named the file.
    pub fn basename(&self) -> Option<&str> {
        self.basename.as_deref()
    }

    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// Handles one event, appending what it means to `out`.
    pub fn handle(&mut self, ev: &Event, out: &mut Vec<SourceEvent>) -> Result<(), Error> {
        let h = ev.header();
        let raw = h.event_type_raw();
        let (end, start) = match self.payload {
            Some(p) => {
                self.consume_payload(raw, h.event_size())?;
                (p.end, p.start)
            }
            None => self.event_bounds(ev),
        };
        match raw {
            t if t == EventType::ROTATE_EVENT as u8 => self.on_rotate(ev)?,
            t if t == EventType::FORMAT_DESCRIPTION_EVENT as u8 => self.on_fde(ev)?,
            MARIA_GTID_EVENT => {
                let g = events::parse_maria_gtid(ev.data(), h.server_id()).map_err(malformed)?;
                let state = if g.standalone { TxState::Standalone } else { TxState::Body };
                self.begin(start, pg_micros(h.timestamp()), state, Some(TxGtid::Maria(g.gtid)), out)?;
            }
            GTID_LIST_EVENT => {
                let list = events::parse_gtid_list(ev.data()).map_err(malformed)?;
                if self.tx.is_none() {
                    self.gtid = Some(GtidState::MariaDb(list));
                }
            }
            t if t == EventType::GTID_EVENT as u8 || t == EventType::GTID_TAGGED_LOG_EVENT as u8 => {
                let g = ev.read_event::<GtidEvent>().map_err(io_malformed)?;
                // µs since the Unix epoch (MySQL 8.0.1+); 0 from older servers.
                let time = match i64::try_from(g.immediate_commit_timestamp()) {
                    Ok(us) if us > 0 => us - PG_EPOCH_UNIX_SECS * 1_000_000,
                    _ => pg_micros(h.timestamp()),
                };
                let gtid = if g.tag().is_some() {
                    // uuid:tag:gno cannot be kept in a MySqlGtidSet: the state becomes unknown
                    // rather than wrong.
                    if self.gtid.take().is_some() {
                        tracing::warn!("tagged GTID in the binlog: the GTID state is no longer tracked");
                    }
                    None
                } else {
                    Some(TxGtid::MySql(g.sid(), g.gno()))
                };
                self.begin(start, time, TxState::AwaitBegin, gtid, out)?;
            }
            t if t == EventType::ANONYMOUS_GTID_EVENT as u8 => {
                self.begin(start, pg_micros(h.timestamp()), TxState::AwaitBegin, None, out)?;
            }
            t if t == EventType::PREVIOUS_GTIDS_EVENT as u8 => {
                let p = ev.read_event::<PreviousGtidsEvent>().map_err(io_malformed)?;
                let mut set = MySqlGtidSet::default();
                for sid in p.sids() {
                    for iv in sid.intervals() {
                        // Intervals are half-open [start, end).
                        set.add_interval(sid.uuid(), iv.start(), iv.end().saturating_sub(1));
                    }
                }
                if self.tx.is_none() {
                    self.gtid = Some(GtidState::MySql(set));
                }
            }
            t if t == EventType::TRANSACTION_PAYLOAD_EVENT as u8 => {
                let header = events::parse_payload_header(ev.data()).map_err(malformed)?;
                if header.inner_size > 0 {
                    self.payload = Some(Payload { start, end, remaining: header.inner_size });
                }
            }
            t if t == EventType::QUERY_EVENT as u8 => self.on_query(ev, start, end, out)?,
            t if t == EventType::XID_EVENT as u8 => self.commit(end, out),
            t if t == EventType::TABLE_MAP_EVENT as u8 => self.on_table_map(ev)?,
            t if t == EventType::HEARTBEAT_EVENT as u8 => {
                let file = events::heartbeat_file(ev.data());
                self.on_heartbeat(Some(file), u64::from(h.log_pos()), out);
            }
            HEARTBEAT_LOG_EVENT_V2 => {
                let (file, pos) = events::parse_heartbeat_v2(ev.data()).map_err(malformed)?;
                self.on_heartbeat(file, pos.unwrap_or(u64::from(h.log_pos())), out);
            }
            t if is_rows_event(t) => self.on_rows(ev, start, out)?,
            _ => {} // ANNOTATE_ROWS, BINLOG_CHECKPOINT, STOP, INTVAR, RAND, USER_VAR, ...
        }
        Ok(())
    }

    /// Accounts for one event replayed from the current TRANSACTION_PAYLOAD.
    fn consume_payload(&mut self, raw: u8, size: u32) -> Result<(), Error> {
        let Some(p) = self.payload.as_mut() else { return Ok(()) };
        let incomplete = |what: String| {
            Error::fatal("binlog: a compressed transaction (TRANSACTION_PAYLOAD) was not replayed whole")
                .with_detail(what)
                .with_hint("the transaction's events cannot be trusted: restart the stream from the last checkpoint")
        };
        if never_in_payload(raw) {
            return Err(incomplete(format!(
                "event type {raw} arrived with {} payload bytes still expected",
                p.remaining
            )));
        }
        if u64::from(size) > p.remaining || (size as usize) < mysql_common::binlog::events::BinlogEventHeader::LEN {
            return Err(incomplete(format!("an inner event of {size} bytes with {} payload bytes left", p.remaining)));
        }
        p.remaining -= u64::from(size);
        if p.remaining == 0 {
            self.payload = None;
        }
        Ok(())
    }

    /// (end, start) of the event in the current file; `None` for artificial events (log_pos 0)
    /// and before any ROTATE named the file.
    fn event_bounds(&mut self, ev: &Event) -> (Option<Lsn>, Option<Lsn>) {
        let h = ev.header();
        let (Some(seq), pos) = (self.file_seq, h.log_pos()) else { return (None, None) };
        if pos == 0 {
            return (None, None);
        }
        let end = Lsn((u64::from(seq) << 32) | u64::from(pos));
        self.server_end = self.server_end.max(end);
        let start = pos.checked_sub(h.event_size()).map(|s| Lsn((u64::from(seq) << 32) | u64::from(s)));
        (Some(end), start)
    }

    fn on_rotate(&mut self, ev: &Event) -> Result<(), Error> {
        let r = ev.read_event::<RotateEvent>().map_err(io_malformed)?;
        let name = r.name_raw().to_vec();
        if self.seen_fde {
            self.set_file(&name)
        } else {
            self.pending_rotate = Some(name);
            Ok(())
        }
    }

    fn on_fde(&mut self, ev: &Event) -> Result<(), Error> {
        self.seen_fde = true;
        if let Some(mut name) = self.pending_rotate.take() {
            let crc = matches!(ev.footer().get_checksum_alg(), Ok(Some(alg)) if alg as u8 == 1);
            if crc && name.len() >= 4 {
                name.truncate(name.len() - 4);
            }
            self.set_file(&name)?;
        }
        Ok(())
    }

    fn set_file(&mut self, name: &[u8]) -> Result<(), Error> {
        let name = String::from_utf8_lossy(name).into_owned();
        let (base, seq) = split_file_name(&name)?;
        self.basename = Some(base.to_string());
        self.file_seq = Some(seq);
        // Table ids are only valid within a file's transactions.
        self.maps.clear();
        Ok(())
    }

    /// Opens a transaction at `start`, committed at `time` (µs since 2000-01-01).
    fn begin(
        &mut self,
        start: Option<Lsn>,
        time: i64,
        state: TxState,
        gtid: Option<TxGtid>,
        out: &mut Vec<SourceEvent>,
    ) -> Result<(), Error> {
        if self.tx.is_some() {
            return Err(Error::fatal("binlog: a transaction began before the previous one ended")
                .with_detail(format!("at {}", start.map(crate::position::lsn_display).unwrap_or_default())));
        }
        let start = start.ok_or_else(|| {
            Error::fatal("binlog: a transaction began at an unknown position").with_detail("no ROTATE named the file")
        })?;
        out.push(SourceEvent::Begin { final_lsn: start, commit_time_micros: time });
        let skip = match (gtid, &self.opts.applied) {
            (Some(TxGtid::Maria(g)), Some(GtidState::MariaDb(s))) => s.contains(g),
            (Some(TxGtid::MySql(uuid, gno)), Some(GtidState::MySql(s))) => s.contains(uuid, gno),
            _ => false,
        };
        self.tx = Some(Tx { time, state, gtid, skip });
        Ok(())
    }

    fn commit(&mut self, end: Option<Lsn>, out: &mut Vec<SourceEvent>) {
        let Some(tx) = self.tx.take() else { return };
        let end = end.unwrap_or(self.server_end);
        match (tx.gtid, &mut self.gtid) {
            (Some(TxGtid::Maria(g)), Some(GtidState::MariaDb(s))) => s.apply(g),
            (Some(TxGtid::MySql(uuid, gno)), Some(GtidState::MySql(s))) => s.add(uuid, gno),
            _ => {}
        }
        out.push(SourceEvent::Commit { end_lsn: end, commit_time_micros: tx.time });
    }

    fn on_query(
        &mut self,
        ev: &Event,
        start: Option<Lsn>,
        end: Option<Lsn>,
        out: &mut Vec<SourceEvent>,
    ) -> Result<(), Error> {
        let q = ev.read_event::<QueryEvent>().map_err(io_malformed)?;
        let text = q.query();
        let word = text.trim().trim_end_matches(';').trim().to_ascii_uppercase();
        match word.as_str() {
            "BEGIN" | "START TRANSACTION" => match &mut self.tx {
                Some(tx) => tx.state = TxState::Body,
                None => self.begin(start, pg_micros(ev.header().timestamp()), TxState::Body, None, out)?,
            },
            "COMMIT" | "ROLLBACK" => self.commit(end, out),
            _ => {
                if self.tx.is_none() {
                    self.begin(start, pg_micros(ev.header().timestamp()), TxState::Standalone, None, out)?;
                }
                if let Some((db, table, renames)) = events::renamed_columns(&text, &q.schema()) {
                    let name = TableName::new(db, table);
                    if self.opts.tables.contains(&name) && !renames.is_empty() {
                        self.renames.entry(name).or_default().extend(renames);
                    }
                }
                if let Some((db, table)) = events::truncated_table(&text, &q.schema()) {
                    let name = TableName::new(db, table);
                    if self.opts.tables.contains(&name) && !self.tx.as_ref().is_some_and(|tx| tx.skip) {
                        out.push(SourceEvent::Truncate(vec![name]));
                    }
                }
                if self.tx.as_ref().is_some_and(|tx| tx.state != TxState::Body) {
                    self.commit(end, out);
                }
            }
        }
        Ok(())
    }

    fn on_table_map(&mut self, ev: &Event) -> Result<(), Error> {
        let post = ev.fde().get_event_type_header_length(EventType::TABLE_MAP_EVENT);
        let map = TableMap::parse(ev.data(), if post == 0 { 8 } else { post }).map_err(malformed)?;
        let name = TableName::new(map.database.clone(), map.table.clone());
        if !self.opts.tables.contains(&name) {
            self.maps.insert(map.table_id, None);
            return Ok(());
        }
        let id = map.table_id;
        let table = DecodedTable::new(map, &self.opts.collations).map_err(|e| {
            if e.contains("binlog_row_metadata") {
                Error::fatal(format!("cannot decode the binlog rows of {name}"))
                    .with_detail(e)
                    .with_hint("SET GLOBAL binlog_row_metadata = FULL (and in the server's configuration); rows written before cannot be decoded: re-snapshot")
            } else {
                Error::table(format!("cannot decode the binlog rows of {name}")).with_detail(e)
            }
        })?;
        self.maps.insert(id, Some(Arc::new(table)));
        Ok(())
    }

    /// A heartbeat: the server has reached `pos` in `file` (v1: the header's log_pos; v2: a
    /// 64-bit field). Positions that do not fit an `Lsn` (past 4 GiB) are not reported.
    fn on_heartbeat(&mut self, file: Option<String>, pos: u64, out: &mut Vec<SourceEvent>) {
        let seq = file.and_then(|f| split_file_name(&f).map(|(_, s)| s).ok()).or(self.file_seq);
        if let (Some(seq), true) = (seq, pos > 0 && pos <= u64::from(u32::MAX)) {
            let at = Lsn((u64::from(seq) << 32) | pos);
            self.server_end = self.server_end.max(at);
            if self.tx.is_none() {
                out.push(SourceEvent::Idle { wal_end: at });
            }
        }
    }

    fn on_rows(&mut self, ev: &Event, start: Option<Lsn>, out: &mut Vec<SourceEvent>) -> Result<(), Error> {
        let Some(EventData::RowsEvent(rows)) = ev.read_data().map_err(io_malformed)? else {
            return Ok(());
        };
        let Some(Some(table)) = self.maps.get(&rows.table_id()).cloned() else {
            return Ok(()); // not a replicated table
        };
        if self.tx.is_none() {
            self.begin(start, pg_micros(ev.header().timestamp()), TxState::Body, None, out)?;
        }
        let name = &table.schema.name;
        if self.sent.get(name) != Some(&table.schema) {
            out.push(SourceEvent::Schema(table.schema.clone()));
            self.sent.insert(name.clone(), table.schema.clone());
        }
        if self.tx.as_ref().is_some_and(|tx| tx.skip) {
            return Ok(()); // applied already (see DecoderOptions::applied)
        }
        let before: Vec<bool> = rows.columns_before_image().map(|b| b.iter().by_vals().collect()).unwrap_or_default();
        let after: Vec<bool> = rows.columns_after_image().map(|b| b.iter().by_vals().collect()).unwrap_or_default();
        let row_err = |e: RowError| match e {
            RowError::Value { column, error } => {
                Error::table(format!("cannot decode a value of column {column} of {name}"))
                    .with_detail(error.to_string())
            }
            RowError::Decode(d) => Error::fatal(format!("malformed row event for {name}")).with_detail(d.to_string()),
        };
        let mut r = Reader::new(rows.rows_data());
        let keys = table.schema.key_indices();
        while !r.is_empty() {
            let kind = match &rows {
                RowsEventData::WriteRowsEvent(_) | RowsEventData::WriteRowsEventV1(_) => {
                    ChangeKind::Insert { new: decode_row(&mut r, &table, &after).map_err(row_err)? }
                }
                RowsEventData::DeleteRowsEvent(_) | RowsEventData::DeleteRowsEventV1(_) => {
                    ChangeKind::Delete { old_key: decode_row(&mut r, &table, &before).map_err(row_err)? }
                }
                RowsEventData::UpdateRowsEvent(_) | RowsEventData::UpdateRowsEventV1(_) => {
                    let old = decode_row(&mut r, &table, &before).map_err(row_err)?;
                    let new = decode_row(&mut r, &table, &after).map_err(row_err)?;
                    let moved = !same_key(&keys, &old, &new);
                    ChangeKind::Update { old_key: moved.then_some(old), new }
                }
                RowsEventData::PartialUpdateRowsEvent(_) => {
                    return Err(Error::fatal(format!("partial JSON update of {name} in the binlog"))
                        .with_hint("SET GLOBAL binlog_row_value_options = ''"))
                }
            };
            out.push(SourceEvent::Change(Change { table: table.schema.clone(), kind }));
        }
        Ok(())
    }
}

fn same_key(keys: &[usize], a: &Row, b: &Row) -> bool {
    keys.iter().all(|&i| a.get(i) == b.get(i))
}

fn is_rows_event(t: u8) -> bool {
    use EventType as E;
    [
        E::WRITE_ROWS_EVENT_V1,
        E::UPDATE_ROWS_EVENT_V1,
        E::DELETE_ROWS_EVENT_V1,
        E::WRITE_ROWS_EVENT,
        E::UPDATE_ROWS_EVENT,
        E::DELETE_ROWS_EVENT,
        E::PARTIAL_UPDATE_ROWS_EVENT,
    ]
    .iter()
    .any(|e| *e as u8 == t)
}

fn malformed(e: crate::tablemap::DecodeError) -> Error {
    Error::fatal("malformed binlog event").with_detail(e.to_string())
}

fn io_malformed(e: std::io::Error) -> Error {
    Error::fatal("malformed binlog event").with_detail(e.to_string())
}
