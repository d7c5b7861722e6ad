//! One pipeline: snapshot, then stream, with checkpoints that never run ahead of the data.
//!
//! # The invariant
//!
//! *The checkpoint stored in the destination is the end position of a source transaction `T`
//! (or the snapshot's consistent point), and the destination holds exactly the effect of every
//! source transaction up to and including `T` — no more, no less.* Everything else follows:
//!
//! - A destination commit writes the data and the checkpoint in one atomic transaction
//!   ([`siphon_core::destination`]), and commits happen only at source transaction boundaries.
//! - The source is told a position ([`ChangeStream::confirm`]) only after the destination commit
//!   that stored it returned, so the slot never discards WAL siphon still needs.
//! - On (re)start, streaming resumes at the stored checkpoint and every transaction whose commit
//!   record lies before it (`final_lsn < checkpoint`) is skipped: it is already applied.
//!
//! # Snapshot -> stream hand-off
//!
//! ```text
//!   CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT ──► consistent point C, snapshot S
//!        │  (the creating session stays open and idle, so S stays importable)
//!        ▼
//!   commit(checkpoint = C, tables emptied, copy job recorded)
//!        ▼
//!   START_REPLICATION at C ─────► stream: transactions committing after C
//!   copy workers: chunks at S ──► copied rows, applied between stream transactions
//!        ▼                         (each chunk's `done` record commits with its rows)
//!   last chunk committed: backfill.finished, state streaming
//! ```
//!
//! S sees precisely the transactions whose commit precedes C, and the slot streams precisely
//! those that commit after C, so nothing is missed and nothing is applied twice. A copied row is
//! dropped when the stream has already touched its key (see [`crate::copy`], which argues the
//! hand-off for every copy: first snapshot, resumed copy, added table, gap repair, backfill).
//!
//! # Crashes, step by step
//!
//! | crash during                 | what the restart finds         | what it does                 |
//! |------------------------------|--------------------------------|------------------------------|
//! | slot creation, before the first commit | no checkpoint, slot exists | drops the slot, starts over |
//! | a copy                       | checkpoint, copy records       | resumes the chunks not done (temporary slot's snapshot) |
//! | streaming, before a commit   | checkpoint at the previous one | re-streams from it, skips ≤  |
//! | commit itself                | old or new checkpoint (atomic) | as above                     |
//! | after commit, before confirm | newer checkpoint than the slot | skips what the slot resends  |
//!
//! # Gaps
//!
//! Resuming from a checkpoint is only correct if the slot still holds every change after it
//! ([`Pipeline::check_continuity`] lists what proves it). Otherwise the stream has a gap: it is
//! reported (log, `events.jsonl`, status) with its window and, by `pipeline.on_gap`, either fatal
//! or repaired by the same hand-off as the first snapshot — new slot, exported snapshot, every
//! table emptied and copied again while the stream runs from the new slot.
//!
//! # When to commit
//!
//! At a source transaction boundary, when the oldest buffered change has waited
//! `flush.interval_ms`, or the buffer reached `flush.max_rows` / `flush.max_bytes`, or the source
//! has been quiet for [`CAUGHT_UP_QUIET`] (siphon has caught up, so waiting longer only adds
//! latency).
//!
//! # Memory
//!
//! Buffered changes are bounded by `flush.max_rows` and `flush.max_bytes`: beyond them the
//! batch is written into the open destination transaction (not committed — a source transaction
//! is never split across destination commits). The replication session buffers at most 1024
//! messages. See docs/operations.md for the full bound.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use siphon_core::batch::Batch;
use siphon_core::change::{Change, ChangeKind, SourceEvent};
use siphon_core::config::{Config, DestinationKind, OnGap, SourceKind};
use siphon_core::destination::{Checkpoint, Destination};
use siphon_core::schema::{TableName, TableSchema};
use siphon_core::{Error, Lsn};
use siphon_duckdb::query::QueryService;
use siphon_duckdb::{DuckDbDestination, DuckDbOptions};
use siphon_pgdest::{PgDestOptions, PgDestination};
use tokio::sync::watch;

use crate::copy;
use crate::null_destination::NullDestination;
use crate::source::postgres::PostgresSource;
use crate::source::{CatalogSeen, ChangeStream, Continuity, Gap, Source};
use crate::state_dir::StateDir;
use crate::status::{unix_ms_now, Phase, RowOp, Status};
use crate::telemetry;

/// How long the source must be quiet, at a transaction boundary, before buffered changes are
/// committed without waiting for `flush.interval_ms`.
const CAUGHT_UP_QUIET: Duration = Duration::from_millis(20);

/// At most this many events the stream already holds are handled in a row, between two looks
/// at everything else the streaming loop waits for.
const READY_RUN: usize = 4096;

/// Copied rows already queued for one table are applied together up to about this much text
/// (`CopyJob::coalesce`): few large pieces for a destination slower than the copy (DuckDB's
/// upsert costs much per statement), while the workers send small ones that stay in cache.
const COPY_APPLY_BYTES: usize = 8 << 20;

/// Runs the pipeline until `shutdown` turns true (returns `Ok`) or a fatal error.
///
/// Pause and resume come from the control API through a watch channel; the paused state is kept
/// in `state_dir/paused`, so a restarted daemon stays paused until resumed.
pub async fn run(config: Config, shutdown: watch::Receiver<bool>) -> Result<(), Error> {
    let application = format!("siphon-{}", config.pipeline.name);
    match config.source.kind {
        SourceKind::Postgres => {
            let source =
                PostgresSource::new(&config.source.url, &application, &config.source.slot, &config.source.publication)?;
            run_with(source, config, shutdown).await
        }
        SourceKind::Mysql => {
            let source = crate::source::mysql::MySqlSource::new(&config.source.url, config.server_id())?;
            run_with(source, config, shutdown).await
        }
    }
}

