//! End-to-end replication from a real PostgreSQL into DuckDB through the `siphon` binary.

mod common;

use common::{pg_rows, Pipeline};
use siphon_testkit::TestDb;

const ORDERS: &str =
    "CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), note text);";

fn orders_pg(db: &TestDb) -> Vec<Vec<String>> {
    pg_rows(db, "SELECT id, customer, amount, note FROM orders ORDER BY id")
}

fn orders_duck(p: &Pipeline) -> Vec<Vec<String>> {
    p.duck("SELECT id::VARCHAR, customer, amount::VARCHAR, note FROM public.orders ORDER BY id")
}

#[test]
fn snapshot_then_every_dml_kind_including_key_updates_and_truncate() {
    let db = TestDb::new("dml");
    db.psql(ORDERS);
    db.psql("INSERT INTO orders SELECT i, 'c' || i, i * 1.25, NULL FROM generate_series(1, 500) i");
    let p = Pipeline::new(&db, &["public.orders"], "[flush]\ninterval_ms = 100");
    let mut s = p.start();
    s.wait_status("the snapshot to be committed", |st| st["state"] == "streaming");

    db.psql("INSERT INTO orders VALUES (1001, 'new', 9.99, 'tab\there, quote '' and newline\nend')");
    db.psql("UPDATE orders SET amount = amount + 1 WHERE id <= 10");
    db.psql("UPDATE orders SET id = 2001 WHERE id = 20"); // primary-key change
    db.psql("DELETE FROM orders WHERE id BETWEEN 30 AND 39");
    db.psql("BEGIN; INSERT INTO orders VALUES (3001, 'x', 1, NULL); UPDATE orders SET note = 'then updated' WHERE id = 3001; DELETE FROM orders WHERE id = 3001; INSERT INTO orders VALUES (3001, 'y', 2, 'reinserted'); COMMIT;");
    s.wait_synced(&db);
    assert!(s.stop().success());
    common::assert_same_rows(&orders_duck(&p), &orders_pg(&db), "orders");
    assert_eq!(orders_duck(&p).len(), 492);

    // TRUNCATE, then new rows in the same transaction.
    let mut s = p.start();
    db.psql("BEGIN; TRUNCATE orders; INSERT INTO orders VALUES (1, 'after truncate', 1, NULL); COMMIT;");
    s.wait_synced(&db);
    assert!(s.stop().success());
    assert_eq!(orders_duck(&p), vec![vec!["1".to_string(), "after truncate".into(), "1.00".into(), "NULL".into()]]);
}

#[test]
fn restart_with_nothing_new_changes_nothing() {
    let db = TestDb::new("idle_restart");
    db.psql(ORDERS);
    db.psql("INSERT INTO orders SELECT i, 'c', i, NULL FROM generate_series(1, 100) i");
    let p = Pipeline::new(&db, &["public.orders"], "");
    let mut s = p.start();
    s.wait_synced(&db);
    let before = s.checkpoint().unwrap();
    assert!(s.stop().success());
    let rows = orders_duck(&p);

    let mut s = p.start();
    let st = s.wait_status("streaming after restart", |st| st["state"] == "streaming");
    assert_eq!(st["snapshot_rows"], 0, "a restart must not snapshot again");
    assert_eq!(common::parse_lsn(st["checkpoint_lsn"].as_str().unwrap()), Some(before));
    assert!(s.stop().success());
    assert_eq!(orders_duck(&p), rows);
    assert!(p.log().contains("resuming from checkpoint"));
}

