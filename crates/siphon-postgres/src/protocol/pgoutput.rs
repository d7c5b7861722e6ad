//! Decoder (and test encoder) for `pgoutput` logical replication messages.
//!
//! The input of [`decode`] is the payload of one `XLogData` (`w`) message of
//! the streaming replication protocol, i.e. exactly one logical replication
//! message as described in
//! <https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html>.
//!
//! Protocol version 1 is fully supported. The streaming messages of protocol
//! version 2 (Stream Start `S`, Stream Stop `E`, Stream Commit `c`, Stream
//! Abort `A`) are decoded too, as are Origin `O`, Type `Y` and logical
//! decoding Message `M`. The two-phase commit messages of protocol version 3
//! (`b`, `P`, `K`, `r`, `p`) are not supported and are reported as unknown
//! message tags.
//!
//! # Streamed transactions
//!
//! Inside a Stream Start / Stream Stop block (protocol version 2 and later),
//! Relation, Type, Insert, Update, Delete, Truncate and Message carry the
//! (sub)transaction id as a leading `Int32`. The caller tracks whether it is
//! inside such a block and passes that as the `streaming` flag of [`decode`].
//! The decoded xid is kept in the `xid` field of those messages (and of
//! [`Relation`]): `Some(xid)` when decoded with `streaming == true`, `None`
//! otherwise.
//!
//! # Robustness
//!
//! [`decode`] never panics: every read is bounds checked, every count read
//! from the message is checked against the bytes left before anything is
//! allocated for it, text must be valid UTF-8 (siphon requires
//! `client_encoding = UTF8`), and trailing bytes after a complete message are
//! an error. Errors ([`DecodeError`]) name the message, the field being read,
//! the byte offset and the problem.

use std::fmt;

/// Microseconds between the Unix epoch and the PostgreSQL epoch
/// (2000-01-01 00:00:00 UTC). Add it to a `commit_time_micros` value to get
/// Unix microseconds.
pub const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// One decoded `pgoutput` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgOutputMessage {
    /// `B`: start of a transaction.
    Begin(Begin),
    /// `C`: end of a transaction.
    Commit(Commit),
    /// `O`: replication origin of the current transaction.
    Origin { commit_lsn: u64, name: String },
    /// `R`: description of a relation, sent before its first change.
    Relation(Relation),
    /// `Y`: description of a non-builtin data type.
    Type { xid: Option<u32>, id: u32, namespace: String, name: String },
    /// `I`: a row was inserted.
    Insert { xid: Option<u32>, relation_id: u32, new: TupleData },
    /// `U`: a row was updated; `old` is present when the replica identity
    /// key changed (`K`) or the replica identity is FULL (`O`).
    Update { xid: Option<u32>, relation_id: u32, old: Option<OldTuple>, new: TupleData },
    /// `D`: a row was deleted.
    Delete { xid: Option<u32>, relation_id: u32, old: OldTuple },
    /// `T`: one or more relations were truncated.
    Truncate { xid: Option<u32>, options: TruncateOptions, relation_ids: Vec<u32> },
    /// `M`: a message emitted with `pg_logical_emit_message`.
    Message { xid: Option<u32>, transactional: bool, lsn: u64, prefix: String, content: Vec<u8> },
    /// `S`: start of a block of a streamed (in-progress) transaction.
    StreamStart { xid: u32, first_segment: bool },
    /// `E`: end of a block of a streamed transaction.
    StreamStop,
    /// `c`: commit of a streamed transaction.
    StreamCommit { xid: u32, flags: u8, commit_lsn: u64, end_lsn: u64, commit_time_micros: i64 },
    /// `A`: abort of a streamed (sub)transaction.
    StreamAbort {
        xid: u32,
        subxid: u32,
        /// Only sent by protocol version 4 with `streaming = parallel`.
        abort: Option<StreamAbortInfo>,
    },
}

/// Body of a Begin message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begin {
    /// LSN of the commit record of the transaction.
    pub final_lsn: u64,
    /// Commit timestamp, microseconds since 2000-01-01 00:00:00 UTC.
    pub commit_time_micros: i64,
    pub xid: u32,
}

/// Body of a Commit message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    /// Currently always 0.
    pub flags: u8,
    pub commit_lsn: u64,
    /// End LSN of the transaction; the position to confirm as flushed.
    pub end_lsn: u64,
    /// Commit timestamp, microseconds since 2000-01-01 00:00:00 UTC.
    pub commit_time_micros: i64,
}

