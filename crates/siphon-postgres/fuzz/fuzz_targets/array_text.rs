//! Fuzzes the array text parser and the JSON renderer: neither may panic,
//! and a parsed array must be consistent (one element per cell).

#![no_main]

use libfuzzer_sys::fuzz_target;
use siphon_core::pgtext::array_text::{parse_array, to_json, ElementKind};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(array) = parse_array(text) else {
        return;
    };
    let cells: usize = if array.dims.is_empty() {
        0
    } else {
        array.dims.iter().product()
    };
    assert_eq!(cells, array.elements.len());
    assert_eq!(array.dims.len(), array.lower_bounds.len());
    for kind in [
        ElementKind::Number,
        ElementKind::Bool,
        ElementKind::String,
        ElementKind::Json,
    ] {
        let json = to_json(&array, kind);
        assert!(json.starts_with('[') && json.ends_with(']'));
    }
});
