//! The PostgreSQL -> DuckDB type map.
//!
//! Rows arrive in PostgreSQL's text form. Each column gets a DuckDB type that keeps its values,
//! and a [`Conversion`]: an optional rewrite of the text in Rust (for forms DuckDB does not
//! parse) followed by an SQL expression that turns the staged VARCHAR into the DuckDB type.
//!
//! | PostgreSQL                         | DuckDB                    | how                          |
//! |------------------------------------|---------------------------|------------------------------|
//! | bool                               | BOOLEAN                   | cast (`t`/`f`)               |
//! | int2, int4, int8                   | SMALLINT, INTEGER, BIGINT | cast                         |
//! | oid                                | UINTEGER                  | cast                         |
//! | float4, float8                     | FLOAT, DOUBLE             | cast (NaN, ±Infinity kept)   |
//! | numeric(p,s), p <= 38              | DECIMAL(p,s)              | cast                         |
//! | numeric without precision, p > 38  | VARCHAR                   | exact text (lossless)        |
//! | text, varchar, char(n), name, "char" | VARCHAR                 | verbatim                     |
//! | bytea                              | BLOB                      | `unhex` of the `\x` form     |
//! | date, time, timetz                 | DATE, TIME, TIMETZ        | cast                         |
//! | timestamp, timestamptz             | TIMESTAMP, TIMESTAMPTZ    | cast (sessions run in UTC)   |
//! | interval                           | INTERVAL                  | months/days/µs rewrite, cast |
//! | uuid                               | UUID                      | cast                         |
//! | json, jsonb                        | JSON                      | cast                         |
//! | one-dimensional arrays of the above| LIST of the element type  | rewrite to JSON, cast        |
//! | anything else                      | VARCHAR                   | exact text (lossless)        |

use siphon_core::pgtext::{self, ElementKind};
use siphon_core::schema::SourceType;

/// How a staged text value becomes a destination value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// The text is the value (VARCHAR columns).
    Verbatim,
    /// `CAST(text AS type)`.
    Cast,
    /// `\x...` hex form to BLOB.
    Bytea,
    /// PostgreSQL interval text, rewritten to `N months N days N microseconds`.
    Interval,
    /// PostgreSQL array text, rewritten to a JSON array, then cast to a LIST.
    Array(ElementKind),
}

/// The destination type of a column and how values get there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnType {
    pub sql_type: String,
    pub conversion: Conversion,
}

impl ColumnType {
    fn new(sql_type: impl Into<String>, conversion: Conversion) -> Self {
        ColumnType { sql_type: sql_type.into(), conversion }
    }
}

/// The DuckDB type and conversion for a PostgreSQL column type.
pub fn map_type(t: &SourceType) -> ColumnType {
    if let Some((elem_oid, kind)) = array_element(t.oid) {
        let elem = SourceType { oid: elem_oid, modifier: t.modifier, name: String::new() };
        let inner = map_scalar(&elem);
        return match inner.conversion {
            Conversion::Cast | Conversion::Verbatim => {
                ColumnType::new(format!("{}[]", inner.sql_type), Conversion::Array(kind))
            }
            _ => ColumnType::new("VARCHAR", Conversion::Verbatim),
        };
    }
    map_scalar(t)
}

fn map_scalar(t: &SourceType) -> ColumnType {
    use Conversion::*;
    let cast = |ty: &str| ColumnType::new(ty, Cast);
    match t.oid {
        16 => cast("BOOLEAN"),
        21 => cast("SMALLINT"),
        23 => cast("INTEGER"),
        20 => cast("BIGINT"),
        26 => cast("UINTEGER"),
        700 => cast("FLOAT"),
        701 => cast("DOUBLE"),
        1700 => match numeric_precision(t.modifier) {
            Some((p, s)) if p <= 38 => cast(&format!("DECIMAL({p},{s})")),
            _ => ColumnType::new("VARCHAR", Verbatim),
        },
        17 => ColumnType::new("BLOB", Bytea),
        1082 => cast("DATE"),
        1083 => cast("TIME"),
        1266 => cast("TIMETZ"),
        1114 => cast("TIMESTAMP"),
        1184 => cast("TIMESTAMPTZ"),
        1186 => ColumnType::new("INTERVAL", Interval),
        2950 => cast("UUID"),
        114 | 3802 => cast("JSON"),
        _ => ColumnType::new("VARCHAR", Verbatim),
    }
}

