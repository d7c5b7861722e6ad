//! `siphon doctor` for a MySQL/MariaDB source: every server setting, grant and table property
//! the pipeline needs, checked at once (a failed check never hides the next one), each finding
//! with what was expected, what was found and the exact statement that fixes it (docs/mysql.md,
//! "Server settings" and "Grants"). It reads variables, `SHOW GRANTS` and `information_schema`
//! only; it changes nothing.
//!
//! | check                                   | expected                                   | severity |
//! |-----------------------------------------|--------------------------------------------|----------|
//! | `server version`                        | MySQL 8.0.1+ / MariaDB 10.5+               | fail     |
//! | `log_bin`, `binlog_format`, `binlog_row_image`, `binlog_row_metadata` | ON, ROW, FULL, FULL | fail |
//! | `binlog retention`                      | >= 24 h, or never expiring                 | fail     |
//! | `server_id`                             | non-zero                                   | fail     |
//! | `binlog_row_value_options` (MySQL) / `log_bin_compress` (MariaDB) | `''` / OFF       | fail     |
//! | `gtid_mode` (MySQL) / `gtid_strict_mode` (MariaDB) | ON                              | warn     |
//! | `sync_binlog`, `innodb_flush_log_at_trx_commit` | 1 (crash-safe)                       | warn     |
//! | `grant REPLICATION SLAVE`, `grant REPLICATION CLIENT` (MariaDB 10.5+: `grant BINLOG MONITOR`), `grant RELOAD` (MySQL) | granted on `*.*` | fail |
//! | `table db.t`, `table db.t key`, `table db.t SELECT` | exists, primary key, SELECT granted | fail |
//!
//! Grants are read from `SHOW GRANTS` (the current user) and the grants of its active roles
//! (`CURRENT_ROLE()`), and understood in the forms the server prints: `ALL [PRIVILEGES]`,
//! `ON *.*`, `` ON `db`.* `` (with `LIKE` wildcards), `` ON `db`.`table` ``; column-level
//! `SELECT (a, b)` does not count as table SELECT. `REVOKE` lines (MySQL partial revokes) are
//! not interpreted. A table the user has no privilege on is invisible in `information_schema`,
//! so it is reported as "not found or not visible".

use std::collections::{BTreeSet, HashMap};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use siphon_core::doctor::Finding;
use siphon_core::schema::TableName;
use siphon_core::Error;

use crate::catalog::{self, Flavor};
use crate::connect::classify;

/// The binlog retention siphon asks for: a restart within a day resumes from its checkpoint.
pub const MIN_RETENTION_SECS: u64 = 24 * 3600;

/// Checks the server `conn` is connected to (as the pipeline's user) for replicating `tables`
/// (`None`: every base table of the session's database, the URL's). Returns every finding; an
/// `Err` only when the server cannot be asked at all.
pub async fn check(conn: &mut Conn, tables: Option<&[TableName]>) -> Result<Vec<Finding>, Error> {
    let server = Server::read(conn).await?;
    let mut out = Vec::new();
    out.push(server.version_finding());
    binlog_settings(&server, &mut out);
    out.push(retention(conn, &server).await?);
    gtid(&server, &mut out);
    durability(&server, &mut out);
    let grants = Grants::read(conn).await?;
    grant_findings(&server, &grants, &mut out);
    table_findings(conn, &server, &grants, tables, &mut out).await?;
    Ok(out)
}

/// What the checks need to know about the server.
struct Server {
    flavor: Flavor,
    version_text: String,
    version: (u32, u32, u32),
    database: Option<String>,
    vars: HashMap<String, String>,
}

const VARIABLES: [&str; 14] = [
    "sync_binlog",
    "innodb_flush_log_at_trx_commit",
    "log_bin",
    "binlog_format",
    "binlog_row_image",
    "binlog_row_metadata",
    "binlog_expire_logs_seconds",
    "expire_logs_days",
    "binlog_expire_logs_auto_purge",
    "gtid_mode",
    "gtid_strict_mode",
    "server_id",
    "binlog_row_value_options",
    "log_bin_compress",
];

