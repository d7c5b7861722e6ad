//! The replica's half of `siphon verify`: source rows staged through the apply path's casts,
//! compared with the replica's rows inside DuckDB, and repairs written through the apply path.
//!
//! # Why values compare exactly
//!
//! A source row reaches the replica as PostgreSQL text, rewritten by [`types::prepare_text`] and
//! cast by [`types::convert_sql`] into the destination column. Verification sends the source's
//! rows the same way: COPY text, appended as VARCHAR, inserted into a temp table whose columns
//! have the destination table's own types, through the same conversions. A value that was
//! replicated correctly is therefore *the same DuckDB value* on both sides — NULLs, numerics,
//! timestamps, bytea, lists and JSON included — and no canonical text has to be invented per
//! type on two systems. Comparison happens in one place, DuckDB:
//!
//! ```text
//!   source chunk (COPY text) ──append──► verify_stage_<t> (VARCHAR)
//!                                          │ INSERT ... SELECT CAST(...)      (the apply path's casts)
//!                                          ▼
//!   changes between the two positions ──► verify_delta_<t> (per key: upsert or delete)
//!                                          │ folded onto one or both sides (see below)
//!                                          ▼
//!   verify_src_<t>  ◄── count + sum(hash(row)) ──►  verify_dst_<t>  ◄── replica rows in the same
//!        │                                              │                 key range, one snapshot
//!        └──── on mismatch: anti-joins both ways (missing / extra), join on key with
//!              IS DISTINCT FROM on every column (different) ──► verify_diff_<t> (keys)
//! ```
//!
//! The checksum is order-independent (`sum(hash(columns))` over 128-bit integers) and computed
//! over typed values, so it is cheap and only a mismatch pays for the joins.
//!
//! # Two positions, bridged by changes
//!
//! The source is read at one position and the replica holds another (its checkpoint). Changes
//! committed from the earlier position on ([`Replica::merge_changes`], compacted per key) are
//! folded onto the side(s) they lead forward ([`ChangesOnto`]): each key they touch takes its
//! final state from them (unchanged TOAST columns from the side's own row), the rest of the side
//! is kept. Folding is replay, and replaying changes from an earlier position onto a state that
//! already includes some of them ends in the same state (each key's final state comes from its
//! last change). After the fold both sides stand for the same source position, so any
//! difference is real.
//!
//! # Scope of a comparison
//!
//! A [`Scope`] selects the replica rows that correspond to a source chunk: the key range between
//! two keys (keyset chunks; the caller orders keys as DuckDB does), an explicit key set, or the
//! whole table.
//!
//! # Repairs
//!
//! [`Replica::repair`] writes a batch through [`DuckDbDestination`]'s apply path (the same
//! stage, casts, `DELETE ... USING` and `INSERT OR REPLACE`) and commits it **without** touching
//! the checkpoint. Why that is safe is argued where it is decided, in siphon-runtime's `verify`.

use std::path::Path;
use std::sync::Arc;

use duckdb::{appender_params_from_iter, params, Connection};
use siphon_core::batch::{Batch, RowOp};
use siphon_core::destination::Destination;
use siphon_core::row::{Datum, Row};
use siphon_core::schema::{quote_ident, quote_literal, TableName, TableSchema};
use siphon_core::{Error, Lsn};

use crate::query::QueryService;
use crate::types::{convert_sql, map_type, prepare_text, ColumnType, Conversion, Scalar};
use crate::{prepared, DuckDbDestination};

/// How the replica file is opened when no daemon holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileAccess {
    /// Verification only: other readers may open it too.
    ReadOnly,
    /// Verification and repair: excludes every other process (a daemon cannot start meanwhile).
    ReadWrite,
}

/// Which sides the merged changes are folded onto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangesOnto {
    /// The source side only: the changes lead from the source's position to the replica's
    /// checkpoint, which the replica already holds (the pipeline streams).
    Source,
    /// Both sides: the changes lead from the replica's checkpoint past the source's position,
    /// and both sides end up at their end (the pipeline is stopped or paused).
    Both,
}

