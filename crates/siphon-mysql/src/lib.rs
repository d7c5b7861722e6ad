//! MySQL/MariaDB source.

pub mod connect;
pub mod gtid;
pub mod position;
pub mod text;
pub mod types;

pub use connect::MySqlConnector;