impl Server {
    async fn read(conn: &mut Conn) -> Result<Server, Error> {
        let (version_text, database): (String, Option<String>) = conn
            .query_first("SELECT VERSION(), DATABASE()")
            .await
            .map_err(|e| classify(e, "could not read the server version"))?
            .unwrap_or_default();
        let list = VARIABLES.map(|v| format!("'{v}'")).join(", ");
        let rows: Vec<(String, Option<String>)> = conn
            .query(format!("SHOW GLOBAL VARIABLES WHERE Variable_name IN ({list})"))
            .await
            .map_err(|e| classify(e, "could not read the server variables (SHOW GLOBAL VARIABLES)"))?;
        let vars = rows.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v.unwrap_or_default())).collect();
        let flavor =
            if version_text.to_ascii_lowercase().contains("mariadb") { Flavor::MariaDb } else { Flavor::MySql };
        Ok(Server { flavor, version: parse_version(&version_text), version_text, database, vars })
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    fn is_mariadb(&self) -> bool {
        self.flavor == Flavor::MariaDb
    }

    /// `SET GLOBAL` (MariaDB: plus the configuration file) or `SET PERSIST` (MySQL 8).
    fn set_global(&self, name: &str, value: &str) -> String {
        match self.flavor {
            Flavor::MySql => format!("SET PERSIST {name} = {value}"),
            Flavor::MariaDb => format!(
                "SET GLOBAL {name} = {value}, and {name} = {} under [mariadb] in the server's configuration file",
                value.trim_matches('\'')
            ),
        }
    }

    fn version_finding(&self) -> Finding {
        let (ok, expected) = match self.flavor {
            Flavor::MySql => (self.version >= (8, 0, 1), "MySQL 8.0.1 or later (binlog_row_metadata)"),
            Flavor::MariaDb => (self.version >= (10, 5, 0), "MariaDB 10.5 or later (binlog_row_metadata)"),
        };
        let name = if self.is_mariadb() { "MariaDB" } else { "MySQL" };
        Finding::new("server version", ok, expected, format!("{name} {}", self.version_text), "upgrade the server")
    }
}

