//! Snapshot: chunks partition the rows exactly, and the position `begin` returns is exact
//! while writes go on concurrently.

mod common;

use std::collections::BTreeSet;

use common::{collect_commits, env, row_text, Collect};
use siphon_core::change::{ChangeKind, SourceEvent};
use siphon_mysql::snapshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_partition_single_and_composite_keys() {
    let env = env("snap");
    env.sql(
        "CREATE TABLE one (id BIGINT PRIMARY KEY, v INT);
         CREATE TABLE two (a VARCHAR(10) CHARACTER SET latin1 COLLATE latin1_swedish_ci, b DATETIME(6), v INT, PRIMARY KEY (a, b));
         INSERT INTO one SELECT seq, seq FROM seq_1_to_5000;
         INSERT INTO two SELECT CONCAT(CHAR(65 + seq % 26), 'é', seq % 7), TIMESTAMPADD(SECOND, seq, '2024-01-01'), seq FROM seq_1_to_3000;",
    );
    for (table, rows) in [("one", 5000usize), ("two", 3000)] {
        let schema = env.schema(table).await;
        let mut conn = env.connector.conn().await.unwrap();
        let est = snapshot::estimate_rows(&mut conn, &schema).await.unwrap();
        assert!(est > 0);
        let ranges = snapshot::plan_chunks(&mut conn, &schema, rows as u64, 400).await.unwrap();
        assert!(ranges.len() > 3, "{table}: {} ranges", ranges.len());
        snapshot::begin(&mut conn).await.unwrap();
        let mut all = Vec::new();
        for r in &ranges {
            let sink = Collect::default();
            let n = snapshot::copy_chunk(&mut conn, &schema, r, 100, sink.clone()).await.unwrap();
            let got = sink.take();
            assert_eq!(n as usize, got.len());
            all.extend(got.iter().map(|row| row_text(row)));
        }
        snapshot::end(&mut conn).await.unwrap();
        let distinct: BTreeSet<_> = all.iter().cloned().collect();
        assert_eq!(all.len(), rows, "{table}: every row once");
        assert_eq!(distinct.len(), rows, "{table}: no row twice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_position_is_exact_under_concurrent_writes() {
    const TOTAL: i64 = 3000;
    let env = env("snap");
    env.sql("CREATE TABLE t (id INT PRIMARY KEY, v INT)");
    let url = env.server.url(&env.db);
    // A writer committing one row per transaction while the snapshot begins.
    let writer = tokio::task::spawn_blocking({
        let sql_url = url.clone();
        move || {
            let c = siphon_mysql::MySqlConnector::new(&sql_url, 1).unwrap();
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                use mysql_async::prelude::Queryable;
                let mut conn = c.conn().await.unwrap();
                for i in 1..=TOTAL {
                    conn.exec_drop("INSERT INTO t VALUES (?, ?)", (i, i)).await.unwrap();
                }
            })
        }
    });
    siphon_testkit::wait_for("the writer to be under way", std::time::Duration::from_secs(30), || {
        (env.sql("SELECT COUNT(*) FROM t").parse::<i64>().unwrap() >= 50).then_some(())
    });
    let schema = env.schema("t").await;
    let mut conn = env.connector.conn().await.unwrap();
    let at = snapshot::begin(&mut conn).await.unwrap();
    let sink = Collect::default();
    snapshot::copy_chunk(&mut conn, &schema, &Default::default(), 1000, sink.clone()).await.unwrap();
    snapshot::end(&mut conn).await.unwrap();
    writer.await.unwrap();
    let copied: BTreeSet<i64> = sink.take().iter().map(|r| r[0].as_text().unwrap().parse().unwrap()).collect();
    assert!(!copied.is_empty() && (copied.len() as i64) < TOTAL, "the snapshot fell mid-load: {} rows", copied.len());
    // The stream from the snapshot position holds exactly the rows the copy lacks.
    let mut stream = env.stream(at, &["t"]).await;
    let events = collect_commits(&mut stream, TOTAL as usize - copied.len()).await;
    stream.shutdown().await;
    let streamed: BTreeSet<i64> = events
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Change(c) => match &c.kind {
                ChangeKind::Insert { new } => Some(new[0].as_text().unwrap().parse().unwrap()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert!(copied.is_disjoint(&streamed), "a copied row was streamed again");
    assert_eq!(copied.union(&streamed).count() as i64, TOTAL, "every row in exactly one of copy and stream");
}
