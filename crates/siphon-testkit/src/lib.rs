//! Test support for siphon: real, throwaway PostgreSQL servers.
//!
//! # Design
//!
//! * **Real servers, no mocks.** Every test talks to a genuine `postgres`
//!   postmaster started from the binaries in [`default_bin_dir`] (env
//!   `SIPHON_PG_BIN`, else `/usr/lib/postgresql/15/bin`) or any other binary
//!   directory given in [`ClusterOptions::bin_dir`], so other major versions
//!   can be exercised with the same code. Clusters are configured for logical
//!   replication (`wal_level = logical`, 20 slots / WAL senders) and for speed
//!   (`fsync`, `synchronous_commit` and `full_page_writes` off), listen on
//!   `127.0.0.1` only, on a free port, with `trust` authentication as user
//!   `postgres`.
//! * **Each test its own database.** [`TestDb::new`] creates a uniquely named
//!   database on a cluster shared by the whole test process (started lazily,
//!   once, on first use) and drops it `WITH (FORCE)` when the `TestDb` is
//!   dropped. Tests that need to stop or restart the server (reconnect tests)
//!   start their own [`PgCluster`].
//! * **Tests wait for states, never for fixed times:** see [`wait_for`] and
//!   [`wait_for_async`].
//!
//! # Where clusters live
//!
//! Postgres refuses to run as root. When the tests run as root the server
//! binaries (`initdb`, `postgres`, `pg_ctl`) are executed as the `postgres`
//! system user (created with `useradd` if missing). Each cluster lives in its
//! own `/tmp/siphon-test-XXXXXX` directory (override the parent with
//! `SIPHON_TEST_TMPDIR`), chmod 755 and owned by the server user, so the server
//! can reach it even when `$TMPDIR` or the working directory is a private
//! root-owned directory. Inside: `data/` (the data directory, also the unix
//! socket directory) and `postgres.log` (the server log; its tail is included
//! in every panic message about the server).
//!
//! # Cleanup
//!
//! The postmaster is spawned directly as a child process of the test process
//! (not daemonized through `pg_ctl start`), with its output going to the log
//! file. Three layers make sure no server outlives the test process:
//!
//! 1. `Drop for PgCluster` runs `pg_ctl stop -m immediate`, reaps the child
//!    (killing it if `pg_ctl` failed) and removes the directory.
//! 2. Every cluster has a **watchdog**: a tiny `sh` process started in its own
//!    process group, ignoring `SIGINT`/`SIGTERM`/`SIGHUP`, whose stdin is a
//!    pipe held open only by the test process. The pipe closes when the
//!    cluster is dropped *or when the test process dies for any reason*
//!    (normal exit without running static destructors, panic=abort, `SIGKILL`
//!    from a test runner's timeout). The watchdog then sends `SIGQUIT`
//!    (immediate shutdown) to the postmaster found in `postmaster.pid` (only if
//!    that process's working directory is the data directory, so a recycled
//!    pid is never hit), escalates to `SIGKILL` after 10 s, and removes the
//!    cluster directory. This is what stops the per-process shared cluster
//!    behind [`TestDb`], whose static is never dropped; it is gone well under a
//!    second after the test process exits.
//! 3. The postmaster stays in the test process's process group, so a Ctrl-C
//!    in a terminal (`SIGINT` = fast shutdown) or a group-wide kill by the
//!    test runner also reaches it directly.
//!
//! No child of a cluster inherits the test process's stdout/stderr, so test
//! runners that wait for captured output pipes to close (nextest's leak
//! detection) are not held up.

#![warn(missing_docs)]

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub mod mariadb;
#[cfg(test)]
mod tests;

/// Binary directory used when neither `SIPHON_PG_BIN` nor an explicit
/// [`ClusterOptions::bin_dir`] is given.
pub const DEFAULT_PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// How long to wait for a server to start or stop before giving up.
const SERVER_TIMEOUT: Duration = Duration::from_secs(60);

/// Default PostgreSQL binary directory: env `SIPHON_PG_BIN`, else
/// [`DEFAULT_PG_BIN`].
pub fn default_bin_dir() -> PathBuf {
    match std::env::var_os("SIPHON_PG_BIN") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(DEFAULT_PG_BIN),
    }
}