/// `8.0.36`, `10.11.6-MariaDB-0+deb12u1-log` -> (major, minor, patch).
fn parse_version(v: &str) -> (u32, u32, u32) {
    let mut parts = v.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

fn binlog_settings(s: &Server, out: &mut Vec<Finding>) {
    let log_bin = s.var("log_bin").unwrap_or("OFF");
    out.push(Finding::new(
        "log_bin",
        matches!(log_bin, "ON" | "1"),
        "ON",
        log_bin,
        match s.flavor {
            Flavor::MySql => "start the server with log_bin (on by default in MySQL 8; remove skip-log-bin / disable-log-bin), then restart; on RDS: enable automated backups",
            Flavor::MariaDb => "add log_bin (e.g. log_bin = binlog) under [mariadb] in the server's configuration file, then restart",
        },
    ));
    let required = [
        ("binlog_format", "ROW", "statement events cannot be turned into row changes"),
        ("binlog_row_image", "FULL", "every column in every before/after image: deletes and key changes carry the key, updates whole rows"),
        (
            "binlog_row_metadata",
            "FULL",
            "siphon decodes every row with the schema its TABLE_MAP event carries (column names, signedness, character sets, ENUM/SET labels, primary key), which only FULL writes; rows written before the change cannot be decoded",
        ),
    ];
    for (name, want, why) in required {
        let actual = s.var(name);
        let fix = format!(
            "{}; sessions already open keep the old value (restart the writers or the server){}",
            s.set_global(name, &format!("'{want}'")),
            if s.flavor == Flavor::MySql { "; on RDS: the parameter group" } else { "" }
        );
        out.push(Finding::new(
            name,
            actual.is_some_and(|a| a.eq_ignore_ascii_case(want)),
            format!("{want} ({why})"),
            actual.unwrap_or("not supported by this server version"),
            fix,
        ));
    }
    let server_id = s.var("server_id").unwrap_or("0");
    out.push(Finding::new(
        "server_id",
        server_id.parse::<u64>().is_ok_and(|id| id != 0),
        "non-zero (a server that writes a binlog needs one)",
        server_id,
        "set server_id to a number no other server of the replication topology uses, in the configuration file, then restart",
    ));
    match s.flavor {
        Flavor::MySql => {
            let v = s.var("binlog_row_value_options").unwrap_or("");
            out.push(Finding::new(
                "binlog_row_value_options",
                v.is_empty(),
                "'' (partial JSON updates are not decoded)",
                if v.is_empty() { "''" } else { v },
                "SET PERSIST binlog_row_value_options = ''",
            ));
        }
        Flavor::MariaDb => {
            let v = s.var("log_bin_compress").unwrap_or("OFF");
            out.push(Finding::new(
                "log_bin_compress",
                v.eq_ignore_ascii_case("OFF"),
                "OFF (compressed row events are not decoded)",
                v,
                s.set_global("log_bin_compress", "OFF"),
            ));
        }
    }
}

/// How long the server keeps binlog files.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Retention {
    Never,
    Secs(u64, &'static str),
    /// RDS `binlog retention hours` is NULL: files are purged as soon as possible.
    RdsNull,
}

async fn retention(conn: &mut Conn, s: &Server) -> Result<Finding, Error> {
    let rds = rds_retention_hours(conn).await;
    let retention = match &rds {
        Some(None) => Retention::RdsNull,
        Some(Some(h)) => Retention::Secs(h.saturating_mul(3600), "RDS binlog retention hours"),
        None => server_retention(s),
    };
    let (ok, actual) = match &retention {
        Retention::Never => (true, "never expire".to_string()),
        Retention::Secs(secs, how) => (*secs >= MIN_RETENTION_SECS, format!("{} ({how})", hours_text(*secs))),
        Retention::RdsNull => (false, "NULL (RDS binlog retention hours: purged as soon as possible)".to_string()),
    };
    let fix = if rds.is_some() {
        "CALL mysql.rds_set_configuration('binlog retention hours', 168)".to_string()
    } else {
        s.set_global("binlog_expire_logs_seconds", "604800")
    };
    Ok(Finding::new(
        "binlog retention",
        ok,
        "at least 24 h, or never expire (a restart resumes from its checkpoint only while the server still has that binlog file)",
        actual,
        fix,
    ))
}

/// The server's own expiry: `binlog_expire_logs_seconds` wins when non-zero, then
/// `expire_logs_days` (older servers; MariaDB keeps both in step); both 0 is never.
/// `binlog_expire_logs_auto_purge = OFF` (MySQL 8.0.29+) never purges.
fn server_retention(s: &Server) -> Retention {
    if s.var("binlog_expire_logs_auto_purge").is_some_and(|v| v.eq_ignore_ascii_case("OFF")) {
        return Retention::Never;
    }
    let secs: u64 = s.var("binlog_expire_logs_seconds").and_then(|v| v.parse().ok()).unwrap_or(0);
    if secs > 0 {
        return Retention::Secs(secs, "binlog_expire_logs_seconds");
    }
    let days: f64 = s.var("expire_logs_days").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    if days > 0.0 {
        return Retention::Secs((days * 86_400.0).round() as u64, "expire_logs_days");
    }
    Retention::Never
}

fn hours_text(secs: u64) -> String {
    if secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else {
        format!("{:.1} h", secs as f64 / 3600.0)
    }
}

/// Amazon RDS: `Some(hours)` from `CALL mysql.rds_show_configuration` (`Some(None)` when NULL);
/// `None` when the procedure does not exist (not RDS) or cannot be called.
async fn rds_retention_hours(conn: &mut Conn) -> Option<Option<u64>> {
    let rows: Vec<mysql_async::Row> = conn.query("CALL mysql.rds_show_configuration").await.ok()?;
    let row = rows.iter().find(|r| {
        r.get_opt::<String, _>(0).and_then(Result::ok).is_some_and(|n| n.eq_ignore_ascii_case("binlog retention hours"))
    })?;
    let value: Option<String> = row.get_opt::<Option<String>, _>(1).and_then(Result::ok).flatten();
    Some(value.and_then(|v| v.trim().parse().ok()))
}

fn gtid(s: &Server, out: &mut Vec<Finding>) {
    let finding = match s.flavor {
        Flavor::MySql => {
            let v = s.var("gtid_mode").unwrap_or("OFF");
            Finding::new(
                "gtid_mode",
                v.eq_ignore_ascii_case("ON"),
                "ON (recommended: GTIDs let a stream move to another server)",
                v,
                "SET PERSIST enforce_gtid_consistency = ON, then SET PERSIST gtid_mode = OFF_PERMISSIVE, ON_PERMISSIVE, ON (one step at a time)",
            )
        }
        Flavor::MariaDb => {
            let v = s.var("gtid_strict_mode").unwrap_or("OFF");
            Finding::new(
                "gtid_strict_mode",
                v.eq_ignore_ascii_case("ON"),
                "ON (recommended: GTIDs let a stream move to another server)",
                v,
                s.set_global("gtid_strict_mode", "ON"),
            )
        }
    };
    out.push(finding.warn_only());
}

/// `sync_binlog = 1` and `innodb_flush_log_at_trx_commit = 1`: otherwise a server crash can lose
/// transactions it already sent to siphon (the binlog or the engine forgets them on recovery),
/// and the replica keeps rows the source no longer has. A warning: the setting is the server's
/// own durability choice.
fn durability(s: &Server, out: &mut Vec<Finding>) {
    for name in ["sync_binlog", "innodb_flush_log_at_trx_commit"] {
        let Some(v) = s.var(name) else { continue };
        out.push(
            Finding::new(
                name,
                v == "1",
                "1 (recommended: a crash then loses no transaction siphon already applied)",
                v,
                s.set_global(name, "1"),
            )
            .warn_only(),
        );
    }
}

/// A global privilege the pipeline needs, with the names the server may print for it.
struct Needed {
    check: &'static str,
    names: &'static [&'static str],
    grant: &'static str,
    why: &'static str,
}

