//! Destination errors: what the runtime should do, and what the operator should do.
//!
//! | what failed (SQLSTATE) | class | the runtime |
//! |------------------------|-------|-------------|
//! | the connection, a server shutting down or restarting (`08`, `57P`), too many connections (`53300`), out of disk or memory (`53`), a serialization failure or deadlock (`40`), a lock timeout (`55P03`), a cancelled statement (`57014`) | transient | rolls back, reconnects with backoff, resumes from the stored checkpoint |
//! | a value a column cannot hold (`22`), a constraint (`23`) | table | stops; the error names the table and the column |
//! | anything else: privileges (`42501`), a read-only server (`25006`), a table without a unique key (`42P10`), ... | fatal | stops, with the fix |
//!
//! Messages never contain row values: the server's DETAIL (which quotes rows: "Failing row
//! contains ...", "Key (id)=(7) already exists") is dropped, and quoted strings in a data error's
//! message (`invalid input syntax for type integer: "12a"`) become `"…"`.

use siphon_core::schema::TableName;
use siphon_core::Error;
use siphon_postgres::connect::error_chain;

/// Why a statement failed.
#[derive(Debug)]
pub enum SqlError {
    /// No live connection: it was lost by an earlier statement.
    NoConnection,
    /// The server, or the connection to it, failed the statement.
    Server(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for SqlError {
    fn from(e: tokio_postgres::Error) -> Self {
        SqlError::Server(e)
    }
}

impl SqlError {
    /// The SQLSTATE of an error the server reported.
    pub fn code(&self) -> Option<&str> {
        match self {
            SqlError::Server(e) => e.as_db_error().map(|d| d.code().code()),
            SqlError::NoConnection => None,
        }
    }

    /// The connection is gone: an I/O error, or the server ending the session (`57P`
    /// shutdown / terminated, `08` connection exceptions).
    pub fn connection_lost(&self) -> bool {
        match self.code() {
            None => true,
            Some(code) => code.starts_with("57P") || code.starts_with("08"),
        }
    }

    /// The error for the runtime, `what` saying what siphon was doing.
    pub fn classify(&self, what: &str) -> Error {
        let e = match self {
            SqlError::NoConnection => {
                return Error::transient(what).with_detail("the connection to the destination was lost")
            }
            SqlError::Server(e) => e,
        };
        let Some(db) = e.as_db_error() else {
            return Error::transient(what).with_detail(error_chain(e));
        };
        let code = db.code().code();
        let err = if is_transient(code) { Error::transient(what) } else { Error::fatal(what) };
        let err = err.with_detail(format!("{} (SQLSTATE {code})", server_message(code, db.message())));
        match hint(code) {
            Some(h) => err.with_hint(h),
            None => err,
        }
    }

    /// A data (`22`) or constraint (`23`) error while applying rows to `table`.
    pub fn is_data_error(&self) -> bool {
        self.code().is_some_and(|c| c.starts_with("22") || c.starts_with("23"))
    }

    /// The column the server named in the error (NOT NULL violations name it).
    pub fn column(&self) -> Option<&str> {
        match self {
            SqlError::Server(e) => e.as_db_error().and_then(|d| d.column()),
            SqlError::NoConnection => None,
        }
    }

    /// A data or constraint error in `table`, naming `column` when known.
    pub fn in_table(&self, table: &TableName, column: Option<ColumnTypes<'_>>) -> Error {
        let base = self.classify(&format!("could not apply changes to {table}"));
        let constraint = self.code().is_some_and(|c| c.starts_with("23"));
        let hint = match &column {
            _ if constraint => "a constraint at the destination (NOT NULL, CHECK, UNIQUE, a foreign key) refuses a row the source holds: drop or relax it, then restart siphon".to_string(),
            Some(c) if c.declared != c.source => format!(
                "the destination column is {}, the source column {}: make them match (ALTER TABLE ... ALTER COLUMN ... TYPE {}), \
                 or drop the table at the destination to have siphon create it again; then restart siphon",
                c.declared, c.source, c.source
            ),
            Some(c) => format!(
                "the destination's {} refuses a value the source's accepts (a domain or enum that differs at the destination?): make them match, then restart siphon",
                c.declared
            ),
            None => "make the destination table match the source (or drop it there to have siphon create it again), then restart siphon".to_string(),
        };
        let message = match &column {
            Some(c) => format!("column {table}.{} at the destination cannot hold a value of the source", c.name),
            None => base.message,
        };
        Error { class: siphon_core::ErrorClass::TableScoped, message, detail: base.detail, hint: Some(hint) }
    }
}

/// A column named in an error, with its types at both ends.
pub struct ColumnTypes<'a> {
    pub name: &'a str,
    /// The destination's declared type.
    pub declared: &'a str,
    /// The source's type.
    pub source: &'a str,
}

fn is_transient(code: &str) -> bool {
    ["08", "40", "53", "57P"].iter().any(|p| code.starts_with(p)) || matches!(code, "55P03" | "57014")
}

fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "42501" => "grant the role of destination.url what siphon needs: CREATE on the database (for new schemas), CREATE on each schema (for new tables), and ownership of tables siphon did not create (for ALTER TABLE)",
        "25006" => "destination.url points to a read-only server (a standby?): point it at the primary",
        "42P10" => "the destination table has no primary key or unique index on the source's key columns: add one (ALTER TABLE ... ADD PRIMARY KEY (...)), or drop the table to have siphon create it",
        "3D000" => "create the database named in destination.url first",
        _ => return None,
    })
}

/// The server's primary message, with quoted strings of a data error (which quote the value)
/// replaced by `"…"`.
fn server_message(code: &str, message: &str) -> String {
    if !code.starts_with("22") {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('"');
    out.push_str(parts.next().unwrap_or_default());
    while let Some(_quoted) = parts.next() {
        out.push_str("\"…\"");
        out.push_str(parts.next().unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_quoted_in_data_errors_are_redacted() {
        assert_eq!(
            server_message("22P02", "invalid input syntax for type integer: \"12a\""),
            "invalid input syntax for type integer: \"…\""
        );
        assert_eq!(
            server_message("22003", "value \"99999999999\" is out of range for type integer"),
            "value \"…\" is out of range for type integer"
        );
        assert_eq!(
            server_message("22001", "value too long for type character varying(3)"),
            "value too long for type character varying(3)"
        );
        assert_eq!(
            server_message("23502", "null value in column \"v\" of relation \"t\" violates not-null constraint"),
            "null value in column \"v\" of relation \"t\" violates not-null constraint",
            "identifiers in constraint errors stay"
        );
    }

    #[test]
    fn connection_trouble_is_transient_and_everything_else_is_not() {
        for code in ["08006", "57P01", "53300", "53100", "40001", "40P01", "55P03", "57014"] {
            assert!(is_transient(code), "{code}");
        }
        for code in ["22P02", "23505", "42501", "25006", "42P10", "42703"] {
            assert!(!is_transient(code), "{code}");
        }
        assert!(SqlError::NoConnection.classify("x").is_transient());
    }
}
