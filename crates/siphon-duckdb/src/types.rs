//! The PostgreSQL -> DuckDB type map.
//!
//! Rows arrive in PostgreSQL's text form: the same text from a snapshot's `COPY` and from
//! pgoutput, fixed by the session settings in `siphon_postgres::connect` (UTC, `DateStyle =
//! ISO`, `IntervalStyle = postgres`, `extra_float_digits = 3`, `lc_monetary = C`,
//! `bytea_output = hex`). Each column gets a DuckDB type and a [`Conversion`]: an optional
//! rewrite of the text in Rust ([`prepare_text`], for forms DuckDB does not read exactly) and
//! an SQL expression that turns the staged VARCHAR into the DuckDB type ([`convert_sql`]).
//!
//! # The rule
//!
//! A PostgreSQL type maps to a typed DuckDB column only when *every* value of the type fits
//! it exactly; otherwise to `VARCHAR` holding the exact text. So `numeric` is `VARCHAR` (a
//! `DECIMAL` has no `NaN` and stops at 38 digits), `json` is `VARCHAR` (DuckDB's `JSON`
//! refuses lone surrogate escapes that PostgreSQL's `json` keeps), `bit varying` is `VARCHAR`
//! (DuckDB's `BIT` cannot be empty). The one exception: timestamps after
//! `294247-01-10 04:00:54.775806` (the last 30 years of PostgreSQL's range) do not fit DuckDB's
//! 64-bit microsecond count and are refused with an error naming the column — a value no real
//! table holds, against the cost of every timestamp being text. docs/types.md has the full
//! table and the reasons.
//!
//! | PostgreSQL                           | DuckDB                     | how                                 |
//! |--------------------------------------|----------------------------|-------------------------------------|
//! | bool                                 | BOOLEAN                    | cast (`t`/`f`)                      |
//! | int2, int4, int8                     | SMALLINT, INTEGER, BIGINT  | cast                                |
//! | oid, xid, cid / xid8                 | UINTEGER / UBIGINT         | cast                                |
//! | float4, float8                       | FLOAT, DOUBLE              | cast (shortest exact text, NaN, ±Infinity) |
//! | money                                | DECIMAL(19,2)              | `$1,234.50` -> `1234.50`, cast      |
//! | bytea                                | BLOB                       | `unhex` of the `\x` form            |
//! | date, timestamp, timestamptz         | DATE, TIMESTAMP, TIMESTAMPTZ | BC years -> signed astronomical years, cast |
//! | time, timetz                         | TIME, TIMETZ               | cast                                |
//! | interval                             | INTERVAL                   | -> `N months N days N microseconds`, cast |
//! | uuid, jsonb, bit(n)                  | UUID, JSON, BIT            | cast                                |
//! | arrays of any built-in type          | STRUCT(elements T[], lengths INTEGER[], lower_bounds INTEGER[]) | JSON of shape and elements, each element converted as its type |
//! | domains                              | as their base type         | (the catalog resolves the base)     |
//! | everything else                      | VARCHAR                    | the exact text                      |
//!
//! # Arrays
//!
//! A PostgreSQL array column does not fix its number of dimensions or its lower bounds
//! (`'{1,2}'`, `'{{1,2},{3,4}}'` and `'[0:1]={1,2}'` fit the same `int[]` column), while a DuckDB
//! `LIST` column has one nesting depth and no bounds. So an array is a `STRUCT` of three flat
//! lists — its elements in row-major order, typed as the element type maps, the length of each
//! dimension and the lower bound of each — which holds every array exactly; a one-dimensional
//! array's `elements` is the plain list (`tags.elements`).
//!
//! # Expressions
//!
//! [`convert_sql`] references the staged value exactly once (the destination binds it as a `?`
//! parameter in partial updates); an array's conversion binds it once through a one-element
//! list and a lambda.

use std::borrow::Cow;

use siphon_core::pgtext::{self, DateTimeKind, PgDateTime, PgInterval};
use siphon_core::schema::SourceType;

/// How a staged text value of one (non-array) type becomes a destination value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// The text is the value (VARCHAR).
    Verbatim,
    /// `CAST(text AS type)`.
    Cast,
    /// `\x...` hex form to BLOB.
    Bytea,
    /// PostgreSQL interval text, rewritten to `N months N days N microseconds`, then cast.
    Interval,
    /// A date or timestamp: BC years rewritten to signed astronomical years, then cast.
    DateTime(DateTimeKind),
    /// `lc_monetary = C` money text, rewritten to a plain decimal, then cast.
    Money,
}

/// How a staged text value becomes a destination value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// A value of a non-array type.
    Scalar(Scalar),
    /// An array: its text is parsed and rewritten to the JSON of its shape and elements.
    Array(ArrayOf),
}

/// The element type of an array column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayOf {
    /// The DuckDB type of each element.
    pub element_type: &'static str,
    /// How each element's text becomes an element.
    pub element: Scalar,
    /// The element type's array delimiter (`,` for every built-in type but `box`).
    pub delimiter: char,
}

