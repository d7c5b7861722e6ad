//! Table modes: how a source table's changes take shape at the destination.
//!
//! The configuration (`[table_defaults]`, `[tables."schema.table"]`, `[hashing]`) resolves to one
//! [`TableMode`] per table. [`TableMap`] applies it to a source schema and its rows, purely:
//!
//! ```text
//!   source table s.t (columns, key)
//!     │ columns: include / exclude (key columns always kept), hash -> text
//!     ├──► s.t            kept columns  [+ __siphon_deleted]  [+ __siphon_op, __siphon_commit_ts,
//!     │                                                          __siphon_position, __siphon_synced_at]
//!     └──► s.t__history   kept columns  + __siphon_op, __siphon_position, __siphon_seq,
//!                                         __siphon_commit_ts          key (position, seq)
//! ```
//!
//! Every destination gets the mapped tables as ordinary [`TableSchema`]s and the mapped rows as
//! ordinary [`RowOp`](crate::RowOp)s (the runtime's `ModedDestination` does the mapping), so a
//! destination needs no code for a mode except one: a TRUNCATE in soft-delete mode becomes
//! [`TableBatch::update_all_first`](crate::TableBatch::update_all_first).
//!
//! *Position.* A change's [`Origin`] is its transaction's commit position — the LSN of the commit
//! record (pgoutput's `final_lsn`/`commit_lsn`), known at `Begin`, so pieces of a large
//! transaction can be written before its `Commit` arrives — and its order in the transaction.
//! The checkpoint stored with it is the same transaction's end LSN, just past the commit record;
//! so the history rows at the destination are exactly those whose position is below the
//! checkpoint. Positions are written zero-padded (`00000000/016B3748`), so that their text order
//! is their order (DuckDB has no LSN type); PostgreSQL's `::pg_lsn` reads them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::config::{Config, HistoryMode, Secret};
use crate::error::Error;
use crate::position::Lsn;
use crate::row::{Datum, Row};
use crate::schema::{Column, SourceType, TableName, TableSchema};

pub const DELETED: &str = "__siphon_deleted";
pub const OP: &str = "__siphon_op";
pub const COMMIT_TS: &str = "__siphon_commit_ts";
pub const POSITION: &str = "__siphon_position";
pub const SEQ: &str = "__siphon_seq";
pub const SYNCED_AT: &str = "__siphon_synced_at";
/// Appended to a table's name for its history table.
pub const HISTORY_SUFFIX: &str = "__history";

/// Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch).
pub const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// Where a change comes from: its source transaction (commit position and time) and its place
/// in that transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The transaction's commit position (see the module doc).
    pub position: Lsn,
    /// Order of the change in its transaction, from 0 (truncates count too).
    pub seq: u64,
    /// Commit time, µs since 2000-01-01 UTC.
    pub commit_time_micros: i64,
}

/// What a change did, as `__siphon_op` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeOp {
    Insert,
    Update,
    Delete,
    Truncate,
}

impl ChangeOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Insert => "insert",
            ChangeOp::Update => "update",
            ChangeOp::Delete => "delete",
            ChangeOp::Truncate => "truncate",
        }
    }
}

/// A change's origin and kind: what the metadata columns of the row it left say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub origin: Origin,
    pub op: ChangeOp,
}

/// One table's resolved modes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableMode {
    pub soft_delete: bool,
    pub history: HistoryMode,
    pub metadata_columns: bool,
    pub include: Option<Vec<String>>,
    pub exclude: Vec<String>,
    pub hash: Vec<String>,
}

impl TableMode {
    /// Nothing to map: the table is replicated as it is.
    pub fn is_plain(&self) -> bool {
        *self == TableMode::default()
    }

    /// The destination keeps the table's current state (not `history = "only"`).
    pub fn keeps_table(&self) -> bool {
        self.history != HistoryMode::Only
    }

    pub fn keeps_history(&self) -> bool {
        self.history != HistoryMode::Off
    }
}

/// Every table's modes, from the configuration.
#[derive(Clone, Debug, Default)]
pub struct TableModes {
    defaults: TableMode,
    tables: HashMap<TableName, TableMode>,
    salt: Option<Secret>,
}

