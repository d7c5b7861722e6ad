//! Chunked, parallel, resumable copies: the initial snapshot, tables added later and
//! `siphon backfill`, with writes running during every one of them.

mod common;

use common::{assert_same_rows, events, pg_rows, siphon_cli, wait_event, Pipeline};
use siphon_testkit::TestDb;

const ITEMS: &str = "CREATE TABLE items (id int PRIMARY KEY, grp text NOT NULL, qty int, note text);
                     INSERT INTO items SELECT i, 'g' || (i % 17), i % 1000, repeat('n', i % 50)
                       FROM generate_series(1, 40000) i;
                     CREATE TABLE pairs (a text, b int, v numeric(12,2), PRIMARY KEY (a, b));
                     INSERT INTO pairs SELECT 'k' || (i % 97), i, i / 7.0 FROM generate_series(1, 20000) i;
                     ANALYZE items; ANALYZE pairs;";

fn items_pg(db: &TestDb) -> Vec<Vec<String>> {
    pg_rows(db, "SELECT id, grp, qty, note FROM items ORDER BY id")
}

fn items_duck(p: &Pipeline) -> Vec<Vec<String>> {
    p.duck("SELECT id::VARCHAR, grp, qty::VARCHAR, note FROM public.items ORDER BY id")
}

fn pairs_pg(db: &TestDb) -> Vec<Vec<String>> {
    pg_rows(db, "SELECT a, b, v FROM pairs ORDER BY a COLLATE \"C\", b")
}

fn pairs_duck(p: &Pipeline) -> Vec<Vec<String>> {
    p.duck("SELECT a, b::VARCHAR, v::VARCHAR FROM public.pairs ORDER BY a, b")
}

/// A stream of mixed writes on `items` (inserts past the end, updates, deletes) in small
/// transactions, until `stop` is set.
fn writer(
    db: &TestDb,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    from: usize,
) -> std::thread::JoinHandle<usize> {
    let (cluster, name) = (db.cluster, db.name.clone());
    std::thread::spawn(move || {
        let mut round = from;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let base = 40_000 + round * 10;
            let mut sql = String::new();
            for i in 0..10 {
                let k = (round * 7919 + i * 104_729) % 40_000 + 1;
                sql.push_str(&format!(
                    "BEGIN; INSERT INTO items VALUES ({}, 'new', {round}, 'w'); UPDATE items SET qty = qty + 1, note = 'u{round}' WHERE id = {k};
                     DELETE FROM items WHERE id = {}; UPDATE pairs SET v = v + 1 WHERE a = 'k{}' AND b < 5000; COMMIT;\n",
                    base + i + 1,
                    (k * 31) % 40_000 + 1,
                    k % 97
                ));
            }
            cluster.psql(&name, &sql);
            round += 1;
        }
        round - from
    })
}

