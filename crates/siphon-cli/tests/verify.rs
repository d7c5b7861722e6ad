//! `siphon verify` and `--repair`: through the running daemon and on the file, exact while the
//! pipeline streams, and repairs that converge while writes continue.

mod common;

use std::path::Path;

use common::{assert_same_rows, pg_rows, Pipeline};
use siphon_testkit::TestDb;

/// A table with a value of every kind verification must compare exactly, some of them NULL; a
/// composite text key (bytewise keyset chunks); a numeric key (compared whole).
const TYPES: &str = "
    CREATE TABLE t (id int PRIMARY KEY, amount numeric(12,2), big numeric, at timestamptz, raw bytea,
                    doc jsonb, tags text[], f float8, note text);
    INSERT INTO t SELECT i,
        CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.25 END,
        CASE WHEN i % 5 = 0 THEN NULL ELSE (i::numeric ^ 12) + 0.000001 END,
        CASE WHEN i % 11 = 0 THEN NULL ELSE timestamptz '2024-02-29 12:34:56.789+02' + i * interval '1 hour' END,
        CASE WHEN i % 3 = 0 THEN NULL ELSE decode(lpad(to_hex(i), 8, '0'), 'hex') END,
        CASE WHEN i % 4 = 0 THEN NULL ELSE jsonb_build_object('i', i, 'nested', jsonb_build_array(i, 'x', NULL)) END,
        CASE WHEN i % 6 = 0 THEN NULL ELSE ARRAY['a' || i, NULL, 'quote\"d, {b}'] END,
        CASE WHEN i = 1 THEN 'NaN'::float8 WHEN i = 2 THEN '-Infinity' ELSE i / 3.0 END,
        CASE WHEN i % 2 = 0 THEN NULL ELSE repeat('n', i) END
    FROM generate_series(1, 300) i;
    CREATE TABLE k (region text, n int, v text, PRIMARY KEY (region, n));
    INSERT INTO k SELECT r, n, r || n FROM unnest(ARRAY['Zürich', 'zebra', 'Apple', 'apple', 'été']) r,
        generate_series(1, 30) n;
    CREATE TABLE u (id numeric PRIMARY KEY, v text);
    INSERT INTO u SELECT (i / 4.0)::numeric(10, 2), 'u' || i FROM generate_series(1, 50) i;";

const TABLES: [&str; 3] = ["public.t", "public.k", "public.u"];

