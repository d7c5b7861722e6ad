//! MySQL-only binlog events, built byte for byte from MySQL's documented layouts (no MySQL
//! server is obtainable here) and fed through the decoder exactly as `mysql_async`'s binlog
//! stream delivers them: each event parsed by `mysql_common::binlog::EventStreamReader`, and a
//! `TRANSACTION_PAYLOAD` followed by the events `read_decompressed` yields from it.
//!
//! Layouts: `libbinlogevents/include/control_events.h` (GTID, PREVIOUS_GTIDS, XID, heartbeat v2,
//! transaction payload), `statement_events.h` (QUERY), `rows_event.h` (TABLE_MAP, rows v2),
//! `sql-common/json_binary.h` (binary JSON).

use std::collections::HashSet;
use std::io::Cursor;

use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::TransactionPayloadEvent;
use mysql_common::binlog::EventStreamReader;
use siphon_core::change::{ChangeKind, SourceEvent};
use siphon_core::schema::TableName;
use siphon_core::{Error, Lsn};
use siphon_mysql::decoder::{Decoder, DecoderOptions};

// ---------------------------------------------------------------------------------------------
// Event bytes

const QUERY: u8 = 2;
const ROTATE: u8 = 4;
const FDE: u8 = 15;
const XID: u8 = 16;
const TABLE_MAP: u8 = 19;
const HEARTBEAT: u8 = 27;
const WRITE_ROWS: u8 = 30;
const GTID: u8 = 33;
const ANONYMOUS_GTID: u8 = 34;
const PREVIOUS_GTIDS: u8 = 35;
const TRANSACTION_PAYLOAD: u8 = 40;
const HEARTBEAT_V2: u8 = 41;

const UUID_A: [u8; 16] =
    [0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62];
const UUID_B: [u8; 16] = [0xaa; 16];
const TEXT_A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const TEXT_B: &str = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa";

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// `timestamp u32 | type u8 | server_id u32 | event_size u32 | log_pos u32 | flags u16 | body
/// [| crc32]`.
fn raw_event(ty: u8, timestamp: u32, log_pos: u32, flags: u16, body: &[u8], checksum: bool) -> Vec<u8> {
    let size = 19 + body.len() + if checksum { 4 } else { 0 };
    let mut b = Vec::with_capacity(size);
    b.extend(timestamp.to_le_bytes());
    b.push(ty);
    b.extend(1u32.to_le_bytes());
    b.extend((size as u32).to_le_bytes());
    b.extend(log_pos.to_le_bytes());
    b.extend(flags.to_le_bytes());
    b.extend(body);
    if checksum {
        let c = crc32(&b);
        b.extend(c.to_le_bytes());
    }
    b
}

fn lenenc(n: u64) -> Vec<u8> {
    match n {
        0..=250 => vec![n as u8],
        251..=0xffff => [vec![0xfc], (n as u16).to_le_bytes().to_vec()].concat(),
        0x1_0000..=0xff_ffff => [vec![0xfd], n.to_le_bytes()[..3].to_vec()].concat(),
        _ => [vec![0xfe], n.to_le_bytes().to_vec()].concat(),
    }
}

/// A binlog file as the server streams it from offset 4: every event's `log_pos` is its end.
struct File {
    pos: u32,
    events: Vec<Vec<u8>>,
    /// (start, end) of each event pushed.
    bounds: Vec<(u32, u32)>,
}

impl File {
    /// The fake ROTATE (artificial, log_pos 0, its name followed by the CRC) and the FDE.
    fn new(name: &str) -> File {
        let mut f = File { pos: 4, events: Vec::new(), bounds: Vec::new() };
        let mut body = 4u64.to_le_bytes().to_vec();
        body.extend(name.as_bytes());
        f.events.push(raw_event(ROTATE, 0, 0, 0x20, &body, true));
        f.bounds.push((0, 0));
        f.push(FDE, &fde_body());
        f
    }

