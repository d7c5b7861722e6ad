//! Fuzzes the array text parser and the JSON renderer: neither may panic,
//! and a parsed array must be consistent (one element per cell).

#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use siphon_core::pgtext::array_text::{parse_array, to_struct_json};

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
    let json = to_struct_json(&array, |e| Ok::<_, ()>(Cow::Borrowed(e))).expect("renders");
    assert!(json.starts_with("{\"lengths\":[") && json.ends_with("]}"));
});
