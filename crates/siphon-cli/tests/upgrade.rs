//! A real major-version upgrade (pg_upgrade 15 -> 16) under a running pipeline, following the
//! seed runbook by hand: pause, drop the slot, upgrade, resume. Writes made while no slot existed
//! are a gap that siphon detects and repairs. (The `siphon upgrade` commands are still to come.)

mod common;

use std::path::PathBuf;

use common::{assert_same_rows, pg_rows_on, Pipeline};
use siphon_testkit::PgCluster;

fn pg_bin(major: u32) -> PathBuf {
    let var = format!("SIPHON_PG{major}_BIN");
    let dir = std::env::var_os(&var).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{var} is not set: run the tests through scripts/test.sh (scripts/setup.sh fetches PostgreSQL {major})")
    });
    assert!(dir.join("pg_upgrade").is_file(), "no pg_upgrade in {}", dir.display());
    dir
}

fn pg16_bin() -> PathBuf {
    pg_bin(16)
}

use common::siphon_cli as cli;

#[test]
fn a_pg_upgrade_from_15_to_16_with_writes_in_the_window_is_detected_and_repaired() {
    let new_bin = pg16_bin();
    let mut cluster = PgCluster::start();
    assert_eq!(cluster.major_version(), 15);
    cluster.create_database("app");
    cluster.psql("app", "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 1000) i;");
    let p = Pipeline::for_source(&cluster.url("app"), &["public.t"], "", "[flush]\ninterval_ms = 50", "duckdb");
    let mut s = p.start();
    s.wait_past(
        &cluster
            .psql("app", "UPDATE t SET v = 'before' WHERE id <= 10; SELECT pg_logical_emit_message(true, 't', 's')"),
    );

    // The runbook: pause, drop the slot (PostgreSQL < 17 cannot carry it through pg_upgrade), upgrade.
    let (ok, out) = cli(&p, &["pause"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&p, &["slots", "drop", "siphon", "--yes"]);
    assert!(ok, "{out}");
    cluster.upgrade(&new_bin);
    assert_eq!(cluster.major_version(), 16);
    assert_eq!(cluster.psql("app", "SHOW server_version_num").chars().take(2).collect::<String>(), "16");
    // Application writes that did not wait for the pipeline.
    cluster.psql(
        "app",
        "UPDATE t SET v = 'during the upgrade window' WHERE id BETWEEN 100 AND 150; DELETE FROM t WHERE id > 990;",
    );

    let (ok, out) = cli(&p, &["resume"]);
    assert!(ok, "{out}");
    s.wait_past(
        &cluster.psql("app", "INSERT INTO t VALUES (5000, 'after'); SELECT pg_logical_emit_message(true, 't', 's')"),
    );
    assert!(s.stop().success());
    let log = p.log();
    assert!(log.contains("gap.detected") && log.contains("gap.repaired"), "{log}");
    assert_same_rows(
        &p.duck("SELECT id::VARCHAR, v FROM public.t ORDER BY id"),
        &pg_rows_on(&cluster, "app", "SELECT id, v FROM t ORDER BY id"),
        "after the upgrade",
    );
}

fn setup_15(rows: u32) -> (PgCluster, Pipeline, common::Siphon) {
    setup_on(PgCluster::start(), rows)
}

fn setup_on(cluster: PgCluster, rows: u32) -> (PgCluster, Pipeline, common::Siphon) {
    cluster.create_database("app");
    cluster.psql("app", &format!("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, {rows}) i;"));
    let p = Pipeline::for_source(&cluster.url("app"), &["public.t"], "", "[flush]\ninterval_ms = 50", "duckdb");
    let mut s = p.start();
    s.wait_past(&cluster.psql("app", "SELECT pg_logical_emit_message(true, 't', 's')"));
    (cluster, p, s)
}

fn same_as_source(p: &Pipeline, cluster: &PgCluster) {
    assert_same_rows(
        &p.duck("SELECT id::VARCHAR, v FROM public.t ORDER BY id"),
        &pg_rows_on(cluster, "app", "SELECT id, v FROM t ORDER BY id"),
        "after the upgrade",
    );
}

#[test]
fn upgrade_prepare_and_finish_carry_a_quiet_pipeline_from_15_to_16_without_a_backfill() {
    let new_bin = pg16_bin();
    let (mut cluster, p, mut s) = setup_15(500);
    let (ok, out) = cli(&p, &["upgrade", "prepare", "--write-check-s", "1"]);
    assert!(ok, "{out}");
    assert!(out.contains("paused") && out.contains("dropped slot") && out.contains("next steps"), "{out}");
    assert_eq!(cluster.psql("app", "SELECT count(*) FROM pg_replication_slots"), "0");
    cluster.upgrade(&new_bin);
    let (ok, out) = cli(&p, &["upgrade", "finish"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("15 -> 16") && out.contains("no backfill needed") && out.contains("source and replica agree"),
        "{out}"
    );
    s.wait_past(
        &cluster.psql("app", "UPDATE t SET v = 'after' WHERE id = 1; SELECT pg_logical_emit_message(true, 't', 's')"),
    );
    assert!(s.stop().success());
    let log = p.log();
    assert!(log.contains("upgrade.anchored"), "{log}");
    assert!(!log.contains("gap.detected"), "a verified quiet upgrade needs no backfill: {log}");
    same_as_source(&p, &cluster);
}

#[test]
fn upgrade_finish_backfills_when_tables_changed_during_the_window() {
    let new_bin = pg16_bin();
    let (mut cluster, p, s) = setup_15(300);
    let (ok, out) = cli(&p, &["upgrade", "prepare", "--write-check-s", "1"]);
    assert!(ok, "{out}");
    cluster.upgrade(&new_bin);
    cluster.psql("app", "UPDATE t SET v = 'written in the window' WHERE id <= 30; INSERT INTO t VALUES (9999, 'new');");
    let (ok, out) = cli(&p, &["upgrade", "finish"]);
    assert!(ok, "{out}");
    assert!(out.contains("tables changed during the upgrade window: public.t"), "{out}");
    assert!(s.stop().success());
    assert!(p.log().contains("gap.repaired"), "{}", p.log());
    same_as_source(&p, &cluster);
}

#[test]
fn upgrade_prepare_refuses_while_the_application_still_writes() {
    let (cluster, p, s) = setup_15(10);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, port) = (stop.clone(), cluster.port());
        let psql = cluster.bin_dir().join("psql");
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let sql =
                    format!("INSERT INTO t SELECT {i} * 1000 + g, repeat('x', 200) FROM generate_series(1, 200) g");
                let _ = std::process::Command::new(&psql)
                    .args([
                        "-X",
                        "-q",
                        "-h",
                        "127.0.0.1",
                        "-U",
                        "postgres",
                        "-p",
                        &port.to_string(),
                        "-d",
                        "app",
                        "-c",
                        &sql,
                    ])
                    .output();
            }
        })
    };
    let (ok, out) = cli(&p, &["upgrade", "prepare", "--write-check-s", "2"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert!(!ok, "{out}");
    assert!(out.contains("application writes have not stopped") && out.contains("--skip-write-check"), "{out}");
    assert_eq!(s.status().unwrap()["state"], "streaming", "a refused prepare leaves the pipeline running");
    drop(s);
}

#[test]
fn from_17_to_18_the_slot_survives_pg_upgrade_and_no_backfill_is_needed() {
    let cluster = PgCluster::start_with(siphon_testkit::ClusterOptions { bin_dir: pg_bin(17), ..Default::default() });
    assert_eq!(cluster.major_version(), 17);
    let (mut cluster, p, mut s) = setup_on(cluster, 400);
    s.wait_past(
        &cluster.psql("app", "UPDATE t SET v = 'on 17' WHERE id <= 40; SELECT pg_logical_emit_message(true, 't', 's')"),
    );
    let (ok, out) = cli(&p, &["upgrade", "prepare", "--write-check-s", "1"]);
    assert!(ok, "{out}");
    assert!(out.contains("kept slot"), "{out}");
    cluster.upgrade(&pg_bin(18));
    assert_eq!(cluster.major_version(), 18);
    assert_eq!(
        cluster.psql("app", "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'siphon'"),
        "1",
        "pg_upgrade carried the slot"
    );
    let (ok, out) = cli(&p, &["upgrade", "finish"]);
    assert!(ok, "{out}");
    assert!(out.contains("17 -> 18") && out.contains("no backfill needed") && !out.contains("created slot"), "{out}");
    s.wait_past(
        &cluster.psql("app", "INSERT INTO t VALUES (7000, 'on 18'); SELECT pg_logical_emit_message(true, 't', 's')"),
    );
    assert!(s.stop().success());
    let log = p.log();
    assert!(log.contains("upgrade.anchored") && !log.contains("gap.detected"), "{log}");
    same_as_source(&p, &cluster);
}
