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
    /// The dashboard's URL, with the token in the fragment (which browsers never send to the
    /// server). A wildcard listen address becomes loopback, which browsers can open.
    pub fn dashboard_url(&self) -> String {
        let host = match self.listen.parse::<std::net::SocketAddr>() {
            Ok(a) if a.ip().is_unspecified() && a.is_ipv4() => format!("127.0.0.1:{}", a.port()),
            Ok(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
            _ => self.listen.clone(),
        };
        format!("http://{host}/#token={}", percent_encode(&self.token))
    }

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

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboard_url_carries_the_token_in_the_fragment_and_opens_on_loopback() {
        let d = Daemon { listen: "0.0.0.0:7320".into(), token: "a b&c#d+é".into() };
        assert_eq!(d.dashboard_url(), "http://127.0.0.1:7320/#token=a%20b%26c%23d%2B%C3%A9");
        let d = Daemon { listen: "[::]:7320".into(), token: "t".into() };
        assert_eq!(d.dashboard_url(), "http://[::1]:7320/#token=t");
        let d = Daemon { listen: "127.0.0.1:9".into(), token: "t".into() };
        assert_eq!(d.dashboard_url(), "http://127.0.0.1:9/#token=t");
    }
}
