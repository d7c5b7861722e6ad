//! Tests for the pgoutput decoder: hand-written byte vectors following the
//! documented message formats, error cases, and property tests.

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;

fn ok(buf: &[u8]) -> PgOutputMessage {
    decode(buf, false).expect("message should decode")
}

fn err(buf: &[u8], streaming: bool) -> DecodeError {
    decode(buf, streaming).expect_err("message should not decode")
}

fn text(s: &str) -> TupleValue {
    TupleValue::Text(s.to_owned())
}

#[test]
fn begin() {
    let buf = [
        b'B', //
        0, 0, 0, 1, 0x6B, 0x37, 0x4D, 0x48, // final LSN 1/6B374D48
        0, 0x02, 0x9F, 0x5A, 0x1C, 0x2B, 0x3C, 0x4D, // timestamp
        0, 0, 0x02, 0xF1, // xid 753
    ];
    let expected =
        PgOutputMessage::Begin(Begin { final_lsn: 0x1_6B37_4D48, commit_time_micros: 0x0002_9F5A_1C2B_3C4D, xid: 753 });
    assert_eq!(ok(&buf), expected);
    assert_eq!(encode(&expected, false), buf);
}

#[test]
fn commit() {
    let buf = [
        b'C', 0, // flags
        0, 0, 0, 0, 0, 0, 0x10, 0x00, // commit LSN
        0, 0, 0, 0, 0, 0, 0x10, 0x28, // end LSN
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, // timestamp -2
    ];
    let expected =
        PgOutputMessage::Commit(Commit { flags: 0, commit_lsn: 0x1000, end_lsn: 0x1028, commit_time_micros: -2 });
    assert_eq!(ok(&buf), expected);
    assert_eq!(encode(&expected, false), buf);
}

#[test]
fn origin() {
    let mut buf = vec![b'O', 0, 0, 0, 0, 0, 0, 0, 7];
    buf.extend_from_slice(b"pg_16384\0");
    let expected = PgOutputMessage::Origin { commit_lsn: 7, name: "pg_16384".into() };
    assert_eq!(ok(&buf), expected);
    assert_eq!(encode(&expected, false), buf);
}

fn relation_bytes() -> Vec<u8> {
    let mut buf = vec![b'R', 0, 0, 0x40, 0x00]; // relation id 16384
    buf.extend_from_slice(b"public\0accounts\0");
    buf.extend_from_slice(&[b'd', 0, 2]); // replica identity, 2 columns
    buf.extend_from_slice(&[1]);
    buf.extend_from_slice(b"id\0");
    buf.extend_from_slice(&[0, 0, 0, 20, 0xFF, 0xFF, 0xFF, 0xFF]); // int8, -1
    buf.extend_from_slice(&[0]);
    buf.extend_from_slice(b"name\0");
    buf.extend_from_slice(&[0, 0, 0x04, 0x13, 0, 0, 0, 36]); // varchar(32)
    buf
}

fn relation_value(xid: Option<u32>) -> PgOutputMessage {
    PgOutputMessage::Relation(Relation {
        xid,
        id: 16384,
        namespace: "public".into(),
        name: "accounts".into(),
        replica_identity: ReplicaIdentity::Default,
        columns: vec![
            RelationColumn { is_key: true, name: "id".into(), type_oid: 20, type_modifier: -1 },
            RelationColumn { is_key: false, name: "name".into(), type_oid: 1043, type_modifier: 36 },
        ],
    })
}

#[test]
fn relation() {
    let buf = relation_bytes();
    assert_eq!(ok(&buf), relation_value(None));
    assert_eq!(encode(&relation_value(None), false), buf);
}

#[test]
fn relation_replica_identities() {
    for (byte, identity) in [
        (b'd', ReplicaIdentity::Default),
        (b'n', ReplicaIdentity::Nothing),
        (b'f', ReplicaIdentity::Full),
        (b'i', ReplicaIdentity::Index),
    ] {
        let mut buf = vec![b'R', 0, 0, 0, 1, b's', 0, b't', 0, byte, 0, 0];
        let PgOutputMessage::Relation(rel) = ok(&buf) else {
            panic!("not a relation");
        };
        assert_eq!(rel.replica_identity, identity);
        buf[9] = b'x';
        let e = err(&buf, false);
        assert_eq!(e.kind, DecodeErrorKind::UnknownReplicaIdentity(b'x'));
        assert_eq!(e.offset, 9);
    }
}

#[test]
fn relation_streaming_has_xid() {
    let mut buf = relation_bytes();
    buf.splice(1..1, [0, 0, 0x01, 0x00]);
    assert_eq!(decode(&buf, true), Ok(relation_value(Some(256))));
    assert_eq!(encode(&relation_value(Some(256)), true), buf);
}

#[test]
fn type_message() {
    let mut buf = vec![b'Y', 0, 0, 0x41, 0x01];
    buf.extend_from_slice(b"public\0mood\0");
    let expected = PgOutputMessage::Type { xid: None, id: 16641, namespace: "public".into(), name: "mood".into() };
    assert_eq!(ok(&buf), expected);
    assert_eq!(encode(&expected, false), buf);
}

