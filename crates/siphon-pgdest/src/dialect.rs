//! The SQL the destination runs, built from names and types only (no I/O).
//!
//! Identifiers are quoted with [`quote_ident`]; type names come from `format_type` (the source's,
//! checked with `to_regtype` at the destination, or the destination catalog's own), never from
//! row data. Row values never appear in SQL text: they travel through `COPY` into a stage table
//! and are cast there.
//!
//! # The stage
//!
//! One temporary table per column count, `pg_temp.siphon_stage_<n>`: `op` (`u` upsert, `p`
//! partial upsert, `d` delete), `keep` (for `p`: one character per column, `1` where the
//! destination keeps its stored value — an unchanged TOAST value the source did not send) and
//! `c0 .. c<n-1>`, every value as text. A table's batch is applied from it by
//!
//! ```text
//!   DELETE FROM t USING stage WHERE op = 'd' AND t.key = c_key::type
//!   INSERT INTO t SELECT c0::type, ... WHERE op = 'u' ON CONFLICT (key) DO UPDATE SET ...
//!   UPDATE t SET c = CASE WHEN keep says so THEN t.c ELSE c::type END ... WHERE op = 'p'
//! ```
//!
//! Values are cast to the column's type *without* its modifier ([`DestColumn::cast`]); the
//! assignment to the column then applies the modifier as an `INSERT` of the value would, so a
//! value too long for `varchar(3)` is an error where an explicit `::varchar(3)` would cut it.

use siphon_core::schema::{quote_ident, TableName};

/// A column as the destination's catalog describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestColumn {
    pub name: String,
    /// `format_type(atttypid, atttypmod)`: the declared type, e.g. `numeric(12,2)`.
    pub declared: String,
    /// `format_type(atttypid, -1)`: the type without its modifier, which staged text is cast to
    /// (`"bit"`, not `bit`, which would mean `bit(1)`).
    pub cast: String,
}

/// A column to create: name, type, and whether it is NOT NULL.
pub struct NewColumn<'a> {
    pub name: &'a str,
    pub type_name: &'a str,
    pub not_null: bool,
}

/// The stage table for rows of `columns` columns (in `pg_temp`).
pub fn stage_name(columns: usize) -> String {
    format!("siphon_stage_{columns}")
}

pub fn create_stage(columns: usize) -> String {
    let cols: String = (0..columns).map(|i| format!(", c{i} text")).collect();
    format!("CREATE TEMP TABLE IF NOT EXISTS {} (op \"char\" NOT NULL, keep text{cols})", stage_name(columns))
}

pub fn copy_into_stage(columns: usize) -> String {
    format!("COPY pg_temp.{} FROM STDIN", stage_name(columns))
}

pub fn clear_stage(columns: usize) -> String {
    format!("TRUNCATE pg_temp.{}", stage_name(columns))
}

pub fn create_table(table: &TableName, columns: &[NewColumn<'_>], key: &[&str]) -> String {
    let mut defs: Vec<String> = columns
        .iter()
        .map(|c| format!("{} {}{}", quote_ident(c.name), c.type_name, if c.not_null { " NOT NULL" } else { "" }))
        .collect();
    defs.push(format!("PRIMARY KEY ({})", key.iter().map(|k| quote_ident(k)).collect::<Vec<_>>().join(", ")));
    format!("CREATE TABLE {} ({})", table.quoted(), defs.join(", "))
}

pub fn create_schema(schema: &str) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema))
}

pub fn add_column(table: &TableName, name: &str, type_name: &str) -> String {
    format!("ALTER TABLE {} ADD COLUMN {} {type_name}", table.quoted(), quote_ident(name))
}

/// The statements that apply a filled stage to one table.
pub struct Apply<'a> {
    /// The destination table.
    pub table: &'a TableName,
    /// One per source column, in source order: stage column `c<i>` holds column `i`.
    pub columns: &'a [DestColumn],
    /// Positions of the key columns.
    pub key: &'a [usize],
}

