//! The DuckDB destination against a real DuckDB file: atomic commits with the checkpoint,
//! rollback, schema evolution, key handling.

use std::sync::Arc;

use siphon_core::batch::Batch;
use siphon_core::change::{Change, ChangeKind};
use siphon_core::destination::{Checkpoint, Destination};
use siphon_core::row::Datum;
use siphon_core::schema::{Column, SourceType, TableName, TableSchema};
use siphon_core::Lsn;
use siphon_duckdb::{DuckDbDestination, DuckDbOptions};

fn col(name: &str, oid: u32, is_key: bool) -> Column {
    Column {
        name: name.into(),
        source_type: SourceType { oid, modifier: -1, name: String::new(), base: None },
        is_key,
        nullable: !is_key,
    }
}

fn schema(cols: Vec<Column>) -> Arc<TableSchema> {
    Arc::new(TableSchema { name: TableName::new("app", "t"), columns: cols })
}

fn text(s: &str) -> Datum {
    Datum::Text(s.into())
}

fn open(dir: &tempfile::TempDir) -> DuckDbDestination {
    DuckDbDestination::open(&DuckDbOptions {
        path: dir.path().join("d.duckdb"),
        pipeline: "p".into(),
        memory_limit_mib: 64,
        temp_dir: dir.path().join("tmp"),
    })
    .unwrap()
}

fn insert(s: &Arc<TableSchema>, row: Vec<Datum>) -> Batch {
    let mut b = Batch::new();
    b.push(Change { table: s.clone(), kind: ChangeKind::Insert { new: row } });
    b
}

fn cp(lsn: u64) -> Checkpoint {
    Checkpoint {
        lsn: Lsn(lsn),
        snapshotted_tables: vec![TableName::new("app", "t")],
        source_identity: Some("7/1".into()),
        ..Checkpoint::default()
    }
}

fn count(dir: &tempfile::TempDir) -> i64 {
    let conn = duckdb::Connection::open(dir.path().join("d.duckdb")).unwrap();
    conn.query_row("SELECT count(*) FROM app.t", [], |r| r.get(0)).unwrap()
}

#[test]
fn uncommitted_batches_are_invisible_and_vanish_on_crash() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(vec![col("id", 23, true), col("v", 25, false)]);
    {
        let mut d = open(&dir);
        d.ensure_table(&s).unwrap();
        d.apply(insert(&s, vec![text("1"), text("a")])).unwrap();
        d.commit(&cp(100)).unwrap();
        d.apply(insert(&s, vec![text("2"), text("b")])).unwrap();
        // Dropped without commit: as if the process died here.
    }
    assert_eq!(count(&dir), 1);
    let mut d = open(&dir);
    assert_eq!(d.load_checkpoint().unwrap(), Some(cp(100)));
}

#[test]
fn checkpoint_and_rows_commit_together_and_rollback_discards_both() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(vec![col("id", 23, true), col("v", 25, false)]);
    {
        let mut d = open(&dir);
        assert_eq!(d.load_checkpoint().unwrap(), None);
        d.ensure_table(&s).unwrap();
        d.apply(insert(&s, vec![text("1"), text("a")])).unwrap();
        d.commit(&cp(100)).unwrap();
        d.apply(insert(&s, vec![text("2"), text("b")])).unwrap();
        d.rollback().unwrap();
        d.ensure_table(&s).unwrap();
        d.apply(insert(&s, vec![text("3"), text("c")])).unwrap();
        d.commit(&cp(200)).unwrap();
    }
    let mut d = open(&dir);
    assert_eq!(d.load_checkpoint().unwrap(), Some(cp(200)));
    drop(d);
    let conn = duckdb::Connection::open(dir.path().join("d.duckdb")).unwrap();
    let ids: Vec<i32> = conn
        .prepare("SELECT id FROM app.t ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, vec![1, 3]);
}

#[test]
fn an_ordinary_commit_keeps_the_source_identity() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(vec![col("id", 23, true), col("v", 25, false)]);
    let mut d = open(&dir);
    d.ensure_table(&s).unwrap();
    d.commit(&cp(100)).unwrap();
    d.commit(&Checkpoint::at(Lsn(200))).unwrap();
    let loaded = d.load_checkpoint().unwrap().unwrap();
    assert_eq!((loaded.lsn, loaded.source_identity.as_deref()), (Lsn(200), Some("7/1")));
}