fn tuple_bytes() -> Vec<u8> {
    let mut buf = vec![0, 4]; // 4 columns
    buf.extend_from_slice(&[b't', 0, 0, 0, 2]);
    buf.extend_from_slice(b"42");
    buf.push(b'n');
    buf.push(b'u');
    buf.extend_from_slice(&[b'b', 0, 0, 0, 3, 0xDE, 0xAD, 0x00]);
    buf
}

fn tuple_value() -> TupleData {
    TupleData(vec![text("42"), TupleValue::Null, TupleValue::UnchangedToast, TupleValue::Binary(vec![0xDE, 0xAD, 0])])
}

#[test]
fn insert() {
    let mut buf = vec![b'I', 0, 0, 0x40, 0x00, b'N'];
    buf.extend(tuple_bytes());
    let expected = PgOutputMessage::Insert { xid: None, relation_id: 16384, new: tuple_value() };
    assert_eq!(ok(&buf), expected);
    assert_eq!(encode(&expected, false), buf);
}

#[test]
fn insert_streaming_has_xid() {
    let mut buf = vec![b'I', 0, 0, 0x03, 0xE8, 0, 0, 0x40, 0x00, b'N', 0, 0];
    let expected = PgOutputMessage::Insert { xid: Some(1000), relation_id: 16384, new: TupleData(vec![]) };
    assert_eq!(decode(&buf, true), Ok(expected.clone()));
    assert_eq!(encode(&expected, true), buf);
    // Without the streaming flag the xid is read as the relation id and the
    // rest is garbage.
    assert!(decode(&buf, false).is_err());
    buf.truncate(9);
    assert!(decode(&buf, true).is_err());
}

#[test]
fn insert_text_unicode() {
    let mut buf = vec![b'I', 0, 0, 0, 1, b'N', 0, 1, b't', 0, 0, 0, 6];
    buf.extend_from_slice("né€".as_bytes());
    let PgOutputMessage::Insert { new, .. } = ok(&buf) else {
        panic!("not an insert");
    };
    assert_eq!(new, TupleData(vec![text("né€")]));
}

#[test]
fn update_without_old() {
    let mut buf = vec![b'U', 0, 0, 0, 5, b'N'];
    buf.extend(tuple_bytes());
    let expected = PgOutputMessage::Update { xid: None, relation_id: 5, old: None, new: tuple_value() };
    assert_eq!(ok(&buf), expected);
    assert_eq!(encode(&expected, false), buf);
}

#[test]
fn update_with_key_and_full_old() {
    for (marker, wrap) in [(b'K', OldTuple::Key as fn(TupleData) -> OldTuple), (b'O', OldTuple::Full)] {
        let mut buf = vec![b'U', 0, 0, 0, 5, marker, 0, 1, b't', 0, 0, 0, 1, b'7', b'N'];
        buf.extend(tuple_bytes());
        let expected = PgOutputMessage::Update {
            xid: None,
            relation_id: 5,
            old: Some(wrap(TupleData(vec![text("7")]))),
            new: tuple_value(),
        };
        assert_eq!(ok(&buf), expected);
        assert_eq!(encode(&expected, false), buf);
    }
}

#[test]
fn update_old_must_be_followed_by_new() {
    let buf = [b'U', 0, 0, 0, 5, b'K', 0, 0, b'K', 0, 0];
    let e = err(&buf, false);
    assert_eq!(e.offset, 8);
    assert!(matches!(e.kind, DecodeErrorKind::UnexpectedTupleMarker { found: b'K', .. }));
    let e = err(&[b'U', 0, 0, 0, 5, b'X'], false);
    assert_eq!(e.offset, 5);
}

#[test]
fn delete_key_and_full() {
    for (marker, wrap) in [(b'K', OldTuple::Key as fn(TupleData) -> OldTuple), (b'O', OldTuple::Full)] {
        let mut buf = vec![b'D', 0, 0, 0, 9, marker];
        buf.extend(tuple_bytes());
        let expected = PgOutputMessage::Delete { xid: None, relation_id: 9, old: wrap(tuple_value()) };
        assert_eq!(ok(&buf), expected);
        assert_eq!(encode(&expected, false), buf);
    }
    let e = err(&[b'D', 0, 0, 0, 9, b'N', 0, 0], false);
    assert!(matches!(e.kind, DecodeErrorKind::UnexpectedTupleMarker { found: b'N', .. }));
}

#[test]
fn truncate() {
    let buf = [b'T', 0, 0, 0, 2, 3, 0, 0, 0x40, 0, 0, 0, 0x40, 1];
    let expected = PgOutputMessage::Truncate {
        xid: None,
        options: TruncateOptions { cascade: true, restart_identity: true },
        relation_ids: vec![16384, 16385],
    };
    assert_eq!(ok(&buf), expected);
    assert_eq!(encode(&expected, false), buf);
    let PgOutputMessage::Truncate { options, .. } = ok(&[b'T', 0, 0, 0, 0, 2]) else {
        panic!("not a truncate");
    };
    assert!(!options.cascade && options.restart_identity);
}

#[test]
fn logical_message() {
    let mut buf = vec![b'M', 1, 0, 0, 0, 0, 0, 0, 0, 0x30];
    buf.extend_from_slice(b"siphon\0");
    buf.extend_from_slice(&[0, 0, 0, 3, 0xFF, 0, b'x']);
    let expected = PgOutputMessage::Message {
        xid: None,
        transactional: true,
        lsn: 0x30,
        prefix: "siphon".into(),
        content: vec![0xFF, 0, b'x'],
    };
    assert_eq!(ok(&buf), expected);
    assert_eq!(encode(&expected, false), buf);
    buf[1] = 0;
    assert!(matches!(ok(&buf), PgOutputMessage::Message { transactional: false, .. }));
}

