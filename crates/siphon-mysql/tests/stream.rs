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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_server_sends_heartbeats_at_its_current_position() {
    let env = env("app");
    env.sql("CREATE TABLE t (id INT PRIMARY KEY)");
    let start = env.position().await;
    let mut stream = env.stream(start, &["t"]).await;
    env.sql("INSERT INTO t VALUES (1)");
    let events = collect_commits(&mut stream, 1).await;
    let end = bounds(&events)[0].1;
    let mut idles = Vec::new();
    while idles.len() < 2 {
        match tokio::time::timeout(std::time::Duration::from_secs(10), stream.next()).await.unwrap().unwrap() {
            SourceEvent::Idle { wal_end } => idles.push(wal_end),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(idles, vec![end, end], "idle at the end of the last transaction");
    assert_eq!(end, env.position().await);
    assert_eq!(stream.server_end(), end);
    // After more writes, the heartbeat position moves on.
    env.sql("CREATE TABLE other (id INT PRIMARY KEY)"); // DDL: a Begin/Commit pair of its own
    let ddl = collect_commits(&mut stream, 1).await;
    assert!(bounds(&ddl)[0].1 > end);
    loop {
        if let SourceEvent::Idle { wal_end } = stream.next().await.unwrap() {
            assert_eq!(wal_end, env.position().await);
            break;
        }
    }
    stream.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_decode_with_the_schema_they_were_written_under() {
    let env = env("app");
    env.sql("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(5), b SMALLINT)");
    let start = env.position().await;
    let before = env.schema("t").await;
    // All schema changes happen before the stream even starts reading.
    env.sql(
        "INSERT INTO t VALUES (1, 'x', 10);
         ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 7;
         INSERT INTO t VALUES (2, 'y', 20, 8);
         ALTER TABLE t DROP COLUMN a;
         INSERT INTO t VALUES (3, 30, 9);
         ALTER TABLE t MODIFY b BIGINT UNSIGNED;
         INSERT INTO t VALUES (4, 18446744073709551615, 10);
         ALTER TABLE t RENAME COLUMN b TO bb;
         UPDATE t SET c = 11 WHERE id = 4;",
    );
    let after = env.schema("t").await;
    let mut stream = env.stream(start, &["t"]).await;
    let events = collect_commits(&mut stream, 9).await;
    stream.shutdown().await;
    let mut seen = Vec::new();
    for e in &events {
        match e {
            SourceEvent::Schema(s) => seen.push(format!(
                "schema {}",
                s.columns.iter().map(|c| format!("{}:{}", c.name, c.source_type.name)).collect::<Vec<_>>().join(" ")
            )),
            SourceEvent::Change(c) => seen.push(common::describe(&c.kind)),
            _ => {}
        }
    }
    assert_eq!(
        seen,
        vec![
            "schema id:integer a:character varying(5) b:smallint",
            "I 1,x,10",
            "schema id:integer a:character varying(5) b:smallint c:integer",
            "I 2,y,20,8",
            "schema id:integer b:smallint c:integer",
            "I 3,30,9",
            "schema id:integer b:numeric(20,0) c:integer",
            "I 4,18446744073709551615,10",
            "schema id:integer bb:numeric(20,0) c:integer",
            "U 4,18446744073709551615,11",
        ]
    );
    let first = events.iter().find_map(|e| if let SourceEvent::Schema(s) = e { Some(s.clone()) } else { None });
    assert_eq!(first.unwrap(), before);
    let last = events.iter().rev().find_map(|e| if let SourceEvent::Schema(s) = e { Some(s.clone()) } else { None });
    assert_eq!(last.unwrap(), after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_not_replicated_are_skipped_but_their_transactions_advance() {
    let env = env("app");
    env.sql("CREATE TABLE t (id INT PRIMARY KEY); CREATE TABLE u (id INT PRIMARY KEY)");
    let start = env.position().await;
    env.sql(
        "INSERT INTO u VALUES (1);
         BEGIN; INSERT INTO u VALUES (2); INSERT INTO t VALUES (2); COMMIT;
         INSERT INTO u VALUES (3);",
    );
    let mut stream = env.stream(start, &["t"]).await;
    let events = collect_commits(&mut stream, 3).await;
    stream.shutdown().await;
    assert_eq!(changes(&events), vec![vec!["I 2".to_string()]]);
    assert!(events.iter().all(|e| !matches!(e, SourceEvent::Schema(s) if s.name.name == "u")));
    assert_eq!(bounds(&events).last().unwrap().1, env.position().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gtid_state_is_tracked_and_a_stream_can_start_from_it() {
    let env = env("app");
    env.sql("CREATE TABLE t (id INT PRIMARY KEY)");
    let start = env.position().await;
    let initial = env.server.sql("", "SELECT @@gtid_binlog_pos"); // 0-1-N after CREATE DATABASE/TABLE
    let n: u64 = initial.rsplit('-').next().unwrap().parse().unwrap();
    env.sql("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); INSERT INTO t VALUES (3)");
    let mut stream = env.stream(start, &["t"]).await;
    assert_eq!(stream.gtid_state().unwrap(), initial, "known from BINLOG_GTID_POS at the start position");
    collect_commits(&mut stream, 2).await;
    let after_two = stream.gtid_state().unwrap();
    assert_eq!(after_two, format!("0-1-{}", n + 2));
    collect_commits(&mut stream, 1).await;
    assert_eq!(stream.gtid_state().unwrap(), env.server.sql("", "SELECT @@gtid_binlog_pos"));
    stream.shutdown().await;

    let schema = env.schema("t").await;
    let connector = siphon_mysql::MySqlConnector::new(&env.server.url(&env.db), common::next_server_id()).unwrap();
    let mut from_gtid = siphon_mysql::BinlogStream::start_at(
        &connector,
        siphon_mysql::StartAt::Gtid(after_two.clone()),
        None,
        &[schema],
    )
    .await
    .unwrap();
    let events = collect_commits(&mut from_gtid, 1).await;
    assert_eq!(changes(&events), vec![vec!["I 3".to_string()]]);
    from_gtid.shutdown().await;

    // Where the transactions after a state begin: exactly where the third insert began.
    let third = bounds(&events)[0].0;
    let at = siphon_mysql::BinlogStream::position_after(&connector, &after_two).await.unwrap().unwrap();
    assert_eq!(at, third);
    // After everything: the end of the binlog (told by a heartbeat).
    let all = env.server.sql("", "SELECT @@gtid_binlog_pos");
    let at = siphon_mysql::BinlogStream::position_after(&connector, &all).await.unwrap().unwrap();
    assert_eq!(at, env.position().await);
    // A state the server has not reached: it says so.
    let ahead = format!("0-1-{}", n + 50);
    let reason = siphon_mysql::BinlogStream::position_after(&connector, &ahead).await.unwrap().unwrap_err();
    assert!(!reason.is_empty(), "the server's reason");
    // A MySQL GTID set on MariaDB: refused the same way (a gap for the runtime), not an error.
    let mysql_set = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42";
    let reason = siphon_mysql::BinlogStream::position_after(&connector, mysql_set).await.unwrap().unwrap_err();
    assert!(reason.contains("MariaDB"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_in_the_applied_gtid_state_arrive_empty_wherever_they_are() {
    let env = env("app");
    env.sql("CREATE TABLE t (id INT PRIMARY KEY)");
    let start = env.position().await;
    env.sql("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); TRUNCATE TABLE t; INSERT INTO t VALUES (3)");
    let now = env.server.sql("", "SELECT @@gtid_binlog_pos");
    let n: u64 = now.rsplit('-').next().unwrap().parse().unwrap();
    // The first three transactions are applied (as after a failover to a server that logged
    // them after the stream's start position): only the fourth has changes.
    let applied = format!("0-1-{}", n - 1);
    let mut stream = env.stream_applied(start, &applied, &["t"]).await;
    let events = collect_commits(&mut stream, 4).await;
    assert_eq!(changes(&events), vec![vec!["I 3".to_string()]]);
    assert_eq!(bounds(&events).len(), 4, "applied transactions still commit (their positions count)");
    assert_eq!(stream.gtid_state().unwrap(), now, "the state moves on past them");
    stream.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purged_start_position_is_reported_as_unavailable() {
    let env = env("app");
    env.sql("CREATE TABLE t (id INT PRIMARY KEY)");
    let old = env.position().await;
    env.sql("INSERT INTO t VALUES (1)");
    // MariaDB keeps a file until its transactions are checkpointed in InnoDB: rotate and purge
    // until the first file is gone.
    siphon_testkit::wait_for("the first binlog file to be purged", std::time::Duration::from_secs(30), || {
        env.sql("FLUSH BINARY LOGS");
        let current_file = env.server.sql("", "SHOW MASTER STATUS").split('\t').next().unwrap().to_string();
        env.sql(&format!("PURGE BINARY LOGS TO '{current_file}'"));
        (!env.server.sql("", "SHOW BINARY LOGS").contains("binlog.000001")).then_some(())
    });
    let mut conn = env.connector.conn().await.unwrap();
    let reason = siphon_mysql::catalog::position_available(&mut conn, old).await.unwrap().unwrap_err();
    assert!(reason.contains("no longer on the server"), "{reason}");
    let schema = env.schema("t").await;
    let err = match siphon_mysql::BinlogStream::start(&env.connector, old, None, &[schema]).await {
        Ok(_) => panic!("started at a purged position"),
        Err(e) => e,
    };
    assert_eq!(err.class, siphon_core::ErrorClass::Fatal);
    assert!(err.to_string().contains("is not available"), "{err}");
}