async fn run_with<S: Source>(source: S, config: Config, mut shutdown: watch::Receiver<bool>) -> Result<(), Error> {
    let state_dir = StateDir::open(&config.pipeline.state_dir)?;
    let (mut destination, queries) = open_destination(&config, &state_dir)?;
    let stored = block(|| destination.load_checkpoint())?.map(|cp| cp.lsn);
    let (pause_tx, mut pause) = watch::channel(state_dir.paused());
    let (phase_tx, phase_rx) = watch::channel(Phase::Starting);
    let metrics = telemetry::install();
    let health = crate::alerts::SharedHealth::default();
    let (backfill_tx, requests) = tokio::sync::mpsc::channel(4);
    let levers = crate::control::Levers {
        pause: pause_tx,
        phase: phase_rx,
        metrics,
        health: health.clone(),
        backfill: backfill_tx,
    };
    crate::control::start(&config, state_dir.path(), queries, levers).await?;
    let alerts = Arc::new(std::sync::Mutex::new(crate::alerts::Alerts::new(
        config.alerts.clone(),
        config.pipeline.name.clone(),
        state_dir.path().to_path_buf(),
    )));
    let watch = SlotWatch {
        source: source.clone(),
        slot: config.source.slot.clone(),
        pipeline: config.pipeline.name.clone(),
        interval: Duration::from_secs(config.alerts.check_interval_s),
        health: health.clone(),
        alerts: alerts.clone(),
    };
    tokio::spawn(watch_slot(watch));
    tracing::info!(pipeline = %config.pipeline.name, source = %source.describe(), destination = %destination.describe(), "pipeline starting");
    let mut pipeline = Pipeline {
        health,
        alerts,
        status: {
            let mut status = Status::new(&config.pipeline.name);
            let s = source.clone();
            status.source =
                crate::status::SourceLabel { kind: S::KIND, format: Arc::new(move |l| s.format_position(l)) };
            status
        },
        config,
        source,
        destination,
        state_dir,
        phase: phase_tx,
        requests,
        copy_progress_at: None,
    };
    pipeline.status.checkpoint = stored;
    pipeline
        .record_event(serde_json::json!({ "event": "pipeline.started", "checkpoint": stored.map(|l| l.to_string()) }));
    let max_backoff = Duration::from_secs(pipeline.config.source.reconnect_max_backoff_s);
    let mut backoff = Duration::from_secs(1);
    loop {
        if *pause.borrow() {
            pipeline.source.released().await;
            pipeline.set_phase(Phase::Paused);
            tracing::info!("pipeline paused: replication connection closed, slot released");
            pipeline.record_event(serde_json::json!({ "event": "pipeline.paused", "checkpoint": pipeline.status.checkpoint.map(|l| l.to_string()) }));
            tokio::select! {
                _ = pause.wait_for(|p| !*p) => {
                    tracing::info!("pipeline resumed");
                    pipeline.record_event(serde_json::json!({ "event": "pipeline.resumed" }));
                }
                _ = shutdown.wait_for(|s| *s) => { pipeline.set_phase(Phase::Stopped); return Ok(()) }
            }
        }
        let commits_before = pipeline.status.commits;
        let result = pipeline.session(&mut Stop { shutdown: shutdown.clone(), pause: pause.clone() }).await;
        block(|| pipeline.destination.rollback()).ok();
        match result {
            Ok(()) if *shutdown.borrow() => {
                pipeline.set_phase(Phase::Stopped);
                tracing::info!("pipeline stopped");
                return Ok(());
            }
            Ok(()) => {} // paused: the loop waits for resume
            Err(e) if e.is_transient() => {
                count_error(&pipeline.config.pipeline.name, &e);
                if pipeline.status.commits > commits_before {
                    backoff = Duration::from_secs(1);
                }
                tracing::warn!(error = %e, retry_in_s = backoff.as_secs(), "source unavailable, reconnecting");
                pipeline.record_event(serde_json::json!({ "event": "replication.error", "error": e.message, "retry_in_s": backoff.as_secs() }));
                pipeline.status.last_error = Some(e.to_string());
                pipeline.set_phase(Phase::Reconnecting);
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = pause.wait_for(|p| *p) => {}
                    _ = shutdown.wait_for(|s| *s) => { pipeline.set_phase(Phase::Stopped); return Ok(()) }
                }
                backoff = (backoff * 2).min(max_backoff);
            }
            Err(e) => {
                count_error(&pipeline.config.pipeline.name, &e);
                pipeline.status.last_error = Some(e.to_string());
                pipeline.set_phase(Phase::Failed);
                pipeline.health_update(|h| h.failed = Some(e.message.clone()));
                pipeline.check_alerts();
                return Err(e);
            }
        }
    }
}

fn count_error(pipeline: &str, e: &Error) {
    let class = match e.class {
        siphon_core::ErrorClass::Transient => "transient",
        siphon_core::ErrorClass::TableScoped => "table",
        siphon_core::ErrorClass::Fatal => "fatal",
    };
    metrics::counter!(telemetry::PIPELINE_ERRORS, "pipeline" => pipeline.to_string(), "class" => class).increment(1);
}

/// What the slot watcher needs.
struct SlotWatch<S> {
    source: S,
    slot: String,
    pipeline: String,
    interval: Duration,
    health: crate::alerts::SharedHealth,
    alerts: Arc<std::sync::Mutex<crate::alerts::Alerts>>,
}

/// Polls the source's replication health for the metrics and the alerts, for the life of the
/// process.
async fn watch_slot<S: Source>(w: SlotWatch<S>) {
    let SlotWatch { source, slot: slot_name, pipeline, interval, health, alerts } = w;
    loop {
        match source.health().await {
            Ok(Some(own)) => {
                let labels = [("pipeline", pipeline.clone()), ("slot", slot_name.clone())];
                metrics::gauge!(telemetry::SLOT_RETAINED, &labels).set(own.retained_bytes.unwrap_or(0) as f64);
                metrics::gauge!(telemetry::SLOT_SAFE, &labels).set(own.safe_bytes.unwrap_or(-1) as f64);
                metrics::gauge!(telemetry::SLOT_ACTIVE, &labels).set(if own.active { 1.0 } else { 0.0 });
                if let Ok(mut h) = health.lock() {
                    h.retained_wal_bytes = own.retained_bytes.unwrap_or(0);
                    h.wal_status = own.status.clone();
                    h.safe_wal_size_bytes = own.safe_bytes;
                    h.slot_active = own.active;
                }
                let status = own.status.unwrap_or_default();
                for st in telemetry::WAL_STATUSES {
                    let l = [("pipeline", pipeline.clone()), ("slot", slot_name.clone()), ("status", st.to_string())];
                    metrics::gauge!(telemetry::SLOT_WAL_STATUS, &l).set(if st == status { 1.0 } else { 0.0 });
                }
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "source health: query failed"),
        }
        crate::alerts::check_now(&alerts, &health);
        tokio::time::sleep(interval).await;
    }
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// Why a flush happened (a metrics label).
#[derive(Clone, Copy)]
enum FlushReason {
    Interval,
    MaxRows,
    MaxBytes,
    CaughtUp,
    Shutdown,
    /// A copy finished.
    Copy,
}

impl FlushReason {
    fn as_str(self) -> &'static str {
        match self {
            FlushReason::Interval => "interval",
            FlushReason::MaxRows => "max_rows",
            FlushReason::MaxBytes => "max_bytes",
            FlushReason::CaughtUp => "caught_up",
            FlushReason::Shutdown => "shutdown",
            FlushReason::Copy => "copy",
        }
    }
}

/// What ends a session: shutdown (exit) or pause (wait for resume).
#[derive(Clone)]
struct Stop {
    shutdown: watch::Receiver<bool>,
    pause: watch::Receiver<bool>,
}

impl Stop {
    async fn requested(&mut self) {
        tokio::select! {
            _ = self.shutdown.wait_for(|s| *s) => {}
            _ = self.pause.wait_for(|p| *p) => {}
        }
    }
}

/// The destination, and a read-only query service on it when it keeps rows.
type OpenedDestination = (Box<dyn Destination>, Option<Arc<QueryService>>);

fn open_destination(config: &Config, state_dir: &StateDir) -> Result<OpenedDestination, Error> {
    let (destination, queries) = open_plain_destination(config, state_dir)?;
    let modes = siphon_core::modes::TableModes::from_config(config);
    if modes.is_plain() {
        return Ok((destination, queries));
    }
    Ok((Box::new(crate::table_modes::ModedDestination::new(destination, Arc::new(modes))), queries))
}

fn open_plain_destination(config: &Config, state_dir: &StateDir) -> Result<OpenedDestination, Error> {
    Ok(match config.destination.kind {
        DestinationKind::Null => (Box::new(NullDestination::new(state_dir.path())), None),
        DestinationKind::Duckdb => {
            let temp_dir = state_dir.path().join("duckdb-spill");
            let duckdb = DuckDbDestination::open(&DuckDbOptions {
                path: config.destination.path.clone().unwrap_or_default(),
                pipeline: config.pipeline.name.clone(),
                memory_limit_mib: config.destination.memory_limit_mib,
                temp_dir,
            })?;
            let queries = Arc::new(duckdb.query_service()?);
            (Box::new(duckdb), Some(queries))
        }
        DestinationKind::Postgres => {
            let url = config.destination.url.clone().ok_or_else(|| Error::fatal("destination.url is not set"))?;
            let postgres = PgDestination::new(&PgDestOptions {
                url,
                pipeline: config.pipeline.name.clone(),
                schema_prefix: config.destination.schema_prefix.clone(),
            })?;
            (Box::new(postgres), None)
        }
    })
}

