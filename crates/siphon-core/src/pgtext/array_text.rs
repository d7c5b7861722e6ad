//! Parser for the text output of PostgreSQL arrays, and a JSON renderer.
//!
//! The server's `array_out` prints arrays as described in
//! <https://www.postgresql.org/docs/current/arrays.html#ARRAYS-IO>: elements
//! between braces separated by the type's delimiter (`,` for every type but
//! `box`), nested braces for each extra dimension, `NULL` for null elements,
//! and double quotes around any element that is empty, equals `NULL` in any
//! case, or contains braces, the delimiter, a double quote, a backslash or
//! whitespace; inside quotes `"` and `\` are escaped with a backslash. When a
//! lower bound is not 1 a dimension decoration such as `[0:1]=` comes first.
//!
//! [`parse_array`] accepts exactly that, plus what `array_in` tolerates
//! around it (whitespace between items, backslash escapes in unquoted
//! elements, the `[ub]` decoration form). Elements are returned as text;
//! converting them is up to the caller. [`to_struct_json`] renders an array's
//! shape and elements as JSON, a form a destination can load exactly.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Maximum number of array dimensions, as in the server (`MAXDIM`).
pub const MAX_DIMENSIONS: usize = 6;

/// A parsed array.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PgArray {
    /// Length of each dimension, outermost first; empty for `{}`.
    pub dims: Vec<usize>,
    /// Lower bound of each dimension (1 unless decorated).
    pub lower_bounds: Vec<i32>,
    /// Elements in row-major order; `None` is NULL.
    pub elements: Vec<Option<String>>,
}

/// An array literal could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed array literal at byte {offset}: {kind}")]
pub struct ArrayParseError {
    /// Byte offset in the text where the problem was found.
    pub offset: usize,
    /// What was wrong.
    pub kind: ArrayErrorKind,
}

/// What was wrong with an array literal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArrayErrorKind {
    #[error("unexpected end of input")]
    UnexpectedEnd,
    #[error("unexpected {found:?} character, expected {expected}")]
    UnexpectedChar { found: char, expected: &'static str },
    #[error("number of array dimensions exceeds the maximum allowed ({MAX_DIMENSIONS})")]
    TooManyDimensions,
    #[error("multidimensional arrays must have sub-arrays with matching dimensions")]
    NotRectangular,
    #[error("sub-arrays cannot be empty")]
    EmptySubArray,
    #[error("invalid array dimension bound")]
    InvalidBound,
    #[error("upper bound cannot be less than lower bound")]
    BoundsReversed,
    #[error("specified array dimensions do not match array contents")]
    DimensionMismatch,
}

type Result<T> = std::result::Result<T, ArrayParseError>;

/// Parses the text form of an array whose element type uses `,` as the
/// delimiter (every built-in type except `box`).
pub fn parse_array(text: &str) -> Result<PgArray> {
    parse_array_with_delimiter(text, ',')
}

/// Parses the text form of an array whose element type uses `delimiter`.
pub fn parse_array_with_delimiter(text: &str, delimiter: char) -> Result<PgArray> {
    let mut p = Parser { text, pos: 0, delimiter, ndim: None, dims: Vec::new(), elements: Vec::new() };
    p.skip_ws();
    let bounds = p.decoration()?;
    p.expect('{', "'{'")?;
    p.level(0)?;
    p.skip_ws();
    if let Some(c) = p.peek() {
        return Err(p.unexpected(c, "end of input after '}'"));
    }
    let dims: Vec<usize> = p.dims.iter().map_while(|d| *d).collect();
    let lower_bounds = check_bounds(&dims, bounds)?;
    Ok(PgArray { dims, lower_bounds, elements: p.elements })
}