impl TableModes {
    /// Resolves `[table_defaults]` and `[tables."..."]` (validated when the config was parsed).
    pub fn from_config(config: &Config) -> TableModes {
        let d = &config.table_defaults;
        let defaults = TableMode {
            soft_delete: d.soft_delete,
            history: d.history,
            metadata_columns: d.metadata_columns,
            ..TableMode::default()
        };
        let tables = config
            .tables
            .iter()
            .filter_map(|(key, t)| {
                let name = TableName::parse(key).ok()?;
                let history = t.history.unwrap_or(defaults.history);
                let only = history == HistoryMode::Only;
                let mode = TableMode {
                    soft_delete: !only && t.soft_delete.unwrap_or(defaults.soft_delete),
                    history,
                    metadata_columns: !only && t.metadata_columns.unwrap_or(defaults.metadata_columns),
                    include: t.include.clone(),
                    exclude: t.exclude.clone(),
                    hash: t.hash.clone(),
                };
                Some((name, mode))
            })
            .collect();
        let mut defaults = defaults;
        if defaults.history == HistoryMode::Only {
            defaults.soft_delete = false;
            defaults.metadata_columns = false;
        }
        TableModes { defaults, tables, salt: config.hashing.salt.clone() }
    }

    /// The same modes for every table (tests, tools).
    pub fn with_defaults(defaults: TableMode, salt: Option<Secret>) -> TableModes {
        TableModes { defaults, tables: HashMap::new(), salt }
    }

    pub fn of(&self, table: &TableName) -> &TableMode {
        self.tables.get(table).unwrap_or(&self.defaults)
    }

    /// Every table is replicated as it is.
    pub fn is_plain(&self) -> bool {
        self.defaults.is_plain() && self.tables.values().all(TableMode::is_plain)
    }

    /// The mapping of `schema` under its table's mode; an error names the setting when the mode
    /// does not fit the table (a key column excluded, a listed column the table lacks).
    pub fn map(&self, schema: &Arc<TableSchema>) -> Result<TableMap, Error> {
        TableMap::new(schema, self.of(&schema.name), self.salt.clone())
    }
}

/// A source column that reaches the destination.
#[derive(Clone, Copy, Debug)]
struct Kept {
    index: usize,
    hashed: bool,
}

/// A source table's mapping onto its destination table(s), for one source schema.
#[derive(Clone, Debug)]
pub struct TableMap {
    pub mode: TableMode,
    /// The source schema this map was made for.
    pub source: Arc<TableSchema>,
    /// The destination table with the current state (when the mode keeps one).
    pub table: Arc<TableSchema>,
    /// The history table (when the mode keeps history).
    pub history: Arc<TableSchema>,
    kept: Vec<Kept>,
    /// For each source key column (in key order), whether it is hashed.
    key_hashed: Vec<bool>,
    salt: Option<Secret>,
}

fn siphon_column(name: &str, oid: u32, type_name: &str, is_key: bool) -> Column {
    Column {
        name: name.into(),
        source_type: SourceType { oid, modifier: -1, name: type_name.into(), base: None },
        is_key,
        nullable: !is_key,
    }
}

fn text_type() -> SourceType {
    SourceType { oid: 25, modifier: -1, name: "text".into(), base: None }
}

