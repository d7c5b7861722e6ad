//! Connections to the source: ordinary SQL sessions (tokio-postgres) and replication sessions
//! (pgwire-replication), both from the one `source.url`. The PostgreSQL destination opens its SQL
//! session the same way, from `destination.url` ([`Endpoint::Destination`]).
//!
//! Every session runs with `TimeZone=UTC`, `DateStyle=ISO`, `IntervalStyle=postgres`,
//! `extra_float_digits=3` (the shortest text that reads back to the same float),
//! `lc_monetary=C` (`$1,234.50`, two fraction digits) and `bytea_output=hex`, so that values in
//! text form (COPY and pgoutput alike) are the same canonical strings whatever the server's,
//! database's or role's defaults.

use std::time::Duration;

use std::path::PathBuf;

use pgwire_replication::ReplicationConfig;
use siphon_core::config::Secret;
use siphon_core::Error;
use tokio_postgres::config::{Host, SslMode as PqSslMode};
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::tls::{SslMode, TlsSettings};

/// Startup options that fix the text form of values.
pub const SESSION_OPTIONS: &str = "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 \
     -c lc_monetary=C -c bytea_output=hex -c client_encoding=UTF8";

/// The server a connector reaches, and so the setting its errors name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Source,
    Destination,
}

impl Endpoint {
    /// The configuration key of its URL.
    pub fn url_key(self) -> &'static str {
        match self {
            Endpoint::Source => "source.url",
            Endpoint::Destination => "destination.url",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Endpoint::Source => "source",
            Endpoint::Destination => "destination",
        }
    }
}

/// Opens sessions to the source database (or, for the PostgreSQL destination, to that one).
#[derive(Clone)]
pub struct PgConnector {
    endpoint: Endpoint,
    config: tokio_postgres::Config,
    host: String,
    port: u16,
    user: String,
    password: Secret,
    database: String,
    application_name: String,
    tls: TlsSettings,
    connector: MakeRustlsConnect,
}

impl std::fmt::Debug for PgConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgConnector({})", self.describe())
    }
}

impl PgConnector {
    /// Parses `source.url`. Errors never repeat the URL (it may hold a password).
    pub fn new(url: &Secret, application_name: &str) -> Result<Self, Error> {
        Self::for_endpoint(Endpoint::Source, url, application_name)
    }

    /// Parses the URL of `endpoint`; errors name its key and never repeat the URL.
    pub fn for_endpoint(endpoint: Endpoint, url: &Secret, application_name: &str) -> Result<Self, Error> {
        let key = endpoint.url_key();
        let (rest, tls) = split_tls_params(url.expose(), key)?;
        let mut config: tokio_postgres::Config = rest.parse().map_err(|e: tokio_postgres::Error| {
            Error::fatal(format!("invalid configuration at `{key}`: not a valid PostgreSQL URL"))
                .with_detail(redact(&e.to_string(), url.expose(), key))
                .with_hint("expected postgres://user:password@host:port/database[?sslmode=...&sslrootcert=...]")
        })?;
        config.ssl_mode(match tls.mode {
            SslMode::Disable => PqSslMode::Disable,
            SslMode::Prefer => PqSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PqSslMode::Require,
        });
        let connector = MakeRustlsConnect::new(tls.client_config()?);
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.to_string_lossy().into_owned(),
            None => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().map(str::to_string).ok_or_else(|| {
            Error::fatal(format!("invalid configuration at `{key}`: no user name"))
                .with_hint("put the user in the URL: postgres://USER:password@host/db")
        })?;
        let password = Secret::new(String::from_utf8_lossy(config.get_password().unwrap_or_default()));
        let database = config.get_dbname().unwrap_or(&user).to_string();
        config.options(SESSION_OPTIONS).application_name(application_name).connect_timeout(Duration::from_secs(10));
        Ok(PgConnector {
            endpoint,
            config,
            host,
            port,
            user,
            password,
            database,
            application_name: application_name.into(),
            tls,
            connector,
        })
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
        let (client, connection) =
            self.config.connect(self.connector.clone()).await.map_err(|e| self.connect_error(e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "source SQL connection ended");
            }
        });
        Ok(client)
    }

    fn connect_error(&self, e: tokio_postgres::Error) -> Error {
        classify(e, &format!("could not connect to the {} {}", self.endpoint.noun(), self.describe()))
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
        .with_tls(self.tls.replication())
        .with_options(SESSION_OPTIONS)
        .with_application_name(self.application_name.clone())
        .with_status_interval(Duration::from_secs(1))
        .with_wakeup_interval(Duration::from_secs(1))
        .with_buffer_size(1024)
    }
}