/// The replica rows a comparison covers.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// Every row.
    All,
    /// Keys after `after` (exclusive) up to `through` (inclusive); `None` is unbounded. Keys are
    /// the key columns' source texts, in key order.
    Range { after: Option<&'a [String]>, through: Option<&'a [String]> },
    /// The keys set by [`Replica::scope_to_differences`].
    Keys,
}

/// The outcome of comparing one chunk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkOutcome {
    pub source_rows: u64,
    pub replica_rows: u64,
    pub equal: bool,
}

/// How a key differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DiffKind {
    /// In the source, not in the replica.
    Missing,
    /// In the replica, not in the source.
    Extra,
    /// In both, with a different value in some column.
    Different,
}

impl DiffKind {
    const ALL: [DiffKind; 3] = [DiffKind::Missing, DiffKind::Extra, DiffKind::Different];

    fn as_str(self) -> &'static str {
        match self {
            DiffKind::Missing => "missing",
            DiffKind::Extra => "extra",
            DiffKind::Different => "different",
        }
    }
}

/// How many keys differ, by kind, with the first keys of each (in key order).
#[derive(Clone, Debug, Default)]
pub struct Differences {
    pub missing: u64,
    pub extra: u64,
    pub different: u64,
    /// Up to the requested number of keys per kind; each key is its columns' texts.
    pub samples: std::collections::BTreeMap<&'static str, Vec<Vec<String>>>,
}

impl Differences {
    pub fn total(&self) -> u64 {
        self.missing + self.extra + self.different
    }
}

/// A table being verified: its schema and the destination types of its columns.
struct Verified {
    schema: Arc<TableSchema>,
    types: Vec<ColumnType>,
    /// A TRUNCATE is among the merged changes: the side they are folded onto starts empty.
    truncated: bool,
}

/// A connection to the replica for verification and repair. Its temp tables are its own.
pub struct Replica {
    conn: Connection,
    pipeline: String,
    tables: Vec<Verified>,
}

/// A table's index in the [`Replica`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableId(usize);

fn db_error(what: &str) -> impl Fn(duckdb::Error) -> Error + '_ {
    move |e| Error::fatal(format!("verify: {what} failed")).with_detail(e.to_string())
}

impl Replica {
    /// A connection to the database the running daemon writes (through its query service).
    pub fn attached(queries: &QueryService, pipeline: &str) -> Result<Replica, Error> {
        Ok(Replica { conn: queries.new_connection()?, pipeline: pipeline.into(), tables: Vec::new() })
    }

    /// The replica file, when no daemon holds it.
    pub fn open_file(path: &Path, pipeline: &str, access: FileAccess) -> Result<Replica, Error> {
        if !path.exists() {
            return Err(Error::fatal(format!("the replica {} does not exist", path.display()))
                .with_hint("run `siphon run` first: it creates the file with the initial snapshot"));
        }
        let mode = match access {
            FileAccess::ReadOnly => duckdb::AccessMode::ReadOnly,
            FileAccess::ReadWrite => duckdb::AccessMode::ReadWrite,
        };
        let config = duckdb::Config::default().access_mode(mode).map_err(db_error("configuring DuckDB"))?;
        let conn = Connection::open_with_flags(path, config).map_err(|e| {
            Error::fatal(format!("could not open the replica {}", path.display())).with_detail(e.to_string()).with_hint(
                "another process holds it: if `siphon run` is running, is its state_dir the one in this config?",
            )
        })?;
        Ok(Replica { conn, pipeline: pipeline.into(), tables: Vec::new() })
    }

    /// The replica's committed checkpoint, `None` before the first snapshot committed.
    pub fn checkpoint(&self) -> Result<Option<Lsn>, Error> {
        read_checkpoint(&self.conn, &self.pipeline)
    }

