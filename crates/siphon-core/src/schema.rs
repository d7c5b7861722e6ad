//! Table names and schemas.

use std::fmt;

/// A schema-qualified table name, e.g. `public.orders`. A destination keeps both parts: the
/// source table `public.orders` becomes the destination table `orders` in schema `public`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName {
    pub schema: String,
    pub name: String,
}

impl TableName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        TableName { schema: schema.into(), name: name.into() }
    }

    /// Parses `schema.table` (or `table`, meaning `public.table`). Parts are taken verbatim
    /// (case-sensitive, as stored in the catalog); a name containing a dot is not supported.
    pub fn parse(s: &str) -> Result<Self, TableNameError> {
        let parts: Vec<&str> = s.split('.').collect();
        match parts.as_slice() {
            [name] if !name.is_empty() => Ok(TableName::new("public", *name)),
            [schema, name] if !schema.is_empty() && !name.is_empty() => Ok(TableName::new(*schema, *name)),
            _ => Err(TableNameError(s.to_string())),
        }
    }

    /// The name as a quoted SQL identifier pair: `"public"."orders"`.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// A table name that is not `schema.table`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid table name {0:?}: expected \"schema.table\" (or \"table\" for schema public)")]
pub struct TableNameError(pub String);

/// Quotes an SQL identifier (doubling embedded quotes). Valid for PostgreSQL and DuckDB.
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Quotes an SQL string literal (doubling embedded single quotes).
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The source's description of a column's type, in PostgreSQL's type vocabulary.
///
/// Every source speaks it: a PostgreSQL source reports its catalog as is; another source maps
/// each of its types to the PostgreSQL type that holds every value of it (MySQL `INT UNSIGNED`
/// is `bigint`, `DATETIME(6)` is `timestamp(6) without time zone`, ...) and delivers values in
/// that type's PostgreSQL text form. Destinations then need one type map, not one per source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceType {
    /// PostgreSQL type OID (`pg_type.oid`).
    pub oid: u32,
    /// Type modifier (`atttypmod`), -1 when none: carries numeric precision/scale,
    /// varchar length, timestamp precision.
    pub modifier: i32,
    /// The type as `format_type(oid, typmod)` prints it, e.g. `numeric(12,2)`, `text[]`.
    pub name: String,
    /// For a domain (followed through domains over domains), or an array of a domain: the
    /// built-in type its values are stored and printed as, `(oid, modifier)`, which the catalog
    /// resolves. `None` for every other type, and for columns only pgoutput has described (it
    /// reports the domain's own OID).
    pub base: Option<(u32, i32)>,
}

/// One column of a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub source_type: SourceType,
    /// Part of the key that identifies a row (primary key, or replica identity).
    pub is_key: bool,
    pub nullable: bool,
}

/// A table's columns in source order, with the key columns marked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSchema {
    pub name: TableName,
    pub columns: Vec<Column>,
}

impl TableSchema {
    /// Positions of the key columns, in column order.
    pub fn key_indices(&self) -> Vec<usize> {
        (0..self.columns.len()).filter(|&i| self.columns[i].is_key).collect()
    }

    pub fn has_key(&self) -> bool {
        self.columns.iter().any(|c| c.is_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qualified_and_bare_names() {
        assert_eq!(TableName::parse("public.orders"), Ok(TableName::new("public", "orders")));
        assert_eq!(TableName::parse("orders"), Ok(TableName::new("public", "orders")));
        assert!(TableName::parse("a.b.c").is_err());
        assert!(TableName::parse(".x").is_err());
        assert!(TableName::parse("").is_err());
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(TableName::new("my\"s", "t").quoted(), "\"my\"\"s\".\"t\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
