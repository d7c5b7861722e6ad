//! An idle pipeline must not make the server retain WAL written for other tables: siphon confirms
//! the server's position on keepalives when it has nothing pending.

mod common;

use std::time::Duration;

use common::Pipeline;
use siphon_testkit::{wait_for, TestDb};

fn retained(db: &TestDb) -> i64 {
    db.psql(&format!(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::int8 FROM pg_replication_slots WHERE slot_name = '{}'",
        db.name
    ))
    .parse()
    .unwrap()
}

#[test]
fn writes_to_unreplicated_tables_do_not_pile_up_wal_behind_the_slot() {
    let db = TestDb::new("heartbeat");
    db.psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1); CREATE TABLE other (pad text);");
    let p = Pipeline::new(&db, &["public.t"], "");
    let mut s = p.start();
    s.wait_synced(&db);
    let checkpoint = s.checkpoint().unwrap();
    // About 60 MB of WAL for a table the pipeline does not replicate.
    for _ in 0..6 {
        db.psql("INSERT INTO other SELECT repeat(md5(i::text), 16) FROM generate_series(1, 20000) i");
    }
    // The slot follows the server although no replicated change arrived.
    let settled = wait_for("the slot to confirm past the unreplicated writes", Duration::from_secs(60), || {
        let r = retained(&db);
        (r < 1024 * 1024).then_some(r)
    });
    assert!(settled < 1024 * 1024);
    assert_eq!(s.checkpoint(), Some(checkpoint), "nothing replicated changed, so no destination commit was needed");
    let recorded = std::fs::read_to_string(p.dir.path().join("state/confirmed_lsn")).unwrap();
    assert!(
        common::parse_lsn(recorded.trim()).unwrap() > checkpoint,
        "the confirmation was recorded before it was sent"
    );
    assert!(s.stop().success());

    // And a restart afterwards is not mistaken for a slot advanced by someone else.
    let mut s = p.start();
    s.wait_synced(&db);
    assert!(s.stop().success());
    assert!(!p.log().contains("gap.detected"), "{}", p.log());
}