    /// Prepares the temp tables for verifying `schema`'s table, after checking the replica has
    /// the table and every source column.
    pub fn add_table(&mut self, schema: Arc<TableSchema>) -> Result<TableId, Error> {
        self.check_columns(&schema)?;
        let i = self.tables.len();
        let cols = column_list(&schema);
        let keys = key_list(&schema);
        let staged: Vec<String> = (0..schema.columns.len()).map(|j| format!("c{j} VARCHAR")).collect();
        let table = schema.name.quoted();
        let sql = format!(
            "CREATE OR REPLACE TEMP TABLE verify_stage_{i} ({staged});
             CREATE OR REPLACE TEMP TABLE verify_src_{i} AS SELECT {cols} FROM {table} LIMIT 0;
             CREATE OR REPLACE TEMP TABLE verify_dst_{i} AS SELECT {cols} FROM {table} LIMIT 0;
             CREATE OR REPLACE TEMP TABLE verify_dstage_{i} (__op VARCHAR, __toast VARCHAR, {staged});
             CREATE OR REPLACE TEMP TABLE verify_delta_{i} AS
                 SELECT {cols}, ''::VARCHAR AS __op, ''::VARCHAR AS __toast FROM {table} LIMIT 0;
             CREATE OR REPLACE TEMP TABLE verify_diff_{i} AS SELECT {keys}, ''::VARCHAR AS __kind FROM {table} LIMIT 0;
             CREATE OR REPLACE TEMP TABLE verify_keys_{i} AS SELECT {keys} FROM {table} LIMIT 0;",
            staged = staged.join(", ")
        );
        self.conn.execute_batch(&sql).map_err(db_error("preparing the verification tables"))?;
        let types = schema.columns.iter().map(|c| map_type(&c.source_type)).collect();
        self.tables.push(Verified { schema, types, truncated: false });
        Ok(TableId(i))
    }

    fn check_columns(&self, schema: &TableSchema) -> Result<(), Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?")
            .map_err(db_error("reading the catalog"))?;
        let existing = stmt
            .query_map(params![schema.name.schema, schema.name.name], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(db_error("reading the catalog"))?;
        if existing.is_empty() {
            return Err(Error::fatal(format!("table {} does not exist in the replica", schema.name))
                .with_hint("is it in source.tables, and has the pipeline snapshotted it?"));
        }
        let missing: Vec<&str> =
            schema.columns.iter().map(|c| c.name.as_str()).filter(|c| !existing.iter().any(|e| e == c)).collect();
        if !missing.is_empty() {
            return Err(Error::fatal(format!("the replica's {} lacks source columns", schema.name))
                .with_detail(format!("missing: {}", missing.join(", ")))
                .with_hint(
                    "the pipeline adds new columns when it next starts streaming: let it run, then verify again",
                ));
        }
        Ok(())
    }

    /// Starts another verification run on the same tables: forgets merged changes and found
    /// differences (keys kept by [`Replica::scope_to_differences`] stay).
    pub fn reset(&mut self) -> Result<(), Error> {
        for i in 0..self.tables.len() {
            self.tables[i].truncated = false;
            self.conn
                .execute_batch(&format!(
                    "DELETE FROM temp.main.verify_delta_{i}; DELETE FROM temp.main.verify_diff_{i};"
                ))
                .map_err(db_error("resetting"))?;
        }
        Ok(())
    }

    /// Empties the source side of `t` (before the next chunk).
    pub fn clear_source(&self, t: TableId) -> Result<(), Error> {
        self.conn.execute_batch(&format!("DELETE FROM temp.main.verify_src_{}", t.0)).map_err(db_error("clearing"))
    }