fn is_array_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    pos: usize,
    delimiter: char,
    /// Number of dimensions, known once the first element is seen.
    ndim: Option<usize>,
    /// Length of each level, indexed by depth, known once it first closes.
    dims: Vec<Option<usize>>,
    elements: Vec<Option<String>>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_array_space) {
            self.bump();
        }
    }

    fn err(&self, kind: ArrayErrorKind) -> ArrayParseError {
        ArrayParseError { offset: self.pos, kind }
    }

    fn unexpected(&self, found: char, expected: &'static str) -> ArrayParseError {
        self.err(ArrayErrorKind::UnexpectedChar { found, expected })
    }

    /// Consumes `want` or fails.
    fn expect(&mut self, want: char, expected: &'static str) -> Result<()> {
        match self.peek() {
            Some(c) if c == want => {
                self.bump();
                Ok(())
            }
            Some(c) => Err(self.unexpected(c, expected)),
            None => Err(self.err(ArrayErrorKind::UnexpectedEnd)),
        }
    }

    /// Parses an optional `[lb:ub]...=` prefix into (lower, upper) pairs.
    fn decoration(&mut self) -> Result<Vec<(i32, i32)>> {
        let mut bounds = Vec::new();
        while self.peek() == Some('[') {
            if bounds.len() == MAX_DIMENSIONS {
                return Err(self.err(ArrayErrorKind::TooManyDimensions));
            }
            self.bump();
            bounds.push(self.dimension_bounds()?);
            self.skip_ws();
        }
        if !bounds.is_empty() {
            self.expect('=', "'=' after array dimensions")?;
            self.skip_ws();
        }
        Ok(bounds)
    }

    /// Parses `lb:ub]` or `ub]` (after the `[`).
    fn dimension_bounds(&mut self) -> Result<(i32, i32)> {
        let first = self.integer()?;
        let bounds = if self.peek() == Some(':') {
            self.bump();
            (first, self.integer()?)
        } else {
            (1, first)
        };
        self.expect(']', "']'")?;
        if bounds.1 < bounds.0 {
            return Err(self.err(ArrayErrorKind::BoundsReversed));
        }
        Ok(bounds)
    }

    fn integer(&mut self) -> Result<i32> {
        self.skip_ws();
        let start = self.pos;
        if matches!(self.peek(), Some('+' | '-')) {
            self.bump();
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        let digits = self.text.get(start..self.pos).unwrap_or_default();
        let value =
            digits.parse().map_err(|_| ArrayParseError { offset: start, kind: ArrayErrorKind::InvalidBound })?;
        self.skip_ws();
        Ok(value)
    }

    /// Parses the items of one brace level; the `{` is already consumed.
    fn level(&mut self, depth: usize) -> Result<()> {
        if depth >= MAX_DIMENSIONS {
            return Err(self.err(ArrayErrorKind::TooManyDimensions));
        }
        self.skip_ws();
        if self.peek() == Some('}') {
            return self.close_empty(depth);
        }
        let mut count = 0;
        loop {
            self.item(depth)?;
            count += 1;
            self.skip_ws();
            match self.peek() {
                Some('}') => break,
                Some(c) if c == self.delimiter => self.bump(),
                Some(c) => return Err(self.unexpected(c, "delimiter or '}'")),
                None => return Err(self.err(ArrayErrorKind::UnexpectedEnd)),
            };
        }
        self.close_level(depth, count)?;
        self.bump();
        Ok(())
    }

    /// Parses one item of a level: a sub-array or an element.
    fn item(&mut self, depth: usize) -> Result<()> {
        self.skip_ws();
        if self.peek() == Some('{') {
            if self.ndim.is_some_and(|n| n <= depth + 1) {
                return Err(self.unexpected('{', "an element"));
            }
            self.bump();
            return self.level(depth + 1);
        }
        match self.ndim {
            None => self.ndim = Some(depth + 1),
            Some(n) if n != depth + 1 => {
                return Err(match self.peek() {
                    Some(c) => self.unexpected(c, "'{'"),
                    None => self.err(ArrayErrorKind::UnexpectedEnd),
                });
            }
            Some(_) => {}
        }
        let element = self.element()?;
        self.elements.push(element);
        Ok(())
    }

    /// Handles `{}`: only valid as the whole array.
    fn close_empty(&mut self, depth: usize) -> Result<()> {
        if depth > 0 || self.ndim.is_some() {
            return Err(self.err(ArrayErrorKind::EmptySubArray));
        }
        self.bump();
        self.ndim = Some(0);
        Ok(())
    }

    /// Records or checks the length of dimension `depth`.
    fn close_level(&mut self, depth: usize, count: usize) -> Result<()> {
        if self.dims.len() <= depth {
            self.dims.resize(depth + 1, None);
        }
        match self.dims.get_mut(depth) {
            Some(slot @ None) => *slot = Some(count),
            Some(Some(n)) if *n != count => return Err(self.err(ArrayErrorKind::NotRectangular)),
            _ => {}
        }
        Ok(())
    }

    fn element(&mut self) -> Result<Option<String>> {
        if self.peek() == Some('"') {
            self.bump();
            return self.quoted().map(Some);
        }
        self.unquoted()
    }

    /// Reads a quoted element; the opening quote is already consumed.
    fn quoted(&mut self) -> Result<String> {
        let mut out = String::new();
        loop {
            match self.bump() {
                Some('"') => return Ok(out),
                Some('\\') => out.push(self.escaped_char()?),
                Some(c) => out.push(c),
                None => return Err(self.err(ArrayErrorKind::UnexpectedEnd)),
            }
        }
    }

    fn escaped_char(&mut self) -> Result<char> {
        self.bump().ok_or_else(|| self.err(ArrayErrorKind::UnexpectedEnd))
    }

    /// Reads an unquoted element up to the delimiter or `}`, trimming
    /// trailing unescaped whitespace; unescaped `NULL` (any case) is NULL.
    fn unquoted(&mut self) -> Result<Option<String>> {
        let mut out = String::new();
        let mut kept = 0;
        let mut escaped = false;
        loop {
            match self.peek() {
                None => return Err(self.err(ArrayErrorKind::UnexpectedEnd)),
                Some(c) if c == self.delimiter || c == '}' => break,
                Some(c @ ('{' | '"')) => return Err(self.unexpected(c, "delimiter or '}'")),
                Some('\\') => {
                    self.bump();
                    out.push(self.escaped_char()?);
                    kept = out.len();
                    escaped = true;
                }
                Some(c) => {
                    self.bump();
                    out.push(c);
                    if !is_array_space(c) {
                        kept = out.len();
                    }
                }
            }
        }
        out.truncate(kept);
        if out.is_empty() && !escaped {
            let found = self.peek().unwrap_or('?');
            return Err(self.unexpected(found, "an element"));
        }
        let is_null = !escaped && out.eq_ignore_ascii_case("NULL");
        Ok((!is_null).then_some(out))
    }
}

