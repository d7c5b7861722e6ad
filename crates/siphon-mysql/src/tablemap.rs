//! `TABLE_MAP` events and the row images they describe, decoded from raw event bytes.
//!
//! A `TABLE_MAP` precedes the row events of every table in every transaction and describes the
//! table *as it was when those rows were written*. With `binlog_row_metadata = FULL` (MariaDB
//! 10.5+, MySQL 8.0.1+) its optional metadata carries column names, signedness, character sets,
//! ENUM/SET labels and the primary key, so a row event decodes with no catalog lookup at all.
//! Layout (MySQL `libbinlogevents/include/rows_event.h`, MariaDB `log_event.h`):
//!
//! ```text
//!   table_id u48 | flags u16 | db: u8 len, bytes, 0 | table: u8 len, bytes, 0 | ncols lenenc
//!   | types [ncols] | meta: lenenc len, bytes | null bitmap (ncols+7)/8 | optional metadata TLVs
//! ```
//!
//! Everything here is pure and never panics on malformed input (property-tested with random
//! bytes); values themselves are decoded by mysql_common's `BinlogValue`, given a type and a
//! metadata slice of the right length.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use mysql_common::binlog::value::BinlogValue;
use mysql_common::constants::ColumnType;
use mysql_common::io::ParseBuf;
use siphon_core::row::{Datum, Row};
use siphon_core::schema::{Column, TableName, TableSchema};

use crate::text::{canonical_binlog_value, pg_text, ValueError};
use crate::types::{Charset, ColumnKind};

/// A malformed or unusable event.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("event truncated reading {0}")]
    Truncated(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error("the TABLE_MAP of {0} carries no column names: binlog_row_metadata is not FULL when it was written")]
    NoMetadata(String),
}

type Result<T> = std::result::Result<T, DecodeError>;

/// A cursor over event bytes that fails instead of panicking.
pub struct Reader<'a> {
    pub buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated(what));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    pub(crate) fn uint_le(&mut self, n: usize, what: &'static str) -> Result<u64> {
        let b = self.take(n, what)?;
        Ok(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }
    pub(crate) fn lenenc(&mut self, what: &'static str) -> Result<u64> {
        match self.u8(what)? {
            x @ 0..=0xfa => Ok(u64::from(x)),
            0xfc => self.uint_le(2, what),
            0xfd => self.uint_le(3, what),
            0xfe => self.uint_le(8, what),
            _ => Err(DecodeError::Invalid(format!("bad length-encoded integer in {what}"))),
        }
    }
    pub(crate) fn lenenc_bytes(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let n = self.lenenc(what)?;
        let n = usize::try_from(n).map_err(|_| DecodeError::Truncated(what))?;
        self.take(n, what)
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// One column as a `TABLE_MAP` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinlogColumn {
    pub name: String,
    /// The type code of the TABLE_MAP (`MYSQL_TYPE_STRING` for ENUM/SET/CHAR/BINARY).
    pub raw_type: u8,
    /// The real type (ENUM/SET resolved; `DATE` is `NEWDATE`).
    pub real_type: u8,
    pub meta: Vec<u8>,
    pub unsigned: bool,
    /// Collation id, for character, ENUM and SET columns.
    pub collation: Option<u16>,
    pub labels: Vec<Vec<u8>>,
    pub is_key: bool,
    pub nullable: bool,
}

/// A decoded `TABLE_MAP` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableMap {
    pub table_id: u64,
    pub database: String,
    pub table: String,
    pub columns: Vec<BinlogColumn>,
    /// Whether the optional metadata named every column (`binlog_row_metadata = FULL`).
    pub full_metadata: bool,
}

