//! Connections to the source: one URL, TLS per `ssl-mode`, fixed session settings, and the
//! classification of every failure.
//!
//! URL: `mysql://user:password@host:port/database?ssl-mode=...&ssl-ca=/path` (also `mariadb://`).
//! `ssl-mode` follows the MySQL client's `--ssl-mode`:
//!
//! | ssl-mode          | encrypted          | server certificate checked       |
//! |-------------------|--------------------|----------------------------------|
//! | `DISABLED`        | no                 | -                                |
//! | `PREFERRED` (default) | when the server offers TLS, else plaintext | no          |
//! | `REQUIRED`        | yes                | no                               |
//! | `VERIFY_CA`       | yes                | chain (`ssl-ca` or system roots) |
//! | `VERIFY_IDENTITY` | yes                | chain and host name              |
//!
//! Every session runs with `time_zone = '+00:00'` (so `TIMESTAMP` values read as UTC) and
//! `NAMES utf8mb4`. The password never appears in [`MySqlConnector::describe`], in an error or
//! in a log line.

use std::path::PathBuf;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, SslOpts};
use siphon_core::Error;

/// `ssl-mode` of the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl SslMode {
    fn parse(s: &str) -> Result<Self, Error> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "DISABLED" => SslMode::Disabled,
            "PREFERRED" => SslMode::Preferred,
            "REQUIRED" => SslMode::Required,
            "VERIFY_CA" => SslMode::VerifyCa,
            "VERIFY_IDENTITY" => SslMode::VerifyIdentity,
            other => {
                return Err(Error::fatal(format!("invalid ssl-mode {other:?} in source.url"))
                    .with_hint("use one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY"))
            }
        })
    }
}

/// Everything needed to open sessions to one MySQL/MariaDB server. Cheap to clone.
#[derive(Clone)]
pub struct MySqlConnector {
    opts: Opts,
    ssl_mode: SslMode,
    ssl_ca: Option<PathBuf>,
    server_id: u32,
    description: String,
}

impl std::fmt::Debug for MySqlConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlConnector").field("url", &self.description).field("server_id", &self.server_id).finish()
    }
}

impl MySqlConnector {
    /// Parses `url`. `server_id` is the replica id the binlog stream registers with: it must be
    /// unique among every replica and binlog reader of the server (the server drops an older
    /// connection with the same id).
    pub fn new(url: &str, server_id: u32) -> Result<Self, Error> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let base = match base.split_once("://") {
            Some(("mariadb", rest)) => format!("mysql://{rest}"),
            _ => base.to_string(),
        };
        let (mut ssl_mode, mut ssl_ca) = (SslMode::Preferred, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "ssl-mode" | "ssl_mode" | "sslmode" => ssl_mode = SslMode::parse(v)?,
                "ssl-ca" | "ssl_ca" | "sslrootcert" => ssl_ca = Some(PathBuf::from(v)),
                other => {
                    return Err(Error::fatal(format!("unknown parameter {other:?} in source.url"))
                        .with_hint("supported parameters: ssl-mode, ssl-ca"))
                }
            }
        }
        let opts = Opts::from_url(&base).map_err(|e| {
            let what = match e {
                mysql_async::UrlError::UnsupportedScheme { .. } => "the scheme must be mysql:// or mariadb://",
                _ => "expected mysql://user:password@host:port/database",
            };
            Error::fatal("invalid source.url").with_detail(what)
        })?;
        if opts.db_name().is_none_or(str::is_empty) {
            return Err(Error::fatal("source.url names no database")
                .with_hint("add the database to the URL: mysql://user:password@host:3306/database"));
        }
        if server_id == 0 {
            return Err(Error::fatal("the binlog server_id must not be 0")
                .with_hint("pick a server_id no other replica of this server uses"));
        }
        let description = format!(
            "mysql://{}@{}:{}/{}",
            opts.user().unwrap_or(""),
            opts.ip_or_hostname(),
            opts.tcp_port(),
            opts.db_name().unwrap_or("")
        );
        Ok(MySqlConnector { opts, ssl_mode, ssl_ca, server_id, description })
    }

    /// The URL without the password, for logs and status.
    pub fn describe(&self) -> String {
        self.description.clone()
    }

    /// The URL's database: the MySQL schema whose tables are replicated by default.
    pub fn database(&self) -> &str {
        self.opts.db_name().unwrap_or("")
    }

    /// The replica id the binlog stream registers with.
    pub fn server_id(&self) -> u32 {
        self.server_id
    }

    /// A new SQL session with siphon's session settings.
    pub async fn conn(&self) -> Result<Conn, Error> {
        let mut conn = self.connect_raw().await?;
        conn.query_drop("SET time_zone = '+00:00', NAMES utf8mb4")
            .await
            .map_err(|e| classify(e, "could not configure the session"))?;
        Ok(conn)
    }

    async fn connect_raw(&self) -> Result<Conn, Error> {
        let what = format!("could not connect to {}", self.description);
        let with_tls = |ssl: Option<SslOpts>| OptsBuilder::from_opts(self.opts.clone()).ssl_opts(ssl);
        match self.ssl_mode {
            SslMode::Disabled => Conn::new(with_tls(None)).await.map_err(|e| classify(e, &what)),
            SslMode::Preferred => match Conn::new(with_tls(Some(self.ssl_opts()))).await {
                Err(mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer)) => {
                    Conn::new(with_tls(None)).await.map_err(|e| classify(e, &what))
                }
                other => other.map_err(|e| classify(e, &what)),
            },
            _ => Conn::new(with_tls(Some(self.ssl_opts()))).await.map_err(|e| classify(e, &what)),
        }
    }

    fn ssl_opts(&self) -> SslOpts {
        let mut ssl = SslOpts::default();
        if let Some(ca) = &self.ssl_ca {
            ssl = ssl.with_root_certs(vec![ca.clone().into()]);
        }
        match self.ssl_mode {
            SslMode::Preferred | SslMode::Required => ssl.with_danger_accept_invalid_certs(true),
            SslMode::VerifyCa => ssl.with_danger_skip_domain_validation(true),
            SslMode::VerifyIdentity | SslMode::Disabled => ssl,
        }
    }
}