/// `numeric(p,s)` from its type modifier (`((p << 16) | s) + 4`); `None` without one.
fn numeric_precision(typmod: i32) -> Option<(i32, i32)> {
    if typmod < 4 {
        return None;
    }
    let m = typmod - 4;
    let (p, s) = ((m >> 16) & 0xFFFF, m & 0xFFFF);
    // PostgreSQL 15 allows a negative scale or one above the precision; DuckDB does not.
    (s <= p && s < 0x8000).then_some((p, s))
}

/// Element type OID and JSON rendering of the built-in array types we map to lists.
fn array_element(oid: u32) -> Option<(u32, ElementKind)> {
    use ElementKind::*;
    Some(match oid {
        1000 => (16, Bool),
        1005 => (21, Number),
        1007 => (23, Number),
        1016 => (20, Number),
        1028 => (26, Number),
        1021 => (700, Number),
        1022 => (701, Number),
        1231 => (1700, Number),
        1009 => (25, String),
        1015 => (1043, String),
        1014 => (1042, String),
        1182 => (1082, String),
        1183 => (1083, String),
        1270 => (1266, String),
        1115 => (1114, String),
        1185 => (1184, String),
        2951 => (2950, String),
        199 => (114, Json),
        3807 => (3802, Json),
        _ => return None,
    })
}

/// Rewrites a value's text where DuckDB needs another form.
pub fn prepare_text<'a>(conversion: Conversion, text: &'a str) -> Result<std::borrow::Cow<'a, str>, String> {
    use std::borrow::Cow;
    match conversion {
        Conversion::Verbatim | Conversion::Cast | Conversion::Bytea => Ok(Cow::Borrowed(text)),
        Conversion::Interval => {
            let i = pgtext::parse_interval(text).map_err(|e| e.to_string())?;
            Ok(Cow::Owned(format!("{} months {} days {} microseconds", i.months, i.days, i.micros)))
        }
        Conversion::Array(kind) => {
            let arr = pgtext::parse_array(text).map_err(|e| e.to_string())?;
            if arr.dims.len() > 1 {
                return Err(format!(
                    "{}-dimensional array: only one-dimensional arrays map to DuckDB lists",
                    arr.dims.len()
                ));
            }
            Ok(Cow::Owned(pgtext::to_json(&arr, kind)))
        }
    }
}

/// The SQL expression turning staged text column `staged` into the destination type.
pub fn convert_sql(ty: &ColumnType, staged: &str) -> String {
    match ty.conversion {
        Conversion::Verbatim => staged.to_string(),
        Conversion::Cast | Conversion::Interval => format!("CAST({staged} AS {})", ty.sql_type),
        Conversion::Bytea => format!("unhex(substr({staged}, 3))"),
        Conversion::Array(_) => format!("CAST(CAST({staged} AS JSON) AS {})", ty.sql_type),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(oid: u32, modifier: i32) -> SourceType {
        SourceType { oid, modifier, name: String::new() }
    }

    #[test]
    fn numeric_precision_decides_decimal_or_text() {
        let typmod = |p: i32, s: i32| ((p << 16) | s) + 4;
        assert_eq!(map_type(&st(1700, typmod(12, 2))).sql_type, "DECIMAL(12,2)");
        assert_eq!(map_type(&st(1700, typmod(38, 0))).sql_type, "DECIMAL(38,0)");
        assert_eq!(map_type(&st(1700, typmod(39, 2))).sql_type, "VARCHAR");
        assert_eq!(map_type(&st(1700, -1)).sql_type, "VARCHAR");
    }

    #[test]
    fn arrays_map_to_lists_of_their_element() {
        assert_eq!(map_type(&st(1007, -1)), ColumnType::new("INTEGER[]", Conversion::Array(ElementKind::Number)));
        assert_eq!(map_type(&st(1009, -1)).sql_type, "VARCHAR[]");
        assert_eq!(map_type(&st(3807, -1)).sql_type, "JSON[]");
        // bytea[] and interval[] have no list mapping yet: kept as exact text.
        assert_eq!(map_type(&st(1001, -1)).sql_type, "VARCHAR");
    }

    #[test]
    fn unknown_types_keep_their_text() {
        assert_eq!(map_type(&st(869, -1)), ColumnType::new("VARCHAR", Conversion::Verbatim));
    }

    #[test]
    fn interval_text_is_rewritten() {
        assert_eq!(
            prepare_text(Conversion::Interval, "1 year 2 mons -3 days +04:05:06.5").unwrap(),
            "14 months -3 days 14706500000 microseconds"
        );
    }

    #[test]
    fn multi_dimensional_arrays_are_refused_with_a_reason() {
        let e = prepare_text(Conversion::Array(ElementKind::Number), "{{1,2},{3,4}}").unwrap_err();
        assert!(e.contains("2-dimensional"), "{e}");
    }
}