/// Body of a Relation message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Transaction id, present only when decoded inside a streamed block.
    pub xid: Option<u32>,
    pub id: u32,
    pub namespace: String,
    pub name: String,
    pub replica_identity: ReplicaIdentity,
    pub columns: Vec<RelationColumn>,
}

/// `relreplident` of a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// `d`: primary key, if any.
    Default,
    /// `n`: nothing.
    Nothing,
    /// `f`: all columns.
    Full,
    /// `i`: a specific unique index.
    Index,
}

/// One column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Whether the column is part of the replica identity key.
    pub is_key: bool,
    pub name: String,
    pub type_oid: u32,
    pub type_modifier: i32,
}

/// The old row image of an Update or Delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldTuple {
    /// `K`: only the replica identity key columns are meaningful.
    Key(TupleData),
    /// `O`: the full old row (replica identity FULL).
    Full(TupleData),
}

/// The column values of one row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TupleData(pub Vec<TupleValue>);

/// One column value of a [`TupleData`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    /// `n`
    Null,
    /// `u`: an unchanged TOASTed value, the actual value is not sent.
    UnchangedToast,
    /// `t`: text representation.
    Text(String),
    /// `b`: binary representation.
    Binary(Vec<u8>),
}

/// Option bits of a Truncate message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TruncateOptions {
    /// `TRUNCATE ... CASCADE` (bit 1).
    pub cascade: bool,
    /// `TRUNCATE ... RESTART IDENTITY` (bit 2).
    pub restart_identity: bool,
}

/// Trailer of a Stream Abort message in protocol version 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamAbortInfo {
    pub abort_lsn: u64,
    /// Microseconds since 2000-01-01 00:00:00 UTC.
    pub abort_time_micros: i64,
}

/// A pgoutput message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid pgoutput {message} message at byte {offset}: {kind} (reading {field}{})",
    column_suffix(*.column)
)]
pub struct DecodeError {
    /// Name of the message being decoded ("Insert", ...), or "unknown".
    pub message: &'static str,
    /// The field being read when the problem was found.
    pub field: &'static str,
    /// 1-based tuple column (or relation column), if inside one.
    pub column: Option<usize>,
    /// Byte offset in the message where the problem was found.
    pub offset: usize,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

/// What was wrong with a pgoutput message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("empty message")]
    Empty,
    #[error("message truncated: need {needed} bytes, {remaining} remaining")]
    Truncated { needed: usize, remaining: usize },
    #[error("unknown message tag {}", ByteRepr(*.0))]
    UnknownMessageTag(u8),
    #[error("unknown tuple value kind {}", ByteRepr(*.0))]
    UnknownTupleKind(u8),
    #[error("unexpected tuple marker {}, expected {expected}", ByteRepr(*.found))]
    UnexpectedTupleMarker { found: u8, expected: &'static str },
    #[error("unknown replica identity {}", ByteRepr(*.0))]
    UnknownReplicaIdentity(u8),
    #[error("string is not NUL-terminated")]
    UnterminatedString,
    #[error("invalid byte sequence for encoding \"UTF8\"")]
    InvalidUtf8,
    #[error("negative length {0}")]
    NegativeLength(i32),
    #[error("count {count} cannot fit in the {remaining} remaining bytes")]
    CountTooLarge { count: usize, remaining: usize },
    #[error("{0} unexpected trailing bytes")]
    TrailingBytes(usize),
}

fn column_suffix(column: Option<usize>) -> String {
    column.map(|c| format!(", column {c}")).unwrap_or_default()
}

/// Displays a byte as `'x'` when printable ASCII, else as `0xNN`.
struct ByteRepr(u8);

impl fmt::Display for ByteRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", char::from(self.0))
        } else {
            write!(f, "0x{:02x}", self.0)
        }
    }
}

impl DecodeError {
    fn in_column(mut self, index: usize) -> Self {
        self.column.get_or_insert(index + 1);
        self
    }
}

type Result<T> = std::result::Result<T, DecodeError>;

