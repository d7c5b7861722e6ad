//! The control API: HTTP on `control.listen` (loopback by default), every request authorized
//! with `Authorization: Bearer <token>` — except the dashboard's static page, which holds no data.
//!
//! | method and path   | what                                                                |
//! |-------------------|---------------------------------------------------------------------|
//! | `GET /`           | the dashboard page, no token needed (see [`crate::dashboard`], docs/dashboard.md) |
//! | `GET /metrics`    | Prometheus text format (see docs/metrics.md)                        |
//! | `GET /v1/status`  | the pipeline's status (`state_dir/status.json` with live lag and slot health merged in) |
//! | `GET /v1/history` | one sample a second of state, lag, slot WAL and changes applied, the last 15 minutes; `?since=<unix ms>` for newer ones only |
//! | `GET /v1/events`  | the latest events of `state_dir/events.jsonl`, newest first; `?limit=50` (at most 1000) |
//! | `POST /v1/pause`  | stop reading, flush, checkpoint, close the replication connection (the slot becomes inactive); kept across restarts; answers once paused |
//! | `POST /v1/resume` | reconnect and continue; answers once running again |
//! | `POST /v1/backfill` | copies tables again while streaming goes on: body `{"tables": ["public.orders"], "mode": "merge"}` (`merge` or `truncate`; no tables: all); answers `{"job"}` once the copy started |
//! | `POST /v1/query`  | a read-only SQL query on the replica: body `{"sql": "...", "max_rows": 10000, "timeout_ms": 30000}`; JSON `{"columns", "rows", "truncated"}`, or CSV with `?format=csv` |
//! | `POST /v1/verify` | compare source and replica (and repair): body `{"tables": [], "chunk_rows": 20000, "repair": false, "catch_up_timeout_s": 300}`; answers when done with the report (see [`crate::verify`]) |
//!
//! The token is `control.token`, or one generated at first start into `state_dir/control.token`
//! (mode 0600). The bound address and the pid go to `state_dir/control.json`, where the CLI finds
//! the daemon. Errors are JSON `{"error", "detail", "hint"}`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use siphon_core::config::{Config, DestinationKind, Secret};
use siphon_core::Error;
use siphon_duckdb::query::{QueryLimits, QueryService};
use siphon_duckdb::verify::Replica;

use tokio::sync::watch;

use crate::state_dir::{set_paused, write_atomic};
use crate::status::Phase;
use crate::verify::{RunningPipeline, VerifyOptions};

pub(crate) struct ControlState {
    config: Config,
    token: Secret,
    queries: Option<Arc<QueryService>>,
    /// Why `queries` is `None`.
    destination: DestinationKind,
    pub(crate) state_dir: PathBuf,
    levers: Levers,
    pub(crate) history: Arc<crate::dashboard::History>,
}

/// The pipeline's handles the API acts on.
pub struct Levers {
    /// `true` asks the pipeline to pause, `false` to resume.
    pub pause: watch::Sender<bool>,
    /// The pipeline's current phase.
    pub phase: watch::Receiver<Phase>,
    /// Renders the metrics.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Live lag and slot health, merged into the status.
    pub health: crate::alerts::SharedHealth,
    /// `siphon backfill` requests.
    pub backfill: tokio::sync::mpsc::Sender<BackfillRequest>,
}

/// A request to copy tables again while streaming (see [`crate::copy`]).
pub struct BackfillRequest {
    /// Empty: every table of the pipeline.
    pub tables: Vec<siphon_core::schema::TableName>,
    pub mode: crate::copy::Mode,
    /// The job's name once the copy started, or why it did not.
    pub reply: tokio::sync::oneshot::Sender<Result<String, Error>>,
}

