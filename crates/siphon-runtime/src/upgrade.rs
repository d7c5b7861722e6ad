//! `siphon upgrade prepare` / `siphon upgrade finish`: the seed runbook for a major-version upgrade
//! as two commands.
//!
//! ```text
//!  prepare: writes stopped? ─► pipeline caught up (marker) ─► pause ─► no WAL since the marker?
//!           ─► record every table's row count and checksum on the source (state_dir/upgrade.json)
//!           ─► below PostgreSQL 17: drop the slot (pg_upgrade cannot carry it); 17+: keep it
//!  (operator runs pg_upgrade)
//!  finish:  doctor on the new server ─► checksums again: unchanged? ─► anchor the pipeline at the
//!           (new or kept) slot ─► resume ─► wait for catch-up ─► verify source and replica (as `siphon verify`)
//! ```
//!
//! Why the anchor is exact: at prepare the replica equals the source at its checkpoint (caught up,
//! paused, no WAL written since). If every table's checksum is unchanged at finish, no change was
//! made in between, so a slot created now (or kept through pg_upgrade) continues the stream with
//! nothing missing: the pipeline resumes from the slot's position with the new server identity
//! (`state_dir/anchor.json`, checked and consumed by the pipeline). If any table changed, no anchor
//! is written: the pipeline sees the gap and re-backfills (see `pipeline`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use siphon_core::config::Config;
use siphon_core::doctor::Severity;
use siphon_core::schema::{quote_ident, TableName};
use siphon_core::{Error, Lsn};
use siphon_postgres::{catalog, connect::classify, slot, PgConnector, SqlClient};

use crate::client::{daemon, Daemon};
use crate::state_dir::write_atomic;

/// WAL the server may write on its own while idle (checkpoints, running-xacts records).
const IDLE_WAL_ALLOWANCE: u64 = 64 * 1024;

#[derive(Serialize, Deserialize)]
struct Prepared {
    server_version_num: i32,
    identity: String,
    slot_dropped: bool,
    tables: BTreeMap<String, TableSum>,
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Clone, Debug)]
struct TableSum {
    rows: i64,
    checksum: String,
}

/// The pipeline anchor written by `finish` (consumed by the pipeline at resume).
#[derive(Serialize, Deserialize)]
pub struct Anchor {
    pub lsn: String,
    pub identity: String,
}

pub struct PrepareOptions {
    pub skip_write_check: bool,
    pub write_check: Duration,
}

async fn source(config: &Config) -> Result<(PgConnector, SqlClient), Error> {
    crate::source::require_postgres(config, "siphon upgrade")?;
    let connector = PgConnector::new(&config.source.url, &format!("siphon-{}-upgrade", config.pipeline.name))?;
    let client = connector.sql().await?;
    Ok((connector, client))
}

fn running(config: &Config) -> Result<Daemon, Error> {
    daemon(config).ok_or_else(|| {
        Error::fatal(format!("pipeline {} is not running", config.pipeline.name))
            .with_hint("start `siphon run` with this config (a paused pipeline starts paused), then run this again")
    })
}

async fn wal_lsn(client: &SqlClient) -> Result<Lsn, Error> {
    let s: String = client
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .map_err(|e| classify(e, "pg_current_wal_lsn"))?
        .get(0);
    s.parse().map_err(|_| Error::fatal("the server returned an invalid LSN"))
}

async fn version(client: &SqlClient) -> Result<i32, Error> {
    let s: String =
        client.query_one("SHOW server_version_num", &[]).await.map_err(|e| classify(e, "server_version_num"))?.get(0);
    Ok(s.parse().unwrap_or(0))
}