/// The destination type of a column and how values get there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnType {
    pub sql_type: String,
    pub conversion: Conversion,
}

/// The DuckDB type and conversion for a PostgreSQL column type. A domain maps as its base type
/// when the catalog resolved it ([`SourceType::base`]).
pub fn map_type(t: &SourceType) -> ColumnType {
    let oid = t.base.map_or(t.oid, |(base, _)| base);
    if let Some(&(_, element_oid)) = BUILTIN_ARRAYS.iter().find(|(array, _)| *array == oid) {
        let (element_type, element) = map_scalar(element_oid);
        let delimiter = if element_oid == BOX_OID { ';' } else { ',' };
        return ColumnType {
            sql_type: array_struct(element_type),
            conversion: Conversion::Array(ArrayOf { element_type, element, delimiter }),
        };
    }
    let (sql_type, scalar) = map_scalar(oid);
    ColumnType { sql_type: sql_type.to_string(), conversion: Conversion::Scalar(scalar) }
}

/// The type to keep writing an existing destination column with: a column created as
/// `VARCHAR` keeps receiving the exact text even when `mapped` is now a typed column (a domain
/// column pgoutput described before the catalog resolved its base type, or a replica written by
/// an earlier mapping) — DuckDB would otherwise cast the typed value back to *its* text form.
pub fn keep_existing(mapped: ColumnType, existing_sql_type: Option<&str>) -> ColumnType {
    match existing_sql_type {
        Some("VARCHAR") if mapped.sql_type != "VARCHAR" => {
            ColumnType { sql_type: "VARCHAR".into(), conversion: Conversion::Scalar(Scalar::Verbatim) }
        }
        _ => mapped,
    }
}

/// The STRUCT an array of `element_type` is stored as.
fn array_struct(element_type: &str) -> String {
    format!("STRUCT(elements {element_type}[], lengths INTEGER[], lower_bounds INTEGER[])")
}

fn map_scalar(oid: u32) -> (&'static str, Scalar) {
    use Scalar::*;
    match oid {
        16 => ("BOOLEAN", Cast),
        21 => ("SMALLINT", Cast),
        23 => ("INTEGER", Cast),
        20 => ("BIGINT", Cast),
        26 | 28 | 29 => ("UINTEGER", Cast), // oid, xid, cid
        5069 => ("UBIGINT", Cast),          // xid8
        700 => ("FLOAT", Cast),
        701 => ("DOUBLE", Cast),
        790 => ("DECIMAL(19,2)", Money),
        17 => ("BLOB", Bytea),
        1082 => ("DATE", DateTime(DateTimeKind::Date)),
        1114 => ("TIMESTAMP", DateTime(DateTimeKind::Timestamp)),
        1184 => ("TIMESTAMPTZ", DateTime(DateTimeKind::TimestampTz)),
        1083 => ("TIME", Cast),
        1266 => ("TIMETZ", Cast),
        1186 => ("INTERVAL", Interval),
        2950 => ("UUID", Cast),
        3802 => ("JSON", Cast),
        1560 => ("BIT", Cast),
        // numeric, json, varbit, the character types and every other type: the exact text.
        _ => ("VARCHAR", Verbatim),
    }
}

const BOX_OID: u32 = 603;

/// `(array type, element type)` for every built-in array type with a fixed OID (below
/// 10000; `pg_type` rows with `typsubscript = array_subscript_handler`).
const BUILTIN_ARRAYS: &[(u32, u32)] = &[
    (143, 142),
    (199, 114),
    (271, 5069),
    (629, 628),
    (651, 650),
    (719, 718),
    (775, 774),
    (791, 790),
    (1000, 16),
    (1001, 17),
    (1002, 18),
    (1003, 19),
    (1005, 21),
    (1006, 22),
    (1007, 23),
    (1008, 24),
    (1009, 25),
    (1010, 27),
    (1011, 28),
    (1012, 29),
    (1013, 30),
    (1014, 1042),
    (1015, 1043),
    (1016, 20),
    (1017, 600),
    (1018, 601),
    (1019, 602),
    (1020, 603),
    (1021, 700),
    (1022, 701),
    (1027, 604),
    (1028, 26),
    (1034, 1033),
    (1040, 829),
    (1041, 869),
    (1115, 1114),
    (1182, 1082),
    (1183, 1083),
    (1185, 1184),
    (1187, 1186),
    (1231, 1700),
    (1270, 1266),
    (1561, 1560),
    (1563, 1562),
    (2201, 1790),
    (2207, 2202),
    (2208, 2203),
    (2209, 2204),
    (2210, 2205),
    (2211, 2206),
    (2949, 2970),
    (2951, 2950),
    (3221, 3220),
    (3643, 3614),
    (3645, 3615),
    (3735, 3734),
    (3770, 3769),
    (3807, 3802),
    (3905, 3904),
    (3907, 3906),
    (3909, 3908),
    (3911, 3910),
    (3913, 3912),
    (3927, 3926),
    (4073, 4072),
    (4090, 4089),
    (4097, 4096),
    (4192, 4191),
    (5039, 5038),
    (6150, 4451),
    (6151, 4532),
    (6152, 4533),
    (6153, 4534),
    (6155, 4535),
    (6157, 4536),
];

