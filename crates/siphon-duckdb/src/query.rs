//! Read-only SQL on the replica, with or without a running pipeline.
//!
//! - **In the daemon** ([`QueryService::attached`]): a second connection to the database the
//!   destination writes, so queries never need the file lock that the writer holds.
//! - **Without a daemon** ([`QueryService::open_file`]): the file opened in read-only mode.
//!
//! # Only reads
//!
//! Two checks, both DuckDB's own, never string matching:
//!
//! 1. DuckDB's parser must see exactly one statement, and a `SELECT` (`json_serialize_sql`
//!    serializes SELECT statements only, so any INSERT, UPDATE, DELETE, CREATE, ATTACH, INSTALL,
//!    LOAD, SET, PRAGMA, COPY, CALL, EXPORT ... is refused there).
//! 2. The query runs inside `BEGIN TRANSACTION READ ONLY`, so even a SELECT that found a way to
//!    write (a table function) is refused by the transaction manager.
//!
//! # Consistency and isolation
//!
//! The read-only transaction is a snapshot: it sees the replica as of a destination commit, so it
//! never sees part of a source transaction (each source transaction lands in one commit). Readers
//! do not block the writer (DuckDB is MVCC); a query is interrupted when its timeout passes.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use duckdb::Connection;
use siphon_core::Error;

/// A query result with every value as text (`None` for NULL). Its JSON form is the control
/// API's response body.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct TextResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// More rows existed than the limit allowed.
    pub truncated: bool,
}

impl TextResult {
    /// RFC 4180 CSV with a header line; NULL is an empty field.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, fields: Vec<&str>| {
            out.push_str(&fields.into_iter().map(csv_field).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        };
        line(&mut out, self.columns.iter().map(String::as_str).collect());
        for r in &self.rows {
            line(&mut out, r.iter().map(|v| v.as_deref().unwrap_or("")).collect());
        }
        out
    }
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

/// Limits of one query.
#[derive(Clone, Copy, Debug)]
pub struct QueryLimits {
    pub max_rows: usize,
    pub timeout: Duration,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits { max_rows: 10_000, timeout: Duration::from_secs(30) }
    }
}

/// Runs read-only queries on one DuckDB connection (queries take turns).
pub struct QueryService {
    conn: Mutex<Connection>,
    interrupt: Arc<duckdb::InterruptHandle>,
}

impl QueryService {
    /// A reader on the same database as `writer` (a connection of the running destination).
    pub fn attached(writer: &Connection) -> Result<QueryService, Error> {
        let conn = writer
            .try_clone()
            .map_err(|e| Error::fatal("could not open a query connection").with_detail(e.to_string()))?;
        Ok(Self::new(conn))
    }

    /// The replica file opened read-only (no daemon holds it).
    pub fn open_file(path: &Path) -> Result<QueryService, Error> {
        if !path.exists() {
            return Err(Error::fatal(format!("the replica {} does not exist", path.display()))
                .with_hint("run `siphon run` first: it creates the file with the initial snapshot"));
        }
        let config = duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .map_err(|e| Error::fatal("could not configure DuckDB").with_detail(e.to_string()))?;
        let conn = Connection::open_with_flags(path, config).map_err(|e| {
            Error::fatal(format!("could not open the replica {}", path.display()))
                .with_detail(e.to_string())
                .with_hint("if `siphon run` is running, `siphon query` asks it (control API); is its state_dir the one in this config?")
        })?;
        Ok(Self::new(conn))
    }

    /// Another connection to the same database, for `siphon verify` (which stages rows in temp
    /// tables of its own, and repairs through the apply path; see [`crate::verify`]).
    pub(crate) fn new_connection(&self) -> Result<Connection, Error> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.try_clone()
            .map_err(|e| Error::fatal("could not open a verification connection").with_detail(e.to_string()))
    }

    fn new(conn: Connection) -> QueryService {
        let interrupt = conn.interrupt_handle();
        QueryService { conn: Mutex::new(conn), interrupt }
    }

    /// Runs one read-only query. Blocking: call it off the async runtime.
    pub fn query(&self, sql: &str, limits: QueryLimits) -> Result<TextResult, Error> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        check_read_only(&conn, sql)?;
        conn.execute_batch("BEGIN TRANSACTION READ ONLY").map_err(query_error)?;
        let result = self.run_with_timeout(&conn, sql, limits);
        let _ = conn.execute_batch("ROLLBACK");
        result
    }

    fn run_with_timeout(&self, conn: &Connection, sql: &str, limits: QueryLimits) -> Result<TextResult, Error> {
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let interrupt = self.interrupt.clone();
        let watchdog = std::thread::spawn(move || {
            if done_rx.recv_timeout(limits.timeout) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                interrupt.interrupt();
                true
            } else {
                false
            }
        });
        let result = fetch(conn, sql, limits.max_rows);
        let _ = done_tx.send(());
        let timed_out = watchdog.join().unwrap_or(false);
        match result {
            Err(_) if timed_out => Err(Error::fatal(format!(
                "the query ran longer than {} ms and was cancelled",
                limits.timeout.as_millis()
            ))
            .with_hint("narrow the query, or raise the timeout (timeout_ms)")),
            other => other,
        }
    }
}

/// Refuses anything but one SELECT, as DuckDB's own parser sees it.
fn check_read_only(conn: &Connection, sql: &str) -> Result<(), Error> {
    let json: String =
        conn.query_row("SELECT json_serialize_sql(CAST(? AS VARCHAR))", [sql], |r| r.get(0)).map_err(query_error)?;
    let parsed: serde_json::Value = serde_json::from_str(&json)
        .map_err(|e| Error::fatal("could not check the query").with_detail(e.to_string()))?;
    if parsed["error"] == serde_json::Value::Bool(true) {
        let message = parsed["error_message"].as_str().unwrap_or_default();
        if message.contains("Only SELECT") {
            return Err(Error::fatal("only read-only queries are allowed")
                .with_detail(
                    "the statement is not a SELECT (writes, DDL, ATTACH, INSTALL/LOAD, SET, PRAGMA, COPY are refused)",
                )
                .with_hint("the replica is written by siphon alone; query it with SELECT"));
        }
        return Err(Error::fatal("the query is not valid SQL").with_detail(message.to_string()));
    }
    let statements = parsed["statements"].as_array().map_or(0, Vec::len);
    if statements != 1 {
        return Err(Error::fatal(format!("expected exactly one SELECT statement, found {statements}")));
    }
    Ok(())
}

fn fetch(conn: &Connection, sql: &str, max_rows: usize) -> Result<TextResult, Error> {
    // DuckDB renders every value as text itself.
    let wrapped = format!("SELECT COLUMNS(*)::VARCHAR FROM ({}) AS q", sql.trim().trim_end_matches(';'));
    let mut stmt = conn.prepare(&wrapped).map_err(query_error)?;
    let mut rows = stmt.query([]).map_err(query_error)?;
    let mut out = Vec::new();
    let mut truncated = false;
    while let Some(row) = rows.next().map_err(query_error)? {
        if out.len() == max_rows {
            truncated = true;
            break;
        }
        let n = row.as_ref().column_count();
        out.push((0..n).map(|i| row.get::<_, Option<String>>(i)).collect::<Result<Vec<_>, _>>().map_err(query_error)?);
    }
    let columns = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
    Ok(TextResult { columns, rows: out, truncated })
}

fn query_error(e: duckdb::Error) -> Error {
    Error::fatal("the query failed").with_detail(e.to_string())
}
