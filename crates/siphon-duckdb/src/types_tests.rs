//! Tests for the type map: each conversion runs in an in-memory DuckDB and the stored value is
//! read back through DuckDB's own functions (epoch microseconds, interval fields, list parts),
//! never through the text siphon wrote.

use super::*;
use proptest::prelude::*;
use siphon_core::pgtext::{DateTime, PgMoney};

fn st(oid: u32) -> SourceType {
    SourceType { oid, modifier: -1, name: String::new(), base: None }
}

fn scalar(sql_type: &str, scalar: Scalar) -> ColumnType {
    ColumnType { sql_type: sql_type.into(), conversion: Conversion::Scalar(scalar) }
}

thread_local! {
    static DUCK: duckdb::Connection = duckdb::Connection::open_in_memory().expect("in-memory DuckDB");
}

/// Stages `text` for a column of `ty` as siphon does, then evaluates `probe` (with `{}` standing
/// for the converted value) in DuckDB.
fn stored(ty: &ColumnType, text: &str, probe: &str) -> Result<String, String> {
    let prepared = prepare_text(ty.conversion, text)?;
    let sql =
        format!("SELECT CAST({} AS VARCHAR) FROM (SELECT {} AS v)", probe.replace("{}", "v"), convert_sql(ty, "?"));
    DUCK.with(|c| c.query_row(&sql, [prepared.as_ref()], |r| r.get::<_, String>(0)).map_err(|e| e.to_string()))
}

#[test]
fn every_type_maps_to_a_column_type_that_holds_all_its_values() {
    let sql = |oid| map_type(&st(oid)).sql_type;
    assert_eq!(sql(1700), "VARCHAR", "numeric: NaN, Infinity and more than 38 digits");
    assert_eq!(sql(114), "VARCHAR", "json: DuckDB's JSON refuses lone surrogate escapes");
    assert_eq!(sql(1562), "VARCHAR", "varbit: DuckDB's BIT cannot be empty");
    assert_eq!(sql(3802), "JSON");
    assert_eq!(sql(1560), "BIT");
    assert_eq!(sql(790), "DECIMAL(19,2)");
    assert_eq!(sql(5069), "UBIGINT");
    assert_eq!(sql(869), "VARCHAR", "inet keeps its text");
    assert_eq!(sql(1007), "STRUCT(elements INTEGER[], lengths INTEGER[], lower_bounds INTEGER[])");
    assert_eq!(sql(1231), "STRUCT(elements VARCHAR[], lengths INTEGER[], lower_bounds INTEGER[])");
    assert_eq!(sql(1001), "STRUCT(elements BLOB[], lengths INTEGER[], lower_bounds INTEGER[])");
    assert_eq!(
        map_type(&st(1020)).conversion,
        Conversion::Array(ArrayOf { element_type: "VARCHAR", element: Scalar::Verbatim, delimiter: ';' })
    );
    assert_eq!(sql(16_384), "VARCHAR", "an enum, composite or other user type keeps its text");
}

#[test]
fn a_domain_maps_as_its_base_type() {
    let domain = SourceType { oid: 16_398, modifier: -1, name: "posint".into(), base: Some((23, -1)) };
    assert_eq!(map_type(&domain), scalar("INTEGER", Scalar::Cast));
    let domain_array = SourceType { base: Some((1001, -1)), ..domain };
    assert_eq!(map_type(&domain_array).sql_type, "STRUCT(elements BLOB[], lengths INTEGER[], lower_bounds INTEGER[])");
}

#[test]
fn a_column_created_as_text_keeps_receiving_text() {
    let verbatim = scalar("VARCHAR", Scalar::Verbatim);
    assert_eq!(keep_existing(map_type(&st(16)), Some("VARCHAR")), verbatim);
    assert_eq!(keep_existing(map_type(&st(16)), Some("BOOLEAN")), map_type(&st(16)));
    assert_eq!(keep_existing(map_type(&st(16)), None), map_type(&st(16)));
}

#[test]
fn expressions_reference_the_staged_value_once() {
    for oid in [16, 17, 1082, 1114, 1186, 790, 1700, 1007, 1009, 1001, 3807] {
        let sql = convert_sql(&map_type(&st(oid)), "?");
        assert_eq!(sql.matches('?').count(), 1, "{oid}: {sql}");
    }
}