    fn push(&mut self, ty: u8, body: &[u8]) -> (u32, u32) {
        let start = self.pos;
        let end = start + 19 + body.len() as u32 + 4;
        self.events.push(raw_event(ty, 1_700_000_000, end, 0, body, true));
        self.pos = end;
        self.bounds.push((start, end));
        (start, end)
    }

    /// An event that is not written to the file (a heartbeat): log_pos as given.
    fn push_unlogged(&mut self, ty: u8, log_pos: u32, body: &[u8]) {
        self.events.push(raw_event(ty, 0, log_pos, 0, body, true));
        self.bounds.push((0, 0));
    }
}

/// MySQL 8.0.36's FORMAT_DESCRIPTION: binlog version 4, server version, create time, header
/// length 19, the post-header length of each event type 1..=41, checksum algorithm CRC32.
fn fde_body() -> Vec<u8> {
    let mut b = 4u16.to_le_bytes().to_vec();
    let mut version = [0u8; 50];
    version[..6].copy_from_slice(b"8.0.36");
    b.extend(version);
    b.extend(0u32.to_le_bytes());
    b.push(19);
    b.extend([
        56, 13, 0, 8, 0, 0, 0, 0, 4, 0, 4, 0, 0, 0, 98, 0, 4, 26, 8, 0, 0, 0, 8, 8, 8, 2, 0, 0, 0, 10, 10, 10, 42, 42,
        0, 18, 52, 0, 10, 0, 0,
    ]);
    b.push(1); // BINLOG_CHECKSUM_ALG_CRC32
    b
}

/// `flags u8 | sid [16] | gno i64 | lt_type 2 | last_committed i64 | sequence_number i64 |
/// immediate_commit_timestamp u56 | transaction_length lenenc | immediate_server_version u32`.
fn gtid_body(sid: [u8; 16], gno: i64, commit_us: u64) -> Vec<u8> {
    let mut b = vec![0x00];
    b.extend(sid);
    b.extend(gno.to_le_bytes());
    b.push(2);
    b.extend(0i64.to_le_bytes());
    b.extend(1i64.to_le_bytes());
    b.extend(&commit_us.to_le_bytes()[..7]);
    b.extend(lenenc(300));
    b.extend(80036u32.to_le_bytes());
    b
}

/// `n_sids u64 | per sid: sid [16] | n_intervals u64 | (start i64, end i64 exclusive)*`.
/// (sid, half-open intervals)
type SidIntervals<'a> = ([u8; 16], &'a [(i64, i64)]);

