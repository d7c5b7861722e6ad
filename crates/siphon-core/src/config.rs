//! The configuration file: typed, strict, documented.
//!
//! Parsing takes the file's text and the environment (for `${VAR}` interpolation) and does no
//! other I/O. Every error names the full key path, what was expected and what was found. Secrets
//! are held in [`Secret`], whose `Debug` and `Display` never show the value.
//!
//! ```toml
//! [pipeline]
//! name = "demo"
//! state_dir = "./siphon-state"
//! [source]
//! kind = "postgres"
//! url = "postgres://siphon:${PGPASSWORD}@127.0.0.1:5432/app"
//! slot = "siphon"
//! publication = "siphon"
//! tables = ["public.orders"]
//! [destination]
//! kind = "duckdb"
//! path = "./replica.duckdb"
//! [flush]
//! interval_ms = 1000
//! ```

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::schema::TableName;

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub pipeline: PipelineConfig,
    pub source: SourceConfig,
    pub destination: DestinationConfig,
    #[serde(default)]
    pub flush: FlushConfig,
    #[serde(default)]
    pub snapshot: SnapshotConfig,
    #[serde(default)]
    pub control: ControlConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Table modes for every table: soft deletes, history, metadata columns (see
    /// [`TableDefaults`]); each overridable in `tables`.
    #[serde(default)]
    pub table_defaults: TableDefaults,
    /// Per-table settings, keyed by `"schema.table"` (`[tables."public.orders"]`): the modes of
    /// [`TableDefaults`] overridden, and the table's column lists.
    #[serde(default)]
    pub tables: std::collections::BTreeMap<String, TableConfig>,
    /// Column hashing (`tables.<t>.hash`).
    #[serde(default)]
    pub hashing: HashingConfig,
}

/// The table modes every table gets unless its `[tables."schema.table"]` section says otherwise.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDefaults {
    /// A source DELETE sets `__siphon_deleted = true` on the destination row instead of deleting
    /// it (a TRUNCATE marks every row deleted; a re-insert of the key makes the row live again).
    #[serde(default)]
    pub soft_delete: bool,
    /// `off`, `both` (the table and an append-only `<table>__history` of every change) or `only`
    /// (the history table alone).
    #[serde(default)]
    pub history: HistoryMode,
    /// Add `__siphon_op`, `__siphon_commit_ts`, `__siphon_position` and `__siphon_synced_at` to
    /// the destination table.
    #[serde(default)]
    pub metadata_columns: bool,
}

/// Whether a table's changes are also kept as history rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryMode {
    /// The table only (its current state).
    #[default]
    Off,
    /// The table and `<table>__history`.
    Both,
    /// `<table>__history` only: no table with the current state.
    Only,
}

/// One table's section: modes overriding [`TableDefaults`], and column lists.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// Overrides `table_defaults.soft_delete`.
    #[serde(default)]
    pub soft_delete: Option<bool>,
    /// Overrides `table_defaults.history`.
    #[serde(default)]
    pub history: Option<HistoryMode>,
    /// Overrides `table_defaults.metadata_columns`.
    #[serde(default)]
    pub metadata_columns: Option<bool>,
    /// Only these columns (and the key columns, always) reach the destination.
    #[serde(default)]
    pub include: Option<Vec<String>>,
    /// These columns never reach the destination. Key columns cannot be excluded.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// These columns reach the destination as the hex SHA-256 of `hashing.salt` followed by the
    /// value's text (NULL stays NULL), in a text column.
    #[serde(default)]
    pub hash: Vec<String>,
}

/// Column hashing.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashingConfig {
    /// Prepended to every value before hashing (at least 16 characters; a secret: use `${ENV}`).
    /// Required when any table lists `hash` columns. Changing it changes every hash.
    #[serde(default)]
    pub salt: Option<Secret>,
}

/// Alerts: conditions checked every `check_interval_s`, sent to a webhook and the log when they
/// start (`alert.fired`, at most once per `cooldown_s` each) and end (`alert.resolved`). A gap
/// and a failed pipeline always alert; the thresholds are optional.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Where to POST alerts (a secret: webhook URLs often embed a token). None: log only.
    #[serde(default)]
    pub webhook_url: Option<Secret>,
    /// `json` (siphon's event object) or `slack` (`{"text": ...}`, for Slack-compatible hooks).
    #[serde(default)]
    pub format: AlertFormat,
    /// Alert when the replication lag exceeds this many seconds.
    #[serde(default)]
    pub lag_seconds: Option<f64>,
    /// Alert when the replication lag exceeds this many bytes of WAL.
    #[serde(default)]
    pub lag_bytes: Option<u64>,
    /// Alert when the slot retains more WAL than this (also always on wal_status unreserved/lost).
    #[serde(default)]
    pub retained_wal_bytes: Option<u64>,
    /// Least seconds between two firings of the same alert.
    #[serde(default = "default_cooldown_s")]
    pub cooldown_s: u64,
    /// Seconds between two checks (also the slot metrics' poll interval).
    #[serde(default = "default_check_interval_s")]
    pub check_interval_s: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertFormat {
    #[default]
    Json,
    Slack,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            webhook_url: None,
            format: AlertFormat::Json,
            lag_seconds: None,
            lag_bytes: None,
            retained_wal_bytes: None,
            cooldown_s: default_cooldown_s(),
            check_interval_s: default_check_interval_s(),
        }
    }
}

