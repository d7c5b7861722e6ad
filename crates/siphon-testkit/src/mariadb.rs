//! Real, throwaway MariaDB servers (the binlog source's tests), in the style of [`PgCluster`]:
//! a temp directory, a free loopback port, the server killed and the directory removed on drop
//! (and by a watchdog if this process dies without dropping it).
//!
//! The server is Debian's `mariadbd` (apt `mariadb-server`, installed by `scripts/setup.sh`),
//! run as the `mysql` system user, with the binary log configured as siphon needs it
//! ([`MARIADB_SETTINGS`]): `log_bin`, `binlog_format=ROW`, `binlog_row_image=FULL`,
//! `binlog_row_metadata=FULL`, `gtid_strict_mode=ON`, `server_id=1`; durability off for speed.
//! [`MariaDbOptions::extra_args`] come last on the command line, so they override these (a
//! doctor test starts a server with `--binlog-format=STATEMENT`).
//!
//! `mariadb-install-db` runs once per test process into a template directory (about 3 s); every
//! server starts from a copy of it (well under a second). User `root` has no password and may
//! connect over TCP from 127.0.0.1.
//!
//! [`PgCluster`]: crate::PgCluster

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::{free_port, log_tail, output_text, spawn_watchdog_for};

/// How long to wait for a server to start before giving up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The settings every test server runs with (before [`MariaDbOptions::extra_args`]).
pub const MARIADB_SETTINGS: [&str; 12] = [
    "--server-id=1",
    "--log-bin=binlog",
    "--binlog-format=ROW",
    "--binlog-row-image=FULL",
    "--binlog-row-metadata=FULL",
    "--gtid-strict-mode=ON",
    "--innodb-flush-log-at-trx-commit=0",
    "--sync-binlog=0",
    "--innodb-buffer-pool-size=32M",
    "--max-connections=200",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
];

/// Options for [`MariaDbServer::start_with`].
#[derive(Debug, Clone, Default)]
pub struct MariaDbOptions {
    /// Server options appended after [`MARIADB_SETTINGS`] (later options win), e.g.
    /// `"--binlog-format=STATEMENT"`.
    pub extra_args: Vec<String>,
}

/// A running, throwaway MariaDB server owned by this process.
pub struct MariaDbServer {
    base: Option<tempfile::TempDir>,
    data_dir: PathBuf,
    socket: PathBuf,
    log_path: PathBuf,
    port: u16,
    child: Mutex<Option<Child>>,
    watchdog: Option<Child>,
    opts: MariaDbOptions,
    pid_file: PathBuf,
}

impl std::fmt::Debug for MariaDbServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MariaDbServer").field("port", &self.port).field("data_dir", &self.data_dir).finish()
    }
}

impl MariaDbServer {
    /// Starts a fresh server with the default settings. Panics (with the server log) on failure.
    pub fn start() -> MariaDbServer {
        Self::start_with(MariaDbOptions::default())
    }