/// The running copy's next message (never, when none runs).
async fn next_copy_msg(copy: &mut Option<copy::CopyJob>) -> Option<copy::CopyMsg> {
    match copy {
        Some(job) => job.next_msg().await,
        None => std::future::pending().await,
    }
}

/// Tells the running copy which keys a stream change touched.
fn track(tracked: &mut copy::Tracked, change: &Change) {
    let table = &change.table;
    match &change.kind {
        ChangeKind::Insert { new } => tracked.written(copy::key_of(table, new), new),
        ChangeKind::Update { old_key, new } => {
            let key = copy::key_of(table, new);
            if let Some(old) = old_key.as_ref().map(|o| copy::key_of(table, o)).filter(|o| *o != key) {
                tracked.deleted(old);
            }
            tracked.written(key, new);
        }
        ChangeKind::Delete { old_key } => tracked.deleted(copy::key_of(table, old_key)),
    }
}

/// Runs blocking destination work without stalling the async runtime's other tasks.
fn block<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

struct Pipeline<S: Source> {
    config: Config,
    source: S,
    destination: Box<dyn Destination>,
    state_dir: StateDir,
    status: Status,
    phase: watch::Sender<Phase>,
    health: crate::alerts::SharedHealth,
    alerts: Arc<std::sync::Mutex<crate::alerts::Alerts>>,
    /// `siphon backfill` requests from the control API.
    requests: tokio::sync::mpsc::Receiver<crate::control::BackfillRequest>,
    copy_progress_at: Option<Instant>,
}

/// A copy about to start: its tables and, for the first copy, the snapshot made with the
/// position the stream starts from.
struct PendingCopy<H> {
    tables: Vec<copy::TableCopy>,
    held: Option<H>,
    /// Why (for the event): initial, gap, resumed, added, requested.
    reason: &'static str,
    /// The truncates and headers of truncate-mode tables are already committed.
    truncated: bool,
}

/// Copy bookkeeping to commit with the next checkpoint.
#[derive(Default)]
struct Records {
    chunks: Vec<siphon_core::destination::ChunkRecord>,
    snapshotted: Vec<TableName>,
    finished_jobs: Vec<String>,
}

/// A copy waiting for its turn (one copy runs at a time).
struct QueuedCopy {
    schema: Arc<TableSchema>,
    after: Lsn,
    mode: copy::Mode,
    reason: &'static str,
}

/// Streaming state between destination commits.
struct Stream {
    /// What the catalog poller saw.
    catalog: tokio::sync::mpsc::Receiver<CatalogSeen>,
    /// Each replicated table's column identities ([`Source::column_ids`]): current names, and
    /// the names columns had before, with the identity they had then.
    column_ids: HashMap<TableName, HashMap<String, i64>>,
    /// Renames found for the schema event being handled.
    renamed: Vec<(String, String)>,
    /// Columns added at the destination from the catalog, before the stream carried them.
    columns_added: std::collections::HashSet<(TableName, String)>,
    /// Copies to start when no copy runs, each once the stream has passed its position: a table
    /// copied again (merge) because a column with a default was added (the position read after
    /// the poll saw it), a table that joined the publication (truncate, at once).
    queued_copies: Vec<QueuedCopy>,
    checkpoint: Lsn,
    /// The stream has delivered every transaction that commits before this position.
    received: Lsn,
    /// The running copy, if any.
    copy: Option<copy::CopyJob>,
    /// The gap the running copy repairs.
    copy_gap: Option<Gap>,
    /// Copy progress waiting for the next commit.
    records: Records,
    batch: Batch,
    /// When the oldest uncommitted change arrived.
    pending_since: Option<Instant>,
    /// The GTID set of the checkpoint (MySQL / MariaDB).
    gtid: Option<String>,
    /// End of the last source transaction received but not committed to the destination.
    uncommitted_end: Option<Lsn>,
    in_transaction: bool,
    /// The current source transaction is already applied (its commit precedes the checkpoint).
    skipping: bool,
    schemas: HashMap<TableName, Arc<TableSchema>>,
    /// The source transaction being received: stamps its changes for the table modes.
    tx: siphon_core::batch::Transaction,
    /// Commit time (µs since 2000-01-01) of the last source transaction received.
    last_commit_time_micros: i64,
    applied: AppliedCounts,
}

/// Row changes per table and operation since the last flush, published to the metrics and the
/// status's per-table counters at each commit (not per row: the hot path only bumps a local
/// counter).
#[derive(Default)]
struct AppliedCounts {
    /// Keyed by the schema's address: the entry holds the Arc, so the address stays unique.
    counts: HashMap<(usize, RowOp), (Arc<TableSchema>, u64), foldhash::fast::RandomState>,
}

impl AppliedCounts {
    fn count(&mut self, table: &Arc<TableSchema>, op: RowOp) {
        self.counts.entry((Arc::as_ptr(table) as usize, op)).or_insert_with(|| (table.clone(), 0)).1 += 1;
    }

    /// After the commit that made them durable.
    fn publish(&mut self, status: &mut Status) {
        let now = unix_ms_now();
        for ((_, op), (table, n)) in self.counts.drain() {
            let labels = [("table", table.name.to_string()), ("op", op.as_str().to_string())];
            metrics::counter!(telemetry::ROWS_APPLIED, &labels).increment(n);
            status.table_mut(&table.name).add(op, n, now);
        }
    }
}

impl<S: Source> Pipeline<S> {
    fn set_phase(&mut self, phase: Phase) {
        self.status.phase = phase;
        self.status.write(self.state_dir.path());
        telemetry::set_state(&self.config.pipeline.name, phase.as_str());
        self.phase.send_replace(phase);
    }

    fn health_update(&self, f: impl FnOnce(&mut crate::alerts::Health)) {
        if let Ok(mut h) = self.health.lock() {
            f(&mut h);
        }
    }

    /// Checks the alerts now (instead of at the next periodic check).
    fn check_alerts(&self) {
        crate::alerts::check_now(&self.alerts, &self.health);
    }