/// Decodes one pgoutput message.
///
/// `streaming` must be true between a Stream Start and the matching Stream
/// Stop: then the messages that carry a transaction id there are decoded
/// with it (see the module documentation).
pub fn decode(buf: &[u8], streaming: bool) -> Result<PgOutputMessage> {
    let Some((&tag, _)) = buf.split_first() else {
        return Err(Reader::new(buf, "unknown").err("message tag", DecodeErrorKind::Empty));
    };
    let mut r = Reader::new(buf, message_name(tag));
    r.pos = 1;
    let msg = decode_body(&mut r, tag, streaming)?;
    r.finish()?;
    Ok(msg)
}

fn message_name(tag: u8) -> &'static str {
    match tag {
        b'B' => "Begin",
        b'C' => "Commit",
        b'O' => "Origin",
        b'R' => "Relation",
        b'Y' => "Type",
        b'I' => "Insert",
        b'U' => "Update",
        b'D' => "Delete",
        b'T' => "Truncate",
        b'M' => "Message",
        b'S' => "Stream Start",
        b'E' => "Stream Stop",
        b'c' => "Stream Commit",
        b'A' => "Stream Abort",
        _ => "unknown",
    }
}

fn decode_body(r: &mut Reader<'_>, tag: u8, streaming: bool) -> Result<PgOutputMessage> {
    match tag {
        b'B' => decode_begin(r),
        b'C' => decode_commit(r),
        b'O' => decode_origin(r),
        b'R' => decode_relation(r, streaming),
        b'Y' => decode_type(r, streaming),
        b'I' => decode_insert(r, streaming),
        b'U' => decode_update(r, streaming),
        b'D' => decode_delete(r, streaming),
        b'T' => decode_truncate(r, streaming),
        b'M' => decode_message(r, streaming),
        b'S' => decode_stream_start(r),
        b'E' => Ok(PgOutputMessage::StreamStop),
        b'c' => decode_stream_commit(r),
        b'A' => decode_stream_abort(r),
        other => Err(r.err_at(0, "message tag", DecodeErrorKind::UnknownMessageTag(other))),
    }
}

fn decode_begin(r: &mut Reader<'_>) -> Result<PgOutputMessage> {
    Ok(PgOutputMessage::Begin(Begin {
        final_lsn: r.u64("final LSN")?,
        commit_time_micros: r.i64("commit timestamp")?,
        xid: r.u32("xid")?,
    }))
}

fn decode_commit(r: &mut Reader<'_>) -> Result<PgOutputMessage> {
    Ok(PgOutputMessage::Commit(Commit {
        flags: r.u8("flags")?,
        commit_lsn: r.u64("commit LSN")?,
        end_lsn: r.u64("end LSN")?,
        commit_time_micros: r.i64("commit timestamp")?,
    }))
}

fn decode_origin(r: &mut Reader<'_>) -> Result<PgOutputMessage> {
    Ok(PgOutputMessage::Origin { commit_lsn: r.u64("commit LSN")?, name: r.cstr("origin name")? })
}

fn decode_relation(r: &mut Reader<'_>, streaming: bool) -> Result<PgOutputMessage> {
    let xid = r.xid(streaming)?;
    let id = r.u32("relation id")?;
    let namespace = r.cstr("namespace")?;
    let name = r.cstr("relation name")?;
    let replica_identity = decode_replica_identity(r)?;
    let count = usize::from(r.u16("column count")?);
    // flags (1) + name (at least the NUL) + type OID (4) + type modifier (4)
    r.check_count(count, 10, "column count")?;
    let mut columns = Vec::with_capacity(count);
    for index in 0..count {
        columns.push(decode_relation_column(r).map_err(|e| e.in_column(index))?);
    }
    Ok(PgOutputMessage::Relation(Relation { xid, id, namespace, name, replica_identity, columns }))
}

fn decode_replica_identity(r: &mut Reader<'_>) -> Result<ReplicaIdentity> {
    let field = "replica identity";
    match r.u8(field)? {
        b'd' => Ok(ReplicaIdentity::Default),
        b'n' => Ok(ReplicaIdentity::Nothing),
        b'f' => Ok(ReplicaIdentity::Full),
        b'i' => Ok(ReplicaIdentity::Index),
        other => Err(r.err_back(1, field, DecodeErrorKind::UnknownReplicaIdentity(other))),
    }
}

