//! What the source server says about itself: tables, columns and keys
//! (`information_schema`), its identity, its binlog position and which binlog files it still
//! has. Read-only.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use siphon_core::schema::{Column, TableName, TableSchema};
use siphon_core::{Error, Lsn};

use crate::connect::classify;
use crate::position::{split_file_name, BinlogPosition};
use crate::tablemap::Collations;
use crate::types::{CatalogColumn, ColumnKind};

/// The server's flavour, for the statements that differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    MariaDb,
    MySql,
}

pub async fn flavor(conn: &mut Conn) -> Result<Flavor, Error> {
    let v: Option<String> =
        conn.query_first("SELECT VERSION()").await.map_err(|e| classify(e, "could not read the server version"))?;
    Ok(if v.unwrap_or_default().to_ascii_lowercase().contains("mariadb") { Flavor::MariaDb } else { Flavor::MySql })
}

async fn current_database(conn: &mut Conn) -> Result<String, Error> {
    let db: Option<Option<String>> =
        conn.query_first("SELECT DATABASE()").await.map_err(|e| classify(e, "could not read the current database"))?;
    db.flatten()
        .ok_or_else(|| Error::fatal("the session has no current database").with_hint("name the database in source.url"))
}

/// Primary keys are read from `information_schema.STATISTICS` (index `PRIMARY`): MariaDB shows
/// `TABLE_CONSTRAINTS` only to users with more than SELECT on the table.
///
/// The tables to replicate: `configured` (each must exist and have a primary key), or every base
/// table of the session's database (the URL's). `TableName.schema` is the MySQL database.
pub async fn list_tables(conn: &mut Conn, configured: Option<&[TableName]>) -> Result<Vec<TableName>, Error> {
    let db = current_database(conn).await?;
    let mut schemas: Vec<&str> = match configured {
        Some(list) => list.iter().map(|t| t.schema.as_str()).collect(),
        None => vec![db.as_str()],
    };
    schemas.sort_unstable();
    schemas.dedup();
    let mut found: Vec<TableName> = Vec::new();
    let mut keyed: Vec<TableName> = Vec::new();
    for schema in schemas {
        found.extend(base_tables(conn, schema).await?);
        keyed.extend(primary_keyed(conn, schema).await?);
    }
    let wanted: Vec<TableName> = match configured {
        Some(list) => {
            for t in list {
                if !found.contains(t) {
                    return Err(Error::fatal(format!("table {t} does not exist"))
                        .with_hint("check source.tables: entries are database.table, as in SHOW TABLES"));
                }
            }
            list.to_vec()
        }
        None => found,
    };
    let no_key: Vec<String> = wanted.iter().filter(|t| !keyed.contains(t)).map(|t| t.to_string()).collect();
    if !no_key.is_empty() {
        return Err(Error::fatal(format!("tables without a primary key: {}", no_key.join(", ")))
            .with_detail("siphon identifies rows by their primary key")
            .with_hint(
                "add a primary key (ALTER TABLE ... ADD PRIMARY KEY (...)), or leave these tables out of source.tables",
            ));
    }
    Ok(wanted)
}

/// Every base table of the session's database that has a primary key (what a pipeline without
/// `source.tables` replicates; keyless tables are left out here, where `list_tables` refuses them).
pub async fn keyed_tables(conn: &mut Conn) -> Result<Vec<TableName>, Error> {
    let db = current_database(conn).await?;
    let keyed = primary_keyed(conn, &db).await?;
    Ok(base_tables(conn, &db).await?.into_iter().filter(|t| keyed.contains(t)).collect())
}

/// The base tables of database `schema`, by name.
///
/// The catalog is read with plain queries, one `information_schema` table each: a subquery
/// correlating `TABLES` with `STATISTICS` crashes MariaDB 10.11 now and then (signal 11 in
/// `create_tmp_table_for_schema` under concurrent load, seen in our tests), and a replicator
/// must never take its source down.
pub async fn base_tables(conn: &mut Conn, schema: &str) -> Result<Vec<TableName>, Error> {
    let rows: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'
             ORDER BY TABLE_NAME",
            (schema,),
        )
        .await
        .map_err(|e| classify(e, "could not list the tables"))?;
    Ok(rows.into_iter().map(|t| TableName::new(schema, t)).collect())
}

