//! The destination compliance suite: every destination passes the same cases, each against a
//! real source PostgreSQL, the real `siphon` binary and a real destination (a DuckDB file; a
//! second database in the source's cluster for PostgreSQL).
//!
//! Each case is a function of the destination's [`Kind`]; [`suite!`] turns every case into one
//! test per destination (`duckdb::every_dml_kind`, `postgres::every_dml_kind`, ...). A new
//! destination is a `Kind` (its config keys and its reader, in [`Dest`]) and one `suite!` line.
//! Where destinations legitimately print a value differently (DuckDB's `[1, 2]` for
//! PostgreSQL's `{1,2}`), the case states the expression that reads it back in the source's
//! text form, per kind; everything else is compared as text, row for row.

mod common;

use common::{assert_same_rows, duck_rows, pg_rows, pg_rows_on, siphon_cli, wait_event, Pipeline, Siphon};
use siphon_testkit::{wait_for, TestDb};

/// The destinations under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    DuckDb,
    Postgres,
}

macro_rules! suite {
    ($module:ident, $kind:expr) => {
        mod $module {
            #[test]
            fn every_dml_kind() {
                super::every_dml_kind($kind)
            }
            #[test]
            fn readers_never_see_part_of_a_transaction() {
                super::readers_never_see_part_of_a_transaction($kind)
            }
            #[test]
            fn values_of_many_types_round_trip() {
                super::values_of_many_types_round_trip($kind)
            }
            #[test]
            fn unchanged_toast_values_are_kept() {
                super::unchanged_toast_values_are_kept($kind)
            }
            #[test]
            fn an_added_column_appears_with_its_values() {
                super::an_added_column_appears_with_its_values($kind)
            }
            #[test]
            fn schema_changes_without_row_changes_and_type_changes() {
                super::schema_changes_without_row_changes_and_type_changes($kind)
            }
            #[test]
            fn a_renamed_column_keeps_its_values() {
                super::a_renamed_column_keeps_its_values($kind)
            }
            #[test]
            fn kill_9_while_streaming_is_exact() {
                super::kill_9_while_streaming_is_exact($kind)
            }
            #[test]
            fn kill_9_mid_snapshot_resumes_exactly() {
                super::kill_9_mid_snapshot_resumes_exactly($kind)
            }
            #[test]
            fn soft_deletes_mark_rows_and_reinserts_revive_them() {
                super::soft_deletes_mark_rows_and_reinserts_revive_them($kind)
            }
            #[test]
            fn history_keeps_every_change_once_in_order() {
                super::history_keeps_every_change_once_in_order($kind)
            }
            #[test]
            fn history_has_no_duplicates_after_kill_9() {
                super::history_has_no_duplicates_after_kill_9($kind)
            }
            #[test]
            fn metadata_columns_describe_the_last_change() {
                super::metadata_columns_describe_the_last_change($kind)
            }
            #[test]
            fn excluded_columns_never_arrive_and_hashes_are_salted_sha256() {
                super::excluded_columns_never_arrive_and_hashes_are_salted_sha256($kind)
            }
        }
    };
}

suite!(duckdb, super::Kind::DuckDb);
suite!(postgres, super::Kind::Postgres);

/// A destination under test: the config that names it and how a test reads it.
struct Dest {
    kind: Kind,
    /// The PostgreSQL destination's database (in the source's cluster).
    db: Option<TestDb>,
}

impl Dest {
    fn new(kind: Kind, name: &str) -> Dest {
        let db = (kind == Kind::Postgres).then(|| TestDb::new(&format!("{name}_dest")));
        Dest { kind, db }
    }

    /// A pipeline from `source` into this destination; `extra` is appended to the config.
    fn pipeline(&self, source: &TestDb, tables: &[&str], extra: &str) -> Pipeline {
        match &self.db {
            None => Pipeline::with_destination(source, tables, extra, "duckdb"),
            Some(db) => {
                Pipeline::with_destination(source, tables, &format!("url = {:?}\n{extra}", db.url()), "postgres")
            }
        }
    }

    /// Rows of `sql` at the destination, every value as text (`NULL` for null), with siphon
    /// stopped (one process at a time may open a DuckDB file).
    fn rows(&self, p: &Pipeline, sql: &str) -> Vec<Vec<String>> {
        match &self.db {
            None => duck_rows(&p.duckdb, &format!("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM ({sql}) AS q")),
            Some(db) => pg_rows_on(db.cluster, &db.name, sql),
        }
    }

    /// [`Dest::rows`] while siphon runs: DuckDB through `siphon query`, PostgreSQL directly.
    fn live_rows(&self, p: &Pipeline, sql: &str) -> Vec<Vec<String>> {
        if self.db.is_some() {
            return self.rows(p, sql);
        }
        let (ok, out) = siphon_cli(p, &["query", sql, "--format", "csv"]);
        assert!(ok, "siphon query failed: {out}");
        let cell = |v: &str| if v.is_empty() { "NULL".to_string() } else { v.to_string() };
        out.lines().skip(1).map(|l| l.trim_end_matches('\r').split(',').map(cell).collect()).collect()
    }

    /// The expression that reads a value back in the source's text form here: `duck` for
    /// DuckDB, `pg` (the source's own) for PostgreSQL.
    fn read_back(&self, pg: &'static str, duck: &'static str) -> &'static str {
        match self.kind {
            Kind::DuckDb => duck,
            Kind::Postgres => pg,
        }
    }

    /// After `kill -9`: waits until the killed siphon's destination session has ended, so that
    /// what a test reads is what the restart finds (a `COMMIT` it sent may still be running).
    fn wait_writer_gone(&self) {
        let Some(db) = &self.db else { return };
        let sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'siphon-test-destination'";
        wait_for("the killed writer's session to end", common::TIMEOUT, || (db.psql(sql) == "0").then_some(()));
    }
}

