//! The replica's half of verification against real DuckDB files: folding changes per key,
//! key-range scopes, the differences found, and repairs that leave the checkpoint alone.

use std::sync::Arc;

use siphon_core::batch::Batch;
use siphon_core::change::{Change, ChangeKind};
use siphon_core::destination::{Checkpoint, Destination};
use siphon_core::row::{Datum, Row};
use siphon_core::schema::{Column, SourceType, TableName, TableSchema};
use siphon_core::Lsn;
use siphon_duckdb::verify::{ChangesOnto, FileAccess, Replica, Scope};
use siphon_duckdb::{DuckDbDestination, DuckDbOptions};

use proptest::prelude::*;

fn col(name: &str, oid: u32, is_key: bool) -> Column {
    Column {
        name: name.into(),
        source_type: SourceType { oid, modifier: -1, name: String::new(), base: None },
        is_key,
        nullable: !is_key,
    }
}

fn t(s: &str) -> Datum {
    Datum::Text(s.into())
}

fn rows<S: AsRef<str>, R: AsRef<[S]>>(rows: &[R]) -> Vec<Row> {
    let datum = |v: &str| if v == "NULL" { Datum::Null } else { t(v) };
    rows.iter().map(|r| r.as_ref().iter().map(|v| datum(v.as_ref())).collect()).collect()
}

/// A replica file holding `initial` rows of `schema` at checkpoint 0/100, opened for verification.
fn replica<S: AsRef<str>, R: AsRef<[S]>>(dir: &tempfile::TempDir, schema: &Arc<TableSchema>, initial: &[R]) -> Replica {
    let path = dir.path().join("r.duckdb");
    {
        let mut d = DuckDbDestination::open(&DuckDbOptions {
            path: path.clone(),
            pipeline: "p".into(),
            memory_limit_mib: 64,
            temp_dir: dir.path().join("tmp"),
        })
        .unwrap();
        d.ensure_table(schema).unwrap();
        let mut b = Batch::new();
        for new in rows(initial) {
            b.push(Change { table: schema.clone(), kind: ChangeKind::Insert { new } });
        }
        d.apply(b).unwrap();
        d.commit(&Checkpoint {
            lsn: Lsn(0x100),
            snapshotted_tables: vec![schema.name.clone()],
            ..Checkpoint::default()
        })
        .unwrap();
    }
    Replica::open_file(&path, "p", FileAccess::ReadWrite).unwrap()
}

fn change(schema: &Arc<TableSchema>, kind: ChangeKind) -> Batch {
    let mut b = Batch::new();
    b.push(Change { table: schema.clone(), kind });
    b
}

fn update(schema: &Arc<TableSchema>, new: Row) -> Batch {
    change(schema, ChangeKind::Update { old_key: None, new })
}

fn toasted() -> Arc<TableSchema> {
    Arc::new(TableSchema {
        name: TableName::new("public", "t"),
        columns: vec![col("id", 23, true), col("v", 23, false), col("big", 25, false)],
    })
}

#[test]
fn changes_fold_per_key_and_unchanged_toast_comes_from_an_earlier_change_or_the_side_itself() {
    let dir = tempfile::tempdir().unwrap();
    let s = toasted();
    let mut r = replica(&dir, &s, &[&["1", "10", "big1"], &["2", "20", "big2"], &["4", "40", "big4"]]);
    let id = r.add_table(s.clone()).unwrap();
    // Changes after the replica's checkpoint, merged in three separate batches.
    r.merge_changes(update(&s, vec![t("1"), t("11"), Datum::UnchangedToast])).unwrap();
    let mut b = update(&s, vec![t("1"), t("12"), Datum::UnchangedToast]);
    b.push(Change { table: s.clone(), kind: ChangeKind::Insert { new: vec![t("3"), t("30"), t("x")] } });
    r.merge_changes(b).unwrap();
    let mut b = update(&s, vec![t("3"), t("31"), Datum::UnchangedToast]);
    b.push(Change { table: s.clone(), kind: ChangeKind::Delete { old_key: vec![t("4"), Datum::Null, Datum::Null] } });
    r.merge_changes(b).unwrap();

    // The source as of after those changes.
    r.stage_source(id, &rows(&[&["1", "12", "big1"], &["2", "20", "big2"], &["3", "31", "x"]])).unwrap();
    assert_eq!(r.read_replica(id, Scope::All).unwrap(), Some(Lsn(0x100)));
    let o = r.compare(id, Scope::All, ChangesOnto::Both).unwrap();
    assert!(o.equal && o.source_rows == 3 && o.replica_rows == 3, "{o:?}");

    // A source that kept an older value of the TOASTed column: a real difference.
    r.clear_source(id).unwrap();
    r.stage_source(id, &rows(&[&["1", "12", "older"], &["2", "20", "big2"], &["3", "31", "x"]])).unwrap();
    assert!(!r.compare(id, Scope::All, ChangesOnto::Both).unwrap().equal);
    let d = r.differences(id, 10).unwrap();
    assert_eq!((d.missing, d.extra, d.different), (0, 0, 1));
    assert_eq!(d.samples["different"], vec![vec!["1".to_string()]]);
}

