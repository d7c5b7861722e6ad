//! The web dashboard, end to end: a real daemon streams a write load from a real PostgreSQL while
//! Debian's chromium (driven by playwright-core, `tests/dashboard/check.mjs`) reads the page:
//! state, lag, per-table rows equal to what was written, the charts, events, pause and resume
//! live, snapshot progress, the token form. The data endpoints refuse requests without the token,
//! and no secret reaches the page, the status or the events. `siphon status` shows the same rows.
//!
//! Needs node, /usr/bin/chromium and playwright-core, which `scripts/setup.sh` installs: without
//! them this test fails (it never skips).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{siphon_cli, Pipeline};
use siphon_testkit::TestDb;

/// The password put into the source URL: it must never show anywhere.
const SECRET: &str = "hunter2-dashboard-secret";

/// Rounds of the write load; each is one transaction (see [`round`]).
const ROUNDS: u64 = 100;

/// Round `r`: 20 orders inserted, 10 of them updated, 2 deleted; one customer updated.
fn round(r: u64) -> String {
    let base = r * 20;
    format!(
        "BEGIN;
         INSERT INTO orders SELECT i, 'new' FROM generate_series({}, {}) i;
         UPDATE orders SET status = 'paid' WHERE id BETWEEN {} AND {};
         DELETE FROM orders WHERE id IN ({}, {});
         UPDATE customers SET name = name || '+' WHERE id = {};
         COMMIT;",
        base + 1,
        base + 20,
        base + 1,
        base + 10,
        base + 19,
        base + 20,
        r % 50 + 1
    )
}

/// Node, the browser and playwright-core, or a failure that says how to get them.
struct BrowserTools {
    node_dir: PathBuf,
    chromium: PathBuf,
}

impl BrowserTools {
    fn find() -> BrowserTools {
        let cache = std::env::var("SIPHON_CACHE").unwrap_or_else(|_| "/var/cache/siphon".into());
        let node_dir =
            std::env::var("SIPHON_NODE_DIR").map(PathBuf::from).unwrap_or_else(|_| format!("{cache}/node").into());
        let chromium =
            std::env::var("SIPHON_CHROMIUM").map(PathBuf::from).unwrap_or_else(|_| "/usr/bin/chromium".into());
        let fix =
            "run `source scripts/setup.sh` (it installs Debian's chromium and playwright-core), then this test again";
        let node = Command::new("node").arg("--version").output();
        assert!(node.is_ok_and(|o| o.status.success()), "the dashboard test needs `node` on PATH: {fix}");
        assert!(chromium.exists(), "the dashboard test needs a browser at {}: {fix}", chromium.display());
        let playwright = node_dir.join("node_modules/playwright-core/package.json");
        assert!(playwright.exists(), "the dashboard test needs playwright-core in {}: {fix}", node_dir.display());
        BrowserTools { node_dir, chromium }
    }
}

/// `GET path` on the control address: (status code, body).
fn get(listen: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = agent.get(&format!("http://{listen}{path}"));
    if let Some(t) = token {
        request = request.header("Authorization", &format!("Bearer {t}"));
    }
    let mut response = request.call().unwrap();
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
}

