//! The PostgreSQL destination: the source's tables in another PostgreSQL database, with the
//! source's exact column types.
//!
//! # What it creates
//!
//! - For a source table `s.t`: the schema `<schema_prefix>s` when it does not exist, and the table
//!   `t` in it — the source's columns in the source's order, each with the source's type (or
//!   `text`, see [`types`]), `NOT NULL` where the source has it, and a `PRIMARY KEY` on the
//!   source's key columns. A column added at the source is added with `ALTER TABLE ... ADD
//!   COLUMN` before the first row that has it. A table that already exists is used as it is:
//!   values are cast to *its* declared types, and it needs a primary key or unique index on the
//!   key columns.
//! - The schema `__siphon` with `checkpoint`, `snapshotted_tables` and `copy_chunks` (the DuckDB
//!   destination's tables and columns), one row set per pipeline name.
//!
//! # Why a commit is atomic
//!
//! Everything the runtime applies between two commits — rows, `TRUNCATE`s, and the DDL of
//! `ensure_table` — runs inside **one PostgreSQL transaction**, opened by the first call after a
//! commit. [`Destination::commit`] writes the checkpoint rows (position, snapshotted tables, copy
//! chunks) in that same transaction and commits it. A PostgreSQL commit is one WAL record:
//! after a crash of anything, the database holds all of the transaction or none of it, so it holds
//! either the old data with the old checkpoint or the new data with the new checkpoint. Other
//! sessions see the transaction's effects all at once, when it commits: a reader never sees part
//! of a source transaction, nor data without its checkpoint. (PostgreSQL's one exception:
//! `TRUNCATE` is not MVCC-safe — a `REPEATABLE READ` reader whose snapshot predates a committed
//! `TRUNCATE` sees the table empty, as it would at the source.)
//!
//! # Why it is durable
//!
//! The session runs with `synchronous_commit = on` ([`dialect::SESSION_SETTINGS`]), whatever the
//! server's default: `COMMIT` returns only once its WAL record is flushed to disk (and to the
//! synchronous standbys the server names, if any). Only then does `commit` return, and only then
//! does the runtime confirm the position to the source. (A server running with `fsync = off`
//! gives up this guarantee for everything it stores; siphon cannot restore it.)
//!
//! If the connection breaks during `COMMIT`, whether it committed is unknown. The error is
//! transient: the runtime reconnects, and reads the checkpoint back — it says which outcome
//! happened, and streaming resumes after it. The pipeline's advisory lock (see `session.rs`)
//! makes that read wait until the old session is gone, so a commit still in flight is never
//! missed.
//!
//! # How a batch is applied
//!
//! ```text
//!   TableBatch (one op per key)
//!     │  COPY, text format ──► pg_temp.siphon_stage_<n>  (op, keep, c0 .. cn: text)
//!     ▼
//!   TRUNCATE t                                               (truncate_first)
//!   UPDATE t SET __siphon_deleted = true, ...                (update_all_first: soft TRUNCATE)
//!   DELETE FROM t USING stage WHERE op = 'd' AND key = ...   deletes before upserts, as the
//!   INSERT INTO t SELECT ... WHERE op = 'u'                  contract says
//!        ON CONFLICT (key) DO UPDATE SET ...
//!   UPDATE t SET c = CASE keep ... WHERE op = 'p'            unchanged TOAST values: kept
//!   TRUNCATE stage
//! ```
//!
//! The statements after the `COPY` go in one round trip ([`dialect`] has them). `INSERT ... ON
//! CONFLICT` rather than `MERGE`: it works on every PostgreSQL version siphon supports, and for
//! the tables' only writer `MERGE` would add nothing.
//!
//! # Errors
//!
//! A lost connection is transient (the runtime reconnects); a value or constraint the destination
//! refuses stops the pipeline naming the table and the column; see [`error`].

pub mod dialect;
pub mod error;
mod session;
pub mod types;

use std::collections::HashMap;