fn previous_gtids_body(sets: &[SidIntervals<'_>]) -> Vec<u8> {
    let mut b = (sets.len() as u64).to_le_bytes().to_vec();
    for (sid, ivs) in sets {
        b.extend(sid);
        b.extend((ivs.len() as u64).to_le_bytes());
        for (s, e) in *ivs {
            b.extend(s.to_le_bytes());
            b.extend(e.to_le_bytes());
        }
    }
    b
}

/// `thread_id u32 | exec_time u32 | db_len u8 | error_code u16 | status_vars_len u16 |
/// status_vars | db | 0 | query`.
fn query_body(db: &str, sql: &str) -> Vec<u8> {
    let mut b = 7u32.to_le_bytes().to_vec();
    b.extend(0u32.to_le_bytes());
    b.push(db.len() as u8);
    b.extend(0u16.to_le_bytes());
    b.extend(0u16.to_le_bytes());
    b.extend(db.as_bytes());
    b.push(0);
    b.extend(sql.as_bytes());
    b
}

const TABLE_ID: u64 = 108;

/// TABLE_MAP of `shop.docs (id INT NOT NULL PRIMARY KEY, doc JSON)` with full metadata.
fn table_map_body() -> Vec<u8> {
    let mut b = TABLE_ID.to_le_bytes()[..6].to_vec();
    b.extend(1u16.to_le_bytes());
    b.extend([4, b's', b'h', b'o', b'p', 0, 4, b'd', b'o', b'c', b's', 0]);
    b.push(2);
    b.extend([3, 245]); // LONG, JSON
    b.extend([1, 4]); // metadata: JSON pack length 4
    b.push(0b10); // doc nullable
    let mut tlv = |t: u8, v: &[u8]| {
        b.push(t);
        b.extend(lenenc(v.len() as u64));
        b.extend(v);
    };
    tlv(1, &[0]); // SIGNEDNESS: id signed
    tlv(4, &[2, b'i', b'd', 3, b'd', b'o', b'c']); // COLUMN_NAME
    tlv(8, &[0]); // SIMPLE_PRIMARY_KEY
    b
}

/// WRITE_ROWS v2: `table_id u48 | flags u16 | extra_len u16 (2: none) | ncols lenenc | present
/// bitmap | rows: null bitmap, id i32, doc (u32 length, binary JSON)`.
fn write_rows_body(rows: &[(i32, Option<Vec<u8>>)]) -> Vec<u8> {
    let mut b = TABLE_ID.to_le_bytes()[..6].to_vec();
    b.extend(1u16.to_le_bytes()); // STMT_END_F
    b.extend(2u16.to_le_bytes());
    b.push(2);
    b.push(0b11);
    for (id, doc) in rows {
        b.push(if doc.is_none() { 0b10 } else { 0 });
        b.extend(id.to_le_bytes());
        if let Some(doc) = doc {
            b.extend((doc.len() as u32).to_le_bytes());
            b.extend(doc);
        }
    }
    b
}

fn xid_body(xid: u64) -> Vec<u8> {
    xid.to_le_bytes().to_vec()
}

/// TRANSACTION_PAYLOAD: fields `type lenenc | length lenenc | value lenenc` (compression type
/// 2, uncompressed size 3 when compressed, payload size 1), end mark 0, then the payload.
fn payload_body(inner: &[Vec<u8>], zstd: bool) -> Vec<u8> {
    let raw: Vec<u8> = inner.concat();
    let payload = if zstd { zstd::encode_all(&raw[..], 3).unwrap() } else { raw.clone() };
    let mut b = Vec::new();
    let mut field = |t: u64, v: u64| {
        let value = lenenc(v);
        b.extend(lenenc(t));
        b.extend(lenenc(value.len() as u64));
        b.extend(value);
    };
    field(2, if zstd { 0 } else { 255 });
    if zstd {
        field(3, raw.len() as u64);
    }
    field(1, payload.len() as u64);
    b.push(0);
    b.extend(payload);
    b
}

/// An event inside a payload: no checksum, no position.
fn inner(ty: u8, body: &[u8]) -> Vec<u8> {
    raw_event(ty, 1_700_000_000, 0, 0, body, false)
}

fn heartbeat_v2_body(file: &str, pos: u64) -> Vec<u8> {
    let mut b = vec![1];
    b.extend(lenenc(file.len() as u64));
    b.extend(file.as_bytes());
    let p = lenenc(pos);
    b.push(2);
    b.extend(lenenc(p.len() as u64));
    b.extend(p);
    b.push(0);
    b
}

// ---------------------------------------------------------------------------------------------
// Feeding the decoder as mysql_async does

struct Feed {
    esr: EventStreamReader,
    decoder: Decoder,
    out: Vec<SourceEvent>,
}

impl Feed {
    fn new() -> Feed {
        let tables: HashSet<TableName> = [TableName::new("shop", "docs")].into();
        Feed {
            esr: EventStreamReader::new(BinlogVersion::Version4),
            decoder: Decoder::new(DecoderOptions { tables, ..Default::default() }),
            out: Vec::new(),
        }
    }

    /// mysql_async's `BinlogStream::poll_next`: the event, then (for a TRANSACTION_PAYLOAD)
    /// every event of its decompressed payload.
    fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let ev = self.esr.read(bytes).unwrap().unwrap();
        self.decoder.handle(&ev, &mut self.out)?;
        if ev.header().event_type_raw() == TRANSACTION_PAYLOAD {
            let tpe = ev.read_event::<TransactionPayloadEvent<'_>>().unwrap();
            let mut cursor = Cursor::new(tpe.danger_decompress());
            while let Some(inner) = self.esr.read_decompressed(&mut cursor).unwrap() {
                self.decoder.handle(&inner, &mut self.out)?;
            }
        }
        Ok(())
    }

    fn of(file: &File) -> Feed {
        let mut f = Feed::new();
        for e in &file.events {
            f.push(e).unwrap();
        }
        f
    }

    fn gtid(&self) -> String {
        self.decoder.gtid_state().map(|g| g.to_string()).unwrap_or_default()
    }
}