/// `siphon verify --json [args]`: (exit code, report).
fn verify(p: &Pipeline, args: &[&str]) -> (i32, serde_json::Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_siphon"))
        .args(["verify", "--config"])
        .arg(&p.config)
        .args(["--json", "--chunk-rows", "40"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let code = out.status.code().unwrap_or(-1);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|_| {
        panic!("verify exited {code} without a JSON report:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    (code, report)
}

fn table<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["verified"]["tables"].as_array().unwrap().iter().find(|t| t["table"] == name).unwrap()
}

fn keys(t: &serde_json::Value, kind: &str) -> serde_json::Value {
    t["samples"][kind].clone()
}

/// Changes the replica behind siphon's back (only while no daemon holds the file).
fn tamper(path: &Path, sql: &str) {
    duckdb::Connection::open(path).unwrap().execute_batch(sql).unwrap();
}

const TAMPER: &str = "DELETE FROM public.t WHERE id = 10;
    INSERT INTO public.t (id, note) VALUES (1000, 'only in the replica');
    UPDATE public.t SET amount = '99.99' WHERE id = 20;
    UPDATE public.t SET tags = {'elements': ['a21', NULL], 'lengths': [2], 'lower_bounds': [1]} WHERE id = 21;
    UPDATE public.k SET v = 'changed' WHERE region = 'été' AND n = 3;
    DELETE FROM public.u WHERE id = '2.50';";

fn assert_tampering_found(report: &serde_json::Value) {
    let t = table(report, "public.t");
    assert_eq!(
        (t["missing"].as_u64(), t["extra"].as_u64(), t["different"].as_u64()),
        (Some(1), Some(1), Some(2)),
        "{t}"
    );
    assert_eq!(keys(t, "missing"), serde_json::json!([["10"]]));
    assert_eq!(keys(t, "extra"), serde_json::json!([["1000"]]));
    assert_eq!(keys(t, "different"), serde_json::json!([["20"], ["21"]]));
    let k = table(report, "public.k");
    assert_eq!(keys(k, "different"), serde_json::json!([["été", "3"]]), "{k}");
    assert!(k["chunks"].as_u64().unwrap() > 1, "k is read in keyset chunks: {k}");
    let u = table(report, "public.u");
    assert_eq!(keys(u, "missing"), serde_json::json!([["2.50"]]), "{u}");
    assert_eq!(u["chunks"], 1, "a numeric key is compared whole: {u}");
}

fn events(p: &Pipeline) -> String {
    std::fs::read_to_string(p.dir.path().join("state/events.jsonl")).unwrap_or_default()
}

#[test]
fn verify_finds_missing_extra_and_different_rows_and_repair_fixes_them() {
    let db = TestDb::new("verify_find");
    db.psql(TYPES);
    let p = Pipeline::new(&db, &TABLES, "[flush]\ninterval_ms = 20");
    let mut s = p.start();
    s.wait_synced(&db);

    let (code, report) = verify(&p, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["equal"], true);
    assert_eq!(report["verified"]["pipeline"], "streaming");
    let t = table(&report, "public.t");
    assert_eq!(
        (t["source_rows"].as_u64(), t["replica_rows"].as_u64(), t["chunks"].as_u64()),
        (Some(300), Some(300), Some(8))
    );

    // Tamper with the replica while the daemon is stopped.
    assert!(s.stop().success());
    tamper(&p.duckdb, TAMPER);
    // No daemon: verify reads the file.
    let (code, report) = verify(&p, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!((&report["verified"]["pipeline"], &report["equal"]), (&"stopped".into(), &false.into()));
    assert_tampering_found(&report);
    // Through the daemon, the same.
    let mut s = p.start();
    s.wait_synced(&db);
    let (code, report) = verify(&p, &[]);
    assert_eq!((code, &report["equal"]), (1, &false.into()), "{report}");
    assert_tampering_found(&report);
    // Only the tables named.
    let (code, report) = verify(&p, &["public.k"]);
    assert_eq!((code, report["verified"]["tables"].as_array().unwrap().len()), (1, 1), "{report}");

    let (code, report) = verify(&p, &["--repair"]);
    assert_eq!((code, &report["equal"]), (0, &true.into()), "equal after the repair: {report}");
    assert_tampering_found(&report);
    let repaired = &report["repair"]["tables"];
    let t = repaired.as_array().unwrap().iter().find(|r| r["table"] == "public.t").unwrap();
    assert_eq!((t["keys"].as_u64(), t["rows_copied"].as_u64()), (Some(4), Some(3)), "{report}");
    assert!(report["repair"]["after"]["tables"].as_array().unwrap().iter().all(|t| t["equal"] == true), "{report}");
    assert_eq!(s.status().unwrap()["state"], "streaming", "the pipeline was resumed after the repair");

    let (code, report) = verify(&p, &[]);
    assert_eq!(code, 0, "{report}");
    let ev = events(&p);
    assert!(ev.contains("\"event\":\"verify.mismatch\"") && ev.contains("\"event\":\"verify.repaired\""), "{ev}");
    assert!(s.stop().success());
    assert_eq!(p.duck("SELECT count(*)::VARCHAR FROM public.t WHERE id = 1000"), vec![vec!["0".to_string()]]);
}

#[test]
fn a_stopped_pipeline_is_verified_across_the_changes_it_has_not_applied_and_repaired_offline() {
    let db = TestDb::new("verify_stopped");
    db.psql(TYPES);
    let p = Pipeline::new(&db, &TABLES, "[flush]\ninterval_ms = 20");
    let mut s = p.start();
    s.wait_synced(&db);
    assert!(s.stop().success());

    // The source moves on while the pipeline is stopped: that is lag, not a difference. (Rows
    // these changes rewrite whole would be healed by them, so the tampering below avoids them.)
    db.psql(
        "UPDATE t SET amount = amount + 1 WHERE id BETWEEN 100 AND 150; DELETE FROM t WHERE id BETWEEN 60 AND 69;
             INSERT INTO t (id, note) VALUES (500, 'new'); UPDATE k SET v = 'moved' WHERE n = 7;
             INSERT INTO u VALUES (1000.5, 'new');",
    );
    let (code, report) = verify(&p, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["verified"]["pipeline"], "stopped");
    assert!(report["verified"]["changes_bridged"].as_u64().unwrap() >= 60, "{report}");

    tamper(&p.duckdb, TAMPER);
    let (code, report) = verify(&p, &["--repair"]);
    assert_eq!(code, 0, "{report}");
    assert_tampering_found(&report);
    let (code, report) = verify(&p, &[]);
    assert_eq!(code, 0, "{report}");

    // The pipeline then streams the changes it had not applied on top of the repaired rows.
    let mut s = p.start();
    s.wait_synced(&db);
    assert!(s.stop().success());
    assert_same_rows(
        &p.duck("SELECT id::VARCHAR, amount::VARCHAR, coalesce(note, 'NULL') FROM public.t ORDER BY id"),
        &pg_rows(&db, "SELECT id, amount, note FROM t ORDER BY id"),
        "t after the repair and the replay",
    );
}

#[test]
fn verify_while_writes_stream_reports_no_false_differences() {
    let db = TestDb::new("verify_load");
    db.psql(common::BANK);
    let p = Pipeline::new(
        &db,
        &["public.accounts", "public.ledger", "public.seq"],
        "[flush]\ninterval_ms = 20\nmax_rows = 50",
    );
    let mut s = p.start();
    s.wait_synced(&db);
    let (name, cluster) = (db.name.clone(), db.cluster);
    let writer = std::thread::spawn(move || {
        for round in 0..30 {
            cluster.psql(&name, &common::transfers(50, round * 50));
        }
    });
    let mut runs = 0;
    let mut bridged = 0;
    while !writer.is_finished() || runs < 2 {
        let (code, report) = verify(&p, &[]);
        assert_eq!(code, 0, "a verification under load found differences: {report}");
        bridged += report["verified"]["changes_bridged"].as_u64().unwrap();
        runs += 1;
    }
    writer.join().unwrap();
    assert!(bridged > 0, "verifications ran while changes were applied ({runs} runs)");
    s.wait_synced(&db);
    let (code, report) = verify(&p, &[]);
    assert_eq!(code, 0, "{report}");
    assert!(s.stop().success());
}

#[test]
fn repair_while_writes_stream_converges() {
    let db = TestDb::new("verify_repair_load");
    // Notes stored out of line (TOAST): an UPDATE of `v` leaves them out of the change, so the
    // pipeline applies it as a partial update, which heals neither a missing row nor a wrong note.
    db.psql(
        "CREATE TABLE t (id int PRIMARY KEY, v bigint NOT NULL, note text);
             ALTER TABLE t ALTER note SET STORAGE EXTERNAL;
             INSERT INTO t SELECT i, 0, repeat(chr(65 + i % 26), 3000) FROM generate_series(1, 200) i;",
    );
    let p = Pipeline::new(&db, &["public.t"], "[flush]\ninterval_ms = 20");
    let mut s = p.start();
    s.wait_synced(&db);
    assert!(s.stop().success());
    // Broken rows that the writes below keep touching: deleted, changed, and an extra one.
    tamper(
        &p.duckdb,
        "DELETE FROM public.t WHERE id IN (1, 2, 3); UPDATE public.t SET note = 'wrong' WHERE id IN (4, 5);
                       INSERT INTO public.t VALUES (999, 0, 'extra');",
    );
    let mut s = p.start();
    s.wait_synced(&db);
    let (name, cluster) = (db.name.clone(), db.cluster);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut round = 0;
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            // Hot rows, broken ones among them.
            let sql: String = (0..20)
                .map(|i| format!("UPDATE t SET v = v + 1 WHERE id IN (1, 4, {}); ", (round * 20 + i) % 200 + 1))
                .collect();
            cluster.psql(&name, &sql);
            round += 1;
        }
    });
    let (code, report) = verify(&p, &["--repair"]);
    assert_eq!(code, 0, "{report}");
    let t = table(&report, "public.t");
    assert_eq!(
        (t["missing"].as_u64(), t["extra"].as_u64(), t["different"].as_u64()),
        (Some(3), Some(1), Some(2)),
        "{t}"
    );
    let (code, report) = verify(&p, &[]);
    assert_eq!(code, 0, "{report}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    s.wait_synced(&db);
    assert!(s.stop().success());
    assert_same_rows(
        &p.duck("SELECT id::VARCHAR, v::VARCHAR, md5(note) FROM public.t ORDER BY id"),
        &pg_rows(&db, "SELECT id, v, md5(note) FROM t ORDER BY id"),
        "after the repair under load",
    );
    let ev = events(&p);
    assert!(ev.contains("\"event\":\"pipeline.paused\"") && ev.contains("\"event\":\"pipeline.resumed\""), "{ev}");
}

#[test]
fn verify_errors_exit_2_with_a_hint() {
    let db = TestDb::new("verify_errors");
    db.psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);");
    let p = Pipeline::new(&db, &["public.t"], "");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_siphon"))
        .args(["verify", "--config"])
        .arg(&p.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist") && err.contains("hint: run `siphon run` first"), "{err}");
    let mut s = p.start();
    s.wait_synced(&db);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_siphon"))
        .args(["verify", "--config"])
        .arg(&p.config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("ok    public.t: equal (1 row, 1 chunk)\nsource at "), "{text}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_siphon"))
        .args(["verify", "public.nope", "--config"])
        .arg(&p.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("table public.nope is not replicated"), "{err}");
    assert!(!err.contains(&db.url()), "no secrets in errors: {err}");
    assert!(s.stop().success());
}