/// Waits until the pipeline streams (a backfill may come first), commits a marker transaction and
/// waits until the pipeline's checkpoint passes it. (Streaming first: a checkpoint from before an
/// upgrade or a server change does not compare with the new server's positions.)
async fn catch_up(client: &SqlClient, d: &Daemon, timeout: Duration) -> Result<Lsn, Error> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let status = d.request("GET", "/v1/status", None)?;
        if status["state"] == "streaming" {
            break;
        }
        if status["state"] == "failed" || tokio::time::Instant::now() >= deadline {
            return Err(Error::fatal(format!("the pipeline is not streaming (state {})", status["state"]))
                .with_hint("check `siphon status`; resolve the error and run this again"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m: String = client
        .query_one("SELECT pg_logical_emit_message(true, 'siphon', 'upgrade')::text", &[])
        .await
        .map_err(|e| classify(e, "could not write the catch-up marker"))?
        .get(0);
    let marker: Lsn = m.parse().map_err(|_| Error::fatal("invalid marker LSN"))?;
    loop {
        let status = d.request("GET", "/v1/status", None)?;
        let cp = status["checkpoint_lsn"].as_str().and_then(|s| s.parse::<Lsn>().ok());
        if cp.is_some_and(|cp| cp > marker) {
            return Ok(marker);
        }
        if status["state"] == "failed" || tokio::time::Instant::now() >= deadline {
            return Err(Error::fatal(format!("the pipeline did not catch up to {marker} (state {})", status["state"]))
                .with_hint("check `siphon status`; resolve the error and run this again"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn table_sums(client: &SqlClient, config: &Config) -> Result<BTreeMap<String, TableSum>, Error> {
    let configured = config.tables();
    let tables = catalog::publication_tables(client, &config.source.publication, configured.as_deref()).await?;
    let mut out = BTreeMap::new();
    for t in tables {
        out.insert(t.to_string(), table_sum(client, &t).await?);
    }
    Ok(out)
}

/// Row count and an ordered checksum of every row's text form.
async fn table_sum(client: &SqlClient, t: &TableName) -> Result<TableSum, Error> {
    let schema = catalog::table_schema(client, t).await?;
    let key: Vec<String> =
        schema.columns.iter().filter(|c| c.is_key).map(|c| format!("r.{}", quote_ident(&c.name))).collect();
    let sql = format!(
        "SELECT count(*)::int8, coalesce(md5(string_agg(r::text, E'\\n' ORDER BY {})), '') FROM {} r",
        key.join(", "),
        t.quoted()
    );
    let row = client.query_one(sql.as_str(), &[]).await.map_err(|e| classify(e, &format!("could not checksum {t}")))?;
    Ok(TableSum { rows: row.get(0), checksum: row.get(1) })
}

/// Prepares for a major-version upgrade; returns the report to print.
pub async fn prepare(config: &Config, opts: PrepareOptions) -> Result<String, Error> {
    crate::source::require_postgres(config, "siphon upgrade")?;
    let d = running(config)?;
    let (connector, client) = source(config).await?;
    if !opts.skip_write_check {
        let before = wal_lsn(&client).await?;
        tokio::time::sleep(opts.write_check).await;
        let grew = wal_lsn(&client).await?.0.saturating_sub(before.0);
        if grew > IDLE_WAL_ALLOWANCE {
            return Err(Error::fatal("application writes have not stopped")
                .with_detail(format!("the server wrote {grew} bytes of WAL in {} s", opts.write_check.as_secs()))
                .with_hint("stop the applications writing to the database (the runbook's downtime), or pass --skip-write-check"));
        }
    }
    let marker = catch_up(&client, &d, Duration::from_secs(300)).await?;
    d.request("POST", "/v1/pause", None)?;
    let tables = table_sums(&client, config).await?;
    let after = wal_lsn(&client).await?;
    if !opts.skip_write_check && after.0.saturating_sub(marker.0) > IDLE_WAL_ALLOWANCE {
        return Err(Error::fatal("writes happened while the pipeline was being paused")
            .with_detail(format!("WAL moved from {marker} to {after}"))
            .with_hint("the pipeline stays paused; stop the writes and run `siphon upgrade prepare` again"));
    }
    let version = version(&client).await?;
    let identity = slot::identify(&connector, &config.source.slot, &config.source.publication).await?;
    let drop_slot = version < 170000;
    if drop_slot && slot::find(&client, &config.source.slot).await?.is_some() {
        slot::drop(&client, &config.source.slot).await?;
    }
    let prepared = Prepared { server_version_num: version, identity, slot_dropped: drop_slot, tables };
    let body =
        serde_json::to_vec_pretty(&prepared).map_err(|e| Error::fatal("upgrade.json").with_detail(e.to_string()))?;
    write_atomic(&config.pipeline.state_dir.join("upgrade.json"), &body)
        .map_err(|e| Error::fatal("could not write state_dir/upgrade.json").with_detail(e.to_string()))?;
    let slot_line = if drop_slot {
        format!(
            "dropped slot \"{}\" (PostgreSQL {} cannot carry logical slots through pg_upgrade)",
            config.source.slot,
            version / 10000
        )
    } else {
        format!(
            "kept slot \"{}\" (PostgreSQL 17+ carries caught-up logical slots through pg_upgrade)",
            config.source.slot
        )
    };
    Ok(format!(
        "pipeline {} caught up to {marker} and paused\nrecorded row counts and checksums of {} tables\n{slot_line}\n\nnext steps:\n  1. upgrade the server (pg_upgrade); set wal_level = logical on the new cluster\n  2. start it, keep application writes stopped\n  3. siphon upgrade finish --config <this config>\n",
        config.pipeline.name,
        prepared.tables.len()
    ))
}

/// Finishes after the upgrade; returns the report and whether source and replica agree.
pub async fn finish(config: &Config) -> Result<(String, bool), Error> {
    crate::source::require_postgres(config, "siphon upgrade")?;
    let path = config.pipeline.state_dir.join("upgrade.json");
    let prepared: Prepared = serde_json::from_str(&std::fs::read_to_string(&path).map_err(|e| {
        Error::fatal(format!("no prepared upgrade at {}", path.display()))
            .with_detail(e.to_string())
            .with_hint("run `siphon upgrade prepare` before upgrading the server")
    })?)
    .map_err(|e| Error::fatal("state_dir/upgrade.json is corrupt").with_detail(e.to_string()))?;
    let d = running(config)?;
    let (connector, client) = source(config).await?;
    let mut report = String::new();
    let findings = crate::doctor::run(config).await?;
    let failed: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Fail)
        .map(|f| format!("{}: {} (fix: {})", f.check, f.actual, f.fix))
        .collect();
    if !failed.is_empty() {
        return Err(Error::fatal("the upgraded server is not ready for the pipeline")
            .with_detail(failed.join("; "))
            .with_hint("fix these and run `siphon upgrade finish` again (siphon doctor shows all checks)"));
    }
    let version = version(&client).await?;
    report.push_str(&format!(
        "server: PostgreSQL {} -> {}; doctor: ok\n",
        prepared.server_version_num / 10000,
        version / 10000
    ));
    let now = table_sums(&client, config).await?;
    let changed: Vec<&String> =
        prepared.tables.iter().filter(|(t, sum)| now.get(*t) != Some(sum)).map(|(t, _)| t).collect();
    if changed.is_empty() {
        let identity = slot::identify(&connector, &config.source.slot, &config.source.publication).await?;
        let lsn = match slot::find(&client, &config.source.slot).await? {
            Some(info) => info.confirmed_flush_lsn.map(|l| l.to_string()).unwrap_or_default(),
            None => {
                let row = client
                    .query_one(
                        "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')",
                        &[&config.source.slot],
                    )
                    .await
                    .map_err(|e| classify(e, "could not create the replication slot"))?;
                report.push_str(&format!("created slot \"{}\"\n", config.source.slot));
                row.get(0)
            }
        };
        let anchor = serde_json::to_vec(&Anchor { lsn: lsn.clone(), identity }).unwrap_or_default();
        write_atomic(&config.pipeline.state_dir.join("anchor.json"), &anchor)
            .map_err(|e| Error::fatal("could not write state_dir/anchor.json").with_detail(e.to_string()))?;
        report.push_str(&format!(
            "no table changed during the upgrade: the pipeline continues at {lsn}, no backfill needed\n"
        ));
    } else {
        let names: Vec<&str> = changed.iter().map(|s| s.as_str()).collect();
        report.push_str(&format!(
            "tables changed during the upgrade window: {}; the pipeline will re-backfill (gap)\n",
            names.join(", ")
        ));
    }
    d.request("POST", "/v1/resume", None)?;
    catch_up(&client, &d, Duration::from_secs(3600)).await?;
    // The same comparison as `siphon verify`: row by row (counts and checksums per key chunk),
    // exact while the pipeline streams.
    let verified = d.request("POST", "/v1/verify", Some(serde_json::json!({})))?;
    let mut equal = verified["equal"].as_bool().unwrap_or(false);
    let tables = verified["verified"]["tables"].as_array().cloned().unwrap_or_default();
    equal &= !tables.is_empty();
    for t in &tables {
        let ok = t["equal"].as_bool().unwrap_or(false);
        report.push_str(&format!(
            "{} {}: source {} rows, replica {} rows, {} missing, {} extra, {} different\n",
            if ok { "ok  " } else { "DIFF" },
            t["table"].as_str().unwrap_or_default(),
            t["source_rows"],
            t["replica_rows"],
            t["missing"],
            t["extra"],
            t["different"]
        ));
    }
    if equal {
        let _ = std::fs::remove_file(&path);
    }
    Ok((report, equal))
}