const T_DECIMAL: u8 = 0;
const T_TINY: u8 = 1;
const T_SHORT: u8 = 2;
const T_LONG: u8 = 3;
const T_FLOAT: u8 = 4;
const T_DOUBLE: u8 = 5;
const T_TIMESTAMP: u8 = 7;
const T_LONGLONG: u8 = 8;
const T_INT24: u8 = 9;
const T_DATE: u8 = 10;
const T_TIME: u8 = 11;
const T_DATETIME: u8 = 12;
const T_YEAR: u8 = 13;
const T_NEWDATE: u8 = 14;
const T_VARCHAR: u8 = 15;
const T_BIT: u8 = 16;
const T_TIMESTAMP2: u8 = 17;
const T_DATETIME2: u8 = 18;
const T_TIME2: u8 = 19;
const T_VECTOR: u8 = 242;
const T_JSON: u8 = 245;
const T_NEWDECIMAL: u8 = 246;
const T_ENUM: u8 = 247;
const T_SET: u8 = 248;
const T_TINY_BLOB: u8 = 249;
const T_MEDIUM_BLOB: u8 = 250;
const T_LONG_BLOB: u8 = 251;
const T_BLOB: u8 = 252;
const T_VAR_STRING: u8 = 253;
const T_STRING: u8 = 254;
const T_GEOMETRY: u8 = 255;

/// Bytes of type metadata a column of `raw_type` has in a TABLE_MAP.
fn meta_len(raw_type: u8) -> Result<usize> {
    Ok(match raw_type {
        T_TINY_BLOB | T_BLOB | T_MEDIUM_BLOB | T_LONG_BLOB | T_DOUBLE | T_FLOAT | T_GEOMETRY | T_TIME2
        | T_DATETIME2 | T_TIMESTAMP2 | T_JSON | T_VECTOR => 1,
        T_VARCHAR | T_NEWDECIMAL | T_SET | T_ENUM | T_STRING | T_BIT => 2,
        T_DECIMAL | T_TINY | T_SHORT | T_LONG | 6 | T_TIMESTAMP | T_LONGLONG | T_INT24 | T_DATE | T_TIME
        | T_DATETIME | T_YEAR | T_NEWDATE | T_VAR_STRING => 0,
        other => return Err(DecodeError::Invalid(format!("unknown column type {other}"))),
    })
}

/// Bytes of type metadata mysql_common's value parser reads for `raw_type` (see `decode_row`).
fn value_meta_needed(raw_type: u8) -> usize {
    match raw_type {
        T_STRING | T_BIT | T_NEWDECIMAL | T_ENUM | T_SET | T_VARCHAR | T_VAR_STRING => 2,
        T_TIMESTAMP2 | T_DATETIME2 | T_TIME2 | T_TINY_BLOB | T_MEDIUM_BLOB | T_LONG_BLOB | T_BLOB | T_GEOMETRY
        | T_VECTOR | T_JSON => 1,
        _ => 0,
    }
}

fn is_numeric(t: u8) -> bool {
    matches!(t, T_TINY | T_SHORT | T_INT24 | T_LONG | T_LONGLONG | T_NEWDECIMAL | T_FLOAT | T_DOUBLE | T_DECIMAL)
}

fn is_character(real: u8) -> bool {
    matches!(real, T_STRING | T_VAR_STRING | T_VARCHAR | T_BLOB | T_TINY_BLOB | T_MEDIUM_BLOB | T_LONG_BLOB)
}

/// How many numeric columns the SIGNEDNESS bitmap covers. MySQL counts the types of
/// [`is_numeric`]; a server that also counts `YEAR` writes a bitmap sized for that, which
/// [`TableMap::parse`] detects from the bitmap's length when it differs.
fn signedness_targets(columns: &[BinlogColumn], with_year: bool) -> Vec<usize> {
    (0..columns.len())
        .filter(|&i| is_numeric(columns[i].raw_type) || (with_year && columns[i].raw_type == T_YEAR))
        .collect()
}

