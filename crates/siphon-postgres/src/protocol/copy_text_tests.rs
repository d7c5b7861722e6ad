//! Tests for the COPY text decoder: escapes, errors, chunking and property
//! tests.

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn decode_all(columns: usize, data: &[u8]) -> Result<Vec<CopyRow>, CopyDecodeError> {
    let mut d = CopyTextDecoder::new(columns);
    let mut out = Vec::new();
    d.push(data, &mut out)?;
    d.finish()?;
    Ok(out)
}

fn decode_bytewise(columns: usize, data: &[u8]) -> Result<Vec<CopyRow>, CopyDecodeError> {
    let mut d = CopyTextDecoder::new(columns);
    let mut out = Vec::new();
    for b in data {
        d.push(std::slice::from_ref(b), &mut out)?;
    }
    d.finish()?;
    Ok(out)
}

fn one_field(data: &str) -> Option<String> {
    let rows = decode_all(1, format!("{data}\n").as_bytes()).expect("decodes");
    assert_eq!(rows.len(), 1);
    rows.into_iter().next().and_then(|r| r.into_iter().next()).flatten()
}

#[test]
fn simple_rows() {
    let data = b"1\thello\t\\N\n2\t\t\\N\n";
    let expected = vec![vec![s("1"), s("hello"), None], vec![s("2"), s(""), None]];
    assert_eq!(decode_all(3, data), Ok(expected.clone()));
    assert_eq!(decode_bytewise(3, data), Ok(expected));
}

#[test]
fn no_data() {
    assert_eq!(decode_all(2, b""), Ok(vec![]));
}

#[test]
fn named_escapes() {
    assert_eq!(one_field(r"a\\b"), s("a\\b"));
    assert_eq!(one_field(r"\t\n\r\b\f\v"), s("\t\n\r\u{8}\u{c}\u{b}"));
}

#[test]
fn other_escaped_characters_stand_for_themselves() {
    assert_eq!(one_field(r"\a\q\.\N\ \é"), s("aq.N é"));
    // A backslash before a literal newline or tab keeps it as data.
    assert_eq!(one_field("a\\\nb"), s("a\nb"));
    assert_eq!(one_field("a\\\tb"), s("a\tb"));
}

#[test]
fn null_only_when_raw_text_is_backslash_n() {
    assert_eq!(one_field(r"\N"), None);
    assert_eq!(one_field("N"), s("N"));
    assert_eq!(one_field(r"\NN"), s("NN"));
    assert_eq!(one_field(r"\116"), s("N"));
    assert_eq!(one_field(r"\x4e"), s("N"));
    assert_eq!(one_field(r"\\N"), s("\\N"));
}

#[test]
fn octal_escapes() {
    assert_eq!(one_field(r"\101"), s("A"));
    assert_eq!(one_field(r"\1018"), s("A8"));
    assert_eq!(one_field(r"\12x"), s("\nx"));
    assert_eq!(one_field(r"\7"), s("\u{7}"));
    assert_eq!(one_field(r"\0"), s("\0"));
    // The low 8 bits are kept, like the server does.
    assert_eq!(one_field(r"\501"), s("A"));
    // UTF-8 assembled from octal escapes.
    assert_eq!(one_field(r"\303\251"), s("é"));
}

#[test]
fn hex_escapes() {
    assert_eq!(one_field(r"\x41"), s("A"));
    assert_eq!(one_field(r"\x4A\x4a"), s("JJ"));
    assert_eq!(one_field(r"\x9"), s("\t"));
    assert_eq!(one_field(r"\x9g"), s("\tg"));
    assert_eq!(one_field(r"\x414"), s("A4"));
    assert_eq!(one_field(r"\xg"), s("xg"));
    assert_eq!(one_field(r"\x"), s("x"));
    assert_eq!(one_field(r"\xc3\xa9"), s("é"));
}

#[test]
fn escapes_at_field_and_row_ends() {
    let data = b"\\1\t\\x4\n\\x\t\\12\n";
    let expected = vec![vec![s("\u{1}"), s("\u{4}")], vec![s("x"), s("\n")]];
    assert_eq!(decode_all(2, data), Ok(expected.clone()));
    assert_eq!(decode_bytewise(2, data), Ok(expected));
}

