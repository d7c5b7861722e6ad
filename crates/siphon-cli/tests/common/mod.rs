//! Drives the real `siphon` binary against real PostgreSQL databases and reads the DuckDB file it
//! writes. Tests act on the source, wait for the pipeline's checkpoint to pass a marker position
//! (never a fixed sleep), stop siphon, and compare both sides.

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use siphon_testkit::{wait_for, TestDb};

pub const TIMEOUT: Duration = Duration::from_secs(120);

/// A pipeline's files: config, state dir, DuckDB file, log.
pub struct Pipeline {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub duckdb: PathBuf,
}

impl Pipeline {
    /// A pipeline replicating `tables` of `db` into a DuckDB file; `extra` is appended to the
    /// config (e.g. a `[flush]` section). Slot and publication are named after the database so
    /// tests sharing a cluster never collide.
    pub fn new(db: &TestDb, tables: &[&str], extra: &str) -> Pipeline {
        Self::with_destination(db, tables, extra, "duckdb")
    }

    pub fn with_destination(db: &TestDb, tables: &[&str], extra: &str, kind: &str) -> Pipeline {
        let source = format!("slot = \"{0}\"\npublication = \"{0}\"", db.name);
        Self::for_source(&db.url(), tables, &source, extra, kind)
    }

    /// A pipeline on any source URL; `source_extra` goes into `[source]`, `extra` after it all.
    pub fn for_source(url: &str, tables: &[&str], source_extra: &str, extra: &str, kind: &str) -> Pipeline {
        Self::build("postgres", url, tables, source_extra, extra, kind)
    }

    /// A pipeline from a MySQL/MariaDB source (`tables` as `database.table`) into DuckDB.
    #[allow(dead_code)]
    pub fn for_mysql(url: &str, tables: &[&str], extra: &str) -> Pipeline {
        Self::build("mysql", url, tables, "", extra, "duckdb")
    }