impl TableMap {
    /// Decodes a TABLE_MAP event body (checksum already removed). `post_header_len` is the
    /// FORMAT_DESCRIPTION's post-header length for TABLE_MAP (8 since MySQL 5.6 / MariaDB 10).
    pub fn parse(body: &[u8], post_header_len: u8) -> Result<TableMap> {
        let mut r = Reader::new(body);
        let table_id = if post_header_len == 6 { r.uint_le(4, "table id")? } else { r.uint_le(6, "table id")? };
        r.take(usize::from(post_header_len.saturating_sub(if post_header_len == 6 { 4 } else { 6 })), "flags")?;
        let db_len = r.u8("database name")?;
        let database = String::from_utf8_lossy(r.take(usize::from(db_len), "database name")?).into_owned();
        r.take(1, "database name")?;
        let t_len = r.u8("table name")?;
        let table = String::from_utf8_lossy(r.take(usize::from(t_len), "table name")?).into_owned();
        r.take(1, "table name")?;
        let ncols = usize::try_from(r.lenenc("column count")?).map_err(|_| DecodeError::Truncated("columns"))?;
        if ncols > 4096 {
            return Err(DecodeError::Invalid(format!("{ncols} columns")));
        }
        let types = r.take(ncols, "column types")?.to_vec();
        let mut meta = Reader::new(r.lenenc_bytes("column metadata")?);
        let nulls = r.take(ncols.div_ceil(8), "null bitmap")?;
        let mut columns = Vec::with_capacity(ncols);
        for (i, &t) in types.iter().enumerate() {
            let m = meta.take(meta_len(t)?, "column metadata")?.to_vec();
            let real_type = match t {
                T_STRING if m.first().is_some_and(|&f| f != 0) => m[0] | 0x30,
                T_DATE => T_NEWDATE,
                t => t,
            };
            if t == T_STRING && ![T_STRING, T_ENUM, T_SET].contains(&real_type) {
                return Err(DecodeError::Invalid(format!("unexpected real type {real_type}")));
            }
            columns.push(BinlogColumn {
                name: String::new(),
                raw_type: t,
                real_type,
                meta: m,
                unsigned: false,
                collation: None,
                labels: Vec::new(),
                is_key: false,
                nullable: nulls[i / 8] & (1 << (i % 8)) != 0,
            });
        }
        let mut map = TableMap { table_id, database, table, columns, full_metadata: false };
        map.apply_optional_metadata(r.buf)?;
        Ok(map)
    }

    fn apply_optional_metadata(&mut self, data: &[u8]) -> Result<()> {
        let mut r = Reader::new(data);
        let mut names = Vec::new();
        let (mut enum_labels, mut set_labels) = (Vec::new(), Vec::new());
        let (mut charsets, mut enum_set_charsets) = (None, None);
        let mut keys = BTreeSet::new();
        while !r.is_empty() {
            let field = r.u8("optional metadata type")?;
            let mut v = Reader::new(r.lenenc_bytes("optional metadata value")?);
            match field {
                1 => self.apply_signedness(v.buf)?,
                2 | 3 => charsets = Some((field, v.buf.to_vec())),
                10 | 11 => enum_set_charsets = Some((field, v.buf.to_vec())),
                4 => {
                    while !v.is_empty() {
                        names.push(String::from_utf8_lossy(v.lenenc_bytes("column name")?).into_owned());
                    }
                }
                5 | 6 => {
                    let mut all = Vec::new();
                    while !v.is_empty() {
                        let n = v.lenenc("label count")?;
                        let mut labels = Vec::new();
                        for _ in 0..n.min(65_536) {
                            labels.push(v.lenenc_bytes("label")?.to_vec());
                        }
                        all.push(labels);
                    }
                    if field == 5 {
                        set_labels = all;
                    } else {
                        enum_labels = all;
                    }
                }
                8 => {
                    while !v.is_empty() {
                        keys.insert(v.lenenc("primary key column")?);
                    }
                }
                9 => {
                    while !v.is_empty() {
                        keys.insert(v.lenenc("primary key column")?);
                        v.lenenc("primary key prefix")?;
                    }
                }
                _ => {} // geometry types, visibility, vector dimensions: not needed
            }
        }
        if names.len() != self.columns.len() {
            return Ok(()); // binlog_row_metadata = MINIMAL: DecodedTable::new refuses it
        }
        self.full_metadata = true;
        let char_cols: Vec<usize> =
            (0..self.columns.len()).filter(|&i| is_character(self.columns[i].real_type)).collect();
        let es_cols: Vec<usize> =
            (0..self.columns.len()).filter(|&i| matches!(self.columns[i].real_type, T_ENUM | T_SET)).collect();
        if let Some((field, bytes)) = charsets {
            self.apply_charsets(field == 2, &bytes, &char_cols)?;
        }
        if let Some((field, bytes)) = enum_set_charsets {
            self.apply_charsets(field == 10, &bytes, &es_cols)?;
        }
        let (mut e, mut s) = (enum_labels.into_iter(), set_labels.into_iter());
        for (col, name) in self.columns.iter_mut().zip(names) {
            col.name = name;
            col.labels = match col.real_type {
                T_ENUM => e.next().unwrap_or_default(),
                T_SET => s.next().unwrap_or_default(),
                _ => Vec::new(),
            };
        }
        for k in keys {
            if let Some(c) = usize::try_from(k).ok().and_then(|k| self.columns.get_mut(k)) {
                c.is_key = true;
            }
        }
        Ok(())
    }

