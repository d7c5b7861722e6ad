//! Alerts: conditions over the pipeline's health, fired to the log and a webhook when they begin
//! (at most once per cool-down each) and resolved when they end. Every firing and resolution is
//! also an event in `state_dir/events.jsonl`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use siphon_core::config::{AlertFormat, AlertsConfig};

/// What the checks look at (and the control API and the dashboard's history show), updated by
/// the pipeline and the slot watcher.
#[derive(Default, Clone, Debug)]
pub struct Health {
    pub lag_seconds: f64,
    pub lag_bytes: u64,
    pub retained_wal_bytes: i64,
    pub wal_status: Option<String>,
    /// WAL that can still be written before the slot is invalidated; `None` when unlimited.
    pub safe_wal_size_bytes: Option<i64>,
    pub slot_active: bool,
    /// Changes applied by streaming in this process (the dashboard charts its rate).
    pub changes_applied: u64,
    pub failed: Option<String>,
    pub gap: Option<String>,
}

pub type SharedHealth = Arc<Mutex<Health>>;

/// Checks the alerts against the current health, now.
pub fn check_now(alerts: &Mutex<Alerts>, health: &SharedHealth) {
    let snapshot = health.lock().map(|h| h.clone()).unwrap_or_default();
    if let Ok(mut a) = alerts.lock() {
        a.check(&snapshot);
    }
}

/// Evaluates the conditions and remembers which alerts are firing.
pub struct Alerts {
    config: AlertsConfig,
    pipeline: String,
    state_dir: PathBuf,
    firing: HashMap<&'static str, Instant>,
}

impl Alerts {
    pub fn new(config: AlertsConfig, pipeline: String, state_dir: PathBuf) -> Self {
        Alerts { config, pipeline, state_dir, firing: HashMap::new() }
    }

    /// The conditions that hold now: (alert name, message).
    fn conditions(&self, h: &Health) -> Vec<(&'static str, String)> {
        let c = &self.config;
        let mut out = Vec::new();
        if let Some(limit) = c.lag_seconds.filter(|l| h.lag_seconds > *l) {
            out.push(("lag_seconds", format!("replication lag {:.1} s exceeds {limit} s", h.lag_seconds)));
        }
        if let Some(limit) = c.lag_bytes.filter(|l| h.lag_bytes > *l) {
            out.push(("lag_bytes", format!("replication lag {} bytes exceeds {limit} bytes", h.lag_bytes)));
        }
        if let Some(limit) = c.retained_wal_bytes.filter(|l| h.retained_wal_bytes > *l as i64) {
            out.push((
                "retained_wal_bytes",
                format!("the slot retains {} bytes of WAL, more than {limit}", h.retained_wal_bytes),
            ));
        }
        if let Some(status @ ("unreserved" | "lost")) = h.wal_status.as_deref() {
            out.push(("wal_status", format!("the slot's wal_status is {status}: its WAL is (about to be) removed")));
        }
        if let Some(e) = &h.failed {
            out.push(("pipeline_error", format!("the pipeline failed: {e}")));
        }
        if let Some(g) = &h.gap {
            out.push(("gap", format!("the change stream had a gap: {g}")));
        }
        out
    }

    /// Checks once: fires new conditions (past their cool-down), resolves ended ones.
    pub fn check(&mut self, h: &Health) {
        let now = self.conditions(h);
        for (name, message) in &now {
            let due =
                self.firing.get(name).is_none_or(|at| at.elapsed() >= Duration::from_secs(self.config.cooldown_s));
            if !self.firing.contains_key(name) || due {
                self.firing.insert(name, Instant::now());
                self.send("alert.fired", name, message);
            }
        }
        let ended: Vec<&'static str> =
            self.firing.keys().filter(|k| !now.iter().any(|(n, _)| n == *k)).copied().collect();
        for name in ended {
            self.firing.remove(name);
            self.send("alert.resolved", name, "the condition no longer holds");
        }
    }

    fn send(&self, event: &str, alert: &str, message: &str) {
        let body = serde_json::json!({ "event": event, "pipeline": self.pipeline, "alert": alert, "message": message });
        if event == "alert.fired" {
            tracing::warn!(event, alert, message, "alert");
        } else {
            tracing::info!(event, alert, "alert resolved");
        }
        let _ = crate::state_dir::append_event(&self.state_dir, &body);
        let Some(url) = &self.config.webhook_url else { return };
        let payload = match self.config.format {
            AlertFormat::Json => body,
            AlertFormat::Slack => {
                serde_json::json!({ "text": format!("siphon {}: [{event}] {alert}: {message}", self.pipeline) })
            }
        };
        let url = url.expose().to_string();
        // Off the checking task: a slow webhook never delays replication or the next check.
        std::thread::spawn(move || {
            let agent: ureq::Agent =
                ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().into();
            // The error is not logged as is: it could quote the URL, which may hold a token.
            match agent.post(&url).send_json(&payload) {
                Ok(r) if !r.status().is_success() => {
                    tracing::warn!(status = r.status().as_u16(), "the alert webhook refused the alert")
                }
                Ok(_) => {}
                Err(ureq::Error::StatusCode(code)) => {
                    tracing::warn!(status = code, "the alert webhook refused the alert")
                }
                Err(_) => tracing::warn!("could not deliver an alert to the webhook (connection failed or timed out)"),
            }
        });
    }
}
