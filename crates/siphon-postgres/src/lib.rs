
pub mod protocol;
