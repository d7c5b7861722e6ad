//! The destination's one SQL session, driven by the runtime's blocking calls.
//!
//! The [`Destination`](siphon_core::destination::Destination) trait is synchronous (the runtime
//! calls it inside `block_in_place`) and tokio-postgres is async, so the session owns a small
//! current-thread tokio runtime and drives each call to completion with `block_on`. The
//! connection's task lives on that runtime and runs only during those calls — all it needs, since
//! nothing else uses the session.
//!
//! # Connecting
//!
//! A connection ([`Session::connect`]) is opened with [`PgConnector`] (the source's URL handling
//! and TLS per `sslmode`), then:
//!
//! 1. [`dialect::SESSION_SETTINGS`]: durable commits whatever the server's defaults, no timeouts.
//! 2. The pipeline's advisory lock (session-scoped): one writer per pipeline and database. A new
//!    writer — siphon restarted after `kill -9`, or a second daemon on the same pipeline — waits
//!    until the old writer's session has ended, so it reads the checkpoint only after the old
//!    writer's last transaction committed or aborted, never while a `COMMIT` is in flight.
//! 3. The `__siphon` state tables, created if missing.
//!
//! # A lost connection
//!
//! The open transaction and the temporary stage tables die with the connection, so a statement
//! is never retried on a new connection behind the runtime's back: on a lost session every call
//! fails as transient until [`Session::connect`] — called by `load_checkpoint` / `load_chunks`,
//! which begin each of the runtime's sessions — opens a new one.

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::SinkExt;
use siphon_core::schema::quote_ident;
use siphon_core::Error;
use siphon_postgres::PgConnector;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

use crate::dialect;
use crate::error::SqlError;

/// How long a new writer waits for the previous writer of its pipeline to go away.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// COPY data is sent in pieces of at most this size.
const COPY_PIECE: usize = 4 << 20;

pub struct Session {
    /// `Some` until drop (see the `Drop` impl).
    runtime: Option<tokio::runtime::Runtime>,
    connector: PgConnector,
    pipeline: String,
    client: Option<Client>,
    ever_connected: bool,
    in_transaction: bool,
    /// A statement of the open transaction failed: it can only be rolled back (a `COMMIT` would
    /// silently roll it back).
    failed: bool,
}

/// A fresh connection or the existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connected {
    /// Nothing of an earlier connection (transaction, stage tables) exists on it.
    Fresh,
    Existing,
}

