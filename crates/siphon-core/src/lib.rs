//! siphon's vocabulary, shared by every source, destination and the runtime.
//!
//! *Architecture invariant*: this crate does no I/O. It holds the types that cross crate
//! boundaries (positions, rows, table schemas, change events, batches), the strict
//! configuration model (parsing a string, never reading a file), and the [`Destination`]
//! contract that every destination implements.

pub mod batch;
pub mod change;
pub mod config;
pub mod copy;
pub mod destination;
pub mod doctor;
pub mod error;
pub mod modes;
pub mod pgtext;
pub mod position;
pub mod row;
pub mod schema;
#[doc(hidden)]
pub mod testing;

pub use batch::{Batch, RowOp, TableBatch};
pub use change::{Change, ChangeKind};
pub use destination::{Checkpoint, Destination, DestinationError};
pub use error::{Error, ErrorClass};
pub use position::Lsn;
pub use row::{Datum, Row};
pub use schema::{Column, TableName, TableSchema};
