//! Schema changes at the source reach the destination: a column added with no row change after
//! it (seen in the catalog), a column added with a default (existing rows get it by a copy),
//! then rows of the old and new shape interleaving around the change.

mod common;

use common::{assert_same_rows, pg_rows, siphon_cli, Pipeline};
use siphon_testkit::{wait_for, TestDb};

/// The first value of a query through the daemon; `None` while it fails (e.g. a column is not
/// there yet).
fn query(p: &Pipeline, sql: &str) -> Option<String> {
    let (ok, out) = siphon_cli(p, &["query", sql, "--format", "csv"]);
    ok.then(|| out.lines().nth(1).unwrap_or_default().to_string())
}

#[test]
fn added_columns_appear_without_a_row_change_and_defaults_reach_existing_rows() {
    let db = TestDb::new("schema_add");
    db.psql(
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 500) i;",
    );
    let p = Pipeline::new(&db, &["public.t"], "[flush]\ninterval_ms = 50");
    let text = std::fs::read_to_string(&p.config).unwrap();
    std::fs::write(&p.config, text.replace("[source]\n", "[source]\nschema_poll_s = 1\n")).unwrap();
    let mut s = p.start();
    s.wait_synced(&db);

    db.psql("ALTER TABLE t ADD COLUMN w numeric(10,2)");
    wait_for("the added column at the destination", common::TIMEOUT, || {
        (query(&p, "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'w'")
            == Some("1".into()))
        .then_some(())
    });

    db.psql("ALTER TABLE t ADD COLUMN flag int NOT NULL DEFAULT 7");
    wait_for("existing rows to get the default", common::TIMEOUT, || {
        (query(&p, "SELECT count(*) FROM public.t WHERE flag = 7") == Some("500".into())).then_some(())
    });
    let events = std::fs::read_to_string(p.dir.path().join("state/events.jsonl")).unwrap();
    assert!(events.contains("\"via\":\"catalog\""), "{events}");
    assert!(events.contains("\"reason\":\"ddl\""), "the default was brought by a copy: {events}");

    // Rows of the new shape, then more schema change, all in order.
    db.psql(
        "UPDATE t SET w = 1.5, flag = 8 WHERE id <= 10; INSERT INTO t VALUES (501, 'new', 2.25, 9);
             ALTER TABLE t ADD COLUMN z text; UPDATE t SET z = 'zz' WHERE id = 1;",
    );
    s.wait_synced(&db);
    assert!(s.stop().success());
    assert_same_rows(
        &p.duck("SELECT id::VARCHAR, v, coalesce(w::VARCHAR, 'NULL'), flag::VARCHAR, coalesce(z, 'NULL') FROM public.t ORDER BY id"),
        &pg_rows(&db, "SELECT id, v, w, flag, z FROM t ORDER BY id"),
        "t after the schema changes",
    );
}