#[test]
fn a_truncate_among_the_changes_empties_the_side_they_fold_onto() {
    let dir = tempfile::tempdir().unwrap();
    let s = toasted();
    let mut r = replica(&dir, &s, &[&["1", "10", "a"], &["2", "20", "b"]]);
    let id = r.add_table(s.clone()).unwrap();
    r.merge_changes(update(&s, vec![t("1"), t("11"), Datum::UnchangedToast])).unwrap();
    let mut b = Batch::new();
    b.truncate(s.clone());
    b.push(Change { table: s.clone(), kind: ChangeKind::Insert { new: vec![t("5"), t("50"), t("e")] } });
    r.merge_changes(b).unwrap();
    r.stage_source(id, &rows(&[&["5", "50", "e"]])).unwrap();
    r.read_replica(id, Scope::All).unwrap();
    assert!(r.compare(id, Scope::All, ChangesOnto::Both).unwrap().equal);
}

#[test]
fn range_scopes_follow_composite_keys_and_differences_are_classified() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(TableSchema {
        name: TableName::new("public", "k"),
        columns: vec![col("region", 25, true), col("n", 23, true), col("v", 25, false)],
    });
    let mut r = replica(
        &dir,
        &s,
        &[
            &["a", "1", "x"],
            &["a", "2", "x"],
            &["a", "10", "x"],
            &["b", "1", "wrong"],
            &["b", "3", "extra"],
            &["é", "1", "x"],
        ],
    );
    let id = r.add_table(s.clone()).unwrap();
    // The chunk after (a, 1) through (b, 2): the source has (a, 2), (a, 10), (b, 1), (b, 2).
    let (after, through) = (vec!["a".to_string(), "1".into()], vec!["b".to_string(), "2".into()]);
    let scope = Scope::Range { after: Some(&after), through: Some(&through) };
    r.stage_source(id, &rows(&[&["a", "2", "x"], &["a", "10", "x"], &["b", "1", "x"], &["b", "2", "x"]])).unwrap();
    r.read_replica(id, scope).unwrap();
    let o = r.compare(id, scope, ChangesOnto::Source).unwrap();
    assert_eq!((o.source_rows, o.replica_rows, o.equal), (4, 3, false), "(b, 3) and (é, 1) lie past the chunk");
    let d = r.differences(id, 10).unwrap();
    assert_eq!((d.missing, d.extra, d.different), (1, 0, 1));
    assert_eq!(d.samples["missing"], vec![vec!["b".to_string(), "2".into()]]);
    assert_eq!(d.samples["different"], vec![vec!["b".to_string(), "1".into()]]);

    // The last chunk is open-ended: rows only the replica has past the source's last key count.
    let after = vec!["b".to_string(), "2".into()];
    let scope = Scope::Range { after: Some(&after), through: None };
    r.clear_source(id).unwrap();
    r.stage_source(id, &rows(&[&["é", "1", "x"]])).unwrap();
    r.read_replica(id, scope).unwrap();
    r.compare(id, scope, ChangesOnto::Source).unwrap();
    let d = r.differences(id, 10).unwrap();
    assert_eq!(d.samples["extra"], vec![vec!["b".to_string(), "3".into()]]);
}

#[test]
fn a_repair_rewrites_rows_through_the_apply_path_and_leaves_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let s = toasted();
    let mut r = replica(&dir, &s, &[&["1", "10", "a"], &["2", "0", "wrong"], &["9", "90", "extra"]]);
    let id = r.add_table(s.clone()).unwrap();
    let mut b = Batch::new();
    for k in ["2", "3", "9"] {
        b.push(Change { table: s.clone(), kind: ChangeKind::Delete { old_key: vec![t(k), Datum::Null, Datum::Null] } });
    }
    for new in rows(&[&["2", "20", "b"], &["3", "30", "NULL"]]) {
        b.push(Change { table: s.clone(), kind: ChangeKind::Insert { new } });
    }
    r.repair(&s, b).unwrap();
    assert_eq!(r.checkpoint().unwrap(), Some(Lsn(0x100)));
    r.stage_source(id, &rows(&[&["1", "10", "a"], &["2", "20", "b"], &["3", "30", "NULL"]])).unwrap();
    r.read_replica(id, Scope::All).unwrap();
    assert!(r.compare(id, Scope::All, ChangesOnto::Source).unwrap().equal);
}

fn composite() -> Arc<TableSchema> {
    Arc::new(TableSchema {
        name: TableName::new("public", "k"),
        columns: vec![col("region", 25, true), col("n", 23, true), col("v", 25, false)],
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// A key range holds exactly the replica keys after its lower and through its upper bound,
    /// in lexicographic order of the key columns with text compared bytewise: the order the
    /// source's keyset chunks use (`COLLATE "C"`).
    #[test]
    fn a_key_range_holds_exactly_the_keys_between_its_bounds(
        keys in proptest::collection::btree_set(("[aAbé]{0,2}", -2i32..3), 0..16),
        after in proptest::option::of(("[aAbé]{0,2}", -2i32..3)),
        through in proptest::option::of(("[aAbé]{0,2}", -2i32..3)),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let s = composite();
        let initial: Vec<Vec<String>> = keys.iter().map(|(r, n)| vec![r.clone(), n.to_string(), "v".into()]).collect();
        let mut r = replica(&dir, &s, &initial);
        let id = r.add_table(s.clone()).unwrap();
        let text = |k: &(String, i32)| vec![k.0.clone(), k.1.to_string()];
        let (a, t) = (after.as_ref().map(text), through.as_ref().map(text));
        let scope = Scope::Range { after: a.as_deref(), through: t.as_deref() };
        r.read_replica(id, scope).unwrap();
        let o = r.compare(id, scope, ChangesOnto::Source).unwrap();
        let expected = keys
            .iter()
            .filter(|k| after.as_ref().is_none_or(|a| *k > a) && through.as_ref().is_none_or(|t| *k <= t))
            .count() as u64;
        prop_assert_eq!(o.replica_rows, expected);
    }
}