/// The tables of database `schema` that have a primary key (from `STATISTICS`, see
/// [`list_tables`]; queried on its own, see [`base_tables`]).
pub async fn primary_keyed(conn: &mut Conn, schema: &str) -> Result<Vec<TableName>, Error> {
    let rows: Vec<String> = conn
        .exec(
            "SELECT DISTINCT TABLE_NAME FROM information_schema.STATISTICS
             WHERE TABLE_SCHEMA = ? AND INDEX_NAME = 'PRIMARY' ORDER BY TABLE_NAME",
            (schema,),
        )
        .await
        .map_err(|e| classify(e, "could not read the primary keys"))?;
    Ok(rows.into_iter().map(|t| TableName::new(schema, t)).collect())
}

/// Columns of `table` with a default value: an `ADD COLUMN ... DEFAULT` gives every existing row
/// a value no row event carries. (MariaDB reports `DEFAULT NULL` as the text `NULL`.)
pub async fn columns_with_defaults(conn: &mut Conn, table: &TableName) -> Result<Vec<String>, Error> {
    conn.exec(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_DEFAULT IS NOT NULL AND COLUMN_DEFAULT <> 'NULL'
         ORDER BY ORDINAL_POSITION",
        (&table.schema, &table.name),
    )
    .await
    .map_err(|e| classify(e, &format!("could not read the column defaults of {table}")))
}

/// The table's columns (in order, primary key columns marked) in PostgreSQL's vocabulary.
pub async fn table_schema(conn: &mut Conn, table: &TableName) -> Result<Arc<TableSchema>, Error> {
    Ok(table_kinds(conn, table).await?.0)
}

/// [`table_schema`] with each column's [`ColumnKind`] (what the snapshot needs to print values).
pub async fn table_kinds(conn: &mut Conn, table: &TableName) -> Result<(Arc<TableSchema>, Vec<ColumnKind>), Error> {
    type ColRow =
        (String, String, String, Option<u64>, Option<u64>, Option<u64>, Option<u64>, Option<String>, String, String);
    let rows: Vec<ColRow> = conn
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION,
                    NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, COLUMN_KEY, IS_NULLABLE
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
             ORDER BY ORDINAL_POSITION",
            (&table.schema, &table.name),
        )
        .await
        .map_err(|e| classify(e, &format!("could not read the columns of {table}")))?;
    if rows.is_empty() {
        return Err(Error::table(format!("table {table} does not exist")));
    }
    let mut columns = Vec::with_capacity(rows.len());
    let mut kinds = Vec::with_capacity(rows.len());
    for (name, data_type, column_type, len, prec, scale, dt_prec, charset, key, nullable) in rows {
        let cat = CatalogColumn {
            data_type,
            column_type,
            char_max_length: len,
            numeric_precision: prec,
            numeric_scale: scale,
            datetime_precision: dt_prec,
            charset,
        };
        let kind = ColumnKind::from_catalog(&cat)
            .map_err(|e| Error::table(format!("cannot replicate column {name} of {table}")).with_detail(e))?;
        columns.push(Column {
            name,
            source_type: kind.source_type(),
            is_key: key == "PRI",
            nullable: nullable == "YES",
        });
        kinds.push(kind);
    }
    Ok((Arc::new(TableSchema { name: table.clone(), columns }), kinds))
}

/// `"<server_uuid (MySQL) or @@server_id (MariaDB)>/<binlog basename>"`: a different server, or
/// the same one with another binlog, is a different identity (a checkpoint does not carry over).
pub async fn server_identity(conn: &mut Conn) -> Result<String, Error> {
    let (file, _) = master_status(conn).await?;
    let (base, _) = split_file_name(&file)?;
    let id: Option<String> = match flavor(conn).await? {
        Flavor::MySql => conn.query_first("SELECT @@server_uuid").await,
        Flavor::MariaDb => conn.query_first("SELECT CAST(@@server_id AS CHAR)").await,
    }
    .map_err(|e| classify(e, "could not read the server identity"))?;
    Ok(format!("{}/{base}", id.unwrap_or_default()))
}

