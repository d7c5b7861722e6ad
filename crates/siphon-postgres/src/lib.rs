//! The PostgreSQL source: logical replication with the `pgoutput` plugin.
//!
//! ```text
//!   connect ──► catalog (publication, table schemas and keys)
//!      │
//!      ├─ no checkpoint: slot::create_with_snapshot ──► snapshot::copy_table (at the exported
//!      │                 snapshot, one table after another) ──► runtime commits the snapshot
//!      │                 with the slot's consistent point as checkpoint
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
