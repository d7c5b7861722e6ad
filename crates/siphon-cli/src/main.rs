//! The `siphon` binary: argument parsing and wiring only.
//!
//! Bootstrap is synchronous (arguments, config, logging) and fails fast with the config error;
//! only then does the async runtime start.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use siphon_core::config::Config;

#[derive(Parser)]
#[command(name = "siphon", version, about = "Change-data-capture replication from PostgreSQL into DuckDB")]
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
    /// Run a read-only SQL query on the replica (while no `siphon run` holds the file).
    Query {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
        /// The query, e.g. "SELECT count(*) FROM public.orders".
        sql: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show the pipeline's state and checkpoint (from its state directory).
    Status {
        #[arg(short, long, default_value = "siphon.toml")]
        config: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
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
        Command::Query { config, sql, format } => load(&config).and_then(|c| query(&c, &sql, format)),
        Command::Status { config, json } => load(&config).and_then(|c| status(&c, json)),
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
    let path = config.pipeline.state_dir.join("status.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "no status for pipeline {} at {}: {e}\n  hint: has `siphon run` been started with this config?",
            config.pipeline.name,
            path.display()
        )
    })?;
    if json {
        println!("{text}");
        return Ok(());
    }
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let field = |k: &str| v.get(k).map(|x| x.to_string().trim_matches('"').to_string()).unwrap_or_default();
    println!("pipeline    {}", field("pipeline"));
    println!("state       {}", field("state"));
    println!("checkpoint  {}", field("checkpoint_lsn"));
    println!("snapshot    {} rows", field("snapshot_rows"));
    println!("streamed    {} changes in {} commits", field("changes_applied"), field("commits"));
    if let Some(e) = v.get("last_error").and_then(|e| e.as_str()) {
        println!("last error  {e}");
    }
    Ok(())
}

fn query(config: &Config, sql: &str, format: Format) -> anyhow::Result<()> {
    let path = config
        .destination
        .path
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("destination.kind = \"null\" keeps no rows to query"))?;
    let result = siphon_duckdb::query::query_file(path, sql).map_err(|e| anyhow::anyhow!("{e}"))?;
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
        Format::Csv => {
            println!("{}", result.columns.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
            for r in &result.rows {
                println!(
                    "{}",
                    r.iter().map(|v| v.as_deref().map(csv_field).unwrap_or_default()).collect::<Vec<_>>().join(",")
                );
            }
        }
        Format::Table => {
            let widths: Vec<usize> = (0..result.columns.len())
                .map(|i| {
                    result
                        .rows
                        .iter()
                        .map(|r| cell(&r[i]).chars().count())
                        .chain([result.columns[i].chars().count()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |vals: Vec<String>| {
                vals.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect::<Vec<_>>().join(" | ")
            };
            println!("{}", line(result.columns.clone()));
            println!("{}", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-"));
            for r in &result.rows {
                println!("{}", line(r.iter().map(cell).collect()));
            }
            println!("({} row{})", result.rows.len(), if result.rows.len() == 1 { "" } else { "s" });
        }
    }
    Ok(())
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}
