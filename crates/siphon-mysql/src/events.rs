//! Events mysql_common does not decode, parsed from their raw bytes (checksum already removed):
//! MariaDB's `ANNOTATE_ROWS` (160), `BINLOG_CHECKPOINT` (161), `GTID` (162) and `GTID_LIST`
//! (163) (layouts from MariaDB's `sql/log_event.h`), the heartbeat's file name, MySQL's
//! `HEARTBEAT_LOG_EVENT_V2` (41) and the header of `TRANSACTION_PAYLOAD` (40) (layouts from
//! MySQL's `libbinlogevents` codecs, `binary.cpp`), and `TRUNCATE` statements in `QUERY`
//! events. Pure and panic-free on any input (property-tested).

use crate::gtid::{MariaGtid, MariaGtidState};
use crate::tablemap::{DecodeError, Reader};

pub const ANNOTATE_ROWS_EVENT: u8 = 160;
pub const BINLOG_CHECKPOINT_EVENT: u8 = 161;
pub const MARIA_GTID_EVENT: u8 = 162;
pub const GTID_LIST_EVENT: u8 = 163;
/// MySQL 8.0.26+: a heartbeat whose position is 64 bits wide.
pub const HEARTBEAT_LOG_EVENT_V2: u8 = 41;

/// A MariaDB GTID event: the start of a transaction (or of a standalone statement, e.g. DDL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MariaGtidEvent {
    pub gtid: MariaGtid,
    /// `FL_STANDALONE`: a statement without BEGIN/COMMIT (DDL); it ends with its QUERY event.
    pub standalone: bool,
}

/// `seq_no u64 | domain_id u32 | flags2 u8 | ...` (the server id is the event header's).
pub fn parse_maria_gtid(body: &[u8], server_id: u32) -> Result<MariaGtidEvent, DecodeError> {
    let mut r = Reader::new(body);
    let seq = r.uint_le(8, "GTID sequence number")?;
    let domain = r.uint_le(4, "GTID domain")? as u32;
    let flags = r.u8("GTID flags")?;
    Ok(MariaGtidEvent { gtid: MariaGtid { domain, server: server_id, seq }, standalone: flags & 1 != 0 })
}

/// `count u32 (low 28 bits; the top 4 are flags) | count * (domain u32, server u32, seq u64)`.
pub fn parse_gtid_list(body: &[u8]) -> Result<MariaGtidState, DecodeError> {
    let mut r = Reader::new(body);
    let count = r.uint_le(4, "GTID list count")? & 0x0FFF_FFFF;
    let mut state = MariaGtidState::default();
    for _ in 0..count {
        let domain = r.uint_le(4, "GTID list domain")? as u32;
        let server = r.uint_le(4, "GTID list server")? as u32;
        let seq = r.uint_le(8, "GTID list sequence")?;
        state.apply(MariaGtid { domain, server, seq });
    }
    Ok(state)
}

/// A heartbeat's body is the name of the binlog file the server is at.
pub fn heartbeat_file(body: &[u8]) -> String {
    String::from_utf8_lossy(body).trim_end_matches('\0').to_string()
}

/// A `HEARTBEAT_LOG_EVENT_V2` body: fields `type lenenc | length lenenc | value` until type 0
/// (`OTW_HB_HEADER_END_MARK`): 1 is the file name (`length` bytes), 2 the position (a lenenc
/// integer); unknown fields are skipped by their length. Returns (file, position).
pub fn parse_heartbeat_v2(body: &[u8]) -> Result<(Option<String>, Option<u64>), DecodeError> {
    let mut r = Reader::new(body);
    let (mut file, mut pos) = (None, None);
    while !r.is_empty() {
        let field = r.lenenc("heartbeat field type")?;
        if field == 0 {
            break;
        }
        let value = r.lenenc_bytes("heartbeat field")?;
        match field {
            1 => file = Some(String::from_utf8_lossy(value).into_owned()),
            2 => pos = Some(Reader::new(value).lenenc("heartbeat position")?),
            _ => {}
        }
    }
    Ok((file, pos))
}

/// `TRANSACTION_PAYLOAD` compression (`binary_log::transaction::compression::type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadCompression {
    Zstd,
    None,
}