impl Apply<'_> {
    fn stage(&self) -> String {
        format!("pg_temp.{} AS s", stage_name(self.columns.len()))
    }

    fn value(&self, i: usize) -> String {
        format!("s.c{i}::{}", self.columns[i].cast)
    }

    fn key_match(&self) -> String {
        let conds: Vec<String> =
            self.key.iter().map(|&i| format!("t.{} = {}", quote_ident(&self.columns[i].name), self.value(i))).collect();
        conds.join(" AND ")
    }

    fn non_key(&self) -> impl Iterator<Item = (usize, &DestColumn)> {
        self.columns.iter().enumerate().filter(|(i, _)| !self.key.contains(i))
    }

    pub fn delete(&self) -> String {
        format!(
            "DELETE FROM {} AS t USING {} WHERE s.op = 'd' AND {}",
            self.table.quoted(),
            self.stage(),
            self.key_match()
        )
    }

    pub fn upsert(&self) -> String {
        let names: Vec<String> = self.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let values: Vec<String> = (0..self.columns.len()).map(|i| self.value(i)).collect();
        let keys: Vec<String> = self.key.iter().map(|&i| names[i].clone()).collect();
        let sets: Vec<String> = self.non_key().map(|(i, _)| format!("{0} = EXCLUDED.{0}", names[i])).collect();
        let action = if sets.is_empty() { "NOTHING".to_string() } else { format!("UPDATE SET {}", sets.join(", ")) };
        format!(
            "INSERT INTO {} ({}) SELECT {} FROM {} WHERE s.op = 'u' ON CONFLICT ({}) DO {action}",
            self.table.quoted(),
            names.join(", "),
            values.join(", "),
            self.stage(),
            keys.join(", ")
        )
    }

    /// Sets columns (by position) to text values in every row of the table: a TRUNCATE in
    /// soft-delete mode. Positions must be in range.
    pub fn update_all(&self, values: &[(usize, Option<&str>)]) -> String {
        let sets: Vec<String> = values
            .iter()
            .map(|(i, v)| {
                let c = &self.columns[*i];
                let value = v.map_or("NULL".to_string(), siphon_core::schema::quote_literal);
                format!("{} = {value}::text::{}", quote_ident(&c.name), c.cast)
            })
            .collect();
        format!("UPDATE {} SET {}", self.table.quoted(), sets.join(", "))
    }

    /// Rows that left some values out (`p`): those columns keep the stored value. `None` when
    /// every column is a key column (key values are always sent).
    pub fn partial_update(&self) -> Option<String> {
        let sets: Vec<String> = self
            .non_key()
            .map(|(i, c)| {
                let name = quote_ident(&c.name);
                format!(
                    "{name} = CASE WHEN substr(s.keep, {}, 1) = '1' THEN t.{name} ELSE {} END",
                    i + 1,
                    self.value(i)
                )
            })
            .collect();
        (!sets.is_empty()).then(|| {
            format!(
                "UPDATE {} AS t SET {} FROM {} WHERE s.op = 'p' AND {}",
                self.table.quoted(),
                sets.join(", "),
                self.stage(),
                self.key_match()
            )
        })
    }

    /// Diagnosis after a data error: assigns column `i`'s staged values to a scratch column of
    /// the declared type, exactly as the apply statements do. Runs inside a savepoint that is
    /// rolled back whether it fails or not.
    pub fn probe(&self, i: usize) -> String {
        let c = &self.columns[i];
        format!(
            "SAVEPOINT siphon_probe; CREATE TEMP TABLE siphon_probe (v {}) ON COMMIT DROP; \
             INSERT INTO siphon_probe SELECT {} FROM {}; ROLLBACK TO SAVEPOINT siphon_probe",
            c.declared,
            self.value(i),
            self.stage()
        )
    }
}

/// The session settings every destination connection runs with (after
/// [`siphon_postgres::connect::SESSION_OPTIONS`], which fix the text form of values):
///
/// - `synchronous_commit = on`: `COMMIT` returns only once the commit record is flushed to disk
///   (and to synchronous standbys, if the server has them), whatever the server's or role's
///   default — the checkpoint may be confirmed to the source only after that;
/// - no statement, lock or idle-in-transaction timeouts: one destination transaction legitimately
///   stays open while a large source transaction streams in;
/// - `READ COMMITTED`: the only writer of its tables needs nothing stronger, and cannot then fail
///   with serialization errors.
pub const SESSION_SETTINGS: &str = "SET synchronous_commit = on; SET statement_timeout = 0; SET lock_timeout = 0;
     SET idle_in_transaction_session_timeout = 0; SET default_transaction_isolation = 'read committed'";

