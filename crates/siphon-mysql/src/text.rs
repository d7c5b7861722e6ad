//! Values in PostgreSQL text form.
//!
//! Both paths end here: the binlog stream (values decoded from row images, first brought to the
//! form the binary protocol uses by [`canonical_binlog_value`]) and the snapshot (values read
//! with the binary protocol and `character_set_results = binary`, so strings arrive as the
//! stored bytes). One function, [`pg_text`], turns such a value into the text PostgreSQL's
//! output function prints for the mapped type (`types.rs`), so snapshot and stream cannot
//! disagree.
//!
//! Rules (docs/mysql.md):
//! * zero dates: a `DATE`, `DATETIME` or `TIMESTAMP` whose month or day is zero
//!   (`'0000-00-00'`, `'2024-00-10'`) has no PostgreSQL value and becomes NULL (as Debezium
//!   does). Year 0 (`'0000-01-01'`) is 1 BC in the proleptic calendar: `0001-01-01 BC`.
//! * `TIME` is an interval: `-838:59:59`, `25:00:00.5`.
//! * text is decoded from the column's character set; bytes that are invalid in it are an
//!   error naming the column (a table-scoped error), never replaced.
//! * `CHAR(n)` is the value MySQL returns: trailing spaces removed (as MySQL does on every read
//!   unless `PAD_CHAR_TO_FULL_LENGTH`), so it maps to `character varying(n)`, not to PostgreSQL's
//!   blank-padded `character(n)`. `BINARY(n)` is zero-padded to `n` bytes, as MySQL stores and
//!   returns it (the binlog drops the padding of both).
//! * `FLOAT` / `DOUBLE`: the shortest text that reads back as the same value, in PostgreSQL's
//!   layout (`1e+15`, `3.4028235e+38`).

use mysql_common::binlog::jsonb;
use mysql_common::value::Value;
use siphon_core::pgtext::array_text::write_json_string;

use crate::types::{Charset, ColumnKind};

/// Why a value could not be turned into text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ValueError {
    #[error("bytes that are not valid {charset} text")]
    InvalidText { charset: String },
    #[error("character set {0} is not supported")]
    UnsupportedCharset(String),
    #[error("unexpected {found} value for a {kind} column")]
    Unexpected { found: &'static str, kind: String },
    #[error("undecodable JSON value: {0}")]
    Json(String),
}

fn unexpected(v: &Value, kind: &ColumnKind) -> ValueError {
    let found = match v {
        Value::NULL => "NULL",
        Value::Bytes(_) => "bytes",
        Value::Int(_) => "int",
        Value::UInt(_) => "uint",
        Value::Float(_) => "float",
        Value::Double(_) => "double",
        Value::Date(..) => "date",
        Value::Time(..) => "time",
    };
    ValueError::Unexpected { found, kind: format!("{kind:?}").chars().take(40).collect() }
}

/// The PostgreSQL text of `v`, a value of a column of kind `kind` (as the binary protocol
/// delivers it, or as [`canonical_binlog_value`] made it); `None` for NULL.
pub fn pg_text(kind: &ColumnKind, v: &Value) -> Result<Option<String>, ValueError> {
    use ColumnKind as K;
    if *v == Value::NULL {
        return Ok(None);
    }
    let text = match (kind, v) {
        (K::Int { .. } | K::Year, Value::Int(i)) => itoa::Buffer::new().format(*i).to_string(),
        (K::Int { .. } | K::Year, Value::UInt(u)) => itoa::Buffer::new().format(*u).to_string(),
        (K::Year, Value::Bytes(b)) => year_text(b).ok_or_else(|| unexpected(v, kind))?,
        (K::Decimal { .. }, Value::Bytes(b)) => decimal_text(b).ok_or_else(|| unexpected(v, kind))?,
        (K::Float, Value::Float(f)) => float4_text(*f),
        (K::Float, Value::Double(d)) => float4_text(*d as f32),
        (K::Double, Value::Double(d)) => float8_text(*d),
        (K::Date, Value::Date(y, m, d, ..)) => return Ok(date_text(*y, *m, *d)),
        (K::DateTime { .. }, Value::Date(y, mo, d, h, mi, s, us)) => {
            return Ok(datetime_text(*y, *mo, *d, *h, *mi, *s, *us, ""))
        }
        (K::Timestamp { .. }, Value::Date(y, mo, d, h, mi, s, us)) => {
            return Ok(datetime_text(*y, *mo, *d, *h, *mi, *s, *us, "+00"))
        }
        (K::Time { .. }, Value::Time(neg, days, h, m, s, us)) => interval_text(*neg, *days, *h, *m, *s, *us),
        (
            K::Char { charset, .. }
            | K::VarChar { charset, .. }
            | K::Text { charset }
            | K::Enum { charset, .. }
            | K::Set { charset, .. },
            Value::Bytes(b),
        ) => decode(charset, b)?,
        (K::Binary { bytes }, Value::Bytes(b)) => {
            let mut padded = b.clone();
            padded.resize(padded.len().max(*bytes as usize), 0);
            bytea_text(&padded)
        }
        (K::Blob | K::Geometry, Value::Bytes(b)) => bytea_text(b),
        (K::Bit { bits }, Value::Bytes(b)) => bit_text(b, *bits),
        (K::Bit { bits }, Value::UInt(u)) => bit_text(&u.to_be_bytes(), *bits),
        (K::Bit { bits }, Value::Int(i)) => bit_text(&i.to_be_bytes(), *bits),
        (K::Json, Value::Bytes(b)) => decode(&Charset::Utf8, b)?,
        _ => return Err(unexpected(v, kind)),
    };
    Ok(Some(text))
}