    /// Starts a fresh server with `opts`. Panics on failure.
    pub fn start_with(opts: MariaDbOptions) -> MariaDbServer {
        let template = template_dir();
        let user = mysql_user();
        let base = tempfile::Builder::new()
            .prefix("siphon-mariadb-")
            .tempdir_in(test_tmp_parent())
            .expect("siphon-testkit: cannot create a temp dir for MariaDB");
        let base_path = base.path().canonicalize().expect("canonicalize temp dir");
        fs::set_permissions(&base_path, fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        let data_dir = base_path.join("data");
        let pid_file = base_path.join("mariadbd.pid");
        let watchdog = spawn_watchdog_for(&base_path, &data_dir, &pid_file);
        let out = Command::new("cp").arg("-a").arg(template).arg(&data_dir).output().expect("spawn cp");
        if !out.status.success() {
            panic!("siphon-testkit: copying the MariaDB template failed: {}", output_text(&out));
        }
        fs::create_dir(base_path.join("tmp")).expect("create the MariaDB tmpdir");
        chown_tree(&base_path, user);
        let log_path = base_path.join("mariadb.log");
        File::create(&log_path).expect("create mariadb.log");
        chown_tree(&log_path, user);
        let mut server = MariaDbServer {
            base: Some(base),
            data_dir,
            socket: base_path.join("mysqld.sock"),
            log_path,
            port: 0,
            child: Mutex::new(None),
            watchdog: Some(watchdog),
            opts: opts.clone(),
            pid_file: pid_file.clone(),
        };
        let mut last = String::new();
        for _ in 0..8 {
            server.port = free_port();
            match server.spawn(&opts, &pid_file) {
                Ok(()) => {
                    eprintln!(
                        "siphon-testkit: MariaDB on 127.0.0.1:{} (data {})",
                        server.port,
                        server.data_dir.display()
                    );
                    return server;
                }
                Err(e) if e.contains("Address already in use") => last = e,
                Err(e) => panic!("siphon-testkit: could not start MariaDB: {e}"),
            }
        }
        panic!("siphon-testkit: could not start MariaDB on any free port: {last}");
    }

    fn spawn(&self, opts: &MariaDbOptions, pid_file: &Path) -> Result<(), String> {
        let log_start = fs::metadata(&self.log_path).map(|m| m.len()).unwrap_or(0);
        let mut cmd = Command::new("mariadbd");
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", self.data_dir.display()))
            .arg("--user=mysql")
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", self.socket.display()))
            .arg(format!("--pid-file={}", pid_file.display()))
            .arg(format!("--log-error={}", self.log_path.display()))
            // Its own temp dir: nothing shared with the other servers of the machine.
            .arg(format!("--tmpdir={}", self.tmp_dir().display()))
            .args(MARIADB_SETTINGS)
            .args(&opts.extra_args)
            .current_dir(&self.data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().map_err(|e| format!("cannot spawn mariadbd: {e}"))?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "mariadbd exited during startup ({status}); log:\n{}",
                    read_from(&self.log_path, log_start)
                ));
            }
            let ping = Command::new("mariadb-admin")
                .arg("--no-defaults")
                .arg("-uroot")
                .arg(format!("--socket={}", self.socket.display()))
                .arg("ping")
                .stdin(Stdio::null())
                .output();
            if matches!(&ping, Ok(o) if o.status.success()) {
                break;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "mariadbd not ready after {START_TIMEOUT:?}; log:\n{}",
                    read_from(&self.log_path, log_start)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        Ok(())
    }

    fn tmp_dir(&self) -> PathBuf {
        self.data_dir.parent().expect("data dir has a parent").join("tmp")
    }

