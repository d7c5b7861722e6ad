//! Reading the replica while siphon runs: `siphon query` and the control API.

mod common;

use std::time::{Duration, Instant};

use common::Pipeline;
use siphon_testkit::TestDb;

const BANK_TABLES: [&str; 3] = ["public.accounts", "public.ledger", "public.seq"];

/// `siphon query` through the CLI; (exit success, stdout, stderr).
fn cli_query(p: &Pipeline, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_siphon"))
        .args(["query", "--config"])
        .arg(&p.config)
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

struct Api {
    url: String,
    token: String,
    agent: ureq::Agent,
}

impl Api {
    fn of(p: &Pipeline) -> Api {
        let state = p.dir.path().join("state");
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(state.join("control.json")).unwrap()).unwrap();
        Api {
            url: format!("http://{}", info["listen"].as_str().unwrap()),
            token: std::fs::read_to_string(state.join("control.token")).unwrap(),
            agent: ureq::Agent::config_builder().http_status_as_error(false).build().into(),
        }
    }

    /// POST /v1/query; (status, body).
    fn query(&self, token: Option<&str>, body: serde_json::Value, query_string: &str) -> (u16, String) {
        let mut req = self.agent.post(&format!("{}/v1/query{query_string}", self.url));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let mut resp = req.send_json(&body).unwrap();
        (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
    }

    fn sql(&self, sql: &str) -> (u16, serde_json::Value) {
        let (code, body) = self.query(Some(&self.token), serde_json::json!({ "sql": sql }), "");
        (code, serde_json::from_str(&body).unwrap())
    }
}

fn control_extra() -> &'static str {
    "[flush]\ninterval_ms = 20\nmax_rows = 7"
}

#[test]
fn queries_during_streaming_always_see_whole_transactions() {
    let db = TestDb::new("query_consistent");
    db.psql(common::BANK);
    let p = Pipeline::new(&db, &BANK_TABLES, control_extra());
    let mut s = p.start();
    s.wait_status("streaming", |st| st["state"] == "streaming");
    let (name, cluster) = (db.name.clone(), db.cluster);
    let writer = std::thread::spawn(move || {
        for round in 0..12 {
            cluster.psql(&name, &common::transfers(50, round * 50));
        }
    });
    let mut seen = std::collections::BTreeSet::new();
    let sql = "SELECT (SELECT sum(balance) FROM public.accounts) AS total, (SELECT count(*) FROM public.ledger) AS legs, (SELECT n FROM public.seq) AS n";
    while !writer.is_finished() {
        let (ok, out, err) = cli_query(&p, &["--format", "csv", sql]);
        assert!(ok, "{err}");
        let row: Vec<&str> = out.lines().nth(1).unwrap().split(',').collect();
        assert_eq!(row[0], "50000", "a query saw money created or lost: half a transaction");
        let (legs, n): (u64, u64) = (row[1].parse().unwrap(), row[2].parse().unwrap());
        assert_eq!(legs, 2 * n, "a query saw a transfer without both legs");
        seen.insert(n);
    }
    writer.join().unwrap();
    assert!(seen.len() >= 2, "queries ran while replication progressed: {seen:?}");
    s.wait_synced(&db);
    let (_, out, _) = cli_query(&p, &["--format", "csv", "SELECT n FROM public.seq"]);
    assert_eq!(out.lines().nth(1), Some("600"));
    assert!(s.stop().success());
}

