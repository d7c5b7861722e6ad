//! Self-tests of the testkit: they start real PostgreSQL servers.

use super::*;
use std::io::{BufRead, BufReader};

/// True if `pid` is a live (non-zombie) process.
fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(status) => !status.lines().any(|l| l.starts_with("State:") && l.contains('Z')),
        Err(_) => false,
    }
}

#[test]
fn cluster_lifecycle_databases_restart_and_cleanup() {
    let mut cluster = PgCluster::start();
    assert!(cluster.port() > 0);
    assert_eq!(cluster.bin_dir(), default_bin_dir().as_path());
    assert!(cluster.data_dir().join("PG_VERSION").is_file());
    assert_eq!(cluster.url("app"), format!("postgres://postgres@127.0.0.1:{}/app", cluster.port()));
    assert_eq!(cluster.psql("postgres", "SHOW wal_level"), "logical");
    assert_eq!(cluster.psql("postgres", "SHOW max_replication_slots"), "20");
    assert_eq!(cluster.psql("postgres", "SHOW fsync"), "off");
    assert_eq!(
        cluster.psql("postgres", "SHOW server_version_num")[..2].parse::<u32>().unwrap(),
        cluster.major_version()
    );

    // Two databases, isolated from each other; multi-statement scripts.
    cluster.create_database("alpha");
    cluster.create_database("Beta-2");
    cluster.psql("alpha", "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b');");
    cluster.psql("Beta-2", "CREATE TABLE t (id int); INSERT INTO t VALUES (42);");
    assert_eq!(cluster.psql("alpha", "SELECT id, v FROM t ORDER BY id"), "1|a\n2|b");
    assert_eq!(cluster.psql("Beta-2", "SELECT count(*) FROM t"), "1");
    let err = cluster.try_psql("alpha", "SELECT * FROM no_such_table").unwrap_err();
    assert!(err.contains("no_such_table"), "{err}");

    // Restart: same port, data survives, new postmaster.
    let pid_before = cluster.pid().expect("running");
    let port_before = cluster.port();
    cluster.restart();
    let pid_after = cluster.pid().expect("running after restart");
    assert_ne!(pid_before, pid_after);
    assert!(!process_alive(pid_before));
    assert_eq!(cluster.port(), port_before);
    assert_eq!(cluster.psql("alpha", "SELECT count(*) FROM t"), "2");

    // Stop: the server is down, restart brings it back.
    cluster.stop();
    assert_eq!(cluster.pid(), None);
    assert!(!process_alive(pid_after));
    assert!(cluster.try_psql("alpha", "SELECT 1").is_err());
    cluster.restart();
    assert_eq!(cluster.psql("alpha", "SELECT 1"), "1");

    // Drop: postmaster gone, directory gone.
    let pid = cluster.pid().unwrap();
    let data_dir = cluster.data_dir().to_owned();
    let base = data_dir.parent().unwrap().to_owned();
    drop(cluster);
    assert!(!process_alive(pid), "postmaster {pid} still running after drop");
    assert!(!base.exists(), "{} still exists after drop", base.display());
}

#[test]
fn extra_conf_is_applied() {
    let cluster = PgCluster::start_with(ClusterOptions {
        extra_conf: vec!["work_mem = '7MB'".into(), "max_replication_slots = 5".into()],
        ..Default::default()
    });
    assert_eq!(cluster.psql("postgres", "SHOW work_mem"), "7MB");
    assert_eq!(cluster.psql("postgres", "SHOW max_replication_slots"), "5");
}

#[tokio::test]
async fn test_dbs_are_separate_and_dropped() {
    let a = TestDb::new("Kit Test");
    let b = TestDb::new("kit_test");
    assert_ne!(a.name, b.name);
    assert!(a.name.starts_with("kit_test_"), "{}", a.name);
    assert!(std::ptr::eq(a.cluster, b.cluster), "one shared cluster per process");
    assert_eq!(a.psql("SHOW wal_level"), "logical");

    a.psql("CREATE TABLE only_in_a (x int)");
    assert!(b.try_psql("SELECT * FROM only_in_a").is_err());

    let client = a.client().await;
    client.execute("INSERT INTO only_in_a VALUES (7)", &[]).await.unwrap();
    let row = client.query_one("SELECT current_database(), sum(x)::int FROM only_in_a", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), a.name);
    assert_eq!(row.get::<_, i32>(1), 7);

    // Dropping the TestDb drops the database even with a session still open.
    let cluster = a.cluster;
    let name = a.name.clone();
    drop(a);
    let exists = cluster.psql("postgres", &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"));
    assert_eq!(exists, "0");
    assert!(client.simple_query("SELECT 1").await.is_err(), "session was terminated");
}

