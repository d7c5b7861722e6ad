//! The replication slot: find, create (with an exported snapshot), drop.
//!
//! A slot created with `EXPORT_SNAPSHOT` returns its *consistent point* and the name of a
//! snapshot that sees exactly the transactions committed before that point. Reading the tables
//! at that snapshot and then streaming from the consistent point is the hand-off without gap
//! and without overlap (see `siphon-runtime`'s `pipeline` module). The snapshot stays importable
//! only while the session that created the slot is open and idle, so [`CreatedSlot`] holds
//! that session until the copy is done.

use pgwire_replication::{Lsn as WireLsn, ReplicationClient};
use siphon_core::{Error, Lsn};
use tokio_postgres::Client;

use crate::connect::{classify, replication_error, PgConnector};

/// A freshly created slot, holding the session whose snapshot it exported.
pub struct CreatedSlot {
    pub consistent_point: Lsn,
    pub snapshot_name: String,
    session: ReplicationClient,
}

impl CreatedSlot {
    /// Ends the creating session; the exported snapshot can no longer be imported after this.
    pub fn release(self) {
        // Dropping a gated session closes its gate: the worker sends Terminate and exits.
        std::mem::drop(self.session);
    }
}

/// The slot's state on the server, if it exists.
pub struct SlotInfo {
    pub plugin: Option<String>,
    pub database: Option<String>,
    pub active: bool,
    pub confirmed_flush_lsn: Option<Lsn>,
    /// `lost` when the server invalidated the slot (its WAL is gone).
    pub wal_status: Option<String>,
}

