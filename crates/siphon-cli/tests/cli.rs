//! The command line: bad configurations fail fast, name the key, and never print secrets.

use std::process::Command;

const GOOD: &str = r#"
[pipeline]
name = "demo"
state_dir = "STATE"
[source]
kind = "postgres"
url = "postgres://siphon:${SIPHON_TEST_PASSWORD}@127.0.0.1:1/app"
tables = ["public.orders"]
[destination]
kind = "duckdb"
path = "replica.duckdb"
[control]
listen = "127.0.0.1:0"
"#;

/// Runs `siphon <verb> --config <file with text>`; returns (success, stderr + stdout).
fn siphon(verb: &str, text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("siphon.toml");
    std::fs::write(&config, text.replace("STATE", dir.path().join("state").to_str().unwrap())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_siphon"))
        .args([verb, "--config"])
        .arg(&config)
        .env("SIPHON_TEST_PASSWORD", "topsecret")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    (out.status.success(), text)
}

#[test]
fn a_good_config_checks_and_its_secrets_are_redacted() {
    let (ok, out) = siphon("check", GOOD);
    assert!(ok, "{out}");
    assert!(out.contains("configuration is valid"), "{out}");
    assert!(!out.contains("topsecret"), "the password must not be printed: {out}");
}

#[test]
fn bad_configs_name_the_key_path_expected_and_found() {
    let cases = [
        (GOOD.replace("path = ", "paht = "), "`destination.paht`", "unknown field"),
        (GOOD.replace("kind = \"duckdb\"", "kind = \"snowflake\""), "`destination.kind`", "duckdb"),
        (GOOD.replace("name = \"demo\"", "name = 42"), "`pipeline.name`", "string"),
        (
            GOOD.replace("${SIPHON_TEST_PASSWORD}", "${SIPHON_UNSET_VARIABLE}"),
            "`source.url`",
            "SIPHON_UNSET_VARIABLE is not set",
        ),
        (GOOD.replace("[\"public.orders\"]", "[\"a.b.c\"]"), "`source.tables[0]`", "schema.table"),
        (format!("{GOOD}[flush]\ninterval_ms = -5\n"), "`flush.interval_ms`", "-5"),
        (GOOD.replace("path = \"replica.duckdb\"", ""), "`destination.path`", "required"),
    ];
    for (text, key, expected) in cases {
        for verb in ["check", "run"] {
            let (ok, out) = siphon(verb, &text);
            assert!(!ok, "siphon {verb} must fail for {key}");
            assert!(out.contains(key), "{verb}: error must name {key}: {out}");
            assert!(out.contains(expected), "{verb}: error must say {expected:?}: {out}");
            assert!(!out.contains("topsecret"), "{out}");
        }
    }
}

#[test]
fn an_unreachable_source_is_retried_not_fatal_and_the_password_never_logged() {
    // Port 1 refuses connections: siphon must keep retrying (transient), so stop it after the
    // first retry is logged.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("siphon.toml");
    std::fs::write(
        &config,
        GOOD.replace("STATE", dir.path().join("state").to_str().unwrap())
            .replace("replica.duckdb", dir.path().join("r.duckdb").to_str().unwrap()),
    )
    .unwrap();
    let log_path = dir.path().join("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_siphon"))
        .args(["run", "--config"])
        .arg(&config)
        .env("SIPHON_TEST_PASSWORD", "topsecret")
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    siphon_testkit::wait_for("a reconnect attempt in the log", std::time::Duration::from_secs(30), || {
        std::fs::read_to_string(&log_path).unwrap().contains("reconnecting").then_some(())
    });
    assert!(child.try_wait().unwrap().is_none(), "a refused connection is transient: siphon keeps running");
    assert!(Command::new("kill").arg(child.id().to_string()).status().unwrap().success());
    assert!(child.wait().unwrap().success(), "SIGTERM while reconnecting exits 0");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("siphon@127.0.0.1:1/app"), "{log}");
    assert!(!log.contains("topsecret"), "{log}");
    let status = std::fs::read_to_string(dir.path().join("state/status.json")).unwrap();
    assert!(!status.contains("topsecret"));
}
