//! Fuzzes the pgoutput decoder: it must never panic, and whatever it
//! accepts must survive an encode/decode round trip unchanged.
//!
//! Input: one flag byte (bit 0 = inside a streamed block), then the message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use siphon_postgres::protocol::pgoutput::{decode, encode};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, message)) = data.split_first() else {
        return;
    };
    let streaming = flags & 1 == 1;
    if let Ok(decoded) = decode(message, streaming) {
        let bytes = encode(&decoded, streaming);
        assert_eq!(decode(&bytes, streaming), Ok(decoded));
    }
});
