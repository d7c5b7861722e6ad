//! MariaDB -> DuckDB end to end, against a real MariaDB server per test: snapshot and streaming
//! under a sysbench OLTP write load, kill -9 and resume, binlogs purged past the checkpoint (a
//! gap, repaired), schema changes mid-stream, and the doctor.

mod common;

use std::process::Command;

use common::{assert_same_rows, siphon_cli, Pipeline, Siphon};
use siphon_testkit::mariadb::{MariaDbOptions, MariaDbServer};

/// A MariaDB server with database `db` and a `sync` table siphon does not replicate (writing it
/// makes a transaction the stream reports, to wait for).
fn server(db: &str) -> MariaDbServer {
    let s = MariaDbServer::start();
    s.create_database(db);
    s.sql(db, "CREATE TABLE sync (id int PRIMARY KEY, n bigint)");
    s
}

fn pipeline(s: &MariaDbServer, db: &str, tables: &[&str], extra: &str) -> Pipeline {
    Pipeline::for_mysql(&s.url(db), tables, extra)
}

/// The server's binlog position as siphon orders it (`file number << 32 | offset`).
fn position(s: &MariaDbServer, db: &str) -> u64 {
    let out = s.sql(db, "SHOW MASTER STATUS");
    let mut f = out.split('\t');
    let file = f.next().unwrap();
    let pos: u64 = f.next().unwrap().parse().unwrap();
    let seq: u64 = file.rsplit('.').next().unwrap().parse().unwrap();
    (seq << 32) | pos
}

/// Waits until everything committed on the server so far is durable in the destination.
fn wait_synced(siphon: &mut Siphon, s: &MariaDbServer, db: &str) {
    s.sql(db, "INSERT INTO sync VALUES (1, 1) ON DUPLICATE KEY UPDATE n = n + 1");
    let marker = position(s, db);
    siphon.wait_status("the checkpoint to pass the sync marker", |st| {
        let cp = st["checkpoint_lsn"].as_str().and_then(common::parse_lsn);
        st["state"] == "streaming" && cp.is_some_and(|c| c >= marker)
    });
}

/// Rows of a MariaDB query (tab-separated, `NULL` for null).
fn maria_rows(s: &MariaDbServer, db: &str, sql: &str) -> Vec<Vec<String>> {
    let out = s.sql(db, sql);
    out.lines().filter(|l| !l.is_empty()).map(|l| l.split('\t').map(str::to_string).collect()).collect()
}

const ORDERS: &str = "CREATE TABLE orders (
    id bigint PRIMARY KEY, customer varchar(40) NOT NULL, amount decimal(12,2),
    placed datetime(6), note text, qty int unsigned
) CHARACTER SET utf8mb4";

/// orders in both places, in one text form.
fn assert_orders_equal(p: &Pipeline, s: &MariaDbServer, db: &str) {
    let maria = maria_rows(
        s,
        db,
        "SELECT id, customer, IFNULL(CAST(amount AS CHAR), 'NULL'), IFNULL(DATE_FORMAT(placed, '%Y-%m-%d %H:%i:%s.%f'), 'NULL'),
                IFNULL(note, 'NULL'), IFNULL(qty, 'NULL') FROM orders ORDER BY id",
    );
    let duck = p.duck(&format!(
        "SELECT id::VARCHAR, customer, coalesce(amount::VARCHAR, 'NULL'), coalesce(strftime(placed, '%Y-%m-%d %H:%M:%S.%f'), 'NULL'),
                coalesce(note, 'NULL'), coalesce(qty::VARCHAR, 'NULL') FROM {db}.orders ORDER BY id"
    ));
    assert_same_rows(&duck, &maria, "orders");
}