    /// One connection's worth of work: prepare, start the copies that are due, stream (and
    /// copy) until shutdown or pause.
    async fn session(&mut self, stop: &mut Stop) -> Result<(), Error> {
        self.set_phase(Phase::Starting);
        let configured = self.config.tables();
        let schemas = self.source.tables(configured.as_deref()).await?;
        let records = block(|| self.destination.load_chunks())?;
        let (checkpoint, gtid, copy, gap) = match block(|| self.destination.load_checkpoint())? {
            Some(cp) => match self.check_continuity(&cp).await? {
                Ok(lsn) => {
                    let copy = self.due_copies(&cp, &records, &schemas);
                    (lsn, cp.gtid.clone(), copy, None)
                }
                Err(gap) => {
                    self.report_gap(&gap)?;
                    tokio::select! {
                        r = self.fresh_copy(&schemas, &records, Some(&gap)) => { let (lsn, gtid, copy) = r?; (lsn, gtid, copy, Some(gap)) }
                        _ = stop.requested() => return Ok(()),
                    }
                }
            },
            None => tokio::select! {
                r = self.fresh_copy(&schemas, &records, None) => { let (lsn, gtid, copy) = r?; (lsn, gtid, copy, None) }
                _ = stop.requested() => return Ok(()),
            },
        };
        self.status.checkpoint_gtid = gtid.clone();
        self.status.checkpoint = Some(checkpoint);
        for s in &schemas {
            self.status.table_mut(&s.name); // listed (at zero) before their first change
        }
        block(|| -> Result<(), Error> {
            let mut batch = Batch::new();
            for s in &schemas {
                self.destination.ensure_table(s)?;
            }
            let mut chunks = Vec::new();
            if let Some(c) = copy.as_ref().filter(|c| !c.truncated) {
                for t in c.tables.iter().filter(|t| t.planned.is_none() && t.mode == copy::Mode::Truncate) {
                    batch.truncate(t.schema.clone());
                    chunks.push(copy::header(&t.job, &t.schema.name, t.mode));
                }
            }
            self.destination.apply(batch)?;
            self.destination.commit(&Checkpoint {
                lsn: checkpoint,
                gtid: gtid.clone(),
                chunks,
                ..Checkpoint::default()
            })
        })?;
        let mut column_ids = HashMap::new();
        for s in &schemas {
            if let Some(ids) = self.source.column_ids(&s.name).await? {
                column_ids.insert(s.name.clone(), ids);
            }
        }
        let mut stream = self.source.stream(checkpoint, gtid.as_deref(), &schemas).await?;
        let (catalog_tx, catalog) = tokio::sync::mpsc::channel(4);
        let poller = (self.config.source.schema_poll_s > 0).then(|| {
            let every = Duration::from_secs(self.config.source.schema_poll_s);
            tokio::spawn(crate::source::poll_catalog(self.source.clone(), configured.clone(), every, catalog_tx))
        });
        let mut state = Stream {
            catalog,
            columns_added: Default::default(),
            queued_copies: Vec::new(),
            column_ids,
            renamed: Vec::new(),
            checkpoint,
            gtid,
            received: checkpoint,
            batch: Batch::new(),
            pending_since: None,
            uncommitted_end: None,
            in_transaction: false,
            skipping: false,
            schemas: schemas.iter().map(|s| (s.name.clone(), s.clone())).collect(),
            tx: siphon_core::batch::Transaction::new(Arc::new(siphon_core::modes::TableModes::from_config(
                &self.config,
            ))),
            last_commit_time_micros: 0,
            applied: AppliedCounts::default(),
            copy: None,
            copy_gap: gap,
            records: Records::default(),
        };
        match copy {
            Some(c) => self.start_copy(&mut state, c),
            None => self.set_phase(Phase::Streaming),
        }
        let result = self.stream(&mut stream, &mut state, stop).await;
        if let Some(p) = poller {
            p.abort();
        }
        stream.shutdown().await;
        result
    }

    /// Starts copying `c`'s tables beside the stream.
    fn start_copy(&mut self, st: &mut Stream, c: PendingCopy<S::Snapshot>) {
        let resumed: u32 =
            c.tables.iter().filter_map(|t| t.planned.as_ref()).flatten().filter(|ch| ch.2).count() as u32;
        let names = copy::names(&c.tables);
        let modes: Vec<&str> = c.tables.iter().map(|t| t.mode.as_str()).collect();
        tracing::info!(event = "backfill.started", tables = %names.join(", "), chunks_resumed = resumed, "copying tables");
        self.record_event(serde_json::json!({
            "event": "backfill.started", "tables": names, "modes": modes, "chunks_resumed": resumed,
            "reason": c.reason,
        }));
        let job = copy::CopyJob::start(self.source.clone(), self.config.snapshot.clone(), c.tables, c.held);
        st.copy = Some(job);
        self.publish_copy_progress(st);
        self.set_phase(Phase::Snapshotting);
    }

    /// No usable checkpoint (first start, or a gap): takes a fresh start position from the
    /// source (PostgreSQL: creates the pipeline's slot with an exported snapshot), commits it as
    /// the checkpoint with every table emptied, and returns the copy of every table.
    async fn fresh_copy(
        &mut self,
        schemas: &[Arc<TableSchema>],
        records: &[siphon_core::destination::ChunkRecord],
        gap: Option<&Gap>,
    ) -> Result<(Lsn, Option<String>, Option<PendingCopy<S::Snapshot>>), Error> {
        self.set_phase(Phase::Snapshotting);
        let fresh = self.source.fresh_start(gap.is_some()).await?;
        self.forget_confirmed()?;
        let (lsn, identity, gtid) = (fresh.position, fresh.identity, fresh.gtid);
        let job = copy::new_job_id();
        let mut old_jobs: Vec<String> = records.iter().map(|r| r.job.clone()).collect();
        old_jobs.dedup();
        let tables: Vec<copy::TableCopy> = schemas
            .iter()
            .map(|s| copy::TableCopy { schema: s.clone(), job: job.clone(), mode: copy::Mode::Truncate, planned: None })
            .collect();
        block(|| -> Result<(), Error> {
            self.destination.rollback()?;
            let mut batch = Batch::new();
            let mut chunks = Vec::new();
            for t in &tables {
                self.destination.ensure_table(&t.schema)?;
                batch.truncate(t.schema.clone());
                chunks.push(copy::header(&t.job, &t.schema.name, t.mode));
            }
            self.destination.apply(batch)?;
            self.destination.commit(&Checkpoint {
                lsn,
                source_identity: Some(identity),
                gtid: gtid.clone(),
                chunks,
                finished_jobs: old_jobs,
                ..Checkpoint::default()
            })
        })?;
        self.status.commits += 1;
        tracing::info!(consistent_point = %self.source.format_position(lsn), "fresh start: the tables are copied while the stream runs from this position");
        let reason = if gap.is_some() { "gap" } else { "initial" };
        Ok((lsn, gtid, Some(PendingCopy { tables, held: fresh.snapshot, reason, truncated: true })))
    }

    /// With a usable checkpoint: the copies still due — unfinished chunks of an interrupted copy,
    /// and tables never copied (added to the pipeline later).
    fn due_copies(
        &mut self,
        cp: &Checkpoint,
        records: &[siphon_core::destination::ChunkRecord],
        schemas: &[Arc<TableSchema>],
    ) -> Option<PendingCopy<S::Snapshot>> {
        let mut tables = Vec::new();
        for (job, name, mode, planned) in copy::unfinished(records) {
            if let Some(schema) = schemas.iter().find(|s| s.name == name) {
                tables.push(copy::TableCopy { schema: schema.clone(), job, mode, planned });
            }
        }
        let job = copy::new_job_id();
        for s in schemas {
            if !cp.snapshotted_tables.contains(&s.name) && !tables.iter().any(|t| t.schema.name == s.name) {
                tables.push(copy::TableCopy {
                    schema: s.clone(),
                    job: job.clone(),
                    mode: copy::Mode::Truncate,
                    planned: None,
                });
            }
        }
        if tables.is_empty() {
            return None;
        }
        let reason =
            if tables.iter().any(|t| t.planned.is_some() || t.mode == copy::Mode::Merge) { "resumed" } else { "added" };
        Some(PendingCopy { tables, held: None, reason, truncated: false })
    }