#[test]
fn a_multi_table_transaction_lands_in_one_destination_commit() {
    let db = TestDb::new("atomic");
    db.psql("CREATE TABLE a (id int PRIMARY KEY, v int); CREATE TABLE b (id int PRIMARY KEY, v int);");
    db.psql("INSERT INTO a VALUES (1, 100); INSERT INTO b VALUES (1, 0);");
    // A tiny max_rows forces the transaction to reach DuckDB in several pieces before its commit.
    let p = Pipeline::new(&db, &["public.a", "public.b"], "[flush]\ninterval_ms = 50\nmax_rows = 3");
    let mut s = p.start();
    s.wait_status("streaming", |st| st["state"] == "streaming");
    db.psql("BEGIN; UPDATE a SET v = v - 10; INSERT INTO a SELECT i, 0 FROM generate_series(2, 20) i; UPDATE b SET v = v + 10; COMMIT;");
    s.wait_synced(&db);
    assert!(s.stop().success());
    let sum = p.duck("SELECT ((SELECT sum(v) FROM public.a) + (SELECT sum(v) FROM public.b))::VARCHAR, (SELECT count(*) FROM public.a)::VARCHAR");
    assert_eq!(sum, vec![vec!["100".to_string(), "20".into()]]);
}

#[test]
fn values_of_the_common_types_arrive_exactly() {
    let db = TestDb::new("types");
    db.psql(
        "CREATE TABLE t (id int PRIMARY KEY, i2 int2, i8 int8, n numeric(20,6), nu numeric, f4 float4, f8 float8, b bool,
           vc varchar(10), ch char(3), bt bytea, d date, tm time, ts timestamp, tstz timestamptz, iv interval, u uuid,
           j json, jb jsonb, ai int[], tx text[], big text);",
    );
    let row = "(1, -32768, 9223372036854775807, 12345678901234.123456, 123456789012345678901234567890.123456789, 1.5, 'NaN', true,
       'héllo', 'ab', '\\x00ff10', '2024-02-29', '23:59:59.999999', '2024-01-02 03:04:05.678901', '2024-01-02 03:04:05+05:30',
       '1 year 2 mons -3 days 04:05:06.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}', '{\"b\": null}',
       '{1,NULL,3}', '{\"a,b\",\"c\\\"d\",NULL}', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 3000) i))";
    db.psql(&format!("INSERT INTO t VALUES {row}"));
    let stored: u64 = db.psql("SELECT pg_column_size(big) FROM t").parse().unwrap();
    assert!(stored > 8192, "the big value must be TOASTed out of line ({stored} bytes) for this test to mean anything");
    let p = Pipeline::new(&db, &["public.t"], "");
    let mut s = p.start();
    s.wait_synced(&db);
    db.psql(&format!("INSERT INTO t VALUES {}", row.replacen("(1,", "(2,", 1)));
    db.psql("UPDATE t SET f8 = '-Infinity', i2 = 7 WHERE id = 1"); // leaves the TOASTed column unchanged
    s.wait_synced(&db);
    assert!(s.stop().success());
    let duck = p.duck(
        "SELECT id::VARCHAR, i2::VARCHAR, i8::VARCHAR, n::VARCHAR, nu, f4::VARCHAR, f8::VARCHAR, b::VARCHAR, vc, ch, hex(bt),
                d::VARCHAR, tm::VARCHAR, ts::VARCHAR, epoch_us(tstz)::VARCHAR, (to_months(0) + iv)::VARCHAR, u::VARCHAR,
                j::VARCHAR, jb::VARCHAR, ai.elements::VARCHAR, tx.elements::VARCHAR, md5(big) FROM public.t ORDER BY id",
    );
    let pg = pg_rows(
        &db,
        "SELECT id, i2, i8, n, nu, f4, f8, b, vc, ch, upper(encode(bt, 'hex')), d, tm, ts,
                (extract(epoch FROM tstz) * 1000000)::bigint, iv, u, j, jb, ai, tx, md5(big) FROM t ORDER BY id",
    );
    assert_eq!(duck.len(), 2);
    for (d, p) in duck.iter().zip(&pg) {
        assert_eq!(&d[..4], &p[..4]);
        assert_eq!(d[4], p[4], "unconstrained numeric keeps its exact text");
        assert_eq!(d[5], "1.5");
        assert_eq!(d[7], "true");
        assert_eq!(&d[8..10], &p[8..10]);
        assert_eq!(d[10], p[10], "bytea");
        assert_eq!(&d[11..15], &p[11..15], "date, time, timestamp, timestamptz");
        assert_eq!(d[15], "1 year 2 months -3 days 04:05:06.5");
        assert_eq!(d[16], p[16]);
        assert_eq!(d[17], p[17], "json text is kept as is");
        assert_eq!(d[18], p[18]);
        assert_eq!(d[19], "[1, NULL, 3]");
        assert_eq!(d[20], "['a,b', 'c\"d', NULL]");
        assert_eq!(d[21], p[21], "an UPDATE that does not touch a TOASTed value must keep it");
    }
    assert_eq!(duck[0][6], "-inf");
    assert_eq!(duck[1][6], "nan");
    assert_eq!(duck[0][1], "7");
}

