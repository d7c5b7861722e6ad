//! `siphon doctor`: connects to the source and runs every check of its kind.

use siphon_core::config::Config;
use siphon_core::doctor::Finding;
use siphon_core::Error;
use siphon_postgres::doctor::{check, DoctorInput};
use siphon_postgres::PgConnector;

pub async fn run(config: &Config) -> Result<Vec<Finding>, Error> {
    crate::source::require_postgres(config, "siphon doctor")?;
    let connector = PgConnector::new(&config.source.url, &format!("siphon-{}-doctor", config.pipeline.name))?;
    let client = connector.sql().await?;
    let tables = config.tables();
    let input =
        DoctorInput { slot: &config.source.slot, publication: &config.source.publication, tables: tables.as_deref() };
    check(&client, &input).await
}
