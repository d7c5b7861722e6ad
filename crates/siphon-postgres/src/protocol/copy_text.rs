//! Streaming decoder for the PostgreSQL `COPY` text format.
//!
//! This is the format `COPY ... TO STDOUT` produces with default options,
//! described under "Text Format" in
//! <https://www.postgresql.org/docs/current/sql-copy.html>: one row per line
//! (terminated by `\n`), fields separated by a tab, `\N` for NULL, and
//! backslash escapes: `\b` `\f` `\n` `\r` `\t` `\v` `\\`, `\NNN` (one to
//! three octal digits), `\xHH` (one or two hex digits; `\x` not followed by
//! a hex digit is a plain `x`), and a backslash followed by any other
//! character stands for that character.
//!
//! COPY data arrives in `CopyData` messages whose boundaries are unrelated
//! to rows, so [`CopyTextDecoder`] accepts arbitrary chunks (split anywhere,
//! even inside an escape or a multi-byte character) and emits each row once
//! its terminating newline has been seen.
//!
//! Like the server, a field is NULL only when its raw text is exactly `\N`;
//! a literal carriage return is rejected (the server always escapes it).
//! The end-of-data marker `\.` is not interpreted: servers do not send it
//! over the version 3 protocol.

/// A COPY text row could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid COPY data in row {row}, column {column}: {kind}")]
pub struct CopyDecodeError {
    /// 1-based row (line) number in the stream.
    pub row: u64,
    /// 1-based column number.
    pub column: usize,
    /// What was wrong.
    pub kind: CopyErrorKind,
}

/// What was wrong with a COPY text row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyErrorKind {
    #[error("extra data after last expected column (expected {expected} columns)")]
    ExtraData { expected: usize },
    #[error("missing data for column (expected {expected} columns, found {found})")]
    MissingData { expected: usize, found: usize },
    #[error("invalid byte sequence for encoding \"UTF8\"")]
    InvalidUtf8,
    #[error("literal carriage return found in data")]
    LiteralCarriageReturn,
    #[error("unexpected end of data: incomplete row")]
    IncompleteRow,
}

/// One decoded row: `None` is SQL NULL.
pub type CopyRow = Vec<Option<String>>;

/// Where the decoder is inside a backslash escape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    /// Just after a backslash.
    Backslash,
    /// Inside `\NNN` after `digits` octal digits.
    Octal {
        value: u16,
        digits: u8,
    },
    /// Inside `\xHH` after `digits` hex digits.
    Hex {
        value: u8,
        digits: u8,
    },
}

/// Incremental COPY text decoder; see the module documentation.
///
/// After an error, the decoder keeps returning that error.
#[derive(Debug, Clone)]
pub struct CopyTextDecoder {
    expected_columns: usize,
    /// Completed fields of the current row.
    row: CopyRow,
    /// De-escaped bytes of the current field.
    field: Vec<u8>,
    /// Raw bytes of the current field consumed so far.
    field_raw_len: usize,
    escape: Escape,
    /// 1-based number of the row being decoded.
    row_number: u64,
    failed: Option<CopyDecodeError>,
}

impl CopyTextDecoder {
    /// Creates a decoder for rows of exactly `expected_columns` fields.
    pub fn new(expected_columns: usize) -> Self {
        CopyTextDecoder {
            expected_columns,
            row: Vec::with_capacity(expected_columns),
            field: Vec::new(),
            field_raw_len: 0,
            escape: Escape::None,
            row_number: 1,
            failed: None,
        }
    }

