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