fn default_cooldown_s() -> u64 {
    300
}

fn default_check_interval_s() -> u64 {
    10
}

/// The daemon's control API (HTTP): status, read-only queries. Every request needs the token.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// `host:port` to listen on. Loopback by default; port 0 picks a free port (the address is
    /// written to `state_dir/control.json` for the CLI).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Bearer token required on every request. When unset, siphon generates one at first start
    /// and keeps it in `state_dir/control.token` (mode 0600), where the CLI finds it.
    #[serde(default)]
    pub token: Option<Secret>,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig { listen: default_listen(), token: None }
    }
}

fn default_listen() -> String {
    "127.0.0.1:7320".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Names the pipeline in state, logs and metrics: lower-case letters, digits, `_` and `-`.
    pub name: String,
    /// Where siphon keeps local state (lock file, spill files, the null destination's
    /// checkpoint). Relative paths are relative to the working directory.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// What to do when the change stream has a gap (slot lost or recreated, server changed):
    /// `backfill` re-copies every table, `fail` stops and tells the operator.
    #[serde(default)]
    pub on_gap: OnGap,
}

/// The policy for a broken change stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnGap {
    #[default]
    Backfill,
    Fail,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("./siphon-state")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Postgres,
    /// MySQL 8 or MariaDB 10.5+ (binlog replication); `kind = "mariadb"` means the same.
    #[serde(alias = "mariadb")]
    Mysql,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The kind of source database.
    pub kind: SourceKind,
    /// Connection URL, `postgres://user:password@host:port/database?sslmode=...` (or
    /// `mysql://user:password@host:port/database?ssl-mode=...`). A secret: it
    /// never appears in logs or errors (use `${ENV}` to keep the password out of the file).
    pub url: Secret,
    /// Logical replication slot to find or create (lower-case letters, digits, `_`).
    #[serde(default = "default_slot")]
    pub slot: String,
    /// Publication to use; created for `tables` if missing.
    #[serde(default = "default_publication")]
    pub publication: String,
    /// Tables to replicate, as `schema.table`. Default: every table of the publication.
    #[serde(default)]
    pub tables: Option<Vec<String>>,
    /// Seconds between reconnect attempts grow from 1 up to this bound.
    #[serde(default = "default_max_backoff_s")]
    pub reconnect_max_backoff_s: u64,
    /// Seconds between checks of the replicated tables' columns in the source catalog, so a
    /// column added at the source appears at the destination even before a row changes; 0: off.
    #[serde(default = "default_schema_poll_s")]
    pub schema_poll_s: u64,
    /// MySQL: the server id siphon's binlog connection registers with, unique among the
    /// server's replicas. Default: derived from `pipeline.name` (see [`Config::server_id`]).
    #[serde(default)]
    pub server_id: Option<u32>,
}

fn default_schema_poll_s() -> u64 {
    10
}

fn default_slot() -> String {
    "siphon".into()
}

fn default_publication() -> String {
    "siphon".into()
}

