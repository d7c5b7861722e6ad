//! `siphon verify [TABLE ...] [--repair]`: compare source and replica, list the rows that
//! differ, and re-copy exactly those.
//!
//! # What is compared
//!
//! Every table is read from the source chunk by chunk in key order (keyset pagination on its
//! replica identity, [`siphon_postgres::keyset`]), all chunks of all tables in **one**
//! `REPEATABLE READ` snapshot. Each chunk is staged in DuckDB through the apply path's own
//! conversions and compared with the replica's rows in the same key range by count and an
//! order-independent checksum; a mismatching chunk is narrowed to keys with anti-joins and a join
//! on the key with `IS DISTINCT FROM` ([`siphon_duckdb::verify`] argues why values compare
//! exactly). Tables whose key types order differently in PostgreSQL and DuckDB are compared
//! whole, in one chunk.
//!
//! # Correct while the pipeline streams
//!
//! The source and the replica are never at the same position: the replica holds the source as
//! of its checkpoint, which moves while we read. Comparing them naively reports every row that
//! changed in between (lag) as a difference, and a hot row is *always* in between. Re-checking
//! after a catch-up, in rounds, narrows that window but never closes it for a row written
//! continuously. So verification does not compare two positions; it **bridges** them with the
//! exact changes committed in between, read from a logical slot
//! ([`siphon_postgres::slot_changes`]: the pgoutput messages the pipeline itself consumes, the
//! same decoder, compacted per key by the same [`Batch`]), and *folds* them onto a side: each
//! key they touch takes its final state from them, the rest stays.
//!
//! ```text
//!   streaming:  temporary slot created (starts at L)
//!               snapshot taken; S = WAL insert position right after it   (L <= snapshot <= S)
//!               wait until the replica's checkpoint R >= S (a logical-decoding message makes
//!                 sure a commit follows S)
//!               per chunk: replica rows and their checkpoint R_i read in one DuckDB transaction,
//!                 slot consumed up to R_i, changes (L, R_i] folded onto the source chunk
//!   stopped or  snapshot taken, S as above; R = the replica's (fixed) checkpoint
//!   paused:     changes (R, S] peeked from the pipeline's own slot (it is not streaming, so the
//!                 slot is free; nothing is consumed), folded onto both sides
//! ```
//!
//! Why that is exact: a slot read up to a transaction end includes exactly the transactions
//! committed up to it (see `slot_changes`), and folding is replay — replaying changes from an
//! earlier position onto a state that already includes some of them ends in the same state,
//! because each key's final state is its last change. Streaming: the source snapshot plus every
//! change from `L` (before the snapshot) up to `R_i` is the source at `R_i`, where the replica
//! chunk was read; every transaction the snapshot sees committed before `S <= R_i`, so none is
//! missing from the replica. Stopped: the replica at `R` plus the changes up to `S` is what the
//! pipeline will hold once it has streamed them, and the snapshot plus the same changes (some
//! repeated, harmlessly) is the source at `S`. Both sides stand for one position, so any
//! difference is real: no re-check rounds, no false positive under any write load. (The fold
//! onto the replica side also means a stopped pipeline's replica is judged by what it will hold
//! after its pending changes: a row those changes rewrite whole is not reported, since the next
//! start heals it. While streaming, nothing is folded onto the replica.) A checkpoint that moves
//! while a stopped replica is verified (the pipeline resumed) is an error: verify again.
//!
//! The verification slot is *temporary* (`<source.slot>_verify`, owned by one SQL session): the
//! server drops it when verification ends or dies, so it never retains WAL afterwards.
//!
//! # Reading the replica
//!
//! In the daemon, verification uses its own connection to the database the destination writes
//! ([`Replica::attached`]): DuckDB readers never block the writer, each replica read is one short
//! transaction per chunk, and staging happens in that connection's own temp tables. Without a
//! daemon, the file is opened directly (read-only, or read-write for `--repair`; either way a
//! `siphon run` cannot open it until verification ends).
//!
//! # Repair, and why it converges
//!
//! `--repair` re-copies exactly the differing keys: for each it reads the source's current row,
//! deletes the key in the replica and writes the row back if the source has one — through the
//! destination's apply path (same casts), committed without moving the checkpoint.
//!
//! While the pipeline streams, it is paused first: the pause commits and stops at a checkpoint
//! `P` and nothing writes the replica until resume. The rows are then read at some position
//! `Q >= P`. After resume the stream replays every transaction after `P`, in order. Take a
//! repaired key `k` and any later position `X` the pipeline reaches: if a transaction in
//! `(P, X]` wrote a column of `k` (insert, update, delete; a partial update leaves unchanged TOAST
//! columns alone), the replay leaves that column as the last such write left it — as the source
//! has it at `X`. A column no transaction in `(P, X]` wrote did not change at the source since
//! `P`, so its value at `Q` (written by the repair) is its value at `X`. Either way the replica
//! holds the source's value at `X`: the stream converges. (Reading before the pause completed
//! would break this: writes in `(Q, P]` would be lost under the older row. A crash between
//! repair and resume restarts from a checkpoint `>= P` and replays the same way.) Until the
//! pipeline passes `Q` the repaired rows are *ahead* of the checkpoint; that is the one
//! exception to the checkpoint invariant, and it heals itself. For a pipeline already paused or
//! not running, `P` is the replica's checkpoint (nothing else writes the replica: a paused
//! pipeline waits for resume, and without a daemon the file is held exclusively), so the same
//! argument applies when it next streams. Afterwards the repaired keys are verified again (a second exact
//! pass over just those keys, after resume) and the report says whether they now agree.
//!
//! # Events
//!
//! `verify.mismatch` (per table with differences: missing, extra, different) and
//! `verify.repaired` (per repaired table: keys, rows copied, equal afterwards) go to
//! `state_dir/events.jsonl`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use siphon_core::batch::Batch;
use siphon_core::change::{Change, ChangeKind};
use siphon_core::config::Config;
use siphon_core::row::{Datum, Row};
use siphon_core::schema::{Column, TableName, TableSchema};
use siphon_core::{Error, Lsn};
use siphon_duckdb::types::{map_type, Conversion};
use siphon_duckdb::verify::{ChangesOnto, ChunkOutcome, Differences, FileAccess, Replica, Scope, TableId};
use siphon_postgres::keyset::{KeyOrder, SnapshotReader};
use siphon_postgres::slot_changes::{self, TemporarySlot, Window};
use siphon_postgres::{catalog, slot, PgConnector, SqlClient};