/// DuckDB's finite `TIMESTAMP` / `TIMESTAMPTZ` range in microseconds since 1970
/// (`290309-12-22 BC` to `294247-01-10 04:00:54.775806`; the ends of `i64` are its
/// infinities).
const DUCKDB_TIMESTAMP_MICROS: std::ops::RangeInclusive<i128> = -9_223_372_022_400_000_000..=9_223_372_036_854_775_806;

/// Rewrites a value's text where DuckDB needs another form. The error says what is wrong
/// without repeating the value.
pub fn prepare_text(conversion: Conversion, text: &str) -> Result<Cow<'_, str>, String> {
    match conversion {
        Conversion::Scalar(scalar) => prepare_scalar(scalar, text),
        Conversion::Array(of) => {
            let array = pgtext::parse_array_with_delimiter(text, of.delimiter).map_err(|e| e.to_string())?;
            pgtext::to_struct_json(&array, |element| prepare_scalar(of.element, element))
                .map(Cow::Owned)
                .map_err(|e| format!("an array element: {e}"))
        }
    }
}

fn prepare_scalar(scalar: Scalar, text: &str) -> Result<Cow<'_, str>, String> {
    match scalar {
        Scalar::Verbatim | Scalar::Cast | Scalar::Bytea => Ok(Cow::Borrowed(text)),
        Scalar::Interval => {
            pgtext::parse_interval(text).map(interval_text).map(Cow::Owned).map_err(|e| e.kind.to_string())
        }
        Scalar::DateTime(kind) => datetime_text(text, kind),
        Scalar::Money => pgtext::parse_money(text).map(|m| Cow::Owned(m.to_string())).map_err(|e| e.to_string()),
    }
}

/// `N months N days N microseconds`, which DuckDB reads into the same three fields.
fn interval_text(i: PgInterval) -> String {
    let (months, days) = (i.months, i.days);
    match i.micros {
        // DuckDB's parser cannot read -9223372036854775808 (it negates the digits): split it.
        i64::MIN => format!("{months} months {days} days -9223372036854775807 microseconds -1 microseconds"),
        micros => format!("{months} months {days} days {micros} microseconds"),
    }
}

/// A date or timestamp with a BC year in astronomical form; a timestamp DuckDB cannot hold is
/// an error.
fn datetime_text(text: &str, kind: DateTimeKind) -> Result<Cow<'_, str>, String> {
    let PgDateTime::Finite(value) = pgtext::parse_datetime(text, kind).map_err(|e| e.to_string())? else {
        return Ok(Cow::Borrowed(text)); // infinity, -infinity: DuckDB reads them as they are
    };
    if kind != DateTimeKind::Date {
        // DuckDB checks both the instant and the local fields before applying the offset.
        let local = pgtext::DateTime { offset_seconds: None, ..value };
        if ![value.epoch_micros(), local.epoch_micros()].iter().all(|m| DUCKDB_TIMESTAMP_MICROS.contains(m)) {
            return Err(format!(
                "the {kind} is outside DuckDB's range (290309-12-22 BC to 294247-01-10 04:00:54.775806)"
            ));
        }
    }
    // PostgreSQL's dates all fit DuckDB's (5.8 million years either side of 1970).
    Ok(if value.year >= 1 { Cow::Borrowed(text) } else { Cow::Owned(value.astronomical()) })
}

/// The SQL expression turning staged text column `staged` into the destination type. It
/// references `staged` once.
pub fn convert_sql(ty: &ColumnType, staged: &str) -> String {
    match ty.conversion {
        Conversion::Scalar(scalar) => scalar_sql(scalar, &ty.sql_type, staged),
        Conversion::Array(of) if of.element == Scalar::Verbatim => {
            format!("CAST(CAST({staged} AS JSON) AS {})", ty.sql_type)
        }
        Conversion::Array(of) => {
            let element = scalar_sql(of.element, of.element_type, "__siphon_e");
            format!(
                "list_transform([CAST(CAST({staged} AS JSON) AS {})], lambda __siphon_a: CASE WHEN __siphon_a IS NULL THEN NULL \
                 ELSE struct_pack(elements := list_transform(__siphon_a.elements, lambda __siphon_e: {element}), \
                 lengths := __siphon_a.lengths, lower_bounds := __siphon_a.lower_bounds) END)[1]",
                array_struct("VARCHAR")
            )
        }
    }
}

fn scalar_sql(scalar: Scalar, sql_type: &str, staged: &str) -> String {
    match scalar {
        Scalar::Verbatim => staged.to_string(),
        Scalar::Cast | Scalar::Interval | Scalar::DateTime(_) | Scalar::Money => {
            format!("CAST({staged} AS {sql_type})")
        }
        Scalar::Bytea => format!("unhex(substr({staged}, 3))"),
    }
}

#[cfg(test)]
#[path = "types_tests.rs"]
mod tests;
