//! The PostgreSQL source: a logical replication slot with pgoutput, a publication, exported
//! snapshots. See [`siphon_postgres`] for the protocol; this module only maps it onto
//! [`Source`].

use std::sync::Arc;
use std::time::Duration;

use siphon_core::change::SourceEvent;
use siphon_core::copy::KeyRange;
use siphon_core::destination::Checkpoint;
use siphon_core::schema::{TableName, TableSchema};
use siphon_core::{Error, Lsn};
use siphon_postgres::{catalog, slot, snapshot, PgConnector, PgStream, SqlClient};

use super::{CatalogSeen, ChangeStream, ChunkSink, Continuity, Fresh, Gap, Source, SourceHealth};

/// Bytes of COPY data per message (one `RowBlock`) from a copy worker to the pipeline: small
/// enough that a block's buffers are reused from the allocator's cache instead of fresh pages
/// (4 MiB blocks spent a sixth of the copy's CPU time zeroing pages), large enough that the
/// per-message cost vanishes (the pipeline coalesces queued blocks for slow destinations).
const PIECE_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct PostgresSource {
    connector: PgConnector,
    slot: String,
    publication: String,
}

impl PostgresSource {
    pub fn new(
        url: &siphon_core::config::Secret,
        application: &str,
        slot: &str,
        publication: &str,
    ) -> Result<Self, Error> {
        Ok(PostgresSource {
            connector: PgConnector::new(url, application)?,
            slot: slot.to_string(),
            publication: publication.to_string(),
        })
    }

    /// The exported snapshot of a slot created for a copy.
    async fn temporary_snapshot(&self) -> Result<slot::CreatedSlot, Error> {
        let name = format!("{}_copy_{}", self.slot, std::process::id());
        let name: String = name.chars().take(63).collect();
        slot::create_with_snapshot(&self.connector, &name, &self.publication, true).await
    }

    /// `siphon upgrade finish` verified that nothing changed across an upgrade and left an
    /// anchor: the slot's position on the upgraded server. Valid when the slot is exactly there
    /// and the server is the one verified.
    fn anchor_valid(anchor: &crate::upgrade::Anchor, info: &slot::SlotInfo, identity: &str) -> Option<Lsn> {
        let lsn = anchor.lsn.parse::<Lsn>().ok()?;
        (anchor.identity == identity
            && info.confirmed_flush_lsn == Some(lsn)
            && info.wal_status.as_deref() != Some("lost"))
        .then_some(lsn)
    }
}

impl ChangeStream for PgStream {
    async fn next(&mut self) -> Result<SourceEvent, Error> {
        PgStream::next(self).await
    }

    fn server_end(&self) -> Lsn {
        self.server_wal_end()
    }

    fn confirm(&self, lsn: Lsn) {
        PgStream::confirm(self, lsn)
    }

    fn add_table(&mut self, schema: Arc<TableSchema>) {
        PgStream::add_table(self, schema)
    }

    async fn shutdown(self) {
        PgStream::shutdown(self).await
    }
}

impl Source for PostgresSource {
    type Stream = PgStream;
    type Snapshot = slot::CreatedSlot;
    type Conn = SqlClient;
    const KIND: &'static str = "postgres";

    fn describe(&self) -> String {
        self.connector.describe()
    }

    async fn tables(&self, configured: Option<&[TableName]>) -> Result<Vec<Arc<TableSchema>>, Error> {
        let client = self.connector.sql().await?;
        let tables = catalog::publication_tables(&client, &self.publication, configured).await?;
        let mut schemas = Vec::new();
        for t in &tables {
            schemas.push(catalog::table_schema(&client, t).await?);
        }
        Ok(schemas)
    }

    /// The stream is intact only if the slot still holds every change after the checkpoint: the
    /// slot exists and is not invalidated, its confirmed position is not past anything siphon
    /// confirmed (else someone recreated or advanced it), and the server is the one the
    /// checkpoint came from (same system identifier and timeline: positions of a restored backup
    /// or another server mean other changes).
    async fn continuity(
        &self,
        cp: &Checkpoint,
        confirmed: Lsn,
        anchor: Option<&crate::upgrade::Anchor>,
    ) -> Result<Continuity, Error> {
        let client = self.connector.sql().await?;
        let slot_name = &self.slot;
        let gap = |reason: String| Ok(Continuity::Gap(Gap { reason, from: cp.lsn }));
        let Some(info) = slot::find(&client, slot_name).await? else {
            return gap(format!("replication slot \"{slot_name}\" is missing (dropped, or the server was replaced)"));
        };
        slot::check_usable(&info, slot_name, self.connector.database())?;
        if info.wal_status.as_deref() == Some("lost") {
            return gap(format!("replication slot \"{slot_name}\" was invalidated by the server (wal_status = lost: it fell further behind than max_slot_wal_keep_size allows, and its WAL is gone)"));
        }
        let identity = slot::identify(&self.connector, &self.slot, &self.publication).await?;
        if let Some(anchor) = anchor {
            match Self::anchor_valid(anchor, &info, &identity) {
                Some(lsn) => return Ok(Continuity::Anchored { lsn, identity }),
                None => tracing::warn!(
                    "the upgrade anchor does not match the slot or the server: checking for a gap instead"
                ),
            }
        }
        if let Some(was) = cp.source_identity.as_deref().filter(|was| *was != identity) {
            return gap(format!("the source server changed: system identifier/timeline was {was}, is {identity} (a restored backup, a failover or another server)"));
        }
        let confirmed_by_us = cp.lsn.max(confirmed);
        if let Some(c) = info.confirmed_flush_lsn.filter(|c| *c > confirmed_by_us) {
            return gap(format!("replication slot \"{slot_name}\" starts at {c}, past everything siphon confirmed ({confirmed_by_us}): it was recreated or advanced by someone else"));
        }
        Ok(Continuity::Resume(cp.lsn))
    }

