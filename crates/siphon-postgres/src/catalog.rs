//! What the source catalog says: the publication's tables, their columns and their keys.
//!
//! The key of a table — what identifies a row at the destination — is its replica identity,
//! because that is what PostgreSQL sends in the old-row image of an UPDATE or DELETE:
//!
//! | `relreplident`       | key                                        |
//! |----------------------|--------------------------------------------|
//! | `d` (default)        | the primary key; refused if there is none  |
//! | `i` (using index)    | the columns of that unique index           |
//! | `f` (full)           | the primary key; refused if there is none  |
//! | `n` (nothing)        | refused: updates and deletes carry no key  |
//!
//! Generated columns are not published by pgoutput and are left out of snapshots too. A
//! domain column carries its base type ([`SourceType::base`]), so destinations store its values
//! as the base type's.

use std::sync::Arc;

use siphon_core::schema::{quote_ident, Column, SourceType, TableName, TableSchema};
use siphon_core::Error;
use tokio_postgres::Client;

use crate::connect::classify;

/// The tables to replicate: the configured ones (creating the publication for them if it is
/// missing, adding them to it if it lacks some), or every table of the publication.
pub async fn publication_tables(
    client: &Client,
    publication: &str,
    configured: Option<&[TableName]>,
) -> Result<Vec<TableName>, Error> {
    let exists = client
        .query_opt("SELECT 1 FROM pg_publication WHERE pubname = $1", &[&publication])
        .await
        .map_err(|e| classify(e, "could not read pg_publication"))?
        .is_some();
    if !exists {
        let Some(tables) = configured else {
            return Err(Error::fatal(format!("publication \"{publication}\" does not exist")).with_hint(format!(
                "list the tables in source.tables so siphon creates it, or run: CREATE PUBLICATION {} FOR ALL TABLES",
                quote_ident(publication)
            )));
        };
        let list: Vec<String> = tables.iter().map(TableName::quoted).collect();
        let sql = format!("CREATE PUBLICATION {} FOR TABLE {}", quote_ident(publication), list.join(", "));
        client.batch_execute(&sql).await.map_err(|e| {
            classify(e, &format!("could not create publication \"{publication}\"")).with_hint(
                "the role needs CREATE on the database and ownership of the tables; or create the publication yourself",
            )
        })?;
        tracing::info!(publication, tables = %list.join(", "), "created publication");
    }
    let rows = client
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2",
            &[&publication],
        )
        .await
        .map_err(|e| classify(e, "could not read pg_publication_tables"))?;
    let published: Vec<TableName> =
        rows.iter().map(|r| TableName::new(r.get::<_, String>(0), r.get::<_, String>(1))).collect();
    let Some(tables) = configured else {
        if published.is_empty() {
            return Err(Error::fatal(format!("publication \"{publication}\" has no tables"))
                .with_hint("add tables to it (ALTER PUBLICATION ... ADD TABLE ...) or list them in source.tables"));
        }
        return Ok(published);
    };
    let missing: Vec<String> = tables.iter().filter(|t| !published.contains(t)).map(|t| t.to_string()).collect();
    if !missing.is_empty() {
        // Tables added to source.tables later: the publication gains them (the pipeline then
        // copies them while the others stream).
        let quoted: Vec<String> = tables.iter().filter(|t| !published.contains(t)).map(TableName::quoted).collect();
        let sql = format!("ALTER PUBLICATION {} ADD TABLE {}", quote_ident(publication), quoted.join(", "));
        client.batch_execute(&sql).await.map_err(|e| {
            classify(
                e,
                &format!(
                    "publication \"{publication}\" does not cover every table of source.tables, and adding them failed"
                ),
            )
            .with_hint(format!("run as the publication's owner: {sql}"))
        })?;
        tracing::info!(publication, tables = %missing.join(", "), "added tables to the publication");
    }
    Ok(tables.to_vec())
}

