//! Copying a table's rows as of an exported snapshot, in primary-key chunks.
//!
//! A table is split into chunks by ranges of its key ([`plan_chunks`]); each chunk is read in its
//! own `REPEATABLE READ` transaction that imports an exported snapshot (`SET TRANSACTION
//! SNAPSHOT`), with `COPY (SELECT ... WHERE <key range>) TO STDOUT` in text format: the same text
//! form the stream delivers, so both paths convert values identically. Rows are handed over in
//! pieces as COPY data arrives, so memory stays bounded whatever the chunk size.
//!
//! # Why key ranges (and not `ctid` ranges)
//!
//! Chunks must mean the same rows across a restart: a copy interrupted by a crash resumes at a
//! *new* snapshot (the exported one died with its session), and the chunks already done must
//! still cover exactly their rows. A key identifies a row for its whole life; a `ctid` does not
//! (an UPDATE moves the row, VACUUM FULL or CLUSTER moves every row), so a `ctid` chunk done
//! before the crash could miss rows that moved out of a chunk still to do. Ranges are bounded
//! by the key's own btree order (row comparison `(k1, k2) >= (...)`), the order the planner
//! sampled them in, so the ranges partition the key space whatever the collation.
//!
//! # Planning
//!
//! The boundaries come from a `TABLESAMPLE SYSTEM` sample of the keys, sorted: cheap (a few
//! percent of the pages at most) and good enough to balance chunks. Chunk boundaries do not need
//! to be read at the copy's snapshot: the first range is unbounded below and the last unbounded
//! above, so every key, present or future, falls in exactly one chunk.

use futures_util::StreamExt;
use siphon_core::copy::{ranges_from_sample, AsyncRowSink, KeyRange};
use siphon_core::schema::{quote_ident, quote_literal, TableSchema};
use siphon_core::Error;
use tokio_postgres::Client;

use crate::connect::classify;
use crate::protocol::copy_text::CopyBlockDecoder;

/// Rows sampled per planned chunk to place the boundaries.
const SAMPLES_PER_CHUNK: u64 = 64;

/// The table's estimated row count (`pg_class.reltuples`, or an exact count when the table was
/// never analysed).
pub async fn estimate_rows(client: &Client, schema: &TableSchema) -> Result<u64, Error> {
    let what = format!("could not estimate the size of {}", schema.name);
    let row = client
        .query_one("SELECT reltuples::int8 FROM pg_class WHERE oid = $1::text::regclass", &[&schema.name.quoted()])
        .await
        .map_err(|e| classify(e, &what))?;
    let reltuples: i64 = row.get(0);
    if reltuples >= 0 {
        return Ok(reltuples as u64);
    }
    let row = client
        .query_one(&format!("SELECT count(*) FROM ONLY {}", schema.name.quoted()), &[])
        .await
        .map_err(|e| classify(e, &what))?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Splits the table into key ranges of about `chunk_rows` rows each (`estimated_rows` from
/// [`estimate_rows`]). A table smaller than one chunk is one unbounded range.
pub async fn plan_chunks(
    client: &Client,
    schema: &TableSchema,
    estimated_rows: u64,
    chunk_rows: u64,
) -> Result<Vec<KeyRange>, Error> {
    let wanted = estimated_rows.div_ceil(chunk_rows.max(1));
    if wanted <= 1 {
        return Ok(vec![KeyRange::default()]);
    }
    let keys = key_columns(schema);
    let percent = (100.0 * (wanted * SAMPLES_PER_CHUNK) as f64 / estimated_rows as f64).min(100.0);
    // Ordered by the key columns themselves (qualified: a bare name in ORDER BY would mean the
    // text output column of the same name, and text order is not the key's order).
    let list = keys.iter().map(|k| format!("s.{}", quote_ident(k))).collect::<Vec<_>>().join(", ");
    let texts = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("s.{}::text AS k{i}", quote_ident(k)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {texts} FROM ONLY {} AS s TABLESAMPLE SYSTEM ({percent}) ORDER BY {list}",
        schema.name.quoted()
    );
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|e| classify(e, &format!("could not sample the keys of {}", schema.name)))?;
    let sample: Vec<Vec<String>> = rows
        .iter()
        .map(|r| (0..keys.len()).map(|i| r.get::<_, Option<String>>(i).unwrap_or_default()).collect())
        .collect();
    Ok(ranges_from_sample(&sample, wanted as usize))
}

fn key_columns(schema: &TableSchema) -> Vec<String> {
    schema.columns.iter().filter(|c| c.is_key).map(|c| c.name.clone()).collect()
}

/// The SQL condition selecting `range` of `schema`'s key (`TRUE` for an unbounded range).
pub fn range_condition(schema: &TableSchema, range: &KeyRange) -> String {
    let keys: Vec<_> = schema.columns.iter().filter(|c| c.is_key).collect();
    let columns = format!("({})", keys.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", "));
    let value = |vals: &[String]| {
        let typed: Vec<String> =
            keys.iter().zip(vals).map(|(c, v)| format!("{}::{}", quote_literal(v), c.source_type.name)).collect();
        format!("({})", typed.join(", "))
    };
    let mut conds = Vec::new();
    if let Some(l) = &range.lower {
        conds.push(format!("{columns} >= {}", value(l)));
    }
    if let Some(u) = &range.upper {
        conds.push(format!("{columns} < {}", value(u)));
    }
    if conds.is_empty() {
        "TRUE".into()
    } else {
        conds.join(" AND ")
    }
}