    fn apply_signedness(&mut self, bitmap: &[u8]) -> Result<()> {
        let mysql = signedness_targets(&self.columns, false);
        let with_year = signedness_targets(&self.columns, true);
        let targets = if bitmap.len() == mysql.len().div_ceil(8) { mysql } else { with_year };
        for (n, &i) in targets.iter().enumerate() {
            let byte = bitmap.get(n / 8).ok_or(DecodeError::Truncated("signedness"))?;
            self.columns[i].unsigned = byte & (0x80 >> (n % 8)) != 0;
        }
        Ok(())
    }

    /// DEFAULT_CHARSET (`default` true: a default collation, then `(index, collation)` pairs for
    /// the exceptions) or COLUMN_CHARSET (one collation per column in `targets`).
    fn apply_charsets(&mut self, default: bool, bytes: &[u8], targets: &[usize]) -> Result<()> {
        let mut v = Reader::new(bytes);
        if default {
            let d = v.lenenc("default charset")? as u16;
            for &i in targets {
                self.columns[i].collation = Some(d);
            }
            while !v.is_empty() {
                let idx = v.lenenc("charset column")?;
                let coll = v.lenenc("charset")? as u16;
                if let Some(&i) = usize::try_from(idx).ok().and_then(|x| targets.get(x)) {
                    self.columns[i].collation = Some(coll);
                }
            }
        } else {
            for &i in targets {
                if v.is_empty() {
                    break;
                }
                self.columns[i].collation = Some(v.lenenc("column charset")? as u16);
            }
        }
        Ok(())
    }
}

/// A collation's character set and its bytes per character at most, by collation id (from
/// `information_schema.COLLATIONS` and `CHARACTER_SETS`).
pub type Collations = HashMap<u16, (String, u32)>;

impl BinlogColumn {
    /// This column's kind. Lengths in the metadata are bytes; `collations` turns them into
    /// characters.
    pub fn kind(&self, collations: &Collations) -> std::result::Result<ColumnKind, String> {
        let m = |i: usize| self.meta.get(i).copied().unwrap_or(0);
        let (charset, maxlen) = match self.collation.and_then(|c| collations.get(&c)) {
            Some((name, maxlen)) => (Charset::from_name(name), (*maxlen).max(1)),
            None if self.collation == Some(63) => (Charset::Binary, 1),
            None => match self.collation {
                Some(c) => return Err(format!("unknown collation id {c} of column {}", self.name)),
                None => (Charset::Binary, 1),
            },
        };
        Ok(match self.real_type {
            T_TINY => ColumnKind::Int { bytes: 1, unsigned: self.unsigned },
            T_SHORT => ColumnKind::Int { bytes: 2, unsigned: self.unsigned },
            T_INT24 => ColumnKind::Int { bytes: 3, unsigned: self.unsigned },
            T_LONG => ColumnKind::Int { bytes: 4, unsigned: self.unsigned },
            T_LONGLONG => ColumnKind::Int { bytes: 8, unsigned: self.unsigned },
            T_YEAR => ColumnKind::Year,
            T_NEWDECIMAL => ColumnKind::Decimal { precision: m(0), scale: m(1) },
            T_FLOAT => ColumnKind::Float,
            T_DOUBLE => ColumnKind::Double,
            T_NEWDATE => ColumnKind::Date,
            T_DATETIME => ColumnKind::DateTime { fsp: 0 },
            T_DATETIME2 => ColumnKind::DateTime { fsp: m(0).min(6) },
            T_TIMESTAMP => ColumnKind::Timestamp { fsp: 0 },
            T_TIMESTAMP2 => ColumnKind::Timestamp { fsp: m(0).min(6) },
            T_TIME => ColumnKind::Time { fsp: 0 },
            T_TIME2 => ColumnKind::Time { fsp: m(0).min(6) },
            T_VARCHAR | T_VAR_STRING => {
                let bytes = u32::from(u16::from_le_bytes([m(0), m(1)]));
                match charset {
                    Charset::Binary => ColumnKind::Blob,
                    charset => ColumnKind::VarChar { chars: bytes / maxlen, charset },
                }
            }
            T_STRING => {
                let (b0, b1) = (u32::from(m(0)), u32::from(m(1)));
                let bytes = if b0 & 0x30 != 0x30 { b1 | (((b0 & 0x30) ^ 0x30) << 4) } else { b1 };
                match charset {
                    Charset::Binary => ColumnKind::Binary { bytes },
                    charset => ColumnKind::Char { chars: bytes / maxlen, charset },
                }
            }
            T_ENUM => ColumnKind::Enum { labels: self.labels.clone(), charset },
            T_SET => ColumnKind::Set { labels: self.labels.clone(), charset },
            T_BLOB | T_TINY_BLOB | T_MEDIUM_BLOB | T_LONG_BLOB => match charset {
                Charset::Binary => ColumnKind::Blob,
                charset => ColumnKind::Text { charset },
            },
            T_BIT => ColumnKind::Bit { bits: u16::from(m(1)) * 8 + u16::from(m(0)) },
            T_JSON => ColumnKind::Json,
            T_GEOMETRY => ColumnKind::Geometry,
            other => return Err(format!("unsupported column type code {other} of column {}", self.name)),
        })
    }
}