use crate::control::Levers;
use crate::status::Phase;

/// Keys listed per kind of difference in a report.
const SAMPLE_KEYS: usize = 10;
/// Keys per source query when re-reading rows by key.
const KEYS_PER_READ: usize = 1000;

/// What to verify and how. The control API's request body.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifyOptions {
    /// Tables (`schema.table`, or `table` for `public`); empty: every table of the pipeline.
    pub tables: Vec<String>,
    /// Source rows per chunk.
    pub chunk_rows: usize,
    /// Re-copy the differing rows, then verify them again.
    pub repair: bool,
    /// How long to wait for a streaming pipeline to reach the verification's start position.
    pub catch_up_timeout_s: u64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions { tables: Vec::new(), chunk_rows: 20_000, repair: false, catch_up_timeout_s: 300 }
    }
}

/// The verdict for one table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableReport {
    pub table: String,
    pub equal: bool,
    pub chunks: u64,
    /// Rows compared on each side (at the same source position).
    pub source_rows: u64,
    pub replica_rows: u64,
    pub missing: u64,
    pub extra: u64,
    pub different: u64,
    /// Up to 10 keys per kind (`missing`, `extra`, `different`), each the key columns' texts.
    pub samples: BTreeMap<String, Vec<Vec<String>>>,
}

/// What one comparison pass saw.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pass {
    /// The source position the tables were read at.
    pub source_position: String,
    /// The replica's checkpoint when the pass began.
    pub replica_checkpoint: String,
    /// How the two positions were bridged.
    pub pipeline: PipelineState,
    /// Source changes folded in to bridge the two positions.
    pub changes_bridged: u64,
    pub tables: Vec<TableReport>,
}

/// The pipeline during a pass, which decides how its two positions are bridged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PipelineState {
    /// The replica moves: the changes after the source's position, up to each replica chunk's
    /// checkpoint, are folded onto the source rows.
    Streaming,
    /// Stopped or paused: the changes after the replica's checkpoint, up to the source's
    /// position, are folded onto both sides.
    Stopped,
}

/// What `--repair` did to one table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableRepair {
    pub table: String,
    /// Differing keys re-copied.
    pub keys: u64,
    /// Of those, keys the source has (rows written); the others were deleted.
    pub rows_copied: u64,
}

/// What `--repair` did, and the repaired keys verified again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Repair {
    pub tables: Vec<TableRepair>,
    /// The repaired keys verified again.
    pub after: Pass,
}