/// Binds `control.listen` and serves the API on the current runtime until the process ends.
pub async fn start(
    config: &Config,
    state_dir: &Path,
    queries: Option<Arc<QueryService>>,
    levers: Levers,
) -> Result<SocketAddr, Error> {
    let token = match &config.control.token {
        Some(t) => t.clone(),
        None => load_or_create_token(state_dir)?,
    };
    let listener = tokio::net::TcpListener::bind(&config.control.listen).await.map_err(|e| {
        Error::fatal(format!("could not listen on control.listen = {}", config.control.listen))
            .with_detail(e.to_string())
            .with_hint("another process (another pipeline?) uses that port: give each pipeline its own control.listen, or port 0 for any free port")
    })?;
    let addr = listener.local_addr().map_err(|e| Error::fatal("control API").with_detail(e.to_string()))?;
    let info = serde_json::json!({ "listen": addr.to_string(), "pid": std::process::id() });
    write_atomic(&state_dir.join("control.json"), info.to_string().as_bytes())
        .map_err(|e| Error::fatal("could not write control.json").with_detail(e.to_string()))?;
    let history = crate::dashboard::History::start(levers.phase.clone(), levers.health.clone());
    let state = Arc::new(ControlState {
        config: config.clone(),
        token,
        queries,
        destination: config.destination.kind,
        state_dir: state_dir.to_path_buf(),
        levers,
        history,
    });
    let app = Router::new()
        .merge(crate::dashboard::routes())
        .route("/metrics", get(metrics_text))
        .route("/v1/status", get(status))
        .route("/v1/pause", post(pause))
        .route("/v1/resume", post(resume))
        .route("/v1/query", post(query))
        .route("/v1/backfill", post(backfill))
        .route("/v1/verify", post(verify))
        .with_state(state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "control API stopped");
        }
    });
    tracing::info!(listen = %addr, "control API listening");
    Ok(addr)
}

/// The token in `state_dir/control.token`, created (random, mode 0600) if missing.
fn load_or_create_token(state_dir: &Path) -> Result<Secret, Error> {
    let path = state_dir.join("control.token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        if t.trim().len() >= 16 {
            return Ok(Secret::new(t.trim()));
        }
    }
    let mut bytes = [0u8; 24];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").map_err(io_err)?, &mut bytes).map_err(io_err)?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f =
        std::fs::OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(&path).map_err(io_err)?;
    f.write_all(token.as_bytes()).and_then(|_| f.sync_all()).map_err(io_err)?;
    Ok(Secret::new(token))
}

fn io_err(e: std::io::Error) -> Error {
    Error::fatal("could not create the control token in state_dir").with_detail(e.to_string())
}

/// `None` when the request carries the token; otherwise the 401 response.
pub(crate) fn refused(state: &ControlState, headers: &HeaderMap) -> Option<Response> {
    let presented =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(t) if constant_time_eq(t.as_bytes(), state.token.expose().as_bytes()) => None,
        _ => Some(error_response(
            StatusCode::UNAUTHORIZED,
            &Error::fatal("missing or wrong token")
                .with_hint("send Authorization: Bearer <token> (control.token, or state_dir/control.token)"),
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn error_response(code: StatusCode, e: &Error) -> Response {
    (code, Json(serde_json::json!({ "error": e.message, "detail": e.detail, "hint": e.hint }))).into_response()
}

async fn metrics_text(State(state): State<Arc<ControlState>>, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&state, &headers) {
        return r;
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.levers.metrics.render()).into_response()
}

async fn status(State(state): State<Arc<ControlState>>, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&state, &headers) {
        return r;
    }
    status_body(&state)
}

/// `status.json` with the live lag and slot health merged in.
fn status_body(state: &ControlState) -> Response {
    let text = match std::fs::read_to_string(state.state_dir.join("status.json")) {
        Ok(t) => t,
        Err(e) => {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &Error::fatal("no status yet").with_detail(e.to_string()),
            )
        }
    };
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if let Ok(h) = state.levers.health.lock() {
        v["lag_seconds"] = serde_json::json!(h.lag_seconds);
        v["lag_bytes"] = serde_json::json!(h.lag_bytes);
        v["slot_retained_wal_bytes"] = serde_json::json!(h.retained_wal_bytes);
        v["slot_wal_status"] = serde_json::json!(h.wal_status);
        v["slot_safe_wal_size_bytes"] = serde_json::json!(h.safe_wal_size_bytes);
        v["slot_active"] = serde_json::json!(h.slot_active);
    }
    Json(v).into_response()
}

