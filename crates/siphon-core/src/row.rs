//! Rows as they travel from a source to a destination.
//!
//! Values are carried in the source's canonical *text* form (for PostgreSQL: the type's output
//! function, as `COPY ... TO STDOUT` and pgoutput in text mode both produce it). The text form
//! is lossless for every PostgreSQL type, identical on the snapshot and streaming paths, and
//! leaves the conversion to each destination's type map, where it can be tested in one place.
//!
//! Changes carry [`Row`]s: one [`Datum`] per column. Copied rows (a table's snapshot or backfill
//! chunks, millions at a time) travel as a [`RowBlock`] instead: one text buffer for a whole
//! piece of rows with the values' positions in it, so that decoding, handing over and applying
//! a copied row allocates nothing per row or value.

/// One column value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Datum {
    /// SQL NULL.
    Null,
    /// The value in the source's text form.
    Text(String),
    /// A TOASTed value the source did not send because the change did not touch it: the
    /// destination must keep the value it has.
    UnchangedToast,
}

impl Datum {
    /// Bytes this value holds on the heap, for memory accounting of batches.
    pub fn heap_size(&self) -> usize {
        match self {
            Datum::Text(s) => s.len(),
            Datum::Null | Datum::UnchangedToast => 0,
        }
    }

    /// The text form, or `None` for NULL and unchanged TOAST.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Datum::Text(s) => Some(s),
            Datum::Null | Datum::UnchangedToast => None,
        }
    }
}

impl From<Option<String>> for Datum {
    fn from(v: Option<String>) -> Self {
        v.map_or(Datum::Null, Datum::Text)
    }
}

/// A row: one datum per column of its table's schema, in schema order.
pub type Row = Vec<Datum>;

/// Approximate memory a row occupies, counting the datums and their heap text.
pub fn row_size(row: &Row) -> usize {
    row.iter().map(|d| std::mem::size_of::<Datum>() + d.heap_size()).sum()
}

/// Rows of one table in one text buffer: what a table copy hands over (see the module doc).
///
/// Every value is `NULL` or text; a copied row is a whole row, so there is no
/// [`Datum::UnchangedToast`]. The buffer holds the values in row-major order, each followed by
/// one ASCII separator byte (a COPY row's own tab or newline, when the block was decoded from
/// one), so a value starts one byte after the previous one ends. Because the buffer is valid
/// UTF-8 and every value ends at an ASCII byte, every value is valid UTF-8 on its own: the
/// whole piece is validated once ([`RowBlock::from_utf8`]), not value by value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowBlock {
    columns: usize,
    rows: usize,
    text: String,
    /// Per value, row-major: where its text ends in `text` (exclusive), with [`NULL_BIT`] set
    /// for NULL.
    ends: Vec<usize>,
}

/// Marks a NULL value's end (a `String` is never longer than `isize::MAX`, so the top bit of an
/// offset is free).
const NULL_BIT: usize = 1 << (usize::BITS - 1);

/// Why [`RowBlock::from_utf8`] refused its parts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The text of value `value` (row-major index) is not valid UTF-8.
    #[error("value {value} of the block is not valid UTF-8")]
    InvalidUtf8 { value: usize },
    /// The value ends do not describe `rows` rows of separated values in the buffer.
    #[error("the block's value offsets do not fit its text")]
    Layout,
    /// A copied row carries a TOASTed value the source left out (copies read whole rows).
    #[error("a copied row carries an unchanged TOAST value")]
    UnchangedToast,
    /// A row has a different number of values than the block's columns.
    #[error("a row has {found} values, the block {expected} columns")]
    Width { expected: usize, found: usize },
}

impl RowBlock {
    /// An empty block of rows with `columns` values each.
    pub fn new(columns: usize) -> Self {
        RowBlock { columns, ..RowBlock::default() }
    }

    /// A block from its parts: `text`, the values' `ends` (see [`RowBlock::value_end`]) and the
    /// number of `rows` (`ends.len() == rows * columns`). The layout is checked, and the text is
    /// validated as UTF-8 once; on invalid UTF-8 the error names the first value that is not
    /// valid UTF-8 on its own.
    pub fn from_utf8(columns: usize, rows: usize, text: Vec<u8>, ends: Vec<usize>) -> Result<Self, BlockError> {
        if ends.len() != rows.checked_mul(columns).ok_or(BlockError::Layout)? || !Self::layout_fits(&text, &ends) {
            return Err(BlockError::Layout);
        }
        match String::from_utf8(text) {
            Ok(text) => Ok(RowBlock { columns, rows, text, ends }),
            Err(e) => Err(Self::first_invalid(e.as_bytes(), &ends)),
        }
    }