    /// A checkpoint exists: is the change stream after it still complete? `Err(gap)` when not
    /// (what proves it is the source's: [`Source::continuity`]).
    ///
    /// An anchor left by `siphon upgrade finish` is consumed either way: when it matches the
    /// source, the pipeline continues from it (new checkpoint, new identity) without a
    /// backfill; otherwise the gap checks decide.
    async fn check_continuity(&mut self, cp: &Checkpoint) -> Result<Result<Lsn, Gap>, Error> {
        let anchor_path = self.state_dir.path().join("anchor.json");
        let anchor: Option<crate::upgrade::Anchor> =
            std::fs::read_to_string(&anchor_path).ok().and_then(|text| serde_json::from_str(&text).ok());
        let continuity = self.source.continuity(cp, self.state_dir.confirmed(), anchor.as_ref()).await;
        let _ = std::fs::remove_file(&anchor_path);
        match continuity? {
            Continuity::Resume(lsn) => {
                tracing::info!(checkpoint = %self.source.format_position(lsn), "resuming from checkpoint");
                Ok(Ok(lsn))
            }
            Continuity::Gap(gap) => Ok(Err(gap)),
            Continuity::Moved { lsn, identity, was } => {
                // The same transactions, on another server: its position for them becomes the
                // checkpoint, committed before anything streams from there. Positions confirmed
                // on the previous server mean nothing on this one.
                self.forget_confirmed()?;
                let checkpoint = Checkpoint {
                    lsn,
                    source_identity: Some(identity.clone()),
                    gtid: cp.gtid.clone(),
                    ..Checkpoint::default()
                };
                block(|| self.destination.commit(&checkpoint))?;
                let at = self.source.format_position(lsn);
                let gtid = cp.gtid.clone().unwrap_or_default();
                tracing::info!(event = "source.moved", from = %was, to = %identity, gtid = %gtid, position = %at, "the source is another server now; continuing at its position of the checkpoint's transactions, without a backfill");
                self.record_event(serde_json::json!({
                    "event": "source.moved", "from": was, "to": identity, "gtid": gtid, "position": at,
                }));
                Ok(Ok(lsn))
            }
            Continuity::Anchored { lsn, identity } => {
                self.forget_confirmed()?;
                let checkpoint = Checkpoint { lsn, source_identity: Some(identity.clone()), ..Checkpoint::default() };
                block(|| self.destination.commit(&checkpoint))?;
                tracing::info!(event = "upgrade.anchored", lsn = %lsn, identity, "continuing on the upgraded server without a backfill");
                self.record_event(
                    serde_json::json!({ "event": "upgrade.anchored", "lsn": lsn.to_string(), "identity": identity }),
                );
                Ok(Ok(lsn))
            }
        }
    }

    /// A new position history begins (fresh start, another server): the position confirmed in
    /// the previous one is forgotten.
    fn forget_confirmed(&self) -> Result<(), Error> {
        self.state_dir.reset_confirmed().map_err(|e| {
            Error::fatal(format!(
                "could not remove {} (the previous position history's confirmed position)",
                self.state_dir.path().join("confirmed_lsn").display()
            ))
            .with_detail(e.to_string())
            .with_hint("check that pipeline.state_dir is writable by siphon")
        })
    }

    /// Logs and records a gap; with `on_gap = "fail"` it is the error that stops the pipeline.
    fn report_gap(&mut self, gap: &Gap) -> Result<(), Error> {
        let action = match self.config.pipeline.on_gap {
            OnGap::Backfill => "backfill",
            OnGap::Fail => "fail",
        };
        tracing::error!(event = "gap.detected", reason = %gap.reason, window_from = %gap.from, action, "the change stream has a gap: changes after {} may be missing", gap.from);
        self.record_event(serde_json::json!({ "event": "gap.detected", "reason": gap.reason, "window_from": gap.from.to_string(), "action": action }));
        self.health_update(|h| h.gap = Some(format!("{} (changes after {} may be missing)", gap.reason, gap.from)));
        self.check_alerts();
        if self.config.pipeline.on_gap == OnGap::Fail {
            return Err(Error::fatal(format!("the change stream has a gap: changes after {} may be missing from the destination", gap.from))
                .with_detail(gap.reason.clone())
                .with_hint("set pipeline.on_gap = \"backfill\" to re-copy the tables automatically, or backfill them yourself and delete __siphon.checkpoint"));
        }
        Ok(())
    }

