//! MySQL/MariaDB column types, and the PostgreSQL type each becomes.
//!
//! A [`ColumnKind`] is what siphon needs to know about a column to name its PostgreSQL type and
//! to print its values. It is built from two places that must agree: the binlog's `TABLE_MAP`
//! event (type code, type metadata, signedness and character set from `binlog_row_metadata =
//! FULL`), and `information_schema.COLUMNS` (for the snapshot and the catalog). Both describe the
//! same stored type, so a table's schema from the catalog equals the schema the first `TABLE_MAP`
//! yields; the stream test checks it.
//!
//! The map (docs/mysql.md has the full table with the reasons):
//!
//! | MySQL / MariaDB                         | PostgreSQL                          |
//! |-----------------------------------------|-------------------------------------|
//! | TINYINT, TINYINT UNSIGNED, SMALLINT, YEAR | smallint                          |
//! | SMALLINT UNSIGNED, MEDIUMINT [UNSIGNED], INT | integer                        |
//! | INT UNSIGNED, BIGINT                    | bigint                              |
//! | BIGINT UNSIGNED                         | numeric(20,0)                       |
//! | DECIMAL(p,s)                            | numeric(p,s)                        |
//! | FLOAT / DOUBLE                          | real / double precision             |
//! | DATE / DATETIME(n) / TIMESTAMP(n)       | date / timestamp(n) without time zone / timestamp(n) with time zone |
//! | TIME(n)                                 | interval                            |
//! | CHAR(n) / VARCHAR(n) / *TEXT (and MariaDB JSON) | character varying(n) / character varying(n) / text |
//! | BINARY(n), VARBINARY(n), *BLOB, GEOMETRY | bytea                              |
//! | ENUM, SET                               | text                                |
//! | BIT(n)                                  | bit(n)                              |
//! | JSON (MySQL 8)                          | json                                |

use siphon_core::schema::SourceType;

/// A character set, as far as decoding values goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Charset {
    /// `utf8mb4`, `utf8mb3` (`utf8`): UTF-8.
    Utf8,
    /// MySQL's `latin1`: Windows-1252, with its five unassigned bytes mapped to the C1 controls.
    Latin1,
    Ascii,
    /// `ucs2`, `utf16`: UTF-16 big-endian. `utf16le`: little-endian. `utf32`: UTF-32 big-endian.
    Utf16Be,
    Utf16Le,
    Utf32Be,
    /// `binary`: bytes, not characters.
    Binary,
    /// Any other character set (its name): its text columns cannot be decoded.
    Unsupported(String),
}

impl Charset {
    pub fn from_name(name: &str) -> Charset {
        match name.to_ascii_lowercase().as_str() {
            "utf8mb4" | "utf8mb3" | "utf8" => Charset::Utf8,
            "latin1" => Charset::Latin1,
            "ascii" => Charset::Ascii,
            "ucs2" | "utf16" => Charset::Utf16Be,
            "utf16le" => Charset::Utf16Le,
            "utf32" => Charset::Utf32Be,
            "binary" => Charset::Binary,
            other => Charset::Unsupported(other.to_string()),
        }
    }
}

/// What siphon knows about a column's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// An integer of `bytes` bytes (1, 2, 3, 4 or 8).
    Int {
        bytes: u8,
        unsigned: bool,
    },
    Year,
    Decimal {
        precision: u8,
        scale: u8,
    },
    Float,
    Double,
    Date,
    DateTime {
        fsp: u8,
    },
    Timestamp {
        fsp: u8,
    },
    Time {
        fsp: u8,
    },
    /// `CHAR(n)`: `chars` characters, blank-padded.
    Char {
        chars: u32,
        charset: Charset,
    },
    VarChar {
        chars: u32,
        charset: Charset,
    },
    /// `TINYTEXT` .. `LONGTEXT` (MariaDB's `JSON` is a `LONGTEXT`).
    Text {
        charset: Charset,
    },
    /// `BINARY(n)`: `bytes` bytes, zero-padded.
    Binary {
        bytes: u32,
    },
    /// `VARBINARY(n)`, `TINYBLOB` .. `LONGBLOB`.
    Blob,
    Enum {
        labels: Vec<Vec<u8>>,
        charset: Charset,
    },
    Set {
        labels: Vec<Vec<u8>>,
        charset: Charset,
    },
    Bit {
        bits: u16,
    },
    /// MySQL 8's binary JSON.
    Json,
    /// Any spatial type: MySQL's internal form (4-byte SRID, then WKB).
    Geometry,
}

