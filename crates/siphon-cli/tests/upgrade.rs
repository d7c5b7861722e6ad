//! A real major-version upgrade (pg_upgrade 15 -> 16) under a running pipeline, following the
//! seed runbook by hand: pause, drop the slot, upgrade, resume. Writes made while no slot existed
//! are a gap that siphon detects and repairs. (The `siphon upgrade` commands are still to come.)

mod common;

use std::path::PathBuf;

use common::{assert_same_rows, pg_rows_on, Pipeline};
use siphon_testkit::PgCluster;

fn pg16_bin() -> PathBuf {
    let dir = std::env::var_os("SIPHON_PG16_BIN").map(PathBuf::from).expect(
        "SIPHON_PG16_BIN is not set: run the tests through scripts/test.sh (scripts/setup.sh fetches PostgreSQL 16)",
    );
    assert!(dir.join("pg_upgrade").is_file(), "no pg_upgrade in {}", dir.display());
    dir
}

fn cli(p: &Pipeline, args: &[&str]) -> (bool, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_siphon"));
    let verbs = if args[0] == "slots" { 2 } else { 1 };
    cmd.args(&args[..verbs]).arg("--config").arg(&p.config).args(&args[verbs..]);
    let out = cmd.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

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