    /// Creates the pipeline's slot with an exported snapshot (dropping a slot left by an
    /// interrupted first start, or the one that broke the stream).
    async fn fresh_start(&self, gap: bool) -> Result<Fresh<slot::CreatedSlot>, Error> {
        let client = self.connector.sql().await?;
        if let Some(info) = slot::find(&client, &self.slot).await? {
            slot::check_usable(&info, &self.slot, self.connector.database())?;
            if info.active {
                return Err(Error::transient(format!(
                    "replication slot \"{}\" is in use by another session",
                    self.slot
                )));
            }
            if gap {
                tracing::warn!(slot = %self.slot, "dropping the slot that broke the stream, to recreate it")
            } else {
                tracing::warn!(slot = %self.slot, "slot exists but the destination has no checkpoint (an interrupted first start): recreating it")
            }
            slot::drop(&client, &self.slot).await?;
        }
        let created = slot::create_with_snapshot(&self.connector, &self.slot, &self.publication, false).await?;
        let identity = slot::identify(&self.connector, &self.slot, &self.publication).await?;
        Ok(Fresh { position: created.consistent_point, identity, gtid: None, snapshot: Some(created) })
    }

    async fn stream(&self, from: Lsn, _gtid: Option<&str>, tables: &[Arc<TableSchema>]) -> Result<PgStream, Error> {
        PgStream::start(&self.connector, &self.slot, &self.publication, from, tables).await
    }

    async fn catalog_tables(
        &self,
        conn: &mut SqlClient,
        configured: Option<&[TableName]>,
    ) -> Result<Vec<TableName>, Error> {
        match configured {
            Some(t) => Ok(t.to_vec()),
            None => catalog::publication_tables(conn, &self.publication, None).await,
        }
    }

    async fn catalog_table(&self, conn: &mut SqlClient, table: &TableName) -> Result<CatalogSeen, Error> {
        let schema = catalog::table_schema(conn, table).await?;
        let defaults = catalog::columns_with_defaults(conn, table).await?;
        let position = catalog::current_wal_lsn(conn).await?;
        Ok(CatalogSeen { schema, defaults, position })
    }

    async fn column_ids(&self, table: &TableName) -> Result<Option<std::collections::HashMap<String, i64>>, Error> {
        let client = self.connector.sql().await?;
        Ok(Some(catalog::column_numbers(&client, table).await?))
    }

    /// Waits until the server has let go of the slot, so that "paused" means
    /// `pg_replication_slots.active = false` (what an operator checks before dropping a slot).
    async fn released(&self) {
        let released = match self.connector.sql().await {
            Ok(client) => slot::wait_released(&client, &self.slot, Duration::from_secs(10)).await,
            Err(e) => Err(e),
        };
        match released {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(slot = %self.slot, "paused, but the slot is still held by a session after 10 s")
            }
            Err(e) => tracing::warn!(error = %e, "paused; could not check that the slot was released"),
        }
    }

    async fn health(&self) -> Result<Option<SourceHealth>, Error> {
        let client = self.connector.sql().await?;
        let own = slot::list(&client).await?.into_iter().find(|s| s.slot_name == self.slot);
        Ok(Some(match own {
            Some(s) => SourceHealth {
                retained_bytes: s.retained_wal_bytes,
                safe_bytes: s.safe_wal_size,
                status: s.wal_status,
                active: s.active,
            },
            None => SourceHealth::default(),
        }))
    }

    async fn copy_snapshot(&self, held: Option<slot::CreatedSlot>) -> Result<(slot::CreatedSlot, Option<Lsn>), Error> {
        let hold = match held {
            Some(h) => h,
            None => self.temporary_snapshot().await?,
        };
        let lsn = hold.consistent_point;
        Ok((hold, Some(lsn)))
    }

    async fn copy_connect(&self) -> Result<SqlClient, Error> {
        self.connector.sql().await
    }

    async fn estimate_rows(&self, conn: &mut SqlClient, schema: &TableSchema) -> Result<u64, Error> {
        snapshot::estimate_rows(conn, schema).await
    }

    async fn plan_chunks(
        &self,
        conn: &mut SqlClient,
        schema: &TableSchema,
        estimated_rows: u64,
        chunk_rows: u64,
    ) -> Result<Vec<KeyRange>, Error> {
        snapshot::plan_chunks(conn, schema, estimated_rows, chunk_rows).await
    }

    async fn copy_chunk(
        &self,
        conn: &mut SqlClient,
        snapshot: &slot::CreatedSlot,
        schema: &TableSchema,
        range: &KeyRange,
        sink: &mut ChunkSink<'_>,
    ) -> Result<u64, Error> {
        snapshot::copy_chunk(conn, &snapshot.snapshot_name, schema, range, PIECE_BYTES, sink).await
    }

    fn release_snapshot(&self, snapshot: slot::CreatedSlot) {
        snapshot.release();
    }
}