fn decode_relation_column(r: &mut Reader<'_>) -> Result<RelationColumn> {
    Ok(RelationColumn {
        is_key: r.u8("column flags")? & 1 != 0,
        name: r.cstr("column name")?,
        type_oid: r.u32("column type OID")?,
        type_modifier: r.i32("column type modifier")?,
    })
}

fn decode_type(r: &mut Reader<'_>, streaming: bool) -> Result<PgOutputMessage> {
    Ok(PgOutputMessage::Type {
        xid: r.xid(streaming)?,
        id: r.u32("type OID")?,
        namespace: r.cstr("namespace")?,
        name: r.cstr("type name")?,
    })
}

fn decode_insert(r: &mut Reader<'_>, streaming: bool) -> Result<PgOutputMessage> {
    let xid = r.xid(streaming)?;
    let relation_id = r.u32("relation id")?;
    r.expect_marker(b'N', "'N'")?;
    let new = decode_tuple(r)?;
    Ok(PgOutputMessage::Insert { xid, relation_id, new })
}

fn decode_update(r: &mut Reader<'_>, streaming: bool) -> Result<PgOutputMessage> {
    let xid = r.xid(streaming)?;
    let relation_id = r.u32("relation id")?;
    let field = "tuple marker";
    let old = match r.u8(field)? {
        b'N' => None,
        b'K' => Some(OldTuple::Key(decode_tuple(r)?)),
        b'O' => Some(OldTuple::Full(decode_tuple(r)?)),
        found => {
            let kind = DecodeErrorKind::UnexpectedTupleMarker { found, expected: "'K', 'O' or 'N'" };
            return Err(r.err_back(1, field, kind));
        }
    };
    if old.is_some() {
        r.expect_marker(b'N', "'N'")?;
    }
    let new = decode_tuple(r)?;
    Ok(PgOutputMessage::Update { xid, relation_id, old, new })
}

fn decode_delete(r: &mut Reader<'_>, streaming: bool) -> Result<PgOutputMessage> {
    let xid = r.xid(streaming)?;
    let relation_id = r.u32("relation id")?;
    let field = "tuple marker";
    let old = match r.u8(field)? {
        b'K' => OldTuple::Key(decode_tuple(r)?),
        b'O' => OldTuple::Full(decode_tuple(r)?),
        found => {
            let kind = DecodeErrorKind::UnexpectedTupleMarker { found, expected: "'K' or 'O'" };
            return Err(r.err_back(1, field, kind));
        }
    };
    Ok(PgOutputMessage::Delete { xid, relation_id, old })
}

fn decode_truncate(r: &mut Reader<'_>, streaming: bool) -> Result<PgOutputMessage> {
    let xid = r.xid(streaming)?;
    let count = r.len32("relation count")?;
    let bits = r.u8("options")?;
    r.check_count(count, 4, "relation count")?;
    let mut relation_ids = Vec::with_capacity(count);
    for _ in 0..count {
        relation_ids.push(r.u32("relation id")?);
    }
    let options = TruncateOptions { cascade: bits & 1 != 0, restart_identity: bits & 2 != 0 };
    Ok(PgOutputMessage::Truncate { xid, options, relation_ids })
}

fn decode_message(r: &mut Reader<'_>, streaming: bool) -> Result<PgOutputMessage> {
    Ok(PgOutputMessage::Message {
        xid: r.xid(streaming)?,
        transactional: r.u8("flags")? & 1 != 0,
        lsn: r.u64("LSN")?,
        prefix: r.cstr("prefix")?,
        content: r.len_prefixed("content")?.to_vec(),
    })
}

fn decode_stream_start(r: &mut Reader<'_>) -> Result<PgOutputMessage> {
    Ok(PgOutputMessage::StreamStart { xid: r.u32("xid")?, first_segment: r.u8("first segment flag")? != 0 })
}

fn decode_stream_commit(r: &mut Reader<'_>) -> Result<PgOutputMessage> {
    Ok(PgOutputMessage::StreamCommit {
        xid: r.u32("xid")?,
        flags: r.u8("flags")?,
        commit_lsn: r.u64("commit LSN")?,
        end_lsn: r.u64("end LSN")?,
        commit_time_micros: r.i64("commit timestamp")?,
    })
}

