//! Binlog positions as siphon [`Lsn`]s.
//!
//! The runtime orders everything by one `u64`. A binlog position is a file and a byte offset in
//! it; files are named `<basename>.<sequence>` with a growing decimal sequence (`binlog.000042`),
//! and the server never writes past `max_binlog_size` (at most 1 GiB) plus one transaction, so
//! the offset fits in 32 bits. The encoding is
//!
//! ```text
//!   Lsn = (sequence << 32) | offset        binlog.000042:1234  <->  Lsn(0x0000002A_000004D2)
//! ```
//!
//! which orders positions exactly as the server writes them: every offset of file `n` is below
//! every offset of file `n + 1`. The basename is not in the `Lsn`: it belongs to the server's
//! identity (see `catalog::server_identity`), and is needed to turn an `Lsn` back into a file
//! name ([`BinlogPosition::from_lsn`]).

use std::fmt;

use siphon_core::{Error, Lsn};

/// A position in the binary log: a file name and a byte offset in it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BinlogPosition {
    /// The file name as the server reports it, e.g. `binlog.000042`.
    pub file: String,
    /// The byte offset in the file (4 is the first event, after the magic number).
    pub pos: u32,
}

impl BinlogPosition {
    pub fn new(file: impl Into<String>, pos: u64) -> Result<Self, Error> {
        let file = file.into();
        let pos = u32::try_from(pos).map_err(|_| {
            Error::fatal(format!("binlog position {file}:{pos} does not fit in 32 bits"))
                .with_detail("siphon encodes a binlog offset in the low 32 bits of a position")
                .with_hint("keep max_binlog_size at or below 1 GiB (its maximum)")
        })?;
        Ok(BinlogPosition { file, pos })
    }

    /// The file's sequence number: the decimal suffix after the last dot (`binlog.000042` -> 42).
    pub fn sequence(&self) -> Result<u32, Error> {
        split_file_name(&self.file).map(|(_, seq)| seq)
    }

    /// The file's base name: everything before the last dot (`binlog.000042` -> `binlog`).
    pub fn basename(&self) -> Result<&str, Error> {
        split_file_name(&self.file).map(|(base, _)| base)
    }

    /// `(sequence << 32) | pos`.
    pub fn to_lsn(&self) -> Result<Lsn, Error> {
        Ok(Lsn((u64::from(self.sequence()?) << 32) | u64::from(self.pos)))
    }

    /// The position `lsn` encodes, in the files named `<basename>.NNNNNN` (at least six digits,
    /// as MySQL and MariaDB name them).
    pub fn from_lsn(lsn: Lsn, basename: &str) -> Self {
        BinlogPosition { file: file_name(basename, (lsn.0 >> 32) as u32), pos: lsn.0 as u32 }
    }
}

/// `<basename>.<sequence>` with the sequence zero-padded to six digits.
pub fn file_name(basename: &str, sequence: u32) -> String {
    format!("{basename}.{sequence:06}")
}

/// Splits `binlog.000042` into `("binlog", 42)`.
pub fn split_file_name(file: &str) -> Result<(&str, u32), Error> {
    let bad = || {
        Error::fatal(format!("unexpected binlog file name {file:?}"))
            .with_detail("expected <basename>.<number>, e.g. binlog.000042")
    };
    let (base, suffix) = file.rsplit_once('.').ok_or_else(bad)?;
    if base.is_empty() || suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let seq = suffix.parse::<u32>().map_err(|_| bad())?;
    Ok((base, seq))
}

/// Displays an `Lsn` as `sequence:offset` when the basename is not at hand (e.g. `42:1234`).
pub fn lsn_display(lsn: Lsn) -> String {
    format!("{}:{}", lsn.0 >> 32, lsn.0 & 0xFFFF_FFFF)
}

impl fmt::Display for BinlogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_file_sequence_and_offset() {
        let p = BinlogPosition::new("binlog.000042", 1234).unwrap();
        assert_eq!(p.to_lsn().unwrap(), Lsn((42 << 32) | 1234));
        assert_eq!(p.to_string(), "binlog.000042:1234");
        assert_eq!(BinlogPosition::from_lsn(Lsn((42 << 32) | 1234), "binlog"), p);
        assert_eq!(p.basename().unwrap(), "binlog");
        assert_eq!(lsn_display(Lsn((42 << 32) | 1234)), "42:1234");
    }

    #[test]
    fn long_sequences_and_dotted_basenames() {
        let p = BinlogPosition::new("my.host-bin.1000000", 4).unwrap();
        assert_eq!(p.sequence().unwrap(), 1_000_000);
        assert_eq!(p.basename().unwrap(), "my.host-bin");
        assert_eq!(BinlogPosition::from_lsn(p.to_lsn().unwrap(), "my.host-bin"), p);
    }

    #[test]
    fn rejects_bad_names_and_offsets() {
        for bad in ["binlog", "binlog.", ".000001", "binlog.00x1", "binlog.99999999999"] {
            assert!(BinlogPosition::new(bad, 4).unwrap().to_lsn().is_err(), "{bad}");
        }
        assert!(BinlogPosition::new("binlog.000001", 1 << 32).is_err());
    }

    proptest! {
        #[test]
        fn lsn_round_trips(seq in 0u32.., pos in 0u32..) {
            let p = BinlogPosition::from_lsn(Lsn((u64::from(seq) << 32) | u64::from(pos)), "mysql-bin");
            prop_assert_eq!(p.sequence().unwrap(), seq);
            prop_assert_eq!(BinlogPosition::new(p.file.clone(), u64::from(p.pos)).unwrap().to_lsn().unwrap(),
                Lsn((u64::from(seq) << 32) | u64::from(pos)));
        }

        #[test]
        fn order_is_file_then_offset(a in (0u32..1000, 0u32..), b in (0u32..1000, 0u32..)) {
            let la = BinlogPosition::from_lsn(Lsn((u64::from(a.0) << 32) | u64::from(a.1)), "b").to_lsn().unwrap();
            let lb = BinlogPosition::from_lsn(Lsn((u64::from(b.0) << 32) | u64::from(b.1)), "b").to_lsn().unwrap();
            prop_assert_eq!(la.cmp(&lb), a.cmp(&b));
        }
    }
}