/// The header of a `TRANSACTION_PAYLOAD` event: fields `type lenenc | length lenenc | value
/// lenenc` until type 0 (`OTW_PAYLOAD_HEADER_END_MARK`), then the payload. 1 is the payload size,
/// 2 the compression type (0 ZSTD, 255 NONE), 3 the uncompressed size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadHeader {
    pub compression: PayloadCompression,
    pub payload_size: u64,
    /// The bytes of the events inside, once decompressed (the payload size when uncompressed).
    pub inner_size: u64,
}

pub fn parse_payload_header(body: &[u8]) -> Result<PayloadHeader, DecodeError> {
    let mut r = Reader::new(body);
    let (mut size, mut compression, mut uncompressed) = (None, None, 0);
    loop {
        let field = r.lenenc("payload field type")?;
        if field == 0 {
            break;
        }
        let mut value = Reader::new(r.lenenc_bytes("payload field")?);
        match field {
            1 => size = Some(value.lenenc("payload size")?),
            2 => {
                compression = Some(match value.lenenc("payload compression")? {
                    0 => PayloadCompression::Zstd,
                    255 => PayloadCompression::None,
                    other => return Err(DecodeError::Invalid(format!("unknown payload compression type {other}"))),
                })
            }
            3 => uncompressed = value.lenenc("payload uncompressed size")?,
            _ => {}
        }
    }
    let (Some(payload_size), Some(compression)) = (size, compression) else {
        return Err(DecodeError::Invalid("transaction payload header lacks its size or compression".into()));
    };
    if payload_size != r.buf.len() as u64 {
        return Err(DecodeError::Invalid(format!(
            "transaction payload of {payload_size} bytes in an event holding {}",
            r.buf.len()
        )));
    }
    let inner_size = if compression == PayloadCompression::None { payload_size } else { uncompressed };
    Ok(PayloadHeader { compression, payload_size, inner_size })
}

/// The tables of `TRUNCATE [TABLE] [db.]name` (`None` for any other statement). Unqualified
/// names are in `default_db` (the QUERY event's current database).
pub fn truncated_table(query: &str, default_db: &str) -> Option<(String, String)> {
    let q = strip_comments(query);
    let mut rest = q.trim_start();
    rest = strip_keyword(rest, "TRUNCATE")?;
    if let Some(r) = strip_keyword(rest, "TABLE") {
        rest = r;
    }
    let (first, after) = ident(rest)?;
    let after = after.trim_start();
    let (db, table, after) = match after.strip_prefix('.') {
        Some(r) => {
            let (t, a) = ident(r.trim_start())?;
            (first, t, a)
        }
        None => (default_db.to_string(), first, after),
    };
    let tail = after.trim_start().trim_end_matches(';').trim();
    tail.is_empty().then_some((db, table))
}

/// `(db, table, [(old, new)])`: the columns one statement renames.
pub type Renamed = (String, String, Vec<(String, String)>);