/// Equal as multisets of rows (destinations need not return rows in the same order).
fn assert_same(mut actual: Vec<Vec<String>>, mut expected: Vec<Vec<String>>, what: &str) {
    actual.sort();
    expected.sort();
    assert_same_rows(&actual, &expected, what);
}

fn streaming(s: &mut Siphon) {
    s.wait_status("streaming", |st| st["state"] == "streaming");
}

const ORDERS: &str =
    "CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), note text);
                      INSERT INTO orders SELECT i, 'c' || i, i * 1.25, NULL FROM generate_series(1, 300) i;";
const ORDERS_SQL: &str = "SELECT id, customer, amount, note FROM public.orders";

fn every_dml_kind(kind: Kind) {
    let src = TestDb::new("comp_dml");
    src.psql(ORDERS);
    let dest = Dest::new(kind, "comp_dml");
    let p = dest.pipeline(&src, &["public.orders"], "[flush]\ninterval_ms = 100");
    let mut s = p.start();
    streaming(&mut s);
    src.psql("INSERT INTO orders VALUES (1001, 'new', 9.99, 'tab\there, quote '' and newline\nend \\N')");
    src.psql("UPDATE orders SET amount = amount + 1, note = 'updated' WHERE id <= 10");
    src.psql(
        "UPDATE orders SET id = 2001 WHERE id = 20; UPDATE orders SET id = 20, customer = 'moved back' WHERE id = 22;",
    );
    src.psql("DELETE FROM orders WHERE id BETWEEN 30 AND 39");
    src.psql(
        "BEGIN; INSERT INTO orders VALUES (3001, 'x', 1, NULL); UPDATE orders SET note = 'then updated' WHERE id = 3001;
         DELETE FROM orders WHERE id = 3001; INSERT INTO orders VALUES (3001, 'y', 2, 'reinserted'); COMMIT;",
    );
    s.wait_synced(&src);
    assert!(s.stop().success());
    let what = "orders after inserts, updates, key updates, deletes";
    assert_same(dest.rows(&p, ORDERS_SQL), pg_rows(&src, ORDERS_SQL), what);

    let mut s = p.start();
    src.psql("BEGIN; TRUNCATE orders; INSERT INTO orders VALUES (1, 'after truncate', 1, NULL); COMMIT;");
    src.psql("INSERT INTO orders VALUES (2, 'later', 2, NULL)");
    s.wait_synced(&src);
    assert!(s.stop().success());
    assert_same(dest.rows(&p, ORDERS_SQL), pg_rows(&src, ORDERS_SQL), "orders after TRUNCATE");
    assert_eq!(dest.rows(&p, "SELECT count(*) FROM public.orders"), vec![vec!["2".to_string()]]);
}

const BANK_TABLES: [&str; 3] = ["public.accounts", "public.ledger", "public.seq"];

/// One read of the bank at the destination: the checkpoint and the invariants' inputs.
const BANK_STATE: &str = "SELECT (SELECT lsn FROM __siphon.checkpoint WHERE pipeline = 'test') AS lsn,
    (SELECT sum(balance) FROM public.accounts) AS total, (SELECT coalesce(sum(delta), 0) FROM public.ledger) AS net,
    (SELECT count(*) FROM public.ledger) AS legs, (SELECT n FROM public.seq) AS n";

/// Checks one read of [`BANK_STATE`] (no half transfer, none twice); returns (checkpoint,
/// transfers applied).
fn check_bank(row: &[String]) -> (String, u64) {
    let (sum, net, legs, n) = (&row[1], &row[2], row[3].parse::<u64>().unwrap(), row[4].parse::<u64>().unwrap());
    assert_eq!(sum, "50000", "money is neither created nor lost: no half transaction is visible ({row:?})");
    assert_eq!(net, "0", "{row:?}");
    assert_eq!(legs, 2 * n, "each applied transfer has exactly its two legs: none applied twice or half ({row:?})");
    (row[0].clone(), n)
}

fn bank_rows(read: impl Fn(&str) -> Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut rows = read("SELECT 'a', id, balance FROM public.accounts");
    rows.extend(read("SELECT 'l', id, account, delta FROM public.ledger"));
    rows.extend(read("SELECT 's', id, n FROM public.seq"));
    rows
}

fn readers_never_see_part_of_a_transaction(kind: Kind) {
    let src = TestDb::new("comp_atomic");
    src.psql(common::BANK);
    let dest = Dest::new(kind, "comp_atomic");
    // Tiny batches: each transfer reaches the destination in pieces before its commit.
    let p = dest.pipeline(&src, &BANK_TABLES, "[flush]\ninterval_ms = 20\nmax_rows = 3");
    let mut s = p.start();
    s.wait_synced(&src);
    let writer = {
        let (cluster, name) = (src.cluster, src.name.clone());
        std::thread::spawn(move || {
            for round in 0..16 {
                cluster.psql(&name, &common::transfers(20, round * 20));
                std::thread::sleep(std::time::Duration::from_millis(100)); // paced, so reads interleave
            }
        })
    };
    // Read checkpoint and data together, in one snapshot, while the transfers stream in.
    let mut seen: Vec<(String, u64)> = Vec::new();
    while !writer.is_finished() || seen.len() < 5 {
        seen.push(check_bank(&dest.live_rows(&p, BANK_STATE)[0]));
    }
    writer.join().unwrap();
    s.wait_synced(&src);
    assert!(s.stop().success());
    for pair in seen.windows(2) {
        let ((c1, n1), (c2, n2)) = (&pair[0], &pair[1]);
        assert!(n1 <= n2, "the replica never goes back: {pair:?}");
        if c1 == c2 {
            assert_eq!(n1, n2, "one checkpoint, one state: data and checkpoint commit together ({pair:?})");
        }
    }
    assert!(seen.iter().any(|(_, n)| *n > 0 && *n < 320), "some reads happened mid-stream: {seen:?}");
    assert_eq!(check_bank(&dest.rows(&p, BANK_STATE)[0]).1, 320);
    assert_same(bank_rows(|sql| dest.rows(&p, sql)), bank_rows(|sql| pg_rows(&src, sql)), "bank tables");
}