    /// Feeds the next chunk of COPY data and appends every row it completes
    /// to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<CopyRow>) -> Result<(), CopyDecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.push_inner(chunk, out);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// Checks that the data ended at a row boundary.
    pub fn finish(&mut self) -> Result<(), CopyDecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let partial = !self.row.is_empty() || self.field_raw_len > 0;
        if partial {
            let e = self.error(CopyErrorKind::IncompleteRow);
            self.failed = Some(e.clone());
            return Err(e);
        }
        Ok(())
    }

    /// Number of complete rows decoded so far.
    pub fn rows_decoded(&self) -> u64 {
        self.row_number - 1
    }

    fn push_inner(&mut self, chunk: &[u8], out: &mut Vec<CopyRow>) -> Result<(), CopyDecodeError> {
        let mut rest = chunk;
        while !rest.is_empty() {
            rest = if self.escape == Escape::None { self.plain(rest, out)? } else { self.escaped(rest) };
        }
        Ok(())
    }

    /// Copies plain bytes up to the next special byte, then handles it.
    fn plain<'a>(&mut self, rest: &'a [u8], out: &mut Vec<CopyRow>) -> Result<&'a [u8], CopyDecodeError> {
        let special = |b: &u8| matches!(b, b'\t' | b'\n' | b'\\' | b'\r');
        let n = rest.iter().position(special).unwrap_or(rest.len());
        let (text, tail) = rest.split_at(n);
        self.field.extend_from_slice(text);
        self.field_raw_len += n;
        let Some((&b, tail)) = tail.split_first() else {
            return Ok(tail);
        };
        match b {
            b'\t' => self.end_field(false)?,
            b'\n' => self.end_row(out)?,
            b'\r' => return Err(self.error(CopyErrorKind::LiteralCarriageReturn)),
            _ => {
                self.field_raw_len += 1;
                self.escape = Escape::Backslash;
            }
        }
        Ok(tail)
    }

    /// Advances the escape state machine by at most one byte.
    fn escaped<'a>(&mut self, rest: &'a [u8]) -> &'a [u8] {
        let Some((&b, tail)) = rest.split_first() else {
            return rest;
        };
        if self.escape_step(b) {
            self.field_raw_len += 1;
            tail
        } else {
            rest
        }
    }

    /// Returns whether `b` was consumed as part of the escape.
    fn escape_step(&mut self, b: u8) -> bool {
        match self.escape {
            Escape::Backslash => {
                self.after_backslash(b);
                true
            }
            Escape::Octal { value, digits } => self.octal_step(value, digits, b),
            Escape::Hex { value, digits } => self.hex_step(value, digits, b),
            Escape::None => false,
        }
    }

    fn after_backslash(&mut self, b: u8) {
        self.escape = Escape::None;
        let byte = match b {
            b'0'..=b'7' => {
                self.escape = Escape::Octal { value: u16::from(b - b'0'), digits: 1 };
                return;
            }
            b'x' => {
                self.escape = Escape::Hex { value: 0, digits: 0 };
                return;
            }
            b'b' => 0x08,
            b'f' => 0x0C,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0B,
            other => other,
        };
        self.field.push(byte);
    }

    fn octal_step(&mut self, value: u16, digits: u8, b: u8) -> bool {
        let consumed = matches!(b, b'0'..=b'7');
        let value = if consumed { value * 8 + u16::from(b - b'0') } else { value };
        let digits = digits + u8::from(consumed);
        if consumed && digits < 3 {
            self.escape = Escape::Octal { value, digits };
        } else {
            // Like the server, keep the low 8 bits of `\777`.
            self.field.push(value.to_be_bytes()[1]);
            self.escape = Escape::None;
        }
        consumed
    }

    fn hex_step(&mut self, value: u8, digits: u8, b: u8) -> bool {
        let digit = char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok());
        match digit {
            Some(d) if digits == 0 => {
                self.escape = Escape::Hex { value: d, digits: 1 };
            }
            Some(d) => {
                self.field.push(value * 16 + d);
                self.escape = Escape::None;
            }
            None => {
                self.field.push(if digits == 0 { b'x' } else { value });
                self.escape = Escape::None;
            }
        }
        digit.is_some()
    }

    /// Completes the current field; `at_row_end` when ended by a newline.
    fn end_field(&mut self, at_row_end: bool) -> Result<(), CopyDecodeError> {
        if !at_row_end && self.row.len() + 1 >= self.expected_columns {
            let expected = self.expected_columns;
            return Err(self.error(CopyErrorKind::ExtraData { expected }));
        }
        let value = self.take_field()?;
        self.row.push(value);
        Ok(())
    }

    /// Converts the current field; NULL when its raw text was exactly `\N`
    /// (the only two raw bytes that decode to `N`).
    fn take_field(&mut self) -> Result<Option<String>, CopyDecodeError> {
        let is_null = self.field_raw_len == 2 && self.field == b"N";
        let bytes = std::mem::take(&mut self.field);
        self.field_raw_len = 0;
        if is_null {
            return Ok(None);
        }
        String::from_utf8(bytes).map(Some).map_err(|_| self.error(CopyErrorKind::InvalidUtf8))
    }

    fn end_row(&mut self, out: &mut Vec<CopyRow>) -> Result<(), CopyDecodeError> {
        let expected = self.expected_columns;
        if expected == 0 {
            // A row of a zero-column table is an empty line.
            if self.field_raw_len > 0 {
                return Err(self.error(CopyErrorKind::ExtraData { expected }));
            }
        } else {
            self.end_field(true)?;
            let found = self.row.len();
            if found != expected {
                return Err(self.error(CopyErrorKind::MissingData { expected, found }));
            }
        }
        let row = std::mem::replace(&mut self.row, Vec::with_capacity(self.expected_columns));
        out.push(row);
        self.row_number += 1;
        Ok(())
    }

    fn error(&self, kind: CopyErrorKind) -> CopyDecodeError {
        let column = match kind {
            CopyErrorKind::MissingData { found, .. } => found + 1,
            CopyErrorKind::ExtraData { expected } => expected + 1,
            _ => self.row.len() + 1,
        };
        CopyDecodeError { row: self.row_number, column, kind }
    }
}

/// Appends one row in COPY text format (with its newline) to `out`,
/// escaping like the server's `COPY TO` does.
pub fn encode_row<S: AsRef<str>>(row: &[Option<S>], out: &mut Vec<u8>) {
    for (i, field) in row.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match field {
            None => out.extend_from_slice(b"\\N"),
            Some(s) => encode_field(s.as_ref(), out),
        }
    }
    out.push(b'\n');
}

fn encode_field(s: &str, out: &mut Vec<u8>) {
    for &b in s.as_bytes() {
        let escaped = match b {
            0x08 => b'b',
            0x0C => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x0B => b'v',
            b'\\' => b'\\',
            _ => {
                out.push(b);
                continue;
            }
        };
        out.extend_from_slice(&[b'\\', escaped]);
    }
}

#[cfg(test)]
#[path = "copy_text_tests.rs"]
mod tests;