#[test]
fn the_dashboard_shows_a_streaming_pipeline_in_a_real_browser() {
    let tools = BrowserTools::find();
    let db = TestDb::new("dashboard");
    db.psql(
        "CREATE TABLE orders (id int PRIMARY KEY, status text);
         CREATE TABLE customers (id int PRIMARY KEY, name text);
         INSERT INTO customers SELECT i, 'c' || i FROM generate_series(1, 50) i;",
    );
    let url = db.url().replace("postgres@", &format!("postgres:{SECRET}@"));
    let source = format!("slot = \"{0}\"\npublication = \"{0}\"", db.name);
    let p = Pipeline::for_source(
        &url,
        &["public.orders", "public.customers"],
        &source,
        "[flush]\ninterval_ms = 100\n[alerts]\ncheck_interval_s = 1",
        "duckdb",
    );
    let mut s = p.start();
    s.wait_status("streaming", |st| st["state"] == "streaming");

    let (ok, out) = siphon_cli(&p, &["dashboard"]);
    assert!(ok, "{out}");
    let dashboard_url = out.lines().find(|l| l.starts_with("http://")).expect("a URL").to_string();
    let (listen, token) = dashboard_url.trim_start_matches("http://").split_once("/#token=").unwrap();

    step("the data endpoints need the token; the page itself holds no data");
    for path in ["/v1/status", "/v1/history", "/v1/events?limit=5", "/metrics"] {
        assert_eq!(get(listen, path, None).0, 401, "{path} without the token");
        assert_eq!(get(listen, path, Some("wrong-token-0123456789")).0, 401, "{path} with a wrong token");
    }
    let (code, page) = get(listen, "/", None);
    assert_eq!(code, 200);
    assert!(page.contains("/dashboard/app.js") && !page.contains(token), "{page}");

    step("a write load, while chromium reads the dashboard");
    let (cluster, name) = (db.cluster, db.name.clone());
    let load = std::thread::spawn(move || {
        for r in 0..ROUNDS {
            cluster.psql(&name, &round(r));
            std::thread::sleep(std::time::Duration::from_millis(30));
        }
    });
    let expected = serde_json::json!({
        "public.orders": { "inserts": ROUNDS * 20, "updates": ROUNDS * 10, "deletes": ROUNDS * 2 },
        "public.customers": { "inserts": 0, "updates": ROUNDS, "deletes": 0 },
    });
    let screenshots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&screenshots).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/dashboard/check.mjs");
    let check = Command::new("node")
        .arg(&script)
        .env("SIPHON_DASHBOARD_URL", &dashboard_url)
        .env("SIPHON_EXPECTED", expected.to_string())
        .env("SIPHON_SCREENSHOTS", &screenshots)
        .env("SIPHON_NODE_DIR", &tools.node_dir)
        .env("SIPHON_CHROMIUM", &tools.chromium)
        .env("SIPHON_SECRET", SECRET)
        .output()
        .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&check.stdout), String::from_utf8_lossy(&check.stderr));
    println!("{report}");
    println!("screenshots: {}", screenshots.display());
    load.join().unwrap();
    assert!(check.status.success(), "the browser check failed:\n{report}\nsiphon log:\n{}", p.log());

    step("siphon status shows the same rows, as a table and as JSON");
    s.wait_synced(&db);
    let (ok, out) = siphon_cli(&p, &["status"]);
    assert!(ok, "{out}");
    let row = |table: &str| out.lines().find(|l| l.starts_with(table)).unwrap_or_else(|| panic!("{table} in:\n{out}"));
    let cells: Vec<&str> = row("public.orders").split_whitespace().collect();
    assert_eq!(cells[1..5], ["2000", "1000", "200", "0"], "{out}");
    assert!(row("public.customers").split_whitespace().nth(2) == Some("100"), "{out}");
    assert!(out.contains("wal_status reserved, active"), "{out}");
    let (ok, out) = siphon_cli(&p, &["status", "--json"]);
    assert!(ok, "{out}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["tables"]["public.orders"]["inserts"], ROUNDS * 20, "{out}");
    assert_eq!(status["tables"]["public.customers"]["updates"], ROUNDS, "{out}");
    assert!(status["tables"]["public.orders"]["last_change_unix_ms"].as_u64().is_some(), "{out}");

    step("no secret in what the daemon serves");
    for path in ["/v1/status", "/v1/history", "/v1/events?limit=1000", "/"] {
        let (code, body) = get(listen, path, Some(token));
        assert_eq!(code, 200, "{path}: {body}");
        assert!(!body.contains(SECRET), "{path} leaks the source password: {body}");
        assert!(!body.contains(token), "{path} shows the token");
    }
    step("events newest first; unreadable parameters get the API's JSON error");
    let (_, body) = get(listen, "/v1/events?limit=2", Some(token));
    let events: serde_json::Value = serde_json::from_str(&body).unwrap();
    let at: Vec<u64> = events["events"].as_array().unwrap().iter().map(|e| e["at_unix_ms"].as_u64().unwrap()).collect();
    assert!(at.len() == 2 && at[0] >= at[1], "{body}");
    let (code, body) = get(listen, "/v1/events?limit=many", Some(token));
    assert!(code == 400 && body.contains("invalid query parameters"), "{code} {body}");
    assert!(s.stop().success());
}

fn step(what: &str) {
    println!("step: {what}");
}