/// siphon's own tables, with DuckDB's columns. Created under a transaction-scoped advisory lock,
/// so that two pipelines starting at once on one database do not race on `CREATE ... IF NOT
/// EXISTS` (which is not atomic in PostgreSQL).
pub const CREATE_STATE_TABLES: &str = "CREATE TABLE IF NOT EXISTS __siphon.checkpoint (
         pipeline text PRIMARY KEY, lsn text NOT NULL, committed_at timestamptz NOT NULL, source_identity text);
     ALTER TABLE __siphon.checkpoint ADD COLUMN IF NOT EXISTS gtid text;
     CREATE TABLE IF NOT EXISTS __siphon.snapshotted_tables (
         pipeline text, table_schema text, table_name text, PRIMARY KEY (pipeline, table_schema, table_name));
     CREATE TABLE IF NOT EXISTS __siphon.copy_chunks (
         pipeline text, job text, table_schema text, table_name text, chunk integer, mode text NOT NULL,
         lower_key text, upper_key text, done boolean NOT NULL, rows bigint NOT NULL,
         PRIMARY KEY (pipeline, job, table_schema, table_name, chunk))";

/// Serializes the creation of siphon's state tables across pipelines (transaction-scoped).
pub const LOCK_STATE_SETUP: &str =
    "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('siphon/setup', 0))";

/// The pipeline's writer lock (session-scoped): `$1` is `siphon/<pipeline>`.
pub const TRY_LOCK_PIPELINE: &str = "SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtextextended($1, 0))";

pub const SCHEMA_EXISTS: &str = "SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1)";

/// `$1` the quoted table name; no rows when the table does not exist.
pub const TABLE_COLUMNS: &str = "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
            pg_catalog.format_type(a.atttypid, -1)
     FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

/// `$1` type names; one boolean per name, in order.
pub const TYPES_EXIST: &str = "SELECT pg_catalog.to_regtype(n) IS NOT NULL
     FROM unnest($1::text[]) WITH ORDINALITY AS u(n, i) ORDER BY i";

/// `$1` type OIDs, `$2` their modifiers; the destination's name for each (NULL when it has no
/// type with that OID), in order.
pub const TYPE_NAMES: &str =
    "SELECT (SELECT pg_catalog.format_type(t.oid, u.typmod) FROM pg_catalog.pg_type t WHERE t.oid = u.oid)
     FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS u(oid, typmod, i) ORDER BY i";

pub const SAVE_CHECKPOINT: &str =
    "INSERT INTO __siphon.checkpoint AS c (pipeline, lsn, committed_at, source_identity, gtid)
     VALUES ($1, $2, now(), $3, $4)
     ON CONFLICT (pipeline) DO UPDATE SET lsn = excluded.lsn, committed_at = excluded.committed_at,
         source_identity = coalesce(excluded.source_identity, c.source_identity), gtid = excluded.gtid";

pub const SAVE_SNAPSHOTTED: &str = "INSERT INTO __siphon.snapshotted_tables
     SELECT $1, s, n FROM unnest($2::text[], $3::text[]) AS u(s, n) ON CONFLICT DO NOTHING";

pub const SAVE_CHUNKS: &str = "INSERT INTO __siphon.copy_chunks
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int4[], $6::text[], $7::text[], $8::text[],
                              $9::bool[], $10::int8[])
     ON CONFLICT (pipeline, job, table_schema, table_name, chunk) DO UPDATE SET mode = excluded.mode,
         lower_key = excluded.lower_key, upper_key = excluded.upper_key, done = excluded.done, rows = excluded.rows";

pub const DELETE_JOBS: &str = "DELETE FROM __siphon.copy_chunks WHERE pipeline = $1 AND job = ANY($2)";

pub const LOAD_CHECKPOINT: &str = "SELECT lsn, source_identity, gtid FROM __siphon.checkpoint WHERE pipeline = $1";

pub const LOAD_SNAPSHOTTED: &str =
    "SELECT table_schema, table_name FROM __siphon.snapshotted_tables WHERE pipeline = $1 ORDER BY 1, 2";

