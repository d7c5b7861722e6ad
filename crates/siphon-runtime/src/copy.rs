//! Copying tables while the change stream runs: the initial snapshot, tables added later, a
//! copy resumed after a crash, and `siphon backfill`.
//!
//! # The hand-off (why no change is lost or reverted)
//!
//! A copy reads every table at an *exported snapshot* `S` whose *consistent point* is `C`: `S`
//! sees exactly the source transactions that commit before `C` (PostgreSQL builds `S` from the
//! log itself, not from the live process array, so this is exact). The snapshot comes from the
//! pipeline's own slot when the slot is created (the initial snapshot: the stream starts at
//! `C`), otherwise from a `TEMPORARY` slot created for the copy (the stream keeps running on
//! the pipeline's slot).
//!
//! The copy runs beside the stream; the pipeline applies both in one order ([`CopyJob`] feeds
//! it). For each copied table it *tracks* the keys that stream changes touch from the moment
//! the job starts (position `P0 <= C`), and it applies copied rows only at a transaction
//! boundary where the stream has delivered every transaction that commits before `C`. Then
//! for a copied row of key `k` (its value as of `C`):
//!
//! - `k` untouched by the stream since `P0`: nothing changed `k` between `C` and now, so the
//!   value as of `C` is the current one. Applied (an upsert).
//! - `k` touched by an insert, a delete or an update carrying the whole row: the stream already
//!   applied a value at least as new as `C`'s. The copied row is **dropped**.
//! - `k` touched only by updates that left a TOASTed value out ("unchanged"): the copied row
//!   is applied with those updates' sent columns laid over it in stream order. A column they
//!   left out was not changed by them, so `C`'s value (or the stream's, if one of them is newer)
//!   is right for it. This keeps rows exact even when the destination did not have the row yet.
//! - A TRUNCATE of the table since `P0`: every copied row is dropped; the rows that exist now
//!   were all inserted by the stream after the truncate.
//!
//! In `truncate` mode the destination table is emptied at `P0` in the same commit that records
//! the job, so it holds the stream's changes since `P0` plus the copied rows: the same cases.
//!
//! # A snapshot per chunk
//!
//! A source that cannot share one snapshot between connections (MySQL: `START TRANSACTION WITH
//! CONSISTENT SNAPSHOT` belongs to its connection) reads each chunk at a snapshot of its own, whose
//! consistent point `C_i` it sends before the chunk's rows ([`CopyMsg::Snapshot`]). The gate is
//! the highest point received, so chunk `i`'s rows are applied only once the stream has delivered
//! every transaction before `C_i`, and `P0 <= C_i` because the chunk is read after the job started.
//! Each chunk is then exactly the single-snapshot case above with `C_i` for `C`: a key the stream
//! touched since `P0` is dropped (the stream's value is at least as new as `C_i`'s), any other key's
//! value as of `C_i` is current. Chunks are disjoint key ranges, so the chunks' different snapshots
//! never disagree about one row.
//!
//! # Resuming after a crash
//!
//! Each chunk's rows commit together with its `done` record (and the stream's checkpoint), so a
//! crash loses only chunks not yet committed. The restart resumes at the checkpoint `P` and
//! copies the remaining chunks at a new temporary slot's snapshot, tracking from `P`: the cases
//! above hold with `P` for `P0`. A chunk already done is never read again. Chunks are key
//! ranges, which mean the same rows across snapshots (see `siphon_postgres::snapshot`).
//!
//! # Rows in blocks
//!
//! Workers send a chunk's rows in pieces, each one [`RowBlock`] (one text buffer with the
//! values' offsets: nothing allocated per row or value). The pipeline resolves a block row by
//! row in order ([`Tracked::resolve_block`], the cases above; a key is built only while the
//! stream has touched some), and may apply several consecutive blocks of one table at once
//! ([`CopyJob::coalesce`]): nothing from the stream is applied between them, so that is the same
//! as applying them one after the other.
//!
//! While a table is being copied it is not exact at the checkpoint (some rows are from `C`,
//! later than the checkpoint, until the stream passes `C`); it is exact again once its copy is
//! done and the stream has passed `C`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use siphon_core::config::SnapshotConfig;
use siphon_core::copy::KeyRange;
use siphon_core::destination::ChunkRecord;
use siphon_core::row::{Datum, Row, RowBlock};
use siphon_core::schema::{TableName, TableSchema};
use siphon_core::{Error, Lsn};
use tokio::sync::mpsc;