fn default_max_backoff_s() -> u64 {
    30
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DestinationKind {
    /// An embedded DuckDB database file.
    Duckdb,
    /// A PostgreSQL database (`destination.url`).
    Postgres,
    /// Discards rows but keeps checkpoints (benchmarks, diagnosis).
    Null,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    pub kind: DestinationKind,
    /// The DuckDB database file (required for `kind = "duckdb"`).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// DuckDB's memory limit in MiB (its buffer pool; spills to `state_dir` beyond it).
    #[serde(default = "default_memory_limit_mib")]
    pub memory_limit_mib: u64,
    /// Drop a destination column when its source column is dropped. Default: keep it (its
    /// values stay; rows written afterwards hold NULL in it).
    #[serde(default)]
    pub drop_columns: bool,
    /// The PostgreSQL database to write (required for `kind = "postgres"`):
    /// `postgres://user:password@host:port/database?sslmode=...`, TLS as for `source.url`. A
    /// secret, like `source.url`.
    #[serde(default)]
    pub url: Option<Secret>,
    /// For `kind = "postgres"`: put the source schema `s` into the destination schema
    /// `<schema_prefix>s` (e.g. `"shop_"`: `public.orders` becomes `shop_public.orders`).
    /// Default: the source's schema names.
    #[serde(default)]
    pub schema_prefix: Option<String>,
}

fn default_memory_limit_mib() -> u64 {
    128
}

/// When buffered changes are committed to the destination: whichever comes first. A commit
/// only happens at a source transaction boundary; a larger transaction is written to the
/// destination in pieces of `max_rows` / `max_bytes` inside one destination transaction.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlushConfig {
    /// Longest time a change waits before it is committed, in milliseconds.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    /// Most changes buffered in memory before they are written.
    #[serde(default = "default_max_rows")]
    pub max_rows: usize,
    /// Most bytes of row data buffered in memory before they are written.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
}

impl Default for FlushConfig {
    fn default() -> Self {
        FlushConfig { interval_ms: default_interval_ms(), max_rows: default_max_rows(), max_bytes: default_max_bytes() }
    }
}

fn default_interval_ms() -> u64 {
    1000
}

fn default_max_rows() -> usize {
    50_000
}

fn default_max_bytes() -> usize {
    32 * 1024 * 1024
}

/// How tables are copied: the initial snapshot, tables added later and `siphon backfill`.
/// Each table is split into chunks of about `chunk_rows` rows by primary-key ranges; up to
/// `parallel_tables` tables are copied at once, each over up to `connections_per_table`
/// connections.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    #[serde(default = "default_parallel_tables")]
    pub parallel_tables: usize,
    #[serde(default = "default_connections_per_table")]
    pub connections_per_table: usize,
    #[serde(default = "default_chunk_rows")]
    pub chunk_rows: u64,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig {
            parallel_tables: default_parallel_tables(),
            connections_per_table: default_connections_per_table(),
            chunk_rows: default_chunk_rows(),
        }
    }
}

impl SnapshotConfig {
    /// Connections that copy at the same time.
    pub fn workers(&self) -> usize {
        (self.parallel_tables * self.connections_per_table).max(1)
    }
}

fn default_parallel_tables() -> usize {
    2
}

fn default_connections_per_table() -> usize {
    2
}

fn default_chunk_rows() -> u64 {
    100_000
}

/// A secret string: shown as `***` by `Debug` and `Display`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret value. Callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A configuration error: the key path, and what is wrong there.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid configuration at `{path}`: {message}")]
pub struct ConfigError {
    /// Dotted key path, e.g. `source.url`; empty for the document itself.
    pub path: String,
    pub message: String,
}

impl ConfigError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { path: path.into(), message: message.into() }
    }
}