pub const LOAD_CHUNKS: &str = "SELECT job, table_schema, table_name, chunk, mode, lower_key, upper_key, done, rows
     FROM __siphon.copy_chunks WHERE pipeline = $1 ORDER BY job, table_schema, table_name, chunk";

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, declared: &str, cast: &str) -> DestColumn {
        DestColumn { name: name.into(), declared: declared.into(), cast: cast.into() }
    }

    fn orders() -> (TableName, Vec<DestColumn>) {
        let columns = vec![
            col("id", "bigint", "bigint"),
            col("Note \"x\"", "character varying(3)", "character varying"),
            col("amount", "numeric(12,2)", "numeric"),
        ];
        (TableName::new("public", "orders"), columns)
    }

    #[test]
    fn update_all_sets_quoted_literals_cast_to_each_column() {
        let (table, columns) = orders();
        let a = Apply { table: &table, columns: &columns, key: &[0] };
        assert_eq!(
            a.update_all(&[(1, Some("it's")), (2, None)]),
            "UPDATE \"public\".\"orders\" SET \"Note \"\"x\"\"\" = 'it''s'::text::character varying, \"amount\" = NULL::text::numeric"
        );
    }

    #[test]
    fn apply_statements_match_by_key_cast_without_modifiers_and_quote_names() {
        let (table, columns) = orders();
        let a = Apply { table: &table, columns: &columns, key: &[0] };
        assert_eq!(
            a.delete(),
            "DELETE FROM \"public\".\"orders\" AS t USING pg_temp.siphon_stage_3 AS s WHERE s.op = 'd' AND t.\"id\" = s.c0::bigint"
        );
        assert_eq!(
            a.upsert(),
            "INSERT INTO \"public\".\"orders\" (\"id\", \"Note \"\"x\"\"\", \"amount\") \
             SELECT s.c0::bigint, s.c1::character varying, s.c2::numeric FROM pg_temp.siphon_stage_3 AS s WHERE s.op = 'u' \
             ON CONFLICT (\"id\") DO UPDATE SET \"Note \"\"x\"\"\" = EXCLUDED.\"Note \"\"x\"\"\", \"amount\" = EXCLUDED.\"amount\""
        );
        assert_eq!(
            a.partial_update().unwrap(),
            "UPDATE \"public\".\"orders\" AS t SET \
             \"Note \"\"x\"\"\" = CASE WHEN substr(s.keep, 2, 1) = '1' THEN t.\"Note \"\"x\"\"\" ELSE s.c1::character varying END, \
             \"amount\" = CASE WHEN substr(s.keep, 3, 1) = '1' THEN t.\"amount\" ELSE s.c2::numeric END \
             FROM pg_temp.siphon_stage_3 AS s WHERE s.op = 'p' AND t.\"id\" = s.c0::bigint"
        );
    }

    #[test]
    fn a_table_of_key_columns_only_ignores_conflicts_and_has_no_partial_update() {
        let columns = vec![col("a", "text", "text"), col("b", "integer", "integer")];
        let table = TableName::new("s", "pairs");
        let a = Apply { table: &table, columns: &columns, key: &[0, 1] };
        assert!(a.upsert().ends_with("ON CONFLICT (\"a\", \"b\") DO NOTHING"), "{}", a.upsert());
        assert_eq!(a.partial_update(), None);
        assert!(a.delete().ends_with("t.\"a\" = s.c0::text AND t.\"b\" = s.c1::integer"), "{}", a.delete());
    }

    #[test]
    fn tables_get_their_key_as_primary_key() {
        let cols = [
            NewColumn { name: "id", type_name: "integer", not_null: false },
            NewColumn { name: "v", type_name: "numeric(12,2)[]", not_null: true },
        ];
        assert_eq!(
            create_table(&TableName::new("my schema", "t"), &cols, &["id"]),
            "CREATE TABLE \"my schema\".\"t\" (\"id\" integer, \"v\" numeric(12,2)[] NOT NULL, PRIMARY KEY (\"id\"))"
        );
        assert_eq!(
            create_stage(2),
            "CREATE TEMP TABLE IF NOT EXISTS siphon_stage_2 (op \"char\" NOT NULL, keep text, c0 text, c1 text)"
        );
    }
}