/// The columns an `ALTER TABLE` renames, `(db, table, [(old, new)])`: its `RENAME COLUMN a TO b`
/// and `CHANGE [COLUMN] a b <definition>` clauses (a `CHANGE` that keeps the name is not a
/// rename). `None` for any other statement. Unqualified names are in `default_db`. The binlog
/// carries no column identities, so this is how a rename is told from a drop and an add; the
/// runtime accepts a pair only if the old name left the table's columns and the new one came.
pub fn renamed_columns(query: &str, default_db: &str) -> Option<Renamed> {
    let tokens = tokens(&strip_comments(query))?;
    let mut t = tokens.iter().peekable();
    let kw = |tok: Option<&&Token>, k: &str| matches!(tok, Some(Token::Word(w, false)) if w.eq_ignore_ascii_case(k));
    if !kw(t.next().as_ref(), "ALTER") {
        return None;
    }
    while kw(t.peek(), "ONLINE") || kw(t.peek(), "IGNORE") {
        t.next();
    }
    if !kw(t.next().as_ref(), "TABLE") {
        return None;
    }
    if kw(t.peek(), "IF") {
        t.next();
        t.next(); // EXISTS
    }
    let Some(Token::Word(first, _)) = t.next() else { return None };
    let (db, table) = if matches!(t.peek(), Some(Token::Punct('.'))) {
        t.next();
        let Some(Token::Word(name, _)) = t.next() else { return None };
        (first.clone(), name.clone())
    } else {
        (default_db.to_string(), first.clone())
    };
    // The clauses, split at top-level commas.
    let mut clauses: Vec<Vec<&Token>> = vec![Vec::new()];
    let mut depth = 0i32;
    for tok in t {
        match tok {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth -= 1,
            Token::Punct(',') if depth == 0 => {
                clauses.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(c) = clauses.last_mut() {
            c.push(tok);
        }
    }
    let mut renames = Vec::new();
    for c in clauses {
        let word = |i: usize| match c.get(i) {
            Some(Token::Word(w, _)) => Some(w.as_str()),
            _ => None,
        };
        let is = |i: usize, k: &str| matches!(c.get(i), Some(Token::Word(w, false)) if w.eq_ignore_ascii_case(k));
        if is(0, "RENAME") && is(1, "COLUMN") && is(3, "TO") {
            if let (Some(old), Some(new)) = (word(2), word(4)) {
                renames.push((old.to_string(), new.to_string()));
            }
        } else if is(0, "CHANGE") {
            let mut i = 1;
            if is(i, "COLUMN") {
                i += 1;
            }
            if is(i, "IF") && is(i + 1, "EXISTS") {
                i += 2;
            }
            if let (Some(old), Some(new)) = (word(i), word(i + 1)) {
                if old != new {
                    renames.push((old.to_string(), new.to_string()));
                }
            }
        }
    }
    Some((db, table, renames))
}

/// A token of a statement: a word (`true` when it was backquoted) or a punctuation mark; string
/// literals are skipped (their content is never a name here).
#[derive(Debug, PartialEq)]
enum Token {
    Word(String, bool),
    Punct(char),
}

fn tokens(q: &str) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut rest = q;
    loop {
        rest = rest.trim_start();
        let Some(c) = rest.chars().next() else { return Some(out) };
        if c == '`' {
            let (name, r) = ident(rest)?;
            out.push(Token::Word(name, true));
            rest = r;
        } else if c == '\'' || c == '"' {
            // Skip a string literal (doubled quotes and backslash escapes inside).
            let mut chars = rest.char_indices().skip(1);
            let mut end = None;
            while let Some((i, ch)) = chars.next() {
                if ch == '\\' {
                    chars.next();
                } else if ch == c {
                    if rest[i + 1..].starts_with(c) {
                        chars.next();
                    } else {
                        end = Some(i + 1);
                        break;
                    }
                }
            }
            rest = &rest[end?..];
        } else if c == '-' && rest.starts_with("-- ") || c == '#' {
            rest = rest.find('\n').map_or("", |i| &rest[i..]);
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let (w, r) = ident(rest)?;
            out.push(Token::Word(w, false));
            rest = r;
        } else {
            out.push(Token::Punct(c));
            rest = &rest[c.len_utf8()..];
        }
    }
}

fn strip_comments(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    let mut rest = q;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        match rest[i + 2..].find("*/") {
            Some(j) => rest = &rest[i + 2 + j + 2..],
            None => return out,
        }
        out.push(' ');
    }
    out.push_str(rest);
    out
}

fn strip_keyword<'a>(s: &'a str, kw: &str) -> Option<&'a str> {
    let head = s.get(..kw.len())?;
    let next = s[kw.len()..].chars().next();
    if head.eq_ignore_ascii_case(kw) && next.is_none_or(|c| c.is_whitespace() || c == '`') {
        Some(s[kw.len()..].trim_start())
    } else {
        None
    }
}

