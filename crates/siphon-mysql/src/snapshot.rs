//! Copying tables at a consistent snapshot whose binlog position is known exactly.
//!
//! ```text
//!   begin(conn) ──► START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY
//!                   + the binlog position of that snapshot = C          (returned as an Lsn)
//!   copy_chunk(conn, range) ──► SELECT ... WHERE (k1, k2) >= (..) AND (k1, k2) < (..) ORDER BY k
//!                   (binary protocol, character_set_results = binary; values -> text.rs)
//!   end(conn) ──► COMMIT
//!   stream from C: every transaction committed after the snapshot, none before.
//! ```
//!
//! # Why the position is exact
//!
//! * **MariaDB** (lock-free): with the binlog enabled, `START TRANSACTION WITH CONSISTENT
//!   SNAPSHOT` takes the InnoDB read view and the binlog position *under the same lock the
//!   group commit holds*, and reports that position in the session status variables
//!   `Binlog_snapshot_file` / `Binlog_snapshot_position`: transactions whose commit is in the
//!   binlog before it are in the snapshot, those after it are not
//!   (<https://mariadb.com/kb/en/enhancements-for-start-transaction-with-consistent-snapshot/>).
//! * **MySQL** has no such variable: `begin` takes `FLUSH TABLES WITH READ LOCK` (needs
//!   `RELOAD`), starts the snapshot transaction, reads `SHOW MASTER STATUS` / `SHOW BINARY LOG
//!   STATUS` and releases the lock at once; writes wait for that instant only. Without the
//!   privilege `begin` fails with an error naming it. (Not tested here: no MySQL server.)
//!
//! Each connection has its own snapshot (MySQL cannot share one across sessions): chunks
//! copied on several connections are each consistent with the position their `begin` returned.
//!
//! # Key ranges
//!
//! Chunks are ranges of the primary key in the server's own order (its collation for text), so
//! ranges cut from a sorted key sample partition the key space. Key bounds are stored as text
//! ([`KeyRange`]) in a form that turns back into a literal comparing in that order: numbers as
//! decimal text, temporal values as `YYYY-MM-DD hh:mm:ss[.ffffff]`, ENUM/SET/BIT as their
//! numeric value, strings and binary strings as the hex of their stored bytes (a string literal
//! with the column's character set introducer, so the column's collation applies). Bounds are
//! validated before use.

use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use siphon_core::copy::{ranges_from_sample, AsyncRowSink, KeyRange};
use siphon_core::row::Datum;
use siphon_core::schema::TableSchema;
use siphon_core::{Error, Lsn};

use crate::catalog::{self, Flavor};
use crate::connect::classify;
use crate::position::BinlogPosition;
use crate::text::pg_text;

/// Key samples per planned chunk.
const SAMPLES_PER_CHUNK: u64 = 64;

/// `` `db`.`table` ``
pub fn quoted(schema: &TableSchema) -> String {
    format!("{}.{}", ident(&schema.name.schema), ident(&schema.name.name))
}

fn ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// The table's estimated row count (`information_schema.TABLES.TABLE_ROWS`, or an exact count
/// when the estimate is 0).
pub async fn estimate_rows(conn: &mut Conn, schema: &TableSchema) -> Result<u64, Error> {
    let what = format!("could not estimate the size of {}", schema.name);
    let est: Option<Option<u64>> = conn
        .exec_first(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (&schema.name.schema, &schema.name.name),
        )
        .await
        .map_err(|e| classify(e, &what))?;
    match est.flatten() {
        Some(n) if n > 0 => Ok(n),
        _ => {
            let n: Option<u64> = conn
                .query_first(format!("SELECT COUNT(*) FROM {}", quoted(schema)))
                .await
                .map_err(|e| classify(e, &what))?;
            Ok(n.unwrap_or(0))
        }
    }
}

/// How a key column's bound is written as text and read back as a literal.
#[derive(Clone, Debug, PartialEq, Eq)]
enum KeyClass {
    /// Decimal text (ENUM, SET and BIT by their numeric value).
    Number { plus_zero: bool },
    /// `YYYY-MM-DD hh:mm:ss[.ffffff]` (or a part of it).
    Temporal,
    /// Hex of the stored bytes, read back with the character set's introducer.
    Text { charset: String },
    /// Hex of the bytes.
    Binary,
}

#[derive(Clone, Debug)]
struct KeyColumn {
    name: String,
    class: KeyClass,
}

