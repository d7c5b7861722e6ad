//! One column per MySQL/MariaDB type, with edge values: the stream's text equals the snapshot's
//! text for every column, and both equal PostgreSQL's text for the mapped type.

mod common;

use common::{collect_commits, env, Collect};
use siphon_core::change::{ChangeKind, SourceEvent};
use siphon_core::copy::KeyRange;
use siphon_mysql::snapshot;

/// (column, type, inserted SQL value, expected PostgreSQL type, expected text or None for NULL)
fn columns() -> Vec<(&'static str, &'static str, String, &'static str, Option<String>)> {
    let all_bytes: String = (0u8..=255).map(|b| format!("{b:02X}")).collect();
    let s = |x: &str| Some(x.to_string());
    vec![
        ("ti", "TINYINT", "-128".into(), "smallint", s("-128")),
        ("tiu", "TINYINT UNSIGNED", "255".into(), "smallint", s("255")),
        ("bool1", "BOOLEAN", "TRUE".into(), "smallint", s("1")),
        ("si", "SMALLINT", "-32768".into(), "smallint", s("-32768")),
        ("siu", "SMALLINT UNSIGNED", "65535".into(), "integer", s("65535")),
        ("mi", "MEDIUMINT", "-8388608".into(), "integer", s("-8388608")),
        ("miu", "MEDIUMINT UNSIGNED", "16777215".into(), "integer", s("16777215")),
        ("i", "INT", "-2147483648".into(), "integer", s("-2147483648")),
        ("iu", "INT UNSIGNED", "4294967295".into(), "bigint", s("4294967295")),
        ("bi", "BIGINT", "-9223372036854775808".into(), "bigint", s("-9223372036854775808")),
        ("biu", "BIGINT UNSIGNED", "18446744073709551615".into(), "numeric(20,0)", s("18446744073709551615")),
        ("yr", "YEAR", "2155".into(), "smallint", s("2155")),
        ("yr0", "YEAR", "0".into(), "smallint", s("0")),
        (
            "dmax",
            "DECIMAL(65,30)",
            "99999999999999999999999999999999999.999999999999999999999999999999".into(),
            "numeric(65,30)",
            s("99999999999999999999999999999999999.999999999999999999999999999999"),
        ),
        ("dneg", "DECIMAL(10,2)", "-12.5".into(), "numeric(10,2)", s("-12.50")),
        ("dzero", "DECIMAL(5,3)", "0".into(), "numeric(5,3)", s("0.000")),
        ("f", "FLOAT", "3.4028235e38".into(), "real", s("3.4028235e+38")),
        ("fsmall", "FLOAT", "-1.17549435e-38".into(), "real", s("-1.1754944e-38")),
        ("d", "DOUBLE", "1.7976931348623157e308".into(), "double precision", s("1.7976931348623157e+308")),
        ("dmin", "DOUBLE", "-2.2250738585072014e-308".into(), "double precision", s("-2.2250738585072014e-308")),
        ("dfrac", "DOUBLE", "0.1".into(), "double precision", s("0.1")),
        ("dt", "DATE", "'2024-02-29'".into(), "date", s("2024-02-29")),
        ("dzero_date", "DATE", "'0000-00-00'".into(), "date", None),
        ("dzero_month", "DATE", "'2024-00-10'".into(), "date", None),
        ("dyear0", "DATE", "'0000-01-01'".into(), "date", s("0001-01-01 BC")),
        (
            "dtm",
            "DATETIME(6)",
            "'2024-01-02 03:04:05.123456'".into(),
            "timestamp(6) without time zone",
            s("2024-01-02 03:04:05.123456"),
        ),
        (
            "dtm3",
            "DATETIME(3)",
            "'9999-12-31 23:59:59.5'".into(),
            "timestamp(3) without time zone",
            s("9999-12-31 23:59:59.5"),
        ),
        ("dtm_zero", "DATETIME", "'0000-00-00 00:00:00'".into(), "timestamp(0) without time zone", None),
        (
            "ts",
            "TIMESTAMP(6) NULL",
            "'2038-01-19 03:14:07.999999'".into(),
            "timestamp(6) with time zone",
            s("2038-01-19 03:14:07.999999+00"),
        ),
        (
            "ts_early",
            "TIMESTAMP NULL",
            "'1970-01-01 00:00:01'".into(),
            "timestamp(0) with time zone",
            s("1970-01-01 00:00:01+00"),
        ),
        ("ts_zero", "TIMESTAMP NULL", "'0000-00-00 00:00:00'".into(), "timestamp(0) with time zone", None),
        ("tneg", "TIME", "'-838:59:59'".into(), "interval", s("-838:59:59")),
        ("tbig", "TIME(6)", "'123:45:06.000789'".into(), "interval", s("123:45:06.000789")),
        ("tfrac", "TIME(2)", "'-00:00:01.5'".into(), "interval", s("-00:00:01.5")),
        ("c", "CHAR(5)", "'ab  '".into(), "character varying(5)", s("ab")),
        ("vc", "VARCHAR(20)", "'héllo 🎉'".into(), "character varying(20)", s("héllo 🎉")),
        ("l1", "VARCHAR(20) CHARACTER SET latin1", "'café €‚'".into(), "character varying(20)", s("café €‚")),
        ("l1c", "CHAR(3) CHARACTER SET latin1", "'é'".into(), "character varying(3)", s("é")),
        ("u3", "VARCHAR(10) CHARACTER SET utf8mb3", "'ünï'".into(), "character varying(10)", s("ünï")),
        ("asc", "VARCHAR(10) CHARACTER SET ascii", "'plain'".into(), "character varying(10)", s("plain")),
        ("txt", "TEXT", "'multi\\nline\\ttab'".into(), "text", s("multi\nline\ttab")),
        ("ltxt", "LONGTEXT CHARACTER SET latin1", "'ÿ'".into(), "text", s("ÿ")),
        ("bin", "BINARY(4)", "X'01'".into(), "bytea", s("\\x01000000")),
        ("vb", "VARBINARY(300)", format!("X'{all_bytes}'"), "bytea", Some(format!("\\x{}", all_bytes.to_lowercase()))),
        ("bl", "BLOB", "X'00FF00'".into(), "bytea", s("\\x00ff00")),
        ("en", "ENUM('small','medium','large')", "'medium'".into(), "text", s("medium")),
        ("st", "SET('a','b','c','d')", "'d,a'".into(), "text", s("a,d")),
        ("bt1", "BIT(1)", "b'1'".into(), "bit(1)", s("1")),
        ("bt10", "BIT(10)", "b'1000000001'".into(), "bit(10)", s("1000000001")),
        ("bt64", "BIT(64)", "0x8000000000000001".into(), "bit(64)", Some(format!("1{}1", "0".repeat(62)))),
        (
            "js",
            "JSON",
            "'{\"a\": [1, 2.5, \"x\"], \"b\": null}'".into(),
            "text",
            s("{\"a\": [1, 2.5, \"x\"], \"b\": null}"),
        ),
        (
            "g",
            "GEOMETRY",
            "ST_GeomFromText('POINT(1 2)')".into(),
            "bytea",
            s("\\x000000000101000000000000000000f03f0000000000000040"),
        ),
        ("nul", "INT NULL", "NULL".into(), "integer", None),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_and_snapshot_print_every_type_as_postgres_does() {
    let env = env("types");
    let cols = columns();
    let defs: Vec<String> = cols.iter().map(|(n, t, ..)| format!("`{n}` {t}")).collect();
    env.sql(&format!("CREATE TABLE zoo (id INT PRIMARY KEY, {}) DEFAULT CHARSET utf8mb4", defs.join(", ")));
    let schema = env.schema("zoo").await;
    for (i, (n, _, _, pg_type, _)) in cols.iter().enumerate() {
        assert_eq!(schema.columns[i + 1].source_type.name, *pg_type, "type of {n}");
    }
    let start = env.position().await;
    let names: Vec<String> = cols.iter().map(|(n, ..)| format!("`{n}`")).collect();
    let values: Vec<String> = cols.iter().map(|(_, _, v, ..)| v.clone()).collect();
    let nulls: Vec<&str> = cols.iter().map(|_| "NULL").collect();
    env.sql(&format!(
        "SET time_zone = '+00:00', sql_mode = '';
         INSERT INTO zoo (id, {names}) VALUES (1, {values});
         INSERT INTO zoo (id, {names}) VALUES (2, {nulls});",
        names = names.join(", "),
        values = values.join(", "),
        nulls = nulls.join(", "),
    ));

    let mut stream = env.stream(start, &["zoo"]).await;
    let events = collect_commits(&mut stream, 2).await;
    stream.shutdown().await;
    let streamed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Change(c) => match &c.kind {
                ChangeKind::Insert { new } => Some(new.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let stream_schema = events.iter().find_map(|e| if let SourceEvent::Schema(s) = e { Some(s.clone()) } else { None });
    assert_eq!(stream_schema.unwrap(), schema, "the TABLE_MAP's schema is the catalog's");

    let mut conn = env.connector.conn().await.unwrap();
    snapshot::begin(&mut conn).await.unwrap();
    let sink = Collect::default();
    let n = snapshot::copy_chunk(&mut conn, &schema, &KeyRange::default(), 1000, sink.clone()).await.unwrap();
    snapshot::end(&mut conn).await.unwrap();
    assert_eq!(n, 2);
    let copied = sink.take();

    let mut failures = Vec::new();
    for (i, (name, _, _, _, expected)) in cols.iter().enumerate() {
        let s = streamed[0][i + 1].as_text().map(str::to_string);
        let c = copied[0][i + 1].as_text().map(str::to_string);
        if s != *expected || c != *expected {
            failures.push(format!("{name}: expected {expected:?}, stream {s:?}, snapshot {c:?}"));
        }
        if streamed[1][i + 1].as_text().is_some() || copied[1][i + 1].as_text().is_some() {
            failures.push(format!("{name}: NULL row not NULL"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(streamed, copied);
}
