//! The MySQL/MariaDB source: a consistent snapshot with its exact binlog position, then the
//! binlog as [`siphon_core::change::SourceEvent`]s with values in PostgreSQL text form
//! (docs/mysql.md).
//!
//! API (the runtime wires it in; nothing here advances a checkpoint):
//! * [`MySqlConnector`]`::new(url, server_id)`, `describe()`, `conn().await`.
//! * [`position::BinlogPosition`]: `to_lsn()`, `from_lsn(lsn, basename)`, `Display`
//!   (`binlog.000042:1234`).
//! * [`catalog`]: `list_tables`, `table_schema`, `server_identity`, `current_position`,
//!   `position_available`.
//! * [`BinlogStream`]`::start(&connector, from, applied, &tables)` / `start_at(.., StartAt::Gtid(..), ..)`,
//!   `next().await`, `server_end()`, `confirm(lsn)` (no-op), `gtid_state()`, `shutdown().await`.
//! * [`snapshot`]: `estimate_rows`, `plan_chunks`, `begin`, `copy_chunk`, `end`.
//! * [`doctor`]`::check(conn, tables)`: every server setting, grant and table property the
//!   pipeline needs, as `siphon_core::doctor::Finding`s.
//!
//! Pure, fuzzed decoders: [`tablemap`], [`events`], [`decoder`]; type map and value text:
//! [`types`], [`text`]; GTIDs: [`gtid`].

pub mod catalog;
pub mod connect;
pub mod decoder;
pub mod doctor;
pub mod events;
pub mod gtid;
pub mod position;
pub mod snapshot;
pub mod stream;
pub mod tablemap;
pub mod text;
pub mod types;

pub use connect::MySqlConnector;
pub use stream::{BinlogStream, StartAt};