/// Brings a value decoded from a binlog row image to the form the binary protocol gives the
/// snapshot: ENUM index -> label, SET bitmask -> `a,b`, TIMESTAMP epoch -> UTC date-time,
/// YEAR `1900 + y` -> the year (0 for the zero year), binary JSON -> JSON text.
pub fn canonical_binlog_value(
    kind: &ColumnKind,
    v: mysql_common::binlog::value::BinlogValue<'_>,
) -> Result<Value, ValueError> {
    use mysql_common::binlog::value::BinlogValue as B;
    let v = match v {
        B::Value(v) => v,
        B::Jsonb(j) => return Ok(Value::Bytes(json_text(j)?.into_bytes())),
        B::JsonDiff(_) => {
            return Err(ValueError::Json("partial JSON update (set binlog_row_value_options to '')".into()))
        }
    };
    Ok(match (kind, v) {
        (ColumnKind::Enum { labels, .. }, Value::Int(i)) => {
            Value::Bytes(usize::try_from(i - 1).ok().and_then(|i| labels.get(i)).cloned().unwrap_or_default())
        }
        (ColumnKind::Set { labels, .. }, Value::Bytes(mask)) => {
            let mut out = Vec::new();
            for (i, label) in labels.iter().enumerate() {
                if mask.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0) {
                    if !out.is_empty() {
                        out.push(b',');
                    }
                    out.extend_from_slice(label);
                }
            }
            Value::Bytes(out)
        }
        (ColumnKind::Timestamp { .. }, Value::Bytes(epoch)) => timestamp_from_epoch(&epoch)
            .ok_or_else(|| ValueError::Unexpected { found: "bytes", kind: "timestamp".into() })?,
        (ColumnKind::Timestamp { .. }, Value::Int(secs)) => {
            timestamp_from_epoch(secs.to_string().as_bytes()).unwrap_or(Value::NULL)
        }
        (ColumnKind::Year, Value::Bytes(b)) if b == b"1900" => Value::Int(0),
        (_, v) => v,
    })
}

