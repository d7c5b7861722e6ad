//! Doctor findings: one per checked setting, with what was expected, what was found and the fix.
//! Sources produce them (`siphon-postgres::doctor`); the CLI prints them all at once.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    /// Works, but deserves attention (a risk, a default worth changing).
    Warn,
    /// The pipeline cannot work (or will break) until this is fixed.
    Fail,
}

#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// What was checked, e.g. `wal_level`, `role REPLICATION`, `table public.orders key`.
    pub check: String,
    pub severity: Severity,
    pub expected: String,
    pub actual: String,
    /// How to fix it (empty when ok).
    pub fix: String,
}

impl Finding {
    pub fn new(
        check: impl Into<String>,
        ok: bool,
        expected: impl Into<String>,
        actual: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        let severity = if ok { Severity::Ok } else { Severity::Fail };
        Finding {
            check: check.into(),
            severity,
            expected: expected.into(),
            actual: actual.into(),
            fix: if ok { String::new() } else { fix.into() },
        }
    }

    /// Downgrades a failure to a warning.
    pub fn warn_only(mut self) -> Self {
        if self.severity == Severity::Fail {
            self.severity = Severity::Warn;
        }
        self
    }
}
