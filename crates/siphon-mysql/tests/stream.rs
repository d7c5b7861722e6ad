//! The binlog stream against a real MariaDB: DML, transactions, positions, rotation, heartbeats,
//! schema changes, filtering.

mod common;

use common::{changes, collect_commits, env};
use siphon_core::change::SourceEvent;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dml_transactions_and_truncate_arrive_in_commit_order() {
    let env = env("app");
    env.sql("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))");
    let start = env.position().await;
    let mut stream = env.stream(start, &["t"]).await;
    env.sql(
        "INSERT INTO t VALUES (1, 'a');
         BEGIN; INSERT INTO t VALUES (2, 'b'), (3, 'c'); UPDATE t SET v = 'bb' WHERE id = 2; COMMIT;
         BEGIN; INSERT INTO t VALUES (99, 'gone'); ROLLBACK;
         UPDATE t SET id = 10 WHERE id = 1;
         DELETE FROM t WHERE id = 3;
         TRUNCATE TABLE t;
         INSERT INTO t VALUES (5, NULL);",
    );
    let events = collect_commits(&mut stream, 6).await;
    assert_eq!(
        changes(&events),
        vec![
            vec!["I 1,a".to_string()],
            vec!["I 2,b".into(), "I 3,c".into(), "U 2,bb".into()],
            vec!["U 1,a -> 10,a".into()],
            vec!["D 3,c".into()],
            vec!["truncate t".into()],
            vec!["I 5,NULL".into()],
        ]
    );
    // The schema goes out before the first change, and equals the catalog's.
    let first_schema = events.iter().find_map(|e| match e {
        SourceEvent::Schema(s) => Some(s.clone()),
        _ => None,
    });
    assert_eq!(first_schema.unwrap(), env.schema("t").await);
    stream.shutdown().await;
}

fn bounds(events: &[SourceEvent]) -> Vec<(siphon_core::Lsn, siphon_core::Lsn)> {
    let mut out = Vec::new();
    let mut begin = None;
    for e in events {
        match e {
            SourceEvent::Begin { final_lsn, .. } => begin = Some(*final_lsn),
            SourceEvent::Commit { end_lsn, .. } => out.push((begin.take().expect("begin before commit"), *end_lsn)),
            _ => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_are_exact_across_rotation_and_resume_yields_the_next_transaction() {
    let env = env("app");
    env.sql("CREATE TABLE t (id INT PRIMARY KEY, v INT)");
    let start = env.position().await;
    env.sql("INSERT INTO t VALUES (1, 1); INSERT INTO t VALUES (2, 2)");
    env.sql("FLUSH BINARY LOGS");
    env.sql("INSERT INTO t VALUES (3, 3); BEGIN; INSERT INTO t VALUES (4, 4); INSERT INTO t VALUES (5, 5); COMMIT");
    let mut stream = env.stream(start, &["t"]).await;
    let events = collect_commits(&mut stream, 4).await; // FLUSH BINARY LOGS writes no transaction
    stream.shutdown().await;
    let b = bounds(&events);
    for w in b.windows(2) {
        assert!(w[0].0 < w[0].1, "{b:?}");
        assert!(w[0].1 <= w[1].0, "positions increase: {b:?}");
    }
    // Adjacent transactions in one file: the next begins exactly where the previous ended.
    assert_eq!(b[0].1, b[1].0, "{b:?}");
    assert_eq!(b[0].0, start);
    // Rotation: the later transactions are in the next file.
    let seq = |l: siphon_core::Lsn| l.0 >> 32;
    assert_eq!(seq(b.last().unwrap().1), seq(b[0].0) + 1, "{b:?}");
    let txs = changes(&events);
    assert_eq!(txs[3], vec!["I 4,4".to_string(), "I 5,5".into()]);
    // Resuming at each Commit.end_lsn yields exactly the following transactions.
    for (i, (_, end)) in b.iter().enumerate().take(b.len() - 1) {
        let mut resumed = env.stream(*end, &["t"]).await;
        let rest = collect_commits(&mut resumed, b.len() - 1 - i).await;
        resumed.shutdown().await;
        assert_eq!(bounds(&rest), b[i + 1..].to_vec(), "resume at {end}");
        let expected: Vec<_> = changes(&events[..]).into_iter().skip(i + 1).collect();
        assert_eq!(changes(&rest), expected);
    }
    assert_eq!(txs.len(), 4);
}