fn needed_privileges(s: &Server) -> Vec<Needed> {
    let mut v = vec![Needed {
        check: "grant REPLICATION SLAVE",
        names: &["REPLICATION SLAVE", "REPLICATION REPLICA"],
        grant: "REPLICATION SLAVE",
        why: "to read the binlog",
    }];
    if s.is_mariadb() && s.version >= (10, 5, 0) {
        v.push(Needed {
            check: "grant BINLOG MONITOR",
            names: &["BINLOG MONITOR", "REPLICATION CLIENT"],
            grant: "BINLOG MONITOR",
            why: "SHOW BINARY LOGS / SHOW MASTER STATUS (REPLICATION CLIENT before MariaDB 10.5)",
        });
    } else {
        v.push(Needed {
            check: "grant REPLICATION CLIENT",
            names: &["REPLICATION CLIENT"],
            grant: "REPLICATION CLIENT",
            why: "SHOW BINARY LOGS / SHOW MASTER STATUS",
        });
    }
    if !s.is_mariadb() {
        v.push(Needed {
            check: "grant RELOAD",
            names: &["RELOAD"],
            grant: "RELOAD",
            why: "FLUSH TABLES WITH READ LOCK, for the snapshot's exact binlog position",
        });
    }
    v
}

fn grant_findings(s: &Server, g: &Grants, out: &mut Vec<Finding>) {
    for n in needed_privileges(s) {
        let ok = n.names.iter().any(|p| g.has_global(p));
        out.push(Finding::new(
            n.check,
            ok,
            format!("{} ON *.* ({})", n.grant, n.why),
            if ok {
                format!("granted{}", g.via_roles())
            } else {
                format!("not granted to {}{}", g.user, g.via_roles())
            },
            format!("GRANT {} ON *.* TO {}", n.grant, g.user),
        ));
    }
}

async fn table_findings(
    conn: &mut Conn,
    s: &Server,
    g: &Grants,
    configured: Option<&[TableName]>,
    out: &mut Vec<Finding>,
) -> Result<(), Error> {
    let wanted: Vec<TableName> = match (configured, &s.database) {
        (Some(list), _) => list.to_vec(),
        (None, Some(db)) => catalog::base_tables(conn, db).await?,
        (None, None) => {
            out.push(Finding::new(
                "tables",
                false,
                "a database in source.url (its tables are replicated), or source.tables",
                "neither",
                "name the database in source.url: mysql://user:password@host:3306/database",
            ));
            return Ok(());
        }
    };
    if wanted.is_empty() {
        let db = s.database.clone().unwrap_or_default();
        out.push(Finding::new(
            "tables",
            false,
            format!("at least one base table in {db} visible to {}", g.user),
            "none",
            format!("create the tables, or GRANT SELECT ON {}.* TO {}", bq(&db), g.user),
        ));
    }
    for t in &wanted {
        table(conn, g, t, out).await?;
    }
    Ok(())
}