/// Options for [`PgCluster::start_with`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Directory holding `initdb`, `postgres`, `pg_ctl` and `psql`.
    pub bin_dir: PathBuf,
    /// Lines appended to `postgresql.conf` after siphon's own settings (so
    /// they override them), e.g. `"max_replication_slots = 4"`.
    pub extra_conf: Vec<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions { bin_dir: default_bin_dir(), extra_conf: Vec::new() }
    }
}

/// A running, throwaway PostgreSQL cluster owned by this process.
///
/// Dropping it stops the server (`pg_ctl stop -m immediate`) and removes its
/// directory; see the crate docs for what happens if `Drop` never runs.
pub struct PgCluster {
    bin_dir: PathBuf,
    /// `None` only while dropping.
    base: Option<tempfile::TempDir>,
    base_path: PathBuf,
    data_dir: PathBuf,
    log_path: PathBuf,
    port: u16,
    major_version: u32,
    postmaster: Mutex<Option<Child>>,
    /// One per data directory this cluster has had (a pg_upgrade adds one).
    watchdogs: Vec<Child>,
    extra_conf: Vec<String>,
}

impl std::fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCluster")
            .field("port", &self.port)
            .field("major_version", &self.major_version)
            .field("data_dir", &self.data_dir)
            .field("pid", &self.pid())
            .finish()
    }
}

impl PgCluster {
    /// Starts a fresh cluster from the default binaries ([`default_bin_dir`])
    /// on a free loopback port. Panics (with the server log) on failure.
    pub fn start() -> PgCluster {
        Self::start_with(ClusterOptions::default())
    }

    /// Starts a fresh cluster with the given options. Panics on failure.
    pub fn start_with(opts: ClusterOptions) -> PgCluster {
        let bin_dir = opts.bin_dir;
        for tool in ["initdb", "postgres", "pg_ctl", "psql"] {
            if !bin_dir.join(tool).is_file() {
                panic!(
                    "siphon-testkit: PostgreSQL binary `{tool}` not found in {} \
                     (run scripts/setup.sh, or set SIPHON_PG_BIN to a directory holding \
                     initdb/postgres/pg_ctl/psql)",
                    bin_dir.display()
                );
            }
        }
        let major_version = postgres_major_version(&bin_dir);
        let owner = server_user();

        let parent = std::env::var_os("SIPHON_TEST_TMPDIR")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let base = tempfile::Builder::new()
            .prefix("siphon-test-")
            .tempdir_in(&parent)
            .unwrap_or_else(|e| panic!("siphon-testkit: cannot create a temp dir in {}: {e}", parent.display()));
        // Canonical, so the watchdog can compare it with /proc/PID/cwd.
        let base_path = base.path().canonicalize().expect("canonicalize temp dir");
        fs::set_permissions(&base_path, fs::Permissions::from_mode(0o755)).expect("chmod 755 temp dir");
        let data_dir = base_path.join("data");
        let log_path = base_path.join("postgres.log");
        File::create(&log_path).expect("create postgres.log");
        if let Some(user) = owner {
            for p in [&base_path, &log_path] {
                std::os::unix::fs::chown(p, Some(user.uid), Some(user.gid))
                    .unwrap_or_else(|e| panic!("siphon-testkit: chown {} to postgres: {e}", p.display()));
            }
        }

        // The watchdog first: from here on, a crash of this process cleans up.
        let watchdog = spawn_watchdog(&base_path, &data_dir);

        let mut cluster = PgCluster {
            bin_dir,
            base: Some(base),
            base_path,
            data_dir,
            log_path,
            port: 0,
            major_version,
            postmaster: Mutex::new(None),
            watchdogs: vec![watchdog],
            extra_conf: opts.extra_conf.clone(),
        };

        let out = cluster
            .server_command("initdb")
            .arg("-D")
            .arg(&cluster.data_dir)
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C", "--auth=trust", "--no-sync"])
            .output()
            .expect("spawn initdb");
        if !out.status.success() {
            panic!("siphon-testkit: initdb failed ({}):\n{}", out.status, output_text(&out));
        }
        let conf_path = cluster.data_dir.join("postgresql.conf");
        let original_conf = fs::read_to_string(&conf_path).expect("read postgresql.conf");

        let mut last_error = String::new();
        for _attempt in 0..8 {
            let port = free_port();
            cluster.port = port;
            let conf = format!("{original_conf}{}", cluster.testkit_conf(&cluster.data_dir));
            fs::write(&conf_path, conf).expect("write postgresql.conf");
            match cluster.spawn_postmaster() {
                Ok(()) => {
                    eprintln!(
                        "siphon-testkit: PostgreSQL {} on 127.0.0.1:{} (data {})",
                        cluster.major_version,
                        cluster.port,
                        cluster.data_dir.display()
                    );
                    return cluster;
                }
                // Lost a race for the port with someone else: try another one.
                Err(e) if e.contains("could not bind") || e.contains("could not create any TCP/IP sockets") => {
                    last_error = e;
                }
                Err(e) => panic!("siphon-testkit: could not start PostgreSQL: {e}"),
            }
        }
        panic!("siphon-testkit: could not start PostgreSQL on any free port: {last_error}");
    }