#[test]
fn snapshot_then_stream_equals_the_source() {
    let db = "shop";
    let s = server(db);
    s.sql(db, ORDERS);
    s.sql(
        db,
        "INSERT INTO orders SELECT seq, CONCAT('c', seq % 97), seq * 1.25, TIMESTAMP('2026-01-01') + INTERVAL seq SECOND + INTERVAL 123456 MICROSECOND,
                IF(seq % 5 = 0, NULL, REPEAT('n', seq % 50)), seq % 7 FROM seq_1_to_5000",
    );
    let p = pipeline(&s, db, &["shop.orders"], "[flush]\ninterval_ms = 50\n[snapshot]\nchunk_rows = 700");
    let mut siphon = p.start();
    // Writes while the snapshot runs: the copy and the stream together give every change once.
    s.sql(
        db,
        "UPDATE orders SET amount = amount + 1 WHERE id % 10 = 0; DELETE FROM orders WHERE id % 13 = 0;
         INSERT INTO orders VALUES (9001, 'late', 1.00, '2026-02-03 04:05:06.000007', 'é ✓ 😀', 4294967295);",
    );
    wait_synced(&mut siphon, &s, db);
    // Streaming: a multi-statement transaction, a key change, a rolled-back transaction.
    s.sql(
        db,
        "START TRANSACTION; UPDATE orders SET id = 20000 WHERE id = 1; INSERT INTO orders VALUES (9002, 'x', NULL, NULL, NULL, NULL);
         DELETE FROM orders WHERE id BETWEEN 100 AND 120; COMMIT;
         START TRANSACTION; DELETE FROM orders; ROLLBACK;",
    );
    wait_synced(&mut siphon, &s, db);
    let status = siphon.status().unwrap();
    assert_eq!(status["source"], "mysql", "{status}");
    // The checkpoint as MySQL positions read (file number:offset), and the same in X/Y form.
    let shown = status["checkpoint"].as_str().unwrap();
    let (file, offset) = shown.split_once(':').unwrap();
    let lsn = common::parse_lsn(status["checkpoint_lsn"].as_str().unwrap()).unwrap();
    assert_eq!((file.parse::<u64>().unwrap() << 32) | offset.parse::<u64>().unwrap(), lsn, "{status}");
    assert!(siphon.stop().success());
    assert_orders_equal(&p, &s, db);
    let started = common::events(&p, "backfill.started");
    assert_eq!(started[0]["reason"], "initial", "{started:?}");
}