#[test]
fn a_table_without_a_primary_key_is_refused_with_the_fix() {
    let db = TestDb::new("nopk");
    db.psql("CREATE TABLE events (at timestamptz, what text);");
    let p = Pipeline::new(&db, &["public.events"], "");
    let mut s = p.start();
    assert_eq!(s.wait_exit(), 1);
    let log = p.log();
    assert!(log.contains("table public.events has no primary key"), "{log}");
    assert!(log.contains("ADD PRIMARY KEY"), "the error says how to fix it: {log}");
}

#[test]
fn a_column_added_at_the_source_appears_with_its_values() {
    let db = TestDb::new("add_column");
    db.psql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a');");
    let p = Pipeline::new(&db, &["public.t"], "[flush]\ninterval_ms = 50");
    let mut s = p.start();
    s.wait_status("streaming", |st| st["state"] == "streaming");
    db.psql("ALTER TABLE t ADD COLUMN w numeric(10,3); INSERT INTO t VALUES (2, 'b', 1.5); UPDATE t SET w = 7 WHERE id = 1;");
    s.wait_synced(&db);
    assert!(s.stop().success());
    assert_eq!(
        p.duck("SELECT id::VARCHAR, v, w::VARCHAR FROM public.t ORDER BY id"),
        vec![vec!["1".to_string(), "a".into(), "7.000".into()], vec!["2".into(), "b".into(), "1.500".into()]]
    );
    let events = std::fs::read_to_string(p.dir.path().join("state/events.jsonl")).unwrap();
    let ddl = events.lines().find(|l| l.contains("ddl.seen")).unwrap_or_else(|| panic!("no ddl.seen: {events}"));
    assert!(ddl.contains("public.t") && ddl.contains("\"columns_after\":[\"id\",\"v\",\"w\"]"), "{ddl}");
}

#[test]
fn the_null_destination_discards_rows_but_keeps_its_checkpoint() {
    let db = TestDb::new("null_dest");
    db.psql(ORDERS);
    db.psql("INSERT INTO orders SELECT i, 'c', i, NULL FROM generate_series(1, 1000) i");
    let p = Pipeline::with_destination(&db, &["public.orders"], "[flush]\ninterval_ms = 50", "null");
    let mut s = p.start();
    s.wait_status("snapshot committed", |st| st["state"] == "streaming" && st["snapshot_rows"] == 1000);
    db.psql("UPDATE orders SET amount = 0 WHERE id <= 10");
    s.wait_synced(&db);
    let checkpoint = s.checkpoint().unwrap();
    assert!(s.stop().success());
    assert!(!p.duckdb.exists(), "nothing is written anywhere but the checkpoint");
    let slot =
        pg_rows(&db, &format!("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{}'", db.name));
    assert!(common::parse_lsn(&slot[0][0]).unwrap() >= checkpoint, "the slot was confirmed up to the checkpoint");

    let mut s = p.start();
    let st = s.wait_status("streaming after restart", |st| st["state"] == "streaming");
    assert_eq!(st["snapshot_rows"], 0, "the checkpoint survived: no second snapshot");
    db.psql("DELETE FROM orders WHERE id = 1");
    s.wait_synced(&db);
    assert!(s.checkpoint().unwrap() > checkpoint);
    assert!(s.stop().success());
}