impl Config {
    /// Parses and validates a configuration file's text, interpolating `${VAR}` in string
    /// values from `env` (`$$` is a literal `$`).
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut value: toml::Value = toml::from_str(text)
            .map_err(|e| ConfigError::new("", format!("not valid TOML: {}", e.message())).with_span(text, e.span()))?;
        interpolate(&mut value, "", env)?;
        let config: Config = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            ConfigError::new(if path == "." { String::new() } else { path }, e.into_inner().to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses with the process environment.
    pub fn parse_with_process_env(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, &|k| std::env::var(k).ok())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_name("pipeline.name", &self.pipeline.name, "lower-case letters, digits, '_' and '-'", |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
        })?;
        check_name(
            "source.slot",
            &self.source.slot,
            "lower-case letters, digits and '_' (a PostgreSQL slot name)",
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
        )?;
        check_name("source.publication", &self.source.publication, "lower-case letters, digits and '_'", |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
        })?;
        let url = self.source.url.expose();
        match self.source.kind {
            SourceKind::Postgres if !url.starts_with("postgres://") && !url.starts_with("postgresql://") => {
                return Err(ConfigError::new(
                    "source.url",
                    "expected a URL starting with postgres:// or postgresql:// (source.kind = \"postgres\")",
                ));
            }
            SourceKind::Mysql if !url.starts_with("mysql://") && !url.starts_with("mariadb://") => {
                return Err(ConfigError::new(
                    "source.url",
                    "expected a URL starting with mysql:// (source.kind = \"mysql\"), e.g. mysql://siphon:${MYSQL_PASSWORD}@db.internal:3306/shop",
                ));
            }
            _ => {}
        }
        if self.source.server_id == Some(0) {
            return Err(ConfigError::new(
                "source.server_id",
                "expected a positive number (0 is not a valid replica server id)",
            ));
        }
        if self.source.server_id.is_some() && self.source.kind != SourceKind::Mysql {
            return Err(ConfigError::new("source.server_id", "only used with source.kind = \"mysql\"; remove it"));
        }
        if let Some(tables) = &self.source.tables {
            if tables.is_empty() {
                return Err(ConfigError::new(
                    "source.tables",
                    "expected at least one table; omit the key to replicate every table of the publication",
                ));
            }
            for (i, t) in tables.iter().enumerate() {
                TableName::parse(t).map_err(|e| ConfigError::new(format!("source.tables[{i}]"), e.to_string()))?;
                if self.source.kind == SourceKind::Mysql && !t.contains('.') {
                    return Err(ConfigError::new(
                        format!("source.tables[{i}]"),
                        format!("expected \"database.table\" for a MySQL source, found {t:?}"),
                    ));
                }
            }
        }
        self.validate_destination()?;
        if self.destination.memory_limit_mib < 16 {
            return Err(ConfigError::new(
                "destination.memory_limit_mib",
                format!("expected at least 16, found {}", self.destination.memory_limit_mib),
            ));
        }
        if self.control.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::new(
                "control.listen",
                format!("expected an address and port such as \"127.0.0.1:7320\", found {:?}", self.control.listen),
            ));
        }
        if self.control.token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            return Err(ConfigError::new(
                "control.token",
                "expected at least 16 characters (or leave it unset to have one generated)",
            ));
        }
        positive("alerts.check_interval_s", self.alerts.check_interval_s as usize)?;
        positive("snapshot.parallel_tables", self.snapshot.parallel_tables)?;
        positive("snapshot.connections_per_table", self.snapshot.connections_per_table)?;
        positive("snapshot.chunk_rows", self.snapshot.chunk_rows as usize)?;
        if self.snapshot.workers() > 64 {
            return Err(ConfigError::new(
                "snapshot.parallel_tables",
                "parallel_tables x connections_per_table must be at most 64 (each is a source connection)",
            ));
        }
        if let Some(u) = &self.alerts.webhook_url {
            if !u.expose().starts_with("http://") && !u.expose().starts_with("https://") {
                return Err(ConfigError::new("alerts.webhook_url", "expected an http:// or https:// URL"));
            }
        }
        self.validate_tables()?;
        positive("flush.interval_ms", self.flush.interval_ms as usize)?;
        positive("flush.max_rows", self.flush.max_rows)?;
        positive("flush.max_bytes", self.flush.max_bytes)?;
        positive("source.reconnect_max_backoff_s", self.source.reconnect_max_backoff_s as usize)
    }

    /// The keys of `[destination]` that depend on its kind.
    fn validate_destination(&self) -> Result<(), ConfigError> {
        let d = &self.destination;
        let is = |kind| d.kind == kind;
        if is(DestinationKind::Duckdb) && d.path.is_none() {
            return Err(ConfigError::new("destination.path", "required when destination.kind = \"duckdb\": the DuckDB file to write, e.g. path = \"./replica.duckdb\""));
        }
        if !is(DestinationKind::Duckdb) && d.path.is_some() {
            return Err(ConfigError::new(
                "destination.path",
                "only used with destination.kind = \"duckdb\"; remove it",
            ));
        }
        match &d.url {
            None if is(DestinationKind::Postgres) => Err(ConfigError::new(
                "destination.url",
                "required when destination.kind = \"postgres\": the database to write, e.g. url = \"postgres://siphon:${PGPASSWORD}@replica.internal:5432/analytics\"",
            )),
            Some(_) if !is(DestinationKind::Postgres) => {
                Err(ConfigError::new("destination.url", "only used with destination.kind = \"postgres\"; remove it"))
            }
            Some(url) if !url.expose().starts_with("postgres://") && !url.expose().starts_with("postgresql://") => {
                Err(ConfigError::new("destination.url", "expected a URL starting with postgres:// or postgresql://"))
            }
            _ => Ok(()),
        }?;
        match &d.schema_prefix {
            Some(_) if !is(DestinationKind::Postgres) => Err(ConfigError::new(
                "destination.schema_prefix",
                "only used with destination.kind = \"postgres\"; remove it",
            )),
            Some(prefix) => check_name(
                "destination.schema_prefix",
                prefix,
                "lower-case letters, digits and '_' (prepended to each source schema name)",
                |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
            ),
            None => Ok(()),
        }
    }

    /// The server id of a MySQL source's binlog connection: `source.server_id`, or one derived
    /// from `pipeline.name` (stable across restarts, distinct for distinct pipelines with high
    /// probability, and above the small ids people give their own servers).
    pub fn server_id(&self) -> u32 {
        self.source.server_id.unwrap_or_else(|| {
            let mut h: u32 = 0x811c_9dc5;
            for b in self.pipeline.name.bytes() {
                h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
            }
            0x4000_0000 | (h & 0x3fff_ffff)
        })
    }

    /// The `[tables."..."]` sections and `[hashing]`: names that parse and are replicated, column
    /// lists that agree, a salt when something is hashed. (Whether the listed columns exist and
    /// are not key columns is checked against the source catalog at start.)
    fn validate_tables(&self) -> Result<(), ConfigError> {
        let replicated = self.tables();
        let mut seen: Vec<TableName> = Vec::new();
        for (key, t) in &self.tables {
            let path = format!("tables.{key:?}");
            let name = TableName::parse(key).map_err(|e| ConfigError::new(&path, e.to_string()))?;
            if seen.contains(&name) {
                return Err(ConfigError::new(&path, format!("{name} has two sections; merge them into one")));
            }
            if replicated.as_ref().is_some_and(|r| !r.contains(&name)) {
                return Err(ConfigError::new(
                    &path,
                    format!("{name} is not in source.tables; add it there or remove this section"),
                ));
            }
            seen.push(name);
            t.validate(&path)?;
        }
        let hashes = self.tables.iter().find(|(_, t)| !t.hash.is_empty());
        match (&self.hashing.salt, hashes) {
            (None, Some((key, _))) => Err(ConfigError::new(
                "hashing.salt",
                format!("required because tables.{key:?}.hash lists columns: set salt = \"${{SIPHON_HASH_SALT}}\" (at least 16 characters, from the environment)"),
            )),
            (Some(salt), _) if salt.expose().chars().count() < 16 => Err(ConfigError::new(
                "hashing.salt",
                "expected at least 16 characters (a short salt makes hashes easy to reverse by guessing)",
            )),
            _ => Ok(()),
        }
    }

    /// The tables named in the config, parsed (validation guarantees they parse).
    pub fn tables(&self) -> Option<Vec<TableName>> {
        self.source.tables.as_ref().map(|ts| ts.iter().filter_map(|t| TableName::parse(t).ok()).collect())
    }
}