/// Server error codes that mean "try again later".
const TRANSIENT_CODES: &[u16] = &[
    1040, // too many connections
    1053, // server shutdown in progress
    1205, // lock wait timeout
    1213, // deadlock
    1927, // connection killed (MariaDB)
    2006, // server has gone away
    2013, // lost connection during query
    1317, // query interrupted
];

/// Server error codes about missing privileges or authentication.
const PERMISSION_CODES: &[u16] = &[1044, 1045, 1142, 1143, 1227, 1370, 1698, 4151];

/// Classifies a driver error: connection trouble is transient, authentication and permission
/// failures are fatal with a hint, anything else fatal. The message names what was attempted
/// (`what`); the detail is the server's message (which never holds the password) or the kind
/// of I/O failure. Row values are never included.
pub fn classify(e: mysql_async::Error, what: &str) -> Error {
    use mysql_async::Error as E;
    match e {
        E::Io(io) => Error::transient(what.to_string()).with_detail(io_detail(&io)),
        E::Server(s) if TRANSIENT_CODES.contains(&s.code) => {
            Error::transient(what.to_string()).with_detail(format!("server error {}: {}", s.code, s.message))
        }
        E::Server(s) if PERMISSION_CODES.contains(&s.code) => {
            Error::fatal(what.to_string()).with_detail(format!("server error {}: {}", s.code, s.message)).with_hint(
                "check the user and password in source.url, and the grants: SELECT on the tables, \
                 REPLICATION SLAVE, REPLICATION CLIENT (MariaDB: also BINLOG MONITOR), RELOAD; see docs/mysql.md",
            )
        }
        E::Server(s) => Error::fatal(what.to_string()).with_detail(format!("server error {}: {}", s.code, s.message)),
        E::Driver(d) => {
            let detail = match d {
                mysql_async::DriverError::ConnectionClosed => {
                    return Error::transient(what.to_string()).with_detail("the connection was closed")
                }
                mysql_async::DriverError::NoClientSslFlagFromServer => {
                    "the server does not support TLS (ssl-mode requires it)".to_string()
                }
                mysql_async::DriverError::FromValue { .. } | mysql_async::DriverError::FromRow { .. } => {
                    "unexpected value type".to_string()
                }
                other => other.to_string(),
            };
            Error::fatal(what.to_string()).with_detail(detail)
        }
        E::Url(_) => Error::fatal(what.to_string()).with_detail("invalid connection URL"),
        E::Other(o) => Error::fatal(what.to_string()).with_detail(o.to_string()),
    }
}

fn io_detail(io: &mysql_async::IoError) -> String {
    match io {
        mysql_async::IoError::Io(e) => format!("{} ({:?})", e, e.kind()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_hides_the_password() {
        let c = MySqlConnector::new("mysql://rep:s3cret@db.example:3307/shop?ssl-mode=REQUIRED", 7).unwrap();
        assert_eq!(c.describe(), "mysql://rep@db.example:3307/shop");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(c.ssl_mode, SslMode::Required);
        assert_eq!(c.database(), "shop");
    }

    #[test]
    fn rejects_bad_urls_without_echoing_them() {
        for url in [
            "mysql://u:s3cret@h:3306/db?ssl-mode=SOMETIMES",
            "mysql://u:s3cret@h:3306/db?foo=1",
            "mysql://u:s3cret@h:3306/",
            "postgres://u:s3cret@h/db",
        ] {
            let e = MySqlConnector::new(url, 1).unwrap_err();
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
        assert!(MySqlConnector::new("mysql://u@h/db", 0).is_err());
        assert!(MySqlConnector::new("mariadb://u@h/db?ssl-mode=verify_ca&ssl-ca=/x.pem", 1).is_ok());
    }
}
