//! PostgreSQL's text forms of values that destinations must take apart: arrays and intervals.
//! Pure parsing, no I/O; property-tested and fuzzed.
//!
//! * [`array_text`] parses the text output of array values (`array_out`),
//!   see <https://www.postgresql.org/docs/current/arrays.html#ARRAYS-IO>, and renders arrays as JSON.
//! * [`interval_text`] parses `interval` values printed with the default `postgres`
//!   `IntervalStyle`, see
//!   <https://www.postgresql.org/docs/current/datatype-datetime.html#DATATYPE-INTERVAL-OUTPUT>.

pub mod array_text;
pub mod interval_text;

pub use array_text::{parse_array, to_json, ArrayParseError, ElementKind, PgArray};
pub use interval_text::{parse_interval, IntervalParseError, PgInterval};