#[test]
fn free_port_is_unique_and_bindable() {
    let p1 = free_port();
    let p2 = free_port();
    assert_ne!(p1, p2);
    TcpListener::bind(("127.0.0.1", p1)).expect("port is free");
}

#[test]
fn wait_for_returns_the_value() {
    let mut calls = 0;
    let got = wait_for("the third call", Duration::from_secs(5), || {
        calls += 1;
        (calls == 3).then_some(calls * 10)
    });
    assert_eq!(got, 30);
}

#[test]
#[should_panic(expected = "waiting for godot")]
fn wait_for_panics_on_timeout() {
    wait_for::<()>("godot", Duration::from_millis(120), || None);
}

#[tokio::test]
async fn wait_for_async_returns_the_value() {
    let mut n = 0;
    let got = wait_for_async("n to reach 2", Duration::from_secs(5), || {
        n += 1;
        let v = n;
        async move { (v >= 2).then_some(v) }
    })
    .await;
    assert_eq!(got, 2);
}

const PROBE_ENV: &str = "SIPHON_TESTKIT_EXIT_PROBE";

/// Helper run in a child process by `servers_are_cleaned_up_when_the_test_process_is_killed`;
/// a no-op (passes) when run normally.
#[test]
fn exit_probe_child() {
    if std::env::var_os(PROBE_ENV).is_none() {
        return;
    }
    let db = TestDb::new("probe");
    let own = PgCluster::start();
    println!(
        "PROBE {} {} {} {}",
        db.cluster.pid().unwrap(),
        db.cluster.data_dir().parent().unwrap().display(),
        own.pid().unwrap(),
        own.data_dir().parent().unwrap().display(),
    );
    std::io::stdout().flush().unwrap();
    // Wait to be SIGKILLed; bounded so a broken parent never leaves us hanging.
    std::thread::sleep(Duration::from_secs(120));
    std::process::exit(1);
}

/// The hardest case: the test process is SIGKILLed, so no destructor runs.
/// The watchdogs must stop both the shared cluster and an owned one and
/// remove their directories.
#[test]
fn servers_are_cleaned_up_when_the_test_process_is_killed() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["tests::exit_probe_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(PROBE_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // libtest prints "test NAME ... " before the test's own output, so the
    // marker is searched anywhere in a line. Read on a thread, with a timeout.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(at) = line.find("PROBE ") {
                let _ = tx.send(line[at..].to_owned());
                break;
            }
        }
    });
    let probe = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => line,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("probe child did not report its clusters: {e}");
        }
    };
    let parts: Vec<&str> = probe.split_whitespace().collect();
    let (pid1, dir1) = (parts[1].parse::<u32>().unwrap(), PathBuf::from(parts[2]));
    let (pid2, dir2) = (parts[3].parse::<u32>().unwrap(), PathBuf::from(parts[4]));
    assert!(process_alive(pid1) && process_alive(pid2));
    assert!(dir1.exists() && dir2.exists());

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    wait_for("postmasters of the killed process to exit", Duration::from_secs(20), || {
        (!process_alive(pid1) && !process_alive(pid2)).then_some(())
    });
    wait_for("cluster directories to be removed", Duration::from_secs(20), || {
        (!dir1.exists() && !dir2.exists()).then_some(())
    });
}

#[test]
fn mariadb_server_starts_runs_sql_and_cleans_up() {
    let dir;
    {
        let server = crate::mariadb::MariaDbServer::start();
        dir = server.data_dir().to_path_buf();
        server.create_database("t1");
        server.sql("t1", "CREATE TABLE x (id INT PRIMARY KEY); INSERT INTO x VALUES (1), (2)");
        assert_eq!(server.sql("t1", "SELECT count(*) FROM x"), "2");
        assert_eq!(server.sql("", "SELECT @@binlog_format, @@binlog_row_metadata"), "ROW\tFULL");
    }
    assert!(!dir.exists(), "data dir removed on drop");
}
