//! Pause and resume: the slot is released while paused, the pause survives restarts, and writes
//! made meanwhile arrive after resume.

mod common;

use common::{assert_same_rows, pg_rows, Pipeline};
use siphon_testkit::TestDb;

fn cli(p: &Pipeline, verb: &str) -> (bool, String) {
    common::siphon_cli(p, &[verb])
}

fn slot_active(db: &TestDb) -> String {
    db.psql(&format!("SELECT active FROM pg_replication_slots WHERE slot_name = '{}'", db.name))
}

fn rows(db: &TestDb, p: &Pipeline) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    (p.duck("SELECT id::VARCHAR, v FROM public.t ORDER BY id"), pg_rows(db, "SELECT id, v FROM t ORDER BY id"))
}

#[test]
fn pause_releases_the_slot_survives_a_restart_and_resume_delivers_what_was_written_meanwhile() {
    let db = TestDb::new("pause");
    db.psql(
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 100) i;",
    );
    let p = Pipeline::new(&db, &["public.t"], "[flush]\ninterval_ms = 50");
    let mut s = p.start();
    s.wait_status("streaming", |st| st["state"] == "streaming");
    db.psql("UPDATE t SET v = 'before pause' WHERE id <= 10");
    s.wait_synced(&db);
    assert_eq!(slot_active(&db), "t");

    let (ok, out) = cli(&p, "pause");
    assert!(ok && out.contains("state       paused"), "{out}");
    assert_eq!(slot_active(&db), "f", "a paused pipeline holds no replication connection");
    let checkpoint = s.checkpoint().unwrap();
    let confirmed =
        db.psql(&format!("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{}'", db.name));
    assert!(
        common::parse_lsn(&confirmed).unwrap() >= checkpoint,
        "the slot was confirmed up to the checkpoint before release"
    );

    db.psql("INSERT INTO t VALUES (1000, 'while paused'); DELETE FROM t WHERE id = 50; UPDATE t SET v = 'changed while paused' WHERE id = 60;");
    // The pause survives a restart of the daemon.
    assert!(s.stop().success());
    let mut s = p.start();
    s.wait_status("paused after restart", |st| st["state"] == "paused");
    assert_eq!(slot_active(&db), "f");
    let (ok, out) = cli(&p, "status");
    assert!(ok && out.contains("paused") && out.contains("lag ") && out.contains("wal_status"), "{out}");
    assert!(!out.contains("checkpoint  null"), "a paused pipeline still shows its checkpoint: {out}");

    let (ok, out) = cli(&p, "resume");
    assert!(ok && !out.contains("state       paused"), "{out}");
    s.wait_synced(&db);
    assert_eq!(slot_active(&db), "t");
    assert!(s.stop().success());
    let (duck, pg) = rows(&db, &p);
    assert_same_rows(&duck, &pg, "after resume");
    assert!(duck.contains(&vec!["1000".to_string(), "while paused".into()]));
    let events = std::fs::read_to_string(p.dir.path().join("state/events.jsonl")).unwrap();
    for e in ["pipeline.started", "pipeline.paused", "pipeline.resumed"] {
        assert!(events.contains(&format!("\"event\":\"{e}\"")), "{e} missing: {events}");
    }
}

#[test]
fn pausing_a_stopped_pipeline_makes_it_start_paused() {
    let db = TestDb::new("pause_offline");
    db.psql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a');");
    let p = Pipeline::new(&db, &["public.t"], "[flush]\ninterval_ms = 50");
    let mut s = p.start();
    s.wait_synced(&db);
    assert!(s.stop().success());

    let (ok, out) = cli(&p, "pause");
    assert!(ok && out.contains("will start paused"), "{out}");
    db.psql("INSERT INTO t VALUES (2, 'b')");
    let mut s = p.start();
    s.wait_status("starts paused", |st| st["state"] == "paused");
    assert_eq!(slot_active(&db), "f");
    let (ok, out) = cli(&p, "resume");
    assert!(ok, "{out}");
    s.wait_synced(&db);
    assert!(s.stop().success());
    let (duck, pg) = rows(&db, &p);
    assert_same_rows(&duck, &pg, "after resume");
}
