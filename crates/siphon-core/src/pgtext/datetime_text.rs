//! Parser for the text output of `date`, `timestamp` and `timestamptz` values printed with
//! `DateStyle = ISO`, which siphon's sessions set.
//!
//! The server prints them as described in
//! <https://www.postgresql.org/docs/current/datatype-datetime.html#DATATYPE-DATETIME-OUTPUT>:
//!
//! ```text
//! date          2024-02-29              0044-03-15 BC            5874897-12-31
//! timestamp     2024-02-29 13:45:00.5   0044-03-15 10:00:00 BC   294276-12-31 23:59:59.999999
//! timestamptz   2024-02-29 13:45:00+00  0044-03-15 10:00:00+05:53:28 BC
//! all three     infinity                -infinity
//! ```
//!
//! The year has at least four digits; the seconds carry one to six fraction digits when they
//! are not whole; a `timestamptz` ends with its UTC offset as `+HH`, `+HH:MM` or `+HH:MM:SS`.
//! A year before 1 AD is printed as a positive year with a ` BC` suffix: `0001 BC` is the year
//! before `0001`. ISO 8601 and DuckDB number years *astronomically* instead — 1 BC is year `0`,
//! 44 BC is year `-43` — and DuckDB silently ignores a ` BC` suffix. [`parse_datetime`] reads the
//! server's form into a [`DateTime`] with an astronomical year, and [`DateTime::astronomical`]
//! prints the same value with a signed astronomical year (`-0043-03-15 10:00:00`), which DuckDB
//! reads exactly.
//!
//! Dates follow the proleptic Gregorian calendar in both systems (PostgreSQL's own
//! `date2j` and DuckDB's date arithmetic), so no calendar conversion is involved.

use std::fmt::{self, Write as _};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Which of the three types a text is the output of; it decides which parts must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateTimeKind {
    /// `date`: `YYYY-MM-DD`.
    Date,
    /// `timestamp` (without time zone): `YYYY-MM-DD HH:MM:SS[.f]`.
    Timestamp,
    /// `timestamp with time zone`: `YYYY-MM-DD HH:MM:SS[.f]+HH[:MM[:SS]]`.
    TimestampTz,
}

/// A parsed `date`, `timestamp` or `timestamptz` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgDateTime {
    /// `infinity`: later than every other value.
    Infinity,
    /// `-infinity`: earlier than every other value.
    NegInfinity,
    /// A finite value.
    Finite(DateTime),
}

/// A finite date or timestamp, with an astronomical year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Astronomical year: `1` is 1 AD, `0` is 1 BC, `-43` is 44 BC.
    pub year: i32,
    /// `1..=12`.
    pub month: u32,
    /// `1..=31`, valid for the month.
    pub day: u32,
    /// Microseconds since midnight (`0..86_400_000_000`); `None` for a `date`.
    pub time_micros: Option<i64>,
    /// UTC offset in seconds, east positive; `None` unless a `timestamptz`.
    pub offset_seconds: Option<i32>,
}

/// A date or timestamp text could not be parsed.
///
/// The message names the position and the problem, never the value (values stay out of logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {kind} text at byte {offset}: {problem}")]
pub struct DateTimeParseError {
    /// The type being parsed.
    pub kind: DateTimeKind,
    /// Byte offset in the text where the problem was found.
    pub offset: usize,
    /// What was wrong.
    pub problem: &'static str,
}

/// The type's name as PostgreSQL spells it.
impl fmt::Display for DateTimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DateTimeKind::Date => "date",
            DateTimeKind::Timestamp => "timestamp",
            DateTimeKind::TimestampTz => "timestamptz",
        })
    }
}

/// Parses the server's ISO output of a `kind` value.
pub fn parse_datetime(text: &str, kind: DateTimeKind) -> Result<PgDateTime, DateTimeParseError> {
    match text {
        "infinity" => return Ok(PgDateTime::Infinity),
        "-infinity" => return Ok(PgDateTime::NegInfinity),
        _ => {}
    }
    let mut c = Cursor { text, pos: 0, kind };
    let value = c.datetime()?;
    if c.pos != text.len() {
        return Err(c.err("unexpected text after the value"));
    }
    Ok(PgDateTime::Finite(value))
}

impl DateTime {
    /// Microseconds since 1970-01-01 00:00:00 UTC (the offset applied), as DuckDB counts them.
    pub fn epoch_micros(&self) -> i128 {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        let offset = i128::from(self.offset_seconds.unwrap_or(0)) * i128::from(MICROS_PER_SECOND);
        i128::from(days) * i128::from(MICROS_PER_DAY) + i128::from(self.time_micros.unwrap_or(0)) - offset
    }

    /// The value with a signed astronomical year: `-0043-03-15`, `2024-02-29 13:45:00.5`,
    /// `0000-01-01 00:00:00+05:53:28`. Parts are printed as the server prints them.
    pub fn astronomical(&self) -> String {
        let mut out = String::with_capacity(32);
        let sign = if self.year < 0 { "-" } else { "" };
        let _ = write!(out, "{sign}{:04}-{:02}-{:02}", self.year.unsigned_abs(), self.month, self.day);
        if let Some(micros) = self.time_micros {
            out.push(' ');
            write_time(&mut out, micros);
        }
        if let Some(offset) = self.offset_seconds {
            write_offset(&mut out, offset);
        }
        out
    }
}

