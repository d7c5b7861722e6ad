//! Parser for `interval` values printed in the default `postgres`
//! `IntervalStyle`.
//!
//! The server keeps an interval as three independent fields (months, days,
//! microseconds) and prints it as described in
//! <https://www.postgresql.org/docs/current/datatype-datetime.html#DATATYPE-INTERVAL-OUTPUT>:
//! nonzero `N year(s)`, `N mon(s)`, `N day(s)` parts, then a
//! `[+-]HH:MM:SS[.ffffff]` time part when the time is nonzero or nothing
//! else was printed. Examples: `00:00:00`, `1 day`, `-1 days +02:03:04.5`,
//! `1 year 2 mons 3 days 04:05:06.789012`, `-178000000 years`,
//! `1 mon -1 days`, `-00:00:00.000001`. A `+` is printed before a positive
//! part that follows a negative one; a sign on the time part applies to the
//! whole `HH:MM:SS`. Years and months are combined into [`PgInterval::months`].
//!
//! `infinity` and `-infinity` (PostgreSQL 17 and later) parse to
//! [`PgInterval::INFINITY`] and [`PgInterval::NEG_INFINITY`], which use the
//! same field values the server uses to represent them.

use std::fmt;

const MICROS_PER_SECOND: i128 = 1_000_000;

/// An interval as the server stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PgInterval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl PgInterval {
    /// `infinity` (PostgreSQL 17+).
    pub const INFINITY: PgInterval = PgInterval { months: i32::MAX, days: i32::MAX, micros: i64::MAX };
    /// `-infinity` (PostgreSQL 17+).
    pub const NEG_INFINITY: PgInterval = PgInterval { months: i32::MIN, days: i32::MIN, micros: i64::MIN };
}

/// An interval could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input syntax for type interval: \"{text}\": {kind}")]
pub struct IntervalParseError {
    /// The text that was being parsed.
    pub text: String,
    /// What was wrong.
    pub kind: IntervalErrorKind,
}

/// What was wrong with an interval.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntervalErrorKind {
    #[error("empty input")]
    Empty,
    #[error("invalid number \"{0}\"")]
    InvalidNumber(String),
    #[error("missing unit after \"{0}\"")]
    MissingUnit(String),
    #[error("unknown unit \"{0}\"")]
    UnknownUnit(String),
    #[error("unit \"{0}\" repeated or out of order")]
    UnitOutOfOrder(String),
    #[error("invalid time \"{0}\"")]
    InvalidTime(String),
    #[error("unexpected \"{0}\" after the time")]
    TrailingText(String),
    #[error("{0} out of range")]
    OutOfRange(Field),
}

/// An interval field, for range errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Months,
    Days,
    Time,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Months => "months",
            Field::Days => "days",
            Field::Time => "time",
        })
    }
}

/// The date units, in the order the server prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Year,
    Mon,
    Day,
}

impl Unit {
    fn parse(word: &str) -> Option<Unit> {
        match word {
            "year" | "years" => Some(Unit::Year),
            "mon" | "mons" => Some(Unit::Mon),
            "day" | "days" => Some(Unit::Day),
            _ => None,
        }
    }
}

/// Parses an interval printed with `IntervalStyle = postgres`.
pub fn parse_interval(text: &str) -> Result<PgInterval, IntervalParseError> {
    parse_tokens(text).map_err(|kind| IntervalParseError { text: text.to_owned(), kind })
}