#[test]
fn chunks_split_inside_escapes_and_characters() {
    let data = "é\\303\\251\t\\x41\\N\n".as_bytes();
    let expected = vec![vec![s("éé"), s("AN")]];
    for split in 0..=data.len() {
        let (a, b) = data.split_at(split);
        let mut d = CopyTextDecoder::new(2);
        let mut out = Vec::new();
        d.push(a, &mut out).expect("first chunk");
        d.push(b, &mut out).expect("second chunk");
        d.finish().expect("complete");
        assert_eq!(out, expected, "split at {split}");
    }
}

#[test]
fn rows_are_emitted_as_soon_as_complete() {
    let mut d = CopyTextDecoder::new(1);
    let mut out = Vec::new();
    d.push(b"a\nb", &mut out).expect("push");
    assert_eq!(out, vec![vec![s("a")]]);
    assert_eq!(d.rows_decoded(), 1);
    d.push(b"c\n", &mut out).expect("push");
    assert_eq!(out, vec![vec![s("a")], vec![s("bc")]]);
    assert_eq!(d.rows_decoded(), 2);
}

#[test]
fn zero_column_rows() {
    assert_eq!(decode_all(0, b"\n\n"), Ok(vec![vec![], vec![]]));
    let e = decode_all(0, b"\nx\n").expect_err("extra data");
    assert_eq!((e.row, e.column), (2, 1));
    assert_eq!(e.kind, CopyErrorKind::ExtraData { expected: 0 });
}

#[test]
fn one_column_empty_line_is_empty_string() {
    assert_eq!(decode_all(1, b"\n"), Ok(vec![vec![s("")]]));
}

#[test]
fn too_many_fields() {
    let e = decode_all(2, b"a\tb\n1\t2\t3\n").expect_err("extra data");
    assert_eq!((e.row, e.column), (2, 3));
    assert_eq!(e.kind, CopyErrorKind::ExtraData { expected: 2 });
    assert_eq!(
        e.to_string(),
        "invalid COPY data in row 2, column 3: extra data after last expected column \
         (expected 2 columns)"
    );
}

#[test]
fn too_few_fields() {
    let e = decode_all(3, b"a\tb\n").expect_err("missing data");
    assert_eq!((e.row, e.column), (1, 3));
    assert_eq!(e.kind, CopyErrorKind::MissingData { expected: 3, found: 2 });
}

#[test]
fn invalid_utf8_names_row_and_column() {
    let e = decode_all(2, b"ok\tok\nok\t\xff\n").expect_err("invalid utf8");
    assert_eq!((e.row, e.column), (2, 2));
    assert_eq!(e.kind, CopyErrorKind::InvalidUtf8);
    let e = decode_all(1, b"\\xff\n").expect_err("invalid utf8 via escape");
    assert_eq!(e.kind, CopyErrorKind::InvalidUtf8);
}

#[test]
fn literal_carriage_return_is_rejected() {
    let e = decode_all(1, b"a\r\n").expect_err("carriage return");
    assert_eq!(e.kind, CopyErrorKind::LiteralCarriageReturn);
    assert_eq!(e.row, 1);
}

#[test]
fn incomplete_row_at_finish() {
    for data in [&b"a\tb"[..], b"a\t", b"a\\", b"a\\x4", b"\\1"] {
        let mut d = CopyTextDecoder::new(2);
        let mut out = Vec::new();
        d.push(data, &mut out).expect("push");
        let e = d.finish().expect_err("incomplete");
        assert_eq!(e.kind, CopyErrorKind::IncompleteRow);
        assert_eq!(e.row, 1);
    }
}

#[test]
fn errors_are_sticky() {
    let mut d = CopyTextDecoder::new(1);
    let mut out = Vec::new();
    let e = d.push(b"a\tb\n", &mut out).expect_err("extra data");
    assert_eq!(d.push(b"c\n", &mut out), Err(e.clone()));
    assert_eq!(d.finish(), Err(e));
    assert!(out.is_empty());
}