/// `HH:MM:SS` plus the fraction without trailing zeros.
fn write_time(out: &mut String, micros: i64) {
    let secs = micros / MICROS_PER_SECOND;
    let _ = write!(out, "{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    let fraction = micros % MICROS_PER_SECOND;
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// `+HH`, `+HH:MM` or `+HH:MM:SS`, the shortest that is exact (the server's `EncodeTimezone`).
fn write_offset(out: &mut String, seconds: i32) {
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    let _ = write!(out, "{sign}{h:02}");
    if m != 0 || s != 0 {
        let _ = write!(out, ":{m:02}");
    }
    if s != 0 {
        let _ = write!(out, ":{s:02}");
    }
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar, for an astronomical year
/// (H. Hinnant's `days_from_civil`, valid for every year).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Days in `month` of astronomical `year`.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    kind: DateTimeKind,
}

impl Cursor<'_> {
    fn err(&self, problem: &'static str) -> DateTimeParseError {
        DateTimeParseError { kind: self.kind, offset: self.pos, problem }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.pos += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8, problem: &'static str) -> Result<(), DateTimeParseError> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.err(problem))
        }
    }

    /// `min..=max` ASCII digits as a number.
    fn digits(&mut self, min: usize, max: usize, problem: &'static str) -> Result<u32, DateTimeParseError> {
        let rest = self.text.as_bytes().get(self.pos..).unwrap_or_default();
        let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if !(min..=max).contains(&n) {
            return Err(self.err(problem));
        }
        let value = rest.iter().take(n).fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
        self.pos += n;
        Ok(value)
    }

    fn datetime(&mut self) -> Result<DateTime, DateTimeParseError> {
        // Seven digits hold PostgreSQL's latest date (5874897); nine keep the arithmetic in range.
        let printed_year = self.digits(4, 9, "expected a year of at least four digits")?;
        self.expect(b'-', "expected '-' after the year")?;
        let month = self.digits(2, 2, "expected a two-digit month")?;
        self.expect(b'-', "expected '-' after the month")?;
        let day_start = self.pos;
        let day = self.digits(2, 2, "expected a two-digit day")?;
        let (time_micros, offset_seconds) = match self.kind {
            DateTimeKind::Date => (None, None),
            DateTimeKind::Timestamp => (Some(self.time()?), None),
            DateTimeKind::TimestampTz => (Some(self.time()?), Some(self.offset()?)),
        };
        let year = self.era(printed_year)?;
        if !(1..=12).contains(&month) {
            return Err(DateTimeParseError { offset: day_start - 3, ..self.err("month out of range") });
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(DateTimeParseError { offset: day_start, ..self.err("day out of range for the month") });
        }
        Ok(DateTime { year, month, day, time_micros, offset_seconds })
    }

    /// The optional ` BC` suffix: turns the printed year into an astronomical one.
    fn era(&mut self, printed_year: u32) -> Result<i32, DateTimeParseError> {
        let year = i32::try_from(printed_year).map_err(|_| self.err("year out of range"))?;
        if self.text.get(self.pos..) == Some(" BC") {
            if year == 0 {
                return Err(self.err("there is no year 0 BC"));
            }
            self.pos += 3;
            return Ok(1 - year);
        }
        Ok(year)
    }

    /// ` HH:MM:SS[.f{1,6}]` as microseconds since midnight.
    fn time(&mut self) -> Result<i64, DateTimeParseError> {
        self.expect(b' ', "expected ' ' before the time")?;
        let hour = self.digits(2, 2, "expected a two-digit hour")?;
        self.expect(b':', "expected ':' after the hour")?;
        let minute = self.digits(2, 2, "expected two-digit minutes")?;
        self.expect(b':', "expected ':' after the minutes")?;
        let second = self.digits(2, 2, "expected two-digit seconds")?;
        if hour > 23 || minute > 59 || second > 59 {
            return Err(self.err("time of day out of range"));
        }
        let mut micros = i64::from((hour * 60 + minute) * 60 + second) * MICROS_PER_SECOND;
        if self.eat(b'.') {
            let start = self.pos;
            let fraction = self.digits(1, 6, "expected one to six fraction digits")?;
            let scale = 10i64.pow(6 - u32::try_from(self.pos - start).unwrap_or(6));
            micros += i64::from(fraction) * scale;
        }
        Ok(micros)
    }

    /// `+HH[:MM[:SS]]` or `-HH[:MM[:SS]]` as seconds east of UTC.
    fn offset(&mut self) -> Result<i32, DateTimeParseError> {
        let negative = match self.peek() {
            Some(b'+') => false,
            Some(b'-') => true,
            _ => return Err(self.err("expected a UTC offset (+HH)")),
        };
        self.pos += 1;
        let hours = self.digits(2, 2, "expected two-digit offset hours")?;
        let minutes = if self.eat(b':') { self.digits(2, 2, "expected two-digit offset minutes")? } else { 0 };
        let seconds = if self.eat(b':') { self.digits(2, 2, "expected two-digit offset seconds")? } else { 0 };
        if minutes > 59 || seconds > 59 {
            return Err(self.err("UTC offset out of range"));
        }
        let total =
            i32::try_from((hours * 60 + minutes) * 60 + seconds).map_err(|_| self.err("UTC offset out of range"))?;
        Ok(if negative { -total } else { total })
    }
}

#[cfg(test)]
#[path = "datetime_text_tests.rs"]
mod tests;