/// A plain or backquoted identifier at the start of `s`.
fn ident(s: &str) -> Option<(String, &str)> {
    if let Some(r) = s.strip_prefix('`') {
        let mut name = String::new();
        let mut chars = r.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '`' {
                if r[i + 1..].starts_with('`') {
                    name.push('`');
                    chars.next();
                } else {
                    return Some((name, &r[i + 1..]));
                }
            } else {
                name.push(c);
            }
        }
        None
    } else {
        let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).unwrap_or(s.len());
        (end > 0).then(|| (s[..end].to_string(), &s[end..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_renamed_columns_in_alter_table() {
        let r = |q: &str| renamed_columns(q, "shop");
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(r("ALTER TABLE t RENAME COLUMN a TO b"), Some(("shop".into(), "t".into(), vec![pair("a", "b")])));
        assert_eq!(
            r("alter table `db`.`my t` change column `old x` `new, y` varchar(10) DEFAULT 'a,b', ADD COLUMN z int, CHANGE c c bigint, CHANGE d e int /* , RENAME COLUMN q TO w */"),
            Some(("db".into(), "my t".into(), vec![pair("old x", "new, y"), pair("d", "e")]))
        );
        assert_eq!(
            r("ALTER TABLE t ADD COLUMN x decimal(10,2), DROP COLUMN y"),
            Some(("shop".into(), "t".into(), vec![]))
        );
        assert_eq!(r("ALTER TABLE t RENAME TO u"), Some(("shop".into(), "t".into(), vec![])));
        assert_eq!(r("ALTER TABLE t RENAME INDEX i TO j"), Some(("shop".into(), "t".into(), vec![])));
        assert_eq!(
            r("ALTER ONLINE IGNORE TABLE IF EXISTS t RENAME COLUMN `a``b` TO c"),
            Some(("shop".into(), "t".into(), vec![pair("a`b", "c")]))
        );
        assert_eq!(r("INSERT INTO t VALUES (1)"), None);
        assert_eq!(r("ALTER TABLE t COMMENT 'it''s RENAME COLUMN a TO b'"), Some(("shop".into(), "t".into(), vec![])));
    }

    proptest! {
        #[test]
        fn renamed_columns_never_panics(q in ".{0,200}") {
            let _ = renamed_columns(&q, "db");
        }
    }

    #[test]
    fn parses_mariadb_gtid_and_list() {
        let mut b = 42u64.to_le_bytes().to_vec();
        b.extend(3u32.to_le_bytes());
        b.push(1);
        let e = parse_maria_gtid(&b, 7).unwrap();
        assert_eq!(e.gtid.to_string(), "3-7-42");
        assert!(e.standalone);
        let mut l = 2u32.to_le_bytes().to_vec();
        for (d, s, q) in [(0u32, 1u32, 10u64), (1, 2, 5)] {
            l.extend(d.to_le_bytes());
            l.extend(s.to_le_bytes());
            l.extend(q.to_le_bytes());
        }
        assert_eq!(parse_gtid_list(&l).unwrap().to_string(), "0-1-10,1-2-5");
        assert!(parse_gtid_list(&l[..20]).is_err());
    }

    #[test]
    fn parses_heartbeat_v2_and_payload_headers() {
        let mut b = vec![1, 13];
        b.extend(b"binlog.000041");
        b.extend([2, 4, 0xfd, 0x15, 0xcd, 0x5b, 9, 1, 0xaa, 0]); // position 6016277, unknown field 9
        assert_eq!(parse_heartbeat_v2(&b).unwrap(), (Some("binlog.000041".into()), Some(0x5bcd15)));
        assert_eq!(parse_heartbeat_v2(&[0]).unwrap(), (None, None));
        assert!(parse_heartbeat_v2(&[1, 5, b'x']).is_err());
        let h = parse_payload_header(&[2, 1, 0, 3, 1, 100, 1, 1, 3, 0, 7, 7, 7]).unwrap();
        assert_eq!(h, PayloadHeader { compression: PayloadCompression::Zstd, payload_size: 3, inner_size: 100 });
        let h = parse_payload_header(&[2, 3, 0xfc, 255, 0, 1, 1, 2, 0, 7, 7]).unwrap();
        assert_eq!((h.compression, h.inner_size), (PayloadCompression::None, 2));
        assert!(parse_payload_header(&[2, 1, 7, 1, 1, 0, 0]).is_err(), "unknown compression");
        assert!(parse_payload_header(&[2, 1, 0, 1, 1, 9, 0, 1]).is_err(), "size beyond the event");
    }

    #[test]
    fn recognizes_truncate() {
        assert_eq!(truncated_table("TRUNCATE TABLE t", "db"), Some(("db".into(), "t".into())));
        assert_eq!(truncated_table("truncate `o``dd`.`x y`;", "db"), Some(("o`dd".into(), "x y".into())));
        assert_eq!(truncated_table("/* c */ TRUNCATE other.t2", "db"), Some(("other".into(), "t2".into())));
        assert_eq!(truncated_table("TRUNCATE TABLE t; DROP TABLE u", "db"), None);
        assert_eq!(truncated_table("TRUNCATEX t", "db"), None);
        assert_eq!(truncated_table("ALTER TABLE t ADD c INT", "db"), None);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100), s in "\\PC{0,40}") {
            let _ = parse_maria_gtid(&bytes, 1);
            let _ = parse_gtid_list(&bytes);
            let _ = heartbeat_file(&bytes);
            let _ = parse_heartbeat_v2(&bytes);
            let _ = parse_payload_header(&bytes);
            let _ = truncated_table(&s, "db");
            let _ = truncated_table(&format!("TRUNCATE {s}"), "db");
        }
    }
}
