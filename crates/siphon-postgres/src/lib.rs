//! The PostgreSQL source: logical replication with the `pgoutput` plugin.
//!
//! ```text
//!   connect ──► catalog (publication, table schemas and keys)
//!      │
//!      ├─ no checkpoint: slot::create_with_snapshot ──► the slot's consistent point is the
//!      │                 first checkpoint; its exported snapshot is copied in key-range chunks
//!      │                 (snapshot::plan_chunks / copy_chunk, several connections)
//!      ├─ copies later (added table, resumed copy, `siphon backfill`): a TEMPORARY slot's
//!      │                 exported snapshot, the same chunked copy
//!      │
//!      └─ stream::PgStream::start(checkpoint) ──► SourceEvent (Begin, Schema, Change, Truncate,
//!                        Commit, Idle) ──► runtime; `confirm(lsn)` after each durable commit
//! ```
//!
//! For `siphon verify`, [`keyset`] reads tables in key-ordered chunks at one snapshot and
//! [`slot_changes`] reads a slot's changes over SQL with the same decoder.
//!
//! [`protocol`] holds the byte-level decoders (pgoutput messages, COPY text rows); they do no I/O
//! and are property-tested and fuzzed.

pub mod catalog;
pub mod connect;
pub mod doctor;
pub mod keyset;
pub mod protocol;
pub mod slot;
pub mod slot_changes;
pub mod snapshot;
pub mod stream;
pub mod tls;

pub use connect::PgConnector;
pub use stream::PgStream;
pub use tokio_postgres::Client as SqlClient;