    /// Adds source rows of `t`, converted exactly as the apply path converts them.
    pub fn stage_source(&self, t: TableId, rows: &[Row]) -> Result<(), Error> {
        let v = &self.tables[t.0];
        let i = t.0;
        {
            let mut appender = self
                .conn
                .appender_to_catalog_and_db(&format!("verify_stage_{i}"), "temp", "main")
                .map_err(db_error("staging source rows"))?;
            let mut values: Vec<Option<String>> = Vec::with_capacity(v.types.len());
            for row in rows {
                values.clear();
                for ((d, ty), c) in row.iter().zip(&v.types).zip(&v.schema.columns) {
                    values.push(prepared(d, ty, &v.schema.name, &c.name)?);
                }
                appender
                    .append_row(appender_params_from_iter(values.iter()))
                    .map_err(db_error("staging source rows"))?;
            }
            appender.flush().map_err(db_error("staging source rows"))?;
        }
        let sql = format!(
            "INSERT INTO temp.main.verify_src_{i} ({}) SELECT {} FROM temp.main.verify_stage_{i} AS s;
             DELETE FROM temp.main.verify_stage_{i};",
            column_list(&v.schema),
            converted(v, "s").join(", ")
        );
        self.conn.execute_batch(&sql).map_err(|e| conversion_error(&v.schema.name, e))
    }

    /// Copies the replica's rows of `t` in `scope` to its replica side, at one snapshot; returns
    /// the checkpoint of that snapshot (the source position the rows stand for).
    pub fn read_replica(&self, t: TableId, scope: Scope) -> Result<Option<Lsn>, Error> {
        let v = &self.tables[t.0];
        let i = t.0;
        let sql = format!(
            "DELETE FROM temp.main.verify_dst_{i};
             INSERT INTO temp.main.verify_dst_{i} SELECT {} FROM {} AS t WHERE {};",
            column_list(&v.schema),
            v.schema.name.quoted(),
            scope_sql(v, i, scope, "t")
        );
        self.conn.execute_batch("BEGIN TRANSACTION").map_err(db_error("reading the replica"))?;
        let result = read_checkpoint(&self.conn, &self.pipeline)
            .and_then(|cp| self.conn.execute_batch(&sql).map(|_| cp).map_err(db_error("reading the replica")));
        match result {
            Ok(cp) => {
                self.conn.execute_batch("COMMIT").map_err(db_error("reading the replica"))?;
                Ok(cp)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Adds changes (in commit order after those merged before) to the per-key final states of
    /// the verified tables; changes to other tables are ignored.
    pub fn merge_changes(&mut self, batch: Batch) -> Result<(), Error> {
        for tb in batch.into_tables() {
            let Some(i) = self.tables.iter().position(|v| v.schema.name == tb.schema.name) else { continue };
            if tb.truncate_first {
                self.tables[i].truncated = true;
                self.conn
                    .execute_batch(&format!("DELETE FROM temp.main.verify_delta_{i}"))
                    .map_err(db_error("merging changes"))?;
            }
            if tb.ops().next().is_none() {
                continue;
            }
            self.stage_changes(i, tb.ops())?;
            let v = &self.tables[i];
            self.conn.execute_batch(&merge_sql(v, i)).map_err(|e| conversion_error(&v.schema.name, e))?;
        }
        Ok(())
    }

    fn stage_changes<'b>(&self, i: usize, ops: impl Iterator<Item = &'b RowOp>) -> Result<(), Error> {
        let v = &self.tables[i];
        let n = v.types.len();
        let mut appender = self
            .conn
            .appender_to_catalog_and_db(&format!("verify_dstage_{i}"), "temp", "main")
            .map_err(db_error("staging changes"))?;
        let mut values: Vec<Option<String>> = Vec::with_capacity(n + 2);
        let key = v.schema.key_indices();
        for op in ops {
            values.clear();
            match op {
                // A key move that left TOASTed values out takes them from the row under its old
                // key; the delta can only keep values of the same key, so such a row (rare: a key
                // update of a row with large values, during the verification) may be reported as
                // different and is settled by running verify again.
                RowOp::Upsert(row) | RowOp::Move { row, .. } => {
                    let toast: String =
                        row.iter().map(|d| if *d == Datum::UnchangedToast { '1' } else { '0' }).collect();
                    values.extend([Some("u".to_string()), Some(toast)]);
                    for ((d, ty), c) in row.iter().zip(&v.types).zip(&v.schema.columns) {
                        values.push(prepared(d, ty, &v.schema.name, &c.name)?);
                    }
                }
                RowOp::Delete(k) => {
                    values.extend([Some("d".to_string()), Some("0".repeat(n))]);
                    values.resize(n + 2, None);
                    for (d, &j) in k.iter().zip(&key) {
                        values[j + 2] = prepared(d, &v.types[j], &v.schema.name, &v.schema.columns[j].name)?;
                    }
                }
            }
            appender.append_row(appender_params_from_iter(values.iter())).map_err(db_error("staging changes"))?;
        }
        appender.flush().map_err(db_error("staging changes"))
    }

    /// Compares the source and replica sides of `t` (the same `scope` as the replica read),
    /// with the merged changes folded `onto` one side; differing keys are recorded.
    pub fn compare(&self, t: TableId, scope: Scope, onto: ChangesOnto) -> Result<ChunkOutcome, Error> {
        let v = &self.tables[t.0];
        let i = t.0;
        let (src, rep) = (format!("temp.main.verify_src_{i}"), format!("temp.main.verify_dst_{i}"));
        let (src, rep) = match onto {
            ChangesOnto::Source => (folded(v, i, &src, scope), format!("SELECT * FROM {rep}")),
            ChangesOnto::Both => (folded(v, i, &src, scope), folded(v, i, &rep, scope)),
        };
        let cols = column_list(&v.schema);
        self.conn
            .execute_batch(&format!(
                "CREATE OR REPLACE TEMP TABLE verify_cmp_src AS {src};
                 CREATE OR REPLACE TEMP TABLE verify_cmp_rep AS {rep};"
            ))
            .map_err(db_error("comparing"))?;
        let sums = |side: &str| -> Result<(u64, String), Error> {
            self.conn
                .query_row(
                    &format!("SELECT count(*), coalesce(sum(hash({cols})::HUGEINT), 0)::VARCHAR FROM temp.main.{side}"),
                    [],
                    |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?)),
                )
                .map_err(db_error("computing checksums"))
        };
        let (source_rows, source_sum) = sums("verify_cmp_src")?;
        let (replica_rows, replica_sum) = sums("verify_cmp_rep")?;
        let equal = source_rows == replica_rows && source_sum == replica_sum;
        if !equal {
            self.conn.execute_batch(&diff_sql(v, i)).map_err(db_error("listing the differing rows"))?;
        }
        Ok(ChunkOutcome { source_rows, replica_rows, equal })
    }

