//! Fuzzes the date/timestamp parser: it must never panic, and a parsed value must be a real
//! calendar day whose astronomical rendering parses back the same (after the era is restored).

#![no_main]

use libfuzzer_sys::fuzz_target;
use siphon_core::pgtext::datetime_text::{days_in_month, parse_datetime, DateTimeKind, PgDateTime};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [DateTimeKind::Date, DateTimeKind::Timestamp, DateTimeKind::TimestampTz] {
        if let Ok(PgDateTime::Finite(v)) = parse_datetime(text, kind) {
            assert!((1..=12).contains(&v.month) && v.day >= 1 && v.day <= days_in_month(v.year, v.month));
            let _ = v.epoch_micros();
            if v.year >= 1 {
                assert_eq!(parse_datetime(&v.astronomical(), kind), Ok(PgDateTime::Finite(v)));
            }
        }
    }
});
