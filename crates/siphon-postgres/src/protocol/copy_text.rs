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
//!
//! Two decoders share the escape rules ([`Escape`]):
//!
//! - [`CopyTextDecoder`] emits each row as a `Vec<Option<String>>` (verification, tests);
//! - [`CopyBlockDecoder`] decodes a whole piece of rows into one [`RowBlock`] (table copies):
//!   plain text between backslashes is copied in bulk, with the row's own tabs and newlines as
//!   the block's value separators, values are only recorded by their end offsets, and the piece
//!   is validated as UTF-8 once when it is taken. Nothing is allocated per row or value.
//!
//! Both give the same rows and the same errors for any input split anywhere (property-tested
//! and fuzzed against each other): a UTF-8 error in a value is reported before a structural
//! error that follows it, as the row decoder, which validates each field when it ends, does.

use siphon_core::row::{BlockError, RowBlock};

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

impl Escape {
    /// Advances by the raw byte `b`, appending what a completed escape stands for to `out`.
    /// Returns whether `b` was consumed as part of the escape (else it is the next plain byte).
    fn step(&mut self, b: u8, out: &mut Vec<u8>) -> bool {
        match *self {
            Escape::Backslash => {
                self.after_backslash(b, out);
                true
            }
            Escape::Octal { value, digits } => self.octal_step(value, digits, b, out),
            Escape::Hex { value, digits } => self.hex_step(value, digits, b, out),
            Escape::None => false,
        }
    }

    fn after_backslash(&mut self, b: u8, out: &mut Vec<u8>) {
        *self = Escape::None;
        let byte = match b {
            b'0'..=b'7' => {
                *self = Escape::Octal { value: u16::from(b - b'0'), digits: 1 };
                return;
            }
            b'x' => {
                *self = Escape::Hex { value: 0, digits: 0 };
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
        out.push(byte);
    }

    fn octal_step(&mut self, value: u16, digits: u8, b: u8, out: &mut Vec<u8>) -> bool {
        let consumed = matches!(b, b'0'..=b'7');
        let value = if consumed { value * 8 + u16::from(b - b'0') } else { value };
        let digits = digits + u8::from(consumed);
        if consumed && digits < 3 {
            *self = Escape::Octal { value, digits };
        } else {
            // Like the server, keep the low 8 bits of `\777`.
            out.push(value.to_be_bytes()[1]);
            *self = Escape::None;
        }
        consumed
    }

    fn hex_step(&mut self, value: u8, digits: u8, b: u8, out: &mut Vec<u8>) -> bool {
        let digit = char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok());
        match digit {
            Some(d) if digits == 0 => {
                *self = Escape::Hex { value: d, digits: 1 };
            }
            Some(d) => {
                out.push(value * 16 + d);
                *self = Escape::None;
            }
            None => {
                out.push(if digits == 0 { b'x' } else { value });
                *self = Escape::None;
            }
        }
        digit.is_some()
    }
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
        if self.escape.step(b, &mut self.field) {
            self.field_raw_len += 1;
            tail
        } else {
            rest
        }
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

/// Incremental COPY text decoder into [`RowBlock`]s; see the module documentation.
///
/// [`CopyBlockDecoder::push`] feeds data; [`CopyBlockDecoder::take`] returns the rows completed
/// so far as one block, validated, and keeps a partial row for the data that follows. After an
/// error, the decoder keeps returning that error.
#[derive(Debug, Clone)]
pub struct CopyBlockDecoder {
    columns: usize,
    /// De-escaped text of the complete rows not taken yet, then of the current row: each value
    /// followed by the raw tab or newline that ended it (the layout of a [`RowBlock`]).
    text: Vec<u8>,
    /// Value ends ([`RowBlock::value_end`]) of those rows, then of the current row's completed
    /// fields.
    ends: Vec<usize>,
    /// Complete rows in `text`.
    rows: usize,
    /// Where the current row starts in `text`.
    row_start: usize,
    /// Where the current field starts in `text`.
    field_start: usize,
    /// Raw bytes of the current field consumed so far.
    field_raw_len: usize,
    escape: Escape,
    /// 1-based number of the first row in `text`.
    first_row: u64,
    failed: Option<CopyDecodeError>,
}

impl CopyBlockDecoder {
    /// Creates a decoder for rows of exactly `columns` fields.
    pub fn new(columns: usize) -> Self {
        CopyBlockDecoder {
            columns,
            text: Vec::new(),
            ends: Vec::new(),
            rows: 0,
            row_start: 0,
            field_start: 0,
            field_raw_len: 0,
            escape: Escape::None,
            first_row: 1,
            failed: None,
        }
    }

    /// Feeds the next chunk of COPY data.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), CopyDecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.push_inner(chunk);
        result.map_err(|e| self.fail(e))
    }

    /// The rows completed since the last call, as one block (their text validated as UTF-8).
    pub fn take(&mut self) -> Result<RowBlock, CopyDecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let (start, values) = (self.row_start, self.rows * self.columns);
        // The current row moves to fresh buffers of the same capacity; the block keeps the rest.
        let mut tail_text = Vec::with_capacity(self.text.capacity());
        tail_text.extend_from_slice(&self.text[start..]);
        let mut text = std::mem::replace(&mut self.text, tail_text);
        // A zero-column row has no values, and its newline no place in the block.
        text.truncate(if self.columns == 0 { 0 } else { start });
        let mut tail_ends = Vec::with_capacity(self.ends.capacity());
        tail_ends.extend(self.ends[values..].iter().map(|&e| {
            let (end, null) = RowBlock::split_value_end(e);
            RowBlock::value_end(end - start, null)
        }));
        let mut ends = std::mem::replace(&mut self.ends, tail_ends);
        ends.truncate(values);
        let rows = std::mem::take(&mut self.rows);
        let first_row = self.first_row;
        self.first_row += rows as u64;
        self.row_start = 0;
        self.field_start -= start;
        RowBlock::from_utf8(self.columns, rows, text, ends).map_err(|e| {
            let e = match e {
                BlockError::InvalidUtf8 { value } => CopyDecodeError {
                    row: first_row + (value / self.columns) as u64,
                    column: value % self.columns + 1,
                    kind: CopyErrorKind::InvalidUtf8,
                },
                // The decoder builds the layout a block requires; the tests hold it to that.
                other => panic!("the COPY block decoder broke the block layout: {other}"),
            };
            // Every value of the block precedes the values still in the decoder: this error is
            // the first (`fail` would prefer an invalid value of the partial row after it).
            self.failed = Some(e.clone());
            e
        })
    }