/// Classifies a tokio-postgres error: connection problems and server shutdowns are transient;
/// a server certificate that fails verification is fatal (retrying cannot fix it).
pub fn classify(e: tokio_postgres::Error, what: &str) -> Error {
    let detail = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| error_chain(&e));
    if is_certificate_error(&detail) {
        return Error::fatal(what).with_detail(detail).with_hint(CERT_HINT);
    }
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
        E::Tls(msg) if is_certificate_error(&msg) || msg.contains("config error") => {
            Error::fatal(what.to_string()).with_detail(msg).with_hint(CERT_HINT)
        }
        other => Error::transient(what.to_string()).with_detail(other.to_string()),
    }
}

const CERT_HINT: &str = "the server's TLS certificate did not verify: check sslrootcert (the CA that signed it) and, for sslmode=verify-full, that the URL's host matches the certificate";

fn is_certificate_error(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    d.contains("certificate") || d.contains("unknownissuer") || d.contains("notvalidforname")
}

/// The error and its sources, joined: tokio-postgres puts the TLS or I/O cause in the source.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.join(": ")
}

/// Takes `sslmode` and `sslrootcert` out of the URL (tokio-postgres knows neither
/// `verify-ca`/`verify-full` nor `sslrootcert`); the rest is left as it was.
fn split_tls_params(url: &str, url_key: &'static str) -> Result<(String, TlsSettings), Error> {
    let (mut mode, mut root_cert) = (SslMode::Prefer, None);
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), TlsSettings::new(mode, root_cert, url_key)));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = SslMode::parse(&percent_decode(value), url_key)?,
            "sslrootcert" => root_cert = Some(PathBuf::from(percent_decode(value))),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    Ok((rest, TlsSettings::new(mode, root_cert, url_key)))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes the URL (and so its password) from a message that may quote it.
fn redact(message: &str, url: &str, key: &str) -> String {
    message.replace(url, &format!("<{key}>"))
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
    fn tls_parameters_are_taken_out_of_the_url() {
        let (rest, tls) = split_tls_params(
            "postgres://u:p@h/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&connect_timeout=5",
            "source.url",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p@h/db?connect_timeout=5");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.root_cert, Some(PathBuf::from("/tmp/ca.pem")));
        let (rest, tls) = split_tls_params("postgres://u:p@h/db", "source.url").unwrap();
        assert_eq!((rest.as_str(), tls.mode), ("postgres://u:p@h/db", SslMode::Prefer));
        let e = PgConnector::new(&Secret::new("postgres://u:hunter2@h/db?sslmode=sometimes"), "t").unwrap_err();
        assert!(e.to_string().contains("sslmode=\"sometimes\""), "{e}");
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn bad_urls_name_the_key_and_never_echo_the_url() {
        let e = PgConnector::new(&Secret::new("postgres://app:hunter2@db:notaport/shop"), "t").unwrap_err();
        assert!(e.to_string().contains("source.url"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let dest = Secret::new("postgres://app:hunter2@db/shop?sslmode=sometimes");
        let e = PgConnector::for_endpoint(Endpoint::Destination, &dest, "t").unwrap_err();
        assert!(e.to_string().contains("`destination.url`") && !e.to_string().contains("hunter2"), "{e}");
    }
}