/// `sec[.usec]` since the Unix epoch (UTC) -> a date-time; 0 is MySQL's zero timestamp.
fn timestamp_from_epoch(epoch: &[u8]) -> Option<Value> {
    let s = std::str::from_utf8(epoch).ok()?;
    let (sec, usec) = s.split_once('.').unwrap_or((s, "0"));
    let (sec, usec): (i64, u32) = (sec.parse().ok()?, usec.parse().ok()?);
    if sec == 0 && usec == 0 {
        return Some(Value::Date(0, 0, 0, 0, 0, 0, 0));
    }
    let (days, rem) = (sec.div_euclid(86_400), sec.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    Some(Value::Date(y as u16, m, d, (rem / 3600) as u8, (rem % 3600 / 60) as u8, (rem % 60) as u8, usec))
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn year_text(b: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(b).ok()?;
    let y: u16 = s.parse().ok()?;
    Some(if y == 1900 { "0".into() } else { y.to_string() })
}

fn decimal_text(b: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(b).ok()?;
    let valid = !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit() || c == b'.' || c == b'-');
    if !valid {
        return None;
    }
    let digits_zero = s.bytes().all(|c| c == b'0' || c == b'.' || c == b'-');
    Some(if digits_zero { s.trim_start_matches('-').to_string() } else { s.to_string() })
}

/// `YYYY-MM-DD`, NULL for a zero month or day; year 0 is `0001-.. BC`.
fn date_text(y: u16, m: u8, d: u8) -> Option<String> {
    if m == 0 || d == 0 {
        return None;
    }
    Some(if y == 0 { format!("0001-{m:02}-{d:02} BC") } else { format!("{y:04}-{m:02}-{d:02}") })
}

#[allow(clippy::too_many_arguments)]
fn datetime_text(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8, us: u32, zone: &str) -> Option<String> {
    if mo == 0 || d == 0 {
        return None;
    }
    // Digit by digit: this runs for every temporal value the stream carries.
    let mut out = String::with_capacity(32);
    push_digits(&mut out, u32::from(if y == 0 { 1 } else { y }), 4);
    out.push('-');
    push_digits(&mut out, u32::from(mo), 2);
    out.push('-');
    push_digits(&mut out, u32::from(d), 2);
    out.push(' ');
    push_digits(&mut out, u32::from(h), 2);
    out.push(':');
    push_digits(&mut out, u32::from(mi), 2);
    out.push(':');
    push_digits(&mut out, u32::from(s), 2);
    push_fraction(&mut out, us);
    out.push_str(zone);
    if y == 0 {
        out.push_str(" BC");
    }
    Some(out)
}

/// `n` in decimal, zero-padded to at least `width` digits.
fn push_digits(out: &mut String, n: u32, width: usize) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(n);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

/// `.123` for 123000 µs; nothing for 0 (PostgreSQL drops trailing zeros).
fn push_fraction(out: &mut String, us: u32) {
    if us == 0 {
        return;
    }
    let mut digits = [b'0'; 6];
    let mut n = us;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let len = 6 - digits.iter().rev().take_while(|&&d| d == b'0').count();
    out.push('.');
    out.push_str(std::str::from_utf8(&digits[..len]).expect("ASCII digits"));
}

fn fraction(us: u32) -> String {
    let mut s = String::new();
    push_fraction(&mut s, us);
    s
}

/// PostgreSQL's interval output (`IntervalStyle = postgres`) for a time of day or duration:
/// hours are not folded into days (`838:59:59`), the sign leads.
fn interval_text(neg: bool, days: u32, h: u8, m: u8, s: u8, us: u32) -> String {
    let hours = u64::from(days) * 24 + u64::from(h);
    let zero = hours == 0 && m == 0 && s == 0 && us == 0;
    let sign = if neg && !zero { "-" } else { "" };
    format!("{sign}{hours:02}:{m:02}:{s:02}{}", fraction(us))
}

fn bytea_text(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * b.len());
    s.push_str("\\x");
    for byte in b {
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

/// The low `bits` bits of the big-endian bytes `b`, most significant first.
fn bit_text(b: &[u8], bits: u16) -> String {
    let total = b.len() * 8;
    (0..usize::from(bits))
        .map(|i| {
            let pos = total as isize - usize::from(bits) as isize + i as isize; // bit index from the left
            if pos < 0 {
                '0'
            } else {
                let pos = pos as usize;
                if b[pos / 8] & (0x80 >> (pos % 8)) != 0 {
                    '1'
                } else {
                    '0'
                }
            }
        })
        .collect()
}

/// PostgreSQL's `float8out`: shortest round-trip digits, fixed notation for decimal exponents
/// -4..15, else `d.ddde+XX`.
pub fn float8_text(v: f64) -> String {
    float_text(format!("{v:e}"), 15)
}

/// PostgreSQL's `float4out`: as [`float8_text`] with fixed notation for exponents -4..6.
pub fn float4_text(v: f32) -> String {
    float_text(format!("{v:e}"), 6)
}

fn float_text(sci: String, fixed_below: i32) -> String {
    match sci.as_str() {
        "inf" => return "Infinity".into(),
        "-inf" => return "-Infinity".into(),
        "NaN" => return "NaN".into(),
        _ => {}
    }
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..fixed_below).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp < 0 {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        } else if exp + 1 >= n {
            format!("{}{}", digits, "0".repeat((exp + 1 - n) as usize))
        } else {
            format!("{}.{}", &digits[..(exp + 1) as usize], &digits[(exp + 1) as usize..])
        };
        format!("{sign}{body}")
    } else {
        let m = if digits.len() > 1 { format!("{}.{}", &digits[..1], &digits[1..]) } else { digits };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

/// Decodes `b` from `charset` to UTF-8; invalid bytes are an error.
pub fn decode(charset: &Charset, b: &[u8]) -> Result<String, ValueError> {
    let invalid = |name: &str| ValueError::InvalidText { charset: name.to_string() };
    match charset {
        Charset::Utf8 => String::from_utf8(b.to_vec()).map_err(|_| invalid("utf8mb4")),
        Charset::Latin1 => Ok(b.iter().map(|&c| latin1_char(c)).collect()),
        Charset::Ascii => {
            if b.is_ascii() {
                Ok(String::from_utf8(b.to_vec()).expect("ascii is utf-8"))
            } else {
                Err(invalid("ascii"))
            }
        }
        Charset::Utf16Be | Charset::Utf16Le => {
            if !b.len().is_multiple_of(2) {
                return Err(invalid("utf16"));
            }
            let units = b.chunks_exact(2).map(|p| {
                if *charset == Charset::Utf16Be {
                    u16::from_be_bytes([p[0], p[1]])
                } else {
                    u16::from_le_bytes([p[0], p[1]])
                }
            });
            char::decode_utf16(units).collect::<Result<String, _>>().map_err(|_| invalid("utf16"))
        }
        Charset::Utf32Be => {
            if !b.len().is_multiple_of(4) {
                return Err(invalid("utf32"));
            }
            b.chunks_exact(4)
                .map(|p| char::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]])).ok_or_else(|| invalid("utf32")))
                .collect()
        }
        // Only reached for ENUM/SET labels of a binary column set; keep the bytes as text when
        // they are UTF-8.
        Charset::Binary => String::from_utf8(b.to_vec()).map_err(|_| invalid("binary")),
        Charset::Unsupported(name) => Err(ValueError::UnsupportedCharset(name.clone())),
    }
}

