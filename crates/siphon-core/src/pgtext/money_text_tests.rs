//! Tests for the money text parser, against samples printed by a PostgreSQL 15 server.

use super::*;
use proptest::prelude::*;

fn problem(text: &str) -> &'static str {
    parse_money(text).expect_err(text).problem
}

#[test]
fn amounts() {
    assert_eq!(parse_money("$0.00"), Ok(PgMoney { cents: 0 }));
    assert_eq!(parse_money("-$0.01"), Ok(PgMoney { cents: -1 }));
    assert_eq!(parse_money("$1,234.50"), Ok(PgMoney { cents: 123_450 }));
    assert_eq!(parse_money("-$92,233,720,368,547,758.08"), Ok(PgMoney { cents: i64::MIN }));
    assert_eq!(parse_money("$92,233,720,368,547,758.07"), Ok(PgMoney { cents: i64::MAX }));
}

#[test]
fn decimal_form() {
    assert_eq!(PgMoney { cents: 0 }.to_string(), "0.00");
    assert_eq!(PgMoney { cents: -1 }.to_string(), "-0.01");
    assert_eq!(PgMoney { cents: 123_450 }.to_string(), "1234.50");
    assert_eq!(PgMoney { cents: i64::MIN }.to_string(), "-92233720368547758.08");
}

#[test]
fn malformed() {
    assert_eq!(problem(""), "expected '$'");
    assert_eq!(problem("1.00"), "expected '$'");
    assert_eq!(problem("€1,00"), "expected '$'");
    assert_eq!(problem("$1"), "expected '.' and two fraction digits");
    assert_eq!(problem("$1.0"), "expected '.' and two fraction digits at the end");
    assert_eq!(problem("$1.000"), "expected '.' and two fraction digits at the end");
    assert_eq!(problem("$1234.00"), "expected digits in groups of three separated by ','");
    assert_eq!(problem("$1,23.00"), "expected digits in groups of three separated by ','");
    assert_eq!(problem("$,123.00"), "expected digits in groups of three separated by ','");
    assert_eq!(problem("$.00"), "expected digits in groups of three separated by ','");
    assert_eq!(problem("$ 1.00"), "expected digits in groups of three separated by ','");
    assert_eq!(problem("$92,233,720,368,547,758.08"), "amount out of range for money");
    assert_eq!(
        parse_money("1 234,56 €").unwrap_err().to_string(),
        "malformed money text at byte 0: expected '$' (siphon reads money with lc_monetary = C)"
    );
}

#[test]
fn server_samples() {
    for line in SERVER_SAMPLES.split(' ') {
        let (text, cents) = line.split_once('|').expect("sample");
        let cents: i64 = cents.parse().expect("cents");
        assert_eq!(parse_money(text), Ok(PgMoney { cents }), "{text}");
        assert_eq!(cash_out(cents), text, "the test formatter agrees with the server");
    }
}

/// Formats like the server's `cash_out` under `lc_monetary = C`.
fn cash_out(cents: i64) -> String {
    let abs = cents.unsigned_abs();
    let units = (abs / 100).to_string();
    let groups: Vec<&str> = units.as_bytes().rchunks(3).rev().map(|g| std::str::from_utf8(g).unwrap_or("")).collect();
    format!("{}${}.{:02}", if cents < 0 { "-" } else { "" }, groups.join(","), abs % 100)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn parse_inverts_cash_out(cents: i64) {
        prop_assert_eq!(parse_money(&cash_out(cents)), Ok(PgMoney { cents }));
    }

    #[test]
    fn decimal_form_is_the_same_amount(cents: i64) {
        let decimal = PgMoney { cents }.to_string();
        let digits: i128 = decimal.replace('.', "").parse().expect("digits");
        prop_assert_eq!(digits, i128::from(cents));
    }

    #[test]
    fn parse_never_panics(text in "-?\\$?[0-9,.]{0,30}") {
        let _ = parse_money(&text);
    }

    #[test]
    fn parse_arbitrary_strings_never_panics(text in any::<String>()) {
        let _ = parse_money(&text);
    }
}

/// `money::text|the stored integer` from a PostgreSQL 15.18 server with `lc_monetary = C`.
const SERVER_SAMPLES: &str = "$25,756,727,935,212,657.27|2575672793521265727 -$36,796,164,317,519,159.36|-3679616431751915936 -$58,766,234,587,535,974.26|-5876623458753597426 -$34,583,982,989,340,107.89|-3458398298934010789 $54,551,726,605,474,571.06|5455172660547457106 -$42,173,092,796,858,823.58|-4217309279685882358 -$57,858,930,482,879,528.89|-5785893048287952889 -$34,808,237,935,809,192.53|-3480823793580919253 $34,839,918,955,860,946.81|3483991895586094681 $70,743,681,366,588,733.96|7074368136658873396 $45,555,141,718,408,208.15|4555514171840820815 $34,166,553,982,199,440.12|3416655398219944012 -$4,901.81|-490181 $8,566.85|856685 $5,893.31|589331 $6,438.95|643895 $3,304.76|330476 -$3,980.84|-398084 $6,448.87|644887 -$9,520.98|-952098 $4,796.06|479606 -$7,146.84|-714684 -$5,569.04|-556904 $5,978.55|597855 -$92,233,720,368,547,758.08|-9223372036854775808 $92,233,720,368,547,758.07|9223372036854775807 $0.00|0 -$0.01|-1 $0.01|1 $1,000.00|100000 $999.99|99999 -$1.00|-100 $10,000.00|1000000";
