//! The destination type of each source column.
//!
//! The destination is PostgreSQL too, so a column gets the source's own type: the
//! `format_type(atttypid, atttypmod)` text the source catalog reports ([`SourceType::name`]), e.g.
//! `numeric(12,2)`, `character varying(40)[]`, `timestamp(3) with time zone`. A value travels as
//! the text the source's output function printed and is read by the same type's input function at
//! the destination (both sessions run with the same `DateStyle`, `IntervalStyle`, `TimeZone` and
//! `extra_float_digits`, see [`siphon_postgres::connect::SESSION_OPTIONS`]): nothing is converted,
//! so nothing is lost — NaN, infinities, huge numerics, BC dates, arrays of any dimension, ranges,
//! JSON, bytes.
//!
//! Two kinds of columns are stored as `text` (`text[]` for an array) instead, holding the
//! source's exact text:
//!
//! - a type the destination does not have: an enum, domain, composite or extension type that was
//!   not created in the destination database, or a built-in type of a newer major version. Whether
//!   a type exists is asked of the destination (`to_regtype`) when siphon creates the column;
//!   create the type at the destination beforehand to get it instead of `text`;
//! - OID alias types (`regclass`, `regtype`, ...): their values name objects of the *source*
//!   catalog, which the destination's input function would look up in its own.

use siphon_core::schema::SourceType;

/// Types whose values are names of catalog objects, resolved to OIDs on input.
const OID_ALIASES: &[&str] = &[
    "regclass",
    "regcollation",
    "regconfig",
    "regdictionary",
    "regnamespace",
    "regoper",
    "regoperator",
    "regproc",
    "regprocedure",
    "regrole",
    "regtype",
];

/// The type name to look up at the destination, or `None` when the column is stored as text
/// whatever the destination has.
pub fn candidate(source: &SourceType) -> Option<&str> {
    let element = source.name.trim_end_matches("[]");
    (!element.is_empty() && !OID_ALIASES.contains(&element)).then_some(source.name.as_str())
}

/// The type to create the column with: the source's own when the destination has it
/// (`exists_at_destination`, the answer for [`candidate`]), else `text` or `text[]`.
pub fn column_type(source: &SourceType, exists_at_destination: bool) -> String {
    match candidate(source) {
        Some(name) if exists_at_destination => name.to_string(),
        _ if source.name.ends_with("[]") => "text[]".into(),
        _ => "text".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(name: &str) -> SourceType {
        SourceType { oid: 0, modifier: -1, name: name.into() }
    }

    #[test]
    fn a_type_the_destination_has_is_kept_exactly() {
        for name in ["numeric(12,2)", "character varying(40)[]", "timestamp(3) with time zone", "public.mood"] {
            assert_eq!(candidate(&ty(name)), Some(name));
            assert_eq!(column_type(&ty(name), true), name);
        }
    }

    #[test]
    fn a_missing_type_falls_back_to_text_keeping_arrays() {
        assert_eq!(column_type(&ty("mood"), false), "text");
        assert_eq!(column_type(&ty("mood[]"), false), "text[]");
    }

    #[test]
    fn oid_aliases_are_text_even_when_the_destination_has_them() {
        assert_eq!(candidate(&ty("regclass")), None);
        assert_eq!(column_type(&ty("regclass"), true), "text");
        assert_eq!(column_type(&ty("regtype[]"), true), "text[]");
        assert_eq!(column_type(&ty(""), true), "text", "a type without a name");
    }
}