    /// Checks that the data ended at a row boundary.
    pub fn finish(&mut self) -> Result<(), CopyDecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.fields_in_row() > 0 || self.field_raw_len > 0 {
            let e = self.error(CopyErrorKind::IncompleteRow);
            return Err(self.fail(e));
        }
        Ok(())
    }

    /// Number of complete rows decoded so far.
    pub fn rows_decoded(&self) -> u64 {
        self.first_row - 1 + self.rows as u64
    }

    /// Records the error to return from now on: a value completed before `e` that is not
    /// UTF-8 (the row decoder would have stopped there), else `e`.
    fn fail(&mut self, e: CopyDecodeError) -> CopyDecodeError {
        let e = self.first_invalid_utf8().unwrap_or(e);
        self.failed = Some(e.clone());
        e
    }

    fn first_invalid_utf8(&self) -> Option<CopyDecodeError> {
        let mut start = 0;
        for (k, &e) in self.ends.iter().enumerate() {
            let (end, _) = RowBlock::split_value_end(e);
            if std::str::from_utf8(&self.text[start..end]).is_err() {
                let (row, column) = (self.first_row + (k / self.columns) as u64, k % self.columns + 1);
                return Some(CopyDecodeError { row, column, kind: CopyErrorKind::InvalidUtf8 });
            }
            start = end + 1;
        }
        None
    }

    fn push_inner(&mut self, chunk: &[u8]) -> Result<(), CopyDecodeError> {
        let mut rest = chunk;
        while let Some((&b, tail)) = rest.split_first() {
            if self.escape != Escape::None {
                // An escape's last byte may be the next plain byte: then it is not consumed.
                if self.escape.step(b, &mut self.text) {
                    self.field_raw_len += 1;
                    rest = tail;
                }
                continue;
            }
            let n = memchr::memchr2(b'\\', b'\r', rest).unwrap_or(rest.len());
            self.plain(&rest[..n])?;
            match rest.get(n) {
                None => break,
                Some(b'\r') => return Err(self.error(CopyErrorKind::LiteralCarriageReturn)),
                Some(_) => {
                    self.field_raw_len += 1;
                    self.escape = Escape::Backslash;
                }
            }
            rest = &rest[n + 1..];
        }
        Ok(())
    }

    /// Copies a span without backslashes or carriage returns, ending a field at each tab and a
    /// row at each newline (those stay in the text as the values' separators).
    fn plain(&mut self, span: &[u8]) -> Result<(), CopyDecodeError> {
        let base = self.text.len();
        self.text.extend_from_slice(span);
        let mut from = 0;
        for p in memchr::memchr2_iter(b'\t', b'\n', span) {
            self.field_raw_len += p - from;
            if span[p] == b'\t' {
                self.end_field(base + p)?;
            } else {
                self.end_row(base + p)?;
            }
            from = p + 1;
        }
        self.field_raw_len += span.len() - from;
        Ok(())
    }

    fn fields_in_row(&self) -> usize {
        self.ends.len() - self.rows * self.columns
    }

    /// Ends the current field at the tab at `sep`.
    fn end_field(&mut self, sep: usize) -> Result<(), CopyDecodeError> {
        if self.fields_in_row() + 1 >= self.columns {
            let expected = self.columns;
            return Err(self.error(CopyErrorKind::ExtraData { expected }));
        }
        self.complete_field(sep);
        Ok(())
    }

    /// Records the current field, ending at `sep`; NULL when its raw text was exactly `\N`
    /// (the only two raw bytes that decode to `N`).
    fn complete_field(&mut self, sep: usize) {
        let null = self.field_raw_len == 2 && self.text[self.field_start..sep] == *b"N";
        self.ends.push(RowBlock::value_end(sep, null));
        self.field_start = sep + 1;
        self.field_raw_len = 0;
    }

    /// Ends the current row at the newline at `sep`.
    fn end_row(&mut self, sep: usize) -> Result<(), CopyDecodeError> {
        let expected = self.columns;
        if expected == 0 {
            // A row of a zero-column table is an empty line.
            if self.field_raw_len > 0 {
                return Err(self.error(CopyErrorKind::ExtraData { expected }));
            }
        } else {
            self.complete_field(sep);
            let found = self.fields_in_row();
            if found != expected {
                return Err(self.error(CopyErrorKind::MissingData { expected, found }));
            }
        }
        self.rows += 1;
        (self.row_start, self.field_start, self.field_raw_len) = (sep + 1, sep + 1, 0);
        Ok(())
    }

    fn error(&self, kind: CopyErrorKind) -> CopyDecodeError {
        let column = match kind {
            CopyErrorKind::MissingData { found, .. } => found + 1,
            CopyErrorKind::ExtraData { expected } => expected + 1,
            _ => self.fields_in_row() + 1,
        };
        CopyDecodeError { row: self.first_row + self.rows as u64, column, kind }
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
