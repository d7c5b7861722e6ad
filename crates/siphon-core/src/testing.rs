//! Fixtures for unit tests of this crate and the crates built on it (not for production code).

use std::sync::Arc;

use crate::schema::{Column, SourceType, TableName, TableSchema};

/// `public.t` with integer columns, the first (`id`) its primary key: `int_table(&["v"])` is
/// `t (id integer PRIMARY KEY, v integer)`.
pub fn int_table(others: &[&str]) -> Arc<TableSchema> {
    let col = |name: &str, is_key| Column {
        name: name.into(),
        source_type: SourceType { oid: 23, modifier: -1, name: "integer".into(), base: None },
        is_key,
        nullable: !is_key,
    };
    let mut columns = vec![col("id", true)];
    columns.extend(others.iter().map(|n| col(n, false)));
    Arc::new(TableSchema { name: TableName::new("public", "t"), columns })
}