#[test]
fn a_widened_column_takes_its_new_type_and_dropped_columns_are_kept_or_dropped() {
    let db = TestDb::new("schema_alter");
    db.psql(
        "CREATE TABLE t (id int PRIMARY KEY, n int, gone text, v varchar(5));
             CREATE TABLE u (id int PRIMARY KEY, gone text);
             INSERT INTO t VALUES (1, 10, 'a', 'x'); INSERT INTO u VALUES (1, 'kept');",
    );
    // t's pipeline drops columns, u's keeps them (the default).
    let p = Pipeline::new(&db, &["public.t"], "[flush]\ninterval_ms = 50");
    let text = std::fs::read_to_string(&p.config).unwrap();
    std::fs::write(&p.config, text.replace("[destination]\n", "[destination]\ndrop_columns = true\n")).unwrap();
    let mut s = p.start();
    s.wait_synced(&db);
    db.psql(
        "ALTER TABLE t ALTER COLUMN n TYPE bigint; ALTER TABLE t ALTER COLUMN v TYPE varchar(50);
             ALTER TABLE t DROP COLUMN gone;
             INSERT INTO t VALUES (2, 1099511627776, 'a longer value');",
    );
    s.wait_synced(&db);
    assert!(s.stop().success());
    assert_eq!(
        p.duck("SELECT id::VARCHAR, n::VARCHAR, v FROM public.t ORDER BY id"),
        vec![
            vec!["1".to_string(), "10".into(), "x".into()],
            vec!["2".into(), "1099511627776".into(), "a longer value".into()]
        ],
        "a value that needs the wider type arrives"
    );
    assert_eq!(
        p.duck("SELECT data_type FROM information_schema.columns WHERE table_name = 't' AND column_name = 'n'"),
        vec![vec!["BIGINT".to_string()]]
    );
    assert!(p
        .duck("SELECT column_name FROM information_schema.columns WHERE table_name = 't' AND column_name = 'gone'")
        .is_empty());

    let q = Pipeline::new(&db, &["public.u"], "[flush]\ninterval_ms = 50");
    let text = std::fs::read_to_string(&q.config).unwrap();
    std::fs::write(
        &q.config,
        text.replace("slot = \"schema_alter", "slot = \"u_schema_alter")
            .replace("publication = \"schema_alter", "publication = \"u_schema_alter"),
    )
    .unwrap();
    let mut s = q.start();
    s.wait_synced(&db);
    db.psql("ALTER TABLE u DROP COLUMN gone; INSERT INTO u VALUES (2);");
    s.wait_synced(&db);
    assert!(s.stop().success());
    assert_eq!(
        q.duck("SELECT id::VARCHAR, coalesce(gone, 'NULL') FROM public.u ORDER BY id"),
        vec![vec!["1".to_string(), "kept".into()], vec!["2".into(), "NULL".into()]],
        "by default a dropped column stays, with its values"
    );
}

#[test]
fn a_table_created_under_a_for_all_tables_publication_is_copied_and_streamed() {
    let db = TestDb::new("schema_joined");
    db.psql(&format!(
        "CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a VALUES (1, 'x');
         CREATE PUBLICATION {} FOR ALL TABLES;",
        db.name
    ));
    // No source.tables: every table of the publication, now and later.
    let p = Pipeline::new(&db, &[], "[flush]\ninterval_ms = 50");
    let text = std::fs::read_to_string(&p.config).unwrap();
    std::fs::write(&p.config, text.replace("tables = []\n", "").replace("[source]\n", "[source]\nschema_poll_s = 1\n"))
        .unwrap();
    let mut s = p.start();
    s.wait_synced(&db);

    // Rows written before siphon notices the table reach it through the copy...
    db.psql("CREATE TABLE b (id int PRIMARY KEY, v text); INSERT INTO b SELECT i, 'b' || i FROM generate_series(1, 3000) i;");
    let seen = common::wait_event(&mut s, &p, "ddl.seen", 1);
    assert_eq!(seen["table"], "public.b", "{seen}");
    assert_eq!(seen["table_added"], true, "{seen}");
    // ... rows written while it is copied, through the stream or the copy, never both wrongly.
    db.psql(
        "UPDATE b SET v = 'changed' WHERE id <= 100; DELETE FROM b WHERE id > 2900;
         INSERT INTO b VALUES (5000, 'during'); INSERT INTO a VALUES (2, 'y');",
    );
    let finished = common::wait_event(&mut s, &p, "backfill.finished", 2);
    assert_eq!(finished["tables"], serde_json::json!(["public.b"]), "{finished}");
    let started = common::events(&p, "backfill.started");
    assert_eq!(started.last().unwrap()["reason"], "added", "{started:?}");
    // ... and rows written after, through the stream.
    db.psql("UPDATE b SET v = 'after' WHERE id = 5000; INSERT INTO b VALUES (5001, 'late');");
    s.wait_synced(&db);
    assert!(s.stop().success());
    for t in ["a", "b"] {
        assert_same_rows(
            &p.duck(&format!("SELECT id::VARCHAR, v FROM public.{t} ORDER BY id")),
            &pg_rows(&db, &format!("SELECT id, v FROM {t} ORDER BY id")),
            t,
        );
    }
}
