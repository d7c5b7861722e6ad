//! TLS to the source, against a real PostgreSQL that refuses unencrypted connections.

mod common;

use std::path::Path;
use std::process::Command;

use common::Pipeline;
use siphon_testkit::{ClusterOptions, PgCluster};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA and a server certificate for `localhost` signed by it; returns the directory.
fn certificates() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("siphon-tls-").tempdir_in("/tmp").unwrap();
    let d = dir.path();
    for ca in ["ca", "other-ca"] {
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-days",
                "2",
                "-subj",
                &format!("/CN=siphon test {ca}"),
            ],
        );
    }
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(d.join("ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );
    // The server reads its key as the postgres user and insists on 0600.
    for cmd in [
        vec!["chmod", "755", "."],
        vec!["chown", "postgres", "server.key", "server.pem"],
        vec!["chmod", "600", "server.key"],
    ] {
        assert!(Command::new(cmd[0]).args(&cmd[1..]).current_dir(d).status().unwrap().success());
    }
    dir
}

/// A cluster that serves TLS and rejects every unencrypted TCP connection.
fn tls_only_cluster(certs: &Path) -> PgCluster {
    let cluster = PgCluster::start_with(ClusterOptions {
        extra_conf: vec![
            "ssl = on".into(),
            format!("ssl_cert_file = '{}'", certs.join("server.pem").display()),
            format!("ssl_key_file = '{}'", certs.join("server.key").display()),
        ],
        ..ClusterOptions::default()
    });
    let hba = cluster.data_dir().join("pg_hba.conf");
    std::fs::write(
        &hba,
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl replication all 127.0.0.1/32 trust\n\
         hostnossl all all 0.0.0.0/0 reject\nhostnossl replication all 0.0.0.0/0 reject\n",
    )
    .unwrap();
    assert!(Command::new("chown").arg("postgres").arg(&hba).status().unwrap().success());
    cluster.psql("postgres", "SELECT pg_reload_conf()");
    cluster.create_database("app");
    cluster.psql("app", "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'one');");
    cluster
}

fn run_siphon(url: &str) -> (Pipeline, common::Siphon) {
    let p = Pipeline::for_source(url, &["public.t"], "", "[flush]\ninterval_ms = 50", "duckdb");
    let s = p.start();
    (p, s)
}

#[test]
fn verify_full_replicates_over_tls_and_other_modes_behave_like_libpq() {
    let certs = certificates();
    let cluster = tls_only_cluster(certs.path());
    let ca = certs.path().join("ca.pem");
    let port = cluster.port();

    // verify-full against the right CA: snapshot and streaming, over TLS only (the server
    // rejects anything else).
    let (p, mut s) = run_siphon(&format!(
        "postgres://postgres@localhost:{port}/app?sslmode=verify-full&sslrootcert={}",
        ca.display()
    ));
    s.wait_status("streaming over TLS", |st| st["state"] == "streaming");
    let ssl = cluster.psql(
        "app",
        "SELECT count(*) FILTER (WHERE s.ssl AND a.backend_type = 'walsender'), count(*) FILTER (WHERE NOT s.ssl)
         FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'siphon-test'",
    );
    assert_eq!(ssl, "1|0", "the replication connection, like every siphon connection, is encrypted");
    cluster.psql("app", "INSERT INTO t VALUES (2, 'two')");
    s.wait_past(&cluster.psql("app", "SELECT pg_logical_emit_message(true, 't', 's')"));
    assert!(s.stop().success());
    let rows = p.duck("SELECT id::VARCHAR, v FROM public.t ORDER BY id");
    assert_eq!(rows, vec![vec!["1".to_string(), "one".into()], vec!["2".into(), "two".into()]]);

    // A certificate signed by another CA: fatal at once, with a hint, never retried forever.
    let other = certs.path().join("other-ca.pem");
    let (p, mut s) = run_siphon(&format!(
        "postgres://postgres@localhost:{port}/app?sslmode=verify-full&sslrootcert={}",
        other.display()
    ));
    assert_eq!(s.wait_exit(), 1, "{}", p.log());
    assert!(p.log().contains("sslrootcert"), "{}", p.log());

    // verify-full names the host: 127.0.0.1 is not in the certificate. verify-ca checks the chain only.
    let (p, mut s) = run_siphon(&format!(
        "postgres://postgres@127.0.0.1:{port}/app?sslmode=verify-full&sslrootcert={}",
        ca.display()
    ));
    assert_eq!(s.wait_exit(), 1, "{}", p.log());
    let (_p, mut s) =
        run_siphon(&format!("postgres://postgres@127.0.0.1:{port}/app?sslmode=verify-ca&sslrootcert={}", ca.display()));
    s.wait_status("streaming with verify-ca", |st| st["state"] == "streaming");
    assert!(s.stop().success());

    // sslmode=disable really means no TLS: this server refuses it.
    let (p, mut s) = run_siphon(&format!("postgres://postgres@localhost:{port}/app?sslmode=disable"));
    assert_eq!(s.wait_exit(), 1, "{}", p.log());
    assert!(p.log().contains("no encryption"), "{}", p.log());
}
