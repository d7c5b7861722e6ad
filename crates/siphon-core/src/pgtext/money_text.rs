//! Parser for the text output of `money` values printed with `lc_monetary = C`, which siphon's
//! sessions set.
//!
//! A `money` value is a 64-bit integer count of the currency's smallest unit; `cash_out`
//! prints it with the current `lc_monetary` locale's symbol, separators and number of fraction
//! digits (see <https://www.postgresql.org/docs/current/datatype-money.html>). Under the `C`
//! locale that is a `$`, `,` between groups of three digits and two fraction digits, with a
//! leading `-` for negative amounts:
//!
//! ```text
//! $0.00    $1,234.50    -$0.01    -$92,233,720,368,547,758.08    $92,233,720,368,547,758.07
//! ```
//!
//! [`parse_money`] reads exactly that form back into the integer, and [`PgMoney`]'s `Display`
//! prints the same amount as a plain decimal (`-92233720368547758.08`).

use std::fmt;

/// A `money` value: the stored integer, in hundredths (the `C` locale's two fraction digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgMoney {
    pub cents: i64,
}

/// A money text could not be parsed.
///
/// The message names the position and the problem, never the value (values stay out of logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed money text at byte {offset}: {problem} (siphon reads money with lc_monetary = C)")]
pub struct MoneyParseError {
    /// Byte offset in the text where the problem was found.
    pub offset: usize,
    /// What was wrong.
    pub problem: &'static str,
}

/// Parses `[-]$D{1,3}(,DDD)*.DD`.
pub fn parse_money(text: &str) -> Result<PgMoney, MoneyParseError> {
    let err = |offset, problem| MoneyParseError { offset, problem };
    let negative = text.starts_with('-');
    let start = usize::from(negative) + 1;
    if text.get(start - 1..start) != Some("$") {
        return Err(err(start - 1, "expected '$'"));
    }
    let dot = text.rfind('.').filter(|&d| d >= start).ok_or(err(text.len(), "expected '.' and two fraction digits"))?;
    let (integer, fraction) = (&text[start..dot], &text[dot + 1..]);
    if fraction.len() != 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(dot, "expected '.' and two fraction digits at the end"));
    }
    let mut digits = String::with_capacity(integer.len() + 2);
    for (i, group) in integer.split(',').enumerate() {
        let size_ok = if i == 0 { (1..=3).contains(&group.len()) } else { group.len() == 3 };
        if !size_ok || !group.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(start, "expected digits in groups of three separated by ','"));
        }
        digits.push_str(group);
    }
    digits.push_str(fraction);
    let magnitude: i128 = digits.parse().map_err(|_| err(start, "amount out of range for money"))?;
    let cents = if negative { -magnitude } else { magnitude };
    i64::try_from(cents).map(|cents| PgMoney { cents }).map_err(|_| err(start, "amount out of range for money"))
}

/// The amount as a plain decimal with two fraction digits: `1234.50`, `-0.01`.
impl fmt::Display for PgMoney {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
#[path = "money_text_tests.rs"]
mod tests;
