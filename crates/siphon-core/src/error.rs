//! The error every siphon component returns: what happened, and what to do about it.

/// How the runtime should react to an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retry with backoff (lost connection, server restarting).
    Transient,
    /// Only one table is affected: quarantine or re-backfill it.
    TableScoped,
    /// Stop and tell the operator.
    Fatal,
}

/// A failure in PostgreSQL's message shape: a short lower-case primary line, then an optional
/// detail (what was found) and hint (how to fix it). Messages never contain secrets or row values.
#[derive(Debug, thiserror::Error)]
#[error("{message}{}{}", detail.as_deref().map(|d| format!("\n  detail: {d}")).unwrap_or_default(), hint.as_deref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
pub struct Error {
    pub class: ErrorClass,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl Error {
    pub fn fatal(message: impl Into<String>) -> Self {
        Error { class: ErrorClass::Fatal, message: message.into(), detail: None, hint: None }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Error { class: ErrorClass::Transient, ..Self::fatal(message) }
    }

    pub fn table(message: impl Into<String>) -> Self {
        Error { class: ErrorClass::TableScoped, ..Self::fatal(message) }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_transient(&self) -> bool {
        self.class == ErrorClass::Transient
    }
}