use bytes::Bytes;
use siphon_core::batch::{Batch, RowOp, TableBatch};
use siphon_core::config::Secret;
use siphon_core::destination::{Checkpoint, ChunkRecord, Destination, DestinationError};
use siphon_core::position::Lsn;
use siphon_core::row::{Datum, RowBlock};
use siphon_core::schema::{Column, TableName, TableSchema};
use siphon_core::Error;
use siphon_postgres::connect::Endpoint;
use siphon_postgres::protocol::copy_text::encode_row;
use siphon_postgres::PgConnector;

use dialect::{Apply, DestColumn, NewColumn};
use error::{ColumnTypes, SqlError};
use session::{Connected, Session};
use types::Lookup;

/// PostgreSQL limits identifiers to 63 bytes and cuts longer ones silently.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// Options for the destination.
#[derive(Clone, Debug)]
pub struct PgDestOptions {
    /// `destination.url`.
    pub url: Secret,
    /// The pipeline whose checkpoint this database stores.
    pub pipeline: String,
    /// Prepended to each source schema name (`destination.schema_prefix`).
    pub schema_prefix: Option<String>,
}

/// A table ready for rows: where they go and how they are cast.
#[derive(Clone)]
struct TableState {
    target: TableName,
    /// The destination column of each source column, in source order.
    columns: Vec<DestColumn>,
    /// The source's type of each column, for error hints.
    source_types: Vec<String>,
    key: Vec<usize>,
}

pub struct PgDestination {
    session: Session,
    pipeline: String,
    schema_prefix: String,
    /// Prepared by `ensure_table` in this connection and transaction; cleared on rollback and
    /// reconnect (their DDL and stage tables may be gone).
    tables: HashMap<TableName, TableState>,
}

impl PgDestination {
    /// Parses the URL; connects on first use.
    pub fn new(opts: &PgDestOptions) -> Result<Self, Error> {
        let connector = PgConnector::for_endpoint(
            Endpoint::Destination,
            &opts.url,
            &format!("siphon-{}-destination", opts.pipeline),
        )?;
        Ok(PgDestination {
            session: Session::new(connector, &opts.pipeline)?,
            pipeline: opts.pipeline.clone(),
            schema_prefix: opts.schema_prefix.clone().unwrap_or_default(),
            tables: HashMap::new(),
        })
    }

    /// The destination table of the source table `name`.
    pub fn target(&self, name: &TableName) -> Result<TableName, Error> {
        let schema = format!("{}{}", self.schema_prefix, name.schema);
        if schema.len() > MAX_IDENTIFIER_BYTES {
            return Err(Error::fatal(format!(
                "the destination schema for {name} would be {schema:?}, longer than PostgreSQL's {MAX_IDENTIFIER_BYTES} bytes"
            ))
            .with_hint("shorten destination.schema_prefix"));
        }
        Ok(TableName::new(schema, name.name.clone()))
    }

    /// Opens a connection if there is no live one; a new one has no prepared tables.
    fn connect(&mut self) -> Result<(), Error> {
        if self.session.connect()? == Connected::Fresh {
            self.tables.clear();
        }
        Ok(())
    }

    /// Opens a transaction (connecting first if this is the first call of all).
    fn begin(&mut self, what: &str) -> Result<(), Error> {
        if !self.session.ever_connected() {
            self.connect()?;
        }
        self.session.begin().map_err(|e| e.classify(what))
    }

    /// The destination's columns of `table` (none when it does not exist).
    fn read_columns(&mut self, table: &TableName) -> Result<Vec<DestColumn>, SqlError> {
        let rows = self.session.query(dialect::TABLE_COLUMNS, &[&table.quoted()])?;
        Ok(rows.iter().map(|r| DestColumn { name: r.get(0), declared: r.get(1), cast: r.get(2) }).collect())
    }