async fn table(conn: &mut Conn, g: &Grants, t: &TableName, out: &mut Vec<Finding>) -> Result<(), Error> {
    // Two plain queries, not one correlated subquery: see `catalog::base_tables`.
    let what = format!("could not read the catalog entry of {t}");
    let kind: Option<String> = conn
        .exec_first(
            "SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (&t.schema, &t.name),
        )
        .await
        .map_err(|e| classify(e, &what))?;
    let keys: Option<u64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.STATISTICS
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY'",
            (&t.schema, &t.name),
        )
        .await
        .map_err(|e| classify(e, &what))?;
    let row = kind.map(|k| (k, keys.unwrap_or(0)));
    // STATISTICS, not TABLE_CONSTRAINTS: MariaDB shows a user with only SELECT no constraints.
    let Some((kind, keys)) = row else {
        out.push(Finding::new(
            format!("table {t}"),
            false,
            "exists",
            format!("not found, or not visible to {} (no privilege on it)", g.user),
            format!(
                "check source.tables (database.table, as SHOW TABLES prints it), or GRANT SELECT ON {} TO {}",
                mysql_name(t),
                g.user
            ),
        ));
        return Ok(());
    };
    if kind != "BASE TABLE" {
        out.push(Finding::new(
            format!("table {t}"),
            false,
            "a base table",
            kind,
            "replicate the tables behind the view instead",
        ));
        return Ok(());
    }
    out.push(Finding::new(
        format!("table {t} key"),
        keys > 0,
        "a primary key (siphon identifies rows by it)",
        if keys > 0 { "primary key" } else { "no primary key" },
        format!("ALTER TABLE {} ADD PRIMARY KEY (...), or leave the table out of source.tables", mysql_name(t)),
    ));
    let select = g.has_table_select(&t.schema, &t.name);
    out.push(Finding::new(
        format!("table {t} SELECT"),
        select,
        "SELECT privilege (snapshot and catalog)",
        if select { format!("granted{}", g.via_roles()) } else { format!("not granted{}", g.via_roles()) },
        format!("GRANT SELECT ON {}.* TO {} (or ON {} for this table only)", bq(&t.schema), g.user, mysql_name(t)),
    ));
    Ok(())
}

