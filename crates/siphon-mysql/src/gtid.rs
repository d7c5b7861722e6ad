//! Global transaction identifiers, in both flavours.
//!
//! * **MariaDB**: `domain-server-sequence` (`0-1-42`). A replication position is a *GTID state*:
//!   the last GTID of every replication domain (`0-1-42,1-2-7`), which is exactly what
//!   `@slave_connect_state` takes and `@@gtid_binlog_pos` / `BINLOG_GTID_POS(file, pos)` print.
//!   Sequence numbers grow within a domain, so a state after a transaction is the state before
//!   it with that domain's entry replaced.
//! * **MySQL**: `server_uuid:gno`; a position is a *GTID set*, per source UUID a list of
//!   inclusive intervals (`3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7-9`), as `@@gtid_executed`
//!   prints it. Tagged GTIDs (MySQL 8.3+, `uuid:tag:gno`) are not supported.
//!
//! Both parse and print the server's own text forms; round trips are property-tested.

use std::collections::BTreeMap;
use std::fmt;

/// A MariaDB GTID, `domain-server-sequence`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MariaGtid {
    pub domain: u32,
    pub server: u32,
    pub seq: u64,
}

/// A GTID (or GTID state / set) that could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid GTID {0:?}")]
pub struct GtidParseError(pub String);

impl std::str::FromStr for MariaGtid {
    type Err = GtidParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || GtidParseError(s.to_string());
        let mut parts = s.trim().split('-');
        let (Some(d), Some(sv), Some(q), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(err());
        };
        fn num(p: &str) -> Option<&str> {
            p.bytes().all(|b| b.is_ascii_digit()).then_some(p)
        }
        Ok(MariaGtid {
            domain: num(d).ok_or_else(err)?.parse().map_err(|_| err())?,
            server: num(sv).ok_or_else(err)?.parse().map_err(|_| err())?,
            seq: num(q).ok_or_else(err)?.parse().map_err(|_| err())?,
        })
    }
}

impl fmt::Display for MariaGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

/// A MariaDB GTID state: the last GTID of each domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MariaGtidState {
    domains: BTreeMap<u32, MariaGtid>,
}

impl MariaGtidState {
    /// Records `gtid` as its domain's latest transaction.
    pub fn apply(&mut self, gtid: MariaGtid) {
        self.domains.insert(gtid.domain, gtid);
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// Whether `gtid` is at or before its domain's entry: the transaction is in the history
    /// this state ends (sequence numbers grow within a domain, as a MariaDB replica counts).
    pub fn contains(&self, gtid: MariaGtid) -> bool {
        self.domains.get(&gtid.domain).is_some_and(|g| g.seq >= gtid.seq)
    }

    pub fn gtids(&self) -> impl Iterator<Item = &MariaGtid> {
        self.domains.values()
    }
}

impl std::str::FromStr for MariaGtidState {
    type Err = GtidParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut state = MariaGtidState::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let gtid: MariaGtid = part.parse().map_err(|_| GtidParseError(s.to_string()))?;
            if state.domains.insert(gtid.domain, gtid).is_some() {
                return Err(GtidParseError(s.to_string())); // one entry per domain
            }
        }
        Ok(state)
    }
}

impl fmt::Display for MariaGtidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.domains.values().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{g}")?;
        }
        Ok(())
    }
}

/// A MySQL GTID set: per source UUID, sorted disjoint inclusive intervals of transaction numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MySqlGtidSet {
    sets: BTreeMap<[u8; 16], Vec<(u64, u64)>>,
}

impl MySqlGtidSet {
    /// Adds the interval `start..=end` of `uuid`'s transactions, merging with its neighbours.
    pub fn add_interval(&mut self, uuid: [u8; 16], start: u64, end: u64) {
        let (start, end) = (start.min(end), start.max(end));
        let ivs = self.sets.entry(uuid).or_default();
        ivs.push((start, end));
        ivs.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ivs.len());
        for &(s, e) in ivs.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *ivs = merged;
    }

    /// Adds one transaction.
    pub fn add(&mut self, uuid: [u8; 16], gno: u64) {
        self.add_interval(uuid, gno, gno);
    }

    pub fn contains(&self, uuid: [u8; 16], gno: u64) -> bool {
        self.sets.get(&uuid).is_some_and(|ivs| ivs.iter().any(|&(s, e)| s <= gno && gno <= e))
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The set as `COM_BINLOG_DUMP_GTID` takes it (half-open intervals).
    pub fn sids(&self) -> Vec<mysql_common::packets::Sid<'static>> {
        use mysql_common::packets::{GnoInterval, Sid};
        self.sets
            .iter()
            .map(|(uuid, ivs)| {
                Sid::new(*uuid)
                    .with_intervals(ivs.iter().map(|&(s, e)| GnoInterval::new(s, e.saturating_add(1))).collect())
            })
            .collect()
    }
}

/// `3e11fa47-71ca-11e1-9e33-c80aa9429562`
pub fn format_uuid(u: &[u8; 16]) -> String {
    let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: String = s.chars().filter(|&c| c != '-').collect();
    let dashes_ok = s.len() == 36 && [8, 13, 18, 23].iter().all(|&i| s.as_bytes()[i] == b'-');
    if hex.len() != 32 || !dashes_ok || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl std::str::FromStr for MySqlGtidSet {
    type Err = GtidParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || GtidParseError(s.to_string());
        let mut set = MySqlGtidSet::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut fields = part.split(':');
            let uuid = parse_uuid(fields.next().ok_or_else(err)?.trim()).ok_or_else(err)?;
            let mut any = false;
            for iv in fields {
                let (a, b) = iv.split_once('-').unwrap_or((iv, iv));
                let n = |x: &str| {
                    if x.is_empty() || !x.bytes().all(|c| c.is_ascii_digit()) {
                        return Err(err());
                    }
                    x.parse::<u64>().map_err(|_| err())
                };
                let (a, b) = (n(a)?, n(b)?);
                if a == 0 || b < a {
                    return Err(err());
                }
                set.add_interval(uuid, a, b);
                any = true;
            }
            if !any {
                return Err(err());
            }
        }
        Ok(set)
    }
}