    /// Counts of the differing keys of `t`, with up to `samples` keys of each kind.
    pub fn differences(&self, t: TableId, samples: usize) -> Result<Differences, Error> {
        let mut out = Differences::default();
        for kind in DiffKind::ALL {
            let n: i64 = self
                .conn
                .query_row(
                    &format!("SELECT count(*) FROM temp.main.verify_diff_{} WHERE __kind = ?", t.0),
                    [kind.as_str()],
                    |r| r.get(0),
                )
                .map_err(db_error("counting the differences"))?;
            match kind {
                DiffKind::Missing => out.missing = n as u64,
                DiffKind::Extra => out.extra = n as u64,
                DiffKind::Different => out.different = n as u64,
            }
            if n > 0 {
                out.samples.insert(kind.as_str(), self.keys(t, Some(kind), Some(samples))?);
            }
        }
        Ok(out)
    }

    /// Every differing key of `t`, as the key columns' source texts.
    pub fn difference_keys(&self, t: TableId) -> Result<Vec<Vec<String>>, Error> {
        self.keys(t, None, None)
    }

    /// The keys set by [`Replica::scope_to_differences`], as the key columns' source texts.
    pub fn kept_keys(&self, t: TableId) -> Result<Vec<Vec<String>>, Error> {
        self.key_texts(t, &format!("temp.main.verify_keys_{}", t.0), "", "")
    }

