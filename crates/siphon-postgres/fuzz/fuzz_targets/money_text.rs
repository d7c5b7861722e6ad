//! Fuzzes the money parser: it must never panic, and a parsed amount's decimal form holds the
//! same integer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use siphon_core::pgtext::money_text::parse_money;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(money) = parse_money(text) {
        let digits: i128 = money.to_string().replace('.', "").parse().expect("decimal form");
        assert_eq!(digits, i128::from(money.cents));
    }
});
