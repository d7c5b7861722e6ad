//! MySQL/MariaDB source.

pub mod connect;
pub mod gtid;
pub mod position;

pub use connect::MySqlConnector;