    fn keys(&self, t: TableId, kind: Option<DiffKind>, limit: Option<usize>) -> Result<Vec<Vec<String>>, Error> {
        let filter = kind.map(|k| format!("WHERE __kind = '{}'", k.as_str())).unwrap_or_default();
        let limit = limit.map(|n| format!("LIMIT {n}")).unwrap_or_default();
        self.key_texts(t, &format!("temp.main.verify_diff_{}", t.0), &filter, &limit)
    }

    /// The keys in the temp table `table`, in key order, rendered as source texts.
    fn key_texts(&self, t: TableId, table: &str, filter: &str, limit: &str) -> Result<Vec<Vec<String>>, Error> {
        let v = &self.tables[t.0];
        let key = v.schema.key_indices();
        let rendered: Vec<String> = key.iter().map(|&j| source_text(&v.types[j], &key_column(v, j))).collect();
        let ordered: Vec<String> = key.iter().map(|&j| key_column(v, j)).collect();
        let sql =
            format!("SELECT {} FROM {table} {filter} ORDER BY {} {limit}", rendered.join(", "), ordered.join(", "));
        let mut stmt = self.conn.prepare(&sql).map_err(db_error("listing the differing keys"))?;
        let rows = stmt
            .query_map([], |r| (0..key.len()).map(|c| r.get::<_, String>(c)).collect::<Result<Vec<_>, _>>())
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(db_error("listing the differing keys"))?;
        Ok(rows)
    }

    /// Makes the differing keys of `t` the [`Scope::Keys`] of the next run, and forgets them as
    /// differences.
    pub fn scope_to_differences(&self, t: TableId) -> Result<(), Error> {
        let v = &self.tables[t.0];
        let i = t.0;
        self.conn
            .execute_batch(&format!(
                "DELETE FROM temp.main.verify_keys_{i};
                 INSERT INTO temp.main.verify_keys_{i} SELECT DISTINCT {keys} FROM temp.main.verify_diff_{i};
                 DELETE FROM temp.main.verify_diff_{i};",
                keys = key_list(&v.schema)
            ))
            .map_err(db_error("keeping the differing keys"))
    }

    /// Writes `batch` (re-copied rows and deletes of `schema`'s table) through the apply path
    /// and commits it, leaving the checkpoint as it is.
    pub fn repair(&self, schema: &TableSchema, batch: Batch) -> Result<(), Error> {
        let conn = self.conn.try_clone().map_err(db_error("opening a repair connection"))?;
        let mut destination = DuckDbDestination::on_connection(conn, &self.pipeline);
        let result = destination
            .ensure_table(schema)
            .and_then(|_| destination.apply(batch))
            .and_then(|_| destination.commit_without_checkpoint());
        if result.is_err() {
            let _ = destination.rollback();
        }
        result
    }
}

fn read_checkpoint(conn: &Connection, pipeline: &str) -> Result<Option<Lsn>, Error> {
    let lsn: Option<String> = conn
        .query_row("SELECT lsn FROM __siphon.checkpoint WHERE pipeline = ?", [pipeline], |r| r.get(0))
        .map(Some)
        .or_else(|e| if matches!(e, duckdb::Error::QueryReturnedNoRows) { Ok(None) } else { Err(e) })
        .map_err(db_error("reading the checkpoint"))?;
    lsn.map(|s| s.parse().map_err(|_| Error::fatal("the replica's checkpoint is corrupt").with_detail(s))).transpose()
}

fn conversion_error(table: &TableName, e: duckdb::Error) -> Error {
    Error::table(format!("verify: converting rows of {table} to the replica's types failed")).with_detail(e.to_string())
}

fn column_list(schema: &TableSchema) -> String {
    schema.columns.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ")
}

fn key_list(schema: &TableSchema) -> String {
    schema.key_indices().iter().map(|&j| quote_ident(&schema.columns[j].name)).collect::<Vec<_>>().join(", ")
}