#[test]
fn stream_start_and_stop() {
    let buf = [b'S', 0, 0, 0x02, 0x00, 1];
    let expected = PgOutputMessage::StreamStart { xid: 512, first_segment: true };
    assert_eq!(ok(&buf), expected);
    assert_eq!(encode(&expected, false), buf);
    assert_eq!(ok(&[b'S', 0, 0, 0x02, 0x00, 0]), PgOutputMessage::StreamStart { xid: 512, first_segment: false });
    assert_eq!(ok(b"E"), PgOutputMessage::StreamStop);
    assert_eq!(decode(b"E", true), Ok(PgOutputMessage::StreamStop));
}

#[test]
fn stream_commit() {
    let buf = [
        b'c', 0, 0, 0x02, 0x00, 0, // xid, flags
        0, 0, 0, 0, 0, 0, 0, 0x50, // commit LSN
        0, 0, 0, 0, 0, 0, 0, 0x78, // end LSN
        0, 0, 0, 0, 0, 0, 0x01, 0x00, // timestamp
    ];
    let expected =
        PgOutputMessage::StreamCommit { xid: 512, flags: 0, commit_lsn: 0x50, end_lsn: 0x78, commit_time_micros: 256 };
    assert_eq!(ok(&buf), expected);
    assert_eq!(encode(&expected, false), buf);
}

#[test]
fn stream_abort_v2_and_v4() {
    let short = [b'A', 0, 0, 0x02, 0x00, 0, 0, 0x02, 0x01];
    let expected = PgOutputMessage::StreamAbort { xid: 512, subxid: 513, abort: None };
    assert_eq!(ok(&short), expected);
    assert_eq!(encode(&expected, false), short);

    let mut long = short.to_vec();
    long.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0x05]);
    let expected = PgOutputMessage::StreamAbort {
        xid: 512,
        subxid: 513,
        abort: Some(StreamAbortInfo { abort_lsn: 0x99, abort_time_micros: 5 }),
    };
    assert_eq!(ok(&long), expected);
    assert_eq!(encode(&expected, false), long);

    long.truncate(short.len() + 3);
    let e = err(&long, false);
    assert_eq!(e.kind, DecodeErrorKind::Truncated { needed: 8, remaining: 3 });
    assert_eq!(e.field, "abort LSN");
}

#[test]
fn empty_and_unknown_tag() {
    assert_eq!(err(b"", false).kind, DecodeErrorKind::Empty);
    let e = err(b"Z123", false);
    assert_eq!(e.kind, DecodeErrorKind::UnknownMessageTag(b'Z'));
    assert_eq!(e.offset, 0);
    assert_eq!(e.message, "unknown");
    // Two-phase commit messages (protocol version 3) are not supported.
    assert_eq!(err(b"b", false).kind, DecodeErrorKind::UnknownMessageTag(b'b'));
}

#[test]
fn truncated_reports_field_and_offset() {
    let e = err(&[b'B', 0, 0, 0, 0, 0, 0, 0, 0, 1, 2], false);
    assert_eq!(e.message, "Begin");
    assert_eq!(e.field, "commit timestamp");
    assert_eq!(e.offset, 9);
    assert_eq!(e.kind, DecodeErrorKind::Truncated { needed: 8, remaining: 2 });
    assert_eq!(
        e.to_string(),
        "invalid pgoutput Begin message at byte 9: message truncated: need 8 bytes, \
         2 remaining (reading commit timestamp)"
    );
}

#[test]
fn unknown_tuple_kind_names_column() {
    let buf = [b'I', 0, 0, 0, 1, b'N', 0, 2, b'n', b'x'];
    let e = err(&buf, false);
    assert_eq!(e.kind, DecodeErrorKind::UnknownTupleKind(b'x'));
    assert_eq!(e.column, Some(2));
    assert_eq!(e.offset, 9);
    assert_eq!(
        e.to_string(),
        "invalid pgoutput Insert message at byte 9: unknown tuple value kind 'x' \
         (reading tuple value kind, column 2)"
    );
    let e = err(&[b'I', 0, 0, 0, 1, b'N', 0, 1, 0], false);
    assert!(e.to_string().contains("kind 0x00"), "{e}");
}

#[test]
fn text_value_must_be_utf8() {
    let buf = [b'I', 0, 0, 0, 1, b'N', 0, 1, b't', 0, 0, 0, 3, b'a', 0xC3, 0x28];
    let e = err(&buf, false);
    assert_eq!(e.kind, DecodeErrorKind::InvalidUtf8);
    assert_eq!(e.offset, 14);
    assert_eq!(e.column, Some(1));
    // Binary values are not checked.
    let mut buf = buf.to_vec();
    buf[8] = b'b';
    assert!(decode(&buf, false).is_ok());
}