#[test]
fn the_gtid_set_is_stored_as_each_commit_gives_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(vec![col("id", 23, true)]);
    let mut d = open(&dir);
    d.ensure_table(&s).unwrap();
    d.commit(&Checkpoint { gtid: Some("0-1-42,1-2-7".into()), ..cp(100) }).unwrap();
    drop(d);
    let mut d = open(&dir);
    assert_eq!(d.load_checkpoint().unwrap().unwrap().gtid.as_deref(), Some("0-1-42,1-2-7"));
    // Unlike the identity, a commit without a set clears it: a stale set must never outlive
    // the position it belongs to.
    d.commit(&Checkpoint::at(Lsn(200))).unwrap();
    assert_eq!(d.load_checkpoint().unwrap().unwrap().gtid, None);
}

#[test]
fn new_source_columns_are_added_and_old_rows_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let s1 = schema(vec![col("id", 23, true), col("v", 25, false)]);
    let s2 = schema(vec![col("id", 23, true), col("v", 25, false), col("w", 20, false)]);
    let mut d = open(&dir);
    d.ensure_table(&s1).unwrap();
    d.apply(insert(&s1, vec![text("1"), text("a")])).unwrap();
    d.ensure_table(&s2).unwrap();
    d.apply(insert(&s2, vec![text("2"), text("b"), text("42")])).unwrap();
    d.commit(&cp(1)).unwrap();
    drop(d);
    let conn = duckdb::Connection::open(dir.path().join("d.duckdb")).unwrap();
    let w: Vec<Option<i64>> = conn
        .prepare("SELECT w FROM app.t ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(w, vec![None, Some(42)]);
}

#[test]
fn a_value_duckdb_cannot_hold_is_a_table_error_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(vec![col("id", 23, true), col("at", 1114, false)]);
    let mut d = open(&dir);
    d.ensure_table(&s).unwrap();
    // PostgreSQL's timestamps go 30 years further than DuckDB's.
    let err = d.apply(insert(&s, vec![text("1"), text("294270-01-01 00:00:00")])).unwrap_err();
    assert_eq!(err.class, siphon_core::ErrorClass::TableScoped);
    assert!(err.to_string().contains("app.t.at"), "{err}");
    assert!(err.to_string().contains("outside DuckDB's range"), "{err}");
}

#[test]
fn a_domain_column_first_stored_as_text_stays_text_once_its_base_type_is_known() {
    let dir = tempfile::tempdir().unwrap();
    // As pgoutput describes a domain column added while streaming: its own OID, no base type.
    let mut flag = col("flag", 16_400, false);
    let before = schema(vec![col("id", 23, true), flag.clone()]);
    let mut d = open(&dir);
    d.ensure_table(&before).unwrap();
    d.apply(insert(&before, vec![text("1"), text("t")])).unwrap();
    // After a restart the catalog resolves the domain to boolean.
    flag.source_type.base = Some((16, -1));
    let after = schema(vec![col("id", 23, true), flag]);
    d.ensure_table(&after).unwrap();
    d.apply(insert(&after, vec![text("2"), text("f")])).unwrap();
    d.commit(&cp(100)).unwrap();
    drop(d);
    let conn = duckdb::Connection::open(dir.path().join("d.duckdb")).unwrap();
    let mut stmt = conn.prepare("SELECT flag FROM app.t ORDER BY id").unwrap();
    let flags: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(flags, ["t", "f"], "the text column keeps PostgreSQL's text, not DuckDB's 'false'");
}

/// docs/types.md, "The sign of zero": DuckDB 1.5.6's `INSERT OR REPLACE` turns `-0.0` into `0.0`
/// inside nested values (a scalar keeps it). When this fails after a DuckDB upgrade, the gap is
/// gone: update the docs and the zoo in siphon-cli/tests/types.rs.
#[test]
fn duckdb_drops_the_sign_of_a_zero_inside_an_array() {
    let dir = tempfile::tempdir().unwrap();
    let s = schema(vec![col("id", 23, true), col("f", 701, false), col("fs", 1022, false)]);
    let mut d = open(&dir);
    d.ensure_table(&s).unwrap();
    d.apply(insert(&s, vec![text("1"), text("-0"), text("{-0,1.5}")])).unwrap();
    d.commit(&cp(100)).unwrap();
    drop(d);
    let conn = duckdb::Connection::open(dir.path().join("d.duckdb")).unwrap();
    let signs: (bool, bool) = conn
        .query_row("SELECT signbit(f), signbit(fs.elements[1]) FROM app.t", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(signs, (true, false));
}

#[test]
fn a_keyless_table_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = open(&dir);
    let err = d.ensure_table(&schema(vec![col("v", 25, false)])).unwrap_err();
    assert!(err.to_string().contains("no primary key"), "{err}");
    assert!(err.hint.is_some());
}
