//! Tests of [`RowBlock`]: access, conversions, and the validation of decoded parts.

use super::*;
use proptest::prelude::*;

fn t(s: &str) -> Datum {
    Datum::Text(s.into())
}

#[test]
fn values_rows_and_nulls() {
    let rows = vec![vec![t("1"), Datum::Null, t("")], vec![t("2"), t("é\tx"), Datum::Null]];
    let block = RowBlock::from_rows(3, &rows).expect("block");
    assert_eq!((block.len(), block.columns(), block.is_empty()), (2, 3, false));
    assert_eq!(block.value(0, 0), Some("1"));
    assert_eq!(block.value(0, 1), None);
    assert_eq!(block.value(0, 2), Some(""));
    assert_eq!(block.value(1, 1), Some("é\tx"));
    assert_eq!(block.row(1).collect::<Vec<_>>(), vec![Some("2"), Some("é\tx"), None]);
    assert_eq!(block.into_rows(), rows);
}

#[test]
fn zero_columns_count_rows() {
    let block = RowBlock::from_rows(0, &[vec![], vec![]]).expect("block");
    assert_eq!(block.len(), 2);
    assert_eq!(block.into_rows(), vec![Vec::<Datum>::new(), vec![]]);
}

#[test]
fn copied_rows_are_whole_rows_of_the_block_width() {
    assert_eq!(RowBlock::from_rows(1, &[vec![Datum::UnchangedToast]]), Err(BlockError::UnchangedToast));
    assert_eq!(RowBlock::from_rows(2, &[vec![t("a")]]), Err(BlockError::Width { expected: 2, found: 1 }));
}

#[test]
fn from_utf8_names_the_first_invalid_value() {
    let end = RowBlock::value_end;
    // "ok\t\xff\n" as two values of one row.
    let e = RowBlock::from_utf8(2, 1, b"ok\t\xff\n".to_vec(), vec![end(2, false), end(4, false)]);
    assert_eq!(e, Err(BlockError::InvalidUtf8 { value: 1 }));
    let ok = RowBlock::from_utf8(2, 1, b"ok\tN\n".to_vec(), vec![end(2, false), end(4, true)]).expect("valid");
    assert_eq!(ok.row(0).collect::<Vec<_>>(), vec![Some("ok"), None]);
}

#[test]
fn from_utf8_refuses_a_layout_that_does_not_fit() {
    let end = RowBlock::value_end;
    let cases: Vec<(usize, Vec<u8>, Vec<usize>)> = vec![
        (1, b"ab\n".to_vec(), vec![end(2, false), end(2, false)]), // an end before its start
        (1, b"ab".to_vec(), vec![end(2, false)]),                  // no separator
        (1, "a\u{e9}".as_bytes().to_vec(), vec![end(1, false)]),   // separator not ASCII
        (1, b"ab\nc".to_vec(), vec![end(2, false)]),               // bytes after the last row
    ];
    for (rows, text, ends) in cases {
        let n = ends.len();
        assert_eq!(RowBlock::from_utf8(n / rows.max(1), rows, text, ends), Err(BlockError::Layout));
    }
}

proptest! {
    #[test]
    fn rows_roundtrip_through_a_block(
        (columns, rows) in (0usize..5).prop_flat_map(|n| {
            (Just(n), proptest::collection::vec(proptest::collection::vec(
                proptest::option::weighted(0.8, any::<String>()), n), 0..8))
        }),
    ) {
        let rows: Vec<Row> = rows.into_iter().map(|r| r.into_iter().map(Datum::from).collect()).collect();
        let block = RowBlock::from_rows(columns, &rows).expect("block");
        prop_assert_eq!(block.len(), rows.len());
        for (i, row) in rows.iter().enumerate() {
            for (c, d) in row.iter().enumerate() {
                prop_assert_eq!(block.value(i, c), d.as_text());
            }
        }
        prop_assert_eq!(block.into_rows(), rows);
    }
}