    /// Appends an event to `state_dir/events.jsonl` and keeps it in the status.
    fn record_event(&mut self, mut event: serde_json::Value) {
        event["at_unix_ms"] = serde_json::json!(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0));
        if let Err(e) = crate::state_dir::append_event(self.state_dir.path(), &event) {
            tracing::warn!(error = %e, "could not record an event");
        }
        self.status.last_event = Some(event);
        self.status.write(self.state_dir.path());
    }

    async fn stream(&mut self, stream: &mut S::Stream, st: &mut Stream, stop: &mut Stop) -> Result<(), Error> {
        let interval = Duration::from_millis(self.config.flush.interval_ms);
        let mut last_event = Instant::now();
        loop {
            // Commit when the oldest change has waited `interval`, or as soon as the source has
            // been quiet for CAUGHT_UP_QUIET (everything sent so far is received): low latency
            // when caught up, large batches under load.
            let timer_armed = st.pending_since.is_some() && !st.in_transaction;
            let deadline = st
                .pending_since
                .map(|t| (t + interval).min(last_event + CAUGHT_UP_QUIET))
                .unwrap_or_else(|| Instant::now() + interval);
            // Copied rows enter at transaction boundaries, once the stream has delivered every
            // transaction before the copy's snapshot (see the `copy` module).
            if !st.in_transaction && st.copy.is_none() {
                self.start_queued_copy(st);
            }
            let copy_open =
                !st.in_transaction && st.copy.as_ref().is_some_and(|c| c.ready_at.is_none_or(|r| st.received >= r));
            tokio::select! {
                biased;
                _ = stop.requested() => return self.finish(stream, st),
                ev = stream.next() => {
                    self.on_stream_event(ev?, stream, st).await?;
                    // Events the stream already holds are taken here, without a trip through
                    // the select (whose per-turn cost exceeds a small change's): a bounded run,
                    // so stop requests, copies and timers are still looked at every few
                    // thousand events. `next` is cancel-safe (the select relies on it too).
                    for _ in 0..READY_RUN {
                        let Some(ev) = stream.next().now_or_never() else { break };
                        self.on_stream_event(ev?, stream, st).await?;
                    }
                    // When the stream last had something: the caught-up timer counts from here.
                    last_event = Instant::now();
                }
                msg = next_copy_msg(&mut st.copy), if copy_open => {
                    last_event = Instant::now();
                    self.on_copy(msg, stream, st)?
                }
                seen = st.catalog.recv(), if !st.in_transaction => {
                    if let Some(seen) = seen {
                        self.on_catalog(seen, stream, st)?;
                    }
                }
                req = self.requests.recv(), if !st.in_transaction => {
                    if let Some(req) = req {
                        self.on_backfill_request(req, st);
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()), if timer_armed => {
                    let waited = st.pending_since.is_some_and(|t| t.elapsed() >= interval);
                    self.flush(stream, st, if waited { FlushReason::Interval } else { FlushReason::CaughtUp })?
                }
            }
        }
    }

    async fn on_stream_event(&mut self, ev: SourceEvent, stream: &mut S::Stream, st: &mut Stream) -> Result<(), Error> {
        if let SourceEvent::Schema(schema) = &ev {
            let told = stream.renamed(&schema.name);
            st.renamed = self.renamed_columns(schema, told, st).await?;
        }
        self.on_event(ev, stream, st)
    }

    /// The columns a new description of a table renamed, `(old, new)`: a column gone from the
    /// description and one new in it with the same identity in the catalog. Identities are read
    /// from the catalog when a description adds columns, and the names columns had keep the
    /// identity they had; a rename followed by more changes before siphon reads the catalog may
    /// look like a drop and an add (the old column is then kept, as for a drop).
    ///
    /// `told`: renames the source's log stated (MySQL); each is taken when its old name left the
    /// description and its new name came, and the catalog identities are not consulted.
    async fn renamed_columns(
        &mut self,
        schema: &TableSchema,
        told: Vec<(String, String)>,
        st: &mut Stream,
    ) -> Result<Vec<(String, String)>, Error> {
        let Some(before) = st.schemas.get(&schema.name) else { return Ok(Vec::new()) };
        let has = |t: &TableSchema, n: &str| t.columns.iter().any(|c| c.name == n);
        let removed: Vec<String> =
            before.columns.iter().filter(|c| !has(schema, &c.name)).map(|c| c.name.clone()).collect();
        let added: Vec<String> =
            schema.columns.iter().filter(|c| !has(before, &c.name)).map(|c| c.name.clone()).collect();
        if !told.is_empty() {
            return Ok(told.into_iter().filter(|(o, n)| removed.contains(o) && added.contains(n)).collect());
        }
        if added.is_empty() {
            return Ok(Vec::new());
        }
        let Some(now) = self.source.column_ids(&schema.name).await? else { return Ok(Vec::new()) };
        let ids = st.column_ids.entry(schema.name.clone()).or_default();
        let old: Vec<(String, i64)> = removed.into_iter().filter_map(|r| ids.get(&r).map(|i| (r, *i))).collect();
        ids.extend(now);
        Ok(old
            .into_iter()
            .filter_map(|(r, i)| added.iter().find(|a| ids.get(*a) == Some(&i)).map(|a| (r, a.clone())))
            .collect())
    }

    fn on_event(&mut self, ev: SourceEvent, stream: &S::Stream, st: &mut Stream) -> Result<(), Error> {
        match ev {
            SourceEvent::Begin { final_lsn, commit_time_micros } => {
                st.tx.begin(final_lsn, commit_time_micros);
                st.in_transaction = true;
                st.skipping = final_lsn < st.checkpoint;
                st.received = st.received.max(final_lsn);
            }
            SourceEvent::Schema(schema) => {
                let renamed = std::mem::take(&mut st.renamed);
                if st.schemas.get(&schema.name) != Some(&schema) {
                    let (mut retyped, mut dropped) = (Vec::new(), Vec::new());
                    if let Some(before) = st.schemas.get(&schema.name) {
                        let columns = |t: &TableSchema| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
                        retyped = schema
                            .columns
                            .iter()
                            .filter(|c| {
                                // A renamed column is compared with the column it was.
                                let was =
                                    renamed.iter().find(|(_, new)| *new == c.name).map_or(&c.name, |(old, _)| old);
                                before.columns.iter().any(|b| {
                                    b.name == *was
                                        && (b.source_type.oid, b.source_type.modifier)
                                            != (c.source_type.oid, c.source_type.modifier)
                                })
                            })
                            .cloned()
                            .collect();
                        if self.config.destination.drop_columns {
                            dropped = columns(before)
                                .into_iter()
                                .filter(|n| !columns(&schema).contains(n) && !renamed.iter().any(|(old, _)| old == n))
                                .collect();
                        }
                        let names =
                            |cs: &[siphon_core::schema::Column]| cs.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
                        tracing::info!(event = "ddl.seen", table = %schema.name, "the table's schema changed at the source");
                        self.record_event(serde_json::json!({
                            "event": "ddl.seen", "table": schema.name.to_string(),
                            "columns_before": columns(before), "columns_after": columns(&schema),
                            "retyped": names(&retyped), "dropped": dropped, "renamed": renamed,
                        }));
                    }
                    let batch = std::mem::take(&mut st.batch);
                    block(|| -> Result<(), Error> {
                        self.destination.apply(batch)?;
                        if !renamed.is_empty() {
                            self.destination.rename_columns(&schema.name, &renamed)?;
                        }
                        if !retyped.is_empty() || !dropped.is_empty() {
                            self.destination.change_columns(&schema.name, &retyped, &dropped)?;
                        }
                        self.destination.ensure_table(&schema)
                    })?;
                    st.pending_since.get_or_insert_with(Instant::now);
                    st.schemas.insert(schema.name.clone(), schema);
                }
            }
            SourceEvent::Change(change) if !st.skipping => {
                st.pending_since.get_or_insert_with(Instant::now);
                if let Some(tracked) = st.copy.as_mut().and_then(|c| c.tracked.get_mut(&change.table.name)) {
                    track(tracked, &change);
                }
                let op = match change.kind {
                    ChangeKind::Insert { .. } => RowOp::Insert,
                    ChangeKind::Update { .. } => RowOp::Update,
                    ChangeKind::Delete { .. } => RowOp::Delete,
                };
                st.applied.count(&change.table, op);
                st.batch.push_in(change, &mut st.tx);
                self.status.changes_applied += 1;
                if self.over_limits(&st.batch) {
                    let batch = std::mem::take(&mut st.batch);
                    block(|| self.destination.apply(batch))?;
                }
            }
            SourceEvent::Truncate(tables) if !st.skipping => {
                st.pending_since.get_or_insert_with(Instant::now);
                for t in tables {
                    if let Some(tracked) = st.copy.as_mut().and_then(|c| c.tracked.get_mut(&t)) {
                        tracked.truncated();
                    }
                    if let Some(schema) = st.schemas.get(&t) {
                        st.applied.count(schema, RowOp::Truncate);
                        st.batch.truncate_in(schema.clone(), &mut st.tx);
                    }
                }
            }
            SourceEvent::Change(_) | SourceEvent::Truncate(_) => {}
            SourceEvent::Commit { end_lsn, commit_time_micros } => {
                st.in_transaction = false;
                st.received = st.received.max(end_lsn);
                if std::mem::take(&mut st.skipping) {
                    return Ok(());
                }
                st.uncommitted_end = Some(end_lsn);
                st.last_commit_time_micros = commit_time_micros;
                st.pending_since.get_or_insert_with(Instant::now);
                let due =
                    st.pending_since.is_some_and(|t| t.elapsed().as_millis() as u64 >= self.config.flush.interval_ms);
                let reason = if st.batch.change_count() >= self.config.flush.max_rows {
                    Some(FlushReason::MaxRows)
                } else if st.batch.byte_size() >= self.config.flush.max_bytes {
                    Some(FlushReason::MaxBytes)
                } else {
                    due.then_some(FlushReason::Interval)
                };
                if let Some(reason) = reason {
                    self.flush(stream, st, reason)?;
                }
            }
            SourceEvent::Idle { wal_end } => {
                st.received = st.received.max(wal_end);
                // Nothing in flight and nothing uncommitted: the server has sent all changes
                // before wal_end and none concerned us, so the slot may move up to it.
                if st.pending_since.is_none() && !st.in_transaction && wal_end > st.checkpoint {
                    // Recorded first: a slot confirmed past the checkpoint by siphon itself is
                    // not a gap (see check_continuity).
                    match self.state_dir.record_confirmed(wal_end) {
                        Ok(()) => {
                            stream.confirm(wal_end);
                            let name = self.config.pipeline.name.clone();
                            metrics::gauge!(telemetry::LAG_BYTES, "pipeline" => name.clone()).set(0.0);
                            metrics::gauge!(telemetry::LAG_SECONDS, "pipeline" => name).set(0.0);
                            self.health_update(|h| {
                                h.lag_seconds = 0.0;
                                h.lag_bytes = 0;
                            });
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "could not record a confirmed position; not confirming it")
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A message of the running copy (only at a transaction boundary, once the stream has
    /// delivered everything before the copy's snapshot).
    fn on_copy(&mut self, msg: Option<copy::CopyMsg>, stream: &S::Stream, st: &mut Stream) -> Result<(), Error> {
        let Some(job) = st.copy.as_mut() else { return Ok(()) };
        match msg {
            None => return Err(Error::transient("the copy stopped before it finished")),
            Some(copy::CopyMsg::Failed(e)) => return Err(e),
            Some(copy::CopyMsg::Snapshot(lsn)) => {
                tracing::debug!(consistent_point = %lsn, "copy snapshot ready");
                job.ready_at = job.ready_at.max(Some(lsn));
            }
            Some(copy::CopyMsg::Planned { table, chunks, estimated_rows }) => {
                tracing::info!(table = %job.tables[table].schema.name, chunks = chunks.len(), estimated_rows, "copy planned");
                let records = job.planned(table, chunks, estimated_rows);
                st.records.chunks.extend(records);
                st.pending_since.get_or_insert_with(Instant::now);
            }
            Some(copy::CopyMsg::Rows { table, block: mut rows }) => {
                job.coalesce(table, &mut rows, COPY_APPLY_BYTES);
                let schema = job.tables[table].schema.clone();
                let n = rows.len() as u64;
                let rows = match job.tracked.get(&schema.name).filter(|t| !t.is_empty()) {
                    None => rows,
                    Some(t) => t.resolve_block(&schema, rows),
                };
                job.progress[table].rows_copied += n;
                self.status.snapshot_rows += n;
                metrics::counter!(telemetry::SNAPSHOT_ROWS, "table" => schema.name.to_string()).increment(n);
                st.pending_since.get_or_insert_with(Instant::now);
                // Applied in stream order: what the batch holds came first. A chunk's keys are
                // distinct and the stream has not touched them, so no compaction is needed.
                let batch = std::mem::take(&mut st.batch);
                block(|| -> Result<(), Error> {
                    if !batch.is_empty() {
                        self.destination.apply(batch)?;
                    }
                    self.destination.apply_block(&schema, rows)
                })?;
            }
            Some(copy::CopyMsg::ChunkDone { table, chunk, rows }) => {
                let record = job.chunk_done(table, chunk, rows);
                st.records.chunks.push(record);
                st.pending_since.get_or_insert_with(Instant::now);
                let p = &job.progress[table];
                if p.done() {
                    let name = job.tables[table].schema.name.clone();
                    tracing::info!(table = %name, rows = p.rows_copied, chunks = p.chunks_total, elapsed_ms = job.started.elapsed().as_millis() as u64, "table copied");
                    st.records.snapshotted.push(name);
                }
                if job.finished() {
                    let mut jobs: Vec<String> = job.tables.iter().map(|t| t.job.clone()).collect();
                    jobs.sort();
                    jobs.dedup();
                    st.records.finished_jobs.extend(jobs);
                    self.flush(stream, st, FlushReason::Copy)?;
                    self.copy_finished(st);
                    return Ok(());
                }
            }
        }
        // Copy messages can arrive back to back for a long time: commit on the interval here,
        // since the (biased) select would let them starve the flush timer.
        let due = st.pending_since.is_some_and(|t| t.elapsed().as_millis() as u64 >= self.config.flush.interval_ms);
        if due {
            self.flush(stream, st, FlushReason::Interval)?;
        }
        self.publish_copy_progress(st);
        Ok(())
    }

    /// The copy's last chunk is committed.
    fn copy_finished(&mut self, st: &mut Stream) {
        let Some(job) = st.copy.take() else { return };
        let names = copy::names(&job.tables);
        let rows: u64 = job.progress.iter().map(|p| p.rows_copied).sum();
        let elapsed = job.started.elapsed().as_secs_f64();
        tracing::info!(event = "backfill.finished", tables = %names.join(", "), rows, chunks_copied = job.chunks_copied(), elapsed_s = elapsed, "copy finished");
        let chunks: serde_json::Map<String, serde_json::Value> = job
            .tables
            .iter()
            .zip(&job.progress)
            .map(|(t, p)| (t.schema.name.to_string(), p.chunks_total.into()))
            .collect();
        self.record_event(serde_json::json!({
            "event": "backfill.finished", "tables": names, "rows": rows, "chunks": chunks,
            "chunks_copied": job.chunks_copied(), "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
        }));
        if let Some(gap) = st.copy_gap.take() {
            tracing::info!(event = "gap.repaired", window_from = %gap.from, window_to = %st.checkpoint, tables = names.len(), "gap repaired: every table re-copied at the new slot's snapshot");
            self.health_update(|h| h.gap = None);
            self.record_event(serde_json::json!({ "event": "gap.repaired", "reason": gap.reason, "window_from": gap.from.to_string(), "window_to": st.checkpoint.to_string(), "tables": names.len() }));
        }
        drop(job);
        self.status.copy.clear();
        self.set_phase(Phase::Streaming);
    }

    /// Publishes the running copy's progress to the status (at most every 250 ms).
    fn publish_copy_progress(&mut self, st: &Stream) {
        let Some(job) = &st.copy else { return };
        if self.status.copy.len() == job.tables.len()
            && self.copy_progress_at.is_some_and(|t| t.elapsed() < Duration::from_millis(250))
        {
            return;
        }
        self.copy_progress_at = Some(Instant::now());
        self.status.copy =
            job.tables.iter().zip(&job.progress).map(|(t, p)| (t.schema.name.to_string(), p.clone())).collect();
        self.status.write(self.state_dir.path());
    }

    /// `siphon backfill`: copies tables again while the stream goes on.
    fn on_backfill_request(&mut self, req: crate::control::BackfillRequest, st: &mut Stream) {
        if req.reply.is_closed() {
            return; // asked while the pipeline was not streaming; the asker was told so
        }
        let reply = |r: Result<String, Error>| {
            let _ = req.reply.send(r);
        };
        if st.copy.is_some() {
            return reply(Err(Error::fatal("a copy is already running")
                .with_hint("wait for it to finish (siphon status shows its progress), then ask again")));
        }
        let mut schemas = Vec::new();
        for t in &req.tables {
            match st.schemas.get(t) {
                Some(s) => schemas.push(s.clone()),
                None => {
                    return reply(Err(Error::fatal(format!("{t} is not replicated by this pipeline"))
                        .with_hint("name a table of the pipeline (siphon status lists them)")))
                }
            }
        }
        if schemas.is_empty() {
            schemas = st.schemas.values().cloned().collect();
            schemas.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let job = self.copy_online(st, schemas, req.mode, "requested");
        reply(Ok(job));
    }

    /// Starts copying `schemas` again while streaming (at a transaction boundary, no copy
    /// running): the job is recorded, and in truncate mode the tables emptied, at this point of
    /// the stream, in the next commit. Returns the job's name.
    fn copy_online(
        &mut self,
        st: &mut Stream,
        schemas: Vec<Arc<TableSchema>>,
        mode: copy::Mode,
        reason: &'static str,
    ) -> String {
        let job = copy::new_job_id();
        for s in &schemas {
            if mode == copy::Mode::Truncate {
                st.batch.truncate(s.clone());
            }
            st.records.chunks.push(copy::header(&job, &s.name, mode));
        }
        st.pending_since.get_or_insert_with(Instant::now);
        let tables = schemas
            .into_iter()
            .map(|schema| copy::TableCopy { schema, job: job.clone(), mode, planned: None })
            .collect();
        self.start_copy(st, PendingCopy { tables, held: None, reason, truncated: true });
        job
    }

    /// The catalog poller saw a table's columns: columns the stream has not described yet are
    /// added at the destination now (NULL until a change carries them); a column with a default
    /// gave every existing row a value no change carries, so the table is copied again (merge)
    /// once the stream is past the change.
    fn on_catalog(&mut self, seen: CatalogSeen, stream: &mut S::Stream, st: &mut Stream) -> Result<(), Error> {
        let name = seen.schema.name.clone();
        let Some(current) = st.schemas.get(&name) else { return self.table_joined(seen.schema, stream, st) };
        if current.columns.iter().any(|k| !seen.schema.columns.iter().any(|c| c.name == k.name)) {
            // A column was dropped or renamed: the stream's next description of the table tells
            // which (a renamed column must not be added under its new name first).
            return Ok(());
        }
        let added: Vec<siphon_core::schema::Column> = seen
            .schema
            .columns
            .iter()
            .filter(|c| !current.columns.iter().any(|k| k.name == c.name))
            .filter(|c| !st.columns_added.contains(&(name.clone(), c.name.clone())))
            .cloned()
            .collect();
        if added.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut st.batch);
        block(|| -> Result<(), Error> {
            self.destination.apply(batch)?;
            self.destination.add_columns(&name, &added)
        })?;
        st.pending_since.get_or_insert_with(Instant::now);
        let names: Vec<String> = added.iter().map(|c| c.name.clone()).collect();
        let with_default = added.iter().any(|c| seen.defaults.contains(&c.name));
        tracing::info!(event = "ddl.seen", table = %name, columns = %names.join(", "), with_default, "columns added at the source (from the catalog)");
        self.record_event(serde_json::json!({
            "event": "ddl.seen", "table": name.to_string(), "columns_added": names, "via": "catalog",
            "copy": with_default,
        }));
        for c in &added {
            st.columns_added.insert((name.clone(), c.name.clone()));
        }
        if with_default && !st.queued_copies.iter().any(|q| q.schema.name == name) {
            st.queued_copies.push(QueuedCopy {
                schema: seen.schema,
                after: seen.position,
                mode: copy::Mode::Merge,
                reason: "ddl",
            });
        }
        Ok(())
    }

    /// A table joined the replicated set while streaming (created under a `FOR ALL TABLES`
    /// publication, or added to the publication): it is created at the destination, streamed
    /// from this point on, and copied (truncate mode) as soon as no other copy runs. Changes
    /// streamed before its copy starts are emptied by the copy's truncate and covered by its
    /// snapshot, which is taken after (see [`crate::copy`]).
    fn table_joined(&mut self, schema: Arc<TableSchema>, stream: &mut S::Stream, st: &mut Stream) -> Result<(), Error> {
        let name = schema.name.clone();
        let batch = std::mem::take(&mut st.batch);
        block(|| -> Result<(), Error> {
            self.destination.apply(batch)?;
            self.destination.ensure_table(&schema)
        })?;
        st.pending_since.get_or_insert_with(Instant::now);
        stream.add_table(schema.clone());
        st.schemas.insert(name.clone(), schema.clone());
        self.status.table_mut(&name);
        tracing::info!(event = "ddl.seen", table = %name, "a table joined the publication: streaming it, and copying it");
        self.record_event(serde_json::json!({
            "event": "ddl.seen", "table": name.to_string(), "table_added": true, "via": "catalog", "copy": true,
        }));
        st.queued_copies.push(QueuedCopy { schema, after: Lsn::ZERO, mode: copy::Mode::Truncate, reason: "added" });
        Ok(())
    }

    /// Starts the first queued copy whose position the stream has passed.
    fn start_queued_copy(&mut self, st: &mut Stream) {
        let Some(i) = st.queued_copies.iter().position(|q| st.received >= q.after) else { return };
        // The catalog's schema: the stream may not have described a new column yet.
        let q = st.queued_copies.remove(i);
        self.copy_online(st, vec![q.schema], q.mode, q.reason);
    }

    fn over_limits(&self, batch: &Batch) -> bool {
        batch.change_count() >= self.config.flush.max_rows || batch.byte_size() >= self.config.flush.max_bytes
    }

    /// At a transaction boundary: applies what is buffered and commits with the checkpoint.
    fn flush(&mut self, stream: &S::Stream, st: &mut Stream, reason: FlushReason) -> Result<(), Error> {
        let batch = std::mem::take(&mut st.batch);
        let changes = batch.change_count();
        let end = st.uncommitted_end.take();
        let lsn = end.unwrap_or(st.checkpoint);
        // A commit happens only between source transactions, where the last transaction the
        // stream delivered is the one ending at `end`: the stream's GTID set is that commit's.
        let gtid = match end {
            Some(_) => stream.gtid(),
            None => st.gtid.clone(),
        };
        let started = Instant::now();
        let records = std::mem::take(&mut st.records);
        let checkpoint = Checkpoint {
            lsn,
            gtid,
            snapshotted_tables: records.snapshotted,
            chunks: records.chunks,
            finished_jobs: records.finished_jobs,
            ..Checkpoint::default()
        };
        block(|| -> Result<(), Error> {
            self.destination.apply(batch)?;
            self.destination.commit(&checkpoint)
        })?;
        st.applied.publish(&mut self.status);
        let name = self.config.pipeline.name.clone();
        metrics::counter!(telemetry::FLUSHES, "pipeline" => name.clone(), "reason" => reason.as_str()).increment(1);
        metrics::histogram!(telemetry::FLUSH_DURATION, "pipeline" => name.clone())
            .record(started.elapsed().as_secs_f64());
        metrics::histogram!(telemetry::FLUSH_CHANGES, "pipeline" => name.clone()).record(changes as f64);
        let lag_bytes = self.source.log_bytes_between(lsn, stream.server_end());
        metrics::gauge!(telemetry::LAG_BYTES, "pipeline" => name.clone()).set(lag_bytes as f64);
        let lag_seconds = end.map(|_| {
            let commit_unix_micros = st.last_commit_time_micros + PG_EPOCH_UNIX_MICROS;
            let now_micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros() as i64)
                .unwrap_or(0);
            let lag = (now_micros - commit_unix_micros).max(0) as f64 / 1e6;
            metrics::gauge!(telemetry::LAG_SECONDS, "pipeline" => name).set(lag);
            lag
        });
        let applied = self.status.changes_applied;
        self.health_update(|h| {
            h.lag_bytes = lag_bytes;
            if let Some(lag) = lag_seconds {
                h.lag_seconds = lag;
            }
            h.changes_applied = applied;
        });
        st.pending_since = None;
        st.checkpoint = lsn;
        st.gtid = checkpoint.gtid;
        self.status.checkpoint_gtid = st.gtid.clone();
        stream.confirm(lsn);
        self.status.checkpoint = Some(lsn);
        self.status.commits += 1;
        self.status.write(self.state_dir.path());
        Ok(())
    }

    /// Graceful stop: commit what is complete; a half-received transaction is discarded and
    /// streamed again on the next start.
    fn finish(&mut self, stream: &S::Stream, st: &mut Stream) -> Result<(), Error> {
        if st.in_transaction {
            tracing::info!("stopping inside a source transaction: it will be streamed again on restart");
            return block(|| self.destination.rollback());
        }
        if st.pending_since.is_some() {
            self.flush(stream, st, FlushReason::Shutdown)?;
        }
        Ok(())
    }
}
