//! kill -9 at any moment loses nothing and applies nothing twice; reconnects survive server
//! restarts; memory stays bounded for a huge transaction.

mod common;

use common::{assert_same_rows, pg_rows, Pipeline};
use siphon_testkit::{PgCluster, TestDb};

fn bank_pg(db: &TestDb) -> Vec<Vec<String>> {
    let mut rows = pg_rows(db, "SELECT 'a', id, balance FROM accounts ORDER BY id");
    rows.extend(pg_rows(db, "SELECT 'l', id, account, delta FROM ledger ORDER BY id"));
    rows.extend(pg_rows(db, "SELECT 's', id, n FROM seq"));
    rows
}

fn bank_duck(p: &Pipeline) -> Vec<Vec<String>> {
    let mut rows = p.duck("SELECT 'a', id::VARCHAR, balance::VARCHAR FROM public.accounts ORDER BY id");
    rows.extend(p.duck("SELECT 'l', id::VARCHAR, account::VARCHAR, delta::VARCHAR FROM public.ledger ORDER BY id"));
    rows.extend(p.duck("SELECT 's', id::VARCHAR, n::VARCHAR FROM public.seq"));
    rows
}

/// What every committed destination state must satisfy: a prefix of the source's transactions.
fn assert_consistent_prefix(p: &Pipeline) {
    let r = p.duck(
        "SELECT (SELECT sum(balance) FROM public.accounts)::VARCHAR, (SELECT count(*) FROM public.ledger)::VARCHAR,
                (SELECT n FROM public.seq)::VARCHAR, (SELECT coalesce(sum(delta), 0) FROM public.ledger)::VARCHAR",
    );
    let (sum, legs, n, net) = (&r[0][0], r[0][1].parse::<u64>().unwrap(), r[0][2].parse::<u64>().unwrap(), &r[0][3]);
    assert_eq!(sum, "50000", "money is neither created nor lost: no half transaction is visible");
    assert_eq!(net, "0");
    assert_eq!(legs, 2 * n, "each applied transfer has exactly its two legs: nothing applied twice or half");
}

#[test]
fn kill_9_during_streaming_loses_nothing_and_duplicates_nothing() {
    let db = TestDb::new("kill_stream");
    db.psql(common::BANK);
    let p = Pipeline::new(
        &db,
        &["public.accounts", "public.ledger", "public.seq"],
        "[flush]\ninterval_ms = 20\nmax_rows = 7",
    );
    let mut s = p.start();
    s.wait_status("streaming", |st| st["state"] == "streaming");
    let writer = {
        let url_db = db.name.clone();
        let cluster = db.cluster;
        std::thread::spawn(move || {
            for round in 0..20 {
                cluster.psql(&url_db, &common::transfers(50, round * 50));
            }
        })
    };
    // Kill siphon repeatedly while the writer runs, each time after it committed something new.
    for _ in 0..6 {
        let before = s.status().and_then(|st| st["commits"].as_u64()).unwrap_or(0);
        s.wait_status("a few more commits", |st| st["commits"].as_u64().unwrap_or(0) >= before + 3);
        s.kill9();
        assert_consistent_prefix(&p);
        s = p.start();
    }
    writer.join().unwrap();
    s.wait_synced(&db);
    assert!(s.stop().success());
    assert_consistent_prefix(&p);
    assert_same_rows(&bank_duck(&p), &bank_pg(&db), "bank tables after 6 kill -9");
    assert_eq!(p.duck("SELECT n::VARCHAR FROM public.seq"), vec![vec!["1000".to_string()]]);
}

#[test]
fn kill_9_during_the_snapshot_then_restart_gives_an_exact_copy() {
    let db = TestDb::new("kill_snapshot");
    db.psql("CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT i, md5(i::text) FROM generate_series(1, 300000) i;");
    // Small chunks so the snapshot reports progress long before it ends.
    let p = Pipeline::new(&db, &["public.big"], "[flush]\nmax_bytes = 65536");
    let mut s = p.start();
    s.wait_status("the snapshot to be under way", |st| {
        st["state"] == "snapshotting" && st["snapshot_rows"].as_u64().unwrap_or(0) > 1000
    });
    s.kill9();
    db.psql("UPDATE big SET v = 'changed after the crash' WHERE id % 1000 = 0; DELETE FROM big WHERE id > 299000;");
    let mut s = p.start();
    s.wait_synced(&db);
    assert!(s.stop().success());
    assert!(p.log().contains("resuming from checkpoint"), "the interrupted snapshot resumes on its slot");
    assert!(!p.log().contains("recreating it"), "the slot is kept");
    let duck = p.duck("SELECT count(*)::VARCHAR, sum(hash(id, v))::VARCHAR FROM public.big");
    let n = pg_rows(&db, "SELECT count(*) FROM big");
    assert_eq!(duck[0][0], n[0][0]);
    assert_same_rows(
        &p.duck("SELECT id::VARCHAR, v FROM public.big WHERE id % 1000 = 0 OR id > 298990 ORDER BY id"),
        &pg_rows(&db, "SELECT id, v FROM big WHERE id % 1000 = 0 OR id > 298990 ORDER BY id"),
        "changed rows",
    );
}

#[test]
fn reconnects_with_backoff_when_the_server_restarts() {
    let mut cluster = PgCluster::start();
    cluster.create_database("app");
    cluster.psql("app", "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 1);");
    let p = Pipeline::for_source(
        &cluster.url("app"),
        &["public.t"],
        "reconnect_max_backoff_s = 2",
        "[flush]\ninterval_ms = 50",
        "duckdb",
    );
    let mut s = p.start();
    s.wait_status("streaming", |st| st["state"] == "streaming");
    cluster.restart();
    cluster.psql("app", "INSERT INTO t VALUES (2, 2); UPDATE t SET v = 10 WHERE id = 1;");
    s.wait_past(&cluster.psql("app", "SELECT pg_logical_emit_message(true, 't', 'sync')"));
    assert!(s.stop().success());
    assert!(p.log().contains("reconnecting"), "{}", p.log());
    let rows = p.duck("SELECT id::VARCHAR, v::VARCHAR FROM public.t ORDER BY id");
    assert_eq!(rows, vec![vec!["1".to_string(), "10".into()], vec!["2".into(), "2".into()]]);
}

#[test]
fn a_million_row_transaction_replicates_in_bounded_memory() {
    let db = TestDb::new("million");
    db.psql("CREATE TABLE m (id int PRIMARY KEY, a int, b text, c timestamptz);");
    let p = Pipeline::new(&db, &["public.m"], "");
    let mut s = p.start();
    s.wait_status("streaming", |st| st["state"] == "streaming");
    db.psql("INSERT INTO m SELECT i, i % 1000, md5(i::text), now() FROM generate_series(1, 1000000) i");
    s.wait_synced(&db);
    let peak_mib = s.peak_rss_kib() / 1024;
    assert!(s.stop().success());
    eprintln!("peak RSS for a 1M-row transaction: {peak_mib} MiB");
    assert!(peak_mib < 300, "peak RSS {peak_mib} MiB must stay under 300 MiB");
    let duck = p.duck("SELECT count(*)::VARCHAR, sum(a)::VARCHAR, count(DISTINCT b)::VARCHAR FROM public.m");
    assert_eq!(duck, vec![vec!["1000000".to_string(), "499500000".into(), "1000000".into()]]);
}
