//! Metrics: names, units and help texts in one place (documented for operators in
//! docs/metrics.md), recorded with the `metrics` crate and rendered in the Prometheus text format
//! at `GET /metrics` on the control address. Labels never carry secrets or row values.

use std::sync::OnceLock;

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub const PIPELINE_STATE: &str = "siphon_pipeline_state";
pub const PIPELINE_ERRORS: &str = "siphon_pipeline_errors_total";
pub const ROWS_APPLIED: &str = "siphon_destination_rows_applied_total";
pub const FLUSHES: &str = "siphon_destination_flushes_total";
pub const FLUSH_DURATION: &str = "siphon_destination_flush_duration_seconds";
pub const FLUSH_CHANGES: &str = "siphon_destination_flush_changes";
pub const SNAPSHOT_ROWS: &str = "siphon_snapshot_rows_total";
pub const LAG_BYTES: &str = "siphon_replication_lag_bytes";
pub const LAG_SECONDS: &str = "siphon_replication_lag_seconds";
pub const SLOT_RETAINED: &str = "siphon_slot_retained_wal_bytes";
pub const SLOT_SAFE: &str = "siphon_slot_safe_wal_size_bytes";
pub const SLOT_WAL_STATUS: &str = "siphon_slot_wal_status";
pub const SLOT_ACTIVE: &str = "siphon_slot_active";

/// Every pipeline state, for the one-hot state gauge.
pub const STATES: [&str; 7] = ["starting", "snapshotting", "streaming", "paused", "reconnecting", "stopped", "failed"];
pub const WAL_STATUSES: [&str; 4] = ["reserved", "extended", "unreserved", "lost"];

/// Installs the process-wide recorder (once) and returns the handle that renders it.
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0])
                .expect("static buckets")
                .build_recorder();
            let handle = recorder.handle();
            // A second recorder (tests running several pipelines in one process) keeps the first.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    describe_gauge!(PIPELINE_STATE, "1 for the pipeline's current state (label state), 0 for the others");
    describe_counter!(PIPELINE_ERRORS, "errors that ended a session, by class (transient, table, fatal)");
    describe_counter!(
        ROWS_APPLIED,
        "row changes applied to the destination, by table and op (insert, update, delete, truncate)"
    );
    describe_counter!(FLUSHES, "destination commits, by reason (interval, max_rows, max_bytes, caught_up, shutdown)");
    describe_histogram!(FLUSH_DURATION, Unit::Seconds, "time to apply and commit one flush");
    describe_histogram!(FLUSH_CHANGES, "source changes in one flush (before per-key compaction)");
    describe_counter!(SNAPSHOT_ROWS, "rows copied by snapshots, by table");
    describe_gauge!(LAG_BYTES, Unit::Bytes, "server WAL position last seen minus the destination checkpoint");
    describe_gauge!(
        LAG_SECONDS,
        Unit::Seconds,
        "commit time of the last applied source transaction to now, at its flush; 0 when caught up"
    );
    describe_gauge!(
        SLOT_RETAINED,
        Unit::Bytes,
        "WAL the server keeps for the slot (current position minus restart_lsn)"
    );
    describe_gauge!(
        SLOT_SAFE,
        Unit::Bytes,
        "WAL that can still be written before max_slot_wal_keep_size invalidates the slot (-1: unlimited)"
    );
    describe_gauge!(SLOT_WAL_STATUS, "1 for the slot's wal_status (label status), 0 for the others");
    describe_gauge!(SLOT_ACTIVE, "1 while a session holds the slot");
}

/// Sets the one-hot state gauge.
pub fn set_state(pipeline: &str, state: &str) {
    for s in STATES {
        metrics::gauge!(PIPELINE_STATE, "pipeline" => pipeline.to_string(), "state" => s).set(if s == state {
            1.0
        } else {
            0.0
        });
    }
}