// PostgreSQL type OIDs.
const INT2: u32 = 21;
const INT4: u32 = 23;
const INT8: u32 = 20;
const NUMERIC: u32 = 1700;
const FLOAT4: u32 = 700;
const FLOAT8: u32 = 701;
const DATE: u32 = 1082;
const TIMESTAMP: u32 = 1114;
const TIMESTAMPTZ: u32 = 1184;
const INTERVAL: u32 = 1186;
const TEXT: u32 = 25;
const VARCHAR: u32 = 1043;
const BYTEA: u32 = 17;
const JSON: u32 = 114;
const BIT: u32 = 1560;

fn pg(oid: u32, modifier: i32, name: impl Into<String>) -> SourceType {
    SourceType { oid, modifier, name: name.into(), base: None }
}

fn numeric(p: u32, s: u32) -> SourceType {
    pg(NUMERIC, (((p << 16) | s) + 4) as i32, format!("numeric({p},{s})"))
}

impl ColumnKind {
    /// The PostgreSQL type that holds every value of this type (oid, `atttypmod`, and the name
    /// `format_type` prints).
    pub fn source_type(&self) -> SourceType {
        use ColumnKind::*;
        match self {
            Int { bytes: 1, .. } | Int { bytes: 2, unsigned: false } | Year => pg(INT2, -1, "smallint"),
            Int { bytes: 2 | 3, .. } | Int { bytes: 4, unsigned: false } => pg(INT4, -1, "integer"),
            Int { bytes: 4, .. } | Int { unsigned: false, .. } => pg(INT8, -1, "bigint"),
            Int { .. } => numeric(20, 0),
            Decimal { precision, scale } => numeric(u32::from(*precision), u32::from(*scale)),
            Float => pg(FLOAT4, -1, "real"),
            Double => pg(FLOAT8, -1, "double precision"),
            ColumnKind::Date => pg(DATE, -1, "date"),
            DateTime { fsp } => pg(TIMESTAMP, i32::from(*fsp), format!("timestamp({fsp}) without time zone")),
            Timestamp { fsp } => pg(TIMESTAMPTZ, i32::from(*fsp), format!("timestamp({fsp}) with time zone")),
            Time { .. } => pg(INTERVAL, -1, "interval"),
            // MySQL returns CHAR values without their padding: a varchar, not a bpchar.
            Char { chars, .. } | VarChar { chars, .. } => {
                pg(VARCHAR, *chars as i32 + 4, format!("character varying({chars})"))
            }
            Text { .. } | Enum { .. } | Set { .. } => pg(TEXT, -1, "text"),
            Binary { .. } | Blob | Geometry => pg(BYTEA, -1, "bytea"),
            Bit { bits } => pg(BIT, i32::from(*bits), format!("bit({bits})")),
            Json => pg(JSON, -1, "json"),
        }
    }

    /// Parses a column of `information_schema.COLUMNS`: `DATA_TYPE`, `COLUMN_TYPE` (for
    /// `unsigned` and ENUM/SET labels), `CHARACTER_MAXIMUM_LENGTH` (characters; bytes for binary
    /// strings), `NUMERIC_PRECISION`, `NUMERIC_SCALE`, `DATETIME_PRECISION` and
    /// `CHARACTER_SET_NAME`.
    pub fn from_catalog(c: &CatalogColumn) -> Result<ColumnKind, String> {
        use ColumnKind::*;
        let unsigned = c.column_type.to_ascii_lowercase().contains("unsigned");
        let charset = || Charset::from_name(c.charset.as_deref().unwrap_or("binary"));
        let fsp = c.datetime_precision.unwrap_or(0).min(6) as u8;
        let len = c.char_max_length.unwrap_or(0).min(u64::from(u32::MAX)) as u32;
        Ok(match c.data_type.to_ascii_lowercase().as_str() {
            "tinyint" => Int { bytes: 1, unsigned },
            "smallint" => Int { bytes: 2, unsigned },
            "mediumint" => Int { bytes: 3, unsigned },
            "int" | "integer" => Int { bytes: 4, unsigned },
            "bigint" => Int { bytes: 8, unsigned },
            "year" => Year,
            "decimal" | "numeric" => Decimal {
                precision: c.numeric_precision.unwrap_or(10) as u8,
                scale: c.numeric_scale.unwrap_or(0) as u8,
            },
            "float" => Float,
            "double" | "real" => Double,
            "date" => ColumnKind::Date,
            "datetime" => DateTime { fsp },
            "timestamp" => Timestamp { fsp },
            "time" => Time { fsp },
            "char" => Char { chars: len, charset: charset() },
            "varchar" => VarChar { chars: len, charset: charset() },
            "tinytext" | "text" | "mediumtext" | "longtext" => Text { charset: charset() },
            "binary" => Binary { bytes: len },
            "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => Blob,
            "enum" => Enum { labels: parse_labels(&c.column_type)?, charset: charset() },
            "set" => Set { labels: parse_labels(&c.column_type)?, charset: charset() },
            "bit" => Bit { bits: c.numeric_precision.unwrap_or(1) as u16 },
            "json" if c.charset.is_none() => Json,
            "json" => Text { charset: charset() },
            "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon"
            | "geometrycollection" | "geomcollection" => Geometry,
            other => return Err(format!("unsupported column type {other}")),
        })
    }
}