use crate::source::{ChunkSink, Source};

/// The record that says "this table has a copy job" before its chunks are planned.
pub const HEADER_CHUNK: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Upsert the copied rows; rows only at the destination stay.
    Merge,
    /// Empty the destination table first.
    Truncate,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Merge => "merge",
            Mode::Truncate => "truncate",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "merge" => Some(Mode::Merge),
            "truncate" => Some(Mode::Truncate),
            _ => None,
        }
    }
}

/// One table of a copy.
pub struct TableCopy {
    pub schema: Arc<TableSchema>,
    /// The job its records belong to (kept when a copy is resumed).
    pub job: String,
    pub mode: Mode,
    /// Chunks already planned (a resumed copy): `(index, range, done, rows)`. `None`: plan now.
    pub planned: Option<Vec<(u32, KeyRange, bool, u64)>>,
}

/// What the copy sends to the pipeline, in order.
pub enum CopyMsg {
    /// A consistent point: the rows that follow may be applied once the stream has delivered
    /// every transaction before it. Sent once per job when the workers share one snapshot, or
    /// before each chunk's rows when every chunk is read at a snapshot of its own; the gate is
    /// the highest point received, so it holds for every row that follows.
    Snapshot(Lsn),
    Planned {
        table: usize,
        chunks: Vec<(u32, KeyRange)>,
        estimated_rows: u64,
    },
    /// Copied rows of a table (a piece of a chunk).
    Rows {
        table: usize,
        block: RowBlock,
    },
    ChunkDone {
        table: usize,
        chunk: u32,
        rows: u64,
    },
    Failed(Error),
}

/// Keys the stream touched since a copy started (see the module doc).
#[derive(Default)]
pub struct Tracked {
    truncated: bool,
    keys: HashMap<Vec<Datum>, Touch>,
}

enum Touch {
    Whole,
    /// Updates that left TOASTed values out, in stream order.
    Partial(Vec<Row>),
}

impl Tracked {
    pub fn truncated(&mut self) {
        self.truncated = true;
        self.keys.clear();
    }

    /// The stream wrote `row` (whole, or with unchanged TOAST values) under `key`.
    pub fn written(&mut self, key: Vec<Datum>, row: &Row) {
        if self.truncated {
            return;
        }
        if row.contains(&Datum::UnchangedToast) {
            match self.keys.entry(key).or_insert_with(|| Touch::Partial(Vec::new())) {
                Touch::Whole => {}
                Touch::Partial(rows) => rows.push(row.clone()),
            }
        } else {
            self.keys.insert(key, Touch::Whole);
        }
    }

    /// The stream deleted `key` (or moved the row away from it).
    pub fn deleted(&mut self, key: Vec<Datum>) {
        if !self.truncated {
            self.keys.insert(key, Touch::Whole);
        }
    }