#[test]
fn encoder_matches_server_escaping() {
    let mut out = Vec::new();
    encode_row(&[s("a\tb\nc\\d\re\u{8}\u{c}\u{b}"), None, s(""), s("\\N"), s("\u{1}é")], &mut out);
    assert_eq!(out, b"a\\tb\\nc\\\\d\\re\\b\\f\\v\t\\N\t\t\\\\N\t\x01\xc3\xa9\n");
}

#[test]
fn server_output_at_every_split_point() {
    let expected: Vec<CopyRow> =
        SERVER_ROWS.iter().map(|row| row.iter().map(|v| v.map(str::to_owned)).collect()).collect();
    for split in 0..=SERVER_COPY.len() {
        let (a, b) = SERVER_COPY.split_at(split);
        let chunks = [a.to_vec(), b.to_vec()];
        assert_eq!(decode_chunks(4, &chunks), Ok(expected.clone()), "split {split}");
    }
    // The encoder reproduces the server's bytes exactly.
    let mut encoded = Vec::new();
    for row in &expected {
        encode_row(row, &mut encoded);
    }
    assert_eq!(encoded, SERVER_COPY);
}

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

fn arb_field() -> impl Strategy<Value = Option<String>> {
    let text = prop_oneof![".{0,8}", "[\t\n\r\\\\N\u{8}\u{b}\u{c}a\u{e9}\u{1F600}]{0,8}", any::<String>(),];
    proptest::option::weighted(0.85, text)
}

fn arb_rows() -> impl Strategy<Value = (usize, Vec<CopyRow>)> {
    (0usize..5).prop_flat_map(|n| (Just(n), vec(vec(arb_field(), n), 0..6)))
}

/// Splits `data` at the given (unsorted, possibly repeated) points.
fn split_chunks(data: &[u8], points: &[prop::sample::Index]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = points.iter().map(|p| p.index(data.len() + 1)).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([data.len()]) {
        chunks.push(data[start..cut].to_vec());
        start = cut;
    }
    chunks
}

fn decode_chunks(columns: usize, chunks: &[Vec<u8>]) -> Result<Vec<CopyRow>, CopyDecodeError> {
    let mut d = CopyTextDecoder::new(columns);
    let mut out = Vec::new();
    for chunk in chunks {
        d.push(chunk, &mut out)?;
    }
    d.finish()?;
    Ok(out)
}

fn block_rows(block: &RowBlock) -> Vec<CopyRow> {
    block.rows().map(|r| r.map(|v| v.map(str::to_owned)).collect()).collect()
}

/// The block decoder over `chunks`, taking a block after each chunk whose index is in `takes`
/// (and at the end).
fn decode_blocks(columns: usize, chunks: &[Vec<u8>], takes: &[usize]) -> Result<Vec<CopyRow>, CopyDecodeError> {
    let mut d = CopyBlockDecoder::new(columns);
    let mut out = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        d.push(chunk)?;
        if takes.contains(&i) {
            let block = d.take()?;
            assert_eq!(block.columns(), columns);
            out.extend(block_rows(&block));
            assert_eq!(d.rows_decoded(), out.len() as u64);
        }
    }
    d.finish()?;
    out.extend(block_rows(&d.take()?));
    Ok(out)
}

/// One way to write byte `b` of a field, chosen by `how`; returns the raw
/// COPY text that decodes back to `b`.
fn escape_byte(b: u8, how: u8) -> Vec<u8> {
    let named = match b {
        0x08 => Some(b'b'),
        0x0C => Some(b'f'),
        b'\n' => Some(b'n'),
        b'\r' => Some(b'r'),
        b'\t' => Some(b't'),
        0x0B => Some(b'v'),
        b'\\' => Some(b'\\'),
        _ => None,
    };
    let plain_escape_ok = named.is_none() && !b"01234567xbfnrtvN".contains(&b);
    match how % 5 {
        0 => format!("\\{b:03o}").into_bytes(),
        1 => format!("\\x{b:02x}").into_bytes(),
        2 => format!("\\x{b:02X}").into_bytes(),
        3 if plain_escape_ok => vec![b'\\', b],
        _ => match named {
            Some(n) => vec![b'\\', n],
            None => vec![b],
        },
    }
}

