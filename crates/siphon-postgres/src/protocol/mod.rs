//! Pure decoders for the PostgreSQL wire formats siphon consumes.
//!
//! Nothing in this module performs I/O: every function takes bytes or text
//! that some other layer already received from the server and turns them
//! into typed values (or an error that says what was wrong and where).
//! Every decoder is written to never panic on arbitrary input, and the
//! `fuzz/` package next to this crate exercises exactly that.
//!
//! * [`pgoutput`] decodes the logical replication messages emitted by the
//!   `pgoutput` plugin (the payload of an `XLogData` message), see
//!   <https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html>.
//!   It also contains an encoder used by tests and fixtures.
//! * [`copy_text`] splits and unescapes the output of `COPY ... TO STDOUT`
//!   in the default text format, see
//!   <https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2>
//!   (section "Text Format").
//!
//! The parsers of value texts that destinations need (arrays, intervals) live in
//! `siphon_core::pgtext`, next to the rows that carry those texts.

pub mod copy_text;
pub mod pgoutput;

pub use copy_text::{CopyBlockDecoder, CopyDecodeError, CopyTextDecoder};
pub use pgoutput::{DecodeError, PgOutputMessage};
