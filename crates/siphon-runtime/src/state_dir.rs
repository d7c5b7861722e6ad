//! The pipeline's local state directory and its lock.
//!
//! One daemon per state directory: a second `siphon run` on the same directory fails at once
//! instead of racing the first for the slot and the destination.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use siphon_core::Error;

/// The locked state directory; the lock is released when this is dropped (or the process dies).
pub struct StateDir {
    path: PathBuf,
    _lock: File,
}

impl StateDir {
    pub fn open(path: &Path) -> Result<StateDir, Error> {
        std::fs::create_dir_all(path).map_err(|e| {
            Error::fatal(format!("could not create pipeline.state_dir {}", path.display())).with_detail(e.to_string())
        })?;
        let lock_path = path.join("siphon.lock");
        let lock =
            OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| {
                Error::fatal(format!("could not open {}", lock_path.display())).with_detail(e.to_string())
            })?;
        lock.try_lock().map_err(|_| {
            Error::fatal(format!("another siphon process is running with state_dir {}", path.display()))
                .with_hint("stop it first, or give this pipeline its own pipeline.state_dir")
        })?;
        Ok(StateDir { path: path.to_path_buf(), _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The highest position siphon confirmed to the slot beyond a checkpoint (keepalives while
    /// idle), or 0/0.
    pub fn confirmed(&self) -> siphon_core::Lsn {
        std::fs::read_to_string(self.path.join("confirmed_lsn"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_default()
    }

    /// Forgets the confirmed position: a fresh start begins a new position history (a new slot,
    /// or another server), in which an older history's positions mean nothing.
    pub fn reset_confirmed(&self) -> std::io::Result<()> {
        match std::fs::remove_file(self.path.join("confirmed_lsn")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Records `lsn` as confirmed (before it is sent to the server).
    pub fn record_confirmed(&self, lsn: siphon_core::Lsn) -> std::io::Result<()> {
        if lsn <= self.confirmed() {
            return Ok(());
        }
        write_atomic(&self.path.join("confirmed_lsn"), format!("{lsn}\n").as_bytes())
    }

    /// Whether the pipeline was paused (and not resumed since).
    pub fn paused(&self) -> bool {
        self.path.join(PAUSED_MARKER).exists()
    }
}

/// The file whose presence in the state directory means "paused".
pub const PAUSED_MARKER: &str = "paused";

/// Records the paused state durably (`paused = true` creates the marker, `false` removes it).
pub fn set_paused(state_dir: &Path, paused: bool) -> std::io::Result<()> {
    let marker = state_dir.join(PAUSED_MARKER);
    if paused {
        write_atomic(&marker, b"paused by siphon pause; siphon resume clears it\n")
    } else {
        match std::fs::remove_file(&marker) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => File::open(state_dir)?.sync_all(),
        }
    }
}

/// Replaces `path` with `contents` atomically and durably (write, fsync, rename, fsync dir).
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Appends one JSON event line to `state_dir/events.jsonl`.
pub fn append_event(state_dir: &Path, event: &serde_json::Value) -> std::io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(state_dir.join("events.jsonl"))?;
    writeln!(f, "{event}")?;
    f.sync_data()
}

/// The last `limit` events of `state_dir/events.jsonl`, newest first (none if there is no file).
/// Reads the file backwards from its end, so a long history costs nothing; a line that is not
/// JSON (a torn last write) is skipped.
pub fn recent_events(state_dir: &Path, limit: usize) -> std::io::Result<Vec<serde_json::Value>> {
    use std::io::{Read, Seek, SeekFrom};
    const BLOCK: u64 = 64 * 1024;
    let mut f = match File::open(state_dir.join("events.jsonl")) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut start = f.seek(SeekFrom::End(0))?;
    let mut tail = Vec::new();
    // One line more than asked: the first line of the tail may be cut.
    while start > 0 && tail.iter().filter(|&&b| b == b'\n').count() <= limit {
        let from = start.saturating_sub(BLOCK);
        let mut block = vec![0; (start - from) as usize];
        f.seek(SeekFrom::Start(from))?;
        f.read_exact(&mut block)?;
        block.append(&mut tail);
        tail = block;
        start = from;
    }
    let text = String::from_utf8_lossy(&tail);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    Ok(lines.iter().rev().filter_map(|l| serde_json::from_str(l).ok()).take(limit).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_of_the_same_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateDir::open(dir.path()).unwrap();
        let err = StateDir::open(dir.path()).err().expect("second open must fail");
        assert!(err.message.contains("another siphon process"), "{err}");
        drop(first);
        StateDir::open(dir.path()).expect("free again after the first is dropped");
    }

    #[test]
    fn recent_events_are_the_newest_first_across_read_blocks() {
        let dir = tempfile::tempdir().unwrap();
        assert!(recent_events(dir.path(), 10).unwrap().is_empty(), "no file, no events");
        let pad = "x".repeat(500); // 2000 events of ~530 bytes: several 64 KiB blocks
        let lines: String =
            (0..2000).map(|i| format!("{}\n", serde_json::json!({ "event": "e", "n": i, "pad": pad }))).collect();
        std::fs::write(dir.path().join("events.jsonl"), lines).unwrap();
        let got = recent_events(dir.path(), 300).unwrap();
        let ns: Vec<u64> = got.iter().map(|e| e["n"].as_u64().unwrap()).collect();
        assert_eq!(ns, (1700..2000).rev().collect::<Vec<u64>>());
        assert_eq!(recent_events(dir.path(), 5000).unwrap().len(), 2000, "the whole file when it is shorter");
    }
}