/// Reads the rows of `range` of `schema`'s table at `snapshot` on `client` (a connection of its
/// own, idle), passing rows to `on_rows` in blocks of about `piece_bytes` bytes of COPY data
/// ([`AsyncRowSink::block`]). Returns the number of rows read.
pub async fn copy_chunk(
    client: &Client,
    snapshot: &str,
    schema: &TableSchema,
    range: &KeyRange,
    piece_bytes: usize,
    mut on_rows: impl AsyncRowSink,
) -> Result<u64, Error> {
    let what = format!("could not copy table {}", schema.name);
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}",
            quote_literal(snapshot)
        ))
        .await
        .map_err(|e| classify(e, &what))?;
    let cols: Vec<String> = schema.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let sql = format!(
        "COPY (SELECT {} FROM ONLY {} WHERE {}) TO STDOUT",
        cols.join(", "),
        schema.name.quoted(),
        range_condition(schema, range)
    );
    let stream = client.copy_out(sql.as_str()).await.map_err(|e| classify(e, &what))?;
    futures_util::pin_mut!(stream);
    let mut decoder = CopyBlockDecoder::new(schema.columns.len());
    let invalid = |e: crate::protocol::CopyDecodeError| Error::fatal(what.clone()).with_detail(e.to_string());
    let (mut pending_bytes, mut total) = (0usize, 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| classify(e, &what))?;
        pending_bytes += chunk.len();
        decoder.push(&chunk).map_err(invalid)?;
        if pending_bytes >= piece_bytes {
            let block = decoder.take().map_err(invalid)?;
            total += block.len() as u64;
            on_rows.block(block).await?;
            pending_bytes = 0;
        }
    }
    decoder.finish().map_err(invalid)?;
    let block = decoder.take().map_err(invalid)?;
    total += block.len() as u64;
    if !block.is_empty() {
        on_rows.block(block).await?;
    }
    client.batch_execute("COMMIT").await.map_err(|e| classify(e, &what))?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use siphon_core::schema::{Column, SourceType, TableName};

    #[test]
    fn range_condition_uses_row_comparison_with_typed_literals() {
        let col = |n: &str, t: &str, key: bool| Column {
            name: n.into(),
            source_type: SourceType { oid: 0, modifier: -1, name: t.into(), base: None },
            is_key: key,
            nullable: false,
        };
        let schema = TableSchema {
            name: TableName::new("app", "t"),
            columns: vec![col("a", "integer", true), col("v", "text", false), col("b", "text", true)],
        };
        let r = KeyRange { lower: Some(vec!["1".into(), "x'y".into()]), upper: None };
        assert_eq!(range_condition(&schema, &r), r#"("a", "b") >= ('1'::integer, 'x''y'::text)"#);
        assert_eq!(range_condition(&schema, &KeyRange::default()), "TRUE");
    }
}