/// The binlog file and position the server writes next.
pub async fn master_status(conn: &mut Conn) -> Result<(String, u64), Error> {
    let row = master_status_row(conn).await?;
    Ok(file_and_position(&row))
}

/// `SHOW MASTER STATUS`'s row: file, position, do/ignore filters, and on MySQL
/// `Executed_Gtid_Set`.
async fn master_status_row(conn: &mut Conn) -> Result<mysql_async::Row, Error> {
    let what = "could not read the binlog position (SHOW MASTER STATUS)";
    let row: Option<mysql_async::Row> = match conn.query_first("SHOW MASTER STATUS").await {
        Ok(r) => r,
        // MySQL 8.4 removed SHOW MASTER STATUS.
        Err(mysql_async::Error::Server(e)) if e.code == 1064 => {
            conn.query_first("SHOW BINARY LOG STATUS").await.map_err(|e| classify(e, what))?
        }
        Err(e) => return Err(classify(e, what)),
    };
    row.ok_or_else(|| {
        Error::fatal("the server has no binary log")
            .with_hint("start the server with log_bin (and binlog_format=ROW); see docs/mysql.md")
    })
}

fn file_and_position(row: &mysql_async::Row) -> (String, u64) {
    (row.get(0).unwrap_or_default(), row.get(1).unwrap_or_default())
}

/// The position the server writes next, as an [`Lsn`].
pub async fn current_position(conn: &mut Conn) -> Result<Lsn, Error> {
    let (file, pos) = master_status(conn).await?;
    BinlogPosition::new(file, pos)?.to_lsn()
}

/// The position the server writes next and the GTID state (MariaDB) or set (MySQL with
/// `gtid_mode = ON`) of every transaction before it; `None` when the server has no GTIDs.
pub async fn current_position_and_gtid(conn: &mut Conn) -> Result<(Lsn, Option<String>), Error> {
    let what = "could not read the GTID position";
    match flavor(conn).await? {
        Flavor::MariaDb => {
            let (file, pos) = master_status(conn).await?;
            let gtid: Option<Option<String>> =
                conn.exec_first("SELECT BINLOG_GTID_POS(?, ?)", (&file, pos)).await.map_err(|e| classify(e, what))?;
            Ok((BinlogPosition::new(file, pos)?.to_lsn()?, gtid.flatten()))
        }
        Flavor::MySql => {
            let row = master_status_row(conn).await?;
            let (file, pos) = file_and_position(&row);
            // Executed_Gtid_Set, read in the same statement as the position; the server breaks
            // long sets over lines.
            let set: String = row.get::<Option<String>, _>(4).flatten().unwrap_or_default();
            let set: String = set.chars().filter(|c| !c.is_whitespace()).collect();
            Ok((BinlogPosition::new(file, pos)?.to_lsn()?, (!set.is_empty()).then_some(set)))
        }
    }
}

/// `Ok(())` when the server's binlog holds every transaction of GTID set `gtid` (its
/// `@@gtid_binlog_pos` is at or past each domain's entry on MariaDB; `GTID_SUBSET(gtid,
/// @@gtid_executed)` on MySQL); `Err(reason)` when it does not: its binlog was reset (`RESET
/// MASTER`) or it was restored from an older backup, so its positions no longer mean what the
/// checkpoint's did.
pub async fn gtid_covered(conn: &mut Conn, gtid: &str) -> Result<Result<(), String>, Error> {
    let what = "could not read the server's GTID position";
    match flavor(conn).await? {
        Flavor::MariaDb => {
            let want: crate::gtid::MariaGtidState = gtid
                .parse()
                .map_err(|_| Error::fatal(format!("the checkpoint's GTID set {gtid:?} is not a MariaDB GTID state")))?;
            let have: Option<String> =
                conn.query_first("SELECT @@gtid_binlog_pos").await.map_err(|e| classify(e, what))?;
            let have = have.unwrap_or_default();
            let state: crate::gtid::MariaGtidState = have.parse().unwrap_or_default();
            let missing = want.gtids().copied().find(|g| !state.contains(*g));
            Ok(match missing {
                None => Ok(()),
                Some(g) => {
                    Err(format!("the server's binlog ends at GTID {have:?}, before {g} which the checkpoint includes"))
                }
            })
        }
        Flavor::MySql => {
            let covered: Option<i64> = conn
                .exec_first("SELECT GTID_SUBSET(?, @@GLOBAL.gtid_executed)", (gtid,))
                .await
                .map_err(|e| classify(e, what))?;
            Ok(if covered == Some(1) {
                Ok(())
            } else {
                Err(format!("the server's gtid_executed does not contain the checkpoint's GTID set {gtid}"))
            })
        }
    }
}