#[test]
fn bc_dates_and_timestamps_keep_their_era() {
    let date = map_type(&st(1082));
    assert_eq!(stored(&date, "0044-03-15 BC", "year({})"), Ok("-43".into()));
    assert_eq!(stored(&date, "0001-01-01 BC", "{} - DATE '0001-01-01'"), Ok("-366".into()));
    assert_eq!(stored(&date, "infinity", "isinf({})"), Ok("true".into()));
    assert_eq!(stored(&date, "5874897-12-31", "{}"), Ok("5874897-12-31".into()));
    let ts = map_type(&st(1114));
    assert_eq!(stored(&ts, "4714-11-24 00:00:00 BC", "epoch_us({})"), Ok("-210866803200000000".into()));
    assert_eq!(stored(&ts, "-infinity", "{}"), Ok("-infinity".into()));
    let tstz = map_type(&st(1184));
    assert_eq!(
        stored(&tstz, "0161-10-05 15:11:33.762153+00:19:32 BC", "epoch_us({})"),
        Ok("-67192276078237847".into())
    );
}

#[test]
fn timestamps_beyond_duckdb_are_refused_with_the_reason() {
    let ts = map_type(&st(1114));
    assert_eq!(stored(&ts, "294247-01-10 04:00:54.775806", "epoch_us({})"), Ok("9223372036854775806".into()));
    let err = stored(&ts, "294247-01-10 04:00:54.775807", "{}").unwrap_err();
    assert_eq!(err, "the timestamp is outside DuckDB's range (290309-12-22 BC to 294247-01-10 04:00:54.775806)");
    assert!(stored(&map_type(&st(1184)), "294276-12-31 23:59:59.999999+00", "{}").is_err());
    let err = stored(&ts, "2024-01-01", "{}").unwrap_err();
    assert_eq!(err, "malformed timestamp text at byte 10: expected ' ' before the time");
}

#[test]
fn money_is_its_amount() {
    let money = map_type(&st(790));
    assert_eq!(stored(&money, "-$92,233,720,368,547,758.08", "{}"), Ok("-92233720368547758.08".into()));
    assert_eq!(stored(&money, "$1,234.50", "{} * 2"), Ok("2469.00".into()));
    assert!(stored(&money, "1 234,50 €", "{}").unwrap_err().contains("lc_monetary = C"));
}

#[test]
fn interval_fields_are_kept_apart() {
    let iv = map_type(&st(1186));
    let months_days_micros = |text| {
        stored(&iv, text, "[datepart('year', {}) * 12 + datepart('month', {}), datepart('day', {}), datepart('hour', {}) * 3600000000 + datepart('minute', {}) * 60000000 + datepart('microseconds', {})]")
    };
    assert_eq!(months_days_micros("1 year 2 mons -3 days +04:05:06.5"), Ok("[14, -3, 14706500000]".into()));
    assert_eq!(months_days_micros("-1 mons +30 days"), Ok("[-1, 30, 0]".into()));
    assert_eq!(
        months_days_micros("-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808"),
        Ok("[-2147483648, -2147483648, -9223372036854775808]".into())
    );
    assert_eq!(months_days_micros("infinity"), Ok("[2147483647, 2147483647, 9223372036854775807]".into()));
}

#[test]
fn bytea_and_bits_are_their_bytes() {
    assert_eq!(stored(&map_type(&st(17)), "\\x00ff10", "hex({})"), Ok("00FF10".into()));
    assert_eq!(stored(&map_type(&st(17)), "\\x", "octet_length({})"), Ok("0".into()));
    assert_eq!(stored(&map_type(&st(1560)), "0101", "bit_count({})"), Ok("2".into()));
}

#[test]
fn floats_keep_nan_infinities_and_extremes() {
    let f4 = map_type(&st(700));
    let f8 = map_type(&st(701));
    assert_eq!(stored(&f8, "NaN", "isnan({})"), Ok("true".into()));
    assert_eq!(stored(&f8, "-Infinity", "{} < -1e308"), Ok("true".into()));
    assert_eq!(stored(&f8, "5e-324", "{}"), Ok("5e-324".into()));
    assert_eq!(stored(&f8, "1.7976931348623157e+308", "{}"), Ok("1.7976931348623157e+308".into()));
    assert_eq!(stored(&f4, "1e-45", "{}"), Ok("1e-45".into()));
    assert_eq!(stored(&f4, "3.4028235e+38", "{}"), Ok("3.4028235e+38".into()));
    assert_eq!(stored(&f8, "-0", "{}"), Ok("-0.0".into()));
}

