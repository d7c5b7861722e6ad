//! MySQL/MariaDB source.

pub mod catalog;
pub mod connect;
pub mod decoder;
pub mod events;
pub mod gtid;
pub mod position;
pub mod snapshot;
pub mod stream;
pub mod tablemap;
pub mod text;
pub mod types;

pub use connect::MySqlConnector;
pub use stream::{BinlogStream, StartAt};