#[test]
fn parallel_snapshot_under_writes_equals_the_source() {
    let db = TestDb::new("copy_parallel");
    db.psql(ITEMS);
    let p = Pipeline::new(
        &db,
        &["public.items", "public.pairs"],
        "[snapshot]\nchunk_rows = 2500\nparallel_tables = 2\nconnections_per_table = 3",
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let w = writer(&db, stop.clone(), 0);
    let mut s = p.start();
    let started = wait_event(&mut s, &p, "backfill.started", 1);
    assert_eq!(started["reason"], "initial");
    wait_event(&mut s, &p, "backfill.finished", 1);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = w.join().unwrap();
    assert!(rounds > 0);
    s.wait_synced(&db);
    s.stop();
    let finished = events(&p, "backfill.finished");
    let chunks = finished[0]["chunks"]["public.items"].as_u64().unwrap();
    assert!((8..=16).contains(&chunks), "items (40000 rows) is split into chunks of about 2500 rows: {chunks}");
    assert_same_rows(&items_duck(&p), &items_pg(&db), "items");
    assert_same_rows(&pairs_duck(&p), &pairs_pg(&db), "pairs (composite text key)");
    assert_eq!(finished[0]["tables"], serde_json::json!(["public.items", "public.pairs"]));
}

#[test]
fn chunks_partition_the_key_space_exactly() {
    let db = TestDb::new("copy_partition");
    // Keys of every length (text order differs from numeric order), a negative one, and a
    // composite text key whose collation order matters.
    db.psql("CREATE TABLE n (id bigint PRIMARY KEY, v int);
             INSERT INTO n SELECT i, i FROM generate_series(1, 30000) i; INSERT INTO n VALUES (-5, 0), (900000000000, 1);
             CREATE TABLE c (a text, b int, PRIMARY KEY (a, b));
             INSERT INTO c SELECT chr(65 + i % 26) || chr(97 + i % 7) || (i % 13), i FROM generate_series(1, 12000) i;
             ANALYZE n; ANALYZE c;");
    let p = Pipeline::new(&db, &["public.n", "public.c"], "[snapshot]\nchunk_rows = 1000\nconnections_per_table = 3");
    let mut s = p.start();
    let finished = wait_event(&mut s, &p, "backfill.finished", 1);
    s.stop();
    assert_eq!(finished["rows"], 30002 + 12000, "every row copied exactly once: {finished}");
    assert!(finished["chunks"]["public.n"].as_u64().unwrap() >= 20, "{finished}");
    assert!(finished["chunks"]["public.c"].as_u64().unwrap() >= 8, "{finished}");
    assert_eq!(p.duck("SELECT count(*)::VARCHAR FROM public.n")[0][0], "30002");
    assert_eq!(p.duck("SELECT count(*)::VARCHAR FROM public.c")[0][0], "12000");
}

#[test]
fn kill_9_mid_snapshot_resumes_without_copying_a_chunk_twice() {
    let db = TestDb::new("copy_resume");
    db.psql(ITEMS);
    db.psql(
        "CREATE TABLE many (id int PRIMARY KEY, v text);
             INSERT INTO many SELECT i, md5(i::text) FROM generate_series(1, 400000) i; ANALYZE many;",
    );
    let p = Pipeline::new(
        &db,
        &["public.many", "public.pairs"],
        "[snapshot]\nchunk_rows = 10000\nparallel_tables = 1\nconnections_per_table = 1\n[flush]\ninterval_ms = 50",
    );
    let mut s = p.start();
    s.wait_status("a few chunks of many copied", |st| {
        st["copy"]["public.many"]["chunks_done"].as_u64().is_some_and(|d| d >= 4)
    });
    s.kill9();
    // What the destination holds as done is what the restart must skip.
    let count = |sql: &str| p.duck(sql)[0][0].parse::<u64>().unwrap();
    let done = count("SELECT count(*)::VARCHAR FROM __siphon.copy_chunks WHERE done AND chunk >= 0");
    let planned = count("SELECT count(*)::VARCHAR FROM __siphon.copy_chunks WHERE chunk >= 0");
    assert!(done >= 1, "some chunks were committed before the kill");
    assert!(done < planned, "the kill came before the end ({done} of {planned} done)");
    assert!(planned >= 30, "both tables were planned before copying: {planned} chunks");
    db.psql(
        "UPDATE many SET v = 'changed' WHERE id % 1000 = 7; DELETE FROM many WHERE id % 1000 = 8;
             INSERT INTO many VALUES (900001, 'late'); UPDATE pairs SET v = -1 WHERE b % 10 = 0;",
    );
    let mut s = p.start();
    let resumed = wait_event(&mut s, &p, "backfill.started", 2);
    assert_eq!(resumed["reason"], "resumed");
    assert_eq!(resumed["chunks_resumed"].as_u64(), Some(done));
    let finished = wait_event(&mut s, &p, "backfill.finished", 1);
    assert_eq!(
        finished["chunks_copied"].as_u64(),
        Some(planned - done),
        "exactly the chunks not done before the kill are copied after it"
    );
    s.wait_synced(&db);
    s.stop();
    assert_same_rows(
        &p.duck("SELECT id::VARCHAR, v FROM public.many ORDER BY id"),
        &pg_rows(&db, "SELECT id, v FROM many ORDER BY id"),
        "many",
    );
    assert_same_rows(&pairs_duck(&p), &pairs_pg(&db), "pairs");
    assert_eq!(
        p.duck("SELECT count(*)::VARCHAR FROM __siphon.copy_chunks")[0][0],
        "0",
        "finished jobs leave no records"
    );
}

#[test]
fn online_backfill_repairs_the_replica_while_writes_stream() {
    let db = TestDb::new("copy_online");
    db.psql(ITEMS);
    let p = Pipeline::new(&db, &["public.items", "public.pairs"], "[snapshot]\nchunk_rows = 3000");
    let mut s = p.start();
    s.wait_synced(&db);
    s.stop();
    // Damage the replica behind siphon's back: rows missing, rows changed, a row extra.
    let conn = duckdb::Connection::open(&p.duckdb).unwrap();
    conn.execute_batch(
        "DELETE FROM public.items WHERE id % 100 = 3; UPDATE public.items SET grp = 'wrong' WHERE id % 100 = 4;
         INSERT INTO public.items VALUES (999999, 'extra', 0, 'x');",
    )
    .unwrap();
    drop(conn);
    let mut s = p.start();
    s.wait_synced(&db);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let w = writer(&db, stop.clone(), 0);
    let (ok, out) = siphon_cli(&p, &["backfill", "public.items", "--wait"]);
    assert!(ok, "{out}");
    assert!(out.contains("finished"), "{out}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    w.join().unwrap();
    s.wait_synced(&db);
    s.stop();
    // Merge mode keeps rows only the destination has.
    let mut expected = items_pg(&db);
    expected.push(vec!["999999".into(), "extra".into(), "0".into(), "x".into()]);
    assert_same_rows(&items_duck(&p), &expected, "items after a merge backfill");
    let started = events(&p, "backfill.started");
    assert_eq!(started.last().unwrap()["reason"], "requested");
    assert_eq!(started.last().unwrap()["modes"], serde_json::json!(["merge"]));

    // Truncate mode, again under writes: the extra row goes too.
    let mut s = p.start();
    s.wait_synced(&db);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let w = writer(&db, stop.clone(), 100_000);
    let (ok, out) = siphon_cli(&p, &["backfill", "public.items", "--mode", "truncate", "--wait"]);
    assert!(ok, "{out}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    w.join().unwrap();
    s.wait_synced(&db);
    s.stop();
    assert_same_rows(&items_duck(&p), &items_pg(&db), "items after a truncate backfill");
    assert_same_rows(&pairs_duck(&p), &pairs_pg(&db), "pairs, streamed throughout");
}

#[test]
fn backfill_refusals_are_clear() {
    let db = TestDb::new("copy_refuse");
    db.psql(ITEMS);
    let p = Pipeline::new(&db, &["public.items"], "");
    let (ok, out) = siphon_cli(&p, &["backfill", "public.items"]);
    assert!(!ok && out.contains("not running"), "{out}");
    let mut s = p.start();
    s.wait_synced(&db);
    let (ok, out) = siphon_cli(&p, &["backfill", "public.nope"]);
    assert!(!ok && out.contains("not replicated by this pipeline"), "{out}");
    s.stop();
}

#[test]
fn a_table_added_to_the_config_is_copied_while_the_others_stream() {
    let db = TestDb::new("copy_added");
    db.psql(ITEMS);
    db.psql(
        "CREATE TABLE big (id int PRIMARY KEY, body text); ALTER TABLE big REPLICA IDENTITY DEFAULT;
             INSERT INTO big SELECT i, (SELECT string_agg(md5(i::text || j::text), '') FROM generate_series(1, 300) j)
               FROM generate_series(1, 300) i;",
    );
    let p = Pipeline::new(&db, &["public.pairs"], "[snapshot]\nchunk_rows = 2000");
    let mut s = p.start();
    s.wait_synced(&db);
    s.stop();
    // Add two tables to the config: the restart adds them to the publication and copies them.
    let text = std::fs::read_to_string(&p.config).unwrap();
    std::fs::write(
        &p.config,
        text.replace("tables = [\"public.pairs\"]", "tables = [\"public.pairs\", \"public.items\", \"public.big\"]"),
    )
    .unwrap();
    let mut s = p.start();
    let started = wait_event(&mut s, &p, "backfill.started", 2);
    assert_eq!(started["reason"], "added");
    assert_eq!(started["tables"], serde_json::json!(["public.big", "public.items"]));
    let published =
        pg_rows(&db, &format!("SELECT tablename FROM pg_publication_tables WHERE pubname = '{}' ORDER BY 1", db.name));
    assert_eq!(published, vec![vec!["big".to_string()], vec!["items".to_string()], vec!["pairs".to_string()]]);
    // Updates that leave the TOASTed body out, racing the copy of the new table.
    db.psql("UPDATE big SET id = id WHERE id <= 50; UPDATE pairs SET v = 0 WHERE b < 100;");
    wait_event(&mut s, &p, "backfill.finished", 2);
    db.psql("UPDATE big SET id = id WHERE id > 290;");
    s.wait_synced(&db);
    s.stop();
    assert_same_rows(&items_duck(&p), &items_pg(&db), "items (added)");
    assert_same_rows(&pairs_duck(&p), &pairs_pg(&db), "pairs (streamed)");
    assert_same_rows(
        &p.duck("SELECT id::VARCHAR, md5(body) FROM public.big ORDER BY id"),
        &pg_rows(&db, "SELECT id, md5(body) FROM big ORDER BY id"),
        "big (added, TOASTed)",
    );
}