impl TableMap {
    fn new(source: &Arc<TableSchema>, mode: &TableMode, salt: Option<Secret>) -> Result<TableMap, Error> {
        let path = format!("tables.\"{}\"", source.name);
        let has = |c: &String| source.columns.iter().any(|s| &s.name == c);
        let lists = [
            ("include", mode.include.as_deref().unwrap_or_default()),
            ("exclude", &mode.exclude),
            ("hash", &mode.hash),
        ];
        for (list, names) in lists {
            if let Some(c) = names.iter().find(|c| !has(c)) {
                return Err(Error::fatal(format!(
                    "invalid configuration at `{path}.{list}`: table {} has no column {c:?}",
                    source.name
                ))
                .with_hint("check the spelling (names are case-sensitive), or remove it from the list"));
            }
        }
        let kept_at = |c: &Column| {
            c.is_key
                || match &mode.include {
                    Some(inc) => inc.contains(&c.name),
                    None => !mode.exclude.contains(&c.name),
                }
        };
        if let Some(c) = source.columns.iter().find(|c| c.is_key && mode.exclude.contains(&c.name)) {
            return Err(Error::fatal(format!(
                "invalid configuration at `{path}.exclude`: column {:?} is part of the key of {}, and key columns cannot be excluded",
                c.name, source.name
            ))
            .with_hint("rows are updated and deleted by their key at the destination; hash the column instead (tables.<t>.hash) to hide its values"));
        }
        if let Some(c) = source.columns.iter().find(|c| mode.hash.contains(&c.name) && !kept_at(c)) {
            return Err(Error::fatal(format!(
                "invalid configuration at `{path}.hash`: column {:?} of {} is hashed but not in `include`",
                c.name, source.name
            ))
            .with_hint("add it to include, or remove it from hash"));
        }
        if let Some(c) = source.columns.iter().find(|c| c.name.starts_with("__siphon_") && kept_at(c)) {
            return Err(Error::fatal(format!(
                "table {} has a column named {:?}: names starting with __siphon_ are siphon's at the destination",
                source.name, c.name
            ))
            .with_hint(format!("exclude it (tables.\"{}\".exclude) or rename it at the source", source.name)));
        }
        let mut kept = Vec::new();
        let mut columns = Vec::new();
        for (index, c) in source.columns.iter().enumerate().filter(|(_, c)| kept_at(c)) {
            let hashed = mode.hash.contains(&c.name);
            kept.push(Kept { index, hashed });
            let mut c = c.clone();
            if hashed {
                c.source_type = text_type();
            }
            columns.push(c);
        }
        let key_hashed = source.columns.iter().filter(|c| c.is_key).map(|c| mode.hash.contains(&c.name)).collect();
        let mut table_columns = columns.clone();
        if mode.soft_delete {
            table_columns.push(siphon_column(DELETED, 16, "boolean", false));
        }
        if mode.metadata_columns {
            table_columns.push(siphon_column(OP, 25, "text", false));
            table_columns.push(siphon_column(COMMIT_TS, 1184, "timestamp with time zone", false));
            table_columns.push(siphon_column(POSITION, 25, "text", false));
            table_columns.push(siphon_column(SYNCED_AT, 1184, "timestamp with time zone", false));
        }
        let mut history_columns: Vec<Column> =
            columns.into_iter().map(|c| Column { is_key: false, nullable: true, ..c }).collect();
        history_columns.push(siphon_column(OP, 25, "text", false));
        history_columns.push(siphon_column(POSITION, 25, "text", true));
        history_columns.push(siphon_column(SEQ, 20, "bigint", true));
        history_columns.push(siphon_column(COMMIT_TS, 1184, "timestamp with time zone", false));
        let history_name = TableName::new(&source.name.schema, format!("{}{HISTORY_SUFFIX}", source.name.name));
        Ok(TableMap {
            mode: mode.clone(),
            source: source.clone(),
            table: Arc::new(TableSchema { name: source.name.clone(), columns: table_columns }),
            history: Arc::new(TableSchema { name: history_name, columns: history_columns }),
            kept,
            key_hashed,
            salt,
        })
    }

    /// The kept source columns of `column`'s table, mapped: `None` when `column` is left out.
    pub fn map_column(&self, column: &Column) -> Option<Column> {
        let kept = column.is_key
            || match &self.mode.include {
                Some(inc) => inc.contains(&column.name),
                None => !self.mode.exclude.contains(&column.name),
            };
        let mut c = column.clone();
        if self.mode.hash.contains(&c.name) {
            c.source_type = text_type();
        }
        kept.then_some(c)
    }

    /// Whether `column` (a source column) is hashed.
    pub fn is_hashed(&self, column: &str) -> bool {
        self.mode.hash.contains(&column.to_string())
    }

    /// The kept columns of a source row, hashed where configured.
    pub fn project(&self, row: &[Datum]) -> Row {
        self.kept
            .iter()
            .map(|k| {
                let d = row.get(k.index).cloned().unwrap_or(Datum::Null);
                if k.hashed {
                    self.hash_datum(d)
                } else {
                    d
                }
            })
            .collect()
    }

    /// A source key (its columns' datums, in key order), hashed where configured.
    pub fn map_key(&self, key: &[Datum]) -> Vec<Datum> {
        key.iter().zip(&self.key_hashed).map(|(d, &h)| if h { self.hash_datum(d.clone()) } else { d.clone() }).collect()
    }

    fn hash_datum(&self, d: Datum) -> Datum {
        match d {
            Datum::Text(v) => Datum::Text(salted_sha256(self.salt.as_ref().map_or("", Secret::expose), &v)),
            other => other,
        }
    }

    /// The current-state row for `row` (projected, then siphon's columns): `deleted` and the
    /// change that left it (`None` for copied rows, with op `copy`).
    pub fn table_row(&self, row: &[Datum], deleted: bool, stamp: Option<&Stamp>, synced_at: &str) -> Row {
        let mut out = self.project(row);
        self.push_siphon_columns(&mut out, deleted, stamp.map(|s| (s.op.as_str(), Some(&s.origin))), synced_at);
        out
    }