fn encode_with_random_escapes(row: &[Option<String>], hows: &[u8], out: &mut Vec<u8>) {
    let mut hows = hows.iter().cycle();
    for (i, field) in row.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match field {
            None => out.extend_from_slice(b"\\N"),
            Some(text) => {
                for &b in text.as_bytes() {
                    out.extend(escape_byte(b, *hows.next().unwrap_or(&4)));
                }
            }
        }
    }
    out.push(b'\n');
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn block_roundtrip_all_escape_forms(
        (columns, rows) in arb_rows(),
        hows in vec(any::<u8>(), 1..32),
        points in vec(any::<prop::sample::Index>(), 0..8),
        takes in vec(0usize..9, 0..4),
    ) {
        let mut data = Vec::new();
        for row in &rows {
            encode_with_random_escapes(row, &hows, &mut data);
        }
        let chunks = split_chunks(&data, &points);
        prop_assert_eq!(decode_blocks(columns, &chunks, &takes), Ok(rows));
    }

    /// On any bytes, split and taken anywhere: the block decoder's rows or error are the row
    /// decoder's.
    #[test]
    fn block_decoder_agrees_with_row_decoder(
        data in vec(prop_oneof![
            Just(b'\t'), Just(b'\n'), Just(b'\\'), Just(b'N'), Just(b'x'), Just(b'4'), Just(b'a'),
            Just(b'\r'), Just(0xC3), Just(0xA9), Just(0xFF), any::<u8>(),
        ], 0..96),
        columns in 0usize..4,
        points in vec(any::<prop::sample::Index>(), 0..8),
        takes in vec(0usize..9, 0..4),
    ) {
        let chunks = split_chunks(&data, &points);
        let rows = decode_chunks(columns, std::slice::from_ref(&data));
        prop_assert_eq!(decode_blocks(columns, &chunks, &takes), rows);
    }

    #[test]
    fn roundtrip_with_arbitrary_chunks(
        (columns, rows) in arb_rows(),
        points in vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut data = Vec::new();
        for row in &rows {
            encode_row(row, &mut data);
        }
        let chunks = split_chunks(&data, &points);
        prop_assert_eq!(decode_chunks(columns, &chunks), Ok(rows));
    }

    #[test]
    fn roundtrip_all_escape_forms(
        (columns, rows) in arb_rows(),
        hows in vec(any::<u8>(), 1..32),
        points in vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut data = Vec::new();
        for row in &rows {
            encode_with_random_escapes(row, &hows, &mut data);
        }
        let chunks = split_chunks(&data, &points);
        prop_assert_eq!(decode_chunks(columns, &chunks), Ok(rows));
    }

    #[test]
    fn chunking_never_changes_the_result(
        data in vec(prop_oneof![
            Just(b'\t'), Just(b'\n'), Just(b'\\'), Just(b'N'), Just(b'x'),
            Just(b'4'), Just(b'a'), Just(b'\r'), Just(0xC3), Just(0xA9), any::<u8>(),
        ], 0..64),
        columns in 0usize..4,
        points in vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let whole = decode_chunks(columns, std::slice::from_ref(&data));
        let chunked = decode_chunks(columns, &split_chunks(&data, &points));
        prop_assert_eq!(chunked, whole);
    }
}

