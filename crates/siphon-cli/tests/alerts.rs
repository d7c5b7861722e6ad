//! Alerts reach a webhook (a real local HTTP receiver) and the event log, fired and resolved.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Pipeline;
use siphon_testkit::{wait_for, TestDb};

/// A minimal HTTP server that records every request body and answers 200.
fn receiver() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/secret-token-123", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let store = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok() {
                if let Ok(v) = serde_json::from_slice(&body) {
                    store.lock().unwrap().push(v);
                }
            }
            let mut stream = stream;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, bodies)
}

#[test]
fn a_gap_fires_an_alert_to_the_webhook_and_resolves_after_the_repair() {
    let (url, bodies) = receiver();
    let db = TestDb::new("alerts");
    db.psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);");
    let extra =
        format!("[flush]\ninterval_ms = 50\n[alerts]\nwebhook_url = {url:?}\ncheck_interval_s = 1\nlag_seconds = 3600");
    let p = Pipeline::new(&db, &["public.t"], &extra);
    let mut s = p.start();
    s.wait_synced(&db);
    assert!(s.stop().success());
    db.psql(&format!("SELECT pg_drop_replication_slot('{}')", db.name));
    let mut s = p.start();
    s.wait_synced(&db);
    let got = |event: &str| bodies.lock().unwrap().iter().any(|b| b["event"] == event && b["alert"] == "gap");
    wait_for("the gap alert to fire", Duration::from_secs(30), || got("alert.fired").then_some(()));
    wait_for("the gap alert to resolve after the repair", Duration::from_secs(30), || {
        got("alert.resolved").then_some(())
    });
    assert!(s.stop().success());
    let fired = bodies.lock().unwrap().iter().find(|b| b["event"] == "alert.fired").cloned().unwrap();
    assert_eq!(fired["pipeline"], "test");
    assert!(fired["message"].as_str().unwrap().contains("gap"), "{fired}");
    assert!(
        !bodies.lock().unwrap().iter().any(|b| b["alert"] == "lag_seconds"),
        "a threshold that was not crossed does not fire"
    );
    let events = std::fs::read_to_string(p.dir.path().join("state/events.jsonl")).unwrap();
    assert!(events.contains("alert.fired") && events.contains("alert.resolved"), "{events}");
    assert!(!p.log().contains("secret-token-123"), "the webhook URL is a secret");
}