/// Checks a decoration against the parsed dimensions and returns the
/// lower bounds.
fn check_bounds(dims: &[usize], bounds: Vec<(i32, i32)>) -> Result<Vec<i32>> {
    if bounds.is_empty() {
        return Ok(vec![1; dims.len()]);
    }
    let matches = bounds.len() == dims.len()
        && bounds.iter().zip(dims).all(|(&(lb, ub), &n)| usize::try_from(i64::from(ub) - i64::from(lb) + 1) == Ok(n));
    if !matches {
        return Err(ArrayParseError { offset: 0, kind: ArrayErrorKind::DimensionMismatch });
    }
    Ok(bounds.into_iter().map(|(lb, _)| lb).collect())
}

/// Renders an array as a JSON object holding its shape and its elements:
///
/// ```text
/// {}                   {"lengths":[],"lower_bounds":[],"elements":[]}
/// {a,NULL}             {"lengths":[2],"lower_bounds":[1],"elements":["a",null]}
/// [0:1][1:2]={{1,2},{3,4}}
///                      {"lengths":[2,2],"lower_bounds":[0,1],"elements":["1","2","3","4"]}
/// ```
///
/// `lengths` and `lower_bounds` have one entry per dimension (none for an empty array);
/// `elements` are in row-major order, the server's storage order. Each element is the JSON
/// string of `element(text)` — the caller's rewrite of the element's text, or the text itself
/// — and NULL is `null`. This keeps every array exactly, whatever its number of dimensions and
/// bounds, as three flat lists.
pub fn to_struct_json<'a, E>(
    arr: &'a PgArray,
    mut element: impl FnMut(&'a str) -> std::result::Result<Cow<'a, str>, E>,
) -> std::result::Result<String, E> {
    let mut out = String::with_capacity(48 + arr.elements.iter().flatten().map(|e| e.len() + 3).sum::<usize>());
    let list = |v: &mut String, items: Vec<String>| {
        v.push('[');
        v.push_str(&items.join(","));
        v.push(']');
    };
    out.push_str("{\"lengths\":");
    list(&mut out, arr.dims.iter().map(usize::to_string).collect());
    out.push_str(",\"lower_bounds\":");
    list(&mut out, arr.lower_bounds.iter().map(i32::to_string).collect());
    out.push_str(",\"elements\":[");
    for (i, value) in arr.elements.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match value {
            Some(text) => write_json_string(&mut out, &element(text)?),
            None => out.push_str("null"),
        }
    }
    out.push_str("]}");
    Ok(out)
}

/// Appends `s` as a JSON string literal.
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[path = "array_text_tests.rs"]
mod tests;
