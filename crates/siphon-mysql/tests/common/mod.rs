//! Shared test support: a MariaDB server per test, a connector, event collection.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use siphon_core::change::{ChangeKind, SourceEvent};
use siphon_core::schema::{TableName, TableSchema};
use siphon_core::{Datum, Lsn};
use siphon_mysql::{catalog, BinlogStream, MySqlConnector};
use siphon_testkit::mariadb::{MariaDbOptions, MariaDbServer};

pub struct Env {
    pub server: MariaDbServer,
    pub db: String,
    pub connector: MySqlConnector,
}

/// A fresh server with database `db`.
pub fn env(db: &str) -> Env {
    env_with(db, MariaDbOptions::default())
}

pub fn env_with(db: &str, opts: MariaDbOptions) -> Env {
    let server = MariaDbServer::start_with(opts);
    server.create_database(db);
    let connector = MySqlConnector::new(&server.url(db), next_server_id()).unwrap();
    Env { server, db: db.to_string(), connector }
}

/// A replica server_id no other stream of this process uses.
pub fn next_server_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(100);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Env {
    pub fn sql(&self, sql: &str) -> String {
        self.server.sql(&self.db, sql)
    }

    pub fn table(&self, name: &str) -> TableName {
        TableName::new(self.db.clone(), name)
    }

    pub async fn schema(&self, name: &str) -> Arc<TableSchema> {
        let mut conn = self.connector.conn().await.unwrap();
        catalog::table_schema(&mut conn, &self.table(name)).await.unwrap()
    }

    pub async fn position(&self) -> Lsn {
        let mut conn = self.connector.conn().await.unwrap();
        catalog::current_position(&mut conn).await.unwrap()
    }

    /// A stream from `from` for `tables`, with its own server_id.
    pub async fn stream(&self, from: Lsn, tables: &[&str]) -> BinlogStream {
        self.stream_with(from, None, tables).await
    }

    /// A stream from `from` that delivers the transactions in GTID state `applied` empty.
    pub async fn stream_applied(&self, from: Lsn, applied: &str, tables: &[&str]) -> BinlogStream {
        self.stream_with(from, Some(applied), tables).await
    }

    async fn stream_with(&self, from: Lsn, applied: Option<&str>, tables: &[&str]) -> BinlogStream {
        let mut schemas = Vec::new();
        for t in tables {
            schemas.push(self.schema(t).await);
        }
        let connector = MySqlConnector::new(&self.server.url(&self.db), next_server_id()).unwrap();
        BinlogStream::start(&connector, from, applied, &schemas).await.unwrap()
    }
}

/// Reads events until `commits` Commit events have arrived (Idle events are dropped).
pub async fn collect_commits(stream: &mut BinlogStream, commits: usize) -> Vec<SourceEvent> {
    let mut out = Vec::new();
    let mut seen = 0;
    // One deadline for all: an idle server keeps sending heartbeats, so a per-event timeout
    // would never fire when a commit is missing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen < commits {
        let e = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for commit {} of {commits}; got {out:#?}", seen + 1))
            .unwrap();
        match e {
            SourceEvent::Idle { .. } => continue,
            SourceEvent::Commit { .. } => seen += 1,
            _ => {}
        }
        out.push(e);
    }
    out
}

/// The transactions in `events` that changed something: each as its list of (kind, texts).
pub fn changes(events: &[SourceEvent]) -> Vec<Vec<String>> {
    let mut txs = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    for e in events {
        match e {
            SourceEvent::Change(c) => cur.push(describe(&c.kind)),
            SourceEvent::Truncate(t) => cur.push(format!("truncate {}", t[0].name)),
            SourceEvent::Commit { .. } if !cur.is_empty() => txs.push(std::mem::take(&mut cur)),
            _ => {}
        }
    }
    txs
}

pub fn row_text(row: &[Datum]) -> String {
    row.iter().map(|d| d.as_text().unwrap_or("NULL").to_string()).collect::<Vec<_>>().join(",")
}

pub fn describe(kind: &ChangeKind) -> String {
    match kind {
        ChangeKind::Insert { new } => format!("I {}", row_text(new)),
        ChangeKind::Update { old_key: None, new } => format!("U {}", row_text(new)),
        ChangeKind::Update { old_key: Some(old), new } => format!("U {} -> {}", row_text(old), row_text(new)),
        ChangeKind::Delete { old_key } => format!("D {}", row_text(old_key)),
    }
}

/// A row sink that keeps what it is given.
#[derive(Clone, Default)]
pub struct Collect(pub Arc<std::sync::Mutex<Vec<siphon_core::Row>>>);

impl siphon_core::copy::AsyncRowSink for Collect {
    fn rows(
        &mut self,
        rows: Vec<siphon_core::Row>,
    ) -> impl std::future::Future<Output = Result<(), siphon_core::Error>> + Send {
        let inner = self.0.clone();
        async move {
            inner.lock().unwrap().extend(rows);
            Ok(())
        }
    }
}

impl Collect {
    pub fn take(&self) -> Vec<siphon_core::Row> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}