fn parse_tokens(text: &str) -> Result<PgInterval, IntervalErrorKind> {
    match text.trim() {
        "" => return Err(IntervalErrorKind::Empty),
        "infinity" => return Ok(PgInterval::INFINITY),
        "-infinity" => return Ok(PgInterval::NEG_INFINITY),
        _ => {}
    }
    let mut tokens = text.split_ascii_whitespace();
    let (mut months, mut days, mut micros) = (0i64, 0i64, 0i64);
    let mut last_unit: Option<Unit> = None;
    while let Some(token) = tokens.next() {
        if token.contains(':') {
            micros = parse_time(token)?;
            if let Some(extra) = tokens.next() {
                return Err(IntervalErrorKind::TrailingText(extra.to_owned()));
            }
            break;
        }
        let unit = next_unit(&mut tokens, token, last_unit)?;
        last_unit = Some(unit);
        let (field, factor) = match unit {
            Unit::Year => (Field::Months, 12),
            Unit::Mon => (Field::Months, 1),
            Unit::Day => (Field::Days, 1),
        };
        let value = parse_number(token, field)?;
        let add = |acc: i64| {
            value.checked_mul(factor).and_then(|v| v.checked_add(acc)).ok_or(IntervalErrorKind::OutOfRange(field))
        };
        match unit {
            Unit::Day => days = add(0)?,
            _ => months = add(months)?,
        }
    }
    Ok(PgInterval {
        months: i32::try_from(months).map_err(|_| IntervalErrorKind::OutOfRange(Field::Months))?,
        days: i32::try_from(days).map_err(|_| IntervalErrorKind::OutOfRange(Field::Days))?,
        micros,
    })
}

/// Reads the unit word after `number`, which must come after `last`.
fn next_unit<'a>(
    tokens: &mut impl Iterator<Item = &'a str>,
    number: &str,
    last: Option<Unit>,
) -> Result<Unit, IntervalErrorKind> {
    let word = tokens.next().ok_or_else(|| IntervalErrorKind::MissingUnit(number.to_owned()))?;
    let unit = Unit::parse(word).ok_or_else(|| IntervalErrorKind::UnknownUnit(word.to_owned()))?;
    if last.is_some_and(|l| l >= unit) {
        return Err(IntervalErrorKind::UnitOutOfOrder(word.to_owned()));
    }
    Ok(unit)
}

/// Parses `[+-]digits`; too large for i64 is out of range for `field`.
fn parse_number(token: &str, field: Field) -> Result<i64, IntervalErrorKind> {
    let (_, digits) = split_sign(token);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IntervalErrorKind::InvalidNumber(token.to_owned()));
    }
    token.parse().map_err(|_| IntervalErrorKind::OutOfRange(field))
}

fn split_sign(token: &str) -> (bool, &str) {
    if let Some(rest) = token.strip_prefix('-') {
        (true, rest)
    } else {
        (false, token.strip_prefix('+').unwrap_or(token))
    }
}

/// Parses `[+-]H+:MM:SS[.f{1,6}]` into signed microseconds.
fn parse_time(token: &str) -> Result<i64, IntervalErrorKind> {
    let invalid = || IntervalErrorKind::InvalidTime(token.to_owned());
    let (negative, body) = split_sign(token);
    let mut parts = body.splitn(3, ':');
    let (Some(h), Some(m), Some(sec)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let (s, frac) = match sec.split_once('.') {
        Some((_, "")) => return Err(invalid()),
        Some(pair) => pair,
        None => (sec, ""),
    };
    let hours = digits(h, 1, 19).ok_or_else(invalid)?;
    let minutes = digits(m, 2, 2).filter(|&v| v < 60).ok_or_else(invalid)?;
    let seconds = digits(s, 2, 2).filter(|&v| v < 60).ok_or_else(invalid)?;
    let fraction = fraction_micros(frac).ok_or_else(invalid)?;
    let total =
        (i128::from(hours) * 3600 + i128::from(minutes * 60 + seconds)) * MICROS_PER_SECOND + i128::from(fraction);
    let signed = if negative { -total } else { total };
    i64::try_from(signed).map_err(|_| IntervalErrorKind::OutOfRange(Field::Time))
}

/// Parses an all-digit string of `min..=max` digits.
fn digits(s: &str, min: usize, max: usize) -> Option<u64> {
    let ok = (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| s.parse().ok()).flatten()
}

/// Converts up to six fraction digits to microseconds ("5" -> 500000).
fn fraction_micros(frac: &str) -> Option<u32> {
    if frac.is_empty() {
        return Some(0);
    }
    let value = u32::try_from(digits(frac, 1, 6)?).ok()?;
    let scale = 10u32.pow(6 - u32::try_from(frac.len()).ok()?);
    Some(value * scale)
}

#[cfg(test)]
#[path = "interval_text_tests.rs"]
mod tests;