/// A column of the types case: its type, a value for each of two rows, and how each side reads
/// it back as the source's text (`{c}` stands for the column).
struct TypeCase {
    name: &'static str,
    ty: &'static str,
    values: [&'static str; 2],
    /// At the source and at a PostgreSQL destination.
    pg: &'static str,
    /// At a DuckDB destination.
    duck: &'static str,
}

const FLOAT_TEXT: &str = "CASE WHEN isnan({c}) THEN 'NaN' WHEN isinf({c}) AND {c} > 0 THEN 'Infinity'
                          WHEN isinf({c}) THEN '-Infinity' ELSE {c}::VARCHAR END";

const TYPES: &[TypeCase] = &[
    TypeCase { name: "i2", ty: "int2", values: ["-32768", "7"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "i8", ty: "int8", values: ["9223372036854775807", "-1"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "n", ty: "numeric(20,6)", values: ["12345678901234.123456", "-0.000001"], pg: "{c}", duck: "{c}" },
    TypeCase {
        name: "nu",
        ty: "numeric",
        values: ["123456789012345678901234567890.123456789", "'NaN'"],
        pg: "{c}",
        duck: "{c}",
    },
    TypeCase { name: "f4", ty: "float4", values: ["1.5", "'-Infinity'"], pg: "{c}", duck: FLOAT_TEXT },
    TypeCase { name: "f8", ty: "float8", values: ["0.1", "'NaN'"], pg: "{c}", duck: FLOAT_TEXT },
    TypeCase {
        name: "b",
        ty: "bool",
        values: ["true", "false"],
        pg: "{c}",
        duck: "CASE {c} WHEN true THEN 't' WHEN false THEN 'f' END",
    },
    TypeCase { name: "vc", ty: "varchar(10)", values: ["'héllo'", "''"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "ch", ty: "char(3)", values: ["'ab'", "'abc'"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "bt", ty: "bytea", values: ["'\\x00ff10'", "''"], pg: "{c}", duck: "'\\x' || lower(hex({c}))" },
    TypeCase { name: "d", ty: "date", values: ["'2024-02-29'", "'1970-01-01'"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "tm", ty: "time", values: ["'23:59:59.999999'", "'00:00:00'"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "ts", ty: "timestamp", values: ["'2024-01-02 03:04:05.678901'", "'infinity'"], pg: "{c}", duck: "{c}" },
    TypeCase {
        name: "tstz",
        ty: "timestamptz",
        values: ["'2024-01-02 03:04:05.678901+05:30'", "'1999-12-31 23:59:59-08'"],
        pg: "(extract(epoch FROM {c}) * 1000000)::bigint",
        duck: "epoch_us({c})",
    },
    TypeCase {
        name: "iv",
        ty: "interval",
        values: ["'1 year 2 mons -3 days -04:05:06.5'", "'-00:00:01'"],
        pg: "{c}",
        duck: "replace((to_months(0) + {c})::VARCHAR, 'months', 'mons')",
    },
    TypeCase { name: "u", ty: "uuid", values: ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "NULL"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "j", ty: "json", values: ["'{\"a\":  [1, 2]}'", "'[]'"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "jb", ty: "jsonb", values: ["'{\"b\": null, \"a\": 1}'", "'\"s\"'"], pg: "{c}", duck: "{c}" },
    TypeCase {
        name: "ai",
        ty: "int[]",
        values: ["'{1,NULL,3}'", "'{}'"],
        pg: "{c}",
        duck: "replace(replace(replace({c}.elements::VARCHAR, '[', '{'), ']', '}'), ', ', ',')",
    },
    TypeCase {
        name: "tx",
        ty: "text[]",
        values: ["'{\"a,b\",\"c\\\"d\",NULL}'", "'{}'"],
        pg: "cardinality({c}) || ':' || coalesce({c}[1], '-') || '|' || coalesce({c}[2], '-') || '|' || coalesce({c}[3], '-')",
        duck: "len({c}.elements)::VARCHAR || ':' || coalesce({c}.elements[1], '-') || '|' || coalesce({c}.elements[2], '-') || '|' || coalesce({c}.elements[3], '-')",
    },
    TypeCase { name: "ip", ty: "inet", values: ["'192.168.0.1/24'", "'::1'"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "nr", ty: "numrange", values: ["'[1.5,2)'", "'empty'"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "bits", ty: "bit(4)", values: ["B'1010'", "B'0001'"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "pt", ty: "point", values: ["'(1,2.5)'", "'(-0.5,0)'"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "tsv", ty: "tsvector", values: ["'a:1 fat:2 cat:3'", "''"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "md", ty: "mood", values: ["'happy'", "'sad'"], pg: "{c}", duck: "{c}" },
    TypeCase { name: "pi", ty: "posint", values: ["3", "NULL"], pg: "{c}", duck: "{c}" },
];

fn values_of_many_types_round_trip(kind: Kind) {
    let src = TestDb::new("comp_types");
    let columns: Vec<String> = TYPES.iter().map(|t| format!("{} {}", t.name, t.ty)).collect();
    src.psql(&format!(
        "CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE DOMAIN posint AS int CHECK (VALUE > 0);
         CREATE TABLE t (id int PRIMARY KEY, {});",
        columns.join(", ")
    ));
    let insert = |id: usize, row: usize| {
        let values: Vec<&str> = TYPES.iter().map(|t| t.values[row]).collect();
        format!("INSERT INTO t VALUES ({id}, {});", values.join(", "))
    };
    // Rows 1 and 2 arrive through the snapshot (COPY), 3 and 4 through the stream (pgoutput).
    src.psql(&format!("{} {}", insert(1, 0), insert(2, 1)));
    let dest = Dest::new(kind, "comp_types");
    let p = dest.pipeline(&src, &["public.t"], "[flush]\ninterval_ms = 50");
    let mut s = p.start();
    streaming(&mut s);
    src.psql(&format!("{} {}", insert(3, 0), insert(4, 1)));
    s.wait_synced(&src);
    assert!(s.stop().success());
    let select = |read: &dyn Fn(&TypeCase) -> &'static str| {
        let exprs: Vec<String> =
            TYPES.iter().map(|t| format!("{} AS {}", read(t).replace("{c}", t.name), t.name)).collect();
        format!("SELECT id, {} FROM public.t", exprs.join(", "))
    };
    let mut expected = pg_rows(&src, &select(&|t| t.pg));
    let mut actual = dest.rows(&p, &select(&|t| dest.read_back(t.pg, t.duck)));
    assert_eq!(actual.len(), 4);
    actual.sort();
    expected.sort();
    let labels: Vec<(&str, &str)> =
        std::iter::once(("id", "int")).chain(TYPES.iter().map(|t| (t.name, t.ty))).collect();
    for (a, e) in actual.iter().zip(&expected) {
        for (i, (name, ty)) in labels.iter().enumerate() {
            assert_eq!(a[i], e[i], "column {name} ({ty}) of row {}", e[0]);
        }
    }
}

fn unchanged_toast_values_are_kept(kind: Kind) {
    let src = TestDb::new("comp_toast");
    src.psql(
        "CREATE TABLE docs (id int PRIMARY KEY, body text, n int);
         INSERT INTO docs SELECT i, (SELECT string_agg(md5(i::text || j::text), '') FROM generate_series(1, 1000) j), 0
           FROM generate_series(1, 20) i;",
    );
    let stored: u64 = src.psql("SELECT min(pg_column_size(body)) FROM docs").parse().unwrap();
    assert!(stored > 8192, "the bodies must be TOASTed out of line ({stored} bytes) for this test to mean anything");
    let dest = Dest::new(kind, "comp_toast");
    let p = dest.pipeline(&src, &["public.docs"], "[flush]\ninterval_ms = 50");
    let mut s = p.start();
    streaming(&mut s);
    src.psql("UPDATE docs SET n = n + 1 WHERE id <= 10"); // body not sent: unchanged TOAST
    src.psql("BEGIN; UPDATE docs SET n = 5 WHERE id = 11; UPDATE docs SET n = 6 WHERE id = 11; COMMIT;");
    src.psql("UPDATE docs SET body = body || 'x' WHERE id = 12"); // changed: sent
    src.psql("DELETE FROM docs WHERE id = 13");
    src.psql(
        "BEGIN; INSERT INTO docs SELECT 21, (SELECT string_agg(md5(j::text), '') FROM generate_series(1, 1000) j), 0;
         UPDATE docs SET n = 9 WHERE id = 21; COMMIT;",
    );
    s.wait_synced(&src);
    src.psql("UPDATE docs SET n = n + 1 WHERE id IN (1, 12, 21)"); // again, in a later destination commit
                                                                   // Key updates that leave the body out: the value moves with the row.
    src.psql("UPDATE docs SET id = 102 WHERE id = 2; BEGIN; UPDATE docs SET n = 3 WHERE id = 3; UPDATE docs SET id = 103 WHERE id = 3; COMMIT;");
    s.wait_synced(&src);
    assert!(s.stop().success());
    let sql = "SELECT id, md5(body), n FROM public.docs";
    assert_same(dest.rows(&p, sql), pg_rows(&src, sql), "docs: an UPDATE that does not touch a TOASTed value keeps it");
    assert_eq!(dest.rows(&p, "SELECT count(*) FROM public.docs WHERE body IS NULL"), vec![vec!["0".to_string()]]);
}

fn an_added_column_appears_with_its_values(kind: Kind) {
    let src = TestDb::new("comp_add_column");
    src.psql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a');");
    let dest = Dest::new(kind, "comp_add_column");
    let p = dest.pipeline(&src, &["public.t"], "[flush]\ninterval_ms = 50");
    let mut s = p.start();
    streaming(&mut s);
    src.psql("ALTER TABLE t ADD COLUMN w numeric(10,3); INSERT INTO t VALUES (2, 'b', 1.5); UPDATE t SET w = 7 WHERE id = 1;");
    // A separate destination commit: the DuckDB destination cannot yet commit two ALTERs of one
    // table with its rows in one transaction ("another transaction has altered this table").
    s.wait_synced(&src);
    src.psql("ALTER TABLE t ADD COLUMN tags text[]; INSERT INTO t VALUES (3, 'c', NULL, '{x,y}');");
    s.wait_synced(&src);
    assert!(s.stop().success());
    let sql = "SELECT id, v, w, array_to_string(tags, ',') FROM public.t";
    let read = dest.read_back(sql, "SELECT id, v, w, array_to_string(tags.elements, ',') FROM public.t");
    assert_same(dest.rows(&p, read), pg_rows(&src, sql), "t with added columns");
}

fn schema_changes_without_row_changes_and_type_changes(kind: Kind) {
    let src = TestDb::new("comp_schema");
    src.psql("CREATE TABLE t (id int PRIMARY KEY, n int, gone text); INSERT INTO t SELECT i, i, 'g' FROM generate_series(1, 50) i;");
    let dest = Dest::new(kind, "comp_schema");
    let p = dest.pipeline(&src, &["public.t"], "[flush]\ninterval_ms = 50");
    let text = std::fs::read_to_string(&p.config).unwrap();
    std::fs::write(
        &p.config,
        text.replace("[source]\n", "[source]\nschema_poll_s = 1\n")
            .replace("[destination]\n", "[destination]\ndrop_columns = true\n"),
    )
    .unwrap();
    let mut s = p.start();
    s.wait_synced(&src);
    // No row changes after it: the column and its default come from the catalog and a copy.
    src.psql("ALTER TABLE t ADD COLUMN flag int NOT NULL DEFAULT 7");
    siphon_testkit::wait_for("existing rows to get the added column's default", common::TIMEOUT, || {
        let read = std::panic::AssertUnwindSafe(|| dest.live_rows(&p, "SELECT count(*) FROM public.t WHERE flag = 7"));
        let rows = std::panic::catch_unwind(read).ok()?;
        (rows == vec![vec!["50".to_string()]]).then_some(())
    });
    src.psql(
        "ALTER TABLE t ALTER COLUMN n TYPE bigint; ALTER TABLE t DROP COLUMN gone;
              INSERT INTO t VALUES (51, 1099511627776, 8); UPDATE t SET n = -n WHERE id = 1;",
    );
    s.wait_synced(&src);
    assert!(s.stop().success());
    let sql = "SELECT id, n, flag FROM public.t";
    assert_same(dest.rows(&p, sql), pg_rows(&src, sql), "t after ADD COLUMN DEFAULT, a wider type and DROP COLUMN");
    let gone = "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'gone'";
    assert_eq!(dest.rows(&p, gone), vec![vec!["0".to_string()]], "drop_columns dropped it");
}

fn a_renamed_column_keeps_its_values(kind: Kind) {
    let src = TestDb::new("comp_rename");
    src.psql("CREATE TABLE t (id int PRIMARY KEY, old_name text, n int); INSERT INTO t SELECT i, 'v' || i, i FROM generate_series(1, 20) i;");
    let dest = Dest::new(kind, "comp_rename");
    let p = dest.pipeline(&src, &["public.t"], "[flush]\ninterval_ms = 50");
    let mut s = p.start();
    s.wait_synced(&src);
    // A rename, then a drop and an add in one go (which must not be taken for a rename).
    src.psql(
        "ALTER TABLE t RENAME COLUMN old_name TO new_name; UPDATE t SET new_name = 'changed' WHERE id = 1;
         INSERT INTO t VALUES (21, 'v21', 21);",
    );
    s.wait_synced(&src);
    src.psql("ALTER TABLE t DROP COLUMN n; ALTER TABLE t ADD COLUMN m int; UPDATE t SET m = 9 WHERE id = 2;");
    s.wait_synced(&src);
    assert!(s.stop().success());
    // Rows never touched since keep their values under the new name.
    let sql = "SELECT id, new_name, m FROM public.t";
    assert_same(dest.rows(&p, sql), pg_rows(&src, sql), "t after RENAME COLUMN");
    let columns = "SELECT column_name FROM information_schema.columns WHERE table_name = 't' AND table_schema = 'public' ORDER BY column_name";
    let names: Vec<String> = dest.rows(&p, columns).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        names,
        ["id", "m", "n", "new_name"],
        "renamed, not added; the dropped column kept (drop_columns = false)"
    );
    let renames: Vec<serde_json::Value> = common::events(&p, "ddl.seen")
        .into_iter()
        .filter(|e| e["renamed"].as_array().is_some_and(|r| !r.is_empty()))
        .collect();
    assert_eq!(renames.len(), 1, "{renames:?}");
    assert_eq!(renames[0]["renamed"], serde_json::json!([["old_name", "new_name"]]));
}

fn kill_9_while_streaming_is_exact(kind: Kind) {
    let src = TestDb::new("comp_kill_stream");
    src.psql(common::BANK);
    let dest = Dest::new(kind, "comp_kill_stream");
    let p = dest.pipeline(&src, &BANK_TABLES, "[flush]\ninterval_ms = 20\nmax_rows = 7");
    let mut s = p.start();
    streaming(&mut s);
    let writer = {
        let (cluster, name) = (src.cluster, src.name.clone());
        std::thread::spawn(move || {
            for round in 0..12 {
                cluster.psql(&name, &common::transfers(50, round * 50));
            }
        })
    };
    for _ in 0..4 {
        let before = s.status().and_then(|st| st["commits"].as_u64()).unwrap_or(0);
        s.wait_status("a few more commits", |st| st["commits"].as_u64().unwrap_or(0) >= before + 3);
        s.kill9();
        dest.wait_writer_gone();
        check_bank(&dest.rows(&p, BANK_STATE)[0]);
        s = p.start();
    }
    writer.join().unwrap();
    s.wait_synced(&src);
    assert!(s.stop().success());
    assert_eq!(check_bank(&dest.rows(&p, BANK_STATE)[0]).1, 600, "every transfer exactly once after 4 kill -9");
    assert_same(bank_rows(|sql| dest.rows(&p, sql)), bank_rows(|sql| pg_rows(&src, sql)), "bank tables after kill -9");
}

fn kill_9_mid_snapshot_resumes_exactly(kind: Kind) {
    let src = TestDb::new("comp_kill_snapshot");
    src.psql(
        "CREATE TABLE many (id int PRIMARY KEY, v text);
         INSERT INTO many SELECT i, md5(i::text) FROM generate_series(1, 150000) i; ANALYZE many;",
    );
    let dest = Dest::new(kind, "comp_kill_snapshot");
    let p = dest.pipeline(
        &src,
        &["public.many"],
        "[snapshot]\nchunk_rows = 5000\nparallel_tables = 1\nconnections_per_table = 1\n[flush]\ninterval_ms = 50",
    );
    let mut s = p.start();
    s.wait_status("a few chunks copied", |st| {
        st["copy"]["public.many"]["chunks_done"].as_u64().is_some_and(|d| d >= 3)
    });
    s.kill9();
    dest.wait_writer_gone();
    let count = |sql: &str| dest.rows(&p, sql)[0][0].parse::<u64>().unwrap();
    let done = count("SELECT count(*) FROM __siphon.copy_chunks WHERE done AND chunk >= 0");
    let planned = count("SELECT count(*) FROM __siphon.copy_chunks WHERE chunk >= 0");
    assert!(done >= 1 && done < planned, "the kill came mid-copy ({done} of {planned} chunks done)");
    assert!(count("SELECT count(*) FROM public.many") > 0, "the committed chunks' rows are there");
    src.psql(
        "UPDATE many SET v = 'changed' WHERE id % 1000 = 7; DELETE FROM many WHERE id % 1000 = 8;
         INSERT INTO many VALUES (900001, 'late');",
    );
    let mut s = p.start();
    let resumed = wait_event(&mut s, &p, "backfill.started", 2);
    assert_eq!(resumed["reason"], "resumed");
    assert_eq!(resumed["chunks_resumed"].as_u64(), Some(done));
    let finished = wait_event(&mut s, &p, "backfill.finished", 1);
    assert_eq!(finished["chunks_copied"].as_u64(), Some(planned - done), "only the chunks not done are copied again");
    s.wait_synced(&src);
    assert!(s.stop().success());
    let digest = "SELECT count(*), md5(string_agg(concat(id, ':', v), ',' ORDER BY id)) FROM public.many";
    assert_same(dest.rows(&p, digest), pg_rows(&src, digest), "many: count and digest of every row");
    assert_eq!(count("SELECT count(*) FROM __siphon.copy_chunks"), 0, "a finished copy leaves no records");
}

/// `(id, v, live|deleted)` of a soft-delete table.
const SOFT_SQL: &str =
    "SELECT id, v, CASE WHEN __siphon_deleted THEN 'deleted' WHEN NOT __siphon_deleted THEN 'live' END FROM public.t";

fn soft_deletes_mark_rows_and_reinserts_revive_them(kind: Kind) {
    let src = TestDb::new("comp_soft");
    src.psql(
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 6) i;",
    );
    let dest = Dest::new(kind, "comp_soft");
    let p = dest.pipeline(&src, &["public.t"], "[flush]\ninterval_ms = 50\n[table_defaults]\nsoft_delete = true");
    let mut s = p.start();
    streaming(&mut s);
    src.psql("DELETE FROM t WHERE id = 1");
    src.psql("DELETE FROM t WHERE id = 2");
    src.psql("INSERT INTO t VALUES (2, 'again')");
    src.psql("BEGIN; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (3, 'same transaction'); COMMIT;");
    src.psql("UPDATE t SET v = 'updated' WHERE id = 4; UPDATE t SET id = 40 WHERE id = 5;");
    src.psql("INSERT INTO t VALUES (7, 'short-lived'); DELETE FROM t WHERE id = 7;");
    s.wait_synced(&src);
    assert!(s.stop().success());
    let row = |id: &str, v: &str, state: &str| vec![id.to_string(), v.to_string(), state.to_string()];
    let expected = vec![
        row("1", "v1", "deleted"),
        row("2", "again", "live"),
        row("3", "same transaction", "live"),
        row("4", "updated", "live"),
        row("5", "v5", "deleted"),
        row("40", "v5", "live"),
        row("6", "v6", "live"),
        row("7", "short-lived", "deleted"),
    ];
    assert_same(dest.rows(&p, SOFT_SQL), expected, "soft deletes keep the row, marked; a re-insert revives it");

    let mut s = p.start();
    src.psql("BEGIN; TRUNCATE t; INSERT INTO t VALUES (2, 'after truncate'), (8, 'new'); COMMIT;");
    s.wait_synced(&src);
    assert!(s.stop().success());
    let expected = vec![
        row("1", "v1", "deleted"),
        row("2", "after truncate", "live"),
        row("3", "same transaction", "deleted"),
        row("4", "updated", "deleted"),
        row("5", "v5", "deleted"),
        row("40", "v5", "deleted"),
        row("6", "v6", "deleted"),
        row("7", "short-lived", "deleted"),
        row("8", "new", "live"),
    ];
    assert_same(dest.rows(&p, SOFT_SQL), expected, "a TRUNCATE marks every row deleted");
    let live = "SELECT id, v FROM public.t WHERE NOT __siphon_deleted";
    assert_same(dest.rows(&p, live), pg_rows(&src, "SELECT id, v FROM t"), "live rows are the source's rows");
}

/// History rows `(id, v, op, position, seq, has commit time)`, in history order (sorted here:
/// positions are zero-padded, so text order is position order).
fn history(dest: &Dest, p: &Pipeline, table: &str) -> Vec<(String, String, String, String, u64)> {
    let sql = format!(
        "SELECT id, v, __siphon_op, __siphon_position, __siphon_seq, \
         CASE WHEN __siphon_commit_ts IS NULL THEN 'no' ELSE 'yes' END FROM public.{table}__history"
    );
    let mut rows: Vec<(String, String, String, String, u64)> = dest
        .rows(p, &sql)
        .into_iter()
        .map(|r| {
            assert_eq!(r[5], "yes", "every history row has its commit time: {r:?}");
            (r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone(), r[4].parse().unwrap())
        })
        .collect();
    rows.sort_by(|a, b| (&a.3, a.4).cmp(&(&b.3, b.4)));
    rows
}

fn history_keeps_every_change_once_in_order(kind: Kind) {
    let src = TestDb::new("comp_history");
    src.psql(
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (100, 'copied');
         CREATE TABLE h (id int PRIMARY KEY, v text);",
    );
    let dest = Dest::new(kind, "comp_history");
    let modes = "[flush]\ninterval_ms = 50\n[tables.\"public.t\"]\nhistory = \"both\"\n[tables.\"public.h\"]\nhistory = \"only\"";
    let p = dest.pipeline(&src, &["public.t", "public.h"], modes);
    let mut s = p.start();
    streaming(&mut s);
    for table in ["t", "h"] {
        src.psql(&format!(
            "BEGIN; INSERT INTO {table} VALUES (1, 'a'); UPDATE {table} SET v = 'b' WHERE id = 1;
               UPDATE {table} SET v = 'c' WHERE id = 1; COMMIT;
             UPDATE {table} SET v = 'd' WHERE id = 1;
             UPDATE {table} SET v = 'e' WHERE id = 1;
             BEGIN; UPDATE {table} SET id = 2 WHERE id = 1; UPDATE {table} SET v = 'f' WHERE id = 2; COMMIT;
             DELETE FROM {table} WHERE id = 2;
             INSERT INTO {table} VALUES (3, 'x');
             TRUNCATE {table};"
        ));
    }
    s.wait_synced(&src);
    assert!(s.stop().success());
    let checkpoint = &dest.rows(&p, "SELECT lsn FROM __siphon.checkpoint")[0][0];
    for table in ["t", "h"] {
        let rows = history(&dest, &p, table);
        let seen: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str())).collect();
        assert_eq!(
            seen,
            vec![
                ("1", "a", "insert"),
                ("1", "b", "update"),
                ("1", "c", "update"),
                ("1", "d", "update"),
                ("1", "e", "update"),
                ("2", "e", "update"),
                ("2", "f", "update"),
                ("2", "NULL", "delete"),
                ("3", "x", "insert"),
                ("NULL", "NULL", "truncate"),
            ],
            "{table}__history: every change once, in order (the copied row is not a change)"
        );
        let positions: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
        assert!(positions[0] == positions[1] && positions[1] == positions[2], "one transaction, one position");
        assert!(rows[0].4 < rows[1].4 && rows[1].4 < rows[2].4, "seq orders a transaction's changes");
        assert!(positions[2] < positions[3] && positions[5] == positions[6], "{positions:?}");
        let last = common::parse_lsn(positions[9]).unwrap();
        assert!(last < common::parse_lsn(checkpoint).unwrap(), "history positions are below the checkpoint");
    }
    assert_eq!(dest.rows(&p, "SELECT count(*) FROM public.t"), vec![vec!["0".to_string()]], "t itself is replicated");
    let h_exists = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'h'";
    assert_eq!(dest.rows(&p, h_exists), vec![vec!["0".to_string()]], "history only: no table h");
}

fn history_has_no_duplicates_after_kill_9(kind: Kind) {
    let src = TestDb::new("comp_history_kill");
    src.psql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, '0');");
    let dest = Dest::new(kind, "comp_history_kill");
    let p = dest.pipeline(
        &src,
        &["public.t"],
        "[flush]\ninterval_ms = 20\nmax_rows = 7\n[table_defaults]\nhistory = \"both\"",
    );
    let mut s = p.start();
    streaming(&mut s);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (cluster, name, done) = (src.cluster, src.name.clone(), done.clone());
        // Writes until the kills are over (at least 3 rounds); returns the rounds written.
        std::thread::spawn(move || {
            let mut round = 0;
            while round < 3 || !done.load(std::sync::atomic::Ordering::SeqCst) {
                let mut sql = String::new();
                for i in 0..30 {
                    let n = round * 30 + i + 1;
                    // Two changes of the key per transaction, every other one.
                    if n % 2 == 0 {
                        sql.push_str(&format!("BEGIN; UPDATE t SET v = '{n}a' WHERE id = 1; UPDATE t SET v = '{n}' WHERE id = 1; COMMIT;\n"));
                    } else {
                        sql.push_str(&format!("UPDATE t SET v = '{n}' WHERE id = 1;\n"));
                    }
                }
                cluster.psql(&name, &sql);
                round += 1;
            }
            round
        })
    };
    for _ in 0..3 {
        let before = s.status().and_then(|st| st["commits"].as_u64()).unwrap_or(0);
        s.wait_status("a few more commits", |st| st["commits"].as_u64().unwrap_or(0) >= before + 3);
        s.kill9();
        dest.wait_writer_gone();
        s = p.start();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let rounds = writer.join().unwrap();
    s.wait_synced(&src);
    assert!(s.stop().success());
    let values: Vec<String> = history(&dest, &p, "t").into_iter().map(|r| r.1).collect();
    let mut expected = Vec::new();
    for n in 1..=rounds * 30 {
        if n % 2 == 0 {
            expected.push(format!("{n}a"));
        }
        expected.push(n.to_string());
    }
    assert_eq!(values.len(), expected.len(), "one history row per change after 3 kill -9 (none twice, none lost)");
    assert_eq!(values, expected, "in order");
}

fn metadata_columns_describe_the_last_change(kind: Kind) {
    let src = TestDb::new("comp_metadata");
    src.psql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'copied'), (2, 'copied'), (3, 'copied');");
    let dest = Dest::new(kind, "comp_metadata");
    let p = dest.pipeline(
        &src,
        &["public.t"],
        "[flush]\ninterval_ms = 50\n[tables.\"public.t\"]\nmetadata_columns = true\nsoft_delete = true",
    );
    let mut s = p.start();
    streaming(&mut s);
    src.psql("INSERT INTO t VALUES (10, 'new'); UPDATE t SET v = 'changed' WHERE id = 2; DELETE FROM t WHERE id = 3;");
    src.psql("BEGIN; INSERT INTO t VALUES (11, 'x'); UPDATE t SET v = 'y' WHERE id = 11; COMMIT;");
    s.wait_synced(&src);
    assert!(s.stop().success());
    let sql = "SELECT id, v, __siphon_op, CASE WHEN __siphon_commit_ts IS NULL THEN 'no' ELSE 'yes' END,
                      CASE WHEN __siphon_position IS NULL THEN 'no' ELSE 'yes' END,
                      CASE WHEN __siphon_synced_at IS NULL THEN 'no' ELSE 'yes' END FROM public.t";
    let row = |r: [&str; 6]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_same(
        dest.rows(&p, sql),
        vec![
            row(["1", "copied", "copy", "no", "no", "yes"]),
            row(["2", "changed", "update", "yes", "yes", "yes"]),
            row(["3", "copied", "delete", "yes", "yes", "yes"]),
            row(["10", "new", "insert", "yes", "yes", "yes"]),
            row(["11", "y", "update", "yes", "yes", "yes"]),
        ],
        "metadata columns: the last change of each row",
    );
    let position =
        |id: u32| dest.rows(&p, &format!("SELECT __siphon_position FROM public.t WHERE id = {id}"))[0][0].clone();
    assert!(position(10) < position(2), "the insert of 10 committed before the update of 2");
    // Commit times are the source's: the sync marker commits after every change.
    let ts = dest.read_back(
        "SELECT count(*) FROM public.t WHERE __siphon_commit_ts > now() - interval '1 hour' AND __siphon_commit_ts <= __siphon_synced_at",
        "SELECT count(*) FROM public.t WHERE __siphon_commit_ts > now() - INTERVAL 1 HOUR AND __siphon_commit_ts <= __siphon_synced_at",
    );
    assert_eq!(dest.rows(&p, ts), vec![vec!["4".to_string()]], "commit times are recent and before the write");

    let mut s = p.start();
    src.psql("TRUNCATE t");
    s.wait_synced(&src);
    assert!(s.stop().success());
    let ops = "SELECT DISTINCT __siphon_op, CASE WHEN __siphon_deleted THEN 'deleted' END FROM public.t";
    assert_eq!(dest.rows(&p, ops), vec![vec!["truncate".to_string(), "deleted".to_string()]]);
}

const SALT: &str = "test-salt-0123456789";

fn excluded_columns_never_arrive_and_hashes_are_salted_sha256(kind: Kind) {
    let src = TestDb::new("comp_columns");
    src.psql(
        "CREATE TABLE people (id int PRIMARY KEY, email text, ssn text, notes text, age int);
         INSERT INTO people VALUES (1, 'a@x.org', '111', 'secret 1', 30), (2, 'b@x.org', NULL, 'secret 2', NULL);
         CREATE TABLE keyed (email text PRIMARY KEY, n int, extra text);
         INSERT INTO keyed VALUES ('k1@x.org', 1, 'e1'), ('k2@x.org', 2, 'e2');",
    );
    let dest = Dest::new(kind, "comp_columns");
    let modes = format!(
        "[flush]\ninterval_ms = 50\n[tables.\"public.people\"]\nexclude = [\"notes\"]\nhash = [\"email\", \"ssn\"]\n\
         [tables.keyed]\ninclude = [\"n\"]\nhash = [\"email\"]\n[hashing]\nsalt = \"{SALT}\""
    );
    let p = dest.pipeline(&src, &["public.people", "public.keyed"], &modes);
    let mut s = p.start();
    streaming(&mut s);
    src.psql(
        "INSERT INTO people VALUES (3, 'c@x.org', '333', 'secret 3', 40);
         UPDATE people SET email = 'a2@x.org', notes = 'secret again' WHERE id = 1;
         INSERT INTO keyed VALUES ('k3@x.org', 3, 'e3');
         UPDATE keyed SET n = 20 WHERE email = 'k2@x.org';
         DELETE FROM keyed WHERE email = 'k1@x.org';
         UPDATE keyed SET email = 'k4@x.org' WHERE email = 'k3@x.org';",
    );
    s.wait_synced(&src);
    assert!(s.stop().success());
    let columns = "SELECT table_name, column_name FROM information_schema.columns
                   WHERE table_schema = 'public' AND table_name IN ('people', 'keyed')";
    let names =
        |rows: &[&str]| rows.iter().map(|r| r.split(' ').map(str::to_string).collect()).collect::<Vec<Vec<String>>>();
    assert_same(
        dest.rows(&p, columns),
        names(&["people id", "people email", "people ssn", "people age", "keyed email", "keyed n"]),
        "excluded columns are not created",
    );
    // The hashes, computed independently by the source server.
    let h = |c: &str| format!("encode(sha256(convert_to('{SALT}' || {c}, 'UTF8')), 'hex')");
    let people = format!("SELECT id, {}, {}, age FROM people", h("email"), h("ssn"));
    assert_same(
        dest.rows(&p, "SELECT id, email, ssn, age FROM public.people"),
        pg_rows(&src, &people),
        "people, hashed",
    );
    let keyed = format!("SELECT {}, n FROM keyed", h("email"));
    assert_same(
        dest.rows(&p, "SELECT email, n FROM public.keyed"),
        pg_rows(&src, &keyed),
        "keyed: hashed keys still match",
    );

    // A key column cannot be excluded: siphon stops at start, naming the setting.
    let text = std::fs::read_to_string(&p.config).unwrap();
    std::fs::write(&p.config, text.replace("exclude = [\"notes\"]", "exclude = [\"notes\", \"id\"]")).unwrap();
    let mut s = p.start();
    assert_ne!(s.wait_exit(), 0);
    let log = p.log();
    assert!(
        log.contains("tables.\"public.people\".exclude") && log.contains("key columns cannot be excluded"),
        "{log}"
    );
    assert!(!log.contains(SALT), "the salt is never logged");
}