/// One row of `information_schema.COLUMNS`, as [`ColumnKind::from_catalog`] reads it.
#[derive(Clone, Debug, Default)]
pub struct CatalogColumn {
    pub data_type: String,
    pub column_type: String,
    pub char_max_length: Option<u64>,
    pub numeric_precision: Option<u64>,
    pub numeric_scale: Option<u64>,
    pub datetime_precision: Option<u64>,
    pub charset: Option<String>,
}

/// The labels of `enum('a','b''c')` / `set(...)` as bytes (the catalog holds them in UTF-8;
/// they are re-encoded to the column's character set by the caller when needed).
fn parse_labels(column_type: &str) -> Result<Vec<Vec<u8>>, String> {
    let bad = || format!("cannot parse the labels of {column_type}");
    let open = column_type.find('(').ok_or_else(bad)?;
    let inner = column_type[open + 1..].strip_suffix(')').ok_or_else(bad)?;
    let mut labels = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        match chars.next() {
            None => break,
            Some('\'') => {}
            Some(_) => return Err(bad()),
        }
        let mut label = String::new();
        loop {
            match chars.next().ok_or_else(bad)? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    label.push('\'');
                }
                '\'' => break,
                '\\' => label.push(chars.next().ok_or_else(bad)?),
                ch => label.push(ch),
            }
        }
        labels.push(label.into_bytes());
        match chars.next() {
            None => break,
            Some(',') => {}
            Some(_) => return Err(bad()),
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_map_names_and_modifiers() {
        let cases: Vec<(ColumnKind, u32, i32, &str)> = vec![
            (ColumnKind::Int { bytes: 1, unsigned: true }, 21, -1, "smallint"),
            (ColumnKind::Int { bytes: 2, unsigned: true }, 23, -1, "integer"),
            (ColumnKind::Int { bytes: 3, unsigned: true }, 23, -1, "integer"),
            (ColumnKind::Int { bytes: 4, unsigned: true }, 20, -1, "bigint"),
            (ColumnKind::Int { bytes: 8, unsigned: false }, 20, -1, "bigint"),
            (ColumnKind::Int { bytes: 8, unsigned: true }, 1700, (20 << 16) + 4, "numeric(20,0)"),
            (ColumnKind::Decimal { precision: 65, scale: 30 }, 1700, ((65 << 16) | 30) + 4, "numeric(65,30)"),
            (ColumnKind::DateTime { fsp: 6 }, 1114, 6, "timestamp(6) without time zone"),
            (ColumnKind::Timestamp { fsp: 3 }, 1184, 3, "timestamp(3) with time zone"),
            (ColumnKind::VarChar { chars: 10, charset: Charset::Utf8 }, 1043, 14, "character varying(10)"),
            (ColumnKind::Char { chars: 3, charset: Charset::Latin1 }, 1043, 7, "character varying(3)"),
            (ColumnKind::Bit { bits: 64 }, 1560, 64, "bit(64)"),
            (ColumnKind::Time { fsp: 6 }, 1186, -1, "interval"),
        ];
        for (kind, oid, modifier, name) in cases {
            let t = kind.source_type();
            assert_eq!((t.oid, t.modifier, t.name.as_str()), (oid, modifier, name), "{kind:?}");
        }
    }

    #[test]
    fn enum_labels_from_column_type() {
        assert_eq!(
            parse_labels("enum('a','it''s','x,y','')").unwrap(),
            vec![b"a".to_vec(), b"it's".to_vec(), b"x,y".to_vec(), b"".to_vec()]
        );
        assert!(parse_labels("enum('a'").is_err());
    }
}