pub async fn find(client: &Client, slot: &str) -> Result<Option<SlotInfo>, Error> {
    let row = client
        .query_opt(
            "SELECT plugin::text, database::text, active, confirmed_flush_lsn::text, wal_status::text FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(|e| classify(e, "could not read pg_replication_slots"))?;
    Ok(row.map(|r| SlotInfo {
        plugin: r.get(0),
        database: r.get(1),
        active: r.get(2),
        confirmed_flush_lsn: r.get::<_, Option<String>>(3).and_then(|s| s.parse().ok()),
        wal_status: r.get(4),
    }))
}

/// Checks an existing slot can serve this pipeline.
pub fn check_usable(info: &SlotInfo, slot: &str, database: &str) -> Result<(), Error> {
    if info.plugin.as_deref() != Some("pgoutput") {
        return Err(Error::fatal(format!("replication slot \"{slot}\" does not use the pgoutput plugin"))
            .with_detail(format!("its plugin is {}", info.plugin.as_deref().unwrap_or("none (a physical slot)")))
            .with_hint("choose another source.slot, or drop that slot if nothing else uses it"));
    }
    if info.database.as_deref() != Some(database) {
        return Err(Error::fatal(format!("replication slot \"{slot}\" belongs to another database"))
            .with_detail(format!(
                "it was created in database {:?}, the source is {database:?}",
                info.database.as_deref().unwrap_or_default()
            ))
            .with_hint("choose another source.slot"));
    }
    Ok(())
}

/// Waits until no session holds the slot (`active = false`), polling for at most `timeout`.
/// `false` if it is still held then.
pub async fn wait_released(client: &Client, slot: &str, timeout: std::time::Duration) -> Result<bool, Error> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match find(client, slot).await? {
            Some(info) if info.active => {}
            _ => return Ok(true),
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub async fn drop(client: &Client, slot: &str) -> Result<(), Error> {
    client
        .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
        .await
        .map_err(|e| classify(e, &format!("could not drop replication slot \"{slot}\"")))?;
    Ok(())
}

/// The server's identity, `system_identifier/timeline` (IDENTIFY_SYSTEM): the positions of one
/// identity mean nothing on another (a restored backup, a different server).
pub async fn identify(connector: &PgConnector, slot: &str, publication: &str) -> Result<String, Error> {
    let mut session = ReplicationClient::connect_gated(connector.replication_config(slot, publication))
        .await
        .map_err(|e| replication_error(e, "could not open a replication session"))?;
    let id = session.identify_system().await.map_err(|e| replication_error(e, "IDENTIFY_SYSTEM failed"))?;
    Ok(format!("{}/{}", id.system_id, id.timeline))
}

/// Creates a logical slot with the pgoutput plugin and exports its snapshot.
/// Creates the slot `slot` with an exported snapshot. A `temporary` slot only serves the
/// snapshot (a copy while the pipeline streams on its own slot): the server drops it when the
/// session ends ([`CreatedSlot::release`], or a crash).
pub async fn create_with_snapshot(
    connector: &PgConnector,
    slot: &str,
    publication: &str,
    temporary: bool,
) -> Result<CreatedSlot, Error> {
    let cfg = connector.replication_config(slot, publication);
    let mut session = ReplicationClient::connect_gated(cfg)
        .await
        .map_err(|e| replication_error(e, "could not open a replication session"))?;
    let rows = session
        .simple_query(&format!(
            "CREATE_REPLICATION_SLOT \"{slot}\"{} LOGICAL pgoutput EXPORT_SNAPSHOT",
            if temporary { " TEMPORARY" } else { "" }
        ))
        .await
        .map_err(|e| {
            let err = replication_error(e, &format!("could not create replication slot \"{slot}\""));
            match err.hint {
                Some(_) => err,
                None => err.with_hint("the role needs the REPLICATION attribute, wal_level must be logical, and max_replication_slots must have room"),
            }
        })?;
    let row = rows.into_iter().next().ok_or_else(|| Error::fatal("CREATE_REPLICATION_SLOT returned no row"))?;
    let text = |i: usize| row.get(i).and_then(|v| v.as_ref()).map(|b| String::from_utf8_lossy(b).into_owned());
    let consistent_point: Lsn = text(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::fatal("CREATE_REPLICATION_SLOT returned no consistent point"))?;
    let snapshot_name = text(2).ok_or_else(|| Error::fatal("CREATE_REPLICATION_SLOT exported no snapshot"))?;
    tracing::info!(slot, %consistent_point, temporary, "created replication slot");
    Ok(CreatedSlot { consistent_point, snapshot_name, session })
}

pub(crate) fn to_wire(lsn: Lsn) -> WireLsn {
    WireLsn::from_u64(lsn.0)
}

/// One row of `pg_replication_slots`, with the WAL it holds back.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SlotRow {
    pub slot_name: String,
    pub plugin: Option<String>,
    pub slot_type: String,
    pub database: Option<String>,
    pub active: bool,
    pub active_pid: Option<i32>,
    pub restart_lsn: Option<String>,
    pub confirmed_flush_lsn: Option<String>,
    /// `reserved`, `extended`, `unreserved` or `lost` (PostgreSQL 13+).
    pub wal_status: Option<String>,
    /// Bytes of WAL between the slot's restart_lsn and the current WAL position.
    pub retained_wal_bytes: Option<i64>,
    /// Bytes that can still be written before the slot is invalidated (`max_slot_wal_keep_size`),
    /// `None` when unlimited.
    pub safe_wal_size: Option<i64>,
}

/// Every replication slot on the server.
pub async fn list(client: &Client) -> Result<Vec<SlotRow>, Error> {
    let rows = client
        .query(
            "SELECT slot_name::text, plugin::text, slot_type::text, database::text, active, active_pid,
                    restart_lsn::text, confirmed_flush_lsn::text, wal_status::text,
                    CASE WHEN restart_lsn IS NULL THEN NULL
                         ELSE pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END, restart_lsn)::int8 END,
                    safe_wal_size::int8
             FROM pg_replication_slots ORDER BY slot_name",
            &[],
        )
        .await
        .map_err(|e| classify(e, "could not read pg_replication_slots"))?;
    Ok(rows
        .iter()
        .map(|r| SlotRow {
            slot_name: r.get(0),
            plugin: r.get(1),
            slot_type: r.get(2),
            database: r.get(3),
            active: r.get(4),
            active_pid: r.get(5),
            restart_lsn: r.get(6),
            confirmed_flush_lsn: r.get(7),
            wal_status: r.get(8),
            retained_wal_bytes: r.get(9),
            safe_wal_size: r.get(10),
        })
        .collect())
}