impl TableConfig {
    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        if self.include.is_some() && !self.exclude.is_empty() {
            return Err(ConfigError::new(
                format!("{path}.exclude"),
                "include and exclude cannot both be set: list the columns to keep (include) or to leave out (exclude)",
            ));
        }
        let lists = [
            ("include", self.include.as_deref().unwrap_or_default()),
            ("exclude", &self.exclude),
            ("hash", &self.hash),
        ];
        for (list, columns) in lists {
            for (i, c) in columns.iter().enumerate() {
                if c.is_empty() || columns[..i].contains(c) {
                    return Err(ConfigError::new(
                        format!("{path}.{list}[{i}]"),
                        format!("expected distinct, non-empty column names, found {c:?}"),
                    ));
                }
            }
        }
        for (i, c) in self.hash.iter().enumerate() {
            // (A column missing from `include` may still be a key column: checked at start.)
            if self.exclude.contains(c) {
                return Err(ConfigError::new(
                    format!("{path}.hash[{i}]"),
                    format!("column {c:?} is hashed but also excluded; remove it from one of the lists"),
                ));
            }
        }
        if self.history == Some(HistoryMode::Only) {
            let table_only = [
                ("soft_delete", self.soft_delete == Some(true)),
                ("metadata_columns", self.metadata_columns == Some(true)),
            ];
            if let Some((key, _)) = table_only.iter().find(|(_, set)| *set) {
                return Err(ConfigError::new(
                    format!("{path}.{key}"),
                    "applies to the table with the current state, which history = \"only\" does not keep; remove it or use history = \"both\"",
                ));
            }
        }
        Ok(())
    }
}

impl ConfigError {
    fn with_span(mut self, text: &str, span: Option<std::ops::Range<usize>>) -> Self {
        if let Some(span) = span {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            self.message = format!("{} (line {line})", self.message.trim_end());
        }
        self
    }
}

fn positive(path: &str, v: usize) -> Result<(), ConfigError> {
    if v == 0 {
        return Err(ConfigError::new(path, "expected a positive number, found 0"));
    }
    Ok(())
}

fn check_name(path: &str, v: &str, allowed: &str, ok: impl Fn(char) -> bool) -> Result<(), ConfigError> {
    if v.is_empty() || v.len() > 63 || !v.chars().all(ok) {
        return Err(ConfigError::new(path, format!("expected 1 to 63 characters of {allowed}, found {v:?}")));
    }
    Ok(())
}