async fn key_columns(conn: &mut Conn, schema: &TableSchema) -> Result<Vec<KeyColumn>, Error> {
    let rows: Vec<(String, String, Option<String>)> = conn
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (&schema.name.schema, &schema.name.name),
        )
        .await
        .map_err(|e| classify(e, &format!("could not read the key columns of {}", schema.name)))?;
    let mut out = Vec::new();
    for c in schema.columns.iter().filter(|c| c.is_key) {
        let (_, data_type, charset) = rows
            .iter()
            .find(|r| r.0 == c.name)
            .ok_or_else(|| Error::table(format!("key column {} of {} is gone", c.name, schema.name)))?;
        let class = match data_type.to_ascii_lowercase().as_str() {
            "enum" | "set" | "bit" => KeyClass::Number { plus_zero: true },
            "date" | "datetime" | "timestamp" | "time" => KeyClass::Temporal,
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => match charset.as_deref() {
                Some(cs) if cs != "binary" => KeyClass::Text { charset: cs.to_string() },
                _ => KeyClass::Binary,
            },
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => KeyClass::Binary,
            _ => KeyClass::Number { plus_zero: false },
        };
        out.push(KeyColumn { name: c.name.clone(), class });
    }
    if out.is_empty() {
        return Err(Error::table(format!("table {} has no primary key", schema.name)));
    }
    Ok(out)
}

fn key_text_expr(k: &KeyColumn) -> String {
    let c = ident(&k.name);
    match &k.class {
        KeyClass::Number { plus_zero: true } => format!("CAST({c} + 0 AS CHAR)"),
        KeyClass::Number { plus_zero: false } | KeyClass::Temporal => format!("CAST({c} AS CHAR)"),
        KeyClass::Text { .. } | KeyClass::Binary => format!("HEX({c})"),
    }
}

fn key_literal(k: &KeyColumn, v: &str) -> Result<String, Error> {
    let ok = match &k.class {
        KeyClass::Number { .. } => !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)),
        KeyClass::Temporal => !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b" :.-".contains(&b)),
        KeyClass::Text { charset } => {
            v.len().is_multiple_of(2)
                && v.bytes().all(|b| b.is_ascii_hexdigit())
                && charset.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }
        KeyClass::Binary => v.len().is_multiple_of(2) && v.bytes().all(|b| b.is_ascii_hexdigit()),
    };
    if !ok {
        return Err(Error::fatal(format!("invalid key bound for column {}", k.name))
            .with_detail("a stored chunk bound does not have the form this column's bounds have"));
    }
    Ok(match &k.class {
        KeyClass::Number { .. } => v.to_string(),
        KeyClass::Temporal => format!("'{v}'"),
        KeyClass::Text { charset } => format!("_{charset} X'{v}'"),
        KeyClass::Binary => format!("X'{v}'"),
    })
}

fn range_condition(keys: &[KeyColumn], range: &KeyRange) -> Result<String, Error> {
    let cols = format!("({})", keys.iter().map(|k| ident(&k.name)).collect::<Vec<_>>().join(", "));
    let tuple = |vals: &[String]| -> Result<String, Error> {
        if vals.len() != keys.len() {
            return Err(Error::fatal("a stored chunk bound has the wrong number of key columns"));
        }
        let lits = keys.iter().zip(vals).map(|(k, v)| key_literal(k, v)).collect::<Result<Vec<_>, _>>()?;
        Ok(format!("({})", lits.join(", ")))
    };
    let mut conds = Vec::new();
    if let Some(l) = &range.lower {
        conds.push(format!("{cols} >= {}", tuple(l)?));
    }
    if let Some(u) = &range.upper {
        conds.push(format!("{cols} < {}", tuple(u)?));
    }
    Ok(if conds.is_empty() { "TRUE".into() } else { conds.join(" AND ") })
}

/// Splits the table into key ranges of about `chunk_rows` rows (`estimated_rows` from
/// [`estimate_rows`]), from every n-th key in key order (an index-only scan).
pub async fn plan_chunks(
    conn: &mut Conn,
    schema: &TableSchema,
    estimated_rows: u64,
    chunk_rows: u64,
) -> Result<Vec<KeyRange>, Error> {
    let wanted = estimated_rows.div_ceil(chunk_rows.max(1));
    if wanted <= 1 {
        return Ok(vec![KeyRange::default()]);
    }
    let keys = key_columns(conn, schema).await?;
    let step = (estimated_rows / (wanted * SAMPLES_PER_CHUNK)).max(1);
    let order = keys.iter().map(|k| ident(&k.name)).collect::<Vec<_>>().join(", ");
    let texts =
        keys.iter().enumerate().map(|(i, k)| format!("{} AS k{i}", key_text_expr(k))).collect::<Vec<_>>().join(", ");
    let outer = (0..keys.len()).map(|i| format!("k{i}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {outer} FROM (SELECT {texts}, ROW_NUMBER() OVER (ORDER BY {order}) AS rn FROM {}) s
         WHERE rn % {step} = 0 ORDER BY rn",
        quoted(schema)
    );
    let rows: Vec<Row> =
        conn.query(sql).await.map_err(|e| classify(e, &format!("could not sample the keys of {}", schema.name)))?;
    let sample: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| (0..keys.len()).map(|i| r.get::<Option<String>, _>(i).flatten().unwrap_or_default()).collect())
        .collect();
    Ok(ranges_from_sample(&sample, wanted as usize))
}

