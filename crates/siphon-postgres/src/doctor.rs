//! `siphon doctor` for a PostgreSQL source: every setting and permission the pipeline needs,
//! checked at once (a failed check never hides the next one), each with the setting, expected and
//! actual values and the fix. It reads the catalog only; it changes nothing.

use siphon_core::doctor::Finding;
use siphon_core::schema::{quote_ident, TableName};
use siphon_core::Error;
use tokio_postgres::Client;

use crate::connect::classify;

/// What the checks need to know about the pipeline.
pub struct DoctorInput<'a> {
    pub slot: &'a str,
    pub publication: &'a str,
    pub tables: Option<&'a [TableName]>,
}

pub async fn check(client: &Client, input: &DoctorInput<'_>) -> Result<Vec<Finding>, Error> {
    let mut out = Vec::new();
    let setting = |name: &'static str| async move {
        client
            .query_one("SELECT current_setting($1)", &[&name])
            .await
            .map(|r| r.get::<_, String>(0))
            .map_err(|e| classify(e, &format!("could not read {name}")))
    };
    let version: i32 = setting("server_version_num").await?.parse().unwrap_or(0);
    out.push(Finding::new(
        "server version",
        version >= 100000,
        "PostgreSQL 10 or later (pgoutput); 15+ recommended",
        setting("server_version").await?,
        "upgrade the server",
    ));
    let wal_level = setting("wal_level").await?;
    out.push(Finding::new(
        "wal_level",
        wal_level == "logical",
        "logical",
        &wal_level,
        "ALTER SYSTEM SET wal_level = logical; then restart the server (on RDS: rds.logical_replication = 1 in the parameter group)",
    ));
    slots_and_senders(client, input, &mut out).await?;
    role(client, &mut out).await?;
    tables(client, input, &mut out).await?;
    wal_keep(client, input, &mut out, version).await?;
    extensions(client, &mut out).await?;
    Ok(out)
}

async fn slots_and_senders(client: &Client, input: &DoctorInput<'_>, out: &mut Vec<Finding>) -> Result<(), Error> {
    let r = client
        .query_one(
            "SELECT current_setting('max_replication_slots')::int, (SELECT count(*) FROM pg_replication_slots)::int,
                    EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1),
                    current_setting('max_wal_senders')::int, (SELECT count(*) FROM pg_stat_replication)::int",
            &[&input.slot],
        )
        .await
        .map_err(|e| classify(e, "could not read slot settings"))?;
    let (max_slots, used, own_exists, max_senders, senders): (i32, i32, bool, i32, i32) =
        (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
    let need = used + i32::from(!own_exists);
    out.push(Finding::new(
        "max_replication_slots",
        need <= max_slots,
        format!("at least {need} ({used} in use{})", if own_exists { "" } else { " + 1 for this pipeline" }),
        max_slots.to_string(),
        "raise max_replication_slots (restart needed), or drop unused slots (siphon slots list)",
    ));
    out.push(Finding::new(
        "max_wal_senders",
        senders < max_senders,
        format!("more than the {senders} in use"),
        max_senders.to_string(),
        "raise max_wal_senders (restart needed)",
    ));
    Ok(())
}

async fn role(client: &Client, out: &mut Vec<Finding>) -> Result<(), Error> {
    let r = client
        .query_one(
            "SELECT current_user::text, rolreplication, rolsuper,
                    EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication' AND pg_has_role(current_user, oid, 'member'))
             FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| classify(e, "could not read the role"))?;
    let (user, replication, superuser, rds): (String, bool, bool, bool) = (r.get(0), r.get(1), r.get(2), r.get(3));
    let actual = match (superuser, replication, rds) {
        (true, _, _) => "superuser",
        (_, true, _) => "REPLICATION",
        (_, _, true) => "member of rds_replication",
        _ => "no REPLICATION attribute",
    };
    out.push(Finding::new(
        format!("role {user} REPLICATION"),
        superuser || replication || rds,
        "REPLICATION attribute (or rds_replication on RDS)",
        actual,
        format!(
            "ALTER ROLE {} REPLICATION (on RDS: GRANT rds_replication TO {})",
            quote_ident(&user),
            quote_ident(&user)
        ),
    ));
    Ok(())
}

async fn tables(client: &Client, input: &DoctorInput<'_>, out: &mut Vec<Finding>) -> Result<(), Error> {
    let published: Option<Vec<TableName>> = {
        let exists = client
            .query_opt("SELECT 1 FROM pg_publication WHERE pubname = $1", &[&input.publication])
            .await
            .map_err(|e| classify(e, "could not read pg_publication"))?
            .is_some();
        if exists {
            let rows = client
                .query(
                    "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1",
                    &[&input.publication],
                )
                .await
                .map_err(|e| classify(e, "could not read pg_publication_tables"))?;
            Some(rows.iter().map(|r| TableName::new(r.get::<_, String>(0), r.get::<_, String>(1))).collect())
        } else {
            None
        }
    };
    let tables: Vec<TableName> = match (input.tables, &published) {
        (Some(t), _) => t.to_vec(),
        (None, Some(p)) => p.clone(),
        (None, None) => Vec::new(),
    };
    let pub_name = input.publication;
    match (&published, input.tables) {
        (None, Some(_)) => out.push(
            Finding::new(format!("publication {pub_name}"), false, "exists", "missing", "siphon creates it at start (the role must own the tables), or run CREATE PUBLICATION ... FOR TABLE ...")
                .warn_only(),
        ),
        (None, None) => out.push(Finding::new(
            format!("publication {pub_name}"),
            false,
            "exists (source.tables is not set)",
            "missing",
            format!("CREATE PUBLICATION {} FOR ALL TABLES, or list the tables in source.tables", quote_ident(pub_name)),
        )),
        (Some(p), _) => {
            let missing: Vec<String> = tables.iter().filter(|t| !p.contains(t)).map(|t| t.to_string()).collect();
            out.push(Finding::new(
                format!("publication {pub_name}"),
                missing.is_empty() && !tables.is_empty(),
                "covers every replicated table",
                if missing.is_empty() { format!("{} tables", p.len()) } else { format!("missing {}", missing.join(", ")) },
                format!("ALTER PUBLICATION {} ADD TABLE {}", quote_ident(pub_name), missing.join(", ")),
            ));
        }
    }
    for t in &tables {
        table(client, t, out).await?;
    }
    Ok(())
}