#[test]
fn the_http_endpoint_needs_the_token_and_refuses_anything_but_reads() {
    let db = TestDb::new("query_http");
    db.psql(
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 5) i;",
    );
    let p = Pipeline::new(&db, &["public.t"], control_extra());
    let mut s = p.start();
    s.wait_synced(&db);
    let api = Api::of(&p);

    let body = serde_json::json!({ "sql": "SELECT count(*) FROM public.t" });
    assert_eq!(api.query(None, body.clone(), "").0, 401);
    assert_eq!(api.query(Some("not-the-token-at-all"), body.clone(), "").0, 401);
    let (code, v) = api.sql("SELECT id, v FROM public.t ORDER BY id");
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["columns"], serde_json::json!(["id", "v"]));
    assert_eq!(v["rows"][4], serde_json::json!(["5", "v5"]));
    assert_eq!(v["truncated"], false);

    let (code, csv) = api.query(
        Some(&api.token),
        serde_json::json!({ "sql": "SELECT id FROM public.t ORDER BY id", "max_rows": 2 }),
        "?format=csv",
    );
    assert_eq!((code, csv.as_str()), (200, "id\r\n1\r\n2\r\n"));

    for refused in [
        "INSERT INTO public.t VALUES (99, 'x')",
        "DELETE FROM public.t",
        "UPDATE public.t SET v = 'x'",
        "DROP TABLE public.t",
        "CREATE TABLE x (a int)",
        "ATTACH '/tmp/other.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET threads = 1",
        "PRAGMA enable_profiling",
        "COPY public.t TO '/tmp/t.csv'",
        "SELECT 1; DELETE FROM public.t",
        "SELECT * FROM query('DELETE FROM public.t RETURNING *')",
    ] {
        let (code, v) = api.sql(refused);
        assert_eq!(code, 400, "{refused} must be refused: {v}");
        assert!(v["error"].as_str().is_some(), "{v}");
    }
    let (_, v) = api.sql("INSERT INTO public.t VALUES (99, 'x')");
    assert_eq!(v["error"], "only read-only queries are allowed");
    let (_, v) = api.sql("SELECT count(*) FROM public.t");
    assert_eq!(v["rows"][0][0], "5", "nothing was changed");

    // The CLI goes through the daemon too, with the same refusal.
    let (ok, _, err) = cli_query(&p, &["DELETE FROM public.t"]);
    assert!(!ok && err.contains("only read-only queries are allowed"), "{err}");
    assert!(s.stop().success());
}

#[test]
fn a_long_query_does_not_stall_replication_and_times_out() {
    let db = TestDb::new("query_long");
    db.psql("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0);");
    let p = Pipeline::new(&db, &["public.t"], control_extra());
    let mut s = p.start();
    s.wait_synced(&db);
    let api = Api::of(&p);
    let (url, token) = (api.url.clone(), api.token.clone());
    let started = Instant::now();
    let long = std::thread::spawn(move || {
        let api = Api { url, token, agent: ureq::Agent::config_builder().http_status_as_error(false).build().into() };
        let body =
            serde_json::json!({ "sql": "SELECT sum(hash(i)) FROM range(100000000000) r(i)", "timeout_ms": 8000 });
        let (code, body) = api.query(Some(&api.token), body, "");
        (code, body, started.elapsed())
    });
    // While the long query runs: changes keep landing.
    for i in 1..=5 {
        db.psql(&format!("UPDATE t SET v = {i}"));
        s.wait_synced(&db);
    }
    let synced_after = started.elapsed();
    let (code, body, query_ran) = long.join().unwrap();
    assert!(synced_after < query_ran, "replication progressed while the query ran ({synced_after:?} < {query_ran:?})");
    assert!(query_ran >= Duration::from_secs(8), "the query ran until its timeout: {query_ran:?}");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("cancelled"), "{body}");
    assert!(s.stop().success());
    assert_eq!(p.duck("SELECT v::VARCHAR FROM public.t"), vec![vec!["5".to_string()]]);
}

#[test]
fn query_reads_the_file_when_no_daemon_runs() {
    let db = TestDb::new("query_file");
    db.psql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a,b'), (2, NULL);");
    let p = Pipeline::new(&db, &["public.t"], control_extra());
    let mut s = p.start();
    s.wait_synced(&db);
    assert!(s.stop().success());
    let (ok, out, err) = cli_query(&p, &["--format", "csv", "SELECT id, v FROM public.t ORDER BY id"]);
    assert!(ok, "{err}");
    assert_eq!(out, "id,v\r\n1,\"a,b\"\r\n2,\r\n");
    let (ok, _, err) = cli_query(&p, &["INSERT INTO public.t VALUES (3, 'c')"]);
    assert!(!ok && err.contains("only read-only"), "{err}");
    let (ok, out, _) = cli_query(&p, &["--format", "json", "SELECT count(*) AS n FROM public.t"]);
    assert!(ok && out.contains("\"n\": \"2\""), "{out}");
}