fn lsn(file_seq: u64, pos: u32) -> Lsn {
    Lsn((file_seq << 32) | u64::from(pos))
}

fn texts(events: &[SourceEvent]) -> Vec<Vec<Option<String>>> {
    events
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Change(c) => match &c.kind {
                ChangeKind::Insert { new } => Some(new.iter().map(|d| d.as_text().map(str::to_string)).collect()),
                other => panic!("unexpected {other:?}"),
            },
            _ => None,
        })
        .collect()
}

/// What each event is, positions aside.
fn shape(events: &[SourceEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            SourceEvent::Begin { commit_time_micros, .. } => format!("begin at {commit_time_micros}"),
            SourceEvent::Commit { commit_time_micros, .. } => format!("commit at {commit_time_micros}"),
            SourceEvent::Schema(s) => format!("schema {:?}", s),
            SourceEvent::Change(c) => format!("change {:?}", c.kind),
            other => format!("{other:?}"),
        })
        .collect()
}

/// µs since the Unix epoch -> µs since 2000-01-01.
fn pg_us(unix_us: u64) -> i64 {
    unix_us as i64 - 946_684_800_000_000
}

// ---------------------------------------------------------------------------------------------
// GTIDs

#[test]
fn previous_gtids_seed_the_set_and_each_gtid_event_opens_a_transaction_and_advances_it() {
    let mut file = File::new("binlog.000003");
    file.push(PREVIOUS_GTIDS, &previous_gtids_body(&[(UUID_A, &[(1, 6)]), (UUID_B, &[(1, 3), (5, 6)])]));
    let commit_us = 1_700_000_123_456_789u64;
    let (gtid_start, _) = file.push(GTID, &gtid_body(UUID_A, 6, commit_us));
    file.push(QUERY, &query_body("shop", "BEGIN"));
    file.push(TABLE_MAP, &table_map_body());
    file.push(WRITE_ROWS, &write_rows_body(&[(1, Some(json_doc(&J::I16(7))))]));
    let (_, xid_end) = file.push(XID, &xid_body(9));
    // DDL without GTID (gtid_mode OFF): ANONYMOUS_GTID, then the statement.
    let (anon_start, _) = file.push(ANONYMOUS_GTID, &gtid_body([0; 16], 0, 0));
    let (_, ddl_end) = file.push(QUERY, &query_body("shop", "CREATE TABLE x (a INT)"));
    // A gap in the sequence, and DDL with a GTID.
    file.push(GTID, &gtid_body(UUID_A, 8, commit_us + 1));
    file.push(QUERY, &query_body("shop", "DROP TABLE x"));

    let mut f = Feed::new();
    for (i, e) in file.events.iter().enumerate() {
        f.push(e).unwrap();
        if i == 2 {
            assert_eq!(f.gtid(), format!("{TEXT_A}:1-5,{TEXT_B}:1-2:5"), "PREVIOUS_GTIDS seeds the set");
        }
    }
    let begins: Vec<_> = f.out.iter().filter(|e| matches!(e, SourceEvent::Begin { .. })).collect();
    assert_eq!(begins.len(), 3);
    assert!(
        matches!(f.out[0], SourceEvent::Begin { final_lsn, commit_time_micros }
        if final_lsn == lsn(3, gtid_start) && commit_time_micros == pg_us(commit_us)),
        "{:?}",
        f.out[0]
    );
    assert!(matches!(f.out[3], SourceEvent::Commit { end_lsn, .. } if end_lsn == lsn(3, xid_end)), "{:?}", f.out);
    assert!(matches!(f.out[4], SourceEvent::Begin { final_lsn, .. } if final_lsn == lsn(3, anon_start)));
    assert!(matches!(f.out[5], SourceEvent::Commit { end_lsn, .. } if end_lsn == lsn(3, ddl_end)));
    assert_eq!(texts(&f.out), vec![vec![Some("1".to_string()), Some("7".to_string())]]);
    assert_eq!(f.gtid(), format!("{TEXT_A}:1-6:8,{TEXT_B}:1-2:5"));
    assert!(!f.decoder.in_transaction());
}

