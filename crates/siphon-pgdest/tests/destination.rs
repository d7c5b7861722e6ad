//! The PostgreSQL destination against a real PostgreSQL database: atomic commits with the
//! checkpoint, rollback, types, unchanged TOAST values, errors, reconnects, the writer lock.

use std::sync::Arc;
use std::time::Duration;

use siphon_core::batch::Batch;
use siphon_core::change::{Change, ChangeKind};
use siphon_core::config::Secret;
use siphon_core::destination::{Checkpoint, ChunkRecord, Destination};
use siphon_core::row::Datum;
use siphon_core::schema::{Column, SourceType, TableName, TableSchema};
use siphon_core::{ErrorClass, Lsn};
use siphon_pgdest::{PgDestOptions, PgDestination};
use siphon_testkit::TestDb;

fn col(name: &str, type_name: &str, is_key: bool) -> Column {
    Column {
        name: name.into(),
        source_type: SourceType { oid: 0, modifier: -1, name: type_name.into(), base: None },
        is_key,
        nullable: !is_key,
    }
}

fn table(schema: &str, name: &str, cols: Vec<Column>) -> Arc<TableSchema> {
    Arc::new(TableSchema { name: TableName::new(schema, name), columns: cols })
}

/// `app.t (id integer key, v text, n numeric(12,2))`.
fn t() -> Arc<TableSchema> {
    table("app", "t", vec![col("id", "integer", true), col("v", "text", false), col("n", "numeric(12,2)", false)])
}

fn text(s: &str) -> Datum {
    Datum::Text(s.into())
}

fn open(db: &TestDb, pipeline: &str, schema_prefix: Option<&str>) -> PgDestination {
    PgDestination::new(&PgDestOptions {
        url: Secret::new(db.url()),
        pipeline: pipeline.into(),
        schema_prefix: schema_prefix.map(str::to_string),
    })
    .unwrap()
}

/// Opened and ready for `tables`, as the runtime does at the start of a session.
fn ready(db: &TestDb, tables: &[&Arc<TableSchema>]) -> PgDestination {
    let mut d = open(db, "p", None);
    d.load_checkpoint().unwrap();
    for t in tables {
        d.ensure_table(t).unwrap();
    }
    d
}

fn batch(changes: Vec<(&Arc<TableSchema>, ChangeKind)>) -> Batch {
    let mut b = Batch::new();
    for (t, kind) in changes {
        b.push(Change { table: (*t).clone(), kind });
    }
    b
}

fn insert(row: Vec<Datum>) -> ChangeKind {
    ChangeKind::Insert { new: row }
}

fn update(row: Vec<Datum>) -> ChangeKind {
    ChangeKind::Update { old_key: None, new: row }
}

fn cp(lsn: u64) -> Checkpoint {
    Checkpoint { lsn: Lsn(lsn), ..Checkpoint::default() }
}