/// `COPY (SELECT id, a, b, c FROM ct ORDER BY id) TO STDOUT` from a
/// PostgreSQL 15.18 server, where `a` and `b` are random `text` values
/// (every ASCII character but NUL, and some non-ASCII) and `c` an `int[]`.
const SERVER_COPY: &[u8] = b"0\t.;@#\tc\x17~4l\t{1,NULL,3}\n\
1\td7'w.W\t\\N\t\\N\n\
2\t\\vE\x02m5]\x15\tw\x0e\\\\\"\t{1,NULL,3}\n\
3\tr.\xe6\x97\xa5\t\x1d\t\\N\n\
4\t\\\\.\t\\N\t{{1,2},{3,4}}\n\
5\tP\x02b\t4\x0f7rBh!\t{}\n\
6\t\x0f\"'i \x19\x1f%\ti&6\t{}\n\
7\tB\x1f]0\t\x03\\rW8a\t{{1,2},{3,4}}\n\
8\tck_\x18/\\n`\tr;P:P\x1cQ\t{1,NULL,3}\n\
9\tcLq\x15\tB\x12\xe6\x97\xa5LS{!\t{}\n\
10\ti)Ibq\t\\\\\t{1,NULL,3}\n\
11\tL2,Ck<\tg\x01\x1d\xe6\x97\xa54\x01\t{}\n\
12\t\xe2\x80\xa8r5\txJ4\x06\x1bO\x14\t\\N\n\
13\tM_L2\x1afg\tvU!\"s\t{{1,2},{3,4}}\n\
14\t]A6\t0{z,\x14>v\t\\N\n\
15\t\tV\x02\t{}\n\
16\tjC+#\\rf\t\\N\t{}\n\
17\t)q\x0fk;\t},\t{}\n\
18\t\x133-[\x15\x1e\t'\x17\\t\t{{1,2},{3,4}}\n\
19\tN\tX\x0eX\t{{1,2},{3,4}}\n\
20\tN\t\xc3\xa9\x04<\t{{1,2},{3,4}}\n\
21\t=r\t*+\t{{1,2},{3,4}}\n\
22\t\\ff\x06M)\"\tLK \x7fn\t\\N\n\
23\t\\N\t\\\\\t{}\n\
24\ta\t'\x05Jg\t{{1,2},{3,4}}\n\
25\t-i\x0e7\t*\x19p\x02\\b\t{1,NULL,3}\n\
26\t\t\x10B/o'\t\\N\n\
27\t\xe6\x97\xa5\t\x13+<Xp\"{\x18\t{}\n\
28\t}6\x1ap\t#z@\t{1,NULL,3}\n\
29\t+\xf0\x9f\x98\x80\x14=>\tf\x13>ASV\x7f\t{1,NULL,3}\n\
";

/// The same rows, from `json_agg` on the server.
const SERVER_ROWS: &[[Option<&str>; 4]] = &[
    [Some("0"), Some(".;@#"), Some("c\u{17}~4l"), Some("{1,NULL,3}")],
    [Some("1"), Some("d7'w.W"), None, None],
    [Some("2"), Some("\u{b}E\u{2}m5]\u{15}"), Some("w\u{e}\\\""), Some("{1,NULL,3}")],
    [Some("3"), Some("r.日"), Some("\u{1d}"), None],
    [Some("4"), Some("\\."), None, Some("{{1,2},{3,4}}")],
    [Some("5"), Some("P\u{2}b"), Some("4\u{f}7rBh!"), Some("{}")],
    [Some("6"), Some("\u{f}\"'i \u{19}\u{1f}%"), Some("i&6"), Some("{}")],
    [Some("7"), Some("B\u{1f}]0"), Some("\u{3}\rW8a"), Some("{{1,2},{3,4}}")],
    [Some("8"), Some("ck_\u{18}/\n`"), Some("r;P:P\u{1c}Q"), Some("{1,NULL,3}")],
    [Some("9"), Some("cLq\u{15}"), Some("B\u{12}日LS{!"), Some("{}")],
    [Some("10"), Some("i)Ibq"), Some("\\"), Some("{1,NULL,3}")],
    [Some("11"), Some("L2,Ck<"), Some("g\u{1}\u{1d}日4\u{1}"), Some("{}")],
    [Some("12"), Some("\u{2028}r5"), Some("xJ4\u{6}\u{1b}O\u{14}"), None],
    [Some("13"), Some("M_L2\u{1a}fg"), Some("vU!\"s"), Some("{{1,2},{3,4}}")],
    [Some("14"), Some("]A6"), Some("0{z,\u{14}>v"), None],
    [Some("15"), Some(""), Some("V\u{2}"), Some("{}")],
    [Some("16"), Some("jC+#\rf"), None, Some("{}")],
    [Some("17"), Some(")q\u{f}k;"), Some("},"), Some("{}")],
    [Some("18"), Some("\u{13}3-[\u{15}\u{1e}"), Some("'\u{17}\t"), Some("{{1,2},{3,4}}")],
    [Some("19"), Some("N"), Some("X\u{e}X"), Some("{{1,2},{3,4}}")],
    [Some("20"), Some("N"), Some("é\u{4}<"), Some("{{1,2},{3,4}}")],
    [Some("21"), Some("=r"), Some("*+"), Some("{{1,2},{3,4}}")],
    [Some("22"), Some("\u{c}f\u{6}M)\""), Some("LK \u{7f}n"), None],
    [Some("23"), None, Some("\\"), Some("{}")],
    [Some("24"), Some("a"), Some("'\u{5}Jg"), Some("{{1,2},{3,4}}")],
    [Some("25"), Some("-i\u{e}7"), Some("*\u{19}p\u{2}\u{8}"), Some("{1,NULL,3}")],
    [Some("26"), Some(""), Some("\u{10}B/o'"), None],
    [Some("27"), Some("日"), Some("\u{13}+<Xp\"{\u{18}"), Some("{}")],
    [Some("28"), Some("}6\u{1a}p"), Some("#z@"), Some("{1,NULL,3}")],
    [Some("29"), Some("+😀\u{14}=>"), Some("f\u{13}>ASV\u{7f}"), Some("{1,NULL,3}")],
];