async fn pause(State(state): State<Arc<ControlState>>, headers: HeaderMap) -> Response {
    set_paused_and_settle(&state, &headers, true).await
}

async fn resume(State(state): State<Arc<ControlState>>, headers: HeaderMap) -> Response {
    set_paused_and_settle(&state, &headers, false).await
}

/// Records the wanted state durably first (a crash right after still starts paused / running),
/// tells the pipeline, and answers once it got there.
async fn set_paused_and_settle(state: &ControlState, headers: &HeaderMap, paused: bool) -> Response {
    if let Some(r) = refused(state, headers) {
        return r;
    }
    let what = if paused { "pause" } else { "resume" };
    if let Err(e) = set_paused(&state.state_dir, paused) {
        return error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &Error::fatal(format!("could not record the {what}")).with_detail(e.to_string()),
        );
    }
    state.levers.pause.send_replace(paused);
    if paused {
        settle(state, |p| matches!(p, Phase::Paused | Phase::Stopped | Phase::Failed), what).await
    } else {
        settle(state, |p| !matches!(p, Phase::Paused), what).await
    }
}

/// Waits (at most a minute) for the pipeline to reach a phase, then answers with its status.
async fn settle(state: &ControlState, reached: impl Fn(&Phase) -> bool, what: &str) -> Response {
    let mut phase = state.levers.phase.clone();
    if tokio::time::timeout(Duration::from_secs(60), phase.wait_for(|p| reached(p))).await.is_err() {
        let err = Error::fatal(format!("the {what} was requested but has not completed after 60 s"))
            .with_hint("check `siphon status`; the request stays in effect");
        return error_response(StatusCode::ACCEPTED, &err);
    }
    status_body(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryRequest {
    sql: String,
    max_rows: Option<usize>,
    timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
struct QueryParams {
    format: Option<String>,
}

async fn query(
    State(state): State<Arc<ControlState>>,
    headers: HeaderMap,
    Query(params): Query<QueryParams>,
    body: Result<Json<QueryRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Some(r) = refused(&state, &headers) {
        return r;
    }
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => {
            let err = Error::fatal("invalid query request")
                .with_detail(e.body_text())
                .with_hint(r#"send {"sql": "SELECT ...", "max_rows": 10000, "timeout_ms": 30000}"#);
            return error_response(StatusCode::BAD_REQUEST, &err);
        }
    };
    let Some(service) = state.queries.clone() else {
        return error_response(StatusCode::CONFLICT, &not_queryable(state.destination));
    };
    let defaults = QueryLimits::default();
    let limits = QueryLimits {
        max_rows: req.max_rows.unwrap_or(defaults.max_rows),
        timeout: req.timeout_ms.map(Duration::from_millis).unwrap_or(defaults.timeout),
    };
    let result = tokio::task::spawn_blocking(move || service.query(&req.sql, limits)).await;
    match result {
        Ok(Ok(r)) if params.format.as_deref() == Some("csv") => {
            ([(header::CONTENT_TYPE, "text/csv")], r.to_csv()).into_response()
        }
        Ok(Ok(r)) => Json(r).into_response(),
        Ok(Err(e)) => error_response(StatusCode::BAD_REQUEST, &e),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &Error::fatal("the query task failed").with_detail(e.to_string()),
        ),
    }
}

/// Why siphon serves no queries for a destination other than DuckDB.
pub fn not_queryable(kind: DestinationKind) -> Error {
    match kind {
        DestinationKind::Postgres => Error::fatal("siphon query reads DuckDB destinations only")
            .with_detail("destination.kind = \"postgres\"")
            .with_hint("the replica is an ordinary PostgreSQL database: query it at destination.url with psql or any client, also while siphon runs (readers never see part of a source transaction)"),
        DestinationKind::Null | DestinationKind::Duckdb => {
            Error::fatal("this pipeline keeps no rows to query").with_detail("destination.kind = \"null\"")
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackfillBody {
    #[serde(default)]
    tables: Vec<String>,
    mode: Option<String>,
}

async fn backfill(
    State(state): State<Arc<ControlState>>,
    headers: HeaderMap,
    body: Result<Json<BackfillBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Some(r) = refused(&state, &headers) {
        return r;
    }
    let bad = |e: Error| error_response(StatusCode::BAD_REQUEST, &e);
    let hint = r#"send {"tables": ["public.orders"], "mode": "merge"} (mode merge or truncate)"#;
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return bad(Error::fatal("invalid backfill request").with_detail(e.body_text()).with_hint(hint)),
    };
    let mode = match body.mode.as_deref().map(crate::copy::Mode::parse) {
        None => crate::copy::Mode::Merge,
        Some(Some(m)) => m,
        Some(None) => return bad(Error::fatal("unknown backfill mode").with_hint(hint)),
    };
    let mut tables = Vec::new();
    for t in &body.tables {
        match siphon_core::schema::TableName::parse(t) {
            Ok(n) => tables.push(n),
            Err(e) => return bad(Error::fatal(format!("invalid table name {t:?}")).with_detail(e.to_string())),
        }
    }
    let (reply, answer) = tokio::sync::oneshot::channel();
    if state.levers.backfill.send(BackfillRequest { tables, mode, reply }).await.is_err() {
        return error_response(StatusCode::SERVICE_UNAVAILABLE, &Error::fatal("the pipeline is not running"));
    }
    let unavailable = || {
        error_response(
            StatusCode::CONFLICT,
            &Error::fatal("the pipeline is not streaming (paused, reconnecting or stopping)")
                .with_hint("resume it, or retry once `siphon status` says streaming"),
        )
    };
    match tokio::time::timeout(Duration::from_secs(30), answer).await {
        Ok(Ok(Ok(job))) => Json(serde_json::json!({ "job": job, "mode": mode.as_str() })).into_response(),
        Ok(Ok(Err(e))) => error_response(StatusCode::CONFLICT, &e),
        Ok(Err(_)) | Err(_) => unavailable(),
    }
}

async fn verify(
    State(state): State<Arc<ControlState>>,
    headers: HeaderMap,
    body: Result<Json<VerifyOptions>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Some(r) = refused(&state, &headers) {
        return r;
    }
    let Json(opts) = match body {
        Ok(b) => b,
        Err(e) => {
            let err = Error::fatal("invalid verify request").with_detail(e.body_text()).with_hint(
                r#"send {"tables": ["public.t"], "chunk_rows": 20000, "repair": false, "catch_up_timeout_s": 300}"#,
            );
            return error_response(StatusCode::BAD_REQUEST, &err);
        }
    };
    let Some(queries) = state.queries.clone() else {
        let err = Error::fatal("this pipeline keeps no rows to verify").with_detail("destination.kind = \"null\"");
        return error_response(StatusCode::CONFLICT, &err);
    };
    // A task of its own: a client that goes away must not cut a repair short (between its pause
    // and its resume).
    let task = tokio::spawn(async move {
        let running = RunningPipeline { levers: &state.levers, state_dir: &state.state_dir };
        let replica = Replica::attached(&queries, &state.config.pipeline.name)?;
        crate::verify::run(&state.config, replica, Some(running), &opts).await
    });
    match task.await {
        Ok(Ok(report)) => Json(report).into_response(),
        Ok(Err(e)) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &e),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &Error::fatal("the verification task failed").with_detail(e.to_string()),
        ),
    }
}