    /// The TCP port the server listens on (on 127.0.0.1). Stable across
    /// [`restart`](Self::restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the server binaries.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The data directory (also the unix socket directory).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path, lines)
    }

    /// Major version of the server binaries (e.g. 15).
    pub fn major_version(&self) -> u32 {
        self.major_version
    }

    /// Process id of the running postmaster, `None` when stopped.
    pub fn pid(&self) -> Option<u32> {
        let mut guard = self.postmaster.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_mut() {
            Some(child) => match child.try_wait() {
                Ok(None) => Some(child.id()),
                _ => None,
            },
            None => None,
        }
    }

    /// Connection URL for `database`: `postgres://postgres@127.0.0.1:PORT/DB`.
    /// The name is used verbatim (no percent-encoding).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{}", self.port, database)
    }

    /// Creates database `name` (quoted as an identifier). Panics on failure.
    pub fn create_database(&self, name: &str) {
        // CREATE DATABASE copies template1 and fails if another session is in
        // it at that moment; serialize ours and retry that transient error.
        static CREATE_LOCK: Mutex<()> = Mutex::new(());
        let _guard = CREATE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let sql = format!("CREATE DATABASE {}", quote_ident(name));
        let mut attempts = 0;
        loop {
            match self.try_psql("postgres", &sql) {
                Ok(_) => return,
                Err(e) if e.contains("is being accessed by other users") && attempts < 50 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("siphon-testkit: CREATE DATABASE {name} failed: {e}"),
            }
        }
    }

    /// Drops database `name` if it exists, terminating its sessions
    /// (`WITH (FORCE)`). Panics on failure.
    pub fn drop_database(&self, name: &str) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name));
        if let Err(e) = self.try_psql("postgres", &sql) {
            panic!("siphon-testkit: DROP DATABASE {name} failed: {e}");
        }
    }

    /// Runs `sql` (any number of statements, fed to psql on stdin) with
    /// `psql -X -A -t -q -v ON_ERROR_STOP=1` against `database` and returns its
    /// stdout without the trailing newline: one line per result row, columns
    /// separated by `|`. Panics with psql's stderr on failure.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        match self.try_psql(database, sql) {
            Ok(out) => out,
            Err(e) => {
                panic!("siphon-testkit: psql on database {database:?} failed: {e}\nSQL:\n{sql}")
            }
        }
    }

    /// Like [`psql`](Self::psql), but returns psql's stderr (plus exit status)
    /// as the error instead of panicking.
    pub fn try_psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let mut cmd = Command::new(self.bin_dir.join("psql"));
        clean_pg_env(&mut cmd);
        cmd.args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg(database)
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("cannot spawn psql: {e}"))?;
        let mut stdin = child.stdin.take().expect("psql stdin");
        let sql_owned = sql.to_owned();
        // Feed stdin from a thread so large inputs and outputs cannot deadlock.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(sql_owned.as_bytes());
            let _ = stdin.write_all(b"\n");
        });
        let out = child.wait_with_output().map_err(|e| format!("waiting for psql: {e}"))?;
        let _ = writer.join();
        if out.status.success() {
            let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
            while s.ends_with('\n') {
                s.pop();
            }
            Ok(s)
        } else {
            Err(format!("psql exited with {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim_end()))
        }
    }

    /// Connects with tokio-postgres to `database`; the connection task is
    /// spawned on the current tokio runtime. Panics on failure.
    pub async fn client(&self, database: &str) -> tokio_postgres::Client {
        connect(&self.url(database)).await
    }

    /// Stops the server with a fast shutdown (`pg_ctl stop -m fast`) and waits
    /// until it has exited. Does nothing if it is not running.
    pub fn stop(&mut self) {
        self.shutdown("fast");
    }

    /// Stops the server (fast shutdown) if it is running and starts it again
    /// on the same port and data directory. Panics if it does not come up.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.spawn_postmaster() {
            panic!("siphon-testkit: restarting PostgreSQL on port {} failed: {e}", self.port);
        }
    }

    fn shutdown(&mut self, mode: &str) {
        let mut guard = self.postmaster.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut child) = guard.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return; // already dead (crashed or killed)
        }
        let stopped = self
            .server_command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", mode, "-w", "-t", "60"])
            .output();
        let ok = matches!(&stopped, Ok(out) if out.status.success());
        if !ok {
            let why = match &stopped {
                Ok(out) => output_text(out),
                Err(e) => e.to_string(),
            };
            eprintln!("siphon-testkit: pg_ctl stop -m {mode} failed ({why}); killing postmaster {}", child.id());
            let _ = child.kill();
        }
        let _ = child.wait();
    }

    /// Spawns the postmaster as a child and waits until it accepts connections.
    fn spawn_postmaster(&self) -> Result<(), String> {
        let log = OpenOptions::new()
            .append(true)
            .open(&self.log_path)
            .map_err(|e| format!("open {}: {e}", self.log_path.display()))?;
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut child = self
            .server_command("postgres")
            .arg("-D")
            .arg(&self.data_dir)
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot spawn postgres: {e}"))?;
        let pid = child.id();
        let pid_file = self.data_dir.join("postmaster.pid");
        let deadline = Instant::now() + SERVER_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "postgres exited during startup ({status}); log:\n{}",
                    read_log_from(&self.log_path, log_start)
                ));
            }
            // Line 1: pid; line 8: status, "ready" once accepting connections.
            if let Ok(contents) = fs::read_to_string(&pid_file) {
                let lines: Vec<&str> = contents.lines().collect();
                if lines.len() >= 8 && lines[0].trim() == pid.to_string() && lines[7].trim() == "ready" {
                    break;
                }
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "postgres not ready after {SERVER_TIMEOUT:?}; log:\n{}",
                    read_log_from(&self.log_path, log_start)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        *self.postmaster.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        Ok(())
    }

    /// Upgrades the cluster in place to the major version in `new_bin` with `pg_upgrade`, as an
    /// operator would: stops the server, initdb's a new data directory (same encoding and
    /// locale; no data checksums, like the old one), runs `pg_upgrade`, and starts the new server
    /// on the same port with the same settings. Panics with pg_upgrade's output on failure.
    pub fn upgrade(&mut self, new_bin: &Path) {
        self.stop();
        let old_bin = self.bin_dir.clone();
        let old_data = self.data_dir.clone();
        let new_major = postgres_major_version(new_bin);
        let new_data = self.base_path.join(format!("data-{new_major}"));
        let mut initdb = Command::new(new_bin.join("initdb"));
        initdb.arg("-D").arg(&new_data).args([
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--auth=trust",
            "--no-sync",
        ]);
        if new_major >= 18 {
            initdb.arg("--no-data-checksums");
        }
        let out = self.as_server(initdb).output().expect("spawn initdb");
        if !out.status.success() {
            panic!("siphon-testkit: initdb {new_major} failed: {}", output_text(&out));
        }
        // The new cluster's watchdog first, so a crash from here on still cleans up.
        self.watchdogs.push(spawn_watchdog(&self.base_path, &new_data));
        let conf_path = new_data.join("postgresql.conf");
        let mut conf = fs::read_to_string(&conf_path).expect("read postgresql.conf");
        conf.push_str(&self.testkit_conf(&new_data));
        fs::write(&conf_path, conf).expect("write postgresql.conf");
        let mut upgrade = Command::new(new_bin.join("pg_upgrade"));
        upgrade
            .arg("-b")
            .arg(&old_bin)
            .arg("-B")
            .arg(new_bin)
            .arg("-d")
            .arg(&old_data)
            .arg("-D")
            .arg(&new_data)
            .args(["-p", &free_port().to_string(), "-P", &free_port().to_string(), "-U", "postgres"])
            .arg(format!("--socketdir={}", self.base_path.display()));
        let out = self.as_server(upgrade).output().expect("spawn pg_upgrade");
        if !out.status.success() {
            panic!("siphon-testkit: pg_upgrade {} -> {new_major} failed:\n{}", self.major_version, output_text(&out));
        }
        self.bin_dir = new_bin.to_path_buf();
        self.data_dir = new_data;
        self.major_version = new_major;
        if let Err(e) = self.spawn_postmaster() {
            panic!("siphon-testkit: the upgraded server did not start: {e}");
        }
        eprintln!("siphon-testkit: upgraded to PostgreSQL {new_major} on 127.0.0.1:{}", self.port);
    }

    /// The settings the testkit appends to postgresql.conf for `data_dir`.
    fn testkit_conf(&self, data_dir: &Path) -> String {
        let mut conf = String::from("\n# --- siphon-testkit ---\n");
        let _ = writeln!(conf, "listen_addresses = '127.0.0.1'");
        let _ = writeln!(conf, "port = {}", self.port);
        let _ = writeln!(conf, "unix_socket_directories = '{}'", data_dir.display());
        for line in TESTKIT_SETTINGS {
            conf.push_str(line);
            conf.push('\n');
        }
        if !self.extra_conf.is_empty() {
            conf.push_str("# --- extra_conf ---\n");
            for line in &self.extra_conf {
                conf.push_str(line);
                conf.push('\n');
            }
        }
        conf
    }

    fn as_server(&self, mut cmd: Command) -> Command {
        clean_pg_env(&mut cmd);
        cmd.current_dir(&self.base_path).env("LC_ALL", "C").stdin(Stdio::null());
        if let Some(user) = server_user() {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd
    }

    /// A command for a server binary, run as the server user when we are root.
    fn server_command(&self, tool: &str) -> Command {
        self.as_server(Command::new(self.bin_dir.join(tool)))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.shutdown("immediate");
        if let Some(base) = self.base.take() {
            let path = base.path().to_owned();
            if let Err(e) = base.close() {
                eprintln!("siphon-testkit: could not remove {}: {e}", path.display());
            }
        }
        // Closing its stdin tells the watchdog we are done; the directory is
        // gone, so it just exits. Reap it, but never hang a test on it.
        for mut watchdog in std::mem::take(&mut self.watchdogs) {
            drop(watchdog.stdin.take());
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if !matches!(watchdog.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// The settings every test cluster runs with (after its port and socket directory).
const TESTKIT_SETTINGS: [&str; 6] = [
    "wal_level = logical",
    "max_replication_slots = 20",
    "max_wal_senders = 20",
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
];

/// Starts the watchdog for a cluster in `base` (see the crate docs). Its
/// stdin is a pipe whose write end only this process holds (close-on-exec).
fn spawn_watchdog(base: &Path, data_dir: &Path) -> Child {
    spawn_watchdog_for(base, data_dir, &data_dir.join("postmaster.pid"))
}

/// The watchdog of any server in `base`: when this process lets go of it, it kills the process
/// whose pid is on the first line of `pid_file` (only if that process's working directory is
/// `server_cwd`, so a recycled pid is never hit) and removes `base`.
pub(crate) fn spawn_watchdog_for(base: &Path, server_cwd: &Path, pid_file: &Path) -> Child {
    const SCRIPT: &str = r#"
trap '' INT TERM HUP QUIT
cat >/dev/null 2>&1
[ -d "$2" ] || exit 0
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
pid=$(head -n 1 "$3" 2>/dev/null)
case "$pid" in
  ''|*[!0-9]*) ;;
  *)
    if [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$2" ]; then
      kill -QUIT "$pid" 2>/dev/null
      i=0
      while alive "$pid" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
      alive "$pid" && kill -KILL "$pid" 2>/dev/null
    fi
    ;;
esac
rm -rf "$1"
"#;
    Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("siphon-testkit-watchdog")
        .arg(base)
        .arg(server_cwd)
        .arg(pid_file)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("siphon-testkit: cannot spawn watchdog `sh`")
}

#[derive(Debug, Clone, Copy)]
struct ServerUser {
    uid: u32,
    gid: u32,
}

/// `Some(postgres user)` when running as root (postgres refuses to run as
/// root), `None` when the server can run as the current user.
fn server_user() -> Option<ServerUser> {
    static USER: OnceLock<Option<ServerUser>> = OnceLock::new();
    *USER.get_or_init(|| {
        let euid = id_of(&["-u"]).expect("siphon-testkit: `id -u` failed");
        if euid != 0 {
            return None;
        }
        if id_of(&["-u", "postgres"]).is_none() {
            eprintln!("siphon-testkit: creating system user `postgres`");
            let _ = Command::new("useradd")
                .args(["--system", "--create-home", "--home-dir", "/var/lib/postgresql", "postgres"])
                .stdin(Stdio::null())
                .output();
        }
        match (id_of(&["-u", "postgres"]), id_of(&["-g", "postgres"])) {
            (Some(uid), Some(gid)) => Some(ServerUser { uid, gid }),
            _ => panic!(
                "siphon-testkit: running as root but there is no `postgres` user and it could not be created \
                 (run scripts/setup.sh)"
            ),
        }
    })
}

fn id_of(args: &[&str]) -> Option<u32> {
    let out = Command::new("id").args(args).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Parses the major version out of `postgres --version`
/// (e.g. `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` -> 15).
fn postgres_major_version(bin_dir: &Path) -> u32 {
    let out = Command::new(bin_dir.join("postgres"))
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("siphon-testkit: cannot run {}/postgres --version: {e}", bin_dir.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(')')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|major| major.parse().ok())
        .unwrap_or_else(|| panic!("siphon-testkit: cannot parse `postgres --version` output: {text:?}"))
}

/// Removes libpq environment variables (PGHOST, PGOPTIONS, PGSERVICE, ...)
/// that could redirect or alter our connections.
fn clean_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(&key);
        }
    }
    cmd.env_remove(OsStr::new("PSQLRC"));
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn output_text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn read_log_from(path: &Path, offset: u64) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        use std::io::{Seek, SeekFrom};
        let _ = f.seek(SeekFrom::Start(offset));
        let _ = f.read_to_string(&mut s);
    }
    s
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("siphon-testkit: cannot connect to {url}: {e}"));
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("siphon-testkit: connection error: {e}");
        }
    });
    client
}