async fn table(client: &Client, t: &TableName, out: &mut Vec<Finding>) -> Result<(), Error> {
    let row = client
        .query_opt(
            "SELECT c.relreplident::text, has_table_privilege(c.oid, 'SELECT'),
                    EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
                    EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
            &[&t.schema, &t.name],
        )
        .await
        .map_err(|e| classify(e, "could not read pg_class"))?;
    let Some(row) = row else {
        out.push(Finding::new(
            format!("table {t}"),
            false,
            "exists",
            "missing",
            "check source.tables (schema.table, case-sensitive)",
        ));
        return Ok(());
    };
    let (identity, select, pk, ident_index): (String, bool, bool, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    out.push(Finding::new(
        format!("table {t} SELECT"),
        select,
        "SELECT privilege",
        if select { "granted" } else { "not granted" },
        format!("GRANT SELECT ON {} TO <siphon role>", t.quoted()),
    ));
    let keyed = match identity.as_str() {
        "i" => ident_index,
        "n" => false,
        _ => pk,
    };
    let actual = match (identity.as_str(), pk) {
        ("n", _) => "REPLICA IDENTITY NOTHING".to_string(),
        ("i", _) => "REPLICA IDENTITY USING INDEX".to_string(),
        ("f", true) => "primary key (REPLICA IDENTITY FULL)".to_string(),
        (_, true) => "primary key".to_string(),
        _ => "no primary key".to_string(),
    };
    out.push(Finding::new(
        format!("table {t} key"),
        keyed,
        "a primary key or REPLICA IDENTITY USING INDEX",
        actual,
        format!("ALTER TABLE {} ADD PRIMARY KEY (...), or a unique index on NOT NULL columns with REPLICA IDENTITY USING INDEX", t.quoted()),
    ));
    Ok(())
}

async fn wal_keep(client: &Client, input: &DoctorInput<'_>, out: &mut Vec<Finding>, version: i32) -> Result<(), Error> {
    if version < 130000 {
        return Ok(());
    }
    let keep: String = client
        .query_one("SELECT current_setting('max_slot_wal_keep_size')", &[])
        .await
        .map_err(|e| classify(e, "could not read max_slot_wal_keep_size"))?
        .get(0);
    out.push(
        Finding::new(
            "max_slot_wal_keep_size",
            keep != "-1",
            "a cap, so a stalled slot cannot fill the disk",
            if keep == "-1" { "unlimited (-1)".to_string() } else { keep.clone() },
            "ALTER SYSTEM SET max_slot_wal_keep_size = '50GB' (size it to hours of WAL; siphon detects a slot invalidated by it)",
        )
        .warn_only(),
    );
    let status = client
        .query_opt("SELECT wal_status::text FROM pg_replication_slots WHERE slot_name = $1", &[&input.slot])
        .await
        .map_err(|e| classify(e, "could not read the slot"))?
        .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default());
    let (ok, actual) = match status.as_deref() {
        None => (true, "no slot yet (created at first start)".to_string()),
        Some(s) => (s == "reserved" || s == "extended", s.to_string()),
    };
    let mut f = Finding::new(
        format!("slot {} wal_status", input.slot),
        ok,
        "reserved or extended",
        &actual,
        "lost: the slot can no longer stream; drop it and backfill (siphon slots drop). unreserved: the slot is about to be invalidated; let siphon catch up now",
    );
    if actual == "unreserved" {
        f = f.warn_only();
    }
    out.push(f);
    Ok(())
}

async fn extensions(client: &Client, out: &mut Vec<Finding>) -> Result<(), Error> {
    let rows = client
        .query(
            "SELECT e.extname::text, e.extversion::text FROM pg_extension e
             WHERE NOT EXISTS (SELECT 1 FROM pg_available_extension_versions a WHERE a.name = e.extname AND a.version = e.extversion)",
            &[],
        )
        .await
        .map_err(|e| classify(e, "could not read pg_extension"))?;
    let missing: Vec<String> =
        rows.iter().map(|r| format!("{} {}", r.get::<_, String>(0), r.get::<_, String>(1))).collect();
    out.push(Finding::new(
        "installed extensions available",
        missing.is_empty(),
        "every installed extension's version is available on this server",
        if missing.is_empty() { "all available".to_string() } else { format!("missing: {}", missing.join(", ")) },
        "install the extension packages for this server version (after a major upgrade: ALTER EXTENSION ... UPDATE)",
    ));
    Ok(())
}