    /// The TCP port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory (the binary logs `binlog.NNNNNN` are in it).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The last `lines` lines of the server's error log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path, lines)
    }

    /// `mysql://root@127.0.0.1:PORT/DB` (root has no password).
    pub fn url(&self, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{}", self.port, database)
    }

    /// `mysql://USER:PASSWORD@127.0.0.1:PORT/DB`.
    pub fn url_as(&self, user: &str, password: &str, database: &str) -> String {
        format!("mysql://{user}:{password}@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates database `name` (a plain identifier). Panics on failure.
    pub fn create_database(&self, name: &str) {
        self.sql("", &format!("CREATE DATABASE `{name}`"));
    }

    /// Runs `sql` (any number of statements) as root with the `mariadb` client in `database`
    /// (none when empty) and returns its output: one line per row, columns separated by tabs,
    /// no header. Panics with the client's stderr on failure.
    pub fn sql(&self, database: &str, sql: &str) -> String {
        self.try_sql(database, sql)
            .unwrap_or_else(|e| panic!("siphon-testkit: mariadb in {database:?} failed: {e}\nSQL:\n{sql}"))
    }

    /// Like [`sql`](Self::sql), returning the error instead of panicking.
    pub fn try_sql(&self, database: &str, sql: &str) -> Result<String, String> {
        let mut cmd = Command::new("mariadb");
        cmd.arg("--no-defaults").arg("-uroot").arg(format!("--socket={}", self.socket.display())).args([
            "-N",
            "-B",
            "--default-character-set=utf8mb4",
        ]);
        if !database.is_empty() {
            cmd.arg(database);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot spawn mariadb: {e}"))?;
        let mut stdin = child.stdin.take().expect("mariadb stdin");
        let owned = sql.to_owned();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(owned.as_bytes());
        });
        let out = child.wait_with_output().map_err(|e| format!("waiting for mariadb: {e}"))?;
        let _ = writer.join();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_string())
        } else {
            Err(format!("mariadb exited with {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim_end()))
        }
    }

    /// Kills the server (SIGKILL, as a crash would) and starts it again on the same data
    /// directory and port; InnoDB and the binlog recover as after a real crash.
    pub fn restart(&self) {
        self.kill();
        let mut last = String::new();
        for _ in 0..50 {
            match self.spawn(&self.opts, &self.pid_file) {
                Ok(()) => return,
                // The killed server's port may linger for a moment.
                Err(e) if e.contains("Address already in use") || e.contains("Can't start server") => {
                    last = e;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("siphon-testkit: could not restart MariaDB: {e}"),
            }
        }
        panic!("siphon-testkit: could not restart MariaDB: {last}");
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&self) {
        if let Some(mut child) = self.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for MariaDbServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- MariaDB error log on port {} (last 80 lines) ---\n{}", self.port, self.log_tail(80));
        }
        self.kill();
        if let Some(base) = self.base.take() {
            let _ = base.close();
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            drop(watchdog.stdin.take());
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(watchdog.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

fn test_tmp_parent() -> PathBuf {
    std::env::var_os("SIPHON_TEST_TMPDIR")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// The `mysql` system user's (uid, gid) (created by the mariadb-server package).
fn mysql_user() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "mysql"]).stderr(Stdio::null()).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

fn chown_tree(path: &Path, user: Option<(u32, u32)>) {
    if let Some((uid, gid)) = user {
        let _ = Command::new("chown").arg("-R").arg(format!("{uid}:{gid}")).arg(path).output();
    }
}

/// A data directory initialized by `mariadb-install-db`, copied by each server. It is built once
/// per machine and server version, not per test process (nextest runs every test in a process of
/// its own; `mariadb-install-db` takes seconds of CPU): built in a directory of its own, then
/// renamed into place atomically, so concurrent test processes either find a complete template
/// or build one and keep whichever rename won.
fn template_dir() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        for tool in ["mariadbd", "mariadb-install-db", "mariadb", "mariadb-admin"] {
            if Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool}"))
                .output()
                .map_or(true, |o| !o.status.success())
            {
                panic!("siphon-testkit: `{tool}` not found (run scripts/setup.sh: apt mariadb-server mariadb-client)");
            }
        }
        let version = Command::new("mariadbd").arg("--version").output().map(|o| output_text(&o)).unwrap_or_default();
        let tag: u32 = version.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        let uid = mysql_user().map_or(0, |(u, _)| u);
        let cached = test_tmp_parent().join(format!("siphon-mariadb-template-{tag:08x}-{uid}"));
        if cached.join("ready").exists() {
            return cached.join("data");
        }
        let mut last_error = String::new();
        for _ in 0..3 {
            match build_template(&cached) {
                Ok(()) => return cached.join("data"),
                Err(e) => last_error = e,
            }
        }
        panic!("siphon-testkit: mariadb-install-db failed: {last_error}");
    })
}

/// Builds the template into a fresh directory and renames it to `cached` (unless another process
/// got there first, which is as good).
fn build_template(cached: &Path) -> Result<(), String> {
    let dir = tempfile::Builder::new()
        .prefix("siphon-mariadb-template-build-")
        .tempdir_in(test_tmp_parent())
        .map_err(|e| format!("temp dir for the MariaDB template: {e}"))?;
    let base = dir.path().canonicalize().map_err(|e| e.to_string())?;
    fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    let data = base.join("data");
    fs::create_dir(&data).map_err(|e| e.to_string())?;
    chown_tree(&base, mysql_user());
    let out = Command::new("mariadb-install-db")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args(["--user=mysql", "--auth-root-authentication-method=normal", "--skip-test-db"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("spawn mariadb-install-db: {e}"))?;
    if !out.status.success() {
        return Err(output_text(&out));
    }
    fs::write(base.join("ready"), "").map_err(|e| e.to_string())?;
    let built = dir.keep();
    if fs::rename(&built, cached).is_err() {
        // Another process renamed its template into place first.
        let _ = fs::remove_dir_all(&built);
        if !cached.join("ready").exists() {
            return Err(format!("could not move the template to {}", cached.display()));
        }
    }
    Ok(())
}

fn read_from(path: &Path, offset: u64) -> String {
    let text = fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(&text[(offset as usize).min(text.len())..]).into_owned()
}
