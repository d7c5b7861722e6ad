//! `siphon slots list` and `siphon slots drop` against a real server.

mod common;

use common::Pipeline;
use siphon_testkit::TestDb;

use common::siphon_cli as cli;

#[test]
fn slots_are_listed_with_their_owner_and_dropped_only_when_safe() {
    let db = TestDb::new("slots");
    db.psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10);");
    // A slot of some other consumer, inactive.
    let other = format!("{}_other", db.name);
    db.psql(&format!("SELECT pg_create_logical_replication_slot('{other}', 'pgoutput')"));
    let p = Pipeline::new(&db, &["public.t"], "[flush]\ninterval_ms = 50");
    let mut s = p.start();
    s.wait_synced(&db);

    let (ok, out) = cli(&p, &["slots", "list", "--json"]);
    assert!(ok, "{out}");
    let slots: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let own = slots.iter().find(|s| s["slot_name"] == db.name.as_str()).expect("own slot listed");
    assert_eq!(own["active"], true);
    assert_eq!(own["plugin"], "pgoutput");
    assert_eq!(own["pipeline"], "test");
    assert_eq!(own["wal_status"], "reserved");
    assert!(own["retained_wal_bytes"].as_i64().is_some());
    let theirs = slots.iter().find(|s| s["slot_name"] == other.as_str()).expect("other slot listed");
    assert_eq!(theirs["pipeline"], serde_json::Value::Null);
    let (ok, out) = cli(&p, &["slots", "list"]);
    assert!(ok && out.contains("retained") && out.contains(&db.name), "{out}");

    // Active: refused, even with --force.
    let (ok, out) = cli(&p, &["slots", "drop", &db.name, "--force", "--yes"]);
    assert!(!ok && out.contains("is active"), "{out}");
    // Stopped but not paused: refused without --force.
    assert!(s.stop().success());
    let (ok, out) = cli(&p, &["slots", "drop", &db.name, "--yes"]);
    assert!(!ok && out.contains("not paused") && out.contains("siphon pause"), "{out}");
    // Paused: without --yes it only says what it costs.
    let (ok, out) = cli(&p, &["pause"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&p, &["slots", "drop", &db.name]);
    assert!(!ok && out.contains("releases") && out.contains("backfilled") && out.contains("--yes"), "{out}");
    assert!(db.psql(&format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{}'", db.name)) == "1");
    let (ok, out) = cli(&p, &["slots", "drop", &db.name, "--yes"]);
    assert!(ok && out.contains("dropped"), "{out}");
    assert_eq!(db.psql(&format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{}'", db.name)), "0");
    // Another consumer's inactive slot needs no pause of ours.
    let (ok, out) = cli(&p, &["slots", "drop", &other, "--yes"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&p, &["slots", "drop", "no_such_slot", "--yes"]);
    assert!(!ok && out.contains("does not exist"), "{out}");
}