    /// Ends never go backwards, each is followed by an ASCII byte, and the last one's byte ends
    /// the text.
    fn layout_fits(text: &[u8], ends: &[usize]) -> bool {
        let mut start = 0;
        for &e in ends {
            let end = e & !NULL_BIT;
            if end < start || text.get(end).is_none_or(|b| !b.is_ascii()) {
                return false;
            }
            start = end + 1;
        }
        start == text.len()
    }

    fn first_invalid(text: &[u8], ends: &[usize]) -> BlockError {
        let mut start = 0;
        for (value, &e) in ends.iter().enumerate() {
            let end = e & !NULL_BIT;
            if e & NULL_BIT == 0 && std::str::from_utf8(&text[start..end]).is_err() {
                return BlockError::InvalidUtf8 { value };
            }
            start = end + 1;
        }
        // Only a NULL's bytes are invalid: no value is.
        BlockError::Layout
    }

    /// The end offset to record for a value whose text ends at `end` (`null`: a NULL value).
    pub fn value_end(end: usize, null: bool) -> usize {
        if null {
            end | NULL_BIT
        } else {
            end
        }
    }

    /// The text end and NULL flag a [`RowBlock::value_end`] recorded.
    pub fn split_value_end(e: usize) -> (usize, bool) {
        (e & !NULL_BIT, e & NULL_BIT != 0)
    }

    /// Copied rows in a block (`columns` values each; NULL and text only).
    pub fn from_rows(columns: usize, rows: &[Row]) -> Result<Self, BlockError> {
        let mut block = RowBlock::new(columns);
        block.text.reserve(rows.iter().map(|r| r.iter().map(|d| d.heap_size() + 1).sum::<usize>()).sum());
        block.ends.reserve(rows.len() * columns);
        for row in rows {
            if row.len() != columns {
                return Err(BlockError::Width { expected: columns, found: row.len() });
            }
            if row.contains(&Datum::UnchangedToast) {
                return Err(BlockError::UnchangedToast);
            }
            block.push_row(row.iter().map(Datum::as_text));
        }
        Ok(block)
    }

    /// Appends a row of exactly [`RowBlock::columns`] values.
    ///
    /// # Panics
    /// When the row has another number of values.
    pub fn push_row<'a>(&mut self, row: impl IntoIterator<Item = Option<&'a str>>) {
        let before = self.ends.len();
        for value in row {
            let null = value.is_none();
            self.text.push_str(value.unwrap_or_default());
            self.ends.push(Self::value_end(self.text.len(), null));
            self.text.push('\t');
        }
        assert_eq!(self.ends.len() - before, self.columns, "a row of a block has one value per column");
        self.rows += 1;
    }

    /// Appends `other`'s rows.
    ///
    /// # Panics
    /// When `other` has another number of columns.
    pub fn append(&mut self, other: &RowBlock) {
        assert_eq!(self.columns, other.columns, "blocks of one table have the same columns");
        let offset = self.text.len();
        self.text.push_str(&other.text);
        self.ends.extend(other.ends.iter().map(|&e| {
            let (end, null) = Self::split_value_end(e);
            Self::value_end(end + offset, null)
        }));
        self.rows += other.rows;
    }

    /// Values per row.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Bytes of text held (values and separators), for memory accounting.
    pub fn text_bytes(&self) -> usize {
        self.text.len()
    }

    /// The value of `row`'s column `column`; `None` is NULL.
    ///
    /// # Panics
    /// When `row` or `column` is out of range.
    pub fn value(&self, row: usize, column: usize) -> Option<&str> {
        assert!(column < self.columns, "column {column} of a block of {} columns", self.columns);
        self.value_at(row * self.columns + column)
    }

    fn value_at(&self, k: usize) -> Option<&str> {
        let e = self.ends[k];
        if e & NULL_BIT != 0 {
            return None;
        }
        let start = if k == 0 { 0 } else { (self.ends[k - 1] & !NULL_BIT) + 1 };
        Some(&self.text[start..e])
    }

    /// The values of row `i`, in column order; `None` is NULL.
    ///
    /// # Panics
    /// When `i` is out of range.
    pub fn row(&self, i: usize) -> impl ExactSizeIterator<Item = Option<&str>> + '_ {
        assert!(i < self.rows, "row {i} of a block of {} rows", self.rows);
        let first = i * self.columns;
        (first..first + self.columns).map(move |k| self.value_at(k))
    }

    /// Every row's values, in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = impl ExactSizeIterator<Item = Option<&str>> + '_> + '_ {
        (0..self.rows).map(move |i| self.row(i))
    }

    /// The rows as [`Row`]s, for a consumer without a block path (one allocation per value).
    pub fn into_rows(self) -> Vec<Row> {
        self.rows().map(|r| r.map(|v| v.map_or(Datum::Null, |t| Datum::Text(t.to_owned()))).collect()).collect()
    }
}

#[cfg(test)]
#[path = "row_tests.rs"]
mod tests;
