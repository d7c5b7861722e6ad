//! Reading tables chunk by chunk in key order, all at one snapshot (for `siphon verify`).
//!
//! A [`SnapshotReader`] holds one `REPEATABLE READ READ ONLY` transaction, so every chunk of every
//! table is read as of the same instant, and says which WAL position that instant is at most.
//! Chunks are keyset-paginated on the table's key (its replica identity):
//!
//! ```text
//!   COPY (SELECT cols FROM ONLY t WHERE (k1, k2) > (last1, last2) ORDER BY k1, k2 LIMIT n) TO STDOUT
//! ```
//!
//! which walks the key's index and never skips or repeats a row, however the table is laid out.
//! Rows arrive in COPY text form, the form the pipeline carries, so a destination converts them
//! exactly as it converts replicated rows.
//!
//! A reader of chunks must be able to say which *destination* rows fall in the same key range,
//! so both sides must order keys alike. [`KeyOrder`] is how a key column is ordered here: by its
//! type's own order, or bytewise (`COLLATE "C"`, for text keys: a destination compares strings
//! by their bytes, whatever collation the source column has). Bytewise order cannot use an index
//! in another collation, so each chunk of such a table costs a scan; the caller decides.

use futures_util::StreamExt;
use siphon_core::row::{Datum, Row};
use siphon_core::schema::{quote_ident, quote_literal, TableSchema};
use siphon_core::{Error, Lsn};
use tokio_postgres::Client;

use crate::connect::{classify, PgConnector};
use crate::protocol::copy_text::CopyTextDecoder;

/// How a key column is ordered by keyset pagination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrder {
    /// The type's own order (integers, numerics, dates, timestamps, uuids, booleans).
    Native,
    /// Bytewise order of the text (`COLLATE "C"`).
    Bytewise,
}

/// One read-only transaction on the source, at one snapshot.
pub struct SnapshotReader {
    client: Client,
}

impl SnapshotReader {
    /// Opens a `REPEATABLE READ READ ONLY` transaction and takes its snapshot; returns the WAL
    /// insert position read right after: every transaction the snapshot sees committed before it.
    pub async fn begin(connector: &PgConnector) -> Result<(SnapshotReader, Lsn), Error> {
        let client = connector.sql().await?;
        let what = "could not open a snapshot on the source";
        client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(|e| classify(e, what))?;
        let position: String = client
            .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
            .await
            .map_err(|e| classify(e, what))?
            .get(0);
        let position = position.parse().map_err(|_| Error::fatal(what).with_detail("invalid WAL position"))?;
        Ok((SnapshotReader { client }, position))
    }

    /// Up to `limit` rows of `schema`'s table in key order, after the key `after` (the key
    /// columns' texts, in key order; `None` for the first chunk).
    pub async fn chunk(
        &self,
        schema: &TableSchema,
        order: &[KeyOrder],
        after: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<Row>, Error> {
        let keys = schema.key_indices();
        let ordered: Vec<String> = keys
            .iter()
            .zip(order)
            .map(|(&i, o)| match o {
                KeyOrder::Native => quote_ident(&schema.columns[i].name),
                KeyOrder::Bytewise => format!("{} COLLATE \"C\"", quote_ident(&schema.columns[i].name)),
            })
            .collect();
        let filter = match after {
            Some(last) => format!("WHERE ({}) > ({})", ordered.join(", "), key_literals(schema, last).join(", ")),
            None => String::new(),
        };
        let sql = format!(
            "COPY (SELECT {} FROM ONLY {} {filter} ORDER BY {} LIMIT {limit}) TO STDOUT",
            column_list(schema),
            schema.name.quoted(),
            ordered.join(", ")
        );
        let mut rows = Vec::new();
        self.copy(&sql, schema, |r| {
            rows.extend(r);
            Ok(())
        })
        .await?;
        Ok(rows)
    }

    /// Every row of the table in no particular order, handed over `batch_rows` at a time.
    pub async fn whole_table(
        &self,
        schema: &TableSchema,
        batch_rows: usize,
        mut on_rows: impl FnMut(Vec<Row>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let sql = format!("COPY (SELECT {} FROM ONLY {}) TO STDOUT", column_list(schema), schema.name.quoted());
        let mut pending = Vec::new();
        self.copy(&sql, schema, |rows| {
            pending.extend(rows);
            if pending.len() >= batch_rows {
                on_rows(std::mem::take(&mut pending))?;
            }
            Ok(())
        })
        .await?;
        on_rows(pending)
    }

    /// The rows with these keys (each the key columns' texts, in key order); absent keys have
    /// no row.
    pub async fn rows_by_key(&self, schema: &TableSchema, keys: &[Vec<String>]) -> Result<Vec<Row>, Error> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let key_cols: Vec<String> =
            schema.key_indices().iter().map(|&i| quote_ident(&schema.columns[i].name)).collect();
        let tuples: Vec<String> = keys.iter().map(|k| format!("({})", key_literals(schema, k).join(", "))).collect();
        let sql = format!(
            "COPY (SELECT {} FROM ONLY {} WHERE ({}) IN ({})) TO STDOUT",
            column_list(schema),
            schema.name.quoted(),
            key_cols.join(", "),
            tuples.join(", ")
        );
        let mut rows = Vec::new();
        self.copy(&sql, schema, |r| {
            rows.extend(r);
            Ok(())
        })
        .await?;
        Ok(rows)
    }

    /// Ends the transaction.
    pub async fn finish(self) -> Result<(), Error> {
        self.client.batch_execute("COMMIT").await.map_err(|e| classify(e, "could not end the source transaction"))
    }

    /// Runs a `COPY ... TO STDOUT` and decodes its rows, handing them over as they arrive.
    async fn copy(
        &self,
        sql: &str,
        schema: &TableSchema,
        mut on_rows: impl FnMut(Vec<Row>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let what = format!("could not read table {}", schema.name);
        let stream = self.client.copy_out(sql).await.map_err(|e| classify(e, &what))?;
        futures_util::pin_mut!(stream);
        let mut decoder = CopyTextDecoder::new(schema.columns.len());
        let mut decoded = Vec::new();
        let decode_error =
            |e: crate::protocol::copy_text::CopyDecodeError| Error::fatal(what.clone()).with_detail(e.to_string());
        while let Some(data) = stream.next().await {
            let data = data.map_err(|e| classify(e, &what))?;
            decoder.push(&data, &mut decoded).map_err(decode_error)?;
            on_rows(decoded.drain(..).map(|fields| fields.into_iter().map(Datum::from).collect()).collect())?;
        }
        decoder.finish().map_err(decode_error)
    }
}

fn column_list(schema: &TableSchema) -> String {
    schema.columns.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ")
}

/// `CAST('text' AS type)` for each key column's value.
fn key_literals(schema: &TableSchema, key: &[String]) -> Vec<String> {
    schema
        .key_indices()
        .iter()
        .zip(key)
        .map(|(&i, text)| format!("CAST({} AS {})", quote_literal(text), schema.columns[i].source_type.name))
        .collect()
}
