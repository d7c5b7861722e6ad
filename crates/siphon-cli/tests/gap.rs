//! A broken change stream is detected, reported with its window, and repaired (or stops siphon,
//! by policy): slot dropped, slot recreated by someone else, slot invalidated by
//! max_slot_wal_keep_size.

mod common;

use common::{assert_same_rows, pg_rows, Pipeline};
use siphon_testkit::{ClusterOptions, PgCluster, TestDb};

use common::siphon_cli as cli;

fn events(p: &Pipeline) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p.dir.path().join("state/events.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const SETUP: &str =
    "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 200) i;";

fn same(db_rows: Vec<Vec<String>>, p: &Pipeline) {
    assert_same_rows(&p.duck("SELECT id::VARCHAR, v FROM public.t ORDER BY id"), &db_rows, "after the gap");
}

#[test]
fn a_dropped_slot_is_a_gap_that_is_backfilled() {
    let db = TestDb::new("gap_dropped");
    db.psql(SETUP);
    let p = Pipeline::new(&db, &["public.t"], "[flush]\ninterval_ms = 50");
    let mut s = p.start();
    s.wait_synced(&db);
    let checkpoint = s.status().unwrap()["checkpoint_lsn"].as_str().unwrap().to_string();
    assert!(cli(&p, &["pause"]).0);
    let (ok, out) = cli(&p, &["slots", "drop", &db.name, "--yes"]);
    assert!(ok, "{out}");
    // Changes while no slot exists: no stream will ever carry them.
    db.psql("UPDATE t SET v = 'lost in the gap' WHERE id <= 20; DELETE FROM t WHERE id > 190; INSERT INTO t VALUES (500, 'new');");
    assert!(cli(&p, &["resume"]).0);
    s.wait_synced(&db);
    db.psql("UPDATE t SET v = 'after repair' WHERE id = 100");
    s.wait_synced(&db);
    assert!(s.stop().success());
    let log = p.log();
    assert!(log.contains("gap.detected") && log.contains("is missing"), "{log}");
    let ev = events(&p);
    let event =
        |name: &str| ev.iter().find(|e| e["event"] == name).cloned().unwrap_or_else(|| panic!("no {name} in {ev:?}"));
    let (detected, repaired) = (event("gap.detected"), event("gap.repaired"));
    assert_eq!(detected["window_from"], checkpoint.as_str(), "the window starts at the checkpoint");
    assert_eq!(detected["action"], "backfill");
    assert_eq!(repaired["tables"], 1, "the table was re-copied");
    assert_eq!(event("alert.fired")["alert"], "gap", "a gap always alerts (to the log without a webhook)");
    same(pg_rows(&db, "SELECT id, v FROM t ORDER BY id"), &p);
}

#[test]
fn on_gap_fail_stops_and_names_the_window() {
    let db = TestDb::new("gap_fail");
    db.psql(SETUP);
    let p = Pipeline::new(&db, &["public.t"], "[flush]\ninterval_ms = 50");
    std::fs::write(
        &p.config,
        std::fs::read_to_string(&p.config).unwrap().replace("name = \"test\"", "name = \"test\"\non_gap = \"fail\""),
    )
    .unwrap();
    let mut s = p.start();
    s.wait_synced(&db);
    let checkpoint = s.status().unwrap()["checkpoint_lsn"].as_str().unwrap().to_string();
    assert!(s.stop().success());
    db.psql(&format!("SELECT pg_drop_replication_slot('{}')", db.name));
    let mut s = p.start();
    assert_eq!(s.wait_exit(), 1);
    let log = p.log();
    assert!(log.contains(&format!("changes after {checkpoint} may be missing")), "{log}");
    assert!(log.contains("on_gap = \"backfill\""), "the error says how to repair: {log}");
}

#[test]
fn a_slot_recreated_by_someone_else_is_a_gap() {
    let db = TestDb::new("gap_recreated");
    db.psql(SETUP);
    let p = Pipeline::new(&db, &["public.t"], "[flush]\ninterval_ms = 50");
    let mut s = p.start();
    s.wait_synced(&db);
    assert!(s.stop().success());
    db.psql(&format!("SELECT pg_drop_replication_slot('{}')", db.name));
    db.psql("UPDATE t SET v = 'between drop and recreate' WHERE id % 10 = 0");
    db.psql(&format!("SELECT pg_create_logical_replication_slot('{}', 'pgoutput')", db.name));
    let mut s = p.start();
    s.wait_synced(&db);
    assert!(s.stop().success());
    assert!(p.log().contains("recreated or advanced by someone else"), "{}", p.log());
    same(pg_rows(&db, "SELECT id, v FROM t ORDER BY id"), &p);
}

#[test]
fn a_slot_invalidated_by_max_slot_wal_keep_size_is_detected_and_repaired() {
    let cluster = PgCluster::start_with(ClusterOptions {
        extra_conf: vec![
            "max_slot_wal_keep_size = '32MB'".into(),
            "max_wal_size = '64MB'".into(),
            "min_wal_size = '32MB'".into(),
        ],
        ..ClusterOptions::default()
    });
    cluster.create_database("app");
    cluster.psql("app", SETUP);
    cluster.psql("app", "CREATE TABLE noise (id bigint, pad text)");
    let p = Pipeline::for_source(&cluster.url("app"), &["public.t"], "", "[flush]\ninterval_ms = 50", "duckdb");
    let mut s = p.start();
    s.wait_status("streaming", |st| st["state"] == "streaming");
    assert!(cli(&p, &["pause"]).0);
    cluster.psql("app", "UPDATE t SET v = 'written while paused' WHERE id <= 5");
    // Far more WAL than the slot may keep, then checkpoints: the server invalidates the slot.
    for _ in 0..4 {
        cluster.psql("app", "INSERT INTO noise SELECT i, repeat(md5(i::text), 8) FROM generate_series(1, 100000) i; SELECT pg_switch_wal(); CHECKPOINT;");
    }
    let status = cluster.psql("app", "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'siphon'");
    assert_eq!(status, "lost", "the test needs an invalidated slot");
    assert!(cli(&p, &["resume"]).0);
    s.wait_past(&cluster.psql("app", "SELECT pg_logical_emit_message(true, 't', 's')"));
    assert!(s.stop().success());
    assert!(p.log().contains("wal_status = lost"), "{}", p.log());
    assert_same_rows(
        &p.duck("SELECT id::VARCHAR, v FROM public.t ORDER BY id"),
        &common::pg_rows_on(&cluster, "app", "SELECT id, v FROM t ORDER BY id"),
        "after repair",
    );
}

#[test]
fn another_server_behind_the_same_url_is_a_gap_even_with_a_slot_of_the_same_name() {
    // Server A: the pipeline's checkpoint lies well past anything server B has written.
    let a = PgCluster::start();
    a.create_database("app");
    a.psql("app", SETUP);
    a.psql(
        "app",
        "CREATE TABLE noise (pad text); INSERT INTO noise SELECT repeat('x', 500) FROM generate_series(1, 50000);",
    );
    let p = Pipeline::for_source(&a.url("app"), &["public.t"], "", "[flush]\ninterval_ms = 50", "duckdb");
    let mut s = p.start();
    s.wait_past(&a.psql("app", "SELECT pg_logical_emit_message(true, 't', 's')"));
    assert!(s.stop().success());
    // Server B (think: a restored backup behind the same DNS name) with a slot of the same name
    // whose position is before the checkpoint: only the server identity tells them apart.
    let b = PgCluster::start();
    b.create_database("app");
    b.psql("app", "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'only on b');");
    b.psql("app", "SELECT pg_create_logical_replication_slot('siphon', 'pgoutput')");
    let config = std::fs::read_to_string(&p.config).unwrap().replace(&a.url("app"), &b.url("app"));
    std::fs::write(&p.config, config).unwrap();
    let mut s = p.start();
    // Positions of two servers do not compare: wait for the repair itself first.
    s.wait_status("the gap to be repaired", |st| {
        st["last_event"]["event"] == "gap.repaired" && st["state"] == "streaming"
    });
    s.wait_past(&b.psql("app", "SELECT pg_logical_emit_message(true, 't', 's')"));
    assert!(s.stop().success());
    assert!(p.log().contains("the source server changed"), "{}", p.log());
    assert_eq!(p.duck("SELECT id::VARCHAR, v FROM public.t"), vec![vec!["1".to_string(), "only on b".into()]]);
}