/// MySQL's `latin1` is Windows-1252 whose five unassigned bytes map to the C1 controls.
fn latin1_char(c: u8) -> char {
    const HIGH: [u32; 32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D,
        0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0x009D, 0x017E, 0x0178,
    ];
    match c {
        0x80..=0x9F => char::from_u32(HIGH[usize::from(c - 0x80)]).expect("valid code point"),
        _ => char::from(c),
    }
}

/// MySQL's text form of a binary JSON value (`{"a": 1, "b": [true, null]}`, keys in stored
/// order), as `JSON` columns print in MySQL 8 (`Json_wrapper::to_string`, sql-common/json_dom.cc):
/// doubles as `my_gcvt` prints them with `.0` added to integral ones (`1.0`, `1e15`); opaque
/// DECIMAL as the number, DATE/TIME/DATETIME/TIMESTAMP as quoted strings with 6 fractional
/// digits, VAR_STRING as a string, any other opaque value as `"base64:typeNN:<base64>"`.
/// Strings must be valid UTF-8 (utf8mb4): anything else is an error, never replaced.
pub fn json_text(v: jsonb::Value<'_>) -> Result<String, ValueError> {
    let mut out = String::new();
    write_json(&mut out, v, 0)?;
    Ok(out)
}

fn write_json(out: &mut String, v: jsonb::Value<'_>, depth: usize) -> Result<(), ValueError> {
    use jsonb::Value as J;
    if depth > 200 {
        return Err(ValueError::Json("nested too deeply".into()));
    }
    let err = |e: std::io::Error| ValueError::Json(e.to_string());
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        J::I16(x) => out.push_str(&x.to_string()),
        J::U16(x) => out.push_str(&x.to_string()),
        J::I32(x) => out.push_str(&x.to_string()),
        J::U32(x) => out.push_str(&x.to_string()),
        J::I64(x) => out.push_str(&x.to_string()),
        J::U64(x) => out.push_str(&x.to_string()),
        J::F64(x) => out.push_str(&json_double(x)),
        J::String(s) => write_json_string(out, json_str(s.str_raw())?),
        J::SmallArray(a) => write_array(out, a.iter().map(|e| e.map_err(err)), depth)?,
        J::LargeArray(a) => write_array(out, a.iter().map(|e| e.map_err(err)), depth)?,
        J::SmallObject(o) => write_object(out, o.iter().map(|e| e.map_err(err)), depth)?,
        J::LargeObject(o) => write_object(out, o.iter().map(|e| e.map_err(err)), depth)?,
        J::Opaque(o) if o.value_type() == mysql_common::constants::ColumnType::MYSQL_TYPE_VAR_STRING => {
            write_json_string(out, json_str(o.data_raw())?)
        }
        opaque @ J::Opaque(_) => {
            let field_type = opaque.field_type().map_or(0, |t| t as u8);
            let data = match &opaque {
                J::Opaque(o) => o.data_raw().to_vec(),
                _ => Vec::new(),
            };
            match opaque.parse().map_err(err)? {
                jsonb::JsonDom::Scalar(jsonb::JsonScalar::Number(jsonb::JsonNumber::Decimal(d))) => {
                    out.push_str(&d.to_string())
                }
                jsonb::JsonDom::Scalar(jsonb::JsonScalar::DateTime(t)) => write_json_string(out, &format!("{t:.6}")),
                _ => write_json_string(out, &format!("base64:type{field_type}:{}", mysql_base64(&data))),
            }
        }
    }
    Ok(())
}

