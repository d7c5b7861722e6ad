//! Connections to the source: ordinary SQL sessions (tokio-postgres) and replication sessions
//! (pgwire-replication), both from the one `source.url`.
//!
//! Every session runs with `TimeZone=UTC`, `DateStyle=ISO`, `IntervalStyle=postgres` and
//! `extra_float_digits=3`, so that values in text form (COPY and pgoutput alike) are the same
//! canonical strings whatever the server's defaults.

use std::time::Duration;

use pgwire_replication::{ReplicationConfig, TlsConfig};
use siphon_core::config::Secret;
use siphon_core::Error;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, NoTls};

/// Startup options that fix the text form of values.
pub const SESSION_OPTIONS: &str =
    "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c client_encoding=UTF8";

/// Opens sessions to the source database.
#[derive(Clone)]
pub struct PgConnector {
    config: tokio_postgres::Config,
    host: String,
    port: u16,
    user: String,
    password: Secret,
    database: String,
    application_name: String,
}

impl std::fmt::Debug for PgConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgConnector({})", self.describe())
    }
}

impl PgConnector {
    /// Parses `source.url`. Errors never repeat the URL (it may hold a password).
    pub fn new(url: &Secret, application_name: &str) -> Result<Self, Error> {
        let mut config: tokio_postgres::Config = url.expose().parse().map_err(|e: tokio_postgres::Error| {
            Error::fatal("invalid configuration at `source.url`: not a valid PostgreSQL URL")
                .with_detail(redact(&e.to_string(), url.expose()))
                .with_hint("expected postgres://user:password@host:port/database")
        })?;
        if matches!(config.get_ssl_mode(), SslMode::Require) {
            return Err(Error::fatal("invalid configuration at `source.url`: sslmode=require is not supported yet")
                .with_hint("connect over a trusted network or a local tunnel, and use sslmode=disable or prefer"));
        }
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.to_string_lossy().into_owned(),
            None => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().map(str::to_string).ok_or_else(|| {
            Error::fatal("invalid configuration at `source.url`: no user name")
                .with_hint("put the user in the URL: postgres://USER:password@host/db")
        })?;
        let password = Secret::new(String::from_utf8_lossy(config.get_password().unwrap_or_default()));
        let database = config.get_dbname().unwrap_or(&user).to_string();
        config.options(SESSION_OPTIONS).application_name(application_name).connect_timeout(Duration::from_secs(10));
        Ok(PgConnector { config, host, port, user, password, database, application_name: application_name.into() })
    }

    /// `user@host:port/database`, without the password.
    pub fn describe(&self) -> String {
        format!("{}@{}:{}/{}", self.user, self.host, self.port, self.database)
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// An ordinary SQL session. Its connection task runs on the current runtime.
    pub async fn sql(&self) -> Result<Client, Error> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(|e| self.connect_error(e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "source SQL connection ended");
            }
        });
        Ok(client)
    }

    fn connect_error(&self, e: tokio_postgres::Error) -> Error {
        classify(e, &format!("could not connect to the source {}", self.describe()))
    }

    /// Settings for a replication session on `slot` / `publication`.
    pub fn replication_config(&self, slot: &str, publication: &str) -> ReplicationConfig {
        ReplicationConfig::new(
            self.host.clone(),
            self.user.clone(),
            self.password.expose().to_string(),
            self.database.clone(),
            slot,
            publication,
        )
        .with_port(self.port)
        .with_tls(TlsConfig::disabled())
        .with_options(SESSION_OPTIONS)
        .with_application_name(self.application_name.clone())
        .with_status_interval(Duration::from_secs(1))
        .with_wakeup_interval(Duration::from_secs(1))
        .with_buffer_size(1024)
    }
}

/// Classifies a tokio-postgres error: connection problems and server shutdowns are transient.
pub fn classify(e: tokio_postgres::Error, what: &str) -> Error {
    let detail = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string());
    let transient = e.is_closed()
        || e.as_db_error().is_none()
        || e.code().is_some_and(|c| {
            let c = c.code();
            c.starts_with("08") || c.starts_with("57P") || c == "53300"
        });
    let err = if transient { Error::transient(what) } else { Error::fatal(what) };
    err.with_detail(detail)
}

/// Converts a replication-session error.
pub fn replication_error(e: pgwire_replication::PgWireError, what: &str) -> Error {
    use pgwire_replication::PgWireError as E;
    match e {
        E::Server(msg) => Error::fatal(what.to_string()).with_detail(msg),
        other => Error::transient(what.to_string()).with_detail(other.to_string()),
    }
}

/// Removes the URL (and so its password) from a message that may quote it.
fn redact(message: &str, url: &str) -> String {
    message.replace(url, "<source.url>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_url_parts_without_leaking_the_password() {
        let c = PgConnector::new(&Secret::new("postgres://app:hunter2@db.example:6543/shop"), "t").unwrap();
        assert_eq!(c.describe(), "app@db.example:6543/shop");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn bad_urls_name_the_key_and_never_echo_the_url() {
        let e = PgConnector::new(&Secret::new("postgres://app:hunter2@db:notaport/shop"), "t").unwrap_err();
        assert!(e.to_string().contains("source.url"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