/// Replaces `${VAR}` in every string of `value`.
fn interpolate(value: &mut toml::Value, path: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    match value {
        toml::Value::String(s) => *s = interpolate_str(s, path, env)?,
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate(item, &format!("{path}[{i}]"), env)?;
            }
        }
        toml::Value::Table(table) => {
            for (k, v) in table.iter_mut() {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                interpolate(v, &p, env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn interpolate_str(s: &str, path: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let end = after.find('}').ok_or_else(|| {
                ConfigError::new(path, "unterminated ${...}: expected ${VARIABLE} (write $$ for a literal $)")
            })?;
            let name = &after[..end];
            let value = env(name).ok_or_else(|| {
                ConfigError::new(path, format!("environment variable {name} is not set (referenced as ${{{name}}}); set it, or write $$ for a literal $"))
            })?;
            out.push_str(&value);
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[pipeline]
name = "demo"
state_dir = "./siphon-state"
[source]
kind = "postgres"
url = "postgres://siphon:${PGPASSWORD}@127.0.0.1:5432/app"
slot = "siphon"
publication = "siphon"
tables = ["public.orders"]
[destination]
kind = "duckdb"
path = "./replica.duckdb"
[flush]
interval_ms = 1000
"#;

    fn env(k: &str) -> Option<String> {
        matches!(k, "PGPASSWORD" | "DW_PASSWORD").then(|| "s3cret".to_string())
    }

    fn err(text: &str) -> ConfigError {
        Config::parse(text, &env).unwrap_err()
    }

    #[test]
    fn parses_the_documented_example() {
        let c = Config::parse(GOOD, &env).unwrap();
        assert_eq!(c.source.url.expose(), "postgres://siphon:s3cret@127.0.0.1:5432/app");
        assert_eq!(c.tables(), Some(vec![TableName::new("public", "orders")]));
        assert_eq!(c.flush.max_rows, 50_000);
        assert!(!format!("{c:?}").contains("s3cret"), "Debug must redact the URL");
    }

    #[test]
    fn unknown_key_names_its_path() {
        let e = err(&GOOD.replace("interval_ms", "interval_msec"));
        assert_eq!(e.path, "flush.interval_msec");
        assert!(e.message.contains("unknown field `interval_msec`"), "{e}");
        assert!(e.message.contains("interval_ms"), "lists the expected keys: {e}");
    }

    #[test]
    fn wrong_type_names_path_expected_and_found() {
        let e = err(&GOOD.replace("interval_ms = 1000", "interval_ms = \"soon\""));
        assert_eq!(e.path, "flush.interval_ms");
        assert!(e.message.contains("\"soon\"") && e.message.contains("u64"), "{e}");
    }

    #[test]
    fn bad_enum_value_lists_the_choices() {
        let e = err(&GOOD.replace("kind = \"duckdb\"", "kind = \"snowflake\""));
        assert_eq!(e.path, "destination.kind");
        assert!(e.message.contains("snowflake") && e.message.contains("duckdb") && e.message.contains("null"), "{e}");
    }

    #[test]
    fn missing_env_var_names_the_variable_and_key() {
        let e = Config::parse(GOOD, &|_| None).unwrap_err();
        assert_eq!(e.path, "source.url");
        assert!(e.message.contains("PGPASSWORD"), "{e}");
    }

    #[test]
    fn dollar_dollar_is_a_literal_dollar() {
        let c = Config::parse(&GOOD.replace("${PGPASSWORD}", "pa$$word"), &env).unwrap();
        assert_eq!(c.source.url.expose(), "postgres://siphon:pa$word@127.0.0.1:5432/app");
    }

    #[test]
    fn secrets_do_not_leak_into_errors() {
        let e = err(&GOOD.replace("slot = \"siphon\"", "slot = \"Bad Slot\""));
        assert_eq!(e.path, "source.slot");
        assert!(!e.to_string().contains("s3cret"));
        let e = err(&GOOD.replace("postgres://siphon:${PGPASSWORD}", "mysql://siphon:${PGPASSWORD}"));
        assert_eq!(e.path, "source.url");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn mysql_source_needs_its_url_scheme_and_qualified_tables() {
        let my = GOOD
            .replace("kind = \"postgres\"", "kind = \"mariadb\"")
            .replace(
                "postgres://siphon:${PGPASSWORD}@127.0.0.1:5432/app",
                "mysql://siphon:${PGPASSWORD}@127.0.0.1:3306/shop",
            )
            .replace("[\"public.orders\"]", "[\"shop.orders\"]");
        let c = Config::parse(&my, &env).unwrap();
        assert_eq!(c.source.kind, SourceKind::Mysql);
        assert_eq!(c.tables(), Some(vec![TableName::new("shop", "orders")]));
        let derived = c.server_id();
        assert!(derived >= 0x4000_0000, "derived server id {derived} stays clear of small hand-picked ids");
        let other = Config::parse(&my.replace("name = \"demo\"", "name = \"demo2\""), &env).unwrap();
        assert_ne!(other.server_id(), derived, "distinct pipelines get distinct ids");
        let fixed = Config::parse(&my.replace("tables = ", "server_id = 77\ntables = "), &env).unwrap();
        assert_eq!(fixed.server_id(), 77);
        let e = err(&my.replace("[\"shop.orders\"]", "[\"orders\"]"));
        assert_eq!(e.path, "source.tables[0]");
        assert!(e.message.contains("database.table"), "{e}");
        let e = err(&my.replace("mysql://", "postgres://"));
        assert_eq!(e.path, "source.url");
        assert!(e.message.contains("mysql://") && !e.to_string().contains("s3cret"), "{e}");
        let e = err(&GOOD.replace("tables = ", "server_id = 7\ntables = "));
        assert_eq!(e.path, "source.server_id");
        let e = err(&my.replace("tables = ", "server_id = 0\ntables = "));
        assert_eq!(e.path, "source.server_id");
    }

    #[test]
    fn duckdb_needs_a_path_and_tables_must_parse() {
        let e = err(&GOOD.replace("path = \"./replica.duckdb\"", ""));
        assert_eq!(e.path, "destination.path");
        let e = err(&GOOD.replace("[\"public.orders\"]", "[\"a.b.c\"]"));
        assert_eq!(e.path, "source.tables[0]");
        let e = err(&GOOD.replace("interval_ms = 1000", "interval_ms = 0"));
        assert_eq!(e.path, "flush.interval_ms");
    }

    #[test]
    fn postgres_needs_a_url_and_keeps_it_secret() {
        let pg = GOOD.replace(
            "kind = \"duckdb\"\npath = \"./replica.duckdb\"",
            "kind = \"postgres\"\nurl = \"postgres://w:${PGPASSWORD}@replica:5432/dw\"\nschema_prefix = \"shop_\"",
        );
        let c = Config::parse(&pg, &env).unwrap();
        assert_eq!(c.destination.url.as_ref().map(Secret::expose), Some("postgres://w:s3cret@replica:5432/dw"));
        assert_eq!(c.destination.schema_prefix.as_deref(), Some("shop_"));
        assert!(!format!("{c:?}").contains("s3cret"), "Debug must redact the destination URL");
        let e = err(&pg.replace("url = \"postgres://w:${PGPASSWORD}@replica:5432/dw\"", ""));
        assert_eq!(e.path, "destination.url");
        assert!(e.message.contains("required when destination.kind = \"postgres\""), "{e}");
        let e = err(&pg.replace("postgres://w:", "mysql://w:"));
        assert_eq!(e.path, "destination.url");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = err(&pg.replace("shop_", "Shop-"));
        assert_eq!(e.path, "destination.schema_prefix");
        let e = err(&pg.replace("schema_prefix = \"shop_\"", "path = \"x.duckdb\""));
        assert_eq!(e.path, "destination.path", "a DuckDB key on a postgres destination is refused");
        let e = err(&GOOD.replace("path = \"./replica.duckdb\"", "path = \"./r.duckdb\"\nurl = \"postgres://x@y/z\""));
        assert_eq!(e.path, "destination.url");
    }

    #[test]
    fn the_example_configs_parse() {
        for text in [
            include_str!("../../../examples/siphon.toml"),
            include_str!("../../../examples/null.toml"),
            include_str!("../../../examples/postgres.toml"),
            include_str!("../../../examples/table-modes.toml"),
        ] {
            Config::parse(text, &|k| if k == "SIPHON_HASH_SALT" { Some("a-long-enough-salt".into()) } else { env(k) })
                .unwrap();
        }
    }

    #[test]
    fn control_defaults_to_loopback_and_checks_its_keys() {
        let c = Config::parse(GOOD, &env).unwrap();
        assert_eq!(c.control.listen, "127.0.0.1:7320");
        let e = err(&format!("{GOOD}[control]\nlisten = \"localhost\"\n"));
        assert_eq!(e.path, "control.listen");
        let e = err(&format!("{GOOD}[control]\ntoken = \"short\"\n"));
        assert_eq!(e.path, "control.token");
        assert!(!e.to_string().contains("short"), "the token is not echoed");
    }

    const MODES: &str = r#"
[table_defaults]
soft_delete = true
[tables."public.orders"]
history = "both"
metadata_columns = true
exclude = ["notes"]
hash = ["email"]
[tables.customers]
history = "only"
[hashing]
salt = "${HASH_SALT}"
"#;

    fn modes_env(k: &str) -> Option<String> {
        match k {
            "HASH_SALT" => Some("pepper-pepper-pepper".into()),
            _ => env(k),
        }
    }

    fn with_modes(modes: &str) -> Result<Config, ConfigError> {
        let text = GOOD.replace("[\"public.orders\"]", "[\"public.orders\", \"public.customers\"]");
        Config::parse(&format!("{text}{modes}"), &modes_env)
    }

    #[test]
    fn table_modes_resolve_defaults_and_overrides() {
        use crate::modes::TableModes;
        let c = with_modes(MODES).unwrap();
        assert!(!format!("{c:?}").contains("pepper"), "Debug must redact the salt");
        let modes = TableModes::from_config(&c);
        let orders = modes.of(&TableName::new("public", "orders"));
        assert!(orders.soft_delete && orders.metadata_columns && orders.history == HistoryMode::Both);
        assert_eq!(
            (orders.exclude.clone(), orders.hash.clone()),
            (vec!["notes".to_string()], vec!["email".to_string()])
        );
        let customers = modes.of(&TableName::new("public", "customers"));
        assert_eq!(customers.history, HistoryMode::Only);
        assert!(!customers.soft_delete, "history only keeps no table to soft-delete in");
        let other = modes.of(&TableName::new("public", "other"));
        assert!(other.soft_delete && other.history == HistoryMode::Off);
        assert!(TableModes::from_config(&Config::parse(GOOD, &env).unwrap()).is_plain());
    }

    #[test]
    fn table_mode_errors_name_the_key() {
        let e = with_modes("[tables.\"public.orders\"]\nhash = [\"email\"]\n").unwrap_err();
        assert_eq!(e.path, "hashing.salt");
        assert!(e.message.contains("tables.\"public.orders\".hash"), "{e}");
        let e = with_modes(&MODES.replace("${HASH_SALT}", "xq7zw")).unwrap_err();
        assert_eq!(e.path, "hashing.salt");
        assert!(!e.to_string().contains("xq7zw"), "the salt is not echoed: {e}");
        let e = with_modes(&MODES.replace("exclude = [\"notes\"]", "exclude = [\"notes\"]\ninclude = [\"id\"]"))
            .unwrap_err();
        assert_eq!(e.path, "tables.\"public.orders\".exclude");
        let e = with_modes(&MODES.replace("exclude = [\"notes\"]", "exclude = [\"email\"]")).unwrap_err();
        assert_eq!(e.path, "tables.\"public.orders\".hash[0]");
        let e = with_modes(&MODES.replace("hash = [\"email\"]", "hash = [\"email\", \"email\"]")).unwrap_err();
        assert_eq!(e.path, "tables.\"public.orders\".hash[1]");
        let e = with_modes(&MODES.replace("[tables.customers]", "[tables.\"public.invoices\"]")).unwrap_err();
        assert_eq!(e.path, "tables.\"public.invoices\"");
        assert!(e.message.contains("not in source.tables"), "{e}");
        let e = with_modes(&MODES.replace("[tables.customers]", "[tables.\"public.orders.x\"]")).unwrap_err();
        assert_eq!(e.path, "tables.\"public.orders.x\"");
        let e = with_modes(&MODES.replace("[tables.customers]", "[tables.orders]")).unwrap_err();
        assert!(e.message.contains("two sections"), "{e}");
        let e = with_modes(&MODES.replace("history = \"only\"", "history = \"only\"\nsoft_delete = true")).unwrap_err();
        assert_eq!(e.path, "tables.\"customers\".soft_delete");
        let e = with_modes(&MODES.replace("history = \"both\"", "history = \"sometimes\"")).unwrap_err();
        assert_eq!(e.path, "tables.public.orders.history");
        assert!(e.message.contains("both") && e.message.contains("only"), "lists the choices: {e}");
        let e = with_modes(&MODES.replace("exclude = ", "exclud = ")).unwrap_err();
        assert!(e.message.contains("unknown field `exclud`"), "{e}");
    }

    #[test]
    fn invalid_toml_reports_the_line() {
        let e = err("[pipeline]\nname = \n");
        assert!(e.message.contains("line 2"), "{e}");
    }

    #[test]
    fn missing_section_is_named() {
        let e = err("[pipeline]\nname = \"x\"\n");
        assert!(e.message.contains("missing field `source`"), "{e}");
    }
}