#[test]
fn strings_must_be_utf8_and_terminated() {
    let e = err(&[b'O', 0, 0, 0, 0, 0, 0, 0, 0, b'a', 0xFF, 0], false);
    assert_eq!(e.kind, DecodeErrorKind::InvalidUtf8);
    assert_eq!(e.offset, 10);
    assert_eq!(e.field, "origin name");
    let e = err(&[b'O', 0, 0, 0, 0, 0, 0, 0, 0, b'a', b'b'], false);
    assert_eq!(e.kind, DecodeErrorKind::UnterminatedString);
    assert_eq!(e.offset, 9);
}

#[test]
fn huge_counts_do_not_allocate() {
    // 65535 tuple columns announced in a 10-byte message.
    let e = err(&[b'I', 0, 0, 0, 1, b'N', 0xFF, 0xFF, b'n', b'n'], false);
    assert_eq!(e.kind, DecodeErrorKind::CountTooLarge { count: 65535, remaining: 2 });
    // 65535 relation columns, each needing at least 10 bytes.
    let mut buf = vec![b'R', 0, 0, 0, 1, 0, 0, b'd', 0xFF, 0xFF];
    buf.extend([0; 100]);
    assert!(matches!(err(&buf, false).kind, DecodeErrorKind::CountTooLarge { count: 65535, .. }));
    // i32::MAX truncated relations.
    let e = err(&[b'T', 0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 1], false);
    assert!(matches!(e.kind, DecodeErrorKind::CountTooLarge { .. }));
    // A 2 GiB text value in a short message.
    let e = err(&[b'I', 0, 0, 0, 1, b'N', 0, 1, b't', 0x7F, 0, 0, 0, b'a'], false);
    assert!(matches!(e.kind, DecodeErrorKind::Truncated { .. }));
}

#[test]
fn negative_lengths() {
    let e = err(&[b'I', 0, 0, 0, 1, b'N', 0, 1, b't', 0xFF, 0xFF, 0xFF, 0xFF], false);
    assert_eq!(e.kind, DecodeErrorKind::NegativeLength(-1));
    assert_eq!(e.offset, 9);
    let e = err(&[b'T', 0x80, 0, 0, 0, 0], false);
    assert_eq!(e.kind, DecodeErrorKind::NegativeLength(i32::MIN));
}

#[test]
fn trailing_bytes_are_an_error() {
    let e = err(&[b'E', 0], false);
    assert_eq!(e.kind, DecodeErrorKind::TrailingBytes(1));
    assert_eq!(e.offset, 1);
    let e = err(&[b'I', 0, 0, 0, 1, b'N', 0, 0, 0, 0], false);
    assert_eq!(e.kind, DecodeErrorKind::TrailingBytes(2));
}

#[test]
fn pg_epoch() {
    // 2000-01-01T00:00:00Z
    assert_eq!(PG_EPOCH_UNIX_MICROS / 1_000_000, 946_684_800);
}

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

fn arb_string() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,12}"
}

fn arb_xid(streaming: bool) -> BoxedStrategy<Option<u32>> {
    if streaming {
        any::<u32>().prop_map(Some).boxed()
    } else {
        Just(None).boxed()
    }
}

fn arb_value() -> impl Strategy<Value = TupleValue> {
    prop_oneof![
        Just(TupleValue::Null),
        Just(TupleValue::UnchangedToast),
        ".{0,12}".prop_map(TupleValue::Text),
        vec(any::<u8>(), 0..12).prop_map(TupleValue::Binary),
    ]
}

fn arb_tuple() -> impl Strategy<Value = TupleData> {
    vec(arb_value(), 0..6).prop_map(TupleData)
}

fn arb_old() -> impl Strategy<Value = OldTuple> {
    prop_oneof![arb_tuple().prop_map(OldTuple::Key), arb_tuple().prop_map(OldTuple::Full)]
}

fn arb_identity() -> impl Strategy<Value = ReplicaIdentity> {
    prop_oneof![
        Just(ReplicaIdentity::Default),
        Just(ReplicaIdentity::Nothing),
        Just(ReplicaIdentity::Full),
        Just(ReplicaIdentity::Index),
    ]
}

fn arb_column() -> impl Strategy<Value = RelationColumn> {
    (any::<bool>(), arb_string(), any::<u32>(), any::<i32>())
        .prop_map(|(is_key, name, type_oid, type_modifier)| RelationColumn { is_key, name, type_oid, type_modifier })
}

fn arb_relation(streaming: bool) -> impl Strategy<Value = PgOutputMessage> {
    (arb_xid(streaming), any::<u32>(), arb_string(), arb_string(), arb_identity(), vec(arb_column(), 0..5)).prop_map(
        |(xid, id, namespace, name, replica_identity, columns)| {
            PgOutputMessage::Relation(Relation { xid, id, namespace, name, replica_identity, columns })
        },
    )
}

fn arb_tx_control() -> impl Strategy<Value = PgOutputMessage> {
    prop_oneof![
        (any::<u64>(), any::<i64>(), any::<u32>()).prop_map(|(final_lsn, t, xid)| {
            PgOutputMessage::Begin(Begin { final_lsn, commit_time_micros: t, xid })
        }),
        (any::<u8>(), any::<u64>(), any::<u64>(), any::<i64>()).prop_map(|(f, c, e, t)| {
            PgOutputMessage::Commit(Commit { flags: f, commit_lsn: c, end_lsn: e, commit_time_micros: t })
        }),
        (any::<u64>(), arb_string()).prop_map(|(commit_lsn, name)| PgOutputMessage::Origin { commit_lsn, name }),
    ]
}

