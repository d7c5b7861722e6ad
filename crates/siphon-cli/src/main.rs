//! The `siphon` binary: argument parsing and wiring only.
//!
//! Bootstrap is synchronous (arguments, config, logging) and fails fast with the config error;
//! only then does the async runtime start.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use std::time::Duration;

use siphon_core::config::{Config, DestinationKind};
use siphon_duckdb::query::{QueryLimits, QueryService, TextResult};
use siphon_runtime::client::{daemon, Daemon};
use siphon_runtime::verify::{Report, VerifyOptions};

mod progress;

/// Rows are many small allocations (a string per value) made on one thread and freed on another;
/// mimalloc handles that pattern several times faster than glibc's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "siphon",
    version,
    about = "Change-data-capture replication from PostgreSQL into DuckDB or PostgreSQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replicate: snapshot what is new, then stream changes until SIGINT/SIGTERM.
    Run {
        /// The configuration file.
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
    },
    /// Check a configuration file and print what it resolves to (secrets redacted).
    Check {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
    },
    /// Run a read-only SQL query on a DuckDB replica: through the running daemon, or on the file.
    /// (A PostgreSQL replica is an ordinary database: query it directly.)
    Query {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
        /// The query, e.g. "SELECT count(*) FROM public.orders".
        sql: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Most rows to return.
        #[arg(long, default_value_t = 10_000)]
        max_rows: usize,
        /// Cancel the query after this many milliseconds.
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: u64,
    },
    /// Pause: flush, checkpoint, close the replication connection (the slot becomes inactive).
    /// Survives restarts. Without a running daemon, the pipeline will start paused.
    Pause {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
    },
    /// Resume a paused pipeline.
    Resume {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
    },
    /// Copy tables again while the pipeline keeps streaming (needs the running daemon): no new
    /// slot, no pause, no change lost or reverted.
    Backfill {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
        /// Tables to copy (schema.table); none: every table of the pipeline.
        tables: Vec<String>,
        /// merge: upsert the source's rows (rows only at the destination stay);
        /// truncate: empty the destination table first.
        #[arg(long, default_value = "merge", value_parser = ["merge", "truncate"])]
        mode: String,
        /// Wait until the copy finished, showing its progress.
        #[arg(long)]
        wait: bool,
    },
    /// Check every source setting and permission the pipeline needs; exit 1 on any failure.
    Doctor {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// The major-version upgrade runbook: `prepare` before pg_upgrade, `finish` after.
    Upgrade {
        #[command(subcommand)]
        command: UpgradeCommand,
    },
    /// Inspect and drop replication slots on the source server.
    Slots {
        #[command(subcommand)]
        command: SlotsCommand,
    },
    /// Compare source and replica per key chunk (counts, checksums), list the differing rows,
    /// and with --repair re-copy them. Exit code 0: equal, 1: they differ, 2: error.
    Verify {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
        /// Tables to verify (`schema.table`); every table of the pipeline when none is given.
        tables: Vec<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Re-copy the differing rows from the source (pausing a running pipeline meanwhile),
        /// then verify them again.
        #[arg(long)]
        repair: bool,
        /// Source rows per chunk.
        #[arg(long, default_value_t = 20_000)]
        chunk_rows: usize,
        /// Seconds to wait for a running pipeline to catch up to where verification starts.
        #[arg(long, default_value_t = 300)]
        catch_up_timeout_s: u64,
    },
    /// Show the pipeline's state, lag, checkpoint, slot health and tables (from the daemon, or
    /// its state directory).
    Status {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the URL of the running daemon's web dashboard. The URL holds the control token.
    Dashboard {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum UpgradeCommand {
    /// Check writes stopped, wait for catch-up, pause, record checksums, drop the slot below PG 17.
    Prepare {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
        /// Do not check that application writes have stopped.
        #[arg(long)]
        skip_write_check: bool,
        /// Seconds to watch the WAL for application writes.
        #[arg(long, default_value_t = 3)]
        write_check_s: u64,
    },
    /// After the upgrade: doctor, continue at the new or kept slot (or backfill), resume, verify.
    Finish {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum SlotsCommand {
    /// Every slot on the server: plugin, database, active, positions, WAL retained, owner.
    List {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Drop a slot: refused while it is active, and for this pipeline's slot unless it is paused.
    Drop {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
        /// The slot to drop.
        name: String,
        /// Drop this pipeline's slot even though the pipeline is not paused (never an active slot).
        #[arg(long)]
        force: bool,
        /// Drop it; without this, only say what dropping would cost.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Run { config } => load(&config).and_then(run),
        Command::Check { config } => load(&config).map(|c| println!("configuration is valid\n{c:#?}")),
        Command::Query { config, sql, format, max_rows, timeout_ms } => load(&config).and_then(|c| {
            query(&c, &sql, format, QueryLimits { max_rows, timeout: Duration::from_millis(timeout_ms) })
        }),
        Command::Pause { config } => load(&config).and_then(|c| set_paused(&c, true)),
        Command::Resume { config } => load(&config).and_then(|c| set_paused(&c, false)),
        Command::Backfill { config, tables, mode, wait } => {
            load(&config).and_then(|c| backfill(&c, &tables, &mode, wait))
        }
        Command::Upgrade { command: UpgradeCommand::Prepare { config, skip_write_check, write_check_s } } => {
            load(&config).and_then(|c| {
                let opts = siphon_runtime::upgrade::PrepareOptions {
                    skip_write_check,
                    write_check: Duration::from_secs(write_check_s),
                };
                print!("{}", block_on(siphon_runtime::upgrade::prepare(&c, opts))?);
                Ok(())
            })
        }
        Command::Upgrade { command: UpgradeCommand::Finish { config } } => load(&config).and_then(|c| {
            let (report, equal) = block_on(siphon_runtime::upgrade::finish(&c))?;
            print!("{report}");
            if !equal {
                anyhow::bail!("source and replica differ after the upgrade");
            }
            println!("upgrade finished: source and replica agree");
            Ok(())
        }),
        Command::Doctor { config, json } => load(&config).and_then(|c| doctor(&c, json)),
        Command::Slots { command: SlotsCommand::List { config, json } } => {
            load(&config).and_then(|c| slots_list(&c, json))
        }
        Command::Slots { command: SlotsCommand::Drop { config, name, force, yes } } => {
            load(&config).and_then(|c| slots_drop(&c, &name, force, yes))
        }
        Command::Status { config, json } => load(&config).and_then(|c| status(&c, json)),
        Command::Dashboard { config } => load(&config).and_then(|c| dashboard(&c)),
        Command::Verify { config, tables, json, repair, chunk_rows, catch_up_timeout_s } => {
            return verify(&config, &VerifyOptions { tables, chunk_rows, repair, catch_up_timeout_s }, json)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("siphon: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIPHON_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn load(path: &PathBuf) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("could not read the configuration file {}: {e}", path.display()))?;
    Config::parse_with_process_env(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn run(config: Config) -> anyhow::Result<()> {
    progress::spawn(config.pipeline.state_dir.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("siphon").build()?;
    runtime.block_on(async move {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested: flushing and checkpointing");
            let _ = tx.send(true);
        });
        siphon_runtime::run(config, rx).await.map_err(|e| anyhow::anyhow!("{e}"))
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn status(config: &Config, json: bool) -> anyhow::Result<()> {
    let v = match daemon(config) {
        Some(d) => d.request("GET", "/v1/status", None)?,
        None => {
            let path = config.pipeline.state_dir.join("status.json");
            let text = std::fs::read_to_string(&path).map_err(|e| {
                anyhow::anyhow!(
                    "no status for pipeline {} at {}: {e}\n  hint: has `siphon run` been started with this config?",
                    config.pipeline.name,
                    path.display()
                )
            })?;
            let mut v: serde_json::Value = serde_json::from_str(&text)?;
            if v["state"] != "stopped" && v["state"] != "failed" {
                v["state"] = serde_json::json!(format!("not running (last: {})", v["state"].as_str().unwrap_or("?")));
            }
            v
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_status(&v);
    }
    Ok(())
}

fn print_status(v: &serde_json::Value) {
    print!("{}", status_text(v, siphon_runtime::status::unix_ms_now()));
}

/// The human form of a status: the pipeline's lines, then one line per table.
fn status_text(v: &serde_json::Value, now_unix_ms: u64) -> String {
    use siphon_runtime::slots::human_bytes;
    let field = |k: &str| match v.get(k) {
        None | Some(serde_json::Value::Null) => "none".to_string(),
        Some(x) => x.to_string().trim_matches('"').to_string(),
    };
    let mut lines = vec![format!("pipeline    {}", field("pipeline")), format!("state       {}", field("state"))];
    if let (Some(secs), Some(bytes)) = (v["lag_seconds"].as_f64(), v["lag_bytes"].as_u64()) {
        lines.push(format!("lag         {secs:.1} s, {} behind the server", human_bytes(bytes as i64)));
    }
    lines.push(format!(
        "checkpoint  {}",
        field(if v["checkpoint"].is_string() { "checkpoint" } else { "checkpoint_lsn" })
    ));
    if let Some(gtid) = v["checkpoint_gtid"].as_str() {
        lines.push(format!("gtid        {gtid}"));
    }
    lines.push(format!("snapshot    {} rows", field("snapshot_rows")));
    lines.push(format!("streamed    {} changes in {} commits", field("changes_applied"), field("commits")));
    if let Some(retained) = v["slot_retained_wal_bytes"].as_i64() {
        let safe = v["slot_safe_wal_size_bytes"].as_i64().map_or("unlimited".into(), human_bytes);
        let status = v["slot_wal_status"].as_str().unwrap_or("unknown");
        let active = if v["slot_active"] == true { "active" } else { "inactive" };
        lines.push(format!(
            "slot        {} of WAL retained, safe_wal_size {safe}, wal_status {status}, {active}",
            human_bytes(retained)
        ));
    }
    if let Some(e) = v["last_error"].as_str() {
        lines.push(format!("last error  {e}"));
    }
    if let Some(event) = v["last_event"]["event"].as_str() {
        let when =
            v["last_event"]["at_unix_ms"].as_u64().map_or(String::new(), |at| format!(", {}", ago(now_unix_ms, at)));
        lines.push(format!("last event  {event}{when}"));
    }
    let mut text = lines.join("\n") + "\n";
    if let Some(tables) = v["tables"].as_object().filter(|t| !t.is_empty()) {
        text += &format!("\n{}", tables_text(tables, now_unix_ms));
    }
    text
}

/// One aligned line per table: rows applied by operation, last change, snapshot progress.
fn tables_text(tables: &serde_json::Map<String, serde_json::Value>, now_unix_ms: u64) -> String {
    let with_snapshot = tables.values().any(|t| t["snapshot"].is_object());
    let mut header: Vec<String> =
        ["table", "inserts", "updates", "deletes", "truncates", "last change"].iter().map(|h| h.to_string()).collect();
    if with_snapshot {
        header.push("snapshot".into());
    }
    let count = |t: &serde_json::Value, k: &str| t[k].as_u64().unwrap_or(0).to_string();
    let rows: Vec<Vec<String>> = tables
        .iter()
        .map(|(name, t)| {
            let mut row = vec![name.clone()];
            row.extend(["inserts", "updates", "deletes", "truncates"].map(|k| count(t, k)));
            row.push(t["last_change_unix_ms"].as_u64().map_or("never".into(), |at| ago(now_unix_ms, at)));
            if with_snapshot {
                row.push(snapshot_text(&t["snapshot"]));
            }
            row
        })
        .collect();
    let widths = column_widths(&header, &rows);
    std::iter::once(&header).chain(&rows).map(|r| pad(r, &widths, "  ").trim_end().to_string() + "\n").collect()
}

/// `copying 45% · 4500/10000 rows · chunk 3/8 · 1200 rows/s · 5 s left`, or `-` without a snapshot.
fn snapshot_text(s: &serde_json::Value) -> String {
    let Some(state) = s["state"].as_str() else { return "-".into() };
    let copied = s["rows_copied"].as_u64().unwrap_or(0);
    let estimate = s["rows_estimate"].as_u64().filter(|e| *e > 0);
    let mut parts = vec![match estimate {
        Some(e) => format!("{state} {}%", (copied * 100 / e).min(100)),
        None => state.to_string(),
    }];
    parts.push(match estimate {
        Some(e) => format!("{copied}/{e} rows"),
        None => format!("{copied} rows"),
    });
    if let Some(total) = s["chunks_total"].as_u64() {
        parts.push(format!("chunk {}/{total}", s["chunks_done"].as_u64().unwrap_or(0)));
    }
    if state != "done" {
        if let Some(rate) = s["rows_per_s"].as_f64() {
            parts.push(format!("{rate:.0} rows/s"));
        }
        if let Some(eta) = s["eta_s"].as_f64() {
            parts.push(format!("{} left", human_duration(eta as u64)));
        }
    }
    parts.join(" · ")
}

/// `12 s ago`, `3 min ago`, `2 h ago`.
fn ago(now_unix_ms: u64, at_unix_ms: u64) -> String {
    format!("{} ago", human_duration(now_unix_ms.saturating_sub(at_unix_ms) / 1000))
}

fn human_duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

fn dashboard(config: &Config) -> anyhow::Result<()> {
    let d = daemon(config).ok_or_else(|| {
        anyhow::anyhow!(
            "pipeline {} is not running: the dashboard is served by its daemon\n  hint: start it with `siphon run --config ...`",
            config.pipeline.name
        )
    })?;
    println!("{}", d.dashboard_url());
    eprintln!("siphon: this URL holds the control token: open it in a browser on this machine, do not share it");
    Ok(())
}

fn backfill(config: &Config, tables: &[String], mode: &str, wait: bool) -> anyhow::Result<()> {
    let Some(d) = daemon(config) else {
        anyhow::bail!(
            "pipeline {} is not running: start it (siphon run) and ask again; a copy needs the running stream",
            config.pipeline.name
        );
    };
    let v = d.request("POST", "/v1/backfill", Some(serde_json::json!({ "tables": tables, "mode": mode })))?;
    let job = v["job"].as_str().unwrap_or_default().to_string();
    println!("backfill {job} started ({mode})");
    if !wait {
        println!("follow it with: siphon status");
        return Ok(());
    }
    let mut last = String::new();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let s = d.request("GET", "/v1/status", None)?;
        let copy = s["copy"].as_object().cloned().unwrap_or_default();
        let ours: Vec<_> = copy.iter().filter(|(_, p)| p["job"] == job.as_str()).collect();
        if ours.is_empty() {
            println!("backfill {job} finished");
            return Ok(());
        }
        let line = ours
            .iter()
            .map(|(t, p)| {
                format!(
                    "{t}: {}/{} rows, {}/{} chunks",
                    p["rows_copied"], p["rows_estimate"], p["chunks_done"], p["chunks_total"]
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        if line != last {
            println!("{line}");
            last = line;
        }
        if s["state"] == "failed" {
            anyhow::bail!("the pipeline failed during the backfill: {}", s["last_error"]);
        }
    }
}

fn set_paused(config: &Config, paused: bool) -> anyhow::Result<()> {
    let verb = if paused { "pause" } else { "resume" };
    match daemon(config) {
        Some(d) => {
            let v = d.request("POST", &format!("/v1/{verb}"), None)?;
            print_status(&v);
        }
        None => {
            std::fs::create_dir_all(&config.pipeline.state_dir)?;
            siphon_runtime::state_dir::set_paused(&config.pipeline.state_dir, paused)?;
            let when = if paused { "it will start paused" } else { "it will stream when started" };
            println!("pipeline {} is not running; {when}", config.pipeline.name);
        }
    }
    Ok(())
}

fn query(config: &Config, sql: &str, format: Format, limits: QueryLimits) -> anyhow::Result<()> {
    let path = match (&config.destination.kind, &config.destination.path) {
        (DestinationKind::Duckdb, Some(path)) => path,
        (kind, _) => anyhow::bail!("{}", siphon_runtime::control::not_queryable(*kind)),
    };
    let result = match daemon(config) {
        Some(daemon) => query_daemon(&daemon, sql, limits)?,
        None => QueryService::open_file(path).and_then(|q| q.query(sql, limits)).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    print_result(&result, format)?;
    if result.truncated {
        eprintln!("siphon: output truncated at {} rows (--max-rows)", limits.max_rows);
    }
    Ok(())
}

fn query_daemon(daemon: &Daemon, sql: &str, limits: QueryLimits) -> anyhow::Result<TextResult> {
    let body =
        serde_json::json!({ "sql": sql, "max_rows": limits.max_rows, "timeout_ms": limits.timeout.as_millis() as u64 });
    Ok(serde_json::from_value(daemon.request("POST", "/v1/query", Some(body))?)?)
}

fn print_result(result: &TextResult, format: Format) -> anyhow::Result<()> {
    let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".into());
    match format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = result
                .rows
                .iter()
                .map(|r| {
                    serde_json::Value::Object(
                        result.columns.iter().cloned().zip(r.iter().map(|v| serde_json::json!(v))).collect(),
                    )
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        Format::Csv => print!("{}", result.to_csv()),
        Format::Table => {
            let header = result.columns.clone();
            let rows: Vec<Vec<String>> = result.rows.iter().map(|r| r.iter().map(cell).collect()).collect();
            let widths = column_widths(&header, &rows);
            println!("{}", pad(&header, &widths, " | "));
            println!("{}", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-"));
            for r in &rows {
                println!("{}", pad(r, &widths, " | "));
            }
            println!("({} row{})", result.rows.len(), if result.rows.len() == 1 { "" } else { "s" });
        }
    }
    Ok(())
}

fn block_on<T>(f: impl std::future::Future<Output = Result<T, siphon_core::Error>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(f).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `siphon verify`: exit code 0 when source and replica agree, 1 when they differ, 2 on error.
fn verify(path: &PathBuf, opts: &VerifyOptions, json: bool) -> ExitCode {
    let report = load(path).and_then(|c| verify_report(&c, opts)).and_then(|r| {
        if json {
            println!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            print!("{r}");
        }
        Ok(r)
    });
    match report {
        Ok(r) if r.equal => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("siphon: {e}");
            ExitCode::from(2)
        }
    }
}

/// Through the running daemon (it holds the replica), or on the file.
fn verify_report(config: &Config, opts: &VerifyOptions) -> anyhow::Result<Report> {
    if let Some(d) = daemon(config) {
        return Ok(serde_json::from_value(d.request("POST", "/v1/verify", Some(serde_json::to_value(opts)?))?)?);
    }
    let replica = siphon_runtime::verify::open_replica(config, opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Multi-threaded: verification runs DuckDB work in place on a worker thread.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(siphon_runtime::verify::run(config, replica, None, opts)).map_err(|e| anyhow::anyhow!("{e}"))
}

fn slots_list(config: &Config, json: bool) -> anyhow::Result<()> {
    let slots = block_on(siphon_runtime::slots::list(config))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&slots)?);
        return Ok(());
    }
    let header = [
        "slot",
        "plugin",
        "database",
        "active",
        "pid",
        "restart_lsn",
        "confirmed_flush",
        "wal_status",
        "retained",
        "safe_wal_size",
        "pipeline",
    ];
    let rows: Vec<Vec<String>> = slots
        .iter()
        .map(|r| {
            let s = &r.slot;
            let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            vec![
                s.slot_name.clone(),
                opt(&s.plugin),
                opt(&s.database),
                s.active.to_string(),
                s.active_pid.map_or("-".into(), |p| p.to_string()),
                opt(&s.restart_lsn),
                opt(&s.confirmed_flush_lsn),
                opt(&s.wal_status),
                s.retained_wal_bytes.map_or("-".into(), siphon_runtime::slots::human_bytes),
                s.safe_wal_size.map_or("unlimited".into(), siphon_runtime::slots::human_bytes),
                r.pipeline.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let widths = column_widths(&header, &rows);
    println!("{}", pad(&header, &widths, "  "));
    for r in &rows {
        println!("{}", pad(r, &widths, "  "));
    }
    Ok(())
}

fn slots_drop(config: &Config, name: &str, force: bool, yes: bool) -> anyhow::Result<()> {
    let opts = siphon_runtime::slots::DropOptions { force, dry_run: !yes };
    let (cost, dropped) = block_on(siphon_runtime::slots::drop(config, name, opts))?;
    println!("{cost}");
    if dropped {
        println!("dropped replication slot \"{name}\"");
        Ok(())
    } else {
        anyhow::bail!("nothing dropped: run again with --yes to drop \"{name}\"")
    }
}

fn doctor(config: &Config, json: bool) -> anyhow::Result<()> {
    use siphon_core::doctor::Severity;
    let findings = block_on(siphon_runtime::doctor::run(config))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&findings)?);
    } else {
        for f in &findings {
            let tag = match f.severity {
                Severity::Ok => "ok  ",
                Severity::Warn => "WARN",
                Severity::Fail => "FAIL",
            };
            println!("{tag}  {}: expected {}; found {}", f.check, f.expected, f.actual);
            if !f.fix.is_empty() {
                println!("      fix: {}", f.fix);
            }
        }
    }
    let failed = findings.iter().filter(|f| f.severity == Severity::Fail).count();
    let warned = findings.iter().filter(|f| f.severity == Severity::Warn).count();
    if failed > 0 {
        anyhow::bail!("{failed} check(s) failed, {warned} warning(s)");
    }
    eprintln!("all checks passed ({warned} warning(s))");
    Ok(())
}

/// The width of each column: its longest value or header, in characters.
fn column_widths(header: &[String], rows: &[Vec<String>]) -> Vec<usize> {
    (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].chars().count()]).max().unwrap_or(0))
        .collect()
}

/// One line of an aligned table.
fn pad(values: &[String], widths: &[usize], separator: &str) -> String {
    values.iter().zip(widths).map(|(v, w)| format!("{v:<w$}")).collect::<Vec<_>>().join(separator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_shows_slot_health_tables_and_snapshot_progress() {
        let v = serde_json::json!({
            "pipeline": "shop", "state": "snapshotting", "checkpoint_lsn": null, "snapshot_rows": 4500,
            "changes_applied": 12, "commits": 3, "lag_seconds": 0.25, "lag_bytes": 2048,
            "slot_retained_wal_bytes": 1048576, "slot_safe_wal_size_bytes": null, "slot_wal_status": "reserved",
            "slot_active": true, "last_error": null,
            "last_event": { "event": "pipeline.started", "at_unix_ms": 990_000 },
            "tables": {
                "public.orders": { "inserts": 300, "updates": 12, "deletes": 3, "truncates": 0,
                    "last_change_unix_ms": 997_000,
                    "snapshot": { "state": "copying", "rows_copied": 4500, "rows_estimate": 10000, "chunks_done": 3,
                                  "chunks_total": 8, "rows_per_s": 1200.4, "eta_s": 5.0 } },
                "public.customers": { "inserts": 0, "updates": 0, "deletes": 0, "truncates": 0,
                    "last_change_unix_ms": null }
            }
        });
        let text = status_text(&v, 1_000_000);
        for line in [
            "state       snapshotting",
            "lag         0.2 s, 2.0 KiB behind the server",
            "checkpoint  none",
            "slot        1.0 MiB of WAL retained, safe_wal_size unlimited, wal_status reserved, active",
            "last event  pipeline.started, 10 s ago",
            "table             inserts  updates  deletes  truncates  last change  snapshot",
            "public.customers  0        0        0        0          never        -",
            "public.orders     300      12       3        0          3 s ago      copying 45% · 4500/10000 rows · chunk 3/8 · 1200 rows/s · 5 s left",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        let without_tables = status_text(&serde_json::json!({ "pipeline": "shop", "state": "stopped" }), 0);
        assert!(!without_tables.contains("table"), "{without_tables}");
        assert!(!without_tables.contains("gtid"), "{without_tables}");
        let mysql = status_text(
            &serde_json::json!({ "pipeline": "shop", "state": "streaming", "checkpoint": "42:1234",
                                 "checkpoint_gtid": "0-1-42,1-2-7" }),
            0,
        );
        for line in ["checkpoint  42:1234", "gtid        0-1-42,1-2-7"] {
            assert!(
                mysql.lines().any(|l| l == line),
                "missing {line:?} in:
{mysql}"
            );
        }
    }
}
