//! What every source's table copy shares: key ranges (the unit a copy is chunked, resumed and
//! recorded by) and the sink copied rows go to.
//!
//! A chunk is a range of the table's key, not of physical row addresses: a key identifies a row
//! for its whole life, so a chunk means the same rows across snapshots and a copy resumed after
//! a crash (at a new snapshot) can skip the chunks already done. Ranges are bounded in the key's
//! own order in the source (row comparison `(k1, k2) >= (...)`), the order the sample was taken
//! in, so the ranges of one plan partition the key space.

use crate::row::{Row, RowBlock};
use crate::Error;

/// A range of key values: `lower` inclusive, `upper` exclusive, `None` unbounded. Values are
/// the key columns' text forms, in key-column order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyRange {
    pub lower: Option<Vec<String>>,
    pub upper: Option<Vec<String>>,
}

/// Cuts a key sample, sorted in the source's key order, into `chunks` ranges (fewer when the
/// sample repeats itself). The first range is unbounded below and the last unbounded above, so
/// every key, present or future, falls in exactly one range.
pub fn ranges_from_sample(sample: &[Vec<String>], chunks: usize) -> Vec<KeyRange> {
    let mut bounds: Vec<Vec<String>> = Vec::new();
    if chunks > 1 && !sample.is_empty() {
        for i in 1..chunks {
            let b = &sample[i * sample.len() / chunks];
            if bounds.last() != Some(b) {
                bounds.push(b.clone());
            }
        }
    }
    let mut ranges = Vec::with_capacity(bounds.len() + 1);
    let mut lower = None;
    for b in bounds {
        ranges.push(KeyRange { lower: lower.take(), upper: Some(b.clone()) });
        lower = Some(b);
    }
    ranges.push(KeyRange { lower, upper: None });
    ranges
}

/// Where a source's chunk copy delivers rows (awaited, so a slow consumer slows the copy down):
/// as [`Row`]s, or as a [`RowBlock`] (one buffer for a whole piece: what a copy should send when
/// it can, since it costs no allocation per value on either side).
pub trait AsyncRowSink {
    fn rows(&mut self, rows: Vec<Row>) -> impl std::future::Future<Output = Result<(), Error>> + Send;

    /// The default hands the block's rows to [`AsyncRowSink::rows`].
    fn block(&mut self, block: RowBlock) -> impl std::future::Future<Output = Result<(), Error>> + Send {
        self.rows(block.into_rows())
    }
}

impl<T: AsyncRowSink + Send> AsyncRowSink for &mut T {
    fn rows(&mut self, rows: Vec<Row>) -> impl std::future::Future<Output = Result<(), Error>> + Send {
        (**self).rows(rows)
    }

    fn block(&mut self, block: RowBlock) -> impl std::future::Future<Output = Result<(), Error>> + Send {
        (**self).block(block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(v: &str) -> Vec<String> {
        vec![v.to_string()]
    }

    #[test]
    fn ranges_cover_the_key_space_without_overlap() {
        let sample: Vec<_> = (0..100).map(|i| k(&format!("{i:03}"))).collect();
        let r = ranges_from_sample(&sample, 4);
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].lower, None);
        assert_eq!(r[3].upper, None);
        for w in r.windows(2) {
            assert_eq!(w[0].upper, w[1].lower);
        }
        assert_eq!(r[1].lower, Some(k("025")));
    }

    #[test]
    fn repeated_samples_give_fewer_ranges() {
        let sample = vec![k("a"); 10];
        let r = ranges_from_sample(&sample, 4);
        assert_eq!(
            r,
            vec![KeyRange { lower: None, upper: Some(k("a")) }, KeyRange { lower: Some(k("a")), upper: None }]
        );
        assert_eq!(ranges_from_sample(&[], 4), vec![KeyRange::default()]);
    }
}