fn arb_stream_control() -> impl Strategy<Value = PgOutputMessage> {
    let abort = proptest::option::of(
        (any::<u64>(), any::<i64>()).prop_map(|(l, t)| StreamAbortInfo { abort_lsn: l, abort_time_micros: t }),
    );
    prop_oneof![
        (any::<u32>(), any::<bool>())
            .prop_map(|(xid, first_segment)| { PgOutputMessage::StreamStart { xid, first_segment } }),
        Just(PgOutputMessage::StreamStop),
        (any::<u32>(), any::<u8>(), any::<u64>(), any::<u64>(), any::<i64>()).prop_map(
            |(xid, flags, commit_lsn, end_lsn, t)| {
                PgOutputMessage::StreamCommit { xid, flags, commit_lsn, end_lsn, commit_time_micros: t }
            }
        ),
        (any::<u32>(), any::<u32>(), abort).prop_map(|(xid, subxid, abort)| PgOutputMessage::StreamAbort {
            xid,
            subxid,
            abort
        }),
    ]
}

fn arb_change(streaming: bool) -> impl Strategy<Value = PgOutputMessage> {
    let xid = arb_xid(streaming);
    prop_oneof![
        (xid.clone(), any::<u32>(), arb_tuple())
            .prop_map(|(xid, relation_id, new)| { PgOutputMessage::Insert { xid, relation_id, new } }),
        (xid.clone(), any::<u32>(), proptest::option::of(arb_old()), arb_tuple())
            .prop_map(|(xid, relation_id, old, new)| PgOutputMessage::Update { xid, relation_id, old, new }),
        (xid.clone(), any::<u32>(), arb_old())
            .prop_map(|(xid, relation_id, old)| { PgOutputMessage::Delete { xid, relation_id, old } }),
        (xid, any::<bool>(), any::<bool>(), vec(any::<u32>(), 0..6)).prop_map(
            |(xid, cascade, restart_identity, relation_ids)| PgOutputMessage::Truncate {
                xid,
                options: TruncateOptions { cascade, restart_identity },
                relation_ids,
            }
        ),
    ]
}

fn arb_meta(streaming: bool) -> impl Strategy<Value = PgOutputMessage> {
    let xid = arb_xid(streaming);
    prop_oneof![
        arb_relation(streaming),
        (xid.clone(), any::<u32>(), arb_string(), arb_string())
            .prop_map(|(xid, id, namespace, name)| PgOutputMessage::Type { xid, id, namespace, name }),
        (xid, any::<bool>(), any::<u64>(), arb_string(), vec(any::<u8>(), 0..16)).prop_map(
            |(xid, transactional, lsn, prefix, content)| {
                PgOutputMessage::Message { xid, transactional, lsn, prefix, content }
            }
        ),
    ]
}

fn arb_message(streaming: bool) -> impl Strategy<Value = PgOutputMessage> {
    prop_oneof![arb_tx_control(), arb_stream_control(), arb_change(streaming), arb_meta(streaming),]
}

fn arb_streaming_and_message() -> impl Strategy<Value = (bool, PgOutputMessage)> {
    any::<bool>().prop_flat_map(|s| (Just(s), arb_message(s)))
}

