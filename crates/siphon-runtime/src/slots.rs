//! `siphon slots list` and `siphon slots drop`: the seed runbook's "check the slots, make sure
//! `active` is false, then drop" with the checks done for the operator.
//!
//! A drop is refused while the slot is active (always: a live consumer would lose its stream), and
//! for this pipeline's own slot unless the pipeline is paused (`--force` skips only that check).
//! Before dropping, the report says what it costs: the WAL the slot holds is released, the next
//! start creates a new slot, and changes between the pipeline's checkpoint and then are not in
//! any slot any more.

use serde::Serialize;
use siphon_core::config::Config;
use siphon_core::Error;
use siphon_postgres::slot::{self, SlotRow};
use siphon_postgres::PgConnector;

/// A slot and the pipeline that owns it (when it is this config's).
#[derive(Serialize)]
pub struct SlotReport {
    #[serde(flatten)]
    pub slot: SlotRow,
    pub pipeline: Option<String>,
}

async fn connect(config: &Config) -> Result<(PgConnector, siphon_postgres::SqlClient), Error> {
    crate::source::require_postgres(config, "siphon slots")?;
    let connector = PgConnector::new(&config.source.url, &format!("siphon-{}-cli", config.pipeline.name))?;
    let client = connector.sql().await?;
    Ok((connector, client))
}

/// Every slot on the source server.
pub async fn list(config: &Config) -> Result<Vec<SlotReport>, Error> {
    let (_, client) = connect(config).await?;
    Ok(slot::list(&client)
        .await?
        .into_iter()
        .map(|s| {
            let pipeline = (s.slot_name == config.source.slot).then(|| config.pipeline.name.clone());
            SlotReport { slot: s, pipeline }
        })
        .collect())
}

/// Options of a drop.
pub struct DropOptions {
    /// Drop this pipeline's own slot even when the pipeline is not paused.
    pub force: bool,
    /// Only report what the drop would cost.
    pub dry_run: bool,
}

/// What dropping `name` costs (always), and whether it was dropped.
pub async fn drop(config: &Config, name: &str, opts: DropOptions) -> Result<(String, bool), Error> {
    let (_, client) = connect(config).await?;
    let slots = slot::list(&client).await?;
    let s = slots.iter().find(|s| s.slot_name == name).ok_or_else(|| {
        Error::fatal(format!("replication slot \"{name}\" does not exist"))
            .with_hint("`siphon slots list` shows the slots on the server")
    })?;
    if s.active {
        return Err(Error::fatal(format!("replication slot \"{name}\" is active (pid {})", s.active_pid.unwrap_or(0)))
            .with_detail("a consumer is streaming from it; dropping it would cut that stream")
            .with_hint(
                "pause or stop that consumer first (for this pipeline: siphon pause); --force does not override this",
            ));
    }
    let own = name == config.source.slot;
    if own && !opts.force && !config.pipeline.state_dir.join(crate::state_dir::PAUSED_MARKER).exists() {
        return Err(Error::fatal(format!(
            "replication slot \"{name}\" belongs to pipeline {}, which is not paused",
            config.pipeline.name
        ))
        .with_detail("a pipeline that is merely stopped will look for its slot when it starts again")
        .with_hint("run `siphon pause` first (the usual step before an upgrade), or pass --force"));
    }
    let cost = cost(s, own.then_some(config.pipeline.name.as_str()));
    if opts.dry_run {
        return Ok((cost, false));
    }
    slot::drop(&client, name).await?;
    tracing::info!(slot = name, "dropped replication slot");
    Ok((cost, true))
}

fn cost(s: &SlotRow, pipeline: Option<&str>) -> String {
    let mut text = format!(
        "dropping slot \"{}\" releases {} of WAL it retains; changes in that WAL that no consumer has confirmed are gone with it.",
        s.slot_name,
        human_bytes(s.retained_wal_bytes.unwrap_or(0))
    );
    if let Some(p) = pipeline {
        text.push_str(&format!(
            "\npipeline {p} will need a new slot: changes made after its checkpoint (confirmed_flush_lsn {}) and before the new slot exists are not in any slot, so the affected tables must be backfilled.",
            s.confirmed_flush_lsn.as_deref().unwrap_or("?")
        ));
    }
    text
}

/// `1536` -> `1.5 KiB`.
pub fn human_bytes(n: i64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v.abs() >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn bytes_read_like_humans_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(16 * 1024 * 1024), "16.0 MiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