/// A table map with what the stream derived from it.
#[derive(Clone, Debug)]
pub struct DecodedTable {
    pub map: TableMap,
    pub kinds: Vec<ColumnKind>,
    pub schema: Arc<TableSchema>,
}

impl DecodedTable {
    pub fn new(map: TableMap, collations: &Collations) -> std::result::Result<Self, String> {
        if !map.full_metadata {
            return Err(DecodeError::NoMetadata(format!("{}.{}", map.database, map.table)).to_string());
        }
        let kinds = map.columns.iter().map(|c| c.kind(collations)).collect::<std::result::Result<Vec<_>, _>>()?;
        let schema = Arc::new(TableSchema {
            name: TableName::new(map.database.clone(), map.table.clone()),
            columns: map
                .columns
                .iter()
                .zip(&kinds)
                .map(|(c, k)| Column {
                    name: c.name.clone(),
                    source_type: k.source_type(),
                    is_key: c.is_key,
                    nullable: c.nullable,
                })
                .collect(),
        });
        Ok(DecodedTable { map, kinds, schema })
    }
}

/// Why a row image could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("column {column}: {error}")]
    Value { column: String, error: ValueError },
}

/// Decodes one row image at the start of `r` (null bitmap, then each present non-null value),
/// given the bitmap of columns present. Every column must be present (`binlog_row_image=FULL`).
pub fn decode_row(r: &mut Reader<'_>, t: &DecodedTable, present: &[bool]) -> std::result::Result<Row, RowError> {
    let n = t.map.columns.len();
    if present.len() < n || present.iter().take(n).any(|p| !p) {
        return Err(DecodeError::Invalid(
            "a row image lacks columns: binlog_row_image is not FULL when it was written".into(),
        )
        .into());
    }
    let nulls = r.take(n.div_ceil(8), "row null bitmap")?;
    let mut row = Vec::with_capacity(n);
    for (i, (col, kind)) in t.map.columns.iter().zip(&t.kinds).enumerate() {
        if nulls[i / 8] & (1 << (i % 8)) != 0 {
            row.push(Datum::Null);
            continue;
        }
        let value_type = col.real_type;
        let ct = ColumnType::try_from(value_type)
            .map_err(|_| DecodeError::Invalid(format!("unknown column type {value_type}")))?;
        // mysql_common 0.37 gets these two wrong (no sign extension of MEDIUMINT; TIME(n)
        // underflows when negative with a fraction): decoded here.
        let own = match value_type {
            T_TIME2 => {
                let dec = col.meta.first().copied().unwrap_or(0).min(6);
                Some(time2_value(r.take(3 + usize::from(dec).div_ceil(2), "TIME value")?, dec))
            }
            // An empty JSON value (INSERT IGNORE / non-strict mode stored NULL into a NOT NULL
            // column) is the JSON null literal (MySQL `json_binary::parse_binary`); mysql_common
            // refuses it.
            T_JSON if r.buf.len() >= 4 && r.buf[..4] == [0, 0, 0, 0] => {
                r.take(4, "JSON length")?;
                Some(mysql_common::value::Value::Bytes(b"null".to_vec()))
            }
            T_INT24 => {
                let b = r.take(3, "MEDIUMINT value")?;
                let u = i64::from(b[0]) | (i64::from(b[1]) << 8) | (i64::from(b[2]) << 16);
                let v = if !col.unsigned && u & 0x80_0000 != 0 { u - 0x100_0000 } else { u };
                Some(mysql_common::value::Value::Int(v))
            }
            _ => None,
        };
        if let Some(value) = own {
            let value = mysql_common::binlog::value::BinlogValue::Value(value);
            let canonical = canonical_binlog_value(kind, value)
                .map_err(|error| RowError::Value { column: col.name.clone(), error })?;
            let text =
                pg_text(kind, &canonical).map_err(|error| RowError::Value { column: col.name.clone(), error })?;
            row.push(Datum::from(text));
            continue;
        }
        // mysql_common indexes the type metadata without checking its length (and expects two
        // bytes for VAR_STRING, whose TABLE_MAP entry has none): a short one would panic there.
        if col.meta.len() < value_meta_needed(value_type) {
            return Err(DecodeError::Invalid(format!(
                "column {}: type {value_type} has {} bytes of metadata in its TABLE_MAP, its values need {}",
                col.name,
                col.meta.len(),
                value_meta_needed(value_type)
            ))
            .into());
        }
        let mut pb = ParseBuf(r.buf);
        let value = pb
            .parse::<BinlogValue<'_>>((ct, col.meta.as_slice(), col.unsigned, false))
            .map_err(|e| DecodeError::Invalid(format!("column {}: {e}", col.name)))?;
        let consumed = r.buf.len() - pb.0.len();
        let canonical =
            canonical_binlog_value(kind, value).map_err(|error| RowError::Value { column: col.name.clone(), error })?;
        r.take(consumed, "row value")?;
        let text = pg_text(kind, &canonical).map_err(|error| RowError::Value { column: col.name.clone(), error })?;
        row.push(Datum::from(text));
    }
    Ok(row)
}