#[test]
fn data_and_checkpoint_commit_together_and_a_rollback_discards_both() {
    let db = TestDb::new("pgdest_atomic");
    let t = t();
    let mut d = ready(&db, &[&t]);
    d.apply(batch(vec![(&t, insert(vec![text("1"), text("a"), text("1.50")]))])).unwrap();
    assert_eq!(
        db.psql("SELECT to_regclass('app.t') IS NULL"),
        "t",
        "nothing, not even the table, is visible before commit"
    );
    let first = Checkpoint {
        lsn: Lsn(100),
        snapshotted_tables: vec![TableName::new("app", "t")],
        source_identity: Some("7/1".into()),
        ..Checkpoint::default()
    };
    d.commit(&first).unwrap();
    assert_eq!(db.psql("SELECT id, v, n FROM app.t"), "1|a|1.50");

    d.apply(batch(vec![(&t, insert(vec![text("2"), text("b"), Datum::Null]))])).unwrap();
    d.rollback().unwrap();
    assert_eq!(db.psql("SELECT count(*) FROM app.t"), "1");
    d.ensure_table(&t).unwrap();
    d.commit(&cp(200)).unwrap();
    drop(d);

    let mut d = open(&db, "p", None);
    let loaded = d.load_checkpoint().unwrap().unwrap();
    assert_eq!(loaded.lsn, Lsn(200));
    assert_eq!(loaded.source_identity.as_deref(), Some("7/1"), "a commit without an identity keeps the stored one");
    assert_eq!(loaded.snapshotted_tables, vec![TableName::new("app", "t")]);
    assert_eq!(loaded.gtid, None);
    d.commit(&Checkpoint {
        lsn: Lsn(300),
        gtid: Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42".into()),
        ..Checkpoint::default()
    })
    .unwrap();
    let loaded = d.load_checkpoint().unwrap().unwrap();
    assert_eq!(loaded.gtid.as_deref(), Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42"), "stored with the position");
    d.commit(&Checkpoint::at(Lsn(400))).unwrap();
    assert_eq!(d.load_checkpoint().unwrap().unwrap().gtid, None, "a commit without a set clears it");
    assert_eq!(open(&db, "other", None).load_checkpoint().unwrap(), None, "checkpoints are per pipeline");
    assert_eq!(d.count_rows(&TableName::new("app", "t")).unwrap(), Some(1));
}

#[test]
fn deletes_go_before_upserts_truncate_first_and_key_changes() {
    let db = TestDb::new("pgdest_dml");
    let t = t();
    let mut d = ready(&db, &[&t]);
    let rows: Vec<_> = (1..=5).map(|i| (&t, insert(vec![text(&i.to_string()), text("x"), text("1")]))).collect();
    d.apply(batch(rows)).unwrap();
    d.commit(&cp(1)).unwrap();
    // A key change 1 -> 10, a delete of 2, an update of 3, in one batch.
    d.apply(batch(vec![
        (
            &t,
            ChangeKind::Update {
                old_key: Some(vec![text("1"), Datum::Null, Datum::Null]),
                new: vec![text("10"), text("moved"), text("1")],
            },
        ),
        (&t, ChangeKind::Delete { old_key: vec![text("2"), Datum::Null, Datum::Null] }),
        (&t, update(vec![text("3"), text("tab\there, quote ' and newline\nend \\N"), text("2.25")])),
    ]))
    .unwrap();
    d.commit(&cp(2)).unwrap();
    assert_eq!(
        db.psql("SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM app.t WHERE id <> 3"),
        "4:x,5:x,10:moved"
    );
    assert_eq!(
        db.psql("SELECT v = E'tab\\there, quote '' and newline\\nend \\\\N', n FROM app.t WHERE id = 3"),
        "t|2.25"
    );
    let mut b = Batch::new();
    b.truncate(t.clone());
    b.push(Change { table: t.clone(), kind: insert(vec![text("7"), text("after"), Datum::Null]) });
    d.apply(b).unwrap();
    d.commit(&cp(3)).unwrap();
    assert_eq!(db.psql("SELECT id, v, n IS NULL FROM app.t"), "7|after|t");
}

#[test]
fn an_update_without_its_toasted_values_keeps_the_stored_ones() {
    let db = TestDb::new("pgdest_toast");
    let t = table(
        "app",
        "docs",
        vec![
            col("id", "integer", true),
            col("body", "text", false),
            col("tag", "text", false),
            col("n", "integer", false),
        ],
    );
    let mut d = ready(&db, &[&t]);
    d.apply(batch(vec![(&t, insert(vec![text("1"), text("big body"), text("old tag"), text("1")]))])).unwrap();
    d.commit(&cp(1)).unwrap();
    d.apply(batch(vec![(&t, update(vec![text("1"), Datum::UnchangedToast, Datum::UnchangedToast, text("2")]))]))
        .unwrap();
    d.commit(&cp(2)).unwrap();
    assert_eq!(db.psql("SELECT body, tag, n FROM app.docs"), "big body|old tag|2");
    d.apply(batch(vec![(&t, update(vec![text("1"), Datum::UnchangedToast, Datum::Null, text("3")]))])).unwrap();
    d.commit(&cp(3)).unwrap();
    assert_eq!(
        db.psql("SELECT body, tag IS NULL, n FROM app.docs"),
        "big body|t|3",
        "NULL is a value, not 'unchanged'"
    );
}

#[test]
fn columns_get_the_source_types_or_text_when_the_destination_lacks_them() {
    let db = TestDb::new("pgdest_types");
    let t = table(
        "app",
        "typed",
        vec![
            col("id", "bigint", true),
            col("amount", "numeric(12,2)", false),
            col("tags", "character varying(5)[]", false),
            col("at", "timestamp(3) with time zone", false),
            col("flags", "bit(3)", false),
            col("mood", "mood", false),
            col("moods", "mood[]", false),
            col("rel", "regclass", false),
            col("odd", "no such type(", false),
        ],
    );
    let mut d = ready(&db, &[&t]);
    let row = vec![
        text("1"),
        text("12.34"),
        text("{ab,\"c d\",NULL}"),
        text("2024-01-02 03:04:05.678+00"),
        text("101"),
        text("happy"),
        text("{happy,sad}"),
        text("pg_class"),
        text("x"),
    ];
    d.apply(batch(vec![(&t, insert(row))])).unwrap();
    d.commit(&cp(1)).unwrap();
    let types = db.psql(
        "SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = 'app.typed'::regclass AND attnum > 0",
    );
    assert_eq!(
        types,
        "bigint, numeric(12,2), character varying(5)[], timestamp(3) with time zone, bit(3), text, text[], text, text"
    );
    assert_eq!(
        db.psql("SELECT amount, tags, flags, mood, moods[2], rel FROM app.typed"),
        "12.34|{ab,\"c d\",NULL}|101|happy|sad|pg_class"
    );
    // A type created at the destination beforehand is used.
    db.psql("CREATE TYPE public.mood AS ENUM ('happy', 'sad')");
    let t2 = table("app", "with_enum", vec![col("id", "integer", true), col("m", "mood", false)]);
    d.ensure_table(&t2).unwrap();
    d.commit(&cp(2)).unwrap();
    assert_eq!(db.psql("SELECT format_type(atttypid, -1) FROM pg_attribute WHERE attrelid = 'app.with_enum'::regclass AND attname = 'm'"), "mood");
}

#[test]
fn a_value_the_column_cannot_hold_names_table_and_column_but_not_the_value() {
    let db = TestDb::new("pgdest_bad_value");
    db.psql("CREATE SCHEMA app; CREATE TABLE app.t (id integer PRIMARY KEY, v varchar(3), n integer);");
    let t = table("app", "t", vec![col("id", "integer", true), col("v", "text", false), col("n", "text", false)]);
    for (row, column) in [
        (vec![text("1"), text("secret-too-long"), text("1")], "app.t.v"),
        (vec![text("1"), text("ok"), text("secret12a")], "app.t.n"),
    ] {
        let mut d = ready(&db, &[&t]);
        let e = d.apply(batch(vec![(&t, insert(row))])).unwrap_err();
        assert_eq!(e.class, ErrorClass::TableScoped, "{e}");
        assert!(e.message.contains(column), "names the column {column}: {e}");
        assert!(!e.to_string().contains("secret"), "the value stays out of the error: {e}");
        assert!(e.hint.as_deref().is_some_and(|h| h.contains("ALTER TABLE")), "{e}");
        d.rollback().unwrap();
        d.load_checkpoint().unwrap(); // the session goes on
    }
    // NOT NULL at the destination: the server names the column.
    db.psql("ALTER TABLE app.t ALTER COLUMN n SET NOT NULL");
    let mut d = ready(&db, &[&t]);
    let e = d.apply(batch(vec![(&t, insert(vec![text("1"), text("ok"), Datum::Null]))])).unwrap_err();
    assert!(e.message.contains("app.t.n") && e.hint.unwrap().contains("constraint"), "{}", e.message);
}

#[test]
fn a_lost_connection_is_transient_and_the_next_session_reconnects() {
    let db = TestDb::new("pgdest_lost");
    let t = t();
    let mut d = ready(&db, &[&t]);
    d.apply(batch(vec![(&t, insert(vec![text("1"), text("a"), Datum::Null]))])).unwrap();
    d.commit(&cp(1)).unwrap();
    d.apply(batch(vec![(&t, insert(vec![text("2"), text("lost"), Datum::Null]))])).unwrap();
    db.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'siphon-p-destination'");
    let e = d.commit(&cp(2)).unwrap_err();
    assert!(e.is_transient(), "{e}");
    let e = d.apply(batch(vec![(&t, insert(vec![text("3"), text("x"), Datum::Null]))])).unwrap_err();
    assert!(e.is_transient(), "no silent reconnect in the middle of a session: {e}");
    d.rollback().unwrap();
    assert_eq!(d.load_checkpoint().unwrap().unwrap().lsn, Lsn(1), "a new session starts from the stored checkpoint");
    d.ensure_table(&t).unwrap();
    d.apply(batch(vec![(&t, insert(vec![text("2"), text("again"), Datum::Null]))])).unwrap();
    d.commit(&cp(2)).unwrap();
    assert_eq!(db.psql("SELECT string_agg(v, ',' ORDER BY id) FROM app.t"), "a,again");
}

#[test]
fn a_second_writer_of_a_pipeline_waits_for_the_first_to_go() {
    let db = TestDb::new("pgdest_lock");
    let mut first = open(&db, "p", None);
    first.load_checkpoint().unwrap();
    let url = db.url();
    let (tx, rx) = std::sync::mpsc::channel();
    let second = std::thread::spawn(move || {
        let mut d =
            PgDestination::new(&PgDestOptions { url: Secret::new(url), pipeline: "p".into(), schema_prefix: None })
                .unwrap();
        let r = d.load_checkpoint().map(|_| ());
        tx.send(()).unwrap();
        r
    });
    assert!(rx.recv_timeout(Duration::from_secs(1)).is_err(), "the second writer must wait");
    let mut other = open(&db, "q", None);
    other.load_checkpoint().unwrap(); // another pipeline does not
    drop(first);
    rx.recv_timeout(Duration::from_secs(20)).expect("the second writer proceeds once the first is gone");
    second.join().unwrap().unwrap();
}

#[test]
fn schema_prefix_maps_schemas_and_odd_identifiers_are_quoted() {
    let db = TestDb::new("pgdest_names");
    let t = table("My Schema", "Odd \"Table\"", vec![col("Key Col", "integer", true), col("vAlue;--", "text", false)]);
    let mut d = open(&db, "p", Some("shop_"));
    d.load_checkpoint().unwrap();
    d.ensure_table(&t).unwrap();
    d.apply(batch(vec![(&t, insert(vec![text("1"), text("v")]))])).unwrap();
    d.commit(&Checkpoint { lsn: Lsn(1), snapshotted_tables: vec![t.name.clone()], ..Checkpoint::default() }).unwrap();
    assert_eq!(db.psql("SELECT \"Key Col\", \"vAlue;--\" FROM \"shop_My Schema\".\"Odd \"\"Table\"\"\""), "1|v");
    assert_eq!(
        db.psql("SELECT table_schema || '.' || table_name FROM __siphon.snapshotted_tables"),
        "My Schema.Odd \"Table\"",
        "the checkpoint names source tables"
    );
    assert_eq!(d.count_rows(&t.name).unwrap(), Some(1));
}

#[test]
fn a_column_added_at_the_source_is_added() {
    let db = TestDb::new("pgdest_add_column");
    let t1 = table("app", "t", vec![col("id", "integer", true), col("v", "text", false)]);
    let mut d = ready(&db, &[&t1]);
    d.apply(batch(vec![(&t1, insert(vec![text("1"), text("a")]))])).unwrap();
    d.commit(&cp(1)).unwrap();
    // Columns reported by the replication stream have a type OID and modifier but no name.
    let unnamed = |name: &str, oid: u32, modifier: i32| Column {
        name: name.into(),
        source_type: SourceType { oid, modifier, name: String::new(), base: None },
        is_key: false,
        nullable: true,
    };
    let t2 = table(
        "app",
        "t",
        vec![
            col("id", "integer", true),
            col("v", "text", false),
            col("w", "numeric(10,3)", false),
            unnamed("x", 1700, (12 << 16 | 2) + 4), // numeric(12,2)
            unnamed("y", 1015, 3 + 4),              // character varying(3)[]
            unnamed("z", 16_500, -1),               // a user-defined type: its OID means nothing here
        ],
    );
    d.ensure_table(&t2).unwrap();
    let row = vec![text("2"), text("b"), text("1.5"), text("2.5"), text("{ab}"), text("e")];
    d.apply(batch(vec![(&t2, insert(row))])).unwrap();
    d.commit(&cp(2)).unwrap();
    assert_eq!(
        db.psql("SELECT string_agg(id || ':' || coalesce(w::text, '-') || ':' || coalesce(x::text, '-'), ',' ORDER BY id) FROM app.t"),
        "1:-:-,2:1.500:2.50"
    );
    let types = db.psql(
        "SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = 'app.t'::regclass AND attnum > 2",
    );
    assert_eq!(types, "numeric(10,3), numeric(12,2), character varying(3)[], text");
}

#[test]
fn chunk_records_keep_their_last_state_and_finished_jobs_leave_none() {
    let db = TestDb::new("pgdest_chunks");
    let mut d = ready(&db, &[]);
    let chunk = |n: u32, done: bool| ChunkRecord {
        job: "j1".into(),
        table: TableName::new("app", "t"),
        chunk: n,
        mode: "truncate".into(),
        lower: (n > 0).then(|| format!("[{n}]")),
        upper: None,
        done,
        rows: if done { 10 } else { 0 },
    };
    let chunks = vec![chunk(0, false), chunk(1, false), chunk(0, true)];
    d.commit(&Checkpoint { lsn: Lsn(1), chunks, ..Checkpoint::default() }).unwrap();
    let loaded = d.load_chunks().unwrap();
    assert_eq!(loaded, vec![chunk(0, true), chunk(1, false)]);
    d.commit(&Checkpoint { lsn: Lsn(2), finished_jobs: vec!["j1".into()], ..Checkpoint::default() }).unwrap();
    assert_eq!(d.load_chunks().unwrap(), vec![]);
}

#[test]
fn the_password_never_shows_in_descriptions_or_errors() {
    let mut d = PgDestination::new(&PgDestOptions {
        url: Secret::new("postgres://writer:hunter2@127.0.0.1:1/dw?sslmode=disable"),
        pipeline: "p".into(),
        schema_prefix: None,
    })
    .unwrap();
    assert_eq!(d.describe(), "postgres:writer@127.0.0.1:1/dw");
    let e = d.load_checkpoint().unwrap_err();
    assert!(e.is_transient(), "an unreachable destination is retried: {e}");
    assert!(e.message.contains("could not connect to the destination"), "{e}");
    assert!(!format!("{e} {e:?}").contains("hunter2"), "{e}");
}

#[test]
fn sslmode_and_sslrootcert_in_the_url_are_honoured() {
    let db = TestDb::new("pgdest_tls"); // the test server offers no TLS
    let open_url = |params: &str| {
        PgDestination::new(&PgDestOptions {
            url: Secret::new(format!("{}?{params}", db.url())),
            pipeline: "p".into(),
            schema_prefix: None,
        })
    };
    let e = open_url("sslmode=require").unwrap().load_checkpoint().unwrap_err();
    assert!(e.to_string().contains("TLS"), "sslmode=require insists on TLS: {e}");
    open_url("sslmode=disable").unwrap().load_checkpoint().unwrap();
    let e = open_url("sslmode=verify-full&sslrootcert=/nonexistent/ca.pem").err().unwrap();
    assert!(e.message.contains("`destination.url`: cannot read sslrootcert"), "{e}");
}
