//! The control API's client side: finding the running daemon of a config and calling it.

use siphon_core::config::Config;
use siphon_core::Error;

/// A running daemon: its address (from `state_dir/control.json`) and token.
pub struct Daemon {
    pub listen: String,
    token: String,
}

/// The running daemon of this config, if any (its pid is alive).
pub fn daemon(config: &Config) -> Option<Daemon> {
    let dir = &config.pipeline.state_dir;
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("control.json")).ok()?).ok()?;
    let pid = info["pid"].as_u64()?;
    if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return None;
    }
    let token = match &config.control.token {
        Some(t) => t.expose().to_string(),
        None => std::fs::read_to_string(dir.join("control.token")).ok()?.trim().to_string(),
    };
    Some(Daemon { listen: info["listen"].as_str()?.to_string(), token })
}

impl Daemon {
    /// One call; an error response becomes an error with its detail and hint.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, Error> {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let url = format!("http://{}{path}", self.listen);
        let auth = format!("Bearer {}", self.token);
        let sent = match method {
            "GET" => agent.get(&url).header("Authorization", &auth).call(),
            _ => agent.post(&url).header("Authorization", &auth).send_json(body.unwrap_or(serde_json::json!({}))),
        };
        let unreachable = |e: ureq::Error| {
            Error::fatal(format!("could not reach the running siphon at {}", self.listen)).with_detail(e.to_string())
        };
        let mut response = sent.map_err(unreachable)?;
        let status = response.status();
        let value: serde_json::Value = response.body_mut().read_json().map_err(unreachable)?;
        if !status.is_success() {
            let text = |k: &str| value[k].as_str().map(str::to_string);
            let mut err = Error::fatal(text("error").unwrap_or_else(|| format!("the daemon answered {status}")));
            err.detail = text("detail");
            err.hint = text("hint");
            return Err(err);
        }
        Ok(value)
    }
}