    /// The type each of `columns` is created with (see [`types`]).
    fn resolve_types(&mut self, columns: &[&Column]) -> Result<Vec<String>, SqlError> {
        let lookups: Vec<Lookup<'_>> = columns.iter().map(|c| types::lookup(&c.source_type)).collect();
        let names: Vec<&str> =
            lookups.iter().filter_map(|l| if let Lookup::Name(n) = l { Some(*n) } else { None }).collect();
        let exists: HashMap<&str, bool> = names.iter().copied().zip(self.types_exist(&names)?).collect();
        let (oids, modifiers): (Vec<u32>, Vec<i32>) = lookups
            .iter()
            .filter_map(|l| if let Lookup::BuiltIn { oid, modifier } = l { Some((*oid, *modifier)) } else { None })
            .unzip();
        let rows =
            if oids.is_empty() { Vec::new() } else { self.session.query(dialect::TYPE_NAMES, &[&oids, &modifiers])? };
        let mut built_in = rows.iter().map(|r| r.get::<_, Option<String>>(0));
        Ok(columns
            .iter()
            .zip(&lookups)
            .map(|(c, l)| {
                let found = match l {
                    Lookup::Name(n) => exists.get(n).copied().unwrap_or(false).then(|| n.to_string()),
                    Lookup::BuiltIn { .. } => built_in.next().flatten(),
                    Lookup::Nothing => None,
                };
                types::column_type(&c.source_type, found.as_deref())
            })
            .collect())
    }