/// The binlog files the server still has, with their sizes (`SHOW BINARY LOGS`).
pub async fn binary_logs(conn: &mut Conn) -> Result<Vec<(String, u64)>, Error> {
    let rows: Vec<mysql_async::Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(|e| classify(e, "could not list the binlog files (SHOW BINARY LOGS)"))?;
    Ok(rows
        .into_iter()
        .map(|r| (r.get::<String, _>(0).unwrap_or_default(), r.get::<u64, _>(1).unwrap_or_default()))
        .collect())
}

/// `Ok(())` when the server still holds every event from `lsn` on; `Err(reason)` when the file
/// was purged or the position lies beyond it (a gap the runtime must repair).
pub async fn position_available(conn: &mut Conn, lsn: Lsn) -> Result<Result<(), String>, Error> {
    let logs = binary_logs(conn).await?;
    let seq = (lsn.0 >> 32) as u32;
    let pos = lsn.0 & 0xFFFF_FFFF;
    let parsed: Vec<(u32, &str, u64)> =
        logs.iter().filter_map(|(f, size)| split_file_name(f).ok().map(|(_, s)| (s, f.as_str(), *size))).collect();
    let Some(&(_, file, size)) = parsed.iter().find(|(s, _, _)| *s == seq) else {
        let oldest = parsed.first().map(|(_, f, _)| f.to_string()).unwrap_or_else(|| "none".into());
        return Ok(Err(format!(
            "binlog file number {seq} is no longer on the server (purged; the oldest is {oldest})"
        )));
    };
    if pos > size {
        return Ok(Err(format!("position {pos} is past the end of {file} ({size} bytes)")));
    }
    Ok(Ok(()))
}

/// Collation id -> (character set, max bytes per character), for decoding TABLE_MAPs.
pub async fn collations(conn: &mut Conn) -> Result<Collations, Error> {
    let what = "could not read information_schema.COLLATIONS";
    let rows: Vec<(Option<u64>, String, u64)> = conn
        .query(
            "SELECT c.ID, c.CHARACTER_SET_NAME, s.MAXLEN FROM information_schema.COLLATIONS c
             JOIN information_schema.CHARACTER_SETS s ON s.CHARACTER_SET_NAME = c.CHARACTER_SET_NAME",
        )
        .await
        .map_err(|e| classify(e, what))?;
    let mut map: Collations =
        rows.into_iter().filter_map(|(id, cs, max)| Some((u16::try_from(id?).ok()?, (cs, max as u32)))).collect();
    // MariaDB 10.10+ lists the ids of its UCA 14.0.0 collations only here.
    let extra: Result<Vec<(Option<u64>, String, u64)>, _> = conn
        .query(
            "SELECT a.ID, a.CHARACTER_SET_NAME, s.MAXLEN FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY a
             JOIN information_schema.CHARACTER_SETS s ON s.CHARACTER_SET_NAME = a.CHARACTER_SET_NAME",
        )
        .await;
    for (id, cs, max) in extra.unwrap_or_default() {
        if let Some(id) = id.and_then(|i| u16::try_from(i).ok()) {
            map.entry(id).or_insert((cs, max as u32));
        }
    }
    Ok(map)
}