impl Session {
    pub fn new(connector: PgConnector, pipeline: &str) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::fatal("could not start the destination's I/O runtime").with_detail(e.to_string()))?;
        Ok(Session {
            runtime: Some(runtime),
            connector,
            pipeline: pipeline.to_string(),
            client: None,
            ever_connected: false,
            in_transaction: false,
            failed: false,
        })
    }

    /// `user@host:port/database` (no password).
    pub fn describe(&self) -> String {
        self.connector.describe()
    }

    fn run<F: Future>(&self, f: F) -> F::Output {
        self.runtime.as_ref().expect("the runtime lives until drop").block_on(f)
    }

    /// Opens a connection unless a live one exists.
    pub fn connect(&mut self) -> Result<Connected, Error> {
        if self.client.as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(Connected::Existing);
        }
        self.client = None;
        self.in_transaction = false;
        self.failed = false;
        let client = self.run(open(&self.connector, &self.pipeline))?;
        self.client = Some(client);
        self.ever_connected = true;
        Ok(Connected::Fresh)
    }

    /// Whether a connection was ever opened (the first one may be opened by any call; later ones
    /// only by [`Session::connect`]).
    pub fn ever_connected(&self) -> bool {
        self.ever_connected
    }

    fn client(&self) -> Result<&Client, SqlError> {
        self.client.as_ref().filter(|c| !c.is_closed()).ok_or(SqlError::NoConnection)
    }

    /// Records a statement's failure: the transaction is then aborted, and a lost connection
    /// is dropped (the next [`Session::connect`] opens a new one).
    fn note<T>(&mut self, result: Result<T, SqlError>) -> Result<T, SqlError> {
        if let Err(e) = &result {
            if self.in_transaction {
                self.failed = true;
            }
            if e.connection_lost() || self.client.as_ref().is_some_and(Client::is_closed) {
                self.client = None;
                self.in_transaction = false;
            }
        }
        result
    }

    /// Runs statements with the simple protocol (one round trip; no parameters).
    pub fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        let r = self.client().and_then(|c| self.run(c.batch_execute(sql)).map_err(SqlError::from));
        self.note(r)
    }

    pub fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, SqlError> {
        let r = self.client().and_then(|c| self.run(c.query(sql, params)).map_err(SqlError::from));
        self.note(r)
    }

    pub fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, SqlError> {
        let r = self.client().and_then(|c| self.run(c.execute(sql, params)).map_err(SqlError::from));
        self.note(r)
    }

    /// `COPY ... FROM STDIN` with `data` (COPY text format).
    pub fn copy_in(&mut self, sql: &str, data: &Bytes) -> Result<u64, SqlError> {
        let r = self.client().and_then(|c| self.run(copy_in(c, sql, data)).map_err(SqlError::from));
        self.note(r)
    }

    /// Opens a transaction unless one is open.
    pub fn begin(&mut self) -> Result<(), SqlError> {
        if !self.in_transaction {
            self.batch("BEGIN")?;
            self.in_transaction = true;
            self.failed = false;
        }
        Ok(())
    }

    /// Commits the open transaction; refused when a statement of it failed.
    pub fn commit(&mut self) -> Result<(), Error> {
        if self.failed {
            return Err(Error::fatal("refusing to commit a destination transaction in which a statement failed")
                .with_hint("this is a bug in siphon: please report it with the log"));
        }
        self.batch("COMMIT").map_err(|e| e.classify("could not commit to the destination"))?;
        self.in_transaction = false;
        Ok(())
    }

    /// Discards the open transaction (nothing to do without one, or without a connection).
    pub fn rollback(&mut self) -> Result<(), Error> {
        if !self.in_transaction {
            return Ok(());
        }
        let r = self.batch("ROLLBACK");
        self.in_transaction = false;
        self.failed = false;
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.connection_lost() => Ok(()), // the server rolls back a lost session's transaction
            Err(e) => Err(e.classify("could not roll back the destination transaction")),
        }
    }

    /// Undoes what failed since `SAVEPOINT name`; the transaction can go on.
    pub fn rollback_to(&mut self, savepoint: &str) -> Result<(), SqlError> {
        self.batch(&format!("ROLLBACK TO SAVEPOINT {}", quote_ident(savepoint)))?;
        self.failed = false;
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The destination may be dropped inside the daemon's async runtime, where blocking (as
        // dropping a runtime does) is not allowed; the connection closes with its task.
        self.client = None;
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Connects, sets the session up, takes the pipeline's lock and creates the state tables.
async fn open(connector: &PgConnector, pipeline: &str) -> Result<Client, Error> {
    let client = connector.sql().await?;
    let what = "could not prepare the destination session";
    client.batch_execute(dialect::SESSION_SETTINGS).await.map_err(|e| SqlError::from(e).classify(what))?;
    lock_pipeline(&client, pipeline).await?;
    create_state_tables(&client)
        .await
        .map_err(|e| e.classify("could not create siphon's tables (schema __siphon) at the destination"))?;
    Ok(client)
}

/// Takes the pipeline's advisory lock, waiting up to [`LOCK_WAIT`] for its holder to go away.
async fn lock_pipeline(client: &Client, pipeline: &str) -> Result<(), Error> {
    let started = Instant::now();
    let name = format!("siphon/{pipeline}");
    let what = "could not take the pipeline's lock at the destination";
    loop {
        let row = client
            .query_one(dialect::TRY_LOCK_PIPELINE, &[&name])
            .await
            .map_err(|e| SqlError::from(e).classify(what))?;
        if row.get::<_, bool>(0) {
            return Ok(());
        }
        if started.elapsed() >= LOCK_WAIT {
            return Err(Error::transient(format!("another writer holds pipeline {pipeline} at the destination"))
                .with_detail(format!("waited {} s for its session to end", LOCK_WAIT.as_secs()))
                .with_hint("a second siphon runs this pipeline into the same database: stop it (if the previous siphon was just killed, its session is still ending and siphon retries)"));
        }
        if started.elapsed() < Duration::from_millis(100) {
            tracing::info!(pipeline, "waiting for the previous writer of this pipeline at the destination to go away");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn create_state_tables(client: &Client) -> Result<(), SqlError> {
    let exists: bool = client.query_one(dialect::SCHEMA_EXISTS, &[&"__siphon"]).await?.get(0);
    let create_schema = if exists { String::new() } else { format!("{};", dialect::create_schema("__siphon")) };
    let sql = format!("BEGIN; {}; {create_schema} {}; COMMIT", dialect::LOCK_STATE_SETUP, dialect::CREATE_STATE_TABLES);
    if let Err(e) = client.batch_execute(&sql).await {
        client.batch_execute("ROLLBACK").await.ok();
        return Err(e.into());
    }
    Ok(())
}

async fn copy_in(client: &Client, sql: &str, data: &Bytes) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in(sql).await?;
    futures_util::pin_mut!(sink);
    let mut at = 0;
    while at < data.len() {
        let end = (at + COPY_PIECE).min(data.len());
        sink.send(data.slice(at..end)).await?;
        at = end;
    }
    sink.finish().await
}
