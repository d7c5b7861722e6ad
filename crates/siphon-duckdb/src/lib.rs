//! The DuckDB destination: an embedded database file.
//!
//! # Why a commit is atomic and durable
//!
//! Everything the runtime applies between two commits runs inside **one DuckDB transaction**,
//! opened by the first `apply` after a commit. [`Destination::commit`] writes the checkpoint row
//! (`__siphon.checkpoint`) in that same transaction and then commits it; DuckDB writes and syncs
//! its write-ahead log on commit. So a crash at any point leaves either the old data with the old
//! checkpoint or the new data with the new one, and a reader (another connection) never sees part
//! of a source transaction.
//!
//! # How a batch is applied
//!
//! ```text
//!   Batch (per table, one op per key)
//!     │  append as VARCHAR rows (Appender) ──► temp.stage_<n> (__op, c0..cn)
//!     ▼
//!   DELETE FROM t USING stage WHERE __op = 'd' AND t.key = CAST(stage.key)
//!   INSERT OR REPLACE INTO t SELECT CAST(c0), ... FROM stage WHERE __op = 'u'
//!   UPDATE t SET <sent columns> WHERE key = ...     (rows with unchanged TOAST values only)
//!
//!   first of all, for a TRUNCATE in soft-delete mode (TableBatch::update_all_first):
//!   UPDATE t SET __siphon_deleted = true, ...
//!
//!   before the deletes, for a key update that left TOASTed values out (RowOp::Move):
//!   INSERT OR REPLACE INTO t SELECT <sent values, or the stored columns> FROM t WHERE key = old
//! ```
//!
//! Values travel as PostgreSQL text and are converted in SQL by [`types`]. Destination tables get
//! a PRIMARY KEY on the source's key columns, so `INSERT OR REPLACE` is an upsert.
//!
//! Tables without a primary key (or replica identity index) are refused by the source before
//! they reach this destination: without a key, an UPDATE or DELETE cannot name the row it
//! changes.

pub mod query;
pub mod types;
pub mod verify;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use duckdb::{appender_params_from_iter, params, Connection};
use siphon_core::batch::{Batch, RowOp, TableBatch};
use siphon_core::destination::{Checkpoint, ChunkRecord, Destination, DestinationError};
use siphon_core::position::Lsn;
use siphon_core::row::{Datum, Row, RowBlock};
use siphon_core::schema::{quote_ident, TableName, TableSchema};

use types::{convert_sql, map_type, prepare_text, ColumnType};

/// Options for opening the destination.
#[derive(Clone, Debug)]
pub struct DuckDbOptions {
    /// The database file.
    pub path: PathBuf,
    /// The pipeline whose checkpoint this file stores.
    pub pipeline: String,
    /// DuckDB's buffer-pool limit in MiB.
    pub memory_limit_mib: u64,
    /// Where DuckDB spills beyond its memory limit.
    pub temp_dir: PathBuf,
}

struct TableState {
    /// Destination column for each source column, in source order.
    columns: Vec<(String, ColumnType)>,
    key: Vec<usize>,
    stage: String,
}

pub struct DuckDbDestination {
    conn: Connection,
    path: PathBuf,
    pipeline: String,
    tables: HashMap<TableName, TableState>,
    in_transaction: bool,
    /// Stage tables created so far on this connection (names are `stage_<n>`).
    stages_created: usize,
}

fn db_err(what: &str) -> impl Fn(duckdb::Error) -> DestinationError + '_ {
    move |e| DestinationError::fatal(format!("duckdb: {what} failed")).with_detail(e.to_string())
}

