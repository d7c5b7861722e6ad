//! Fuzzes the COPY text decoders: they must never panic, splitting the input
//! into chunks must not change the result, the block decoder (taking a block
//! after every few chunks) must give the row decoder's rows or error, and
//! accepted rows must survive an encode/decode round trip.
//!
//! Input: one byte choosing the column count (low 3 bits) and the chunk
//! size (high 5 bits, plus one), then the COPY data.

#![no_main]

use libfuzzer_sys::fuzz_target;
use siphon_postgres::protocol::copy_text::{
    encode_row, CopyBlockDecoder, CopyDecodeError, CopyRow, CopyTextDecoder,
};

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

/// The block decoder, taking a block after every `take_every` chunks.
fn decode_blocks<'a>(
    columns: usize,
    chunks: impl IntoIterator<Item = &'a [u8]>,
    take_every: usize,
) -> Result<Vec<CopyRow>, CopyDecodeError> {
    let mut decoder = CopyBlockDecoder::new(columns);
    let mut rows = Vec::new();
    let mut take = |d: &mut CopyBlockDecoder| -> Result<(), CopyDecodeError> {
        let block = d.take()?;
        rows.extend(block.rows().map(|r| r.map(|v| v.map(str::to_owned)).collect::<CopyRow>()));
        Ok(())
    };
    for (i, chunk) in chunks.into_iter().enumerate() {
        decoder.push(chunk)?;
        if i % take_every == 0 {
            take(&mut decoder)?;
        }
    }
    decoder.finish()?;
    take(&mut decoder)?;
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
    assert_eq!(decode_blocks(columns, copy_data.chunks(chunk_size), chunk_size % 3 + 1), whole);
    if let Ok(rows) = whole {
        let mut encoded = Vec::new();
        for row in &rows {
            encode_row(row, &mut encoded);
        }
        assert_eq!(decode(columns, [encoded.as_slice()]), Ok(rows));
    }
});