    /// The copied row to apply for `row` (key `key`), or `None` to drop it.
    pub fn resolve(&self, key: &[Datum], mut row: Row) -> Option<Row> {
        if self.truncated {
            return None;
        }
        match self.keys.get(key) {
            None => Some(row),
            Some(Touch::Whole) => None,
            Some(Touch::Partial(updates)) => {
                for u in updates {
                    for (d, v) in row.iter_mut().zip(u) {
                        if *v != Datum::UnchangedToast {
                            *d = v.clone();
                        }
                    }
                }
                Some(row)
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.truncated && self.keys.is_empty()
    }

    /// The copied rows of `block` (of `schema`'s table) to apply, each as [`Tracked::resolve`]
    /// decides: `block` itself when the stream touched none of its keys.
    pub fn resolve_block(&self, schema: &TableSchema, block: RowBlock) -> RowBlock {
        if self.truncated {
            return RowBlock::new(block.columns());
        }
        if self.keys.is_empty() {
            return block;
        }
        let key_columns = schema.key_indices();
        // Built from the first row the stream touched on; until then, `block` is the answer.
        let mut resolved: Option<RowBlock> = None;
        for i in 0..block.len() {
            let key: Vec<Datum> = key_columns.iter().map(|&c| text_datum(block.value(i, c))).collect();
            if !self.keys.contains_key(&key) {
                if let Some(r) = &mut resolved {
                    r.push_row(block.row(i));
                }
                continue;
            }
            let r = resolved.get_or_insert_with(|| {
                let mut r = RowBlock::new(block.columns());
                (0..i).for_each(|j| r.push_row(block.row(j)));
                r
            });
            if let Some(row) = self.resolve(&key, block.row(i).map(text_datum).collect()) {
                // A copied row has no unchanged TOAST values, and the updates laid over it bring none.
                r.push_row(row.iter().map(Datum::as_text));
            }
        }
        resolved.unwrap_or(block)
    }
}

fn text_datum(v: Option<&str>) -> Datum {
    v.map_or(Datum::Null, |t| Datum::Text(t.to_owned()))
}

/// The key columns' values of `row`.
pub fn key_of(schema: &TableSchema, row: &Row) -> Vec<Datum> {
    schema.columns.iter().zip(row).filter(|(c, _)| c.is_key).map(|(_, d)| d.clone()).collect()
}

/// Progress of one table, for the status and the progress bars.
#[derive(Clone, Debug, Default)]
pub struct TableProgress {
    pub job: String,
    pub mode: Option<Mode>,
    pub rows_estimate: u64,
    pub rows_copied: u64,
    pub chunks_total: u32,
    pub chunks_done: u32,
    /// Chunks done before this process started (a resumed copy).
    pub chunks_resumed: u32,
    pub planned: bool,
    pub started: Option<Instant>,
}

impl TableProgress {
    pub fn done(&self) -> bool {
        self.planned && self.chunks_done == self.chunks_total
    }

    pub fn to_json(&self) -> serde_json::Value {
        let elapsed = self.started.map(|s| s.elapsed().as_secs_f64()).unwrap_or(0.0);
        let rate = if elapsed > 0.0 { self.rows_copied as f64 / elapsed } else { 0.0 };
        let left = self.rows_estimate.saturating_sub(self.rows_copied) as f64;
        let eta = if rate > 0.0 && !self.done() { Some((left / rate).round() as u64) } else { None };
        serde_json::json!({
            "state": if self.done() { "done" } else if self.planned { "copying" } else { "planning" },
            "job": self.job,
            "mode": self.mode.map(Mode::as_str),
            "rows_copied": self.rows_copied,
            "rows_estimate": self.rows_estimate.max(self.rows_copied),
            "chunks_done": self.chunks_done,
            "chunks_total": self.chunks_total,
            "rows_per_s": rate.round() as u64,
            "eta_s": eta,
        })
    }
}

/// A running copy: its tables, what the stream touched, and the messages of its workers.
pub struct CopyJob {
    pub tables: Vec<TableCopy>,
    pub progress: Vec<TableProgress>,
    pub tracked: HashMap<TableName, Tracked>,
    /// The snapshot's consistent point, once known.
    pub ready_at: Option<Lsn>,
    rx: mpsc::Receiver<CopyMsg>,
    /// A message received while coalescing rows, to hand out next.
    held: Option<CopyMsg>,
    pub started: Instant,
    chunks_copied: u32,
    /// Every chunk's range, for its records.
    ranges: HashMap<(usize, u32), KeyRange>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CopyJob {
    fn drop(&mut self) {
        // Stops the workers and releases the snapshot (the temporary slot goes with its session).
        self.task.abort();
    }
}

impl CopyJob {
    /// Starts copying `tables` at the snapshot of `source`. Stream changes must be reported to
    /// [`CopyJob::tracked`] from now on.
    pub fn start<S: Source>(
        source: S,
        config: SnapshotConfig,
        tables: Vec<TableCopy>,
        held: Option<S::Snapshot>,
    ) -> CopyJob {
        let (tx, rx) = mpsc::channel(config.workers() * 2 + 4);
        let schemas: Vec<_> = tables.iter().map(|t| (t.schema.clone(), t.planned.clone())).collect();
        let now = Instant::now();
        let progress = tables
            .iter()
            .map(|t| {
                let mut p =
                    TableProgress { job: t.job.clone(), mode: Some(t.mode), started: Some(now), ..Default::default() };
                if let Some(chunks) = &t.planned {
                    p.planned = true;
                    p.chunks_total = chunks.len() as u32;
                    p.chunks_done = chunks.iter().filter(|c| c.2).count() as u32;
                    p.chunks_resumed = p.chunks_done;
                    p.rows_estimate = chunks.iter().map(|c| c.3).sum();
                }
                p
            })
            .collect();
        let tracked = tables.iter().map(|t| (t.schema.name.clone(), Tracked::default())).collect();
        let ranges = tables
            .iter()
            .enumerate()
            .flat_map(|(t, tc)| tc.planned.iter().flatten().map(move |c| ((t, c.0), c.1.clone())))
            .collect();
        let task = tokio::spawn(async move {
            if let Err(e) = coordinate(source, config, schemas, held, tx.clone()).await {
                let _ = tx.send(CopyMsg::Failed(e)).await;
            }
        });
        CopyJob {
            tables,
            progress,
            tracked,
            ready_at: None,
            rx,
            held: None,
            started: now,
            chunks_copied: 0,
            ranges,
            task,
        }
    }

    /// The workers' next message (`None` once they are all gone).
    pub async fn next_msg(&mut self) -> Option<CopyMsg> {
        match self.held.take() {
            Some(msg) => Some(msg),
            None => self.rx.recv().await,
        }
    }

    /// Appends to `block` (rows of table `t`, just received) the rows of `t` the workers have
    /// already sent right after it, up to about `max_bytes` of text, so that a destination slower
    /// than the copy applies fewer, larger pieces. Stops at any other message and keeps it for
    /// [`CopyJob::next_msg`]: the order of messages is unchanged, and applying consecutive
    /// pieces of one table at once is applying them one after the other (no stream change can
    /// come in between).
    pub fn coalesce(&mut self, t: usize, block: &mut RowBlock, max_bytes: usize) {
        while self.held.is_none() && block.text_bytes() < max_bytes {
            match self.rx.try_recv() {
                Ok(CopyMsg::Rows { table, block: more }) if table == t && more.columns() == block.columns() => {
                    block.append(&more)
                }
                Ok(other) => self.held = Some(other),
                Err(_) => return,
            }
        }
    }

    /// Table `t` was planned: the records of its chunks, to commit.
    pub fn planned(&mut self, t: usize, chunks: Vec<(u32, KeyRange)>, estimated_rows: u64) -> Vec<ChunkRecord> {
        let p = &mut self.progress[t];
        p.planned = true;
        p.chunks_total = chunks.len() as u32;
        p.rows_estimate = estimated_rows;
        let records = chunks.iter().map(|(i, r)| self.record(t, *i, r, false, 0)).collect();
        self.ranges.extend(chunks.into_iter().map(|(i, r)| ((t, i), r)));
        records
    }

    /// Chunk `chunk` of table `t` was handed to the destination in full: its record, to commit
    /// with those rows.
    pub fn chunk_done(&mut self, t: usize, chunk: u32, rows: u64) -> ChunkRecord {
        self.progress[t].chunks_done += 1;
        self.chunks_copied += 1;
        let range = self.ranges.get(&(t, chunk)).cloned().unwrap_or_default();
        self.record(t, chunk, &range, true, rows)
    }

    fn record(&self, t: usize, chunk: u32, range: &KeyRange, done: bool, rows: u64) -> ChunkRecord {
        let tc = &self.tables[t];
        ChunkRecord {
            job: tc.job.clone(),
            table: tc.schema.name.clone(),
            chunk,
            mode: tc.mode.as_str().into(),
            lower: range.lower.as_ref().map(|v| serde_json::to_string(v).unwrap_or_default()),
            upper: range.upper.as_ref().map(|v| serde_json::to_string(v).unwrap_or_default()),
            done,
            rows,
        }
    }

    /// Chunks copied by this process.
    pub fn chunks_copied(&self) -> u32 {
        self.chunks_copied
    }

    pub fn finished(&self) -> bool {
        self.progress.iter().all(TableProgress::done)
    }
}

/// The header record of a new copy of `schema`'s table.
pub fn header(job: &str, table: &TableName, mode: Mode) -> ChunkRecord {
    ChunkRecord {
        job: job.into(),
        table: table.clone(),
        chunk: HEADER_CHUNK,
        mode: mode.as_str().into(),
        lower: None,
        upper: None,
        done: false,
        rows: 0,
    }
}

/// Parses a stored key bound.
pub fn parse_bound(s: &Option<String>) -> Result<Option<Vec<String>>, Error> {
    s.as_deref()
        .map(|s| {
            serde_json::from_str(s)
                .map_err(|e| Error::fatal("a stored copy chunk is corrupt").with_detail(e.to_string()))
        })
        .transpose()
}

/// A new job's name.
pub fn new_job_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{}-{}", now.as_millis(), std::process::id())
}

type Planned = Option<Vec<(u32, KeyRange, bool, u64)>>;

async fn coordinate<S: Source>(
    source: S,
    config: SnapshotConfig,
    tables: Vec<(Arc<TableSchema>, Planned)>,
    held: Option<S::Snapshot>,
    tx: mpsc::Sender<CopyMsg>,
) -> Result<(), Error> {
    let closed = || Error::transient("the copy was cancelled");
    let (snapshot, consistent_point) = source.copy_snapshot(held).await?;
    if let Some(lsn) = consistent_point {
        tx.send(CopyMsg::Snapshot(lsn)).await.map_err(|_| closed())?;
    }
    let mut conn = source.copy_connect().await?;
    let mut queue = Vec::new();
    for (t, (schema, planned)) in tables.iter().enumerate() {
        let chunks: Vec<(u32, KeyRange)> = match planned {
            Some(chunks) => chunks.iter().filter(|c| !c.2).map(|c| (c.0, c.1.clone())).collect(),
            None => {
                let estimated_rows = source.estimate_rows(&mut conn, schema).await?;
                let ranges = source.plan_chunks(&mut conn, schema, estimated_rows, config.chunk_rows).await?;
                let chunks: Vec<(u32, KeyRange)> = ranges.into_iter().enumerate().map(|(i, r)| (i as u32, r)).collect();
                tx.send(CopyMsg::Planned { table: t, chunks: chunks.clone(), estimated_rows })
                    .await
                    .map_err(|_| closed())?;
                chunks
            }
        };
        queue.push(chunks.into_iter().rev().collect::<Vec<_>>());
    }
    drop(conn);
    let scheduler = Arc::new(Mutex::new(Scheduler::new(queue, &config)));
    let snapshot = Arc::new(snapshot);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..config.workers() {
        let (source, scheduler, tx, snapshot) = (source.clone(), scheduler.clone(), tx.clone(), snapshot.clone());
        let schemas: Vec<_> = tables.iter().map(|t| t.0.clone()).collect();
        workers.spawn(async move { work(source, snapshot, schemas, scheduler, tx).await });
    }
    while let Some(r) = workers.join_next().await {
        r.map_err(|e| Error::fatal("a copy worker failed").with_detail(e.to_string()))??;
    }
    if let Ok(snapshot) = Arc::try_unwrap(snapshot) {
        source.release_snapshot(snapshot);
    }
    Ok(())
}

/// Hands out chunks: at most `parallel_tables` tables at once, at most `connections_per_table`
/// workers on one table.
struct Scheduler {
    /// Chunks left per table (popped from the end).
    left: Vec<Vec<(u32, KeyRange)>>,
    busy: Vec<usize>,
    parallel_tables: usize,
    per_table: usize,
}

impl Scheduler {
    fn new(left: Vec<Vec<(u32, KeyRange)>>, config: &SnapshotConfig) -> Self {
        let busy = vec![0; left.len()];
        Scheduler { left, busy, parallel_tables: config.parallel_tables, per_table: config.connections_per_table }
    }

    /// The next chunk to copy; `Err(true)` to wait and ask again, `Err(false)` when none is left.
    fn next(&mut self) -> Result<(usize, u32, KeyRange), bool> {
        let active: Vec<usize> = (0..self.left.len()).filter(|&t| self.busy[t] > 0).collect();
        let waiting: Vec<usize> = (0..self.left.len())
            .filter(|&t| self.busy[t] == 0 && !self.left[t].is_empty())
            .take(self.parallel_tables.saturating_sub(active.len()))
            .collect();
        let candidates: Vec<usize> = active.into_iter().chain(waiting).collect();
        for t in candidates {
            if self.busy[t] < self.per_table {
                if let Some((chunk, range)) = self.left[t].pop() {
                    self.busy[t] += 1;
                    return Ok((t, chunk, range));
                }
            }
        }
        Err(self.left.iter().any(|l| !l.is_empty()))
    }

    fn finished(&mut self, t: usize) {
        self.busy[t] -= 1;
    }
}

async fn work<S: Source>(
    source: S,
    snapshot: Arc<S::Snapshot>,
    schemas: Vec<Arc<TableSchema>>,
    scheduler: Arc<Mutex<Scheduler>>,
    tx: mpsc::Sender<CopyMsg>,
) -> Result<(), Error> {
    let mut conn = None;
    loop {
        let next = scheduler.lock().map_err(|_| Error::fatal("copy scheduler poisoned"))?.next();
        let (t, chunk, range) = match next {
            Ok(n) => n,
            Err(true) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(false) => return Ok(()),
        };
        if conn.is_none() {
            conn = Some(source.copy_connect().await?);
        }
        let c = conn.as_mut().expect("connected above");
        let mut sink = ChunkSink { tx: &tx, table: t, columns: schemas[t].columns.len() };
        let rows = source.copy_chunk(c, &snapshot, &schemas[t], &range, &mut sink).await?;
        tx.send(CopyMsg::ChunkDone { table: t, chunk, rows })
            .await
            .map_err(|_| Error::transient("the copy was cancelled"))?;
        scheduler.lock().map_err(|_| Error::fatal("copy scheduler poisoned"))?.finished(t);
    }
}

/// Tables of stored chunk records that still need copying, grouped per job and table.
pub fn unfinished(records: &[ChunkRecord]) -> Vec<(String, TableName, Mode, Planned)> {
    let mut seen: Vec<(String, TableName)> = Vec::new();
    for r in records {
        let k = (r.job.clone(), r.table.clone());
        if !seen.contains(&k) {
            seen.push(k);
        }
    }
    let mut out = Vec::new();
    for (job, table) in seen {
        let recs: Vec<&ChunkRecord> = records.iter().filter(|r| r.job == job && r.table == table).collect();
        let chunks: Vec<&&ChunkRecord> = recs.iter().filter(|r| r.chunk != HEADER_CHUNK).collect();
        if !chunks.is_empty() && chunks.iter().all(|r| r.done) {
            continue;
        }
        // Records that do not parse (never expected) mean planning the table again.
        let planned = if chunks.is_empty() {
            None
        } else {
            chunks
                .iter()
                .map(|r| -> Result<_, Error> {
                    let range = KeyRange { lower: parse_bound(&r.lower)?, upper: parse_bound(&r.upper)? };
                    Ok((r.chunk, range, r.done, r.rows))
                })
                .collect::<Result<Vec<_>, _>>()
                .ok()
        };
        out.push((job, table, Mode::Merge, planned));
    }
    out
}

/// The tables of a set, for messages.
pub fn names(tables: &[TableCopy]) -> Vec<String> {
    let set: HashSet<String> = tables.iter().map(|t| t.schema.name.to_string()).collect();
    let mut v: Vec<String> = set.into_iter().collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Datum {
        Datum::Text(s.into())
    }

    #[test]
    fn untouched_rows_apply_whole_touches_drop() {
        let mut tr = Tracked::default();
        tr.written(vec![t("1")], &vec![t("1"), t("new")]);
        assert_eq!(tr.resolve(&[t("1")], vec![t("1"), t("old")]), None);
        assert_eq!(tr.resolve(&[t("2")], vec![t("2"), t("x")]), Some(vec![t("2"), t("x")]));
        tr.deleted(vec![t("3")]);
        assert_eq!(tr.resolve(&[t("3")], vec![t("3"), t("x")]), None);
    }

    #[test]
    fn partial_updates_are_laid_over_the_copied_row_in_order() {
        let mut tr = Tracked::default();
        tr.written(vec![t("1")], &vec![t("1"), t("a2"), Datum::UnchangedToast, t("c2")]);
        tr.written(vec![t("1")], &vec![t("1"), Datum::UnchangedToast, t("b3"), t("c3")]);
        let copied = vec![t("1"), t("a1"), t("b1"), t("c1")];
        assert_eq!(tr.resolve(&[t("1")], copied), Some(vec![t("1"), t("a2"), t("b3"), t("c3")]));
        // A whole-row change after partial ones wins.
        tr.written(vec![t("1")], &vec![t("1"), t("a4"), t("b4"), t("c4")]);
        assert_eq!(tr.resolve(&[t("1")], vec![t("1"), t("a"), t("b"), t("c")]), None);
        // ...and partial ones after it do not bring the copied row back.
        tr.written(vec![t("1")], &vec![t("1"), Datum::UnchangedToast, t("b5"), t("c5")]);
        assert_eq!(tr.resolve(&[t("1")], vec![t("1"), t("a"), t("b"), t("c")]), None);
    }

    #[test]
    fn a_truncate_drops_every_copied_row() {
        let mut tr = Tracked::default();
        tr.truncated();
        tr.written(vec![t("1")], &vec![t("1")]);
        assert_eq!(tr.resolve(&[t("2")], vec![t("2")]), None);
    }

    fn schema() -> TableSchema {
        use siphon_core::schema::{Column, SourceType};
        let col = |n: &str, key: bool| Column {
            name: n.into(),
            source_type: SourceType { oid: 25, modifier: -1, name: "text".into(), base: None },
            is_key: key,
            nullable: !key,
        };
        TableSchema {
            name: TableName::new("app", "t"),
            columns: vec![col("v", false), col("id", true), col("w", false)],
        }
    }

    fn block(rows: &[[Option<&str>; 3]]) -> RowBlock {
        let mut b = RowBlock::new(3);
        rows.iter().for_each(|r| b.push_row(r.iter().copied()));
        b
    }

    #[test]
    fn a_block_is_resolved_row_by_row_in_order() {
        let copied = block(&[
            [Some("a1"), Some("1"), Some("w1")],
            [Some("a2"), Some("2"), None],
            [Some("a3"), Some("3"), Some("w3")],
            [Some("a4"), Some("4"), Some("w4")],
        ]);
        let mut tr = Tracked::default();
        assert_eq!(tr.resolve_block(&schema(), copied.clone()), copied, "nothing touched: the block itself");
        tr.deleted(vec![t("2")]);
        tr.written(vec![t("3")], &vec![t("new"), t("3"), Datum::UnchangedToast]);
        tr.written(vec![t("9")], &vec![t("x"), t("9"), t("y")]);
        let resolved = tr.resolve_block(&schema(), copied.clone());
        // Row 2 dropped, row 3 merged with the update that left `w` out, rows 1 and 4 as copied.
        let expected = block(&[
            [Some("a1"), Some("1"), Some("w1")],
            [Some("new"), Some("3"), Some("w3")],
            [Some("a4"), Some("4"), Some("w4")],
        ]);
        assert_eq!(resolved, expected);
        // The same answer as resolving each row on its own.
        let one_by_one: Vec<Row> =
            copied.into_rows().into_iter().filter_map(|row| tr.resolve(&key_of(&schema(), &row), row)).collect();
        assert_eq!(resolved.into_rows(), one_by_one);
        tr.truncated();
        assert!(tr.resolve_block(&schema(), block(&[[None, Some("5"), None]])).is_empty());
    }

    #[test]
    fn scheduler_respects_table_and_connection_limits() {
        let cfg = SnapshotConfig { parallel_tables: 1, connections_per_table: 2, chunk_rows: 1 };
        let chunks = |n: u32| (0..n).rev().map(|i| (i, KeyRange::default())).collect::<Vec<_>>();
        let mut s = Scheduler::new(vec![chunks(3), chunks(2)], &cfg);
        let a = s.next().unwrap();
        let b = s.next().unwrap();
        assert_eq!((a.0, a.1, b.0, b.1), (0, 0, 0, 1));
        assert_eq!(s.next(), Err(true), "two workers on table 0 already, table 1 not allowed yet");
        s.finished(0);
        assert_eq!(s.next().map(|n| (n.0, n.1)), Ok((0, 2)));
        s.finished(0);
        s.finished(0);
        assert_eq!(s.next().map(|n| (n.0, n.1)), Ok((1, 0)));
        assert_eq!(s.next().map(|n| (n.0, n.1)), Ok((1, 1)));
        assert_eq!(s.next(), Err(false));
    }

    #[test]
    fn unfinished_groups_records_and_skips_finished_tables() {
        let rec = |table: &str, chunk: u32, done: bool| ChunkRecord {
            job: "j".into(),
            table: TableName::new("app", table),
            chunk,
            mode: "truncate".into(),
            lower: None,
            upper: (chunk == 0).then(|| "[\"5\"]".to_string()),
            done,
            rows: 3,
        };
        let records = vec![
            rec("a", HEADER_CHUNK, false),
            rec("a", 0, true),
            rec("a", 1, false),
            rec("b", HEADER_CHUNK, false),
            rec("c", HEADER_CHUNK, false),
            rec("c", 0, true),
        ];
        let u = unfinished(&records);
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].1, TableName::new("app", "a"));
        let planned = u[0].3.as_ref().unwrap();
        assert_eq!(planned.len(), 2);
        assert_eq!(planned[0].1.upper, Some(vec!["5".to_string()]));
        assert_eq!(u[1].1, TableName::new("app", "b"));
        assert!(u[1].3.is_none());
    }
}