fn decode_stream_abort(r: &mut Reader<'_>) -> Result<PgOutputMessage> {
    let xid = r.u32("xid")?;
    let subxid = r.u32("subtransaction xid")?;
    let abort = if r.remaining().is_empty() {
        None
    } else {
        Some(StreamAbortInfo { abort_lsn: r.u64("abort LSN")?, abort_time_micros: r.i64("abort timestamp")? })
    };
    Ok(PgOutputMessage::StreamAbort { xid, subxid, abort })
}

fn decode_tuple(r: &mut Reader<'_>) -> Result<TupleData> {
    let count = usize::from(r.u16("tuple column count")?);
    r.check_count(count, 1, "tuple column count")?;
    let mut values = Vec::with_capacity(count);
    for index in 0..count {
        values.push(decode_tuple_value(r).map_err(|e| e.in_column(index))?);
    }
    Ok(TupleData(values))
}

fn decode_tuple_value(r: &mut Reader<'_>) -> Result<TupleValue> {
    let field = "tuple value kind";
    match r.u8(field)? {
        b'n' => Ok(TupleValue::Null),
        b'u' => Ok(TupleValue::UnchangedToast),
        b't' => {
            let start = r.pos + 4;
            let bytes = r.len_prefixed("text value")?;
            utf8(bytes, start, r.message, "text value").map(TupleValue::Text)
        }
        b'b' => Ok(TupleValue::Binary(r.len_prefixed("binary value")?.to_vec())),
        other => Err(r.err_back(1, field, DecodeErrorKind::UnknownTupleKind(other))),
    }
}

/// Converts `bytes`, found at offset `start`, to a `String`.
fn utf8(bytes: &[u8], start: usize, message: &'static str, field: &'static str) -> Result<String> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(e) => Err(DecodeError {
            message,
            field,
            column: None,
            offset: start + e.valid_up_to(),
            kind: DecodeErrorKind::InvalidUtf8,
        }),
    }
}

