//! The command line with a PostgreSQL destination: its URL is a secret, `siphon query` says it
//! reads DuckDB only, an unreachable destination is reported without the password, and columns
//! get the source's exact types. (What the destination does with rows is in `compliance.rs`,
//! which every destination passes.)

mod common;

use std::process::Command;

use common::{pg_rows, pg_rows_on, Pipeline};
use siphon_testkit::TestDb;

const CONFIG: &str = r#"
[pipeline]
name = "dw"
state_dir = "STATE"
[source]
kind = "postgres"
url = "postgres://siphon@127.0.0.1:1/app"
tables = ["public.orders"]
[destination]
kind = "postgres"
url = "postgres://writer:${SIPHON_TEST_DW_PASSWORD}@127.0.0.1:1/dw?sslmode=disable"
[control]
listen = "127.0.0.1:0"
"#;

/// Runs `siphon <args> --config <CONFIG>`; (success, stdout + stderr).
fn siphon(args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("siphon.toml");
    std::fs::write(&config, CONFIG.replace("STATE", dir.path().join("state").to_str().unwrap())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_siphon"))
        .args(&args[..1])
        .arg("--config")
        .arg(&config)
        .args(&args[1..])
        .env("SIPHON_TEST_DW_PASSWORD", "dw-hunter2")
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn check_accepts_a_postgres_destination_and_hides_its_password() {
    let (ok, out) = siphon(&["check"]);
    assert!(ok, "{out}");
    assert!(out.contains("kind: Postgres") && out.matches("Secret(***)").count() == 2, "both URLs redacted: {out}");
    assert!(!out.contains("dw-hunter2"), "the destination password must not be printed: {out}");
}

#[test]
fn query_says_it_reads_duckdb_only_and_how_to_read_postgres() {
    let (ok, out) = siphon(&["query", "SELECT 1"]);
    assert!(!ok, "{out}");
    assert!(out.contains("siphon query reads DuckDB destinations only"), "{out}");
    assert!(out.contains("destination.url") && out.contains("psql"), "the hint says how to read it: {out}");
}

#[test]
fn an_unreachable_destination_is_named_without_its_password() {
    let (ok, out) = siphon(&["run"]);
    assert!(!ok, "{out}");
    assert!(out.contains("could not connect to the destination writer@127.0.0.1:1/dw"), "{out}");
    assert!(!out.contains("dw-hunter2"), "{out}");
}

/// Every column's type, as `format_type` prints it, in column order.
const COLUMN_TYPES: &str = "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
                            WHERE attrelid = 'public.t'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum";

#[test]
fn columns_get_the_source_types_also_when_added_mid_stream_and_text_for_types_the_destination_lacks() {
    let src = TestDb::new("pgdest_types_src");
    src.psql(
        "CREATE TYPE mood AS ENUM ('sad', 'happy');
         CREATE TABLE t (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, tags varchar(5)[], at timestamptz(3),
                         m mood, r int4range, flags bit(3));
         INSERT INTO t VALUES (1, 1.5, '{a,b}', '2024-01-01 00:00:00.123+00', 'happy', '[1,5)', B'101');",
    );
    let dest = TestDb::new("pgdest_types_dest");
    let p = Pipeline::with_destination(&src, &["public.t"], &format!("url = {:?}", dest.url()), "postgres");
    let mut s = p.start();
    s.wait_synced(&src);
    src.psql("ALTER TABLE t ADD COLUMN added numeric(7,3)[], ADD COLUMN later mood; INSERT INTO t VALUES (2, 2.25);");
    s.wait_synced(&src);
    assert!(s.stop().success());
    let mut expected = pg_rows(&src, COLUMN_TYPES);
    for column in &mut expected {
        if column[1] == "mood" {
            column[1] = "text".into(); // not a type of the destination database
        }
    }
    assert_eq!(pg_rows_on(dest.cluster, &dest.name, COLUMN_TYPES), expected);
    let not_null = "SELECT attname FROM pg_attribute WHERE attrelid = 'public.t'::regclass AND attnotnull ORDER BY 1";
    assert_eq!(pg_rows_on(dest.cluster, &dest.name, not_null), pg_rows(&src, not_null), "NOT NULL as at the source");
}