/// The result of `siphon verify`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub pipeline: String,
    /// Source and replica agree (after the repair, when one was made).
    pub equal: bool,
    pub verified: Pass,
    pub repair: Option<Repair>,
}

/// The daemon's pipeline, which verification reads around and pauses for a repair.
pub struct RunningPipeline<'a> {
    pub levers: &'a Levers,
    pub state_dir: &'a Path,
}

impl RunningPipeline<'_> {
    /// Whether the pipeline applies changes (or is about to): its checkpoint moves.
    fn streams(&self) -> bool {
        !matches!(*self.levers.phase.borrow(), Phase::Paused | Phase::Stopped | Phase::Failed)
    }

    /// Pauses (recorded durably first, as `siphon pause` does) and waits until it took effect:
    /// the pipeline committed and stopped at its checkpoint.
    async fn pause(&self) -> Result<(), Error> {
        self.set_paused(true, |p| matches!(p, Phase::Paused | Phase::Stopped | Phase::Failed)).await
    }

    async fn resume(&self) -> Result<(), Error> {
        self.set_paused(false, |p| !matches!(p, Phase::Paused)).await
    }

    async fn set_paused(&self, paused: bool, reached: impl Fn(&Phase) -> bool) -> Result<(), Error> {
        let what = if paused { "pause" } else { "resume" };
        crate::state_dir::set_paused(self.state_dir, paused)
            .map_err(|e| Error::fatal(format!("could not record the {what}")).with_detail(e.to_string()))?;
        self.levers.pause.send_replace(paused);
        let mut phase = self.levers.phase.clone();
        tokio::time::timeout(Duration::from_secs(60), phase.wait_for(|p| reached(p))).await.map(|_| ()).map_err(|_| {
            Error::fatal(format!("the pipeline did not {what} within 60 s"))
                .with_hint(format!("check `siphon status`; the {what} stays requested"))
        })
    }
}

/// Opens the replica file of `config` when no daemon runs (read-write for a repair).
pub fn open_replica(config: &Config, opts: &VerifyOptions) -> Result<Replica, Error> {
    crate::source::require_postgres(config, "siphon verify")?;
    let path = config.destination.path.as_ref().ok_or_else(|| {
        Error::fatal("destination.kind = \"null\" keeps no rows to verify")
            .with_hint("verify compares a DuckDB replica with its source")
    })?;
    let access = if opts.repair { FileAccess::ReadWrite } else { FileAccess::ReadOnly };
    Replica::open_file(path, &config.pipeline.name, access)
}

/// Verifies (and with `opts.repair`, repairs) the pipeline's tables.
pub async fn run(
    config: &Config,
    replica: Replica,
    running: Option<RunningPipeline<'_>>,
    opts: &VerifyOptions,
) -> Result<Report, Error> {
    crate::source::require_postgres(config, "siphon verify")?;
    if opts.chunk_rows == 0 {
        return Err(Error::fatal("the chunk size must be at least 1 row"));
    }
    // The replica of a moded table differs from the source by design, and a repair writes
    // source rows as they are (it would write hashed or excluded values).
    if !siphon_core::modes::TableModes::from_config(config).is_plain() {
        return Err(Error::fatal("siphon verify does not support table modes yet")
            .with_detail("this config sets [table_defaults], [tables.\"...\"] modes or column lists")
            .with_hint("verify a pipeline without table modes; see docs/table-modes.md#limits"));
    }
    let _one_at_a_time = lock(&config.pipeline.state_dir)?;
    let mut v = Verifier::new(config, replica, running, opts).await?;
    let verified = v.pass(Coverage::Full).await?;
    v.record_mismatches(&verified);
    let differing = verified.tables.iter().any(|t| !t.equal);
    let repair = if opts.repair && differing { Some(v.repair(&verified).await?) } else { None };
    let equal = match &repair {
        Some(r) => r.after.tables.iter().all(|t| t.equal),
        None => !differing,
    };
    Ok(Report { pipeline: config.pipeline.name.clone(), equal, verified, repair })
}

/// Holds `state_dir/verify.lock`: one verification per pipeline at a time (they would share
/// the verification slot), whether it runs in the daemon or on the file.
fn lock(state_dir: &Path) -> Result<std::fs::File, Error> {
    let io = |e: std::io::Error| Error::fatal("could not lock state_dir/verify.lock").with_detail(e.to_string());
    std::fs::create_dir_all(state_dir).map_err(io)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state_dir.join("verify.lock"))
        .map_err(io)?;
    file.try_lock().map_err(|_| {
        Error::fatal("another siphon verify is running for this pipeline").with_hint("wait for it to finish")
    })?;
    Ok(file)
}