fn key_column(v: &Verified, j: usize) -> String {
    quote_ident(&v.schema.columns[j].name)
}

/// The staged VARCHAR columns `alias.c<j>` converted to the destination types, one per column.
fn converted(v: &Verified, alias: &str) -> Vec<String> {
    v.types.iter().enumerate().map(|(j, ty)| convert_sql(ty, &format!("{alias}.c{j}"))).collect()
}

/// A replica value rendered as the source's text form would read it back (for key lists that
/// go to the source and into reports).
fn source_text(ty: &ColumnType, expr: &str) -> String {
    match ty.conversion {
        Conversion::Scalar(Scalar::Bytea) => format!("'\\x' || lower(hex({expr}))"),
        _ => format!("CAST({expr} AS VARCHAR)"),
    }
}

/// `a.k1 = b.k1 AND ...` over the key columns.
fn keys_equal(v: &Verified, a: &str, b: &str) -> String {
    v.schema
        .key_indices()
        .iter()
        .map(|&j| format!("{a}.{c} = {b}.{c}", c = key_column(v, j)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// A key value (source text) as a DuckDB literal of the column's destination type.
fn key_literal(v: &Verified, j: usize, text: &str) -> String {
    let prepared = prepare_text(v.types[j].conversion, text).map(|t| t.into_owned()).unwrap_or_else(|_| text.into());
    convert_sql(&v.types[j], &quote_literal(&prepared))
}

/// `alias`'s key is after `key` in lexicographic order of the key columns.
fn key_after(v: &Verified, alias: &str, key: &[String]) -> String {
    let cols = v.schema.key_indices();
    let terms: Vec<String> = (0..cols.len())
        .map(|n| {
            let mut parts: Vec<String> = (0..n)
                .map(|l| format!("{alias}.{} = {}", key_column(v, cols[l]), key_literal(v, cols[l], &key[l])))
                .collect();
            parts.push(format!("{alias}.{} > {}", key_column(v, cols[n]), key_literal(v, cols[n], &key[n])));
            format!("({})", parts.join(" AND "))
        })
        .collect();
    format!("({})", terms.join(" OR "))
}

/// The first key column's bound (`>=` or `<=` the key's first value): implied by a key range,
/// and simple enough for DuckDB to push into the table scan.
fn first_column_bound(v: &Verified, alias: &str, op: &str, key: &[String]) -> String {
    let first = v.schema.key_indices()[0];
    format!("{alias}.{} {op} {}", key_column(v, first), key_literal(v, first, &key[0]))
}

/// The predicate selecting `alias`'s rows in `scope`.
fn scope_sql(v: &Verified, i: usize, scope: Scope, alias: &str) -> String {
    match scope {
        Scope::All => "TRUE".into(),
        Scope::Range { after, through } => {
            let mut parts = vec!["TRUE".to_string()];
            if let Some(a) = after {
                parts.push(first_column_bound(v, alias, ">=", a));
                parts.push(key_after(v, alias, a));
            }
            if let Some(t) = through {
                parts.push(first_column_bound(v, alias, "<=", t));
                parts.push(format!("NOT {}", key_after(v, alias, t)));
            }
            parts.join(" AND ")
        }
        Scope::Keys => {
            format!("EXISTS (SELECT 1 FROM temp.main.verify_keys_{i} AS k WHERE {})", keys_equal(v, alias, "k"))
        }
    }
}

/// `base` with the merged changes folded in: keys they touch take their final state (unchanged
/// TOAST columns from `base`'s row), deleted keys go, the rest of `base` stays.
fn folded(v: &Verified, i: usize, base: &str, scope: Scope) -> String {
    let delta = format!("temp.main.verify_delta_{i}");
    let kept = if v.truncated {
        String::new()
    } else {
        format!(
            "SELECT {cols} FROM {base} AS b WHERE NOT EXISTS (SELECT 1 FROM {delta} AS d WHERE {eq}) UNION ALL ",
            cols = column_list(&v.schema),
            eq = keys_equal(v, "d", "b")
        )
    };
    let merged: Vec<String> = v
        .schema
        .columns
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let c = quote_ident(&c.name);
            format!("CASE WHEN substr(d.__toast, {}, 1) = '1' THEN b.{c} ELSE d.{c} END AS {c}", j + 1)
        })
        .collect();
    format!(
        "{kept}SELECT {} FROM {delta} AS d LEFT JOIN {base} AS b ON {} WHERE d.__op = 'u' AND {}",
        merged.join(", "),
        keys_equal(v, "d", "b"),
        scope_sql(v, i, scope, "d")
    )
}

/// Merges the staged changes into the per-key final states: a new op replaces the old one,
/// except that unchanged TOAST columns of an upsert keep the value of an earlier upsert.
fn merge_sql(v: &Verified, i: usize) -> String {
    let key = v.schema.key_indices();
    let conv = converted(v, "n");
    let values: Vec<String> = v
        .schema
        .columns
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let c = quote_ident(&c.name);
            if key.contains(&j) {
                format!("{} AS {c}", conv[j])
            } else {
                format!(
                    "CASE WHEN substr(n.__toast, {p}, 1) = '1' AND o.__op = 'u' THEN o.{c} ELSE {} END AS {c}",
                    conv[j],
                    p = j + 1
                )
            }
        })
        .collect();
    let mask: Vec<String> = (1..=v.types.len())
        .map(|p| {
            format!("CASE WHEN substr(n.__toast, {p}, 1) = '1' THEN coalesce(CASE WHEN o.__op = 'u' THEN substr(o.__toast, {p}, 1) END, '1') ELSE '0' END")
        })
        .collect();
    let on: Vec<String> = key.iter().map(|&j| format!("o.{} = {}", key_column(v, j), conv[j])).collect();
    format!(
        "CREATE OR REPLACE TEMP TABLE verify_merge AS
             SELECT {values}, n.__op AS __op, {mask} AS __toast
             FROM temp.main.verify_dstage_{i} AS n LEFT JOIN temp.main.verify_delta_{i} AS o ON {on};
         DELETE FROM temp.main.verify_delta_{i} AS o USING temp.main.verify_merge AS m WHERE {eq};
         INSERT INTO temp.main.verify_delta_{i} SELECT * FROM temp.main.verify_merge;
         DELETE FROM temp.main.verify_dstage_{i};",
        values = values.join(", "),
        mask = mask.join(" || "),
        on = on.join(" AND "),
        eq = keys_equal(v, "o", "m"),
    )
}

