//! Rows as they travel from a source to a destination.
//!
//! Values are carried in the source's canonical *text* form (for PostgreSQL: the type's output
//! function, as `COPY ... TO STDOUT` and pgoutput in text mode both produce it). The text form
//! is lossless for every PostgreSQL type, identical on the snapshot and streaming paths, and
//! leaves the conversion to each destination's type map, where it can be tested in one place.

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