// ---------------------------------------------------------------------------------------------
// Compressed transactions

fn transaction_events() -> Vec<(u8, Vec<u8>)> {
    vec![
        (QUERY, query_body("shop", "BEGIN")),
        (TABLE_MAP, table_map_body()),
        (WRITE_ROWS, write_rows_body(&[(1, Some(json_doc(&J::Str("a".into())))), (2, None)])),
        (WRITE_ROWS, write_rows_body(&[(3, Some(json_doc(&J::Arr(vec![J::True, J::Null], false))))])),
        (XID, xid_body(42)),
    ]
}

#[test]
fn a_transaction_payload_yields_the_same_events_as_the_uncompressed_transaction() {
    let commit_us = 1_700_000_000_000_001u64;
    let mut plain = File::new("binlog.000001");
    let (plain_gtid, _) = plain.push(GTID, &gtid_body(UUID_A, 1, commit_us));
    let mut plain_end = 0;
    for (ty, body) in transaction_events() {
        plain_end = plain.push(ty, &body).1;
    }
    let plain = Feed::of(&plain);

    for zstd in [true, false] {
        let mut packed = File::new("binlog.000001");
        let (gtid_start, _) = packed.push(GTID, &gtid_body(UUID_A, 1, commit_us));
        let inner: Vec<Vec<u8>> = transaction_events().iter().map(|(t, b)| inner(*t, b)).collect();
        let (_, payload_end) = packed.push(TRANSACTION_PAYLOAD, &payload_body(&inner, zstd));
        // An idle heartbeat after the transaction.
        packed.push_unlogged(HEARTBEAT, payload_end, b"binlog.000001");
        let packed = Feed::of(&packed);
        assert_eq!(gtid_start, plain_gtid);
        assert_eq!(shape(&packed.out[..packed.out.len() - 1]), shape(&plain.out), "zstd {zstd}");
        assert_eq!(texts(&packed.out), texts(&plain.out));
        assert_eq!(texts(&packed.out)[2], [Some("3".into()), Some("[true, null]".into())]);
        assert!(matches!(packed.out[0], SourceEvent::Begin { final_lsn, .. } if final_lsn == lsn(1, gtid_start)));
        let n = packed.out.len();
        assert!(
            matches!(packed.out[n - 2], SourceEvent::Commit { end_lsn, .. } if end_lsn == lsn(1, payload_end)),
            "the transaction ends where its payload event ends: {:?}",
            packed.out[n - 2]
        );
        assert!(matches!(packed.out[n - 1], SourceEvent::Idle { wal_end } if wal_end == lsn(1, payload_end)));
        assert!(matches!(plain.out.last(), Some(SourceEvent::Commit { end_lsn, .. }) if *end_lsn == lsn(1, plain_end)));
        assert_eq!(packed.gtid(), "", "no PREVIOUS_GTIDS seen: the set is unknown");
    }
}

#[test]
fn a_payload_that_was_not_expanded_stops_the_stream_instead_of_losing_the_transaction() {
    // mysql_async drops a payload it cannot decompress without an error (danger_decompress
    // returns nothing): the decoder sees the next transaction's GTID with the first still open.
    let mut file = File::new("binlog.000001");
    file.push(GTID, &gtid_body(UUID_A, 1, 1));
    let inner: Vec<Vec<u8>> = transaction_events().iter().map(|(t, b)| inner(*t, b)).collect();
    file.push(TRANSACTION_PAYLOAD, &payload_body(&inner, true));
    file.push(GTID, &gtid_body(UUID_A, 2, 2));
    let mut f = Feed::new();
    let esr_events: Vec<_> = file.events.iter().map(|e| f.esr.read(&e[..]).unwrap().unwrap()).collect();
    let mut result = Ok(());
    for ev in &esr_events {
        result = f.decoder.handle(ev, &mut f.out);
        if result.is_err() {
            break;
        }
    }
    let err = result.unwrap_err();
    assert!(err.message.contains("TRANSACTION_PAYLOAD"), "{err}");
    assert!(!f.out.iter().any(|e| matches!(e, SourceEvent::Commit { .. })), "nothing committed: {:?}", f.out);
}

