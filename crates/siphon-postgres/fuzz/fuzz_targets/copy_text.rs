//! Fuzzes the COPY text decoder: it must never panic, splitting the input
//! into chunks must not change the result, and accepted rows must survive
//! an encode/decode round trip.
//!
//! Input: one byte choosing the column count (low 3 bits) and the chunk
//! size (high 5 bits, plus one), then the COPY data.

#![no_main]

use libfuzzer_sys::fuzz_target;
use siphon_postgres::protocol::copy_text::{encode_row, CopyDecodeError, CopyRow, CopyTextDecoder};

fn decode<'a>(
    columns: usize,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<CopyRow>, CopyDecodeError> {
    let mut decoder = CopyTextDecoder::new(columns);
    let mut rows = Vec::new();
    for chunk in chunks {
        decoder.push(chunk, &mut rows)?;
    }
    decoder.finish()?;
    Ok(rows)
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, copy_data)) = data.split_first() else {
        return;
    };
    let columns = usize::from(config & 0x07);
    let chunk_size = usize::from(config >> 3) + 1;
    let whole = decode(columns, [copy_data]);
    let chunked = decode(columns, copy_data.chunks(chunk_size));
    assert_eq!(whole, chunked);
    if let Ok(rows) = whole {
        let mut encoded = Vec::new();
        for row in &rows {
            encode_row(row, &mut encoded);
        }
        assert_eq!(decode(columns, [encoded.as_slice()]), Ok(rows));
    }
});
