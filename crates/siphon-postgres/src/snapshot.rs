//! Copying a table's rows as of an exported snapshot.
//!
//! Each table is read in its own `REPEATABLE READ` transaction that imports the slot's exported
//! snapshot (`SET TRANSACTION SNAPSHOT`), with `COPY (SELECT ...) TO STDOUT` in text format: the
//! same text form the stream delivers, so both paths convert values identically. Rows are handed
//! over in chunks as COPY data arrives, so memory stays bounded by the chunk size whatever the
//! table size.

use futures_util::StreamExt;
use siphon_core::row::{Datum, Row};
use siphon_core::schema::{quote_ident, quote_literal, TableSchema};
use siphon_core::Error;

use crate::connect::{classify, PgConnector};
use crate::protocol::copy_text::CopyTextDecoder;

/// Reads every row of `schema`'s table at `snapshot`, passing rows to `on_rows` in chunks of
/// about `chunk_bytes` bytes of COPY data. Returns the number of rows copied.
pub async fn copy_table(
    connector: &PgConnector,
    snapshot: &str,
    schema: &TableSchema,
    chunk_bytes: usize,
    mut on_rows: impl FnMut(Vec<Row>) -> Result<(), Error>,
) -> Result<u64, Error> {
    let client = connector.sql().await?;
    let what = format!("could not copy table {}", schema.name);
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}",
            quote_literal(snapshot)
        ))
        .await
        .map_err(|e| classify(e, &what))?;
    let cols: Vec<String> = schema.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let sql = format!("COPY (SELECT {} FROM ONLY {}) TO STDOUT", cols.join(", "), schema.name.quoted());
    let stream = client.copy_out(sql.as_str()).await.map_err(|e| classify(e, &what))?;
    futures_util::pin_mut!(stream);
    let mut decoder = CopyTextDecoder::new(schema.columns.len());
    let mut decoded = Vec::new();
    let (mut pending_bytes, mut total) = (0usize, 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| classify(e, &what))?;
        pending_bytes += chunk.len();
        decoder.push(&chunk, &mut decoded).map_err(|e| Error::fatal(what.clone()).with_detail(e.to_string()))?;
        if pending_bytes >= chunk_bytes {
            total += decoded.len() as u64;
            on_rows(decoded.drain(..).map(to_row).collect())?;
            pending_bytes = 0;
        }
    }
    decoder.finish().map_err(|e| Error::fatal(what.clone()).with_detail(e.to_string()))?;
    total += decoded.len() as u64;
    if !decoded.is_empty() {
        on_rows(decoded.into_iter().map(to_row).collect())?;
    }
    client.batch_execute("COMMIT").await.map_err(|e| classify(e, &what))?;
    Ok(total)
}

fn to_row(fields: Vec<Option<String>>) -> Row {
    fields.into_iter().map(Datum::from).collect()
}