/// Starts a read-only consistent-snapshot transaction on `conn` and returns the binlog position
/// it corresponds to exactly (see the module doc). `conn` is then used for [`copy_chunk`] and
/// closed with [`end`].
pub async fn begin(conn: &mut Conn) -> Result<Lsn, Error> {
    let what = "could not start the snapshot transaction";
    let flavor = catalog::flavor(conn).await?;
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ").await.map_err(|e| classify(e, what))?;
    let (file, pos) = match flavor {
        Flavor::MariaDb => {
            conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                .await
                .map_err(|e| classify(e, what))?;
            let rows: Vec<(String, String)> =
                conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'").await.map_err(|e| classify(e, what))?;
            let get = |name: &str| rows.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
            let file = get("Binlog_snapshot_file").filter(|f| !f.is_empty()).ok_or_else(|| {
                Error::fatal("the server reports no binlog snapshot position")
                    .with_hint("enable the binary log (log_bin)")
            })?;
            let pos: u64 = get("Binlog_snapshot_position").and_then(|p| p.parse().ok()).unwrap_or(0);
            (file, pos)
        }
        Flavor::MySql => {
            conn.query_drop("FLUSH TABLES WITH READ LOCK")
                .await
                .map_err(|e| classify(e, "could not take FLUSH TABLES WITH READ LOCK for the snapshot position"))?;
            let started = async {
                conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                    .await
                    .map_err(|e| classify(e, what))?;
                catalog::master_status(conn).await
            }
            .await;
            conn.query_drop("UNLOCK TABLES").await.map_err(|e| classify(e, what))?;
            started?
        }
    };
    conn.query_drop("SET character_set_results = NULL").await.map_err(|e| classify(e, what))?;
    BinlogPosition::new(file, pos)?.to_lsn()
}

/// Reads the rows of `range` of `schema`'s table inside the transaction [`begin`] started,
/// handing them to `sink` in pieces of `piece_rows`, in the text form the stream produces.
/// Returns the number of rows.
pub async fn copy_chunk(
    conn: &mut Conn,
    schema: &TableSchema,
    range: &KeyRange,
    piece_rows: usize,
    mut sink: impl AsyncRowSink,
) -> Result<u64, Error> {
    let what = format!("could not copy table {}", schema.name);
    let (catalog_schema, kinds) = catalog::table_kinds(conn, &schema.name).await?;
    if catalog_schema.columns.iter().map(|c| &c.name).ne(schema.columns.iter().map(|c| &c.name)) {
        return Err(Error::table(format!("the columns of {} changed since it was planned", schema.name))
            .with_hint("the copy restarts with the new schema"));
    }
    let keys = key_columns(conn, schema).await?;
    let cols = schema.columns.iter().map(|c| ident(&c.name)).collect::<Vec<_>>().join(", ");
    let order = keys.iter().map(|k| ident(&k.name)).collect::<Vec<_>>().join(", ");
    let sql =
        format!("SELECT {cols} FROM {} WHERE {} ORDER BY {order}", quoted(schema), range_condition(&keys, range)?);
    let mut result = conn.exec_iter(sql, ()).await.map_err(|e| classify(e, &what))?;
    let mut total = 0u64;
    let mut piece = Vec::with_capacity(piece_rows.min(10_000));
    {
        let mut rows =
            result.stream::<Row>().await.map_err(|e| classify(e, &what))?.ok_or_else(|| Error::fatal(what.clone()))?;
        while let Some(row) = rows.next().await {
            let row = row.map_err(|e| classify(e, &what))?;
            let values = row.unwrap();
            let mut out = Vec::with_capacity(values.len());
            for ((v, kind), col) in values.iter().zip(&kinds).zip(&schema.columns) {
                let text = pg_text(kind, v).map_err(|e| {
                    Error::table(format!("cannot copy a value of column {} of {}", col.name, schema.name))
                        .with_detail(e.to_string())
                })?;
                out.push(Datum::from(text));
            }
            piece.push(out);
            total += 1;
            if piece.len() >= piece_rows.max(1) {
                sink.rows(std::mem::take(&mut piece)).await?;
            }
        }
    }
    if !piece.is_empty() {
        sink.rows(piece).await?;
    }
    Ok(total)
}

/// Ends the snapshot transaction.
pub async fn end(conn: &mut Conn) -> Result<(), Error> {
    conn.query_drop("COMMIT").await.map_err(|e| classify(e, "could not end the snapshot transaction"))?;
    conn.query_drop("SET character_set_results = utf8mb4").await.map_err(|e| classify(e, "could not reset the session"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_become_validated_literals() {
        let keys = vec![
            KeyColumn { name: "a".into(), class: KeyClass::Number { plus_zero: false } },
            KeyColumn { name: "b`c".into(), class: KeyClass::Text { charset: "latin1".into() } },
        ];
        let r = KeyRange { lower: Some(vec!["-12".into(), "41E9".into()]), upper: None };
        assert_eq!(range_condition(&keys, &r).unwrap(), "(`a`, `b``c`) >= (-12, _latin1 X'41E9')");
        let evil = KeyRange { lower: Some(vec!["1) OR (1".into(), "41".into()]), upper: None };
        assert!(range_condition(&keys, &evil).is_err());
        assert_eq!(range_condition(&keys, &KeyRange::default()).unwrap(), "TRUE");
    }
}