// ---------------------------------------------------------------------------------------------
// Heartbeats

#[test]
fn a_heartbeat_v2_is_idle_with_its_64_bit_position() {
    let mut file = File::new("binlog.000007");
    file.push(GTID, &gtid_body(UUID_A, 1, 1));
    file.push(QUERY, &query_body("shop", "BEGIN"));
    // Inside a transaction a heartbeat only moves server_end.
    file.push_unlogged(HEARTBEAT_V2, 0, &heartbeat_v2_body("binlog.000007", 500));
    let (_, end) = file.push(XID, &xid_body(1));
    file.push_unlogged(HEARTBEAT_V2, 0, &heartbeat_v2_body("binlog.000007", u64::from(end)));
    // The server moved on to the next file.
    file.push_unlogged(HEARTBEAT_V2, 0, &heartbeat_v2_body("binlog.000008", 4));
    // A position past 4 GiB cannot be an Lsn: no Idle rather than a wrong one.
    file.push_unlogged(HEARTBEAT_V2, 0, &heartbeat_v2_body("binlog.000008", 5 << 32));
    let f = Feed::of(&file);
    let idles: Vec<Lsn> = f
        .out
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Idle { wal_end } => Some(*wal_end),
            _ => None,
        })
        .collect();
    assert_eq!(idles, [lsn(7, end), lsn(8, 4)]);
    assert_eq!(f.decoder.server_end(), lsn(8, 4));
}

// ---------------------------------------------------------------------------------------------
// Binary JSON