/// A backquoted MySQL identifier.
fn bq(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

fn mysql_name(t: &TableName) -> String {
    format!("{}.{}", bq(&t.schema), bq(&t.name))
}

/// The privileges of the current user and its active roles.
struct Grants {
    /// `'user'@'host'` as the fix statements name it.
    user: String,
    grants: Vec<grants::Grant>,
    roles: Vec<String>,
}

impl Grants {
    async fn read(conn: &mut Conn) -> Result<Grants, Error> {
        let user: Option<String> = conn
            .query_first("SELECT CURRENT_USER()")
            .await
            .map_err(|e| classify(e, "could not read the current user"))?;
        let user = user.unwrap_or_default();
        let user = match user.rsplit_once('@') {
            Some((u, h)) => format!("'{}'@'{}'", u.replace('\'', "''"), h.replace('\'', "''")),
            None => format!("'{}'", user.replace('\'', "''")),
        };
        let lines: Vec<String> =
            conn.query("SHOW GRANTS").await.map_err(|e| classify(e, "could not read the grants (SHOW GRANTS)"))?;
        let mut grants: Vec<grants::Grant> = lines.iter().filter_map(|l| grants::parse(l)).collect();
        // Roles: only the active ones count (the default roles of a new session).
        let current: Option<Option<String>> = conn.query_first("SELECT CURRENT_ROLE()").await.unwrap_or(None);
        let active = grants::parse_role_list(&current.flatten().unwrap_or_default());
        let mut roles = Vec::new();
        let mut pending: Vec<String> = active;
        let mut seen = BTreeSet::new();
        while let Some(role) = pending.pop() {
            if !seen.insert(role.clone()) || seen.len() > 16 {
                continue;
            }
            let Ok(lines) = conn.query::<String, _>(format!("SHOW GRANTS FOR {role}")).await else { continue };
            roles.push(role);
            for g in lines.iter().filter_map(|l| grants::parse(l)) {
                if let grants::Target::Roles(r) = &g.target {
                    pending.extend(r.iter().cloned());
                }
                grants.push(g);
            }
        }
        Ok(Grants { user, grants, roles })
    }

    fn has_global(&self, privilege: &str) -> bool {
        self.grants.iter().any(|g| matches!(g.target, grants::Target::Global) && g.includes(privilege))
    }

    fn has_table_select(&self, db: &str, table: &str) -> bool {
        self.grants.iter().any(|g| g.target.covers_table(db, table) && g.includes("SELECT"))
    }

    fn via_roles(&self) -> String {
        if self.roles.is_empty() {
            String::new()
        } else {
            format!(" (with active roles {})", self.roles.join(", "))
        }
    }
}

/// `SHOW GRANTS` lines, parsed. Pure.
pub mod grants {
    /// What a grant line applies to.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Target {
        /// `ON *.*`
        Global,
        /// `` ON `db`.* ``: a `LIKE` pattern (`_`, `%`, `\` escapes).
        Database(String),
        /// `` ON `db`.`table` ``
        Table(String, String),
        /// `ON PROCEDURE ...`, `ON FUNCTION ...`, `PROXY`: nothing siphon needs.
        Other,
        /// `` GRANT `role`@`%` TO ... ``: the roles, as `SHOW GRANTS FOR` takes them.
        Roles(Vec<String>),
    }

    impl Target {
        /// Whether table-level privileges granted on this target apply to `db.table`.
        pub fn covers_table(&self, db: &str, table: &str) -> bool {
            match self {
                Target::Global => true,
                Target::Database(pattern) => like(pattern, db),
                Target::Table(d, t) => d == db && t == table,
                Target::Other | Target::Roles(_) => false,
            }
        }
    }

    /// One `GRANT` line.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Grant {
        /// Upper case, single spaces: `SELECT`, `REPLICATION SLAVE`, `ALL PRIVILEGES`. Column
        /// privileges (`SELECT (a, b)`) are left out: they do not grant the whole table.
        pub privileges: Vec<String>,
        pub target: Target,
    }

    impl Grant {
        pub fn includes(&self, privilege: &str) -> bool {
            self.privileges.iter().any(|p| p == privilege || p == "ALL PRIVILEGES" || p == "ALL")
        }
    }

    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Tok {
        Word(String),
        Quoted(String),
        Punct(char),
    }

    fn tokenize(s: &str) -> Option<Vec<Tok>> {
        let mut out = Vec::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                c if c.is_whitespace() => {}
                '`' | '\'' | '"' => {
                    let mut v = String::new();
                    loop {
                        match chars.next()? {
                            q if q == c && chars.peek() == Some(&c) => {
                                chars.next();
                                v.push(c);
                            }
                            q if q == c => break,
                            '\\' if c != '`' => v.push(chars.next()?),
                            other => v.push(other),
                        }
                    }
                    out.push(Tok::Quoted(v));
                }
                ',' | '(' | ')' | '.' | '@' | '*' | ';' => out.push(Tok::Punct(c)),
                _ => {
                    let mut w = String::from(c);
                    while let Some(&n) = chars.peek() {
                        if n.is_whitespace() || ",().@*;`'\"".contains(n) {
                            break;
                        }
                        w.push(n);
                        chars.next();
                    }
                    out.push(Tok::Word(w));
                }
            }
        }
        Some(out)
    }

    fn is_word(t: Option<&Tok>, w: &str) -> bool {
        matches!(t, Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    /// Parses one line of `SHOW GRANTS`; `None` for lines that grant nothing (`REVOKE`,
    /// `SET DEFAULT ROLE`, unparsable).
    pub fn parse(line: &str) -> Option<Grant> {
        let toks = tokenize(line)?;
        if !is_word(toks.first(), "GRANT") {
            return None;
        }
        let on = toks.iter().position(|t| is_word(Some(t), "ON"));
        let to = toks.iter().position(|t| is_word(Some(t), "TO"))?;
        match on {
            Some(on) if on < to => {
                Some(Grant { privileges: privileges(&toks[1..on]), target: target(&toks[on + 1..to]) })
            }
            _ => Some(Grant { privileges: Vec::new(), target: Target::Roles(role_names(&toks[1..to])) }),
        }
    }

    fn privileges(toks: &[Tok]) -> Vec<String> {
        let mut out = Vec::new();
        let mut words: Vec<String> = Vec::new();
        let mut depth = 0usize;
        let mut column_level = false;
        let mut flush = |words: &mut Vec<String>, column_level: &mut bool| {
            if !words.is_empty() && !*column_level {
                out.push(words.join(" ").to_ascii_uppercase());
            }
            words.clear();
            *column_level = false;
        };
        for t in toks {
            match t {
                Tok::Punct('(') => {
                    depth += 1;
                    column_level = true;
                }
                Tok::Punct(')') => depth = depth.saturating_sub(1),
                Tok::Punct(',') if depth == 0 => flush(&mut words, &mut column_level),
                Tok::Word(w) if depth == 0 => words.push(w.clone()),
                _ => {}
            }
        }
        flush(&mut words, &mut column_level);
        out
    }

    fn part(t: &Tok) -> Option<Option<String>> {
        match t {
            Tok::Punct('*') => Some(None),
            Tok::Word(w) | Tok::Quoted(w) => Some(Some(w.clone())),
            _ => None,
        }
    }

    fn target(toks: &[Tok]) -> Target {
        if toks.first().is_some_and(
            |t| matches!(t, Tok::Word(w) if ["PROCEDURE", "FUNCTION"].contains(&w.to_ascii_uppercase().as_str())),
        ) {
            return Target::Other;
        }
        let toks = if is_word(toks.first(), "TABLE") { &toks[1..] } else { toks };
        match toks {
            [a, Tok::Punct('.'), b] => match (part(a), part(b)) {
                (Some(None), Some(None)) => Target::Global,
                (Some(Some(db)), Some(None)) => Target::Database(db),
                (Some(Some(db)), Some(Some(t))) => Target::Table(db, t),
                _ => Target::Other,
            },
            _ => Target::Other,
        }
    }

    /// `` `r1`@`%`, `r2` `` -> the roles as `SHOW GRANTS FOR` takes them.
    fn role_names(toks: &[Tok]) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        for t in toks {
            match t {
                Tok::Punct(',') => out.push(std::mem::take(&mut cur)),
                Tok::Punct('@') => cur.push('@'),
                Tok::Word(w) | Tok::Quoted(w) => cur.push_str(&format!("`{}`", w.replace('`', "``"))),
                _ => {}
            }
        }
        out.push(cur);
        out.retain(|r| !r.is_empty());
        out
    }

    /// `CURRENT_ROLE()`: `NONE`, `r1` (MariaDB), `` `r1`@`%`,`r2`@`%` `` (MySQL).
    pub fn parse_role_list(s: &str) -> Vec<String> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("NONE") {
            return Vec::new();
        }
        tokenize(s).map(|t| role_names(&t)).unwrap_or_default()
    }

    /// SQL `LIKE` as grant database names use it: `%` any run, `_` one character, `\` escapes.
    pub fn like(pattern: &str, s: &str) -> bool {
        fn go(p: &[char], s: &[char]) -> bool {
            match p.split_first() {
                None => s.is_empty(),
                Some(('%', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
                Some(('_', rest)) => !s.is_empty() && go(rest, &s[1..]),
                Some(('\\', rest)) if !rest.is_empty() => s.first() == Some(&rest[0]) && go(&rest[1..], &s[1..]),
                Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
            }
        }
        let p: Vec<char> = pattern.chars().collect();
        let s: Vec<char> = s.chars().collect();
        go(&p, &s)
    }
}

#[cfg(test)]
mod tests {
    use super::grants::{like, parse, parse_role_list, Target};
    use super::*;

    #[test]
    fn parses_the_grant_forms_servers_print() {
        let g = parse(
            "GRANT SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `rep`@`%` IDENTIFIED BY PASSWORD '*AB'",
        )
        .unwrap();
        assert_eq!(g.privileges, ["SELECT", "RELOAD", "REPLICATION SLAVE", "BINLOG MONITOR"]);
        assert_eq!(g.target, Target::Global);
        let g = parse("GRANT ALL PRIVILEGES ON `shop`.* TO 'rep'@'%' WITH GRANT OPTION").unwrap();
        assert!(
            g.includes("SELECT") && g.target.covers_table("shop", "orders") && !g.target.covers_table("shopx", "o")
        );
        let g = parse("GRANT SELECT ON `sh``op`.`order s` TO `rep`@`%`").unwrap();
        assert_eq!(g.target, Target::Table("sh`op".into(), "order s".into()));
        let g = parse("GRANT SELECT (`id`, `name`), INSERT ON `shop`.`t` TO `rep`@`%`").unwrap();
        assert_eq!(g.privileges, ["INSERT"], "column SELECT is not table SELECT");
        let g = parse("GRANT EXECUTE ON PROCEDURE `shop`.`p` TO `rep`@`%`").unwrap();
        assert_eq!(g.target, Target::Other);
        let g = parse("GRANT `r1`@`%`,`r2`@`%` TO `rep`@`%`").unwrap();
        assert_eq!(g.target, Target::Roles(vec!["`r1`@`%`".into(), "`r2`@`%`".into()]));
        let g = parse("GRANT `siphon_role` TO `rep`@`%`").unwrap();
        assert_eq!(g.target, Target::Roles(vec!["`siphon_role`".into()]));
        assert!(parse("REVOKE SELECT ON `mysql`.* FROM `rep`@`%`").is_none());
        assert!(parse("SET DEFAULT ROLE `r` FOR `rep`@`%`").is_none());
        let g = parse("GRANT SELECT ON `shop\\_db`.* TO `rep`@`%`").unwrap();
        assert!(g.target.covers_table("shop_db", "t") && !g.target.covers_table("shopXdb", "t"));
        let g = parse("GRANT SELECT ON `shop%`.* TO `rep`@`%`").unwrap();
        assert!(g.target.covers_table("shop_eu", "t"));
    }

    #[test]
    fn like_and_role_lists() {
        assert!(like("a_c", "abc") && !like("a_c", "abbc") && like("a%", "a") && like("%", ""));
        assert!(like("a\\_c", "a_c") && !like("a\\_c", "abc"));
        assert_eq!(parse_role_list("NONE"), Vec::<String>::new());
        assert_eq!(parse_role_list("`r1`@`%`,`r2`@`localhost`"), ["`r1`@`%`", "`r2`@`localhost`"]);
        assert_eq!(parse_role_list("siphon_role"), ["`siphon_role`"]);
    }

    #[test]
    fn retention_rules() {
        let server = |vars: &[(&str, &str)]| Server {
            flavor: Flavor::MySql,
            version_text: "8.0.36".into(),
            version: (8, 0, 36),
            database: None,
            vars: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        assert_eq!(
            server_retention(&server(&[("binlog_expire_logs_seconds", "0"), ("expire_logs_days", "0")])),
            Retention::Never
        );
        assert_eq!(
            server_retention(&server(&[("binlog_expire_logs_seconds", "3600"), ("expire_logs_days", "0.041667")])),
            Retention::Secs(3600, "binlog_expire_logs_seconds")
        );
        assert_eq!(
            server_retention(&server(&[("binlog_expire_logs_seconds", "0"), ("expire_logs_days", "7")])),
            Retention::Secs(604_800, "expire_logs_days")
        );
        assert_eq!(
            server_retention(&server(&[
                ("binlog_expire_logs_seconds", "60"),
                ("binlog_expire_logs_auto_purge", "OFF")
            ])),
            Retention::Never
        );
        assert_eq!(parse_version("10.11.6-MariaDB-0+deb12u1-log"), (10, 11, 6));
        assert_eq!(parse_version("8.0.36"), (8, 0, 36));
        assert_eq!(hours_text(3600), "1 h");
    }
}