// ---------------------------------------------------------------------------
// The block decoder (beyond the property tests above)
// ---------------------------------------------------------------------------

#[test]
fn block_server_output_at_every_split_point() {
    let expected: Vec<CopyRow> =
        SERVER_ROWS.iter().map(|row| row.iter().map(|v| v.map(str::to_owned)).collect()).collect();
    for split in 0..=SERVER_COPY.len() {
        let (a, b) = SERVER_COPY.split_at(split);
        let chunks = [a.to_vec(), b.to_vec()];
        assert_eq!(decode_blocks(4, &chunks, &[]), Ok(expected.clone()), "split {split}");
        assert_eq!(decode_blocks(4, &chunks, &[0]), Ok(expected.clone()), "split {split}, taken between");
    }
}

#[test]
fn block_keeps_a_partial_row_across_takes() {
    let mut d = CopyBlockDecoder::new(2);
    d.push(b"1\t\\N\n2\tb\\").expect("push");
    let first = d.take().expect("take");
    assert_eq!(block_rows(&first), vec![vec![s("1"), None]]);
    d.push(b"x41\n").expect("push");
    d.finish().expect("finish");
    assert_eq!(block_rows(&d.take().expect("take")), vec![vec![s("2"), s("bA")]]);
    assert_eq!(d.rows_decoded(), 2);
}

#[test]
fn block_reports_invalid_utf8_before_a_later_structural_error() {
    // The row decoder stops at the value that is not UTF-8, in row 1; the block decoder
    // validates at `take`, but reports that value too when a later row is malformed.
    let data = b"\\xff\tok\na\tb\tc\n";
    let e = decode_blocks(2, &[data.to_vec()], &[]).expect_err("invalid");
    assert_eq!((e.row, e.column, e.kind.clone()), (1, 1, CopyErrorKind::InvalidUtf8));
    assert_eq!(decode_all(2, data), Err(e));
    // ...and at `take` when nothing else is wrong, naming its row across earlier takes.
    let e = decode_blocks(2, &[b"a\tb\n".to_vec(), b"c\t\xc3\n".to_vec()], &[0]).expect_err("invalid");
    assert_eq!((e.row, e.column, e.kind), (2, 2, CopyErrorKind::InvalidUtf8));
}

#[test]
fn block_errors_are_sticky() {
    let mut d = CopyBlockDecoder::new(1);
    d.push(b"\xff\n").expect("push defers validation");
    let e = d.take().expect_err("invalid");
    assert_eq!(d.push(b"c\n"), Err(e.clone()));
    assert_eq!(d.finish(), Err(e.clone()));
    assert_eq!(d.take(), Err(e));
}
