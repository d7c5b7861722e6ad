//! Read-only queries against a replica file that no daemon holds open.
//!
//! The file is opened with DuckDB's read-only access mode, so no statement can change it. Every
//! column is rendered as text by DuckDB itself (`COLUMNS(*)::VARCHAR`), so what is shown is
//! DuckDB's own formatting of each value.

use std::path::Path;

use siphon_core::Error;

/// A query result with every value as text (`None` for NULL).
pub struct TextResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// Runs `sql` (a query) on the DuckDB file at `path`, opened read-only.
pub fn query_file(path: &Path, sql: &str) -> Result<TextResult, Error> {
    if !path.exists() {
        return Err(Error::fatal(format!("the replica {} does not exist", path.display()))
            .with_hint("run `siphon run` first: it creates the file with the initial snapshot"));
    }
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .map_err(|e| Error::fatal("could not configure DuckDB").with_detail(e.to_string()))?;
    let conn = duckdb::Connection::open_with_flags(path, config).map_err(|e| {
        Error::fatal(format!("could not open the replica {}", path.display())).with_detail(e.to_string()).with_hint(
            "a running `siphon run` holds the file: stop it first (DuckDB allows one process to hold a file)",
        )
    })?;
    let wrapped = format!("SELECT COLUMNS(*)::VARCHAR FROM ({}) AS q", sql.trim().trim_end_matches(';'));
    let mut stmt = conn.prepare(&wrapped).map_err(|e| Error::fatal("the query failed").with_detail(e.to_string()))?;
    let mut rows = stmt.query([]).map_err(|e| Error::fatal("the query failed").with_detail(e.to_string()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| Error::fatal("the query failed").with_detail(e.to_string()))? {
        let n = row.as_ref().column_count();
        let values = (0..n).map(|i| row.get::<_, Option<String>>(i)).collect::<Result<Vec<_>, _>>();
        out.push(values.map_err(|e| Error::fatal("the query failed").with_detail(e.to_string()))?);
    }
    let columns = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
    Ok(TextResult { columns, rows: out })
}
