//! PostgreSQL's text forms of values that destinations must take apart: arrays, intervals,
//! dates and timestamps, money. Pure parsing, no I/O; property-tested against formatters that
//! agree with samples printed by the server, and fuzzed.
//!
//! * [`array_text`] parses the text output of array values (`array_out`),
//!   see <https://www.postgresql.org/docs/current/arrays.html#ARRAYS-IO>, and renders an
//!   array's shape and elements as JSON.
//! * [`interval_text`] parses `interval` values printed with the default `postgres`
//!   `IntervalStyle`, see
//!   <https://www.postgresql.org/docs/current/datatype-datetime.html#DATATYPE-INTERVAL-OUTPUT>.
//! * [`datetime_text`] parses `date`, `timestamp` and `timestamptz` values printed with
//!   `DateStyle = ISO`, including `BC` years and infinities, and prints them with astronomical
//!   years.
//! * [`money_text`] parses `money` values printed with `lc_monetary = C`.

pub mod array_text;
pub mod datetime_text;
pub mod interval_text;
pub mod money_text;

pub use array_text::{parse_array, parse_array_with_delimiter, to_struct_json, ArrayParseError, PgArray};
pub use datetime_text::{parse_datetime, DateTime, DateTimeKind, DateTimeParseError, PgDateTime};
pub use interval_text::{parse_interval, IntervalParseError, PgInterval};
pub use money_text::{parse_money, MoneyParseError, PgMoney};
