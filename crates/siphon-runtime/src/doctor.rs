//! `siphon doctor`: connects to the source and runs every check of its kind.

use siphon_core::config::{Config, SourceKind};
use siphon_core::doctor::Finding;
use siphon_core::Error;
use siphon_postgres::doctor::{check, DoctorInput};
use siphon_postgres::PgConnector;

pub async fn run(config: &Config) -> Result<Vec<Finding>, Error> {
    let tables = config.tables();
    match config.source.kind {
        SourceKind::Postgres => {
            let connector = PgConnector::new(&config.source.url, &format!("siphon-{}-doctor", config.pipeline.name))?;
            let client = connector.sql().await?;
            let input = DoctorInput {
                slot: &config.source.slot,
                publication: &config.source.publication,
                tables: tables.as_deref(),
            };
            check(&client, &input).await
        }
        SourceKind::Mysql => {
            let connector = siphon_mysql::MySqlConnector::new(config.source.url.expose(), config.server_id())?;
            let mut conn = connector.conn().await?;
            siphon_mysql::doctor::check(&mut conn, tables.as_deref()).await
        }
    }
}