/// A table to verify.
#[derive(Clone)]
struct Target {
    id: TableId,
    schema: Arc<TableSchema>,
    /// How its key orders for keyset chunks; `None`: compared whole.
    order: Option<Vec<KeyOrder>>,
}

struct Verifier<'a> {
    config: &'a Config,
    opts: &'a VerifyOptions,
    connector: PgConnector,
    client: SqlClient,
    /// Behind a lock only so that the verifier is `Sync` (DuckDB connections are not); one task
    /// uses it.
    replica: Mutex<Replica>,
    running: Option<RunningPipeline<'a>>,
    targets: Vec<Target>,
}

/// Chunks and rows compared for one table.
#[derive(Default)]
struct Totals {
    chunks: u64,
    source_rows: u64,
    replica_rows: u64,
}

impl Totals {
    fn add(&mut self, o: ChunkOutcome) {
        self.chunks += 1;
        self.source_rows += o.source_rows;
        self.replica_rows += o.replica_rows;
    }
}

/// Which keys a pass covers.
#[derive(Clone, PartialEq, Eq)]
enum Coverage {
    /// Every row of every target, chunk by chunk.
    Full,
    /// The keys kept by [`Replica::scope_to_differences`], of these targets.
    KeptKeys(Vec<usize>),
}

/// The two positions of a pass and how they are bridged.
struct Bridge {
    /// The replica's checkpoint when the pass began.
    replica: Lsn,
    onto: ChangesOnto,
    /// Streaming: the verification's own slot, consumed up to each replica read's checkpoint.
    slot: Option<TemporarySlot>,
    consumed_upto: Lsn,
    changes: u64,
}