    /// Whether each type name exists at the destination. PostgreSQL before 16 raises an error
    /// (instead of answering NULL) for a name its parser rejects: then each is asked alone.
    fn types_exist(&mut self, names: &[&str]) -> Result<Vec<bool>, SqlError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        self.session.batch("SAVEPOINT siphon_types")?;
        match self.session.query(dialect::TYPES_EXIST, &[&names]) {
            Ok(rows) => {
                self.session.batch("RELEASE SAVEPOINT siphon_types")?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            }
            Err(e) if !e.connection_lost() => {
                self.session.rollback_to("siphon_types")?;
                self.session.batch("RELEASE SAVEPOINT siphon_types")?;
                match names {
                    [_] => Ok(vec![false]),
                    _ => names.iter().map(|n| Ok(self.types_exist(&[*n])?[0])).collect(),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Creates the table (and its schema when missing).
    fn create_table(&mut self, schema: &TableSchema, target: &TableName, types: &[String]) -> Result<(), SqlError> {
        let exists: bool = self.session.query(dialect::SCHEMA_EXISTS, &[&target.schema])?[0].get(0);
        let columns: Vec<NewColumn<'_>> = schema
            .columns
            .iter()
            .zip(types)
            .map(|(c, t)| NewColumn { name: &c.name, type_name: t, not_null: !c.nullable })
            .collect();
        let key: Vec<&str> = schema.key_indices().iter().map(|&i| schema.columns[i].name.as_str()).collect();
        let mut sql = if exists { String::new() } else { format!("{};\n", dialect::create_schema(&target.schema)) };
        sql.push_str(&dialect::create_table(target, &columns, &key));
        self.session.batch(&sql)
    }

    /// The table state for rows of `schema`, preparing the table when its columns differ.
    fn prepared(&mut self, schema: &TableSchema) -> Result<TableState, Error> {
        // Around a schema change, rows of the old and the new shape can follow each other (and a
        // copy reads the catalog's newest shape): apply each with its own columns.
        let prepared = self.tables.get(&schema.name).is_some_and(|s| {
            s.columns.len() == schema.columns.len()
                && s.columns.iter().zip(&schema.columns).all(|(a, b)| a.name == b.name)
        });
        if !prepared {
            self.ensure_table(schema)?;
        }
        let name = &schema.name;
        self.tables
            .get(name)
            .cloned()
            .ok_or_else(|| Error::fatal(format!("table {name} was not prepared before its rows arrived")))
    }

    /// Upserts copied rows (a block's): the batch path's stage and upsert, without a batch.
    fn apply_copied(&mut self, schema: &TableSchema, block: &RowBlock) -> Result<(), Error> {
        if block.is_empty() {
            return Ok(());
        }
        let state = self.prepared(schema)?;
        let staged = Staged::encode_copied(block, &state, &schema.name)?;
        let apply = Apply { table: &state.target, columns: &state.columns, key: &state.key };
        let width = state.columns.len();
        let statements = [apply.upsert(), dialect::clear_stage(width)];
        let result = self
            .session
            .copy_in(&dialect::copy_into_stage(width), &staged.data)
            .and_then(|_| self.session.batch(&statements.join(";\n")));
        result.map_err(|e| self.explain(&schema.name, &staged.data, e))
    }

    /// Applies one table's batch: see the module doc.
    fn apply_table(&mut self, tb: TableBatch) -> Result<(), Error> {
        let name = tb.schema.name.clone();
        // Key moves that left TOASTed values out read the row they leave before the deletes.
        let state = self.prepared(&tb.schema)?;
        for op in tb.ops() {
            if let RowOp::Move { from, row } = op {
                let (sql, args) = move_statement(&state, from, row);
                let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                    args.iter().map(|a| a as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
                self.session
                    .execute(&sql, &params)
                    .map_err(|e| e.classify(&format!("could not apply a key update to {}", state.target)))?;
            }
        }
        let state = &state;
        let staged = Staged::encode(&tb, state)?;
        let apply = Apply { table: &state.target, columns: &state.columns, key: &state.key };
        let mut statements = Vec::new();
        if tb.truncate_first {
            statements.push(format!("TRUNCATE {}", state.target.quoted()));
        }
        if !tb.update_all_first.is_empty() {
            if tb.update_all_first.iter().any(|(i, _)| *i >= state.columns.len()) {
                return Err(Error::fatal(format!("a soft truncate of {name} names a column it lacks")));
            }
            let values: Vec<(usize, Option<&str>)> =
                tb.update_all_first.iter().map(|(i, d)| (*i, d.as_text())).collect();
            statements.push(apply.update_all(&values));
        }
        if staged.deletes > 0 {
            statements.push(apply.delete());
        }
        if staged.upserts > 0 {
            statements.push(apply.upsert());
        }
        if staged.partials > 0 {
            statements.extend(apply.partial_update());
        }
        let width = state.columns.len();
        if staged.rows() > 0 {
            statements.push(dialect::clear_stage(width));
        }
        if statements.is_empty() {
            return Ok(());
        }
        let result = match staged.rows() {
            0 => Ok(0),
            _ => self.session.copy_in(&dialect::copy_into_stage(width), &staged.data),
        }
        .and_then(|_| self.session.batch(&statements.join(";\n")));
        result.map_err(|e| self.explain(&name, &staged.data, e))
    }

    /// The error for a failed apply to `name`; a data or constraint error names the column.
    fn explain(&mut self, name: &TableName, data: &Bytes, e: SqlError) -> Error {
        let Some(state) = self.tables.get(name).cloned() else {
            return e.classify(&format!("could not apply changes to {name}"));
        };
        if !e.is_data_error() {
            return e.classify(&format!("could not apply changes to {}", state.target));
        }
        let column = match e.column() {
            Some(c) => state.columns.iter().position(|d| d.name == c),
            None if e.code().is_some_and(|c| c.starts_with("22")) => self.find_column(&state, data),
            None => None,
        };
        let column = column.map(|i| ColumnTypes {
            name: &state.columns[i].name,
            declared: &state.columns[i].declared,
            source: &state.source_types[i],
        });
        e.in_table(&state.target, column)
    }

    /// After a data error: which column's values the destination refuses. The transaction is
    /// aborted, so it is rolled back here (the runtime rolls back after any error anyway); the
    /// staged rows are loaded again and each column assigned to its declared type on its own.
    fn find_column(&mut self, state: &TableState, data: &Bytes) -> Option<usize> {
        self.session.rollback().ok()?;
        self.tables.clear();
        let width = state.columns.len();
        let apply = Apply { table: &state.target, columns: &state.columns, key: &state.key };
        let mut probe = || -> Result<Option<usize>, SqlError> {
            self.session.begin()?;
            self.session.batch(&dialect::create_stage(width))?;
            self.session.copy_in(&dialect::copy_into_stage(width), data)?;
            for i in 0..width {
                match self.session.batch(&apply.probe(i)) {
                    Ok(()) => {}
                    Err(e) if !e.connection_lost() => return Ok(Some(i)),
                    Err(e) => return Err(e),
                }
            }
            Ok(None)
        };
        let found = probe();
        self.session.rollback().ok();
        found.ok().flatten()
    }
}

/// A table batch in COPY text form, for the stage.
struct Staged {
    data: Bytes,
    deletes: usize,
    upserts: usize,
    partials: usize,
}

impl Staged {
    fn rows(&self) -> usize {
        self.deletes + self.upserts + self.partials
    }

    fn encode(tb: &TableBatch, state: &TableState) -> Result<Staged, Error> {
        let width = state.columns.len();
        let mut staged = Staged { data: Bytes::new(), deletes: 0, upserts: 0, partials: 0 };
        let mut data = Vec::new();
        for op in tb.ops() {
            match op {
                RowOp::Upsert(row) if row.len() != width => {
                    return Err(Error::fatal(format!(
                        "a row of {} has {} values for {width} columns",
                        tb.schema.name,
                        row.len()
                    )))
                }
                RowOp::Upsert(row) if row.contains(&Datum::UnchangedToast) => {
                    let keep: String =
                        row.iter().map(|d| if *d == Datum::UnchangedToast { '1' } else { '0' }).collect();
                    let mut fields = vec![Some("p"), Some(keep.as_str())];
                    fields.extend(row.iter().map(Datum::as_text));
                    encode_row(&fields, &mut data);
                    staged.partials += 1;
                }
                RowOp::Upsert(row) => {
                    let mut fields = vec![Some("u"), None];
                    fields.extend(row.iter().map(Datum::as_text));
                    encode_row(&fields, &mut data);
                    staged.upserts += 1;
                }
                RowOp::Move { .. } => {} // applied before the stage (see apply_table)
                RowOp::Delete(key) => {
                    let mut fields = vec![None; width + 2];
                    fields[0] = Some("d");
                    for (d, &i) in key.iter().zip(&state.key) {
                        fields[i + 2] = d.as_text();
                    }
                    encode_row(&fields, &mut data);
                    staged.deletes += 1;
                }
            }
        }
        staged.data = Bytes::from(data);
        Ok(staged)
    }
}

impl Staged {
    /// Copied rows as upserts (`u`, no keep mask, the values).
    fn encode_copied(block: &RowBlock, state: &TableState, table: &TableName) -> Result<Staged, Error> {
        let width = state.columns.len();
        if block.columns() != width {
            return Err(Error::fatal(format!("a row of {table} has {} values for {width} columns", block.columns())));
        }
        let mut data = Vec::with_capacity(block.text_bytes() + block.len() * (width + 6));
        let mut fields: Vec<Option<&str>> = Vec::with_capacity(width + 2);
        for row in block.rows() {
            fields.clear();
            fields.extend([Some("u"), None]);
            fields.extend(row);
            encode_row(&fields, &mut data);
        }
        Ok(Staged { data: Bytes::from(data), deletes: 0, upserts: block.len(), partials: 0 })
    }
}

/// `INSERT ... SELECT` of a row under its new key, taking the columns it left out (unchanged
/// TOAST values) from the stored row under `from`; with its text parameters.
fn move_statement(state: &TableState, from: &[Datum], row: &[Datum]) -> (String, Vec<Option<String>>) {
    let q = siphon_core::schema::quote_ident;
    let mut args: Vec<Option<String>> = Vec::new();
    let param = |v: Option<&str>, cast: &str, args: &mut Vec<Option<String>>| {
        args.push(v.map(str::to_string));
        format!("${}::text::{cast}", args.len())
    };
    let exprs: Vec<String> = row
        .iter()
        .zip(&state.columns)
        .map(|(d, c)| match d {
            Datum::UnchangedToast => q(&c.name),
            d => param(d.as_text(), &c.cast, &mut args),
        })
        .collect();
    let conds: Vec<String> = from
        .iter()
        .zip(&state.key)
        .map(|(d, &i)| {
            format!("{} = {}", q(&state.columns[i].name), param(d.as_text(), &state.columns[i].cast, &mut args))
        })
        .collect();
    let cols: Vec<String> = state.columns.iter().map(|c| q(&c.name)).collect();
    let keys: Vec<String> = state.key.iter().map(|&i| q(&state.columns[i].name)).collect();
    let sets: Vec<String> = cols.iter().map(|c| format!("{c} = EXCLUDED.{c}")).collect();
    let sql = format!(
        "INSERT INTO {t} ({}) SELECT {} FROM {t} WHERE {} ON CONFLICT ({}) DO UPDATE SET {}",
        cols.join(", "),
        exprs.join(", "),
        conds.join(" AND "),
        keys.join(", "),
        sets.join(", "),
        t = state.target.quoted()
    );
    (sql, args)
}

/// The last record of each chunk, in order: one commit may carry a chunk planned and then done,
/// and one `INSERT ... ON CONFLICT` cannot change a row twice.
fn last_per_chunk(chunks: &[ChunkRecord]) -> Vec<&ChunkRecord> {
    let mut last: HashMap<(&str, &TableName, u32), usize> = HashMap::new();
    for (i, c) in chunks.iter().enumerate() {
        last.insert((c.job.as_str(), &c.table, c.chunk), i);
    }
    chunks
        .iter()
        .enumerate()
        .filter(|(i, c)| last[&(c.job.as_str(), &c.table, c.chunk)] == *i)
        .map(|(_, c)| c)
        .collect()
}

impl Destination for PgDestination {
    fn describe(&self) -> String {
        format!("postgres:{}", self.session.describe())
    }

    fn load_checkpoint(&mut self) -> Result<Option<Checkpoint>, DestinationError> {
        self.connect()?;
        let err = |e: SqlError| e.classify("could not read the checkpoint at the destination");
        let rows = self.session.query(dialect::LOAD_CHECKPOINT, &[&self.pipeline]).map_err(err)?;
        let Some(row) = rows.first() else { return Ok(None) };
        let lsn: Lsn = row.get::<_, String>(0).parse().map_err(|e: siphon_core::position::LsnParseError| {
            Error::fatal("the stored checkpoint is corrupt").with_detail(e.to_string())
        })?;
        let source_identity: Option<String> = row.get(1);
        let gtid: Option<String> = row.get(2);
        let tables = self.session.query(dialect::LOAD_SNAPSHOTTED, &[&self.pipeline]).map_err(err)?;
        let snapshotted_tables =
            tables.iter().map(|r| TableName::new(r.get::<_, String>(0), r.get::<_, String>(1))).collect();
        Ok(Some(Checkpoint { lsn, snapshotted_tables, source_identity, gtid, ..Checkpoint::default() }))
    }

    fn load_chunks(&mut self) -> Result<Vec<ChunkRecord>, DestinationError> {
        self.connect()?;
        let rows = self
            .session
            .query(dialect::LOAD_CHUNKS, &[&self.pipeline])
            .map_err(|e| e.classify("could not read copy progress at the destination"))?;
        Ok(rows
            .iter()
            .map(|r| ChunkRecord {
                job: r.get(0),
                table: TableName::new(r.get::<_, String>(1), r.get::<_, String>(2)),
                chunk: r.get::<_, i32>(3) as u32,
                mode: r.get(4),
                lower: r.get(5),
                upper: r.get(6),
                done: r.get(7),
                rows: r.get::<_, i64>(8) as u64,
            })
            .collect())
    }

    fn add_columns(&mut self, table: &TableName, columns: &[Column]) -> Result<(), DestinationError> {
        let target = self.target(table)?;
        let what = format!("could not add columns to {target} at the destination");
        self.begin(&what)?;
        let err = |e: SqlError| e.classify(&what);
        let existing = self.read_columns(&target).map_err(err)?;
        let missing: Vec<&Column> = columns.iter().filter(|c| !existing.iter().any(|d| d.name == c.name)).collect();
        if existing.is_empty() || missing.is_empty() {
            return Ok(());
        }
        let types = self.resolve_types(&missing).map_err(err)?;
        let sql: Vec<String> = missing
            .iter()
            .zip(&types)
            .map(|(c, t)| {
                dialect::add_column(&target, &c.name, t).replacen("ADD COLUMN", "ADD COLUMN IF NOT EXISTS", 1)
            })
            .collect();
        self.session.batch(&sql.join(";\n")).map_err(err)
    }

    fn change_columns(
        &mut self,
        table: &TableName,
        retyped: &[Column],
        dropped: &[String],
    ) -> Result<(), DestinationError> {
        let target = self.target(table)?;
        let what = format!("could not change columns of {target} at the destination");
        self.begin(&what)?;
        let err = |e: SqlError| e.classify(&what);
        let refs: Vec<&Column> = retyped.iter().collect();
        let types = self.resolve_types(&refs).map_err(err)?;
        let q = siphon_core::schema::quote_ident;
        let mut sql: Vec<String> = retyped
            .iter()
            .zip(&types)
            .map(|(c, t)| {
                format!(
                    "ALTER TABLE {} ALTER COLUMN {} TYPE {t} USING {}::{t}",
                    target.quoted(),
                    q(&c.name),
                    q(&c.name)
                )
            })
            .collect();
        sql.extend(dropped.iter().map(|d| format!("ALTER TABLE {} DROP COLUMN IF EXISTS {}", target.quoted(), q(d))));
        if !sql.is_empty() {
            self.session.batch(&sql.join(";\n")).map_err(|e| {
                e.classify(&what).with_hint(format!(
                    "the source changed the table's columns; copy it again: siphon backfill {table} --mode truncate (after dropping the destination table if its columns cannot change)"
                ))
            })?;
        }
        // Rows are staged for the table's columns as they were: prepare again on the next rows.
        self.tables.remove(table);
        Ok(())
    }

    fn rename_columns(&mut self, table: &TableName, renamed: &[(String, String)]) -> Result<(), DestinationError> {
        if renamed.is_empty() {
            return Ok(());
        }
        let target = self.target(table)?;
        let what = format!("could not rename columns of {target} at the destination");
        self.begin(&what)?;
        let q = siphon_core::schema::quote_ident;
        let sql: Vec<String> = renamed
            .iter()
            .map(|(old, new)| format!("ALTER TABLE {} RENAME COLUMN {} TO {}", target.quoted(), q(old), q(new)))
            .collect();
        self.session.batch(&sql.join(";\n")).map_err(|e| e.classify(&what))?;
        self.tables.remove(table);
        Ok(())
    }

    fn ensure_table(&mut self, schema: &TableSchema) -> Result<(), DestinationError> {
        if !schema.has_key() {
            return Err(Error::table(format!("table {} has no primary key", schema.name))
                .with_hint("add a primary key to the source table (or a replica identity index)"));
        }
        let target = self.target(&schema.name)?;
        let what = format!("could not prepare table {target} at the destination");
        let err = |e: SqlError| e.classify(&what);
        self.begin(&what)?;
        let mut existing = self.read_columns(&target).map_err(err)?;
        let missing: Vec<&Column> =
            schema.columns.iter().filter(|c| !existing.iter().any(|d| d.name == c.name)).collect();
        if !missing.is_empty() {
            let types = self.resolve_types(&missing).map_err(err)?;
            if existing.is_empty() {
                self.create_table(schema, &target, &types).map_err(err)?;
            } else {
                let sql: Vec<String> =
                    missing.iter().zip(&types).map(|(c, t)| dialect::add_column(&target, &c.name, t)).collect();
                self.session.batch(&sql.join(";\n")).map_err(err)?;
            }
            existing = self.read_columns(&target).map_err(err)?;
        }
        let columns: Vec<DestColumn> = schema
            .columns
            .iter()
            .map(|c| existing.iter().find(|d| d.name == c.name).cloned())
            .collect::<Option<_>>()
            .ok_or_else(|| Error::fatal(format!("{what}: a column it was given is missing")))?;
        self.session.batch(&dialect::create_stage(columns.len())).map_err(err)?;
        let source_types = schema.columns.iter().map(|c| c.source_type.name.clone()).collect();
        self.tables
            .insert(schema.name.clone(), TableState { target, columns, source_types, key: schema.key_indices() });
        Ok(())
    }

    fn apply(&mut self, batch: Batch) -> Result<(), DestinationError> {
        self.begin("could not start a destination transaction")?;
        for tb in batch.into_tables() {
            self.apply_table(tb)?;
        }
        Ok(())
    }

    fn apply_block(&mut self, table: &std::sync::Arc<TableSchema>, block: RowBlock) -> Result<(), DestinationError> {
        self.begin("could not start a destination transaction")?;
        self.apply_copied(table, &block)
    }

    fn commit(&mut self, cp: &Checkpoint) -> Result<(), DestinationError> {
        let what = "could not write the checkpoint at the destination";
        let err = |e: SqlError| e.classify(what);
        self.begin(what)?;
        let lsn = cp.lsn.to_string();
        self.session
            .execute(dialect::SAVE_CHECKPOINT, &[&self.pipeline, &lsn, &cp.source_identity, &cp.gtid])
            .map_err(err)?;
        if !cp.snapshotted_tables.is_empty() {
            let (schemas, names): (Vec<&str>, Vec<&str>) =
                cp.snapshotted_tables.iter().map(|t| (t.schema.as_str(), t.name.as_str())).unzip();
            self.session.execute(dialect::SAVE_SNAPSHOTTED, &[&self.pipeline, &schemas, &names]).map_err(err)?;
        }
        let chunks = last_per_chunk(&cp.chunks);
        if !chunks.is_empty() {
            let col = |f: fn(&ChunkRecord) -> &str| chunks.iter().map(|c| f(c)).collect::<Vec<_>>();
            let opt = |f: fn(&ChunkRecord) -> Option<&str>| chunks.iter().map(|c| f(c)).collect::<Vec<_>>();
            let (jobs, schemas, names, modes) = (
                col(|c| c.job.as_str()),
                col(|c| c.table.schema.as_str()),
                col(|c| c.table.name.as_str()),
                col(|c| c.mode.as_str()),
            );
            let (lowers, uppers) = (opt(|c| c.lower.as_deref()), opt(|c| c.upper.as_deref()));
            let numbers: Vec<i32> = chunks.iter().map(|c| c.chunk as i32).collect();
            let done: Vec<bool> = chunks.iter().map(|c| c.done).collect();
            let rows: Vec<i64> = chunks.iter().map(|c| c.rows as i64).collect();
            self.session
                .execute(
                    dialect::SAVE_CHUNKS,
                    &[&self.pipeline, &jobs, &schemas, &names, &numbers, &modes, &lowers, &uppers, &done, &rows],
                )
                .map_err(err)?;
        }
        if !cp.finished_jobs.is_empty() {
            self.session.execute(dialect::DELETE_JOBS, &[&self.pipeline, &cp.finished_jobs]).map_err(err)?;
        }
        self.session.commit()
    }

    fn rollback(&mut self) -> Result<(), DestinationError> {
        self.tables.clear();
        self.session.rollback()
    }

    fn count_rows(&mut self, table: &TableName) -> Result<Option<u64>, DestinationError> {
        let target = self.target(table)?;
        self.connect()?;
        let rows = self
            .session
            .query(&format!("SELECT count(*) FROM {}", target.quoted()), &[])
            .map_err(|e| e.classify(&format!("could not count the rows of {target}")))?;
        Ok(Some(rows[0].get::<_, i64>(0) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(job: &str, chunk: u32, done: bool) -> ChunkRecord {
        ChunkRecord {
            job: job.into(),
            table: TableName::new("public", "t"),
            chunk,
            mode: "truncate".into(),
            lower: None,
            upper: None,
            done,
            rows: 0,
        }
    }

    #[test]
    fn a_chunk_recorded_twice_in_one_commit_keeps_its_last_record() {
        let chunks = [record("j", 0, false), record("j", 1, false), record("j", 0, true), record("k", 0, false)];
        let kept: Vec<(&str, u32, bool)> =
            last_per_chunk(&chunks).iter().map(|c| (c.job.as_str(), c.chunk, c.done)).collect();
        assert_eq!(kept, vec![("j", 1, false), ("j", 0, true), ("k", 0, false)]);
    }
}