/// The schema of `table` with its key columns marked.
pub async fn table_schema(client: &Client, table: &TableName) -> Result<Arc<TableSchema>, Error> {
    let rel = client
        .query_opt(
            "SELECT c.oid, c.relreplident::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
            &[&table.schema, &table.name],
        )
        .await
        .map_err(|e| classify(e, "could not read pg_class"))?
        .ok_or_else(|| {
            Error::fatal(format!("table {table} does not exist in the source database"))
                .with_hint("check source.tables (names are case-sensitive: schema.table)")
        })?;
    let oid: u32 = rel.get(0);
    let identity: String = rel.get(1);
    let rows = client
        .query(
            "SELECT a.attname::text, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
                    a.attnum = ANY(COALESCE((SELECT i.indkey::int2[] FROM pg_index i WHERE i.indrelid = a.attrelid
                        AND CASE WHEN $2 = 'i' THEN i.indisreplident ELSE i.indisprimary END LIMIT 1), '{}'::int2[])),
                    base.oid, base.typmod
             FROM pg_attribute a
             LEFT JOIN LATERAL (
                 -- A domain's base type (through domains over domains), or for an array of a domain
                 -- the array of its base type; no row for other types.
                 WITH RECURSIVE chain(oid, typmod, depth) AS (
                     SELECT CASE WHEN t.typtype = 'd' THEN t.oid ELSE e.oid END, a.atttypmod, 0
                     FROM pg_type t LEFT JOIN pg_type e ON e.oid = t.typelem AND e.typtype = 'd'
                     WHERE t.oid = a.atttypid
                   UNION ALL
                     SELECT t.typbasetype, t.typtypmod, c.depth + 1
                     FROM chain c JOIN pg_type t ON t.oid = c.oid AND t.typtype = 'd'
                 )
                 SELECT CASE WHEN (SELECT typtype FROM pg_type WHERE oid = a.atttypid) = 'd' THEN c.oid
                             ELSE (SELECT typarray FROM pg_type WHERE oid = c.oid) END AS oid, c.typmod
                 FROM chain c WHERE c.depth > 0 ORDER BY c.depth DESC LIMIT 1
             ) base ON true
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
             ORDER BY a.attnum",
            &[&oid, &identity],
        )
        .await
        .map_err(|e| classify(e, "could not read pg_attribute"))?;
    let columns: Vec<Column> = rows
        .iter()
        .map(|r| Column {
            name: r.get(0),
            source_type: SourceType {
                oid: r.get(1),
                modifier: r.get(2),
                name: r.get(3),
                base: r.get::<_, Option<u32>>(6).map(|oid| (oid, r.get(7))),
            },
            nullable: r.get(4),
            is_key: r.get(5),
        })
        .collect();
    let schema = TableSchema { name: table.clone(), columns };
    check_key(&schema, &identity)?;
    Ok(Arc::new(schema))
}

fn check_key(schema: &TableSchema, identity: &str) -> Result<(), Error> {
    if identity == "n" {
        return Err(Error::fatal(format!("table {} has REPLICA IDENTITY NOTHING", schema.name))
            .with_detail("its updates and deletes carry no key, so they cannot be replicated")
            .with_hint(format!(
                "run: ALTER TABLE {} REPLICA IDENTITY DEFAULT (with a primary key)",
                schema.name.quoted()
            )));
    }
    if !schema.has_key() {
        return Err(Error::fatal(format!("table {} has no primary key", schema.name))
            .with_detail("siphon applies updates and deletes by key; without one a row cannot be identified")
            .with_hint(format!(
                "add a primary key (ALTER TABLE {} ADD PRIMARY KEY (...)), or a unique index on NOT NULL columns with ALTER TABLE ... REPLICA IDENTITY USING INDEX ...; or remove the table from source.tables",
                schema.name.quoted()
            )));
    }
    Ok(())
}

/// The columns of `table` that have a default (an `ADD COLUMN ... DEFAULT` gives existing rows a
/// value that no change carries).
pub async fn columns_with_defaults(client: &Client, table: &TableName) -> Result<Vec<String>, Error> {
    let rows = client
        .query(
            "SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped
               AND (a.atthasdef OR a.atthasmissing)",
            &[&table.quoted()],
        )
        .await
        .map_err(|e| classify(e, "could not read pg_attribute"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The server's current WAL position.
pub async fn current_wal_lsn(client: &Client) -> Result<siphon_core::Lsn, Error> {
    let row = client
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .map_err(|e| classify(e, "could not read pg_current_wal_lsn()"))?;
    row.get::<_, String>(0)
        .parse()
        .map_err(|e: siphon_core::position::LsnParseError| Error::fatal("bad WAL position").with_detail(e.to_string()))
}

/// The table's current columns with their `attnum`: a column keeps its number when renamed, and
/// a column added later gets a new one, so the numbers tell a rename from a drop and an add.
pub async fn column_numbers(
    client: &Client,
    table: &TableName,
) -> Result<std::collections::HashMap<String, i64>, Error> {
    let rows = client
        .query(
            "SELECT attname::text, attnum::int8 FROM pg_attribute
             WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped",
            &[&table.quoted()],
        )
        .await
        .map_err(|e| classify(e, &format!("could not read the columns of {table}")))?;
    Ok(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1))).collect())
}
