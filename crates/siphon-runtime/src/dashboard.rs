//! The web dashboard: one static page on the control address, and the JSON it reads.
//!
//! ```text
//!  browser                                    daemon (control.listen)
//!  ───────                                    ───────────────────────
//!  GET /, /dashboard/app.{js,css} ──────────► static files compiled into the binary (no token, no data)
//!  every second, Authorization: Bearer ─────► GET /v1/status    status.json + live lag and slot health
//!                                             GET /v1/history   the ring buffer below (?since=)
//!                                             GET /v1/events    the tail of state_dir/events.jsonl
//! ```
//!
//! The page holds no data and no secret: everything it shows comes from the token-protected
//! endpoints. It takes the token from the URL fragment (`/#token=...`, which browsers never send
//! to the server; `siphon dashboard` prints such a URL) or from a form, keeps it in
//! `sessionStorage` and removes it from the address bar. The assets are served with a strict
//! Content-Security-Policy (scripts and styles from the daemon only, requests to the daemon only),
//! and the page renders every value as text, never as markup.
//!
//! [`History`] keeps one [`Sample`] a second for the last 15 minutes, taken from the pipeline's
//! phase and the shared [`Health`](crate::alerts::Health) by a task of its own: the charts cost
//! the pipeline nothing, and a new page shows the last 15 minutes at once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use siphon_core::Error;
use tokio::sync::watch;

use crate::alerts::SharedHealth;
use crate::control::{error_response, refused, ControlState};
use crate::status::{unix_ms_now, Phase};

/// Time between two history samples.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);
/// Samples kept: 15 minutes at one a second.
pub const HISTORY_LEN: usize = 15 * 60;
/// Most events one `GET /v1/events` returns.
const MAX_EVENTS: usize = 1000;

const INDEX_HTML: &str = include_str!("dashboard/index.html");
const APP_JS: &str = include_str!("dashboard/app.js");
const APP_CSS: &str = include_str!("dashboard/app.css");

/// Scripts, styles and requests from the daemon only; no frames, no plugins, no foreign forms.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The dashboard's routes, merged into the control API's router.
pub(crate) fn routes() -> Router<Arc<ControlState>> {
    Router::new()
        .route("/", get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }))
        .route("/dashboard/app.js", get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }))
        .route("/dashboard/app.css", get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }))
        .route("/v1/history", get(history))
        .route("/v1/events", get(events))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    (headers, body).into_response()
}

/// One point of the history.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub at_unix_ms: u64,
    /// The pipeline's phase (`streaming`, `paused`, ...).
    pub state: &'static str,
    pub lag_seconds: f64,
    pub lag_bytes: u64,
    pub retained_wal_bytes: i64,
    /// Changes applied by streaming in this process so far (its slope is the throughput).
    pub changes_applied: u64,
}

/// The last [`HISTORY_LEN`] samples, oldest first.
#[derive(Default)]
pub struct History {
    samples: Mutex<VecDeque<Sample>>,
}

impl History {
    /// A history sampled every [`SAMPLE_INTERVAL`] by a task on the current runtime, for the life
    /// of the process.
    pub fn start(phase: watch::Receiver<Phase>, health: SharedHealth) -> Arc<History> {
        let history = Arc::new(History::default());
        let sampler = history.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let h = health.lock().map(|h| h.clone()).unwrap_or_default();
                sampler.push(Sample {
                    at_unix_ms: unix_ms_now(),
                    state: phase.borrow().as_str(),
                    lag_seconds: h.lag_seconds,
                    lag_bytes: h.lag_bytes,
                    retained_wal_bytes: h.retained_wal_bytes,
                    changes_applied: h.changes_applied,
                });
            }
        });
        history
    }

    fn push(&self, sample: Sample) {
        if let Ok(mut samples) = self.samples.lock() {
            if samples.len() == HISTORY_LEN {
                samples.pop_front();
            }
            samples.push_back(sample);
        }
    }

    /// The samples taken after `since_unix_ms`, oldest first.
    pub fn since(&self, since_unix_ms: u64) -> Vec<Sample> {
        let Ok(samples) = self.samples.lock() else { return Vec::new() };
        let first = samples.partition_point(|s| s.at_unix_ms <= since_unix_ms);
        samples.range(first..).cloned().collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryParams {
    since: Option<u64>,
}

/// The 400 answer to unreadable query parameters (JSON, like every error of the API).
fn bad_params(e: &QueryRejection, hint: &str) -> Response {
    let err = Error::fatal("invalid query parameters").with_detail(e.body_text()).with_hint(hint);
    error_response(StatusCode::BAD_REQUEST, &err)
}

async fn history(
    State(state): State<Arc<ControlState>>,
    headers: HeaderMap,
    query: Result<Query<HistoryParams>, QueryRejection>,
) -> Response {
    if let Some(r) = refused(&state, &headers) {
        return r;
    }
    let params = match query {
        Ok(Query(p)) => p,
        Err(e) => return bad_params(&e, "?since=<unix ms> (optional)"),
    };
    let samples = state.history.since(params.since.unwrap_or(0));
    Json(serde_json::json!({ "interval_ms": SAMPLE_INTERVAL.as_millis() as u64, "samples": samples })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsParams {
    limit: Option<usize>,
}

async fn events(
    State(state): State<Arc<ControlState>>,
    headers: HeaderMap,
    query: Result<Query<EventsParams>, QueryRejection>,
) -> Response {
    if let Some(r) = refused(&state, &headers) {
        return r;
    }
    let params = match query {
        Ok(Query(p)) => p,
        Err(e) => return bad_params(&e, "?limit=<number of events, at most 1000> (optional)"),
    };
    let limit = params.limit.unwrap_or(50).min(MAX_EVENTS);
    match crate::state_dir::recent_events(&state.state_dir, limit) {
        Ok(events) => Json(serde_json::json!({ "events": events })).into_response(),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &Error::fatal("could not read state_dir/events.jsonl").with_detail(e.to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_unix_ms: u64) -> Sample {
        Sample {
            at_unix_ms,
            state: "streaming",
            lag_seconds: 0.0,
            lag_bytes: 0,
            retained_wal_bytes: 0,
            changes_applied: 0,
        }
    }

    #[test]
    fn the_history_keeps_the_last_fifteen_minutes_and_answers_since() {
        let history = History::default();
        for t in 0..(HISTORY_LEN as u64 + 10) {
            history.push(sample(t * 1000));
        }
        let all = history.since(0);
        assert_eq!(all.len(), HISTORY_LEN);
        assert_eq!(all[0].at_unix_ms, 10_000, "the oldest samples were dropped");
        let newer: Vec<u64> = history.since(907_000).iter().map(|s| s.at_unix_ms).collect();
        assert_eq!(newer, [908_000, 909_000]);
    }
}