#[test]
fn a_sysbench_write_load_during_snapshot_and_stream_is_replicated_exactly() {
    let db = "sbtest";
    let s = server(db);
    let sysbench = |cmd: &str, extra: &[&str]| {
        let out = Command::new("sysbench")
            .args(["oltp_write_only", "--db-driver=mysql", "--mysql-host=127.0.0.1", "--mysql-user=root"])
            .arg(format!("--mysql-port={}", s.port()))
            .args([&format!("--mysql-db={db}"), "--tables=2", "--table-size=20000", "--threads=2"])
            .args(extra)
            .arg(cmd)
            .output()
            .expect("sysbench (apt install sysbench; scripts/setup.sh installs it)");
        assert!(
            out.status.success(),
            "sysbench {cmd}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sysbench("prepare", &[]);
    let p = pipeline(
        &s,
        db,
        &["sbtest.sbtest1", "sbtest.sbtest2"],
        "[flush]\ninterval_ms = 100\n[snapshot]\nchunk_rows = 3000",
    );
    let mut siphon = p.start();
    // The load runs across the snapshot and well into streaming.
    sysbench("run", &["--time=8", "--report-interval=0"]);
    wait_synced(&mut siphon, &s, db);
    assert!(siphon.stop().success());
    for t in ["sbtest1", "sbtest2"] {
        let maria = maria_rows(&s, db, &format!("SELECT id, k, c, pad FROM {t} ORDER BY id"));
        assert!(maria.len() > 15_000, "{t}: {} rows", maria.len());
        let duck = p.duck(&format!("SELECT id::VARCHAR, k::VARCHAR, c, pad FROM {db}.{t} ORDER BY id"));
        assert_same_rows(&duck, &maria, t);
    }
}

#[test]
fn kill_9_while_streaming_then_restart_is_exact() {
    let db = "crash";
    let s = server(db);
    s.sql(db, ORDERS);
    s.sql(db, "INSERT INTO orders SELECT seq, 'c', seq, NULL, NULL, 1 FROM seq_1_to_2000");
    let p = pipeline(&s, db, &["crash.orders"], "[flush]\ninterval_ms = 20");
    let mut siphon = p.start();
    wait_synced(&mut siphon, &s, db);
    // Many small transactions while siphon dies and comes back.
    let writer: String = (0..400)
        .map(|i| {
            format!(
                "UPDATE orders SET qty = qty + 1, note = 'w{i}' WHERE id = {}; INSERT INTO orders VALUES ({}, 'n', {i}, NULL, NULL, 2);\n",
                1 + i % 2000,
                10_000 + i
            )
        })
        .collect();
    let lines: Vec<&str> = writer.lines().collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    s.sql(db, &first.join("\n"));
    siphon.kill9();
    s.sql(db, &second.join("\n"));
    let mut siphon = p.start();
    wait_synced(&mut siphon, &s, db);
    assert!(siphon.stop().success());
    assert_orders_equal(&p, &s, db);
}

#[test]
fn purged_binlogs_are_a_gap_that_is_backfilled() {
    let db = "gap";
    let s = server(db);
    s.sql(db, ORDERS);
    s.sql(db, "INSERT INTO orders SELECT seq, 'c', seq, NULL, NULL, 1 FROM seq_1_to_300");
    let p = pipeline(&s, db, &["gap.orders"], "[flush]\ninterval_ms = 20");
    let mut siphon = p.start();
    wait_synced(&mut siphon, &s, db);
    assert!(siphon.stop().success());
    // While siphon is stopped: changes, then the binlog holding them is purged.
    let first = |s: &MariaDbServer| {
        s.sql(db, "SHOW BINARY LOGS").lines().next().unwrap().split('\t').next().unwrap().to_string()
    };
    let checkpointed = first(&s);
    s.sql(db, "UPDATE orders SET customer = 'lost' WHERE id <= 50; DELETE FROM orders WHERE id > 290;");
    // MariaDB purges a file only once its transactions are checkpointed by the storage engine:
    // rotate and purge until the file siphon's checkpoint is in is gone.
    siphon_testkit::wait_for("the checkpoint's binlog file to be purged", common::TIMEOUT, || {
        s.sql(db, "FLUSH BINARY LOGS");
        let current = s.sql(db, "SHOW MASTER STATUS");
        let file = current.split('\t').next().unwrap().to_string();
        s.sql(db, &format!("PURGE BINARY LOGS TO '{file}'"));
        (first(&s) != checkpointed).then_some(())
    });
    let mut siphon = p.start();
    let gap = common::wait_event(&mut siphon, &p, "gap.detected", 1);
    assert!(gap["reason"].as_str().unwrap().contains("no longer on the server"), "{gap}");
    common::wait_event(&mut siphon, &p, "gap.repaired", 1);
    wait_synced(&mut siphon, &s, db);
    assert!(siphon.stop().success());
    assert_orders_equal(&p, &s, db);
}

#[test]
fn schema_changes_mid_stream_reach_the_destination() {
    let db = "ddl";
    let s = server(db);
    s.sql(db, "CREATE TABLE t (id int PRIMARY KEY, a varchar(10), gone int)");
    s.sql(db, "INSERT INTO t VALUES (1, 'x', 1), (2, 'y', 2)");
    let p = pipeline(&s, db, &["ddl.t"], "[flush]\ninterval_ms = 20");
    let mut siphon = p.start();
    wait_synced(&mut siphon, &s, db);
    s.sql(
        db,
        "INSERT INTO t VALUES (3, 'before', 3);
         ALTER TABLE t ADD COLUMN b bigint;
         INSERT INTO t VALUES (4, 'after', 4, 9000000000);
         ALTER TABLE t MODIFY COLUMN a varchar(200);
         UPDATE t SET a = REPEAT('z', 150) WHERE id = 1;
         ALTER TABLE t DROP COLUMN gone;
         INSERT INTO t VALUES (5, 'dropped', 5);",
    );
    wait_synced(&mut siphon, &s, db);
    assert!(siphon.stop().success());
    let maria = maria_rows(&s, db, "SELECT id, a, IFNULL(b, 'NULL') FROM t ORDER BY id");
    let duck = p.duck("SELECT id::VARCHAR, a, coalesce(b::VARCHAR, 'NULL') FROM ddl.t ORDER BY id");
    assert_same_rows(&duck, &maria, "t after ADD / MODIFY / DROP COLUMN");
    assert!(!common::events(&p, "ddl.seen").is_empty());
}

#[test]
fn postgresql_only_commands_say_so() {
    let db = "pgonly";
    let s = server(db);
    s.sql(db, "CREATE TABLE t (id int PRIMARY KEY)");
    let p = pipeline(&s, db, &["pgonly.t"], "");
    for (cmd, hint) in [
        (&["slots", "list"][..], "binlog_expire_logs_seconds"),
        (&["upgrade", "prepare"], "siphon pause"),
        (&["verify"], "siphon backfill"),
    ] {
        let (ok, out) = siphon_cli(&p, cmd);
        assert!(!ok && out.contains("MySQL") && out.contains(hint), "{cmd:?}: {out}");
    }
}

#[test]
fn doctor_reports_every_finding_of_a_misconfigured_server() {
    let db = "doc";
    let bad = MariaDbServer::start_with(MariaDbOptions {
        extra_args: vec![
            "--binlog-format=STATEMENT".into(),
            "--binlog-row-image=MINIMAL".into(),
            "--binlog-row-metadata=MINIMAL".into(),
        ],
    });
    bad.create_database(db);
    bad.sql(db, "CREATE TABLE t (id int PRIMARY KEY)");
    let p = pipeline(&bad, db, &["doc.t"], "");
    let (ok, out) = siphon_cli(&p, &["doctor"]);
    assert!(!ok, "{out}");
    for setting in ["binlog_format", "binlog_row_image", "binlog_row_metadata"] {
        assert!(out.contains(setting), "{setting} missing from:\n{out}");
    }
    let good = server(db);
    good.sql(db, "CREATE TABLE t (id int PRIMARY KEY)");
    let p = pipeline(&good, db, &["doc.t"], "");
    let (ok, out) = siphon_cli(&p, &["doctor"]);
    assert!(ok, "{out}");
}

#[test]
fn mariadb_restarted_mid_stream_is_reconnected_to_and_nothing_is_lost() {
    let db = "restart";
    // Durable, as a production server must be: with the test default (sync_binlog = 0,
    // innodb_flush_log_at_trx_commit = 0) a crash loses commits siphon may already have applied.
    let s = MariaDbServer::start_with(MariaDbOptions {
        extra_args: vec!["--sync-binlog=1".into(), "--innodb-flush-log-at-trx-commit=1".into()],
    });
    s.create_database(db);
    s.sql(db, "CREATE TABLE sync (id int PRIMARY KEY, n bigint)");
    s.sql(db, ORDERS);
    s.sql(db, "INSERT INTO orders SELECT seq, 'c', seq, NULL, NULL, 1 FROM seq_1_to_500");
    let p = pipeline(&s, db, &["restart.orders"], "[flush]\ninterval_ms = 20");
    let text = std::fs::read_to_string(&p.config).unwrap();
    std::fs::write(&p.config, text.replace("[source]\n", "[source]\nreconnect_max_backoff_s = 1\n")).unwrap();
    let mut siphon = p.start();
    wait_synced(&mut siphon, &s, db);
    s.sql(db, "UPDATE orders SET customer = 'before' WHERE id <= 100");
    // A crash of the server: the binlog connection breaks; siphon retries until it is back.
    s.restart();
    s.sql(db, "UPDATE orders SET customer = 'after' WHERE id > 400; DELETE FROM orders WHERE id BETWEEN 200 AND 250;");
    wait_synced(&mut siphon, &s, db);
    assert!(siphon.stop().success());
    assert_orders_equal(&p, &s, db);
    assert!(!common::events(&p, "replication.error").is_empty(), "the break was noticed and retried");
}

#[test]
fn an_online_backfill_of_a_mysql_table_repairs_it_while_streaming() {
    let db = "refill";
    let s = server(db);
    s.sql(db, ORDERS);
    s.sql(db, "INSERT INTO orders SELECT seq, 'c', seq, NULL, NULL, 1 FROM seq_1_to_3000");
    let p = pipeline(&s, db, &["refill.orders"], "[flush]\ninterval_ms = 20\n[snapshot]\nchunk_rows = 500");
    let mut siphon = p.start();
    wait_synced(&mut siphon, &s, db);
    // Rows changed behind siphon's back at the destination cannot be injected while it runs;
    // a truncate-mode backfill under writes must end equal to the source.
    let (ok, out) = siphon_cli(&p, &["backfill", "refill.orders", "--mode", "truncate"]);
    assert!(ok, "{out}");
    s.sql(db, "UPDATE orders SET qty = qty + 10 WHERE id % 3 = 0; DELETE FROM orders WHERE id % 7 = 0; INSERT INTO orders VALUES (5000, 'new', 1, NULL, NULL, 1);");
    common::wait_event(&mut siphon, &p, "backfill.finished", 2);
    wait_synced(&mut siphon, &s, db);
    assert!(siphon.stop().success());
    assert_orders_equal(&p, &s, db);
}

#[test]
fn renamed_columns_keep_their_values_and_a_drop_plus_add_is_not_a_rename() {
    let db = "ren";
    let s = server(db);
    s.sql(db, "CREATE TABLE t (id int PRIMARY KEY, a varchar(10), b int, last int)");
    s.sql(db, "INSERT INTO t SELECT seq, CONCAT('v', seq), seq, seq FROM seq_1_to_20");
    let p = pipeline(&s, db, &["ren.t"], "[flush]\ninterval_ms = 20");
    let mut siphon = p.start();
    wait_synced(&mut siphon, &s, db);
    // RENAME COLUMN, CHANGE with a new name, and a chain; then the last column dropped and one
    // added in its place (same position: not a rename).
    s.sql(
        db,
        "ALTER TABLE t RENAME COLUMN a TO a2; ALTER TABLE t CHANGE COLUMN b b2 bigint; ALTER TABLE t RENAME COLUMN a2 TO a3;
         ALTER TABLE t DROP COLUMN last, ADD COLUMN fresh int;
         UPDATE t SET a3 = 'changed', fresh = 1, b2 = 9000000000 WHERE id = 1;",
    );
    wait_synced(&mut siphon, &s, db);
    assert!(siphon.stop().success());
    let maria = maria_rows(&s, db, "SELECT id, a3, b2, IFNULL(fresh, 'NULL') FROM t ORDER BY id");
    let duck = p.duck("SELECT id::VARCHAR, a3, b2::VARCHAR, coalesce(fresh::VARCHAR, 'NULL') FROM ren.t ORDER BY id");
    assert_same_rows(&duck, &maria, "t after renames");
    let columns = p.duck("SELECT column_name FROM information_schema.columns WHERE table_name = 't' AND table_schema = 'ren' ORDER BY column_name");
    let names: Vec<&str> = columns.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["a3", "b2", "fresh", "id", "last"], "renamed in place; the dropped column kept");
}

#[test]
fn mysql_values_arrive_exactly_in_duckdb_through_snapshot_and_stream() {
    let db = "types";
    let s = server(db);
    s.sql(
        db,
        "CREATE TABLE t (id int PRIMARY KEY, d65 decimal(65,30), ubig bigint unsigned, uint int unsigned, tiny tinyint,
            dt date, dtm datetime(6), ts timestamp(6) NULL, tm time(6), yr year, bt bit(5), en enum('s','m','l'),
            st set('a','b','c'), js json, bl blob, ch char(4), vc varchar(20)) CHARACTER SET utf8mb4",
    );
    let row = |id: i32| {
        format!(
            "({id}, '-12345678901234567890123456789012345.123456789012345678901234567891', 18446744073709551615, 4294967295, -128,
              '0000-01-01', '2024-02-29 23:59:59.999999', '2038-01-19 03:14:07.000001', '-838:59:58.5', 2155, b'10101', 'm',
              'c,a', '{{\"k\": [1, \"é\"]}}', X'00FF10', 'ab  ', 'héllo 😀')"
        )
    };
    s.sql(db, &format!("INSERT INTO t VALUES {}", row(1)));
    s.sql(db, "INSERT INTO t (id, dt, dtm) VALUES (2, '0000-00-00', '0000-00-00 00:00:00')");
    let p = pipeline(&s, db, &["types.t"], "[flush]\ninterval_ms = 20");
    let mut siphon = p.start();
    wait_synced(&mut siphon, &s, db);
    s.sql(db, &format!("INSERT INTO t VALUES {}", row(3)));
    wait_synced(&mut siphon, &s, db);
    assert!(siphon.stop().success());
    let got = p.duck(
        "SELECT id::VARCHAR, d65, ubig, uint::VARCHAR, tiny::VARCHAR, coalesce(dt::VARCHAR, 'NULL'), coalesce(dtm::VARCHAR, 'NULL'),
                (ts AT TIME ZONE 'UTC')::VARCHAR, tm::VARCHAR, yr::VARCHAR, bt::VARCHAR, en, st, js, hex(bl), ch, vc FROM types.t ORDER BY id",
    );
    let expected_row = |id: &str| -> Vec<String> {
        [
            id,
            "-12345678901234567890123456789012345.123456789012345678901234567891",
            "18446744073709551615",
            "4294967295",
            "-128",
            "0001-01-01 (BC)",
            "2024-02-29 23:59:59.999999",
            "2038-01-19 03:14:07.000001",
            "-838:59:58.5",
            "2155",
            "10101",
            "m",
            "a,c",
            "{\"k\": [1, \"é\"]}",
            "00FF10",
            "ab",
            "héllo 😀",
        ]
        .map(str::to_string)
        .to_vec()
    };
    // Snapshot (1), zero dates as NULL (2), stream (3): one text for each.
    assert_eq!(got[0], expected_row("1"), "snapshot");
    assert_eq!(&got[1][..7], &["2", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"].map(str::to_string), "zero dates");
    assert_eq!(got[2], expected_row("3"), "stream");
}

#[test]
fn a_binlog_rotation_on_an_idle_server_then_a_purge_is_not_a_gap() {
    let db = "idle";
    let s = server(db);
    s.sql(db, ORDERS);
    s.sql(db, "INSERT INTO orders SELECT seq, 'c', seq, NULL, NULL, 1 FROM seq_1_to_100");
    let p = pipeline(&s, db, &["idle.orders"], "[flush]\ninterval_ms = 20");
    let mut siphon = p.start();
    wait_synced(&mut siphon, &s, db);
    // A rotation with no transaction after it: only heartbeats tell siphon the server moved on.
    s.sql(db, "FLUSH BINARY LOGS");
    let rotated = position(&s, db);
    wait_confirmed(&p, rotated);
    assert!(siphon.stop().success());
    // The file the checkpoint is in goes; the confirmed position's file stays.
    let first = |s: &MariaDbServer| {
        s.sql(db, "SHOW BINARY LOGS").lines().next().unwrap().split('\t').next().unwrap().to_string()
    };
    let keep = format!("binlog.{:06}", rotated >> 32);
    siphon_testkit::wait_for("the files before the rotation to be purged", common::TIMEOUT, || {
        s.sql(db, &format!("PURGE BINARY LOGS TO '{keep}'"));
        (first(&s) == keep).then_some(())
    });
    let mut siphon = p.start();
    s.sql(db, "UPDATE orders SET customer = 'after' WHERE id <= 10");
    wait_synced(&mut siphon, &s, db);
    assert!(siphon.stop().success());
    assert!(common::events(&p, "gap.detected").is_empty(), "{:?}", common::events(&p, "gap.detected"));
    assert_orders_equal(&p, &s, db);
}

/// A second server replicating `primary` by GTID (`log_slave_updates`: its binlog holds the
/// primary's transactions under their own GTIDs, as a failover candidate's does).
fn replica_of(primary: &MariaDbServer) -> MariaDbServer {
    let r = MariaDbServer::start_with(MariaDbOptions {
        extra_args: vec!["--server-id=2".into(), "--log-slave-updates=ON".into()],
    });
    r.sql(
        "",
        &format!(
            "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = 'root', MASTER_USE_GTID = slave_pos;
             START SLAVE;",
            primary.port()
        ),
    );
    r
}

/// Waits until `replica` has everything `primary` logged.
fn wait_replicated(primary: &MariaDbServer, replica: &MariaDbServer) {
    let want = primary.sql("", "SELECT @@gtid_binlog_pos");
    siphon_testkit::wait_for("the replica to catch up", common::TIMEOUT, || {
        (replica.sql("", "SELECT @@gtid_slave_pos") == want).then_some(())
    });
}

/// Points the pipeline's source URL at another server.
fn repoint(p: &Pipeline, from: &MariaDbServer, to: &MariaDbServer) {
    let text = std::fs::read_to_string(&p.config).unwrap();
    let (old, new) = (format!("127.0.0.1:{}/", from.port()), format!("127.0.0.1:{}/", to.port()));
    assert!(text.contains(&old));
    std::fs::write(&p.config, text.replace(&old, &new)).unwrap();
}

#[test]
fn a_failover_to_a_replica_continues_by_gtid_without_a_backfill() {
    let db = "fo";
    let primary = server(db);
    let replica = replica_of(&primary);
    primary.sql(db, ORDERS);
    primary.sql(db, "INSERT INTO orders SELECT seq, 'c', seq, NULL, NULL, 1 FROM seq_1_to_500");
    let p = pipeline(&primary, db, &["fo.orders"], "[flush]\ninterval_ms = 20");
    let mut siphon = p.start();
    wait_synced(&mut siphon, &primary, db);
    primary.sql(db, "UPDATE orders SET customer = 'streamed' WHERE id <= 100; DELETE FROM orders WHERE id > 480;");
    wait_synced(&mut siphon, &primary, db);
    let status = siphon.status().unwrap();
    assert!(status["checkpoint_gtid"].as_str().is_some_and(|g| g.starts_with("0-1-")), "{status}");
    // Rotations on the idle primary: siphon confirms a position in its fourth binlog file, one
    // the replica's binlog does not have (positions of one server mean nothing on another).
    primary.sql(db, "FLUSH BINARY LOGS; FLUSH BINARY LOGS; FLUSH BINARY LOGS");
    let rotated = position(&primary, db);
    assert_eq!(rotated >> 32, 4);
    wait_confirmed(&p, rotated);
    siphon.kill9();
    // While siphon is down: more on the primary, which reach the replica; then the primary is
    // lost and the replica takes over, taking writes of its own.
    primary.sql(db, "UPDATE orders SET note = 'while down' WHERE id BETWEEN 200 AND 260; INSERT INTO orders VALUES (900, 'late', 1, NULL, NULL, 1);");
    wait_replicated(&primary, &replica);
    replica.sql("", "STOP SLAVE");
    primary.kill();
    replica
        .sql(db, "DELETE FROM orders WHERE id <= 10; INSERT INTO orders VALUES (901, 'new primary', 2, NULL, 'x', 3);");
    repoint(&p, &primary, &replica);
    let mut siphon = p.start();
    let moved = common::wait_event(&mut siphon, &p, "source.moved", 1);
    assert!(
        moved["from"].as_str().unwrap().starts_with("1/") && moved["to"].as_str().unwrap().starts_with("2/"),
        "{moved}"
    );
    wait_synced(&mut siphon, &replica, db);
    assert!(siphon.stop().success());
    assert_orders_equal(&p, &replica, db);
    // And on from there, on the new primary, across a restart.
    replica.sql(db, "UPDATE orders SET qty = 7 WHERE id BETWEEN 300 AND 320");
    let mut siphon = p.start();
    wait_synced(&mut siphon, &replica, db);
    assert!(siphon.stop().success());
    assert_orders_equal(&p, &replica, db);
    assert_eq!(common::events(&p, "source.moved").len(), 1);
    assert!(common::events(&p, "gap.detected").is_empty(), "a failover with GTIDs is not a gap");
    let copies = common::events(&p, "backfill.started");
    assert_eq!(copies.len(), 1, "only the initial snapshot: {copies:?}");
}

#[test]
fn a_failover_to_a_replica_that_lacks_applied_transactions_is_a_gap_that_is_repaired() {
    let db = "behind";
    let primary = server(db);
    let replica = replica_of(&primary);
    primary.sql(db, ORDERS);
    primary.sql(db, "INSERT INTO orders SELECT seq, 'c', seq, NULL, NULL, 1 FROM seq_1_to_200");
    wait_replicated(&primary, &replica);
    replica.sql("", "STOP SLAVE");
    // siphon applies transactions the replica never gets.
    let p = pipeline(&primary, db, &["behind.orders"], "[flush]\ninterval_ms = 20");
    let mut siphon = p.start();
    primary.sql(db, "INSERT INTO orders VALUES (500, 'only on the old primary', 1, NULL, NULL, 1); DELETE FROM orders WHERE id <= 5;");
    wait_synced(&mut siphon, &primary, db);
    assert!(siphon.stop().success());
    primary.kill();
    replica.sql(db, "UPDATE orders SET customer = 'replica' WHERE id <= 20");
    repoint(&p, &primary, &replica);
    let mut siphon = p.start();
    let gap = common::wait_event(&mut siphon, &p, "gap.detected", 1);
    assert!(gap["reason"].as_str().unwrap().contains("GTID"), "{gap}");
    common::wait_event(&mut siphon, &p, "gap.repaired", 1);
    wait_synced(&mut siphon, &replica, db);
    assert!(siphon.stop().success());
    assert_orders_equal(&p, &replica, db);
}

/// Waits until siphon has confirmed (heartbeats while idle) a position at or past `at`.
fn wait_confirmed(p: &Pipeline, at: u64) {
    let confirmed = p.dir.path().join("state/confirmed_lsn");
    siphon_testkit::wait_for("a heartbeat position to be confirmed", common::TIMEOUT, || {
        let text = std::fs::read_to_string(&confirmed).ok()?;
        common::parse_lsn(text.trim()).filter(|c| *c >= at)
    });
}

#[test]
fn a_reset_binlog_is_a_gap_even_where_its_positions_exist_again_and_is_repaired_once() {
    let db = "reset";
    let s = server(db);
    s.sql(db, ORDERS);
    s.sql(db, "INSERT INTO orders SELECT seq, 'c', seq, NULL, NULL, 1 FROM seq_1_to_300");
    let p = pipeline(&s, db, &["reset.orders"], "[flush]\ninterval_ms = 20");
    let mut siphon = p.start();
    wait_synced(&mut siphon, &s, db);
    let checkpoint = position(&s, db);
    assert!(siphon.stop().success());
    // RESET MASTER: the binlog starts again at binlog.000001, same server, same file names; it
    // grows past the checkpoint's offset, so the position exists again but means another point.
    s.sql(db, "RESET MASTER");
    s.sql(db, "UPDATE orders SET customer = 'after the reset', note = REPEAT('n', 500) WHERE id <= 250; DELETE FROM orders WHERE id > 290;");
    assert!(position(&s, db) > checkpoint, "the new binlog reaches past the old checkpoint");
    let mut siphon = p.start();
    let gap = common::wait_event(&mut siphon, &p, "gap.detected", 1);
    assert!(gap["reason"].as_str().unwrap().contains("reset"), "{gap}");
    common::wait_event(&mut siphon, &p, "gap.repaired", 1);
    wait_synced(&mut siphon, &s, db);
    // Rotations while idle: siphon confirms a position in binlog.000003.
    s.sql(db, "FLUSH BINARY LOGS; FLUSH BINARY LOGS");
    let rotated = position(&s, db);
    wait_confirmed(&p, rotated);
    assert!(siphon.stop().success());
    assert_orders_equal(&p, &s, db);
    // Reset again: the confirmed position belongs to the history before it; the repair's fresh
    // start must forget it, or every later start would see binlog.000003 missing: a gap again.
    s.sql(db, "RESET MASTER");
    s.sql(db, "UPDATE orders SET qty = 5 WHERE id <= 30");
    let mut siphon = p.start();
    common::wait_event(&mut siphon, &p, "gap.repaired", 2);
    wait_synced(&mut siphon, &s, db);
    assert!(siphon.stop().success());
    s.sql(db, "UPDATE orders SET qty = 6 WHERE id <= 40");
    let mut siphon = p.start();
    wait_synced(&mut siphon, &s, db);
    assert!(siphon.stop().success());
    assert_eq!(common::events(&p, "gap.detected").len(), 2, "one gap per reset, none after the repair");
    assert_orders_equal(&p, &s, db);
}
