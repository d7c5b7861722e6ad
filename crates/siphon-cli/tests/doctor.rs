//! `siphon doctor` reports every problem at once, each with expected, actual and the fix.

mod common;

use common::Pipeline;
use siphon_testkit::{ClusterOptions, PgCluster, TestDb};

fn doctor(p: &Pipeline, json: bool) -> (bool, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_siphon"));
    cmd.args(["doctor", "--config"]).arg(&p.config);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn doctor_lists_wal_level_missing_replication_and_a_keyless_table_together() {
    let cluster = PgCluster::start_with(ClusterOptions {
        extra_conf: vec!["wal_level = replica".into()],
        ..ClusterOptions::default()
    });
    cluster.create_database("app");
    cluster.psql(
        "app",
        "CREATE ROLE app LOGIN; CREATE TABLE orders (id int PRIMARY KEY); CREATE TABLE events (at timestamptz, what text);
         GRANT SELECT ON orders, events TO app;",
    );
    let url = cluster.url("app").replace("postgres@", "app@");
    let p = Pipeline::for_source(&url, &["public.orders", "public.events"], "", "", "null");
    let (ok, out) = doctor(&p, true);
    assert!(!ok, "doctor must fail: {out}");
    let json = &out[..out.rfind(']').unwrap() + 1];
    let findings: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
    let get =
        |check: &str| findings.iter().find(|f| f["check"] == check).unwrap_or_else(|| panic!("no {check} in {out}"));
    assert_eq!(get("wal_level")["severity"], "fail");
    assert_eq!(get("wal_level")["actual"], "replica");
    assert!(get("wal_level")["fix"].as_str().unwrap().contains("wal_level = logical"));
    assert_eq!(get("role app REPLICATION")["severity"], "fail");
    assert!(get("role app REPLICATION")["fix"].as_str().unwrap().contains("ALTER ROLE"));
    assert_eq!(get("table public.events key")["severity"], "fail");
    assert_eq!(get("table public.events key")["actual"], "no primary key");
    assert_eq!(get("table public.orders key")["severity"], "ok");
    assert_eq!(get("table public.orders SELECT")["severity"], "ok");
    for f in &findings {
        assert!(f["expected"].as_str().is_some() && f["actual"].as_str().is_some(), "{f}");
    }
    let (ok, text) = doctor(&p, false);
    assert!(!ok);
    assert!(text.contains("FAIL  wal_level") && text.contains("3 check(s) failed"), "{text}");
}

#[test]
fn doctor_passes_on_a_ready_source() {
    let db = TestDb::new("doctor_ok");
    db.psql("CREATE TABLE t (id int PRIMARY KEY)");
    let p = Pipeline::new(&db, &["public.t"], "");
    let (ok, out) = doctor(&p, false);
    assert!(ok, "{out}");
    assert!(out.contains("ok    wal_level") && out.contains("all checks passed"), "{out}");
    assert!(out.contains("WARN  publication"), "the publication does not exist yet: {out}");
}
