//! The pipeline runtime: it owns the order of everything that touches correctness.
//!
//! *Architecture invariant*: only this crate advances a checkpoint. Sources produce events and
//! confirm positions when told; destinations apply and commit when told.

pub mod alerts;
pub mod client;
pub mod control;
pub mod copy;
pub mod dashboard;
pub mod doctor;
pub mod null_destination;
pub mod pipeline;
pub mod slots;
pub mod source;
pub mod state_dir;
pub mod status;
pub mod table_modes;
pub mod telemetry;
pub mod upgrade;
pub mod verify;

pub use pipeline::run;