/// Records the keys that differ between `verify_cmp_src` and `verify_cmp_rep`.
fn diff_sql(v: &Verified, i: usize) -> String {
    let keys = |alias: &str| -> String {
        v.schema.key_indices().iter().map(|&j| format!("{alias}.{}", key_column(v, j))).collect::<Vec<_>>().join(", ")
    };
    let distinct: Vec<String> =
        v.schema.columns.iter().map(|c| format!("s.{c} IS DISTINCT FROM r.{c}", c = quote_ident(&c.name))).collect();
    let (src, rep, diff) =
        ("temp.main.verify_cmp_src", "temp.main.verify_cmp_rep", format!("temp.main.verify_diff_{i}"));
    format!(
        "INSERT INTO {diff} SELECT {sk}, 'missing' FROM {src} AS s WHERE NOT EXISTS (SELECT 1 FROM {rep} AS r WHERE {eq});
         INSERT INTO {diff} SELECT {rk}, 'extra' FROM {rep} AS r WHERE NOT EXISTS (SELECT 1 FROM {src} AS s WHERE {eq});
         INSERT INTO {diff} SELECT {sk}, 'different' FROM {src} AS s JOIN {rep} AS r ON {eq} WHERE {distinct};",
        sk = keys("s"),
        rk = keys("r"),
        eq = keys_equal(v, "s", "r"),
        distinct = distinct.join(" OR ")
    )
}
