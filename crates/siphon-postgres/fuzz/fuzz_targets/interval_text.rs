//! Fuzzes the interval parser: it must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use siphon_core::pgtext::interval_text::parse_interval;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_interval(text);
    }
});