fn has_optional_trailer(msg: &PgOutputMessage) -> bool {
    matches!(msg, PgOutputMessage::StreamAbort { abort: Some(_), .. })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn roundtrip((streaming, msg) in arb_streaming_and_message()) {
        let bytes = encode(&msg, streaming);
        prop_assert_eq!(decode(&bytes, streaming), Ok(msg));
    }

    #[test]
    fn every_strict_prefix_is_an_error((streaming, msg) in arb_streaming_and_message()) {
        let bytes = encode(&msg, streaming);
        let whole = bytes.len();
        for len in 0..whole {
            if has_optional_trailer(&msg) && len == whole - 16 {
                continue;
            }
            prop_assert!(decode(&bytes[..len], streaming).is_err(), "prefix {} decoded", len);
        }
    }

    #[test]
    fn decode_arbitrary_bytes_never_panics(
        bytes in vec(any::<u8>(), 0..256),
        streaming in any::<bool>(),
    ) {
        let _ = decode(&bytes, streaming);
    }

    #[test]
    fn decode_tagged_garbage_never_panics(
        tag in proptest::sample::select(b"BCORYIUDTMSEcA".to_vec()),
        body in vec(any::<u8>(), 0..64),
        streaming in any::<bool>(),
    ) {
        let mut bytes = vec![tag];
        bytes.extend(body);
        if let Err(e) = decode(&bytes, streaming) {
            prop_assert!(e.offset <= bytes.len());
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn decode_mutated_messages_never_panics(
        (streaming, msg) in arb_streaming_and_message(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        decode_streaming in any::<bool>(),
    ) {
        let mut bytes = encode(&msg, streaming);
        for (index, byte) in edits {
            if !bytes.is_empty() {
                let i = index.index(bytes.len());
                bytes[i] = byte;
            }
        }
        if let Ok(decoded) = decode(&bytes, decode_streaming) {
            // Whatever decodes must re-encode into something that decodes
            // to the same message.
            let again = encode(&decoded, decode_streaming);
            prop_assert_eq!(decode(&again, decode_streaming), Ok(decoded));
        }
    }
}

// ---------------------------------------------------------------------------
// Messages captured from a PostgreSQL 15.18 server with
// `pg_logical_slot_peek_binary_changes(slot, NULL, NULL, 'proto_version', ..,
// 'publication_names', 'p', ...)`, hex encoded. See `server_captures`.
// ---------------------------------------------------------------------------

/// Protocol version 1, text values, `'messages', 'true'`.
const SERVER_V1: &[&str] = &[
    "420000000001586a7000030443b71ff3d1000002e8",
    "590000400a7075626c6963006d6f6f6400",
    "52000040117075626c69630061636374006400050169640000000014ffffffff006e616d65000000041300000024006d000000400affffffff006e6f74650000000019ffffffff00626c6f620000000011ffffffff",
    "49000040114e00057400000001317400000005616c69636574000000056861707079740000000a78787878787878787878740000000a5c786465616462656566",
    "49000040114e00057400000001327400000006626f6220c3a96e6e6e",
    "43000000000001586a700000000001586aa000030443b71ff3d1",
    "420000000001586b0800030443b720037f000002e9",
    "55000040114e00057400000001317400000005416c69636574000000056861707079740000000a78787878787878787878740000000a5c786465616462656566",
    "43000000000001586b080000000001586b3800030443b720037f",
    "420000000001586bd800030443b7200a48000002ea",
    "55000040114b00057400000001326e6e6e6e4e0005740000000231307400000006626f6220c3a96e6e6e",
    "43000000000001586bd80000000001586c0800030443b7200a48",
    "42000000000158a1a000030443b7203162000002ec",
    "590000400a7075626c6963006d6f6f6400",
    "52000040117075626c69630061636374006400050169640000000014ffffffff006e616d65000000041300000024006d000000400affffffff006e6f74650000000019ffffffff00626c6f620000000011ffffffff",
    "49000040114e000574000000013374000000056361726f6c74000000026f6b7400002ee0746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f617374796e",
    "4300000000000158a1a0000000000158a1d000030443b7203162",
    "42000000000158a27000030443b7203f41000002ed",
    "55000040114e000574000000013374000000054361726f6c74000000026f6b756e",
    "4300000000000158a270000000000158a2a000030443b7203f41",
    "42000000000158a2e800030443b7204eab000002ee",
    "44000040114b00057400000001316e6e6e6e",
    "4300000000000158a2e8000000000158a31800030443b7204eab",
    "42000000000158a39800030443b7205ed6000002ef",
    "52000040187075626c69630066756c6c5f740066000201610000000017ffffffff01620000000019ffffffff",
    "49000040184e0002740000000131740000000161",
    "49000040184e00027400000001326e",
    "4300000000000158a398000000000158a3c800030443b7205ed6",
    "42000000000158a42000030443b7206e95000002f0",
    "55000040184f00027400000001317400000001614e0002740000000131740000000162",
    "4300000000000158a420000000000158a45000030443b7206e95",
    "42000000000158a49000030443b7207d6e000002f1",
    "44000040184f00027400000001326e",
    "4300000000000158a490000000000158a4c000030443b7207d6e",
    "42000000000158a50000030443b7207fd9000002f2",
    "520000401d7075626c6963006e6f6b6579006e000100780000000017ffffffff",
    "490000401d4e0001740000000137",
    "4300000000000158a500000000000158a53000030443b7207fd9",
    "42000000000158b00800030443b720ac6b000002f3",
    "52000040187075626c69630066756c6c5f740066000201610000000017ffffffff01620000000019ffffffff",
    "520000401d7075626c6963006e6f6b6579006e000100780000000017ffffffff",
    "540000000203000040180000401d",
    "4300000000000158b008000000000158b15800030443b720ac6b",
    "42000000000158b19800030443b720cc6b000002f4",
    "4d01000000000158b198736970686f6e000000000568656c6c6f",
    "4300000000000158b198000000000158b1c800030443b720cc6b",
];

/// The same changes with `'binary', 'true'`.
const SERVER_V1_BINARY: &[&str] = &[
    "420000000001586a7000030443b71ff3d1000002e8",
    "590000400a7075626c6963006d6f6f6400",
    "52000040117075626c69630061636374006400050169640000000014ffffffff006e616d65000000041300000024006d000000400affffffff006e6f74650000000019ffffffff00626c6f620000000011ffffffff",
    "49000040114e0005620000000800000000000000016200000005616c69636562000000056861707079620000000a787878787878787878786200000004deadbeef",
    "49000040114e0005620000000800000000000000026200000006626f6220c3a96e6e6e",
    "43000000000001586a700000000001586aa000030443b71ff3d1",
    "420000000001586b0800030443b720037f000002e9",
    "55000040114e0005620000000800000000000000016200000005416c69636562000000056861707079620000000a787878787878787878786200000004deadbeef",
    "43000000000001586b080000000001586b3800030443b720037f",
    "420000000001586bd800030443b7200a48000002ea",
    "55000040114b0005620000000800000000000000026e6e6e6e4e00056200000008000000000000000a6200000006626f6220c3a96e6e6e",
    "43000000000001586bd80000000001586c0800030443b7200a48",
    "42000000000158a1a000030443b7203162000002ec",
    "590000400a7075626c6963006d6f6f6400",
    "52000040117075626c69630061636374006400050169640000000014ffffffff006e616d65000000041300000024006d000000400affffffff006e6f74650000000019ffffffff00626c6f620000000011ffffffff",
    "49000040114e00056200000008000000000000000362000000056361726f6c62000000026f6b6200002ee0746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f61737479746f617374796e",
    "4300000000000158a1a0000000000158a1d000030443b7203162",
    "42000000000158a27000030443b7203f41000002ed",
    "55000040114e00056200000008000000000000000362000000054361726f6c62000000026f6b756e",
    "4300000000000158a270000000000158a2a000030443b7203f41",
    "42000000000158a2e800030443b7204eab000002ee",
    "44000040114b0005620000000800000000000000016e6e6e6e",
    "4300000000000158a2e8000000000158a31800030443b7204eab",
    "42000000000158a39800030443b7205ed6000002ef",
    "52000040187075626c69630066756c6c5f740066000201610000000017ffffffff01620000000019ffffffff",
    "49000040184e0002620000000400000001620000000161",
    "49000040184e00026200000004000000026e",
    "4300000000000158a398000000000158a3c800030443b7205ed6",
    "42000000000158a42000030443b7206e95000002f0",
    "55000040184f00026200000004000000016200000001614e0002620000000400000001620000000162",
    "4300000000000158a420000000000158a45000030443b7206e95",
    "42000000000158a49000030443b7207d6e000002f1",
    "44000040184f00026200000004000000026e",
    "4300000000000158a490000000000158a4c000030443b7207d6e",
    "42000000000158a50000030443b7207fd9000002f2",
    "520000401d7075626c6963006e6f6b6579006e000100780000000017ffffffff",
    "490000401d4e0001620000000400000007",
    "4300000000000158a500000000000158a53000030443b7207fd9",
    "42000000000158b00800030443b720ac6b000002f3",
    "52000040187075626c69630066756c6c5f740066000201610000000017ffffffff01620000000019ffffffff",
    "520000401d7075626c6963006e6f6b6579006e000100780000000017ffffffff",
    "540000000203000040180000401d",
    "4300000000000158b008000000000158b15800030443b720ac6b",
    "42000000000158b19800030443b720cc6b000002f4",
    "4d01000000000158b198736970686f6e000000000568656c6c6f",
    "4300000000000158b198000000000158b1c800030443b720cc6b",
    "4d00000000000158b208736970686f6e000000000200ff",
];

/// A transaction replayed with replication origin `upstream`.
const SERVER_ORIGIN: &[&str] = &[
    "4200000000015f2cb800030443b7a4836c000002f9",
    "4f0000000000001234757073747265616d00",
    "520000401d7075626c6963006e6f6b6579006e000100780000000017ffffffff",
    "490000401d4e000174000000023432",
    "430000000000015f2cb800000000015f2d0000030443b7a4836c",
];

/// Protocol version 2 with `'streaming', 'on'`: one large transaction with a
/// rolled-back subtransaction (only the first two Inserts of each block are
/// kept).
const SERVER_V2_STREAM: &[&str] = &[
    "53000002f501",
    "59000002f50000400a7075626c6963006d6f6f6400",
    "52000002f5000040117075626c69630061636374006400050169640000000014ffffffff006e616d65000000041300000024006d000000400affffffff006e6f74650000000019ffffffff00626c6f620000000011ffffffff",
    "49000002f5000040114e0005740000000331303074000000046e31303074000000026f6b6e6e",
    "49000002f5000040114e0005740000000331303174000000046e31303174000000026f6b6e6e",
    "45",
    "53000002f500",
    "49000002f5000040114e0005740000000335343374000000046e35343374000000026f6b6e6e",
    "49000002f5000040114e0005740000000335343474000000046e35343474000000026f6b6e6e",
    "45",
    "53000002f500",
    "49000002f5000040114e0005740000000339383674000000046e39383674000000026f6b6e6e",
    "49000002f5000040114e0005740000000339383774000000046e39383774000000026f6b6e6e",
    "45",
    "53000002f500",
    "49000002f5000040114e000574000000043134323974000000056e3134323974000000026f6b6e6e",
    "49000002f5000040114e000574000000043134333074000000056e3134333074000000026f6b6e6e",
    "45",
    "41000002f5000002f6",
    "53000002f500",
    "52000002f70000401d7075626c6963006e6f6b6579006e000100780000000017ffffffff",
    "49000002f70000401d4e0001740000000131",
    "49000002f70000401d4e0001740000000132",
    "45",
    "53000002f500",
    "49000002f70000401d4e00017400000003343938",
    "49000002f70000401d4e00017400000003343939",
    "45",
    "53000002f500",
    "49000002f70000401d4e00017400000003393935",
    "49000002f70000401d4e00017400000003393936",
    "45",
    "53000002f500",
    "49000002f70000401d4e0001740000000431343932",
    "49000002f70000401d4e0001740000000431343933",
    "4d000002f50100000000015f29a0736970686f6e0000000009696e2073747265616d",
    "45",
    "63000002f50000000000015f29a000000000015f29d800030443b76619e2",
];

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// Decodes a capture, tracking Stream Start/Stop like a client must.
fn decode_capture(capture: &[&str]) -> Vec<PgOutputMessage> {
    let mut streaming = false;
    let mut out = Vec::new();
    for h in capture {
        let bytes = hex(h);
        let msg = decode(&bytes, streaming).unwrap_or_else(|e| panic!("{h}: {e}"));
        assert_eq!(encode(&msg, streaming), bytes, "re-encoding {msg:?}");
        match msg {
            PgOutputMessage::StreamStart { .. } => streaming = true,
            PgOutputMessage::StreamStop => streaming = false,
            _ => {}
        }
        out.push(msg);
    }
    out
}

fn tags(messages: &[PgOutputMessage]) -> String {
    messages.iter().map(|m| char::from(encode(m, false)[0])).collect()
}

#[test]
fn server_capture_v1_text() {
    let msgs = decode_capture(SERVER_V1);
    assert_eq!(tags(&msgs), "BYRIIC BUC BUC BYRIC BUC BDC BRIIC BUC BDC BRIC BRRTC BMC".replace(' ', ""));
    let PgOutputMessage::Relation(acct) = &msgs[2] else {
        panic!("not a relation: {:?}", msgs[2]);
    };
    assert_eq!((acct.namespace.as_str(), acct.name.as_str()), ("public", "acct"));
    assert_eq!(acct.replica_identity, ReplicaIdentity::Default);
    let names: Vec<_> = acct.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "name", "m", "note", "blob"]);
    assert!(acct.columns[0].is_key && !acct.columns[1].is_key);
    assert_eq!((acct.columns[1].type_oid, acct.columns[1].type_modifier), (1043, 36));
    let PgOutputMessage::Type { id, name, .. } = &msgs[1] else {
        panic!("not a type");
    };
    assert_eq!((*id, name.as_str()), (acct.columns[2].type_oid, "mood"));
    let expected_insert = PgOutputMessage::Insert {
        xid: None,
        relation_id: acct.id,
        new: TupleData(vec![text("2"), text("bob é"), TupleValue::Null, TupleValue::Null, TupleValue::Null]),
    };
    assert_eq!(msgs[4], expected_insert);
    // Primary key change: old key image.
    assert!(matches!(&msgs[10], PgOutputMessage::Update { old: Some(OldTuple::Key(k)), .. }
        if k.0[0] == text("2")));
    // Unchanged TOASTed column.
    assert!(matches!(&msgs[18], PgOutputMessage::Update { old: None, new, .. }
        if new.0[3] == TupleValue::UnchangedToast));
    assert!(matches!(&msgs[21], PgOutputMessage::Delete { old: OldTuple::Key(_), .. }));
    // REPLICA IDENTITY FULL: full old rows.
    assert!(matches!(&msgs[29], PgOutputMessage::Update { old: Some(OldTuple::Full(_)), .. }));
    assert!(matches!(&msgs[32], PgOutputMessage::Delete { old: OldTuple::Full(_), .. }));
    let truncate = PgOutputMessage::Truncate {
        xid: None,
        options: TruncateOptions { cascade: true, restart_identity: true },
        relation_ids: vec![16408, 16413],
    };
    assert_eq!(msgs[41], truncate);
    assert!(matches!(&msgs[44], PgOutputMessage::Message { transactional: true, prefix, content, .. }
        if prefix == "siphon" && content == b"hello"));
}

#[test]
fn server_capture_v1_binary() {
    let msgs = decode_capture(SERVER_V1_BINARY);
    let PgOutputMessage::Insert { new, .. } = &msgs[3] else {
        panic!("not an insert: {:?}", msgs[3]);
    };
    assert_eq!(new.0[0], TupleValue::Binary(1i64.to_be_bytes().to_vec()));
    assert_eq!(new.0[4], TupleValue::Binary(vec![0xDE, 0xAD, 0xBE, 0xEF]));
    let last = msgs.last().expect("messages");
    assert!(matches!(last, PgOutputMessage::Message { transactional: false, content, .. }
        if content == &[0, 0xFF]));
}

#[test]
fn server_capture_origin() {
    let msgs = decode_capture(SERVER_ORIGIN);
    assert_eq!(tags(&msgs), "BORIC");
    assert_eq!(msgs[1], PgOutputMessage::Origin { commit_lsn: 0x1234, name: "upstream".into() });
}

#[test]
fn server_capture_v2_streaming() {
    let msgs = decode_capture(SERVER_V2_STREAM);
    let first = PgOutputMessage::StreamStart { xid: 757, first_segment: true };
    assert_eq!(msgs[0], first);
    let starts =
        msgs.iter().filter(|m| matches!(m, PgOutputMessage::StreamStart { xid: 757, first_segment: false })).count();
    assert_eq!(starts, 7);
    let abort = PgOutputMessage::StreamAbort { xid: 757, subxid: 758, abort: None };
    assert!(msgs.contains(&abort));
    // Changes inside stream blocks carry the (sub)transaction xid.
    let xids: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m {
            PgOutputMessage::Insert { xid, .. } | PgOutputMessage::Message { xid, .. } => Some(*xid),
            _ => None,
        })
        .collect();
    assert!(xids.iter().all(|x| matches!(x, Some(757 | 759))), "{xids:?}");
    assert!(matches!(msgs.last(), Some(PgOutputMessage::StreamCommit { xid: 757, flags: 0, .. })));
}