impl DuckDbDestination {
    pub fn open(opts: &DuckDbOptions) -> Result<Self, DestinationError> {
        let config = duckdb::Config::default()
            .max_memory(&format!("{}MB", opts.memory_limit_mib))
            .and_then(|c| c.with("temp_directory", opts.temp_dir.to_string_lossy()))
            .and_then(|c| c.threads(2))
            .map_err(db_err("configuring"))?;
        let conn = Connection::open_with_flags(&opts.path, config).map_err(|e| {
            DestinationError::fatal(format!("could not open DuckDB file {}", opts.path.display()))
                .with_detail(e.to_string())
                .with_hint("another process may hold it open (DuckDB allows one writer); stop it or choose another destination.path")
        })?;
        conn.execute_batch(
            "CREATE SCHEMA IF NOT EXISTS __siphon;
             CREATE TABLE IF NOT EXISTS __siphon.checkpoint (
                 pipeline VARCHAR PRIMARY KEY, lsn VARCHAR NOT NULL, committed_at TIMESTAMPTZ NOT NULL);
             CREATE TABLE IF NOT EXISTS __siphon.snapshotted_tables (
                 pipeline VARCHAR, table_schema VARCHAR, table_name VARCHAR,
                 PRIMARY KEY (pipeline, table_schema, table_name));
             ALTER TABLE __siphon.checkpoint ADD COLUMN IF NOT EXISTS source_identity VARCHAR;
             ALTER TABLE __siphon.checkpoint ADD COLUMN IF NOT EXISTS gtid VARCHAR;
             CREATE TABLE IF NOT EXISTS __siphon.copy_chunks (
                 pipeline VARCHAR, job VARCHAR, table_schema VARCHAR, table_name VARCHAR, chunk INTEGER,
                 mode VARCHAR NOT NULL, lower_key VARCHAR, upper_key VARCHAR, done BOOLEAN NOT NULL,
                 rows BIGINT NOT NULL, PRIMARY KEY (pipeline, job, table_schema, table_name, chunk));",
        )
        .map_err(db_err("creating the state tables"))?;
        Ok(DuckDbDestination {
            conn,
            path: opts.path.clone(),
            pipeline: opts.pipeline.clone(),
            tables: HashMap::new(),
            in_transaction: false,
            stages_created: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A destination writing through `conn`, another connection to a database this process
    /// holds open, for [`verify::Replica::repair`]. Its commits leave the checkpoint alone.
    pub(crate) fn on_connection(conn: Connection, pipeline: &str) -> Self {
        DuckDbDestination {
            conn,
            path: PathBuf::new(),
            pipeline: pipeline.into(),
            tables: HashMap::new(),
            in_transaction: false,
            stages_created: 0,
        }
    }

    /// Commits what was applied since the last commit and leaves the checkpoint as it is: only
    /// `siphon verify --repair` writes outside the checkpoint rule (see [`verify`]).
    pub(crate) fn commit_without_checkpoint(&mut self) -> Result<(), DestinationError> {
        if self.in_transaction {
            self.conn.execute_batch("COMMIT").map_err(db_err("COMMIT"))?;
            self.in_transaction = false;
        }
        Ok(())
    }

    /// A read-only query service on this destination's database (a second connection).
    pub fn query_service(&self) -> Result<query::QueryService, DestinationError> {
        query::QueryService::attached(&self.conn)
    }

    fn begin(&mut self) -> Result<(), DestinationError> {
        if !self.in_transaction {
            self.conn.execute_batch("BEGIN TRANSACTION").map_err(db_err("BEGIN"))?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// The table's columns and their DuckDB types, in order; empty when it does not exist.
    fn existing_columns(&self, name: &TableName) -> Result<Vec<(String, String)>, DestinationError> {
        let mut stmt = self
            .conn
            .prepare("SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ? ORDER BY ordinal_position")
            .map_err(db_err("reading the catalog"))?;
        let rows = stmt
            .query_map(params![name.schema, name.name], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(db_err("reading the catalog"))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db_err("reading the catalog"))
    }

    fn create_table(&self, schema: &TableSchema, columns: &[(String, ColumnType)]) -> Result<(), DestinationError> {
        let mut defs: Vec<String> = columns
            .iter()
            .zip(&schema.columns)
            .map(|((name, ty), c)| {
                format!(
                    "{} {}{}",
                    quote_ident(name),
                    ty.sql_type,
                    if c.nullable || c.is_key { "" } else { " NOT NULL" }
                )
            })
            .collect();
        let key: Vec<String> = schema.key_indices().iter().map(|&i| quote_ident(&columns[i].0)).collect();
        defs.push(format!("PRIMARY KEY ({})", key.join(", ")));
        let sql = format!(
            "CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE {} ({})",
            quote_ident(&schema.name.schema),
            schema.name.quoted(),
            defs.join(", ")
        );
        self.conn.execute_batch(&sql).map_err(db_err("CREATE TABLE"))
    }

    /// A fresh temp table with an `__op` column and `columns` VARCHAR columns.
    fn create_stage(&mut self, columns: usize) -> Result<String, DestinationError> {
        self.stages_created += 1;
        let stage = format!("stage_{}", self.stages_created);
        let cols: Vec<String> = (0..columns).map(|i| format!("c{i} VARCHAR")).collect();
        let sql = format!("CREATE OR REPLACE TEMP TABLE {stage} (__op VARCHAR, {})", cols.join(", "));
        self.conn.execute_batch(&sql).map_err(db_err("creating a stage table"))?;
        Ok(stage)
    }

    /// Prepares the table for rows of `schema` when it was last prepared for other columns (around
    /// a schema change, rows of the old and the new schema can follow each other).
    fn prepare_for(&mut self, schema: &TableSchema) -> Result<(), DestinationError> {
        let same = self.tables.get(&schema.name).is_some_and(|s| {
            s.columns.len() == schema.columns.len() && s.columns.iter().zip(&schema.columns).all(|(a, b)| a.0 == b.name)
        });
        if same {
            Ok(())
        } else {
            self.ensure_table(schema)
        }
    }

    fn apply_table(&mut self, tb: TableBatch) -> Result<(), DestinationError> {
        self.prepare_for(&tb.schema)?;
        let name = tb.schema.name.clone();
        let state = self
            .tables
            .get(&name)
            .ok_or_else(|| DestinationError::fatal(format!("table {name} was not prepared before its rows arrived")))?;
        if tb.truncate_first {
            self.conn.execute(&format!("DELETE FROM {}", name.quoted()), []).map_err(db_err("TRUNCATE"))?;
        }
        if !tb.update_all_first.is_empty() {
            self.update_all(&name, &tb.update_all_first)?;
        }
        if tb.ops().next().is_none() {
            return Ok(());
        }
        let stage = state.stage.clone();
        self.conn.execute(&format!("DELETE FROM temp.main.{stage}"), []).map_err(db_err("clearing the stage"))?;
        let (partials, moves) = self.stage_rows(&tb, &name)?;
        // Moves read the rows they leave before the deletes remove them.
        for (from, row) in &moves {
            self.move_row(&name, from, row)?;
        }
        let state = &self.tables[&name];
        let (delete_sql, upsert_sql) = apply_statements(&name, state);
        self.conn.execute(&delete_sql, []).map_err(|e| cast_error(&name, "applying deletes", e))?;
        self.conn.execute(&upsert_sql, []).map_err(|e| cast_error(&name, "applying upserts", e))?;
        for row in partials {
            self.update_partial(&name, &row)?;
        }
        Ok(())
    }

    /// Upserts copied rows (each value as text, `None` for NULL) through the stage, staging each
    /// value without copying it when its type needs no conversion.
    fn apply_copied<'a, R>(
        &mut self,
        table: &std::sync::Arc<TableSchema>,
        rows: impl Iterator<Item = R>,
    ) -> Result<(), DestinationError>
    where
        R: Iterator<Item = Option<&'a str>>,
    {
        self.begin()?;
        self.prepare_for(table)?;
        let name = table.name.clone();
        let state = self
            .tables
            .get(&name)
            .ok_or_else(|| DestinationError::fatal(format!("table {name} was not prepared before its rows arrived")))?;
        let stage = state.stage.clone();
        self.conn.execute(&format!("DELETE FROM temp.main.{stage}"), []).map_err(db_err("clearing the stage"))?;
        {
            let mut appender = self
                .conn
                .appender_to_catalog_and_db(&stage, "temp", "main")
                .map_err(db_err("opening the stage appender"))?;
            let mut values: Vec<Option<Cow<'a, str>>> = Vec::with_capacity(state.columns.len() + 1);
            for row in rows {
                values.clear();
                values.push(Some(Cow::Borrowed("u")));
                for (v, (col, ty)) in row.zip(&state.columns) {
                    values.push(prepared_text(v, ty, &name, col)?);
                }
                appender.append_row(appender_params_from_iter(values.iter())).map_err(db_err("staging rows"))?;
            }
            appender.flush().map_err(db_err("staging rows"))?;
        }
        let (_, upsert_sql) = apply_statements(&name, state);
        self.conn.execute(&upsert_sql, []).map_err(|e| cast_error(&name, "applying copied rows", e))?;
        Ok(())
    }

    /// Appends the batch's full rows and deletes to the stage; returns the partial rows and the
    /// moves.
    #[allow(clippy::type_complexity)]
    fn stage_rows(
        &self,
        tb: &TableBatch,
        name: &TableName,
    ) -> Result<(Vec<Vec<Datum>>, Vec<(Vec<Datum>, Vec<Datum>)>), DestinationError> {
        let state = &self.tables[name];
        let mut appender = self
            .conn
            .appender_to_catalog_and_db(&state.stage, "temp", "main")
            .map_err(db_err("opening the stage appender"))?;
        let mut partials = Vec::new();
        let mut moves = Vec::new();
        let mut values: Vec<Option<String>> = Vec::with_capacity(state.columns.len() + 1);
        for op in tb.ops() {
            values.clear();
            match op {
                RowOp::Upsert(row) if row.contains(&Datum::UnchangedToast) => {
                    partials.push(row.clone());
                    continue;
                }
                RowOp::Move { from, row } => {
                    moves.push((from.clone(), row.clone()));
                    continue;
                }
                RowOp::Upsert(row) => {
                    values.push(Some("u".into()));
                    for (d, (col, ty)) in row.iter().zip(&state.columns) {
                        values.push(prepared(d, ty, name, col)?);
                    }
                }
                RowOp::Delete(key) => {
                    values.push(Some("d".into()));
                    values.resize(state.columns.len() + 1, None);
                    for (d, &i) in key.iter().zip(&state.key) {
                        values[i + 1] = prepared(d, &state.columns[i].1, name, &state.columns[i].0)?;
                    }
                }
            }
            appender.append_row(appender_params_from_iter(values.iter())).map_err(db_err("staging rows"))?;
        }
        appender.flush().map_err(db_err("staging rows"))?;
        Ok((partials, moves))
    }

    /// A key update that left TOASTed values out: the row under its new key, with the columns
    /// it did not send taken from the stored row under `from`.
    fn move_row(&self, name: &TableName, from: &[Datum], row: &[Datum]) -> Result<(), DestinationError> {
        let state = &self.tables[name];
        let mut exprs = Vec::new();
        let mut args: Vec<Option<String>> = Vec::new();
        for (d, (col, ty)) in row.iter().zip(&state.columns) {
            if *d == Datum::UnchangedToast {
                exprs.push(quote_ident(col));
            } else {
                exprs.push(convert_sql(ty, "?"));
                args.push(prepared(d, ty, name, col)?);
            }
        }
        let mut conds = Vec::new();
        for (d, &i) in from.iter().zip(&state.key) {
            let (col, ty) = &state.columns[i];
            conds.push(format!("{} = {}", quote_ident(col), convert_sql(ty, "?")));
            args.push(prepared(d, ty, name, col)?);
        }
        let cols: Vec<String> = state.columns.iter().map(|(c, _)| quote_ident(c)).collect();
        let sql = format!(
            "INSERT OR REPLACE INTO {t} ({}) SELECT {} FROM {t} WHERE {}",
            cols.join(", "),
            exprs.join(", "),
            conds.join(" AND "),
            t = name.quoted()
        );
        self.conn
            .execute(&sql, duckdb::params_from_iter(args.iter()))
            .map_err(|e| cast_error(name, "applying a key update with unchanged TOAST values", e))?;
        Ok(())
    }

    /// Sets `values` (column position, value) in every row: a TRUNCATE in soft-delete mode.
    fn update_all(&self, name: &TableName, values: &[(usize, Datum)]) -> Result<(), DestinationError> {
        let state = &self.tables[name];
        let mut sets = Vec::new();
        let mut args: Vec<Option<String>> = Vec::new();
        for (i, d) in values {
            let (col, ty) = state
                .columns
                .get(*i)
                .ok_or_else(|| DestinationError::fatal(format!("table {name} has no column {i} to update")))?;
            sets.push(format!("{} = {}", quote_ident(col), convert_sql(ty, "?")));
            args.push(prepared(d, ty, name, col)?);
        }
        let sql = format!("UPDATE {} SET {}", name.quoted(), sets.join(", "));
        self.conn
            .execute(&sql, duckdb::params_from_iter(args.iter()))
            .map_err(|e| cast_error(name, "marking every row", e))?;
        Ok(())
    }

    /// An update that left some TOASTed columns out: set only the columns it sent.
    fn update_partial(&self, name: &TableName, row: &[Datum]) -> Result<(), DestinationError> {
        let state = &self.tables[name];
        let mut sets = Vec::new();
        let mut args: Vec<Option<String>> = Vec::new();
        for (d, (col, ty)) in row.iter().zip(&state.columns) {
            if *d != Datum::UnchangedToast {
                sets.push(format!("{} = {}", quote_ident(col), convert_sql(ty, "?")));
                args.push(prepared(d, ty, name, col)?);
            }
        }
        let conds: Vec<String> = state
            .key
            .iter()
            .map(|&i| format!("{} = {}", quote_ident(&state.columns[i].0), convert_sql(&state.columns[i].1, "?")))
            .collect();
        for &i in &state.key {
            args.push(prepared(&row[i], &state.columns[i].1, name, &state.columns[i].0)?);
        }
        let sql = format!("UPDATE {} SET {} WHERE {}", name.quoted(), sets.join(", "), conds.join(" AND "));
        self.conn
            .execute(&sql, duckdb::params_from_iter(args.iter()))
            .map_err(|e| cast_error(name, "applying a partial update", e))?;
        Ok(())
    }
}

pub(crate) fn prepared(
    d: &Datum,
    ty: &ColumnType,
    table: &TableName,
    col: &str,
) -> Result<Option<String>, DestinationError> {
    Ok(prepared_text(d.as_text(), ty, table, col)?.map(Cow::into_owned))
}

/// [`prepared`] for a value as text (`None`: NULL), borrowing it when it needs no conversion.
fn prepared_text<'a>(
    v: Option<&'a str>,
    ty: &ColumnType,
    table: &TableName,
    col: &str,
) -> Result<Option<Cow<'a, str>>, DestinationError> {
    v.map(|t| prepare_text(ty.conversion, t)).transpose().map_err(|e| {
        DestinationError::table(format!("cannot convert a value of column {table}.{col} to DuckDB {}", ty.sql_type))
            .with_detail(e)
    })
}

fn cast_error(table: &TableName, what: &str, e: duckdb::Error) -> DestinationError {
    DestinationError::table(format!("duckdb: {what} to {table} failed")).with_detail(e.to_string())
}

/// The DELETE and INSERT OR REPLACE statements that apply a filled stage to its table.
fn apply_statements(name: &TableName, state: &TableState) -> (String, String) {
    let stage = format!("temp.main.{}", state.stage);
    let key_match: Vec<String> = state
        .key
        .iter()
        .map(|&i| {
            let (col, ty) = &state.columns[i];
            format!("t.{} = {}", quote_ident(col), convert_sql(ty, &format!("s.c{i}")))
        })
        .collect();
    let delete = format!(
        "DELETE FROM {} AS t USING {stage} AS s WHERE s.__op = 'd' AND {}",
        name.quoted(),
        key_match.join(" AND ")
    );
    let cols: Vec<String> = state.columns.iter().map(|(c, _)| quote_ident(c)).collect();
    let exprs: Vec<String> =
        state.columns.iter().enumerate().map(|(i, (_, ty))| convert_sql(ty, &format!("s.c{i}"))).collect();
    let upsert = format!(
        "INSERT OR REPLACE INTO {} ({}) SELECT {} FROM {stage} AS s WHERE s.__op = 'u'",
        name.quoted(),
        cols.join(", "),
        exprs.join(", ")
    );
    (delete, upsert)
}

impl Destination for DuckDbDestination {
    fn describe(&self) -> String {
        format!("duckdb:{}", self.path.display())
    }

    fn load_checkpoint(&mut self) -> Result<Option<Checkpoint>, DestinationError> {
        let row: Option<(String, Option<String>, Option<String>)> = self
            .conn
            .query_row(
                "SELECT lsn, source_identity, gtid FROM __siphon.checkpoint WHERE pipeline = ?",
                params![self.pipeline],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map(Some)
            .or_else(|e| if matches!(e, duckdb::Error::QueryReturnedNoRows) { Ok(None) } else { Err(e) })
            .map_err(db_err("reading the checkpoint"))?;
        let Some((lsn, source_identity, gtid)) = row else { return Ok(None) };
        let lsn: Lsn = lsn.parse().map_err(|e: siphon_core::position::LsnParseError| {
            DestinationError::fatal("the stored checkpoint is corrupt").with_detail(e.to_string())
        })?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT table_schema, table_name FROM __siphon.snapshotted_tables WHERE pipeline = ? ORDER BY 1, 2",
            )
            .map_err(db_err("reading the checkpoint"))?;
        let tables = stmt
            .query_map(params![self.pipeline], |r| Ok(TableName::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(db_err("reading the checkpoint"))?;
        Ok(Some(Checkpoint { lsn, snapshotted_tables: tables, source_identity, gtid, ..Checkpoint::default() }))
    }

    fn load_chunks(&mut self) -> Result<Vec<ChunkRecord>, DestinationError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT job, table_schema, table_name, chunk, mode, lower_key, upper_key, done, rows
                 FROM __siphon.copy_chunks WHERE pipeline = ? ORDER BY job, table_schema, table_name, chunk",
            )
            .map_err(db_err("reading copy progress"))?;
        let records = stmt
            .query_map(params![self.pipeline], |r| {
                Ok(ChunkRecord {
                    job: r.get(0)?,
                    table: TableName::new(r.get::<_, String>(1)?, r.get::<_, String>(2)?),
                    chunk: r.get::<_, i32>(3)? as u32,
                    mode: r.get(4)?,
                    lower: r.get(5)?,
                    upper: r.get(6)?,
                    done: r.get(7)?,
                    rows: r.get::<_, i64>(8)? as u64,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(db_err("reading copy progress"))?;
        Ok(records)
    }

    fn ensure_table(&mut self, schema: &TableSchema) -> Result<(), DestinationError> {
        if !schema.has_key() {
            return Err(DestinationError::table(format!("table {} has no primary key", schema.name))
                .with_hint("add a primary key to the source table (or a replica identity index)"));
        }
        self.begin()?;
        let existing = self.existing_columns(&schema.name)?;
        let columns: Vec<(String, ColumnType)> = schema
            .columns
            .iter()
            .map(|c| {
                let stored_as = existing.iter().find(|(name, _)| *name == c.name).map(|(_, ty)| ty.as_str());
                (c.name.clone(), types::keep_existing(map_type(&c.source_type), stored_as))
            })
            .collect();
        if existing.is_empty() {
            self.create_table(schema, &columns)?;
        } else {
            for (name, ty) in columns.iter().filter(|(n, _)| !existing.iter().any(|(e, _)| e == n)) {
                let sql =
                    format!("ALTER TABLE {} ADD COLUMN {} {}", schema.name.quoted(), quote_ident(name), ty.sql_type);
                self.conn.execute_batch(&sql).map_err(db_err("ALTER TABLE ADD COLUMN"))?;
            }
        }
        let stage = match self.tables.get(&schema.name) {
            Some(s) if s.columns.len() == columns.len() => s.stage.clone(),
            _ => self.create_stage(columns.len())?,
        };
        self.tables.insert(schema.name.clone(), TableState { columns, key: schema.key_indices(), stage });
        Ok(())
    }

    fn apply(&mut self, batch: Batch) -> Result<(), DestinationError> {
        self.begin()?;
        for tb in batch.into_tables() {
            self.apply_table(tb)?;
        }
        Ok(())
    }

    fn add_columns(
        &mut self,
        table: &TableName,
        columns: &[siphon_core::schema::Column],
    ) -> Result<(), DestinationError> {
        self.begin()?;
        for c in columns {
            let sql = format!(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}",
                table.quoted(),
                quote_ident(&c.name),
                map_type(&c.source_type).sql_type
            );
            self.conn.execute_batch(&sql).map_err(db_err("ALTER TABLE ADD COLUMN"))?;
        }
        Ok(())
    }

    fn rename_columns(&mut self, table: &TableName, renamed: &[(String, String)]) -> Result<(), DestinationError> {
        self.begin()?;
        for (old, new) in renamed {
            let sql =
                format!("ALTER TABLE {} RENAME COLUMN {} TO {}", table.quoted(), quote_ident(old), quote_ident(new));
            self.conn.execute_batch(&sql).map_err(|e| {
                DestinationError::table(format!("could not rename {table}.{old} to {new}")).with_detail(e.to_string())
            })?;
        }
        // Rows are staged for the table's current columns: prepare again on the next rows.
        self.tables.remove(table);
        Ok(())
    }

    fn change_columns(
        &mut self,
        table: &TableName,
        retyped: &[siphon_core::schema::Column],
        dropped: &[String],
    ) -> Result<(), DestinationError> {
        self.begin()?;
        for c in retyped {
            let ty = map_type(&c.source_type).sql_type;
            let sql =
                format!("ALTER TABLE {} ALTER COLUMN {} SET DATA TYPE {ty}", table.quoted(), quote_ident(&c.name));
            self.conn.execute_batch(&sql).map_err(|e| {
                DestinationError::table(format!("could not change the type of {table}.{} to {ty}", c.name))
                    .with_detail(e.to_string())
                    .with_hint(format!("the source changed the column's type; copy the table again: siphon backfill {table} --mode truncate (after dropping the destination table if its columns cannot change)"))
            })?;
        }
        for name in dropped {
            let sql = format!("ALTER TABLE {} DROP COLUMN IF EXISTS {}", table.quoted(), quote_ident(name));
            self.conn.execute_batch(&sql).map_err(db_err("ALTER TABLE DROP COLUMN"))?;
        }
        // Rows are staged for the table's current columns: prepare again on the next rows.
        self.tables.remove(table);
        Ok(())
    }

    fn apply_rows(&mut self, table: &std::sync::Arc<TableSchema>, rows: Vec<Row>) -> Result<(), DestinationError> {
        self.apply_copied(table, rows.iter().map(|r| r.iter().map(Datum::as_text)))
    }

    fn apply_block(&mut self, table: &std::sync::Arc<TableSchema>, block: RowBlock) -> Result<(), DestinationError> {
        self.apply_copied(table, block.rows())
    }

    fn commit(&mut self, checkpoint: &Checkpoint) -> Result<(), DestinationError> {
        self.begin()?;
        self.conn
            .execute(
                "INSERT INTO __siphon.checkpoint (pipeline, lsn, committed_at, source_identity, gtid) VALUES (?, ?, now(), ?, ?)
                 ON CONFLICT (pipeline) DO UPDATE SET lsn = excluded.lsn, committed_at = excluded.committed_at,
                     source_identity = coalesce(excluded.source_identity, source_identity), gtid = excluded.gtid",
                params![self.pipeline, checkpoint.lsn.to_string(), checkpoint.source_identity, checkpoint.gtid],
            )
            .map_err(db_err("writing the checkpoint"))?;
        for t in &checkpoint.snapshotted_tables {
            self.conn
                .execute(
                    "INSERT OR IGNORE INTO __siphon.snapshotted_tables VALUES (?, ?, ?)",
                    params![self.pipeline, t.schema, t.name],
                )
                .map_err(db_err("writing the checkpoint"))?;
        }
        for c in &checkpoint.chunks {
            self.conn
                .execute(
                    "INSERT OR REPLACE INTO __siphon.copy_chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        self.pipeline,
                        c.job,
                        c.table.schema,
                        c.table.name,
                        c.chunk as i32,
                        c.mode,
                        c.lower,
                        c.upper,
                        c.done,
                        c.rows as i64
                    ],
                )
                .map_err(db_err("recording copy progress"))?;
        }
        for job in &checkpoint.finished_jobs {
            self.conn
                .execute("DELETE FROM __siphon.copy_chunks WHERE pipeline = ? AND job = ?", params![self.pipeline, job])
                .map_err(db_err("recording copy progress"))?;
        }
        self.conn.execute_batch("COMMIT").map_err(db_err("COMMIT"))?;
        self.in_transaction = false;
        Ok(())
    }

    fn count_rows(&mut self, table: &TableName) -> Result<Option<u64>, DestinationError> {
        let n: i64 = self
            .conn
            .query_row(&format!("SELECT count(*) FROM {}", table.quoted()), [], |r| r.get(0))
            .map_err(db_err("counting rows"))?;
        Ok(Some(n as u64))
    }

    fn rollback(&mut self) -> Result<(), DestinationError> {
        if self.in_transaction {
            self.in_transaction = false;
            self.conn.execute_batch("ROLLBACK").map_err(db_err("ROLLBACK"))?;
        }
        // Stage tables created inside the rolled-back transaction are gone: recreate on demand.
        self.tables.clear();
        Ok(())
    }
}