#[test]
fn arrays_keep_shape_bounds_nulls_and_typed_elements() {
    let ints = map_type(&st(1007));
    let parts = "concat_ws(' ', to_json({}.elements), to_json({}.lengths), to_json({}.lower_bounds))";
    assert_eq!(stored(&ints, "{1,NULL,3}", parts), Ok("[1,null,3] [3] [1]".into()));
    assert_eq!(stored(&ints, "{{1,2},{3,4}}", parts), Ok("[1,2,3,4] [2,2] [1,1]".into()));
    assert_eq!(stored(&ints, "[0:1]={7,8}", parts), Ok("[7,8] [2] [0]".into()));
    assert_eq!(stored(&ints, "{}", parts), Ok("[] [] []".into()));
    assert_eq!(stored(&map_type(&st(1182)), "{\"0044-03-15 BC\",infinity}", "year({}.elements[1])"), Ok("-43".into()));
    assert_eq!(stored(&map_type(&st(1001)), "{\"\\\\x01ff\",NULL}", "hex({}.elements[1])"), Ok("01FF".into()));
    assert_eq!(stored(&map_type(&st(1187)), "{\"1 mon 2 days\"}", "datepart('day', {}.elements[1])"), Ok("2".into()));
    assert_eq!(stored(&map_type(&st(3807)), "{\"{\\\"a\\\": 1}\"}", "{}.elements[1]"), Ok("{\"a\": 1}".into()));
    assert_eq!(stored(&map_type(&st(1020)), "{(1,1),(0,0);(2,2),(1,1)}", "{}.elements[2]"), Ok("(2,2),(1,1)".into()));
    assert_eq!(
        stored(&map_type(&st(1009)), "{\"a,b\",\"\",NULL}", "to_json({}.elements)"),
        Ok("[\"a,b\",\"\",null]".into())
    );
    let err = stored(&map_type(&st(1115)), "{\"294276-01-01 00:00:00\"}", "{}").unwrap_err();
    assert_eq!(
        err,
        "an array element: the timestamp is outside DuckDB's range (290309-12-22 BC to 294247-01-10 04:00:54.775806)"
    );
    assert!(stored(&ints, "{1,2", "{}").unwrap_err().starts_with("malformed array literal"));
}

#[test]
fn a_null_array_stays_null() {
    let ty = map_type(&st(1001));
    let sql = format!("SELECT ({}) IS NULL", convert_sql(&ty, "CAST(NULL AS VARCHAR)"));
    assert!(DUCK.with(|c| c.query_row(&sql, [], |r| r.get::<_, bool>(0))).expect("runs"));
}

/// The server's ISO text of a date or timestamp (`EncodeDateTime`).
fn pg_text(v: &DateTime) -> String {
    let astronomical = v.astronomical();
    if v.year >= 1 {
        return astronomical;
    }
    let rest = astronomical.trim_start_matches('-').split_once('-').map(|(_, rest)| rest).unwrap_or_default();
    format!("{:04}-{rest} BC", 1 - i64::from(v.year))
}

/// `cash_out` under `lc_monetary = C`.
fn cash_out(cents: i64) -> String {
    let units = (cents.unsigned_abs() / 100).to_string();
    let groups: Vec<&str> = units.as_bytes().rchunks(3).rev().map(|g| std::str::from_utf8(g).unwrap_or("")).collect();
    format!("{}${}.{:02}", if cents < 0 { "-" } else { "" }, groups.join(","), cents.unsigned_abs() % 100)
}