    /// A copied row for the current-state table (op `copy`, no position).
    pub fn copied_row(&self, row: &[Datum], synced_at: &str) -> Row {
        let mut out = self.project(row);
        self.push_siphon_columns(&mut out, false, Some(("copy", None)), synced_at);
        out
    }

    /// A soft delete of `key`: the key columns, every other column left as stored (unchanged),
    /// `__siphon_deleted` true and the metadata of the delete.
    pub fn tombstone(&self, key: &[Datum], stamp: Option<&Stamp>, synced_at: &str) -> Row {
        let key = self.map_key(key);
        let mut keys = key.into_iter();
        let mut out: Row = self
            .kept
            .iter()
            .map(|k| match self.source.columns[k.index].is_key {
                true => keys.next().unwrap_or(Datum::Null),
                false => Datum::UnchangedToast,
            })
            .collect();
        self.push_siphon_columns(&mut out, true, stamp.map(|s| (s.op.as_str(), Some(&s.origin))), synced_at);
        out
    }

    /// The columns and values a TRUNCATE in soft-delete mode sets on every stored row.
    pub fn truncate_marks(&self, stamp: Option<&Stamp>, synced_at: &str) -> Vec<(usize, Datum)> {
        let mut values = Vec::new();
        self.push_siphon_columns(&mut values, true, stamp.map(|s| (s.op.as_str(), Some(&s.origin))), synced_at);
        let first = self.kept.len();
        values.into_iter().enumerate().map(|(i, d)| (first + i, d)).collect()
    }

    fn push_siphon_columns(&self, out: &mut Row, deleted: bool, op: Option<(&str, Option<&Origin>)>, synced_at: &str) {
        if self.mode.soft_delete {
            out.push(Datum::Text(if deleted { "t" } else { "f" }.into()));
        }
        if self.mode.metadata_columns {
            let origin = op.and_then(|(_, o)| o);
            out.push(op.map_or(Datum::Null, |(op, _)| Datum::Text(op.into())));
            out.push(origin.map_or(Datum::Null, |o| Datum::Text(format_timestamptz(o.commit_time_micros))));
            out.push(origin.map_or(Datum::Null, |o| Datum::Text(format_position(o.position))));
            out.push(Datum::Text(synced_at.into()));
        }
    }

    /// A history row: the change's row (projected; values the change did not carry are NULL),
    /// then op, position, seq and commit time.
    pub fn history_row(&self, row: Option<&[Datum]>, stamp: &Stamp) -> Row {
        let mut out = match row {
            Some(r) => self.project(r),
            None => vec![Datum::Null; self.kept.len()],
        };
        for d in &mut out {
            if *d == Datum::UnchangedToast {
                *d = Datum::Null;
            }
        }
        let o = &stamp.origin;
        out.push(Datum::Text(stamp.op.as_str().into()));
        out.push(Datum::Text(format_position(o.position)));
        out.push(Datum::Text(o.seq.to_string()));
        out.push(Datum::Text(format_timestamptz(o.commit_time_micros)));
        out
    }
}