/// The cluster shared by all [`TestDb`]s of this test process, started on
/// first use from [`default_bin_dir`]. It is never dropped: its watchdog stops
/// it and removes its directory when the process exits.
pub fn shared_cluster() -> &'static PgCluster {
    static SHARED: OnceLock<PgCluster> = OnceLock::new();
    SHARED.get_or_init(PgCluster::start)
}

/// A throwaway database of its own for one test, on the [`shared_cluster`].
/// Dropped (`WITH (FORCE)`) when the `TestDb` is dropped.
#[derive(Debug)]
pub struct TestDb {
    /// The cluster holding the database.
    pub cluster: &'static PgCluster,
    /// The database name: the sanitized prefix plus a unique suffix.
    pub name: String,
}

impl TestDb {
    /// Creates a fresh database named `<prefix>_<pid>_<n>` (prefix lowercased,
    /// non-alphanumerics replaced by `_`, cut to 40 characters).
    pub fn new(prefix: &str) -> TestDb {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut clean: String = prefix
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
            .take(40)
            .collect();
        if clean.is_empty() || clean.starts_with(|c: char| c.is_ascii_digit()) {
            clean.insert_str(0, "db_");
        }
        let name = format!("{clean}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let cluster = shared_cluster();
        cluster.create_database(&name);
        TestDb { cluster, name }
    }

    /// Connection URL of this database.
    pub fn url(&self) -> String {
        self.cluster.url(&self.name)
    }

    /// Runs SQL in this database; see [`PgCluster::psql`].
    pub fn psql(&self, sql: &str) -> String {
        self.cluster.psql(&self.name, sql)
    }

    /// Like [`psql`](Self::psql) but returns the error instead of panicking.
    pub fn try_psql(&self, sql: &str) -> Result<String, String> {
        self.cluster.try_psql(&self.name, sql)
    }

    /// A tokio-postgres client connected to this database (connection task
    /// spawned on the current runtime).
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url()).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&self.name));
        if let Err(e) = self.cluster.try_psql("postgres", &sql) {
            eprintln!("siphon-testkit: could not drop test database {}: {e}", self.name);
        }
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; never the same port
/// twice within one process).
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut guard = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let seen = guard.get_or_insert_with(HashSet::new);
    for _ in 0..1000 {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        if seen.insert(port) {
            return port;
        }
    }
    panic!("siphon-testkit: no free port found");
}

/// Polls `f` every 50 ms until it returns `Some`, and returns that value.
/// Panics mentioning `what` if `timeout` passes first. `f` runs at least once.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = f() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Async [`wait_for`] for use inside tokio tests (does not block the runtime):
/// awaits `f()` every 50 ms until it yields `Some`; panics mentioning `what`
/// after `timeout`.
pub async fn wait_for_async<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = f().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
