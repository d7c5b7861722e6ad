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
//! A column the replication stream reports mid-stream (added at the source, or changed type)
//! comes with its type's OID and modifier but no name (pgoutput's Relation message carries none).
//! For a built-in type that is enough: OIDs below 10000 are assigned in PostgreSQL's catalog
//! sources and are the same on every server and version, so the destination names the type
//! itself (`format_type(oid, modifier)`). A user-defined type's OID means nothing elsewhere.
//!
//! Two kinds of columns are stored as `text` (`text[]` for an array) instead, holding the
//! source's exact text:
//!
//! - a type the destination does not have: an enum, domain, composite or extension type that was
//!   not created in the destination database (or, mid-stream, any user-defined type), or a
//!   built-in type of a newer major version. Whether a type exists is asked of the destination
//!   (`to_regtype`) when siphon creates the column; create the type at the destination beforehand
//!   to get it instead of `text`;
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

/// OIDs below this are assigned in PostgreSQL's catalog sources: the same everywhere.
const FIRST_INITDB_OID: u32 = 10_000;

/// How the destination finds a column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// By the source's `format_type` text (`to_regtype`).
    Name(&'a str),
    /// A built-in type known by OID and modifier only (`format_type(oid, modifier)`).
    BuiltIn { oid: u32, modifier: i32 },
    /// Nothing to look up: stored as text.
    Nothing,
}

pub fn lookup(source: &SourceType) -> Lookup<'_> {
    match source.name.as_str() {
        "" if source.oid != 0 && source.oid < FIRST_INITDB_OID => {
            Lookup::BuiltIn { oid: source.oid, modifier: source.modifier }
        }
        "" => Lookup::Nothing,
        name => Lookup::Name(name),
    }
}

/// The type to create the column with, given the destination's name for the type (`None` when
/// the destination does not have it): that name, unless it is an OID alias; else `text` or
/// `text[]`.
pub fn column_type(source: &SourceType, found: Option<&str>) -> String {
    let is_alias = |name: &str| OID_ALIASES.contains(&name.trim_end_matches("[]"));
    match found {
        Some(name) if !is_alias(name) => name.to_string(),
        _ if source.name.ends_with("[]") || found.is_some_and(|n| n.ends_with("[]")) => "text[]".into(),
        _ => "text".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(name: &str) -> SourceType {
        SourceType { oid: 16_500, modifier: -1, name: name.into(), base: None }
    }

    #[test]
    fn a_type_the_destination_has_is_kept_exactly() {
        for name in ["numeric(12,2)", "character varying(40)[]", "timestamp(3) with time zone", "public.mood"] {
            assert_eq!(lookup(&ty(name)), Lookup::Name(name));
            assert_eq!(column_type(&ty(name), Some(name)), name);
        }
    }

    #[test]
    fn a_missing_type_falls_back_to_text_keeping_arrays() {
        assert_eq!(column_type(&ty("mood"), None), "text");
        assert_eq!(column_type(&ty("mood[]"), None), "text[]");
    }

    #[test]
    fn oid_aliases_are_text_even_when_the_destination_has_them() {
        assert_eq!(column_type(&ty("regclass"), Some("regclass")), "text");
        assert_eq!(column_type(&ty("regtype[]"), Some("regtype[]")), "text[]");
        let unnamed = SourceType { oid: 2210, modifier: -1, name: String::new(), base: None };
        assert_eq!(column_type(&unnamed, Some("regclass[]")), "text[]");
    }

    #[test]
    fn unnamed_types_are_looked_up_by_oid_only_when_built_in() {
        let numeric = SourceType { oid: 1700, modifier: 655_367, name: String::new(), base: None };
        assert_eq!(lookup(&numeric), Lookup::BuiltIn { oid: 1700, modifier: 655_367 });
        let user = SourceType { oid: 16_500, modifier: -1, name: String::new(), base: None };
        assert_eq!(lookup(&user), Lookup::Nothing);
        assert_eq!(column_type(&user, None), "text");
    }
}
