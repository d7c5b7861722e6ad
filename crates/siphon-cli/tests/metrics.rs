//! `GET /metrics`: Prometheus text with lag, flushes, rows by table and operation, pipeline state
//! and slot health; token required; no secrets.

mod common;

use common::Pipeline;
use siphon_testkit::TestDb;

/// The value of the sample of `name` whose labels include every `label="value"` in `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || *l == name || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|lab| l.contains(lab)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_show_rows_flushes_state_and_slot_health_behind_the_token() {
    let db = TestDb::new("metrics");
    db.psql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' FROM generate_series(1, 50) i;");
    // A password in the URL (trust auth ignores it): it must never show up in the metrics.
    let url = db.url().replace("postgres@", "postgres:hunter2-secret@");
    let source = format!("slot = \"{0}\"\npublication = \"{0}\"", db.name);
    let p = Pipeline::for_source(&url, &["public.t"], &source, "[flush]\ninterval_ms = 50", "duckdb");
    let mut s = p.start();
    s.wait_status("streaming", |st| st["state"] == "streaming");
    db.psql("INSERT INTO t VALUES (100, 'a'), (101, 'b'), (102, 'c'); UPDATE t SET v = 'x' WHERE id <= 5; DELETE FROM t WHERE id = 6;");
    s.wait_synced(&db);

    let state = p.dir.path().join("state");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("control.json")).unwrap()).unwrap();
    let url = format!("http://{}/metrics", info["listen"].as_str().unwrap());
    let token = std::fs::read_to_string(state.join("control.token")).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    assert_eq!(agent.get(&url).call().unwrap().status().as_u16(), 401);
    let mut resp = agent.get(&url).header("Authorization", &format!("Bearer {token}")).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.body_mut().read_to_string().unwrap();

    let rows = |op: &str| {
        sample(&text, "siphon_destination_rows_applied_total", &["table=\"public.t\"", &format!("op=\"{op}\"")])
    };
    assert_eq!(rows("insert"), Some(3.0), "{text}");
    assert_eq!(rows("update"), Some(5.0));
    assert_eq!(rows("delete"), Some(1.0));
    assert_eq!(sample(&text, "siphon_snapshot_rows_total", &["table=\"public.t\""]), Some(50.0));
    assert_eq!(sample(&text, "siphon_pipeline_state", &["state=\"streaming\""]), Some(1.0));
    assert_eq!(sample(&text, "siphon_pipeline_state", &["state=\"paused\""]), Some(0.0));
    let flushes: f64 = ["interval", "caught_up", "max_rows", "max_bytes"]
        .iter()
        .filter_map(|r| sample(&text, "siphon_destination_flushes_total", &[&format!("reason=\"{r}\"")]))
        .sum();
    assert!(flushes >= 1.0, "{text}");
    assert!(sample(&text, "siphon_destination_flush_duration_seconds_count", &[]).is_some(), "{text}");
    assert!(sample(&text, "siphon_replication_lag_seconds", &[]).is_some(), "{text}");
    assert!(sample(&text, "siphon_replication_lag_bytes", &[]).is_some(), "{text}");
    assert!(sample(&text, "siphon_slot_retained_wal_bytes", &[&format!("slot=\"{}\"", db.name)]).is_some(), "{text}");
    assert!(text.contains("# HELP siphon_slot_retained_wal_bytes"), "metrics are documented: {text}");
    assert!(!text.contains("hunter2"), "no secrets in metrics");
    assert!(s.stop().success());
}