fn arb_timestamp(kind: DateTimeKind) -> impl Strategy<Value = DateTime> {
    (-4712..=294_246i32, 1u32..=12, 1u32..=31, 0..86_400_000_000i64, -57_540..=57_540i32).prop_map(
        move |(year, month, day, micros, offset)| DateTime {
            year,
            month,
            day: day.min(pgtext::datetime_text::days_in_month(year, month)),
            time_micros: Some(micros),
            offset_seconds: (kind == DateTimeKind::TimestampTz).then_some(offset),
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn dates_land_on_the_same_day(year in -4712..=5_874_897i32, month in 1u32..=12, day in 1u32..=31) {
        let day = day.min(pgtext::datetime_text::days_in_month(year, month));
        let value = DateTime { year, month, day, time_micros: None, offset_seconds: None };
        let days = stored(&map_type(&st(1082)), &pg_text(&value), "{} - DATE '1970-01-01'");
        prop_assert_eq!(days, Ok(pgtext::datetime_text::days_from_civil(i64::from(year), month, day).to_string()));
    }

    #[test]
    fn timestamps_land_on_the_same_microsecond(value in arb_timestamp(DateTimeKind::Timestamp)) {
        let micros = stored(&map_type(&st(1114)), &pg_text(&value), "epoch_us({})");
        prop_assert_eq!(micros, Ok(value.epoch_micros().to_string()));
    }

    #[test]
    fn timestamptzs_land_on_the_same_instant(value in arb_timestamp(DateTimeKind::TimestampTz)) {
        let micros = stored(&map_type(&st(1184)), &pg_text(&value), "epoch_us({})");
        prop_assert_eq!(micros, Ok(value.epoch_micros().to_string()));
    }

    #[test]
    fn money_keeps_its_amount(cents: i64) {
        let amount = stored(&map_type(&st(790)), &cash_out(cents), "{}");
        prop_assert_eq!(amount, Ok(PgMoney { cents }.to_string()));
    }

    #[test]
    fn intervals_keep_their_three_fields(months: i32, days: i32, micros in (i64::MIN + 1)..=i64::MAX) {
        let (sign, abs) = (if micros < 0 { "-" } else { "" }, micros.unsigned_abs());
        let text = format!("{months} mons {days} days {sign}{}:{:02}:{:02}.{:06}", abs / 3_600_000_000, abs / 60_000_000 % 60, abs / 1_000_000 % 60, abs % 1_000_000);
        let fields = stored(&map_type(&st(1186)), &text, "[datepart('year', {}) * 12 + datepart('month', {}), datepart('day', {}), datepart('hour', {}) * 3600000000 + datepart('minute', {}) * 60000000 + datepart('microseconds', {})]");
        prop_assert_eq!(fields, Ok(format!("[{months}, {days}, {micros}]")));
    }

    #[test]
    fn int_arrays_keep_every_element_in_order(
        lengths in proptest::collection::vec(1usize..4, 1..4),
        lower in -3i32..3,
        seed: u64,
    ) {
        let total: usize = lengths.iter().product();
        let elements: Vec<Option<i64>> = (0..total as u64)
            .map(|i| { let v = seed.wrapping_mul(i + 1).rotate_left(7) as i64; (v % 5 != 0).then_some(v) })
            .collect();
        let mut text = String::new();
        if lower != 1 {
            for n in &lengths {
                text.push_str(&format!("[{lower}:{}]", i64::from(lower) + *n as i64 - 1));
            }
            text.push('=');
        }
        text.push_str(&nested(&lengths, &elements));
        let parts = stored(&map_type(&st(1016)), &text, "concat_ws(' ', to_json({}.elements), to_json({}.lengths), to_json({}.lower_bounds))");
        let json = |v: Vec<String>| format!("[{}]", v.join(","));
        let expected = format!(
            "{} {} {}",
            json(elements.iter().map(|e| e.map_or("null".into(), |v| v.to_string())).collect()),
            json(lengths.iter().map(usize::to_string).collect()),
            json(vec![lower.to_string(); lengths.len()]),
        );
        prop_assert_eq!(parts, Ok(expected));
    }
}

/// `array_out` of integers: nested braces, `NULL` for null.
fn nested(lengths: &[usize], elements: &[Option<i64>]) -> String {
    let Some((&n, inner)) = lengths.split_first() else {
        return elements[0].map_or("NULL".into(), |v| v.to_string());
    };
    let stride: usize = inner.iter().product();
    let items: Vec<String> = (0..n).map(|i| nested(inner, &elements[i * stride..])).collect();
    format!("{{{}}}", items.join(","))
}