/// A `TIME(dec)` value in the binlog's TIME2 layout (MySQL `my_time_packed_from_binary`):
/// 3 big-endian bytes of `hours<<12 | minutes<<6 | seconds` offset by 0x800000, then
/// `ceil(dec/2)` bytes of fraction; negative times are stored as the offset's complement.
/// (mysql_common 0.37's decoder underflows on negative times with a fraction.)
fn time2_value(b: &[u8], dec: u8) -> mysql_common::value::Value {
    const INT_OFS: i64 = 0x80_0000;
    let be = |s: &[u8]| s.iter().fold(0i64, |acc, &x| (acc << 8) | i64::from(x));
    let mut int = be(&b[..3]) - INT_OFS;
    let frac_bytes = &b[3..];
    let packed = match dec {
        1 | 2 => {
            let mut frac = i64::from(frac_bytes[0]);
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x100;
            }
            (int << 24) + frac * 10_000
        }
        3 | 4 => {
            let mut frac = be(frac_bytes);
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x1_0000;
            }
            (int << 24) + frac * 100
        }
        5 | 6 => be(&b[..6]) - 0x8000_0000_0000,
        _ => int << 24,
    };
    let (neg, tmp) = if packed < 0 { (true, -packed) } else { (false, packed) };
    let hms = tmp >> 24;
    let hours = ((hms >> 12) % (1 << 10)) as u32;
    let us = (tmp % (1 << 24)) as u32;
    mysql_common::value::Value::Time(neg, hours / 24, (hours % 24) as u8, ((hms >> 6) % 64) as u8, (hms % 64) as u8, us)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn time2_layout() {
        use mysql_common::value::Value;
        // -00:00:01.5 as TIME(2): intpart -2 (0x7FFFFE) and fraction 0x100 - 50.
        assert_eq!(time2_value(&[0x7F, 0xFF, 0xFE, 0xCE], 2), Value::Time(true, 0, 0, 0, 1, 500_000));
        // 838:59:59 as TIME(0).
        let v = (838i64 << 12) | (59 << 6) | 59;
        let b = (v + 0x80_0000).to_be_bytes();
        assert_eq!(time2_value(&b[5..8], 0), Value::Time(false, 34, 22, 59, 59, 0));
        // -838:59:59.
        let b = (0x80_0000 - v).to_be_bytes();
        assert_eq!(time2_value(&b[5..8], 0), Value::Time(true, 34, 22, 59, 59, 0));
    }

    /// A TABLE_MAP for `db.t (id INT UNSIGNED PK, name VARCHAR(10) utf8mb4, e ENUM('x','y'))`.
    pub(crate) fn sample_table_map() -> Vec<u8> {
        sample_table_map_with(true)
    }

    fn sample_table_map_with(full: bool) -> Vec<u8> {
        let mut b = vec![1, 0, 0, 0, 0, 0, 1, 0]; // table id 1, flags
        b.extend([2, b'd', b'b', 0, 1, b't', 0]);
        b.push(3); // columns
        b.extend([T_LONG, T_VARCHAR, T_STRING]);
        b.extend([4, 40, 0, T_ENUM, 1]); // metadata: varchar max 40 bytes; enum pack length 1
        b.push(0b110); // name, e nullable
        if !full {
            return b;
        }
        let tlv = |b: &mut Vec<u8>, t: u8, v: &[u8]| {
            b.push(t);
            b.push(v.len() as u8);
            b.extend_from_slice(v);
        };
        tlv(&mut b, 1, &[0b1000_0000]); // id unsigned
        tlv(&mut b, 2, &[45]); // default charset utf8mb4_general_ci
        tlv(&mut b, 4, &[2, b'i', b'd', 4, b'n', b'a', b'm', b'e', 1, b'e']);
        tlv(&mut b, 6, &[2, 1, b'x', 1, b'y']);
        tlv(&mut b, 10, &[45]);
        tlv(&mut b, 8, &[0]);
        b
    }

    pub(crate) fn collations() -> Collations {
        HashMap::from([
            (45, ("utf8mb4".to_string(), 4)),
            (8, ("latin1".to_string(), 1)),
            (63, ("binary".to_string(), 1)),
        ])
    }

    #[test]
    fn decodes_full_metadata() {
        let map = TableMap::parse(&sample_table_map(), 8).unwrap();
        assert_eq!((map.table_id, map.database.as_str(), map.table.as_str()), (1, "db", "t"));
        let names: Vec<_> = map.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "name", "e"]);
        assert!(map.columns[0].unsigned && map.columns[0].is_key && !map.columns[0].nullable);
        assert_eq!(map.columns[2].labels, vec![b"x".to_vec(), b"y".to_vec()]);
        let t = DecodedTable::new(map, &collations()).unwrap();
        let types: Vec<_> = t.schema.columns.iter().map(|c| c.source_type.name.as_str()).collect();
        assert_eq!(types, ["bigint", "character varying(10)", "text"]);
        // A row: id=7, name='hé', e='y'.
        let row = [0b000, 7, 0, 0, 0, 3, b'h', 0xc3, 0xa9, 2];
        let got = decode_row(&mut Reader::new(&row), &t, &[true; 3]).unwrap();
        assert_eq!(got, vec![Datum::Text("7".into()), Datum::Text("hé".into()), Datum::Text("y".into())]);
    }

    #[test]
    fn missing_names_mean_minimal_metadata() {
        let map = TableMap::parse(&sample_table_map_with(false), 8).unwrap();
        assert!(!map.full_metadata);
        assert!(DecodedTable::new(map, &collations()).unwrap_err().contains("binlog_row_metadata"));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = TableMap::parse(&bytes, 8);
            let _ = TableMap::parse(&bytes, 6);
        }

        #[test]
        fn mutated_table_maps_never_panic(pos in 0usize..80, byte: u8, row in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut b = sample_table_map();
            let p = pos % b.len();
            b[p] = byte;
            if let Ok(map) = TableMap::parse(&b, 8) {
                if let Ok(t) = DecodedTable::new(map, &collations()) {
                    let _ = decode_row(&mut Reader::new(&row), &t, &[true; 64]);
                }
            }
        }
    }
}
