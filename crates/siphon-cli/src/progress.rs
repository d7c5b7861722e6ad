//! Progress bars for copies in an interactive `siphon run`: one bar per table being copied, with
//! rows, rows/s and the time left, drawn on the terminal from the pipeline's `status.json` (the
//! same figures `siphon status` and the dashboard show). Nothing is drawn when stderr is not a
//! terminal.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Starts drawing in a background thread, for the life of the process.
pub fn spawn(state_dir: PathBuf) {
    if !std::io::stderr().is_terminal() {
        return;
    }
    std::thread::Builder::new().name("siphon-progress".into()).spawn(move || draw(state_dir)).ok();
}

fn draw(state_dir: PathBuf) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
    let style = ProgressStyle::with_template("{prefix:>24} [{bar:30}] {human_pos}/{human_len} rows  {per_sec}  {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let Some(status) = std::fs::read_to_string(state_dir.join("status.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        else {
            continue;
        };
        let copy = status["copy"].as_object().cloned().unwrap_or_default();
        for (table, p) in &copy {
            let bar = bars.entry(table.clone()).or_insert_with(|| {
                let b = multi.add(ProgressBar::new(0).with_style(style.clone()).with_prefix(table.clone()));
                b.enable_steady_tick(Duration::from_millis(500));
                b
            });
            bar.set_length(p["rows_estimate"].as_u64().unwrap_or(0));
            bar.set_position(p["rows_copied"].as_u64().unwrap_or(0));
            let eta = p["eta_s"].as_u64().map(|s| format!(", {}m{:02}s left", s / 60, s % 60)).unwrap_or_default();
            bar.set_message(format!("chunks {}/{}{eta}", p["chunks_done"], p["chunks_total"]));
        }
        bars.retain(|table, bar| {
            let keep = copy.contains_key(table);
            if !keep {
                bar.finish_with_message("copied");
            }
            keep
        });
    }
}