impl fmt::Display for MySqlGtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (uuid, ivs)) in self.sets.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(&format_uuid(uuid))?;
            for &(s, e) in ivs {
                if s == e {
                    write!(f, ":{s}")?;
                } else {
                    write!(f, ":{s}-{e}")?;
                }
            }
        }
        Ok(())
    }
}

/// The GTID position a stream has reached, in its server's flavour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GtidState {
    MariaDb(MariaGtidState),
    MySql(MySqlGtidSet),
}

impl GtidState {
    /// Parses a state in the server's flavour (`mariadb`: `0-1-42,...`; else a MySQL set).
    pub fn parse(text: &str, mariadb: bool) -> Result<GtidState, GtidParseError> {
        Ok(if mariadb { GtidState::MariaDb(text.parse()?) } else { GtidState::MySql(text.parse()?) })
    }

    /// Whether this state is MariaDB's (`0-1-42`) rather than a MySQL set.
    pub fn is_mariadb(&self) -> bool {
        matches!(self, GtidState::MariaDb(_))
    }
}

impl fmt::Display for GtidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidState::MariaDb(s) => s.fmt(f),
            GtidState::MySql(s) => s.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mariadb_state_parses_prints_and_applies() {
        let mut s: MariaGtidState = "1-2-7, 0-1-42".parse().unwrap();
        assert_eq!(s.to_string(), "0-1-42,1-2-7");
        s.apply(MariaGtid { domain: 0, server: 3, seq: 43 });
        assert_eq!(s.to_string(), "0-3-43,1-2-7");
        assert_eq!("".parse::<MariaGtidState>().unwrap().to_string(), "");
        for bad in ["0-1", "0-1-2-3", "a-1-2", "0-1-2,0-1-3", "-1-1-1", "0-1-99999999999999999999"] {
            assert!(bad.parse::<MariaGtidState>().is_err(), "{bad}");
        }
    }

    #[test]
    fn mysql_set_merges_and_prints_like_the_server() {
        let s: MySqlGtidSet =
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7,3e11fa47-71ca-11e1-9e33-c80aa9429562:6".parse().unwrap();
        assert_eq!(s.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7");
        let mut s = s;
        let u = parse_uuid("00000000-0000-0000-0000-000000000001").unwrap();
        s.add(u, 3);
        s.add(u, 5);
        assert_eq!(s.to_string(), "00000000-0000-0000-0000-000000000001:3:5,3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7");
        assert!(s.contains(u, 5) && !s.contains(u, 4));
        for bad in [
            "x:1",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:0",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:5-3",
        ] {
            assert!(bad.parse::<MySqlGtidSet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_mariadb_state_contains_each_domains_history() {
        let s: MariaGtidState = "0-1-42,1-2-7".parse().unwrap();
        let g = |domain, server, seq| MariaGtid { domain, server, seq };
        assert!(s.contains(g(0, 1, 42)) && s.contains(g(0, 9, 3)) && s.contains(g(1, 2, 7)));
        assert!(!s.contains(g(0, 1, 43)) && !s.contains(g(1, 2, 8)) && !s.contains(g(2, 1, 1)));
    }

    #[test]
    fn a_mysql_set_becomes_dump_intervals() {
        let s: MySqlGtidSet = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7".parse().unwrap();
        let sids = s.sids();
        assert_eq!(sids.len(), 1);
        let ivs: Vec<(u64, u64)> = sids[0].intervals().iter().map(|i| (i.start(), i.end())).collect();
        assert_eq!(ivs, [(1, 6), (7, 8)], "half-open, as the server reads them");
        assert_eq!(format_uuid(&sids[0].uuid()), "3e11fa47-71ca-11e1-9e33-c80aa9429562");
        assert_eq!(GtidState::parse("", true).unwrap(), GtidState::MariaDb(MariaGtidState::default()));
        assert!(GtidState::parse("0-1-2", false).is_err() && GtidState::parse("0-1-2", true).is_ok());
    }

    proptest! {
        #[test]
        fn mariadb_state_round_trips(gtids in proptest::collection::vec((0u32..5, any::<u32>(), any::<u64>()), 0..6)) {
            let mut s = MariaGtidState::default();
            for (domain, server, seq) in gtids {
                s.apply(MariaGtid { domain, server, seq });
            }
            prop_assert_eq!(s.to_string().parse::<MariaGtidState>().unwrap(), s);
        }

        #[test]
        fn mysql_set_round_trips_and_contains_what_was_added(
            adds in proptest::collection::vec((0u8..3, 1u64..200), 0..40)
        ) {
            let mut s = MySqlGtidSet::default();
            for &(u, g) in &adds {
                s.add([u; 16], g);
            }
            let printed = s.to_string();
            prop_assert_eq!(printed.parse::<MySqlGtidSet>().unwrap(), s.clone());
            for &(u, g) in &adds {
                prop_assert!(s.contains([u; 16], g));
            }
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,60}") {
            let _ = s.parse::<MariaGtidState>();
            let _ = s.parse::<MySqlGtidSet>();
        }
    }
}