/// Hex SHA-256 of `salt` followed by `value` (their UTF-8 bytes).
pub fn salted_sha256(salt: &str, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(value.as_bytes());
    let mut out = String::with_capacity(64);
    for b in h.finalize() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// An LSN as zero-padded text: `00000000/016B3748` (text order is position order).
pub fn format_position(lsn: Lsn) -> String {
    format!("{:08X}/{:08X}", lsn.0 >> 32, lsn.0 & 0xFFFF_FFFF)
}

/// µs since 2000-01-01 UTC as PostgreSQL's `timestamptz` text in UTC:
/// `2024-05-01 12:34:56.123456+00`.
pub fn format_timestamptz(pg_micros: i64) -> String {
    let unix = pg_micros + PG_EPOCH_UNIX_MICROS;
    let secs = unix.div_euclid(1_000_000);
    let micros = unix.rem_euclid(1_000_000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{micros:06}+00", sod / 3600, sod % 3600 / 60, sod % 60)
}

/// Now as µs since 2000-01-01 UTC.
pub fn now_pg_micros() -> i64 {
    let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64);
    unix - PG_EPOCH_UNIX_MICROS
}

/// (year, month, day) of a day number since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgtext::{parse_datetime, DateTimeKind, PgDateTime};
    use proptest::prelude::*;

    fn schema() -> Arc<TableSchema> {
        crate::testing::int_table(&["email", "notes"])
    }

    fn t(s: &str) -> Datum {
        Datum::Text(s.into())
    }

    fn map(mode: TableMode) -> Result<TableMap, Error> {
        TableMap::new(&schema(), &mode, Some(Secret::new("0123456789abcdef")))
    }

    #[test]
    fn sha256_of_salt_and_value() {
        assert_eq!(salted_sha256("salt", "value"), salted_sha256("", "saltvalue"));
        assert_eq!(salted_sha256("", ""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(salted_sha256("", "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn excluding_a_key_column_names_the_setting() {
        let e = map(TableMode { exclude: vec!["id".into()], ..TableMode::default() }).unwrap_err();
        assert!(e.message.contains("`tables.\"public.t\".exclude`") && e.message.contains("key"), "{e}");
        let e = map(TableMode { hash: vec!["mail".into()], ..TableMode::default() }).unwrap_err();
        assert!(e.message.contains("`tables.\"public.t\".hash`") && e.message.contains("\"mail\""), "{e}");
    }

    #[test]
    fn include_keeps_the_key_and_hash_makes_text() {
        let m = map(TableMode {
            include: Some(vec!["email".into()]),
            hash: vec!["email".into(), "id".into()],
            ..TableMode::default()
        })
        .unwrap();
        let names: Vec<&str> = m.table.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "email"]);
        assert!(m.table.columns.iter().all(|c| c.source_type.oid == 25));
        assert!(m.table.columns[0].is_key);
        let row = m.project(&[t("1"), t("a@b"), t("n")]);
        assert_eq!(row, vec![t(&salted_sha256("0123456789abcdef", "1")), t(&salted_sha256("0123456789abcdef", "a@b"))]);
        assert_eq!(m.map_key(&[t("1")]), vec![row[0].clone()], "a hashed key matches its hashed row");
        assert_eq!(m.project(&[t("1"), Datum::Null, t("n")])[1], Datum::Null, "NULL stays NULL");
    }

    #[test]
    fn tombstones_and_history_rows() {
        let m = map(TableMode {
            soft_delete: true,
            metadata_columns: true,
            history: HistoryMode::Both,
            exclude: vec!["notes".into()],
            ..TableMode::default()
        })
        .unwrap();
        let stamp =
            Stamp { origin: Origin { position: Lsn(0x16B3748), seq: 2, commit_time_micros: 0 }, op: ChangeOp::Delete };
        let row = m.tombstone(&[t("7")], Some(&stamp), "now");
        assert_eq!(
            row,
            vec![
                t("7"),
                Datum::UnchangedToast,
                t("t"),
                t("delete"),
                t("2000-01-01 00:00:00.000000+00"),
                t("00000000/016B3748"),
                t("now")
            ]
        );
        let h = m.history_row(Some(&[t("7"), Datum::UnchangedToast, t("x")]), &stamp);
        assert_eq!(
            h,
            vec![t("7"), Datum::Null, t("delete"), t("00000000/016B3748"), t("2"), t("2000-01-01 00:00:00.000000+00")]
        );
        let keys: Vec<&str> = m.history.columns.iter().filter(|c| c.is_key).map(|c| c.name.as_str()).collect();
        assert_eq!(keys, [POSITION, SEQ]);
        assert_eq!(m.history.name, TableName::new("public", "t__history"));
        let marks = m.truncate_marks(None, "now");
        assert_eq!(marks[0], (2, t("t")));
    }

    proptest! {
        #[test]
        fn timestamps_format_as_postgres_reads_them(micros in -60_000_000_000_000_000i64..250_000_000_000_000_000i64) {
            let text = format_timestamptz(micros);
            let PgDateTime::Finite(parsed) = parse_datetime(&text, DateTimeKind::TimestampTz).unwrap() else {
                panic!("{text} is not finite")
            };
            prop_assert_eq!(parsed.epoch_micros(), (micros + PG_EPOCH_UNIX_MICROS) as i128, "{}", text);
        }

        #[test]
        fn positions_sort_as_text_in_lsn_order(a in any::<u64>(), b in any::<u64>()) {
            let (ta, tb) = (format_position(Lsn(a)), format_position(Lsn(b)));
            prop_assert_eq!(ta.cmp(&tb), a.cmp(&b));
            prop_assert_eq!(ta.parse::<Lsn>().unwrap(), Lsn(a));
        }
    }
}