/// A JSON value to serialize in MySQL's binary format (json_binary.h).
#[derive(Clone, Debug)]
enum J {
    Null,
    True,
    False,
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(String),
    /// (field type, data)
    Opaque(u8, Vec<u8>),
    /// (members, large)
    Obj(Vec<(&'static str, J)>, bool),
    Arr(Vec<J>, bool),
}

impl J {
    fn type_code(&self) -> u8 {
        match self {
            J::Obj(_, false) => 0x00,
            J::Obj(_, true) => 0x01,
            J::Arr(_, false) => 0x02,
            J::Arr(_, true) => 0x03,
            J::Null | J::True | J::False => 0x04,
            J::I16(_) => 0x05,
            J::U16(_) => 0x06,
            J::I32(_) => 0x07,
            J::U32(_) => 0x08,
            J::I64(_) => 0x09,
            J::U64(_) => 0x0a,
            J::F64(_) => 0x0b,
            J::Str(_) => 0x0c,
            J::Opaque(..) => 0x0f,
        }
    }

    /// Inlined in a value entry: literals and 16-bit integers; 32-bit ones in large containers.
    fn inline(&self, large: bool) -> Option<Vec<u8>> {
        match self {
            J::Null => Some(vec![0]),
            J::True => Some(vec![1]),
            J::False => Some(vec![2]),
            J::I16(v) => Some(v.to_le_bytes().to_vec()),
            J::U16(v) => Some(v.to_le_bytes().to_vec()),
            J::I32(v) if large => Some(v.to_le_bytes().to_vec()),
            J::U32(v) if large => Some(v.to_le_bytes().to_vec()),
            _ => None,
        }
    }

    fn value(&self) -> Vec<u8> {
        match self {
            J::Null | J::True | J::False | J::I16(_) | J::U16(_) => self.inline(false).unwrap(),
            J::I32(v) => v.to_le_bytes().to_vec(),
            J::U32(v) => v.to_le_bytes().to_vec(),
            J::I64(v) => v.to_le_bytes().to_vec(),
            J::U64(v) => v.to_le_bytes().to_vec(),
            J::F64(v) => v.to_le_bytes().to_vec(),
            J::Str(s) => [varlen(s.len()), s.as_bytes().to_vec()].concat(),
            J::Opaque(t, data) => [vec![*t], varlen(data.len()), data.clone()].concat(),
            J::Obj(members, large) => {
                let keys: Vec<&str> = members.iter().map(|(k, _)| *k).collect();
                let values: Vec<J> = members.iter().map(|(_, v)| v.clone()).collect();
                container(Some(&keys), &values, *large)
            }
            J::Arr(values, large) => container(None, values, *large),
        }
    }
}

/// Data lengths: 7 bits per byte, low group first, high bit set on all but the last.
fn varlen(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// `count | size | key entries (offset, u16 length) | value entries (type, inlined value or
/// offset) | keys | values`, offsets from the container's start, 2 bytes small / 4 large.
fn container(keys: Option<&[&str]>, values: &[J], large: bool) -> Vec<u8> {
    let w = if large { 4 } else { 2 };
    let n = values.len();
    let header = 2 * w + keys.map_or(0, |_| n * (w + 2)) + n * (1 + w);
    let int = |v: usize| v.to_le_bytes()[..w].to_vec();
    let mut key_entries = Vec::new();
    let mut tail = Vec::new();
    for k in keys.unwrap_or_default() {
        key_entries.extend(int(header + tail.len()));
        key_entries.extend((k.len() as u16).to_le_bytes());
        tail.extend(k.as_bytes());
    }
    let mut value_entries = Vec::new();
    for v in values {
        value_entries.push(v.type_code());
        match v.inline(large) {
            Some(mut bytes) => {
                bytes.resize(w, 0);
                value_entries.extend(bytes);
            }
            None => {
                value_entries.extend(int(header + tail.len()));
                tail.extend(v.value());
            }
        }
    }
    let size = header + tail.len();
    [int(n), int(size), key_entries, value_entries, tail].concat()
}

fn json_doc(j: &J) -> Vec<u8> {
    [vec![j.type_code()], j.value()].concat()
}

/// MySQL's packed temporal values (my_time.cc `TIME_to_longlong_*_packed`), as opaque JSON data.
fn packed_datetime(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, us: i64) -> Vec<u8> {
    let ymd = ((y * 13 + mo) << 5) | d;
    let hms = (h << 12) | (mi << 6) | s;
    ((((ymd << 17) | hms) << 24) + us).to_le_bytes().to_vec()
}

fn packed_time(neg: bool, h: i64, mi: i64, s: i64, us: i64) -> Vec<u8> {
    let v = (((h << 12) | (mi << 6) | s) << 24) + us;
    (if neg { -v } else { v }).to_le_bytes().to_vec()
}

#[test]
fn binary_json_of_every_type_prints_as_mysql_prints_it() {
    const NEWDECIMAL: u8 = 246;
    const DATE: u8 = 10;
    const TIME: u8 = 11;
    const DATETIME: u8 = 12;
    const TIMESTAMP: u8 = 7;
    const VAR_STRING: u8 = 253;
    const BLOB: u8 = 252;
    let long = "x".repeat(200);
    let cases: Vec<(J, String)> = vec![
        (J::Null, "null".into()),
        (J::True, "true".into()),
        (J::False, "false".into()),
        (J::I16(-32768), "-32768".into()),
        (J::U16(65535), "65535".into()),
        (J::I32(i32::MIN), "-2147483648".into()),
        (J::U32(u32::MAX), "4294967295".into()),
        (J::I64(i64::MIN), "-9223372036854775808".into()),
        (J::U64(u64::MAX), "18446744073709551615".into()),
        (J::F64(123.456), "123.456".into()),
        (J::F64(1.0), "1.0".into()),
        (J::F64(-1e15), "-1e15".into()),
        (J::F64(1e-7), "0.0000001".into()),
        (J::Str("h\u{e9}llo \"q\" \\ \n\t\u{1}".into()), r#""héllo \"q\" \\ \n\t\u0001""#.into()),
        (J::Str(long.clone()), format!("\"{long}\"")),
        (
            J::Obj(
                vec![("a", J::I16(1)), ("bb", J::Arr(vec![J::True, J::Null], false)), ("ccc", J::Str("x".into()))],
                false,
            ),
            r#"{"a": 1, "bb": [true, null], "ccc": "x"}"#.into(),
        ),
        (
            J::Obj(vec![("k", J::I32(2147483647)), ("l", J::F64(1.5)), ("m", J::Obj(vec![], false))], true),
            r#"{"k": 2147483647, "l": 1.5, "m": {}}"#.into(),
        ),
        (
            J::Arr(
                vec![
                    J::I16(1),
                    J::I16(-1),
                    J::I32(70000),
                    J::Str("s".into()),
                    J::F64(2.5),
                    J::Obj(vec![], false),
                    J::U64(7),
                ],
                false,
            ),
            r#"[1, -1, 70000, "s", 2.5, {}, 7]"#.into(),
        ),
        (
            J::Arr(vec![J::True, J::U32(123456), J::Str("z".into()), J::Arr(vec![], true)], true),
            r#"[true, 123456, "z", []]"#.into(),
        ),
        (J::Opaque(NEWDECIMAL, vec![3, 2, 0x81, 0x32]), "1.50".into()),
        (J::Opaque(NEWDECIMAL, vec![3, 2, 0x7e, 0xcd]), "-1.50".into()),
        (J::Opaque(DATE, packed_datetime(2024, 2, 29, 0, 0, 0, 0)), r#""2024-02-29""#.into()),
        (J::Opaque(TIME, packed_time(false, 12, 34, 56, 789_000)), r#""12:34:56.789000""#.into()),
        (J::Opaque(TIME, packed_time(true, 1, 0, 0, 0)), r#""-01:00:00.000000""#.into()),
        (
            J::Opaque(DATETIME, packed_datetime(2024, 2, 29, 23, 59, 58, 123_456)),
            r#""2024-02-29 23:59:58.123456""#.into(),
        ),
        (J::Opaque(TIMESTAMP, packed_datetime(1970, 1, 1, 0, 0, 1, 0)), r#""1970-01-01 00:00:01.000000""#.into()),
        (J::Opaque(VAR_STRING, b"plain".to_vec()), r#""plain""#.into()),
        (J::Opaque(BLOB, vec![0, 1, 2]), r#""base64:type252:AAEC""#.into()),
        (J::Opaque(BLOB, vec![0; 60]), format!("\"base64:type252:{}\\n{}\"", "A".repeat(76), "A".repeat(4))),
    ];
    let mut file = File::new("binlog.000001");
    file.push(GTID, &gtid_body(UUID_A, 1, 1));
    file.push(QUERY, &query_body("shop", "BEGIN"));
    file.push(TABLE_MAP, &table_map_body());
    let mut rows: Vec<(i32, Option<Vec<u8>>)> =
        cases.iter().enumerate().map(|(i, (j, _))| (i as i32, Some(json_doc(j)))).collect();
    // An empty value (NULL stored into a NOT NULL column by INSERT IGNORE) is JSON null, and SQL
    // NULL stays NULL.
    rows.push((100, Some(Vec::new())));
    rows.push((101, None));
    file.push(WRITE_ROWS, &write_rows_body(&rows));
    file.push(XID, &xid_body(1));
    let f = Feed::of(&file);
    let got: Vec<Option<String>> = texts(&f.out).into_iter().map(|r| r[1].clone()).collect();
    let mut want: Vec<Option<String>> = cases.iter().map(|(_, s)| Some(s.clone())).collect();
    want.push(Some("null".into()));
    want.push(None);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "case {i}: {:?}", cases.get(i).map(|c| &c.0));
    }
    assert_eq!(got.len(), want.len());
    assert!(matches!(f.out.iter().find(|e| matches!(e, SourceEvent::Schema(_))), Some(SourceEvent::Schema(s))
        if s.columns[1].source_type.name == "json"));
}
