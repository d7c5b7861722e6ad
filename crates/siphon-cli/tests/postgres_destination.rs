//! The command line with a PostgreSQL destination: its URL is a secret, `siphon query` says it
//! reads DuckDB only, and an unreachable destination is reported without the password. (What the
//! destination does with rows is in `compliance.rs`.)

use std::process::Command;

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