/// Bounds-checked big-endian reader over one message.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    message: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], message: &'static str) -> Self {
        Reader { buf, pos: 0, message }
    }

    fn err_at(&self, offset: usize, field: &'static str, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { message: self.message, field, column: None, offset, kind }
    }

    fn err(&self, field: &'static str, kind: DecodeErrorKind) -> DecodeError {
        self.err_at(self.pos, field, kind)
    }

    /// An error about the field that ended `back` bytes ago.
    fn err_back(&self, back: usize, field: &'static str, kind: DecodeErrorKind) -> DecodeError {
        self.err_at(self.pos.saturating_sub(back), field, kind)
    }

    fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn truncated(&self, field: &'static str, needed: usize) -> DecodeError {
        let remaining = self.remaining().len();
        self.err(field, DecodeErrorKind::Truncated { needed, remaining })
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8]> {
        let rest = self.remaining();
        let head = rest.get(..n).ok_or_else(|| self.truncated(field, n))?;
        self.pos += n;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N]> {
        let rest = self.remaining();
        let (head, _) = rest.split_first_chunk::<N>().ok_or_else(|| self.truncated(field, N))?;
        self.pos += N;
        Ok(*head)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8> {
        self.array::<1>(field).map(|[b]| b)
    }

    fn u16(&mut self, field: &'static str) -> Result<u16> {
        self.array(field).map(u16::from_be_bytes)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32> {
        self.array(field).map(u32::from_be_bytes)
    }

    fn i32(&mut self, field: &'static str) -> Result<i32> {
        self.array(field).map(i32::from_be_bytes)
    }

    fn u64(&mut self, field: &'static str) -> Result<u64> {
        self.array(field).map(u64::from_be_bytes)
    }

    fn i64(&mut self, field: &'static str) -> Result<i64> {
        self.array(field).map(i64::from_be_bytes)
    }

    fn xid(&mut self, streaming: bool) -> Result<Option<u32>> {
        if streaming {
            self.u32("xid").map(Some)
        } else {
            Ok(None)
        }
    }

    /// Reads a non-negative `Int32` length or count.
    fn len32(&mut self, field: &'static str) -> Result<usize> {
        let n = self.i32(field)?;
        usize::try_from(n).map_err(|_| self.err_back(4, field, DecodeErrorKind::NegativeLength(n)))
    }

    /// Reads an `Int32` length followed by that many bytes.
    fn len_prefixed(&mut self, field: &'static str) -> Result<&'a [u8]> {
        let n = self.len32(field)?;
        self.take(n, field)
    }

    /// Reads a NUL-terminated UTF-8 string.
    fn cstr(&mut self, field: &'static str) -> Result<String> {
        let start = self.pos;
        let mut parts = self.remaining().splitn(2, |&b| b == 0);
        let bytes = parts.next().unwrap_or_default();
        if parts.next().is_none() {
            return Err(self.err(field, DecodeErrorKind::UnterminatedString));
        }
        let s = utf8(bytes, start, self.message, field)?;
        self.pos += bytes.len() + 1;
        Ok(s)
    }

    fn expect_marker(&mut self, want: u8, expected: &'static str) -> Result<()> {
        let field = "tuple marker";
        let found = self.u8(field)?;
        if found == want {
            return Ok(());
        }
        let kind = DecodeErrorKind::UnexpectedTupleMarker { found, expected };
        Err(self.err_back(1, field, kind))
    }

    /// Checks that `count` items of at least `min_size` bytes each can fit
    /// in what is left, before allocating anything for them.
    fn check_count(&self, count: usize, min_size: usize, field: &'static str) -> Result<()> {
        let remaining = self.remaining().len();
        if count.saturating_mul(min_size) <= remaining {
            return Ok(());
        }
        Err(self.err(field, DecodeErrorKind::CountTooLarge { count, remaining }))
    }

    fn finish(&self) -> Result<()> {
        match self.remaining().len() {
            0 => Ok(()),
            n => Err(self.err("end of message", DecodeErrorKind::TrailingBytes(n))),
        }
    }
}

/// Encodes a message in the wire format [`decode`] reads.
///
/// With `streaming == true` the messages that carry an xid in streamed
/// blocks get one written (`xid.unwrap_or(0)`); with `streaming == false`
/// their `xid` field is ignored. `decode(&encode(m, s), s) == Ok(m)` holds
/// whenever those `xid` fields are `Some` exactly when `s` is true.
///
/// # Panics
///
/// Panics when the message cannot be represented: a string containing NUL,
/// a value or content longer than `i32::MAX` bytes, a tuple or relation with
/// more than 65535 columns, or more than `i32::MAX` truncated relations.
pub fn encode(msg: &PgOutputMessage, streaming: bool) -> Vec<u8> {
    let mut w = Writer::default();
    match msg {
        PgOutputMessage::Begin(b) => encode_begin(&mut w, b),
        PgOutputMessage::Commit(c) => encode_commit(&mut w, c),
        PgOutputMessage::Origin { commit_lsn, name } => {
            w.u8(b'O').u64(*commit_lsn).cstr(name);
        }
        PgOutputMessage::Relation(rel) => encode_relation(&mut w, rel, streaming),
        PgOutputMessage::Type { xid, id, namespace, name } => {
            w.u8(b'Y').xid(*xid, streaming).u32(*id).cstr(namespace).cstr(name);
        }
        PgOutputMessage::Insert { xid, relation_id, new } => {
            w.u8(b'I').xid(*xid, streaming).u32(*relation_id).u8(b'N').tuple(new);
        }
        PgOutputMessage::Update { xid, relation_id, old, new } => {
            encode_update(&mut w, (*xid, *relation_id), old.as_ref(), new, streaming)
        }
        PgOutputMessage::Delete { xid, relation_id, old } => {
            w.u8(b'D').xid(*xid, streaming).u32(*relation_id).old_tuple(old);
        }
        PgOutputMessage::Truncate { xid, options, relation_ids } => {
            encode_truncate(&mut w, *xid, *options, relation_ids, streaming)
        }
        PgOutputMessage::Message { .. } => encode_message(&mut w, msg, streaming),
        other => encode_stream(&mut w, other),
    }
    w.0
}

fn encode_begin(w: &mut Writer, b: &Begin) {
    w.u8(b'B').u64(b.final_lsn).i64(b.commit_time_micros).u32(b.xid);
}

fn encode_commit(w: &mut Writer, c: &Commit) {
    w.u8(b'C').u8(c.flags).u64(c.commit_lsn).u64(c.end_lsn).i64(c.commit_time_micros);
}

fn encode_relation(w: &mut Writer, rel: &Relation, streaming: bool) {
    let identity = match rel.replica_identity {
        ReplicaIdentity::Default => b'd',
        ReplicaIdentity::Nothing => b'n',
        ReplicaIdentity::Full => b'f',
        ReplicaIdentity::Index => b'i',
    };
    w.u8(b'R')
        .xid(rel.xid, streaming)
        .u32(rel.id)
        .cstr(&rel.namespace)
        .cstr(&rel.name)
        .u8(identity)
        .count16(rel.columns.len());
    for col in &rel.columns {
        w.u8(u8::from(col.is_key)).cstr(&col.name).u32(col.type_oid).i32(col.type_modifier);
    }
}

fn encode_update(
    w: &mut Writer,
    (xid, relation_id): (Option<u32>, u32),
    old: Option<&OldTuple>,
    new: &TupleData,
    streaming: bool,
) {
    w.u8(b'U').xid(xid, streaming).u32(relation_id);
    if let Some(old) = old {
        w.old_tuple(old);
    }
    w.u8(b'N').tuple(new);
}

fn encode_truncate(w: &mut Writer, xid: Option<u32>, options: TruncateOptions, relation_ids: &[u32], streaming: bool) {
    let bits = u8::from(options.cascade) | (u8::from(options.restart_identity) << 1);
    w.u8(b'T').xid(xid, streaming).len32(relation_ids.len()).u8(bits);
    for id in relation_ids {
        w.u32(*id);
    }
}

fn encode_message(w: &mut Writer, msg: &PgOutputMessage, streaming: bool) {
    if let PgOutputMessage::Message { xid, transactional, lsn, prefix, content } = msg {
        w.u8(b'M').xid(*xid, streaming).u8(u8::from(*transactional)).u64(*lsn).cstr(prefix).bytes32(content);
    }
}

/// Encodes the protocol version 2 stream control messages.
fn encode_stream(w: &mut Writer, msg: &PgOutputMessage) {
    match msg {
        PgOutputMessage::StreamStart { xid, first_segment } => {
            w.u8(b'S').u32(*xid).u8(u8::from(*first_segment));
        }
        PgOutputMessage::StreamStop => {
            w.u8(b'E');
        }
        PgOutputMessage::StreamCommit { xid, flags, commit_lsn, end_lsn, commit_time_micros } => {
            w.u8(b'c').u32(*xid).u8(*flags).u64(*commit_lsn);
            w.u64(*end_lsn).i64(*commit_time_micros);
        }
        PgOutputMessage::StreamAbort { xid, subxid, abort } => {
            w.u8(b'A').u32(*xid).u32(*subxid);
            if let Some(a) = abort {
                w.u64(a.abort_lsn).i64(a.abort_time_micros);
            }
        }
        _ => {}
    }
}

/// Big-endian writer used by [`encode`].
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn i32(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn xid(&mut self, xid: Option<u32>, streaming: bool) -> &mut Self {
        if streaming {
            self.u32(xid.unwrap_or(0));
        }
        self
    }

    fn count16(&mut self, n: usize) -> &mut Self {
        let n = u16::try_from(n).expect("more than 65535 columns cannot be encoded");
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    fn len32(&mut self, n: usize) -> &mut Self {
        let n = i32::try_from(n).expect("length exceeds i32::MAX");
        self.i32(n)
    }

    fn bytes32(&mut self, bytes: &[u8]) -> &mut Self {
        self.len32(bytes.len());
        self.0.extend_from_slice(bytes);
        self
    }

    fn cstr(&mut self, s: &str) -> &mut Self {
        assert!(!s.contains('\0'), "pgoutput strings cannot contain NUL");
        self.0.extend_from_slice(s.as_bytes());
        self.u8(0)
    }

    fn old_tuple(&mut self, old: &OldTuple) -> &mut Self {
        match old {
            OldTuple::Key(t) => self.u8(b'K').tuple(t),
            OldTuple::Full(t) => self.u8(b'O').tuple(t),
        }
    }

    fn tuple(&mut self, tuple: &TupleData) -> &mut Self {
        self.count16(tuple.0.len());
        for value in &tuple.0 {
            match value {
                TupleValue::Null => self.u8(b'n'),
                TupleValue::UnchangedToast => self.u8(b'u'),
                TupleValue::Text(s) => self.u8(b't').bytes32(s.as_bytes()),
                TupleValue::Binary(b) => self.u8(b'b').bytes32(b),
            };
        }
        self
    }
}

#[cfg(test)]
#[path = "pgoutput_tests.rs"]
mod tests;