    fn build(source_kind: &str, url: &str, tables: &[&str], source_extra: &str, extra: &str, kind: &str) -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        let duckdb = dir.path().join("replica.duckdb");
        let tables: Vec<String> = tables.iter().map(|t| format!("{t:?}")).collect();
        let path_line = if kind == "duckdb" { format!("path = {:?}", duckdb.to_str().unwrap()) } else { String::new() };
        let text = format!(
            "[pipeline]\nname = \"test\"\nstate_dir = {:?}\n[source]\nkind = \"{source_kind}\"\nurl = {url:?}\n{source_extra}\ntables = [{}]\n[destination]\nkind = \"{kind}\"\n{path_line}\n{extra}\n",
            dir.path().join("state").to_str().unwrap(),
            tables.join(", "),
        );
        // Tests run in parallel: each daemon's control API on a free port.
        let text =
            if extra.contains("[control]") { text } else { format!("{text}[control]\nlisten = \"127.0.0.1:0\"\n") };
        let config = dir.path().join("siphon.toml");
        std::fs::write(&config, text).unwrap();
        Pipeline { dir, config, duckdb }
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("siphon.log")
    }

    /// Starts `siphon run`, its output appended to the pipeline's log.
    pub fn start(&self) -> Siphon {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        // A process group of its own: only this harness signals it (by pid, see `stop`), never
        // a signal meant for the test's group (which the test's PostgreSQL servers share).
        let child = Command::new(env!("CARGO_BIN_EXE_siphon"))
            .process_group(0)
            .args(["run", "--config"])
            .arg(&self.config)
            .env("SIPHON_LOG", "info,siphon_runtime=debug")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        Siphon { child, state: self.dir.path().join("state"), log: self.log_path() }
    }

    /// Rows of a DuckDB query, every value as text (`NULL` for null). Only while siphon is stopped.
    pub fn duck(&self, sql: &str) -> Vec<Vec<String>> {
        duck_rows(&self.duckdb, sql)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

pub struct Siphon {
    pub child: Child,
    state: PathBuf,
    log: PathBuf,
}

impl Siphon {
    pub fn status(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.state.join("status.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn checkpoint(&self) -> Option<u64> {
        let s = self.status()?;
        parse_lsn(s.get("checkpoint_lsn")?.as_str()?)
    }

    fn assert_running(&mut self) {
        if let Ok(Some(code)) = self.child.try_wait() {
            panic!("siphon exited early with {code}:\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
        }
    }

    /// Waits until every transaction committed on `db` so far is durable in the destination:
    /// commits a logical-decoding marker and waits for the checkpoint to pass it.
    pub fn wait_synced(&mut self, db: &TestDb) {
        self.wait_past(&db.psql("SELECT pg_logical_emit_message(true, 'siphon-test', 'sync')"));
    }

    /// Waits for the checkpoint to pass `marker` (an LSN as PostgreSQL prints it) with no copy
    /// (snapshot, backfill) running.
    pub fn wait_past(&mut self, marker: &str) {
        let marker = parse_lsn(marker.trim()).unwrap();
        wait_for("the destination checkpoint to pass the sync marker", TIMEOUT, || {
            self.assert_running();
            let copying = self.status().is_none_or(|s| s["state"] == "snapshotting");
            self.checkpoint().filter(|&c| c > marker && !copying)
        });
    }

    /// Waits for siphon to exit by itself; its exit code.
    pub fn wait_exit(&mut self) -> i32 {
        wait_for("siphon to exit", TIMEOUT, || self.child.try_wait().unwrap()).code().unwrap_or(-1)
    }

    /// Waits until the status file satisfies `f`.
    pub fn wait_status(&mut self, what: &str, f: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        wait_for(what, TIMEOUT, || {
            self.assert_running();
            self.status().filter(|s| f(s))
        })
    }

    /// SIGTERM, then waits for exit.
    pub fn stop(mut self) -> ExitStatus {
        signal(self.child.id(), "TERM");
        wait_for("siphon to exit after SIGTERM", TIMEOUT, || self.child.try_wait().unwrap())
    }

    /// SIGKILL: no cleanup of any kind.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Peak resident memory of the process so far, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Siphon {
    fn drop(&mut self) {
        if std::env::var_os("SIPHON_TEST_SHOW_LOG").is_some() {
            eprintln!("--- siphon log ---\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
        } else if std::thread::panicking() {
            // A failed test shows what siphon was doing: its last status and log lines.
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            let status = std::fs::read_to_string(self.state.join("status.json")).unwrap_or_default();
            eprintln!("--- siphon status.json ---\n{status}\n--- siphon log (last 80 lines) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The events named `name` in the pipeline's `events.jsonl`, oldest first.
pub fn events(p: &Pipeline, name: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(p.dir.path().join("state/events.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == name)
        .collect()
}

/// Waits until `p` has logged `count` events named `name`; the `count`-th.
pub fn wait_event(s: &mut Siphon, p: &Pipeline, name: &str, count: usize) -> serde_json::Value {
    wait_for(&format!("{count} {name} event(s)"), TIMEOUT, || {
        s.assert_running();
        let e = events(p, name);
        (e.len() >= count).then(|| e[count - 1].clone())
    })
}

pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().unwrap().success();
    assert!(ok, "kill -{sig} {pid} failed");
}

pub fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

pub fn duck_rows(path: &Path, sql: &str) -> Vec<Vec<String>> {
    let conn = duckdb::Connection::open_with_flags(
        path,
        duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap(),
    )
    .unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        let n = row.as_ref().column_count();
        out.push((0..n).map(|i| row.get::<_, Option<String>>(i).unwrap().unwrap_or_else(|| "NULL".into())).collect());
    }
    out
}

/// Rows of a source query, every value as text (`NULL` for null).
pub fn pg_rows(db: &TestDb, sql: &str) -> Vec<Vec<String>> {
    pg_rows_on(db.cluster, &db.name, sql)
}

/// [`pg_rows`] on any cluster and database.
pub fn pg_rows_on(cluster: &siphon_testkit::PgCluster, database: &str, sql: &str) -> Vec<Vec<String>> {
    // Unit and record separators: values may hold tabs and newlines.
    let out = cluster
        .psql(database, &format!("\\pset null NULL\n\\pset fieldsep '\u{1f}'\n\\pset recordsep '\u{1e}'\n{sql}"));
    out.split('\u{1e}').filter(|l| !l.is_empty()).map(|l| l.split('\u{1f}').map(str::to_string).collect()).collect()
}

/// Asserts two row sets are equal, printing only the first difference (tables can be large).
pub fn assert_same_rows(actual: &[Vec<String>], expected: &[Vec<String>], what: &str) {
    if let Some(i) = (0..actual.len().max(expected.len())).find(|&i| actual.get(i) != expected.get(i)) {
        panic!(
            "{what}: {} rows vs {} expected; first difference at row {i}:\n  actual:   {:?}\n  expected: {:?}",
            actual.len(),
            expected.len(),
            actual.get(i),
            expected.get(i)
        );
    }
}

/// Two tables whose sums a transaction keeps invariant, plus a counter that a double-applied
/// transaction would break (each transfer increments `seq` exactly once).
pub const BANK: &str = "CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
                    CREATE TABLE ledger (id bigserial PRIMARY KEY, account int, delta bigint);
                    CREATE TABLE seq (id int PRIMARY KEY, n bigint);
                    INSERT INTO accounts SELECT i, 1000 FROM generate_series(1, 50) i;
                    INSERT INTO seq VALUES (1, 0);";

/// A transfer: moves `amount` between two accounts, records both legs, bumps the counter.
pub fn transfers(n: usize, from: usize) -> String {
    (from..from + n)
        .map(|i| {
            let (a, b, amt) = (i % 50 + 1, (i * 7) % 50 + 1, i % 13 + 1);
            format!(
                "BEGIN; UPDATE accounts SET balance = balance - {amt} WHERE id = {a}; UPDATE accounts SET balance = balance + {amt} WHERE id = {b};
                 INSERT INTO ledger (account, delta) VALUES ({a}, -{amt}), ({b}, {amt}); UPDATE seq SET n = n + 1; COMMIT;\n"
            )
        })
        .collect()
}

/// Runs `siphon <verb> [sub-verb] --config <pipeline config> [args...]`; (success, stdout + stderr).
pub fn siphon_cli(p: &Pipeline, args: &[&str]) -> (bool, String) {
    let verbs = if matches!(args[0], "slots" | "upgrade") { 2 } else { 1 };
    let out = Command::new(env!("CARGO_BIN_EXE_siphon"))
        .args(&args[..verbs])
        .arg("--config")
        .arg(&p.config)
        .args(&args[verbs..])
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}