impl<'a> Verifier<'a> {
    async fn new(
        config: &'a Config,
        mut replica: Replica,
        running: Option<RunningPipeline<'a>>,
        opts: &'a VerifyOptions,
    ) -> Result<Verifier<'a>, Error> {
        let connector = PgConnector::new(&config.source.url, &format!("siphon-{}-verify", config.pipeline.name))?;
        let client = connector.sql().await?;
        let mut targets = Vec::new();
        for name in tables(config, &client, &opts.tables).await? {
            let schema = catalog::table_schema(&client, &name).await?;
            let order = key_order(&schema)?;
            let id = tokio::task::block_in_place(|| replica.add_table(schema.clone()))?;
            targets.push(Target { id, schema, order });
        }
        Ok(Verifier { config, opts, connector, client, replica: Mutex::new(replica), running, targets })
    }

    /// Runs DuckDB work on the replica without stalling the async runtime's other tasks.
    fn duck<T>(&self, f: impl FnOnce(&mut Replica) -> Result<T, Error>) -> Result<T, Error> {
        duck(&self.replica, f)
    }

    /// One exact comparison of every target (`Full`) or of the kept keys, between a snapshot of
    /// the source and the replica.
    async fn pass(&mut self, coverage: Coverage) -> Result<Pass, Error> {
        // The slot must start before the snapshot is taken: it then holds every change the
        // snapshot does not see (and perhaps some it does, which folding repeats harmlessly).
        let streaming = self.running.as_ref().is_some_and(RunningPipeline::streams);
        let slot = if streaming {
            Some(TemporarySlot::create(&self.connector, &self.verification_slot()).await?)
        } else {
            None
        };
        let (reader, source) = SnapshotReader::begin(&self.connector).await?;
        let compared = match self.bridge(source, slot).await {
            Ok(mut bridge) => {
                let tables = self.compare_all(&reader, coverage, &mut bridge).await;
                if let Some(slot) = bridge.slot.take() {
                    slot.remove().await;
                }
                tables.map(|tables| Pass {
                    source_position: source.to_string(),
                    replica_checkpoint: bridge.replica.to_string(),
                    pipeline: match bridge.onto {
                        ChangesOnto::Source => PipelineState::Streaming,
                        ChangesOnto::Both => PipelineState::Stopped,
                    },
                    changes_bridged: bridge.changes,
                    tables,
                })
            }
            Err(e) => Err(e),
        };
        reader_done(reader).await;
        compared
    }

    fn verification_slot(&self) -> String {
        let mut name = format!("{}_verify", self.config.source.slot);
        name.truncate(63);
        name
    }

    async fn compare_all(
        &mut self,
        reader: &SnapshotReader,
        coverage: Coverage,
        bridge: &mut Bridge,
    ) -> Result<Vec<TableReport>, Error> {
        let mut tables = Vec::new();
        for i in 0..self.targets.len() {
            let Target { id, schema, order } = self.targets[i].clone();
            let totals = match (&coverage, order) {
                (Coverage::KeptKeys(kept), _) if !kept.contains(&i) => continue,
                (Coverage::KeptKeys(_), _) => self.compare_kept_keys(reader, i, bridge).await?,
                (Coverage::Full, Some(order)) => self.compare_chunks(reader, i, &order, bridge).await?,
                (Coverage::Full, None) => self.compare_whole(reader, i, bridge).await?,
            };
            let diffs = self.duck(|r| r.differences(id, SAMPLE_KEYS))?;
            tables.push(table_report(&schema.name, &totals, &diffs));
        }
        Ok(tables)
    }

    /// Brings the replica's checkpoint and the source's position together: while the pipeline
    /// streams, waits until the replica has passed the source's position (changes are then
    /// consumed chunk by chunk); otherwise folds the changes after the replica's checkpoint up to
    /// the source's position (from the pipeline's own slot) in at once.
    async fn bridge(&mut self, source: Lsn, slot: Option<TemporarySlot>) -> Result<Bridge, Error> {
        if let Some(slot) = slot {
            let replica = self.catch_up(source).await?;
            let start = slot.start;
            return Ok(Bridge {
                replica,
                onto: ChangesOnto::Source,
                slot: Some(slot),
                consumed_upto: start,
                changes: 0,
            });
        }
        let replica = self.replica_checkpoint()?;
        let pipeline_slot = &self.config.source.slot;
        // A pipeline that just stopped may hold its slot for a moment longer.
        slot::wait_released(&self.client, pipeline_slot, Duration::from_secs(10)).await?;
        match slot::find(&self.client, pipeline_slot).await? {
            Some(info) if !info.active => {}
            Some(_) => {
                return Err(Error::fatal(format!(
                    "the pipeline's slot \"{pipeline_slot}\" is in use, but no running pipeline of this config was found"
                ))
                .with_hint("if `siphon run` is running, is its state_dir the one in this config? otherwise stop whatever holds the slot"))
            }
            None => {
                return Err(Error::fatal(format!(
                    "the replica is at checkpoint {replica}, and the changes after it are not available (slot \"{pipeline_slot}\" is missing)"
                ))
                .with_hint("start the pipeline so that it catches up (a missing slot is a gap it repairs), then verify again"))
            }
        }
        let schemas = self.schemas();
        let window = Window { after: replica, upto: source };
        let publication = &self.config.source.publication;
        let changes = slot_changes::peek(&self.client, pipeline_slot, publication, window, &schemas, |batch| {
            duck(&self.replica, |r| r.merge_changes(batch))
        })
        .await?;
        Ok(Bridge { replica, onto: ChangesOnto::Both, slot: None, consumed_upto: source, changes })
    }

    fn schemas(&self) -> Vec<Arc<TableSchema>> {
        self.targets.iter().map(|t| t.schema.clone()).collect()
    }

    fn replica_checkpoint(&self) -> Result<Lsn, Error> {
        self.duck(|r| r.checkpoint())?.ok_or_else(|| {
            Error::fatal("the replica has no checkpoint yet: nothing to verify")
                .with_hint("wait until the pipeline's initial snapshot has committed (`siphon status`)")
        })
    }

    /// Makes sure a commit follows `source` (a logical-decoding message) and waits until the
    /// streaming pipeline's checkpoint reaches it.
    async fn catch_up(&self, source: Lsn) -> Result<Lsn, Error> {
        if let Err(e) = self.client.execute("SELECT pg_logical_emit_message(true, 'siphon', 'verify')", &[]).await {
            tracing::debug!(error = %e, "could not write a catch-up marker; waiting for the next commit instead");
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(self.opts.catch_up_timeout_s);
        loop {
            let checkpoint = self.replica_checkpoint()?;
            if checkpoint >= source {
                return Ok(checkpoint);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::fatal(format!(
                    "the pipeline did not catch up to {source} within {} s (its checkpoint is {checkpoint})",
                    self.opts.catch_up_timeout_s
                ))
                .with_hint("check `siphon status` (lag, errors); or raise --catch-up-timeout-s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reads the replica's rows of target `i` in `scope`, brings the changes up to their
    /// checkpoint, and compares.
    async fn compare_scope(&mut self, i: usize, scope: Scope<'_>, bridge: &mut Bridge) -> Result<ChunkOutcome, Error> {
        let id = self.targets[i].id;
        let checkpoint = self
            .duck(|r| r.read_replica(id, scope))?
            .ok_or_else(|| Error::fatal("the replica's checkpoint disappeared while verifying"))?;
        match (&bridge.slot, bridge.onto) {
            (Some(slot), _) if checkpoint > bridge.consumed_upto => {
                let (schemas, publication) = (self.schemas(), &self.config.source.publication);
                let replica = &self.replica;
                bridge.changes += slot
                    .consume(publication, checkpoint, &schemas, |batch| duck(replica, |r| r.merge_changes(batch)))
                    .await?;
                bridge.consumed_upto = checkpoint;
            }
            (None, ChangesOnto::Both) if checkpoint != bridge.replica => {
                return Err(Error::fatal("the pipeline resumed while verifying a stopped replica")
                    .with_detail(format!("its checkpoint moved from {} to {checkpoint}", bridge.replica))
                    .with_hint("run siphon verify again (while the pipeline runs, verify goes through it)"));
            }
            _ => {}
        }
        self.duck(|r| r.compare(id, scope, bridge.onto))
    }

    /// Keyset chunks of target `i`.
    async fn compare_chunks(
        &mut self,
        reader: &SnapshotReader,
        i: usize,
        order: &[KeyOrder],
        bridge: &mut Bridge,
    ) -> Result<Totals, Error> {
        let (id, schema) = (self.targets[i].id, self.targets[i].schema.clone());
        let key = schema.key_indices();
        let mut after: Option<Vec<String>> = None;
        let mut totals = Totals::default();
        loop {
            let rows = reader.chunk(&schema, order, after.as_deref(), self.opts.chunk_rows).await?;
            let full = rows.len() == self.opts.chunk_rows;
            let through = if full { rows.last().map(|r| key_texts(r, &key)) } else { None };
            self.stage(id, &rows)?;
            let scope = Scope::Range { after: after.as_deref(), through: through.as_deref() };
            let outcome = self.compare_scope(i, scope, bridge).await?;
            totals.add(outcome);
            tracing::debug!(table = %schema.name, chunk = totals.chunks, rows = rows.len(), equal = outcome.equal, "chunk compared");
            if !full {
                return Ok(totals);
            }
            after = through;
        }
    }

    /// Target `i` as one chunk (its key does not order alike on both sides).
    async fn compare_whole(&mut self, reader: &SnapshotReader, i: usize, bridge: &mut Bridge) -> Result<Totals, Error> {
        let (id, schema) = (self.targets[i].id, self.targets[i].schema.clone());
        self.duck(|r| r.clear_source(id))?;
        let replica = &self.replica;
        reader.whole_table(&schema, self.opts.chunk_rows, |rows| duck(replica, |r| r.stage_source(id, &rows))).await?;
        let mut totals = Totals::default();
        totals.add(self.compare_scope(i, Scope::All, bridge).await?);
        Ok(totals)
    }

    /// The kept (repaired) keys of target `i`, read by key.
    async fn compare_kept_keys(
        &mut self,
        reader: &SnapshotReader,
        i: usize,
        bridge: &mut Bridge,
    ) -> Result<Totals, Error> {
        let (id, schema) = (self.targets[i].id, self.targets[i].schema.clone());
        let keys = self.duck(|r| r.kept_keys(id))?;
        self.duck(|r| r.clear_source(id))?;
        for batch in keys.chunks(KEYS_PER_READ) {
            let rows = reader.rows_by_key(&schema, batch).await?;
            self.duck(|r| r.stage_source(id, &rows))?;
        }
        let mut totals = Totals::default();
        totals.add(self.compare_scope(i, Scope::Keys, bridge).await?);
        Ok(totals)
    }

    fn stage(&self, id: TableId, rows: &[Row]) -> Result<(), Error> {
        self.duck(|r| {
            r.clear_source(id)?;
            r.stage_source(id, rows)
        })
    }

    /// Re-copies every differing key (pausing a streaming pipeline meanwhile), then verifies
    /// those keys again.
    async fn repair(&mut self, verified: &Pass) -> Result<Repair, Error> {
        let mut work = Vec::new();
        for (i, report) in verified.tables.iter().enumerate() {
            if !report.equal {
                let id = self.targets[i].id;
                let keys = self.duck(|r| {
                    let keys = r.difference_keys(id)?;
                    r.scope_to_differences(id)?;
                    Ok(keys)
                })?;
                work.push((i, keys));
            }
        }
        let paused_here = match &self.running {
            Some(p) if p.streams() => {
                p.pause().await?;
                true
            }
            _ => false,
        };
        let copied = self.rewrite(&work).await;
        let resumed = match (&self.running, paused_here) {
            (Some(p), true) => p.resume().await,
            _ => Ok(()),
        };
        let tables = copied?;
        resumed?;
        self.duck(|r| r.reset())?;
        let after = self.pass(Coverage::KeptKeys(work.iter().map(|(i, _)| *i).collect())).await?;
        self.record_repairs(&tables, &after);
        Ok(Repair { tables, after })
    }

    /// Reads the current source rows of the keys (at a snapshot taken now, after any pause) and
    /// writes them: every key deleted, every row the source has written back.
    async fn rewrite(&mut self, work: &[(usize, Vec<Vec<String>>)]) -> Result<Vec<TableRepair>, Error> {
        let (reader, _) = SnapshotReader::begin(&self.connector).await?;
        let mut out = Vec::new();
        for (i, keys) in work {
            let schema = self.targets[*i].schema.clone();
            let mut rows_copied = 0;
            for batch_keys in keys.chunks(KEYS_PER_READ) {
                let rows = reader.rows_by_key(&schema, batch_keys).await?;
                rows_copied += rows.len() as u64;
                let batch = repair_batch(&schema, batch_keys, rows);
                self.duck(|r| r.repair(&schema, batch))?;
            }
            tracing::info!(table = %schema.name, keys = keys.len(), rows_copied, "repaired differing rows");
            out.push(TableRepair { table: schema.name.to_string(), keys: keys.len() as u64, rows_copied });
        }
        reader_done(reader).await;
        Ok(out)
    }

    fn record_mismatches(&self, pass: &Pass) {
        for t in pass.tables.iter().filter(|t| !t.equal) {
            tracing::warn!(event = "verify.mismatch", table = %t.table, missing = t.missing, extra = t.extra, different = t.different, "source and replica differ");
            self.record(serde_json::json!({
                "event": "verify.mismatch", "table": t.table, "missing": t.missing, "extra": t.extra,
                "different": t.different, "source_position": pass.source_position,
            }));
        }
    }

    fn record_repairs(&self, repairs: &[TableRepair], after: &Pass) {
        for r in repairs {
            let equal = after.tables.iter().find(|t| t.table == r.table).is_some_and(|t| t.equal);
            self.record(serde_json::json!({
                "event": "verify.repaired", "table": r.table, "keys": r.keys, "rows_copied": r.rows_copied,
                "equal_after": equal,
            }));
        }
    }

    fn record(&self, mut event: serde_json::Value) {
        event["at_unix_ms"] = serde_json::json!(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0));
        let dir = &self.config.pipeline.state_dir;
        if let Err(e) = std::fs::create_dir_all(dir).and_then(|_| crate::state_dir::append_event(dir, &event)) {
            tracing::warn!(error = %e, "could not record a verify event");
        }
    }
}

/// Runs DuckDB work on the replica on this worker thread, telling the runtime it blocks.
fn duck<T>(replica: &Mutex<Replica>, f: impl FnOnce(&mut Replica) -> Result<T, Error>) -> Result<T, Error> {
    tokio::task::block_in_place(|| f(&mut replica.lock().unwrap_or_else(|e| e.into_inner())))
}

/// Ends a source read transaction; a failure only costs the connection.
async fn reader_done(reader: SnapshotReader) {
    if let Err(e) = reader.finish().await {
        tracing::debug!(error = %e, "ending the verification's source transaction failed");
    }
}

/// The tables to verify: those named (each must be one of the pipeline's), or all of them.
async fn tables(config: &Config, client: &SqlClient, named: &[String]) -> Result<Vec<TableName>, Error> {
    let configured = config.tables();
    let all = catalog::publication_tables(client, &config.source.publication, configured.as_deref()).await?;
    if named.is_empty() {
        return Ok(all);
    }
    named
        .iter()
        .map(|n| {
            let t = TableName::parse(n).map_err(|e| Error::fatal(e.to_string()))?;
            if all.contains(&t) {
                Ok(t)
            } else {
                let list: Vec<String> = all.iter().map(|t| t.to_string()).collect();
                Err(Error::fatal(format!("table {t} is not replicated by pipeline {}", config.pipeline.name))
                    .with_detail(format!("its tables: {}", list.join(", "))))
            }
        })
        .collect()
}

/// How `schema`'s key orders for keyset chunks, or `None` when PostgreSQL and DuckDB order it
/// differently (the table is then compared whole).
fn key_order(schema: &TableSchema) -> Result<Option<Vec<KeyOrder>>, Error> {
    let key: Vec<&Column> = schema.columns.iter().filter(|c| c.is_key).collect();
    if key.iter().any(|c| matches!(map_type(&c.source_type).conversion, Conversion::Array(_))) {
        return Err(Error::fatal(format!("table {} has an array column in its key", schema.name))
            .with_hint("siphon verify does not support array keys; leave the table out (siphon verify TABLE ...)"));
    }
    Ok(key.iter().map(|c| column_order(c)).collect())
}

fn column_order(c: &Column) -> Option<KeyOrder> {
    let ty = map_type(&c.source_type);
    match (c.source_type.oid, ty.conversion) {
        // bool, int2, int4, int8, oid, date, timestamp, timestamptz, uuid: the same order in both.
        (16 | 21 | 23 | 20 | 26 | 1082 | 1114 | 1184 | 2950, _) => Some(KeyOrder::Native),
        // numeric is stored as its exact text (see docs/types.md): text order is not numeric
        // order, so such keys compare the table whole (below).
        // text, varchar, name: DuckDB compares the stored text bytewise.
        (25 | 1043 | 19, _) => Some(KeyOrder::Bytewise),
        _ => None,
    }
}

fn key_texts(row: &Row, key: &[usize]) -> Vec<String> {
    key.iter().map(|&j| row[j].as_text().unwrap_or_default().to_string()).collect()
}

/// Deletes of every key, then the source's current rows: applied deletes-first, that leaves
/// exactly the source's rows for these keys.
fn repair_batch(schema: &Arc<TableSchema>, keys: &[Vec<String>], rows: Vec<Row>) -> Batch {
    let mut batch = Batch::new();
    let key = schema.key_indices();
    for k in keys {
        let mut old_key: Row = vec![Datum::Null; schema.columns.len()];
        for (&j, text) in key.iter().zip(k) {
            old_key[j] = Datum::Text(text.clone());
        }
        batch.push(Change { table: schema.clone(), kind: ChangeKind::Delete { old_key } });
    }
    for new in rows {
        batch.push(Change { table: schema.clone(), kind: ChangeKind::Insert { new } });
    }
    batch
}

fn table_report(name: &TableName, totals: &Totals, d: &Differences) -> TableReport {
    TableReport {
        table: name.to_string(),
        equal: d.total() == 0,
        chunks: totals.chunks,
        source_rows: totals.source_rows,
        replica_rows: totals.replica_rows,
        missing: d.missing,
        extra: d.extra,
        different: d.different,
        samples: d.samples.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_pass(f, &self.verified)?;
        if let Some(r) = &self.repair {
            writeln!(f)?;
            for t in &r.tables {
                writeln!(
                    f,
                    "repaired {}: {} keys re-copied ({} rows written, {} deleted)",
                    t.table,
                    t.keys,
                    t.rows_copied,
                    t.keys - t.rows_copied
                )?;
            }
            writeln!(f, "verified the repaired keys again:")?;
            write_pass(f, &r.after)?;
        }
        Ok(())
    }
}

fn write_pass(f: &mut std::fmt::Formatter<'_>, p: &Pass) -> std::fmt::Result {
    for t in &p.tables {
        if t.equal {
            let (rows, chunks) = (t.source_rows, t.chunks);
            writeln!(f, "ok    {}: equal ({rows} row{}, {chunks} chunk{})", t.table, plural(rows), plural(chunks))?;
            continue;
        }
        writeln!(
            f,
            "DIFF  {}: {} missing, {} extra, {} different (source {} rows, replica {} rows)",
            t.table, t.missing, t.extra, t.different, t.source_rows, t.replica_rows
        )?;
        for (kind, keys) in &t.samples {
            let keys: Vec<String> = keys.iter().map(|k| k.join(",")).collect();
            writeln!(f, "      {kind:<9} {}", keys.join("  "))?;
        }
    }
    writeln!(
        f,
        "source at {}, replica at checkpoint {} (pipeline {}; {} change{} in between bridged)",
        p.source_position,
        p.replica_checkpoint,
        match p.pipeline {
            PipelineState::Streaming => "streaming",
            PipelineState::Stopped => "stopped",
        },
        p.changes_bridged,
        plural(p.changes_bridged)
    )
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
