//! Unchanged TOAST values: an UPDATE that does not touch a large out-of-line value sends it as
//! "unchanged"; the replica must keep the stored value — also when the update changes the row's
//! key, when the row was inserted in the same batch, and with REPLICA IDENTITY FULL.

mod common;

use common::{assert_same_rows, pg_rows, Pipeline};
use siphon_testkit::TestDb;

/// A value PostgreSQL stores out of line: incompressible, far over 8 kB.
const BIG: &str = "(SELECT string_agg(md5(g::text || random()::text), '') FROM generate_series(1, 400) g)";

fn compare(db: &TestDb, p: &Pipeline, table: &str) {
    assert_same_rows(
        &p.duck(&format!(
            "SELECT id::VARCHAR, n::VARCHAR, md5(body), length(body)::VARCHAR FROM public.{table} ORDER BY id"
        )),
        &pg_rows(db, &format!("SELECT id, n, md5(body), length(body) FROM {table} ORDER BY id")),
        table,
    );
}

#[test]
fn unchanged_toast_values_survive_updates_key_moves_and_batches() {
    let db = TestDb::new("toast");
    db.psql(&format!(
        "CREATE TABLE d (id int PRIMARY KEY, n int, body text);
         CREATE TABLE f (id int PRIMARY KEY, n int, body text); ALTER TABLE f REPLICA IDENTITY FULL;
         INSERT INTO d SELECT i, 0, {BIG} FROM generate_series(1, 6) i;
         INSERT INTO f SELECT i, 0, {BIG} FROM generate_series(1, 6) i;"
    ));
    let stored: i64 = pg_rows(&db, "SELECT pg_column_size(body) FROM d WHERE id = 1")[0][0].parse().unwrap();
    assert!(stored > 8192, "the value must be stored out of line for this test to mean anything ({stored} bytes)");
    let p = Pipeline::new(&db, &["public.d", "public.f"], "[flush]\ninterval_ms = 200");
    let mut s = p.start();
    s.wait_synced(&db);
    for t in ["d", "f"] {
        db.psql(&format!(
            "UPDATE {t} SET n = 1 WHERE id = 1;                         -- plain update
             UPDATE {t} SET id = 100, n = 2 WHERE id = 2;              -- key update
             BEGIN; UPDATE {t} SET id = 200 WHERE id = 3; UPDATE {t} SET id = 300, n = 3 WHERE id = 200; COMMIT; -- moved twice
             BEGIN; UPDATE {t} SET n = 4 WHERE id = 4; UPDATE {t} SET id = 400 WHERE id = 4; COMMIT; -- partial then moved
             BEGIN; INSERT INTO {t} VALUES (7, 0, {BIG}); UPDATE {t} SET id = 700 WHERE id = 7; COMMIT; -- inserted in the batch
             BEGIN; UPDATE {t} SET id = 500 WHERE id = 5; INSERT INTO {t} VALUES (5, 9, 'reused key'); COMMIT;"
        ));
    }
    s.wait_synced(&db);
    assert!(s.stop().success());
    compare(&db, &p, "d");
    compare(&db, &p, "f");
    let nulls = p.duck("SELECT count(*)::VARCHAR FROM public.d WHERE body IS NULL")[0][0].clone();
    assert_eq!(nulls, "0", "no TOASTed value was replaced by NULL");
}