fn write_array<'a>(
    out: &mut String,
    items: impl Iterator<Item = Result<jsonb::Value<'a>, ValueError>>,
    depth: usize,
) -> Result<(), ValueError> {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_json(out, item?, depth + 1)?;
    }
    out.push(']');
    Ok(())
}

fn write_object<'a>(
    out: &mut String,
    items: impl Iterator<Item = Result<(jsonb::ObjectKey<'a>, jsonb::Value<'a>), ValueError>>,
    depth: usize,
) -> Result<(), ValueError> {
    out.push('{');
    for (i, item) in items.enumerate() {
        let (k, v) = item?;
        if i > 0 {
            out.push_str(", ");
        }
        write_json_string(out, json_str(k.value_raw())?);
        out.push_str(": ");
        write_json(out, v, depth + 1)?;
    }
    out.push('}');
    Ok(())
}

fn json_str(b: &[u8]) -> Result<&str, ValueError> {
    std::str::from_utf8(b).map_err(|_| ValueError::Json("a string that is not valid UTF-8".into()))
}

/// MySQL's `base64_encode` (mysys/base64.cc): standard alphabet and padding, and a newline
/// before every further 76 characters.
fn mysql_base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + 4);
    for (i, chunk) in data.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push('\n');
        }
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let c = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(c >> 18) as usize & 63] as char);
        out.push(T[(c >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { T[(c >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { T[c as usize & 63] as char } else { '=' });
    }
    out
}

/// A JSON double as MySQL prints it: `my_gcvt(x, MY_GCVT_ARG_DOUBLE, MY_GCVT_MAX_FIELD_WIDTH)`
/// (strings/dtoa.cc), then `.0` when that has neither `.` nor `e` (json_dom.cc). `my_gcvt`
/// takes the shortest digits that read back as `x` and uses the fixed format when the decimal
/// point position `decpt` (`x = 0.d1d2.. * 10^decpt`) is in -14..=15 (or the digits reach past
/// the point), else `d.ddde[-]N`: `0.1`, `1.0`, `100000000000000.0`, `1e15`, `0.000000000000001`,
/// `1e-15`... (width 34, never reached by a double's at most 17 digits).
fn json_double(x: f64) -> String {
    if !x.is_finite() {
        return "0.0".to_string(); // cannot be stored in a JSON document
    }
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = if digits.trim_matches('0').is_empty() { "0".to_string() } else { digits };
    let decpt = exp.parse::<i32>().unwrap_or(0) + 1;
    let len = digits.len() as i32;
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let fixed = (-14..=15).contains(&decpt) || (decpt > 15 && len > decpt);
    let text = if fixed {
        if decpt <= 0 {
            format!("0.{}{digits}", "0".repeat((-decpt) as usize))
        } else if decpt < len {
            format!("{}.{}", &digits[..decpt as usize], &digits[decpt as usize..])
        } else {
            format!("{digits}{}", "0".repeat((decpt - len) as usize))
        }
    } else {
        let rest = if len > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        format!("{}{rest}e{}", &digits[..1], decpt - 1)
    };
    if text.contains(['.', 'e']) {
        format!("{sign}{text}")
    } else {
        format!("{sign}{text}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The digit-by-digit date-time text is the formatted one.
        #[test]
        fn datetime_text_is_the_formatted_text(
            y in 0u16..10000, mo in 1u8..13, d in 1u8..32, h in 0u8..24, mi in 0u8..60, s in 0u8..60,
            us in prop_oneof![Just(0u32), 0u32..1_000_000, Just(100_000), Just(5)], tz in any::<bool>(),
        ) {
            let zone = if tz { "+00" } else { "" };
            let frac = if us == 0 { String::new() } else { format!(".{us:06}").trim_end_matches('0').to_string() };
            let (year, bc) = if y == 0 { (1, " BC") } else { (y, "") };
            let want = format!("{year:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}{frac}{zone}{bc}");
            prop_assert_eq!(datetime_text(y, mo, d, h, mi, s, us, zone), Some(want));
        }
    }

    #[test]
    fn floats_print_like_postgres() {
        // Values checked against PostgreSQL 15's float8out / float4out.
        for (v, s) in [
            (1e14, "100000000000000"),
            (1e15, "1e+15"),
            (123456789012345.0, "123456789012345"),
            (1234567890123456.0, "1.234567890123456e+15"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (f64::MAX, "1.7976931348623157e+308"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (-0.0, "-0"),
            (5e-324, "5e-324"),
            (0.1, "0.1"),
            (-1.5, "-1.5"),
        ] {
            assert_eq!(float8_text(v), s, "{v}");
        }
        for (v, s) in [
            (3.4028235e38f32, "3.4028235e+38"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.175_494_4e-38, "1.1754944e-38"),
            (1e-45, "1e-45"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
            (0.5, "0.5"),
        ] {
            assert_eq!(float4_text(v), s, "{v}");
        }
    }

    #[test]
    fn times_and_dates_print_like_postgres() {
        assert_eq!(interval_text(false, 34, 22, 59, 59, 0), "838:59:59");
        assert_eq!(interval_text(true, 34, 22, 59, 59, 0), "-838:59:59");
        assert_eq!(interval_text(true, 0, 0, 0, 1, 500_000), "-00:00:01.5");
        assert_eq!(interval_text(true, 0, 0, 0, 0, 0), "00:00:00");
        assert_eq!(date_text(0, 1, 1).unwrap(), "0001-01-01 BC");
        assert_eq!(date_text(2024, 0, 1), None);
        assert_eq!(datetime_text(2024, 1, 1, 12, 0, 0, 100_000, "+00").unwrap(), "2024-01-01 12:00:00.1+00");
        assert_eq!(datetime_text(0, 1, 1, 0, 0, 0, 0, "").unwrap(), "0001-01-01 00:00:00 BC");
        assert_eq!(timestamp_from_epoch(b"1700000000.000123"), Some(Value::Date(2023, 11, 14, 22, 13, 20, 123)));
        assert_eq!(timestamp_from_epoch(b"2147483647"), Some(Value::Date(2038, 1, 19, 3, 14, 7, 0)));
    }

    #[test]
    fn json_doubles_print_like_mysql() {
        // my_gcvt + ".0" (json_dom.cc wrapper_to_string), worked through by hand.
        for (v, s) in [
            (1.0, "1.0"),
            (-2.0, "-2.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (1e14, "100000000000000.0"),
            (1e15, "1e15"),
            (1.5e15, "1.5e15"),
            (1234567890123456.7, "1234567890123456.8"),
            (1e-5, "0.00001"),
            (1e-15, "0.000000000000001"),
            (1e-16, "1e-16"),
            (-1.25e-20, "-1.25e-20"),
            (1.7976931348623157e308, "1.7976931348623157e308"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(json_double(v), s, "{v:e}");
        }
    }

    #[test]
    fn base64_breaks_lines_like_mysql() {
        assert_eq!(mysql_base64(b""), "");
        assert_eq!(mysql_base64(b"a"), "YQ==");
        assert_eq!(mysql_base64(b"ab"), "YWI=");
        assert_eq!(mysql_base64(b"abc"), "YWJj");
        let long = mysql_base64(&[0u8; 60]);
        assert_eq!(long, format!("{}\n{}", "A".repeat(76), "A".repeat(4)));
    }

    #[test]
    fn bits_bytes_and_text() {
        assert_eq!(bit_text(&[0x05], 4), "0101");
        assert_eq!(bit_text(&[0x01], 1), "1");
        assert_eq!(bit_text(&u64::MAX.to_be_bytes(), 64), "1".repeat(64));
        assert_eq!(bytea_text(&[0, 0xff]), "\\x00ff");
        assert_eq!(decode(&Charset::Latin1, &[0xe9, 0x80, 0x81]).unwrap(), "é€\u{81}");
        assert!(decode(&Charset::Utf8, &[0xff]).is_err());
        assert!(decode(&Charset::Ascii, &[0xe9]).is_err());
        assert_eq!(decimal_text(b"-0.00").unwrap(), "0.00");
        assert_eq!(decimal_text(b"-1.50").unwrap(), "-1.50");
    }
}
