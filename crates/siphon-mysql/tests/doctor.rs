//! `doctor::check` against real MariaDB servers: a well-configured server passes; a misconfigured
//! one, a user without replication grants, a keyless table each yield their findings, all at once.

mod common;

use common::{env, env_with, Env};
use siphon_core::doctor::{Finding, Severity};
use siphon_mysql::{doctor, MySqlConnector};
use siphon_testkit::mariadb::MariaDbOptions;

async fn check_as(url: &str, tables: Option<&[siphon_core::schema::TableName]>) -> Vec<Finding> {
    let connector = MySqlConnector::new(url, common::next_server_id()).unwrap();
    let mut conn = connector.conn().await.unwrap();
    doctor::check(&mut conn, tables).await.unwrap()
}

async fn check(env: &Env) -> Vec<Finding> {
    check_as(&env.server.url(&env.db), None).await
}

fn failures(findings: &[Finding]) -> Vec<&str> {
    findings.iter().filter(|f| f.severity == Severity::Fail).map(|f| f.check.as_str()).collect()
}

fn find<'a>(findings: &'a [Finding], check: &str) -> &'a Finding {
    findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no finding {check:?} in {findings:#?}"))
}

/// A user that can log in over TCP from 127.0.0.1 (anonymous users would shadow it).
fn create_user(env: &Env, user: &str, grants: &[&str]) -> String {
    let mut sql = format!(
        "DROP USER IF EXISTS ''@'localhost'; DROP USER IF EXISTS ''@'{host}';
         CREATE USER '{user}'@'%' IDENTIFIED BY 'pw';",
        host = env.server.sql("", "SELECT @@hostname")
    );
    for g in grants {
        sql.push_str(&format!("GRANT {g} TO '{user}'@'%';"));
    }
    env.server.sql("", &sql);
    env.server.url_as(user, "pw", &env.db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_well_configured_server_passes() {
    let env = env("shop");
    env.sql("CREATE TABLE orders (id INT PRIMARY KEY, v TEXT)");
    let findings = check(&env).await;
    assert_eq!(failures(&findings), Vec::<&str>::new(), "{findings:#?}");
    for name in [
        "server version",
        "log_bin",
        "binlog_format",
        "binlog_row_image",
        "binlog_row_metadata",
        "binlog retention",
        "server_id",
        "log_bin_compress",
        "gtid_strict_mode",
        "grant REPLICATION SLAVE",
        "grant BINLOG MONITOR",
        "table shop.orders key",
        "table shop.orders SELECT",
    ] {
        assert_eq!(find(&findings, name).severity, Severity::Ok, "{name}: {findings:#?}");
    }
    assert!(find(&findings, "server version").actual.starts_with("MariaDB 10."), "{findings:#?}");
    assert!(findings.iter().all(|f| f.severity != Severity::Ok || f.fix.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misconfigured_server_yields_every_finding_at_once() {
    let opts = MariaDbOptions {
        extra_args: [
            "--binlog-format=STATEMENT",
            "--binlog-row-image=MINIMAL",
            "--binlog-row-metadata=MINIMAL",
            "--binlog-expire-logs-seconds=3600",
            "--gtid-strict-mode=OFF",
        ]
        .map(String::from)
        .to_vec(),
    };
    let env = env_with("shop", opts);
    env.sql("CREATE TABLE orders (id INT PRIMARY KEY)");
    let findings = check(&env).await;
    assert_eq!(
        failures(&findings),
        ["binlog_format", "binlog_row_image", "binlog_row_metadata", "binlog retention"],
        "{findings:#?}"
    );
    let f = find(&findings, "binlog_format");
    assert_eq!((f.expected.split(' ').next(), f.actual.as_str()), (Some("ROW"), "STATEMENT"));
    assert!(f.fix.starts_with("SET GLOBAL binlog_format = 'ROW'"), "{}", f.fix);
    assert_eq!(find(&findings, "binlog_row_image").actual, "MINIMAL");
    let f = find(&findings, "binlog_row_metadata");
    assert_eq!(f.actual, "MINIMAL");
    assert!(f.expected.contains("TABLE_MAP"), "the finding explains why: {}", f.expected);
    let f = find(&findings, "binlog retention");
    assert_eq!(f.actual, "1 h (binlog_expire_logs_seconds)");
    assert!(f.fix.contains("binlog_expire_logs_seconds = 604800"), "{}", f.fix);
    let f = find(&findings, "gtid_strict_mode");
    assert_eq!((f.severity, f.actual.as_str()), (Severity::Warn, "OFF"));
    // The test servers trade durability for speed: warned about, not failed.
    for name in ["sync_binlog", "innodb_flush_log_at_trx_commit"] {
        let f = find(&findings, name);
        assert_eq!((f.severity, f.actual.as_str()), (Severity::Warn, "0"), "{name}");
        assert!(f.fix.contains(&format!("SET GLOBAL {name} = 1")), "{}", f.fix);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_replication_grants_is_told_which() {
    let env = env("shop");
    env.sql("CREATE TABLE orders (id INT PRIMARY KEY)");
    let url = create_user(&env, "reader", &["SELECT ON shop.*"]);
    let findings = check_as(&url, None).await;
    assert_eq!(failures(&findings), ["grant REPLICATION SLAVE", "grant BINLOG MONITOR"], "{findings:#?}");
    let f = find(&findings, "grant REPLICATION SLAVE");
    assert_eq!(f.fix, "GRANT REPLICATION SLAVE ON *.* TO 'reader'@'%'");
    assert_eq!(f.actual, "not granted to 'reader'@'%'");
    assert_eq!(find(&findings, "table shop.orders SELECT").severity, Severity::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyless_table_and_a_missing_one_yield_their_findings() {
    let env = env("shop");
    env.sql("CREATE TABLE orders (id INT PRIMARY KEY); CREATE TABLE log (msg TEXT); CREATE VIEW v AS SELECT 1 AS x");
    let findings = check(&env).await;
    assert_eq!(failures(&findings), ["table shop.log key"], "views are not replicated by default: {findings:#?}");
    let f = find(&findings, "table shop.log key");
    assert_eq!(f.actual, "no primary key");
    assert_eq!(f.fix, "ALTER TABLE `shop`.`log` ADD PRIMARY KEY (...), or leave the table out of source.tables");
    let tables = [env.table("orders"), env.table("nope")];
    let findings = check_as(&env.server.url(&env.db), Some(&tables)).await;
    assert_eq!(failures(&findings), ["table shop.nope"], "{findings:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_with_exactly_the_documented_grants_passes() {
    let env = env("shop");
    env.sql("CREATE TABLE orders (id INT PRIMARY KEY)");
    // docs/mysql.md, "Grants".
    let url = create_user(
        &env,
        "siphon",
        &["SELECT ON shop.*", "REPLICATION SLAVE, REPLICATION CLIENT ON *.*", "BINLOG MONITOR ON *.*", "RELOAD ON *.*"],
    );
    let findings = check_as(&url, None).await;
    assert_eq!(failures(&findings), Vec::<&str>::new(), "{findings:#?}");
    // The same privileges through a default role.
    env.server.sql(
        "",
        "CREATE ROLE siphon_role; GRANT SELECT ON shop.* TO siphon_role;
         GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO siphon_role;
         CREATE USER 'viarole'@'%' IDENTIFIED BY 'pw'; GRANT siphon_role TO 'viarole'@'%';
         SET DEFAULT ROLE siphon_role FOR 'viarole'@'%';",
    );
    let findings = check_as(&env.server.url_as("viarole", "pw", "shop"), None).await;
    assert_eq!(failures(&findings), Vec::<&str>::new(), "{findings:#?}");
    assert!(find(&findings, "grant REPLICATION SLAVE").actual.contains("siphon_role"), "{findings:#?}");
}
