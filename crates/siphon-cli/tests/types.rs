//! The type zoo: a table with a column of every PostgreSQL type family, holding edge values
//! (extremes, infinities, NaN, BC dates, empty, multi-dimensional and offset arrays, NULL
//! elements, unicode, escapes), replicated by the snapshot and by streaming (the same rows
//! inserted, then updated — once leaving a TOASTed value out — and deleted), and compared value
//! by value with the source.
//!
//! # How each comparison is canonical
//!
//! Both sides are reduced to one JSON object per row, key = column, and compared exactly. The
//! PostgreSQL side is the type's own output function (`format('%s', v)`) in a session with
//! siphon's settings; the DuckDB side reads the stored value back *through DuckDB's own
//! functions*, never through the text siphon staged:
//!
//! | canon      | PostgreSQL                          | DuckDB                                         |
//! |------------|-------------------------------------|------------------------------------------------|
//! | `Text`     | output text                         | the VARCHAR itself                             |
//! | `Cast`     | output text                         | `CAST(v AS VARCHAR)` (same text for these types) |
//! | `Bool`     | `t` / `f`                           | `CASE WHEN v THEN 't' ELSE 'f' END`            |
//! | `Float`    | shortest exact text                 | `CAST(v AS VARCHAR)`; both parsed, equal bits (NaN = NaN) |
//! | `Money`    | `v::numeric` (two decimals)         | the DECIMAL's text                             |
//! | `Bytea`    | `\x` hex                            | `'\x' || lower(hex(v))`                        |
//! | `DateTime` | ISO text, `... BC`                  | DuckDB's text with its ` (BC)` moved to PostgreSQL's place |
//! | `TimeTz`   | local time, offset in seconds       | `CAST(v AS TIME)`, `extract('timezone' ...)`   |
//! | `Interval` | months, days, microseconds          | the same three fields from `datepart`          |
//! | `Array(e)` | `array_dims`, elements by `e`       | dims rebuilt from `lengths`/`lower_bounds`, `elements` by `e` |

mod common;

use common::{pg_rows, Pipeline};
use serde_json::Value;
use siphon_testkit::TestDb;

/// How one column's values are reduced to comparable text.
#[derive(Clone, Copy)]
enum Canon {
    Text,
    Cast,
    Bool,
    Float,
    Money,
    Bytea,
    DateTime,
    TimeTz,
    Interval,
    Array(Element),
}

/// The canon of an array's elements (an array's elements are never arrays).
#[derive(Clone, Copy)]
enum Element {
    Text,
    Cast,
    Bool,
    Float,
    Money,
    Bytea,
    DateTime,
    TimeTz,
    Interval,
}

impl Element {
    fn canon(self) -> Canon {
        match self {
            Element::Text => Canon::Text,
            Element::Cast => Canon::Cast,
            Element::Bool => Canon::Bool,
            Element::Float => Canon::Float,
            Element::Money => Canon::Money,
            Element::Bytea => Canon::Bytea,
            Element::DateTime => Canon::DateTime,
            Element::TimeTz => Canon::TimeTz,
            Element::Interval => Canon::Interval,
        }
    }
}

/// A column of the zoo: its name, PostgreSQL type, the DuckDB type siphon must give it (for an
/// array, its elements' type), how it is compared, and five values (SQL expressions; a sixth row
/// is all NULL).
struct Col(&'static str, &'static str, &'static str, Canon, [&'static str; 5]);

fn array_type(element: &str) -> String {
    format!("STRUCT(elements {element}[], lengths INTEGER[], lower_bounds INTEGER[])")
}

fn zoo() -> Vec<Col> {
    use Canon::*;
    let a = |e| Array(e);
    vec![
        Col("b", "boolean", "BOOLEAN", Bool, ["true", "false", "true", "false", "true"]),
        Col("i2", "int2", "SMALLINT", Cast, ["0", "-32768", "32767", "1", "-1"]),
        Col("i4", "int4", "INTEGER", Cast, ["0", "-2147483648", "2147483647", "42", "-7"]),
        Col("i8", "int8", "BIGINT", Cast, ["0", "-9223372036854775808", "9223372036854775807", "1", "-1"]),
        Col("o", "oid", "UINTEGER", Cast, ["0", "4294967295", "1", "16384", "12345"]),
        Col("x8", "xid8", "UBIGINT", Cast, ["'0'", "'18446744073709551615'", "'1'", "'3'", "'4'"]),
        // No -0: DuckDB 1.5.6 does not keep the sign of zero (docs/types.md).
        Col("f4", "float4", "FLOAT", Float, ["'NaN'", "'-Infinity'", "'1e-45'", "'3.4028235e+38'", "'1.17549435e-38'"]),
        Col(
            "f8",
            "float8",
            "DOUBLE",
            Float,
            ["'Infinity'", "'5e-324'", "'1.7976931348623157e+308'", "'0.1'", "'-2.2250738585072014e-308'"],
        ),
        Col(
            "n",
            "numeric",
            "VARCHAR",
            Text,
            [
                "'NaN'",
                "'Infinity'",
                "'-Infinity'",
                "'123456789012345678901234567890.123456789012345678901234567890'",
                "'-0.00000000000000000000000000000000000000000001'",
            ],
        ),
        Col("n2", "numeric(12,2)", "VARCHAR", Text, ["'NaN'", "'-9999999999.99'", "'0'", "'12.5'", "'1'"]),
        Col(
            "m",
            "money",
            "DECIMAL(19,2)",
            Money,
            ["'-92233720368547758.08'", "'92233720368547758.07'", "'0'", "'-0.01'", "'1234.5'"],
        ),
        Col("c3", "char(3)", "VARCHAR", Text, ["'a'", "''", "'abc'", "' b'", "'é'"]),
        Col("vc", "varchar(20)", "VARCHAR", Text, ["''", r"E'tab\there'", r"E'line\nbreak\r'", r"E'back\\slash'", r#"'quote''"'"#]),
        Col("t", "text", "VARCHAR", Text, ["'unicode é 日本 😀'", r"E'\\N'", "'NULL'", r"E'\\x00'", r#"'"{}[],;'"#]),
        Col("nm", "name", "VARCHAR", Text, ["'name'", "''", "'a b'", "'Ω'", "repeat('n', 63)"]),
        Col("ch", "\"char\"", "VARCHAR", Text, ["'a'", "''", r#"'"'"#, r"E'\\377'", "'z'"]),
        Col(
            "by",
            "bytea",
            "BLOB",
            Bytea,
            [r"'\x'", r"'\x00'", r"'\xdeadbeef'", "'abc'::bytea", "decode(repeat('ff', 300), 'hex')"],
        ),
        Col("d", "date", "DATE", DateTime, ["'0044-03-15 BC'", "'infinity'", "'-infinity'", "'4714-11-24 BC'", "'5874897-12-31'"]),
        Col("tm", "time", "TIME", Cast, ["'00:00:00'", "'24:00:00'", "'23:59:59.999999'", "'12:34:56.5'", "'01:02:03'"]),
        Col(
            "ttz",
            "timetz",
            "TIMETZ",
            TimeTz,
            ["'00:00:00+15:59'", "'24:00:00-15:59'", "'12:00:00+05:30'", "'10:00:00-00:00:15'", "'23:59:59.999999+00'"],
        ),
        Col(
            "ts",
            "timestamp",
            "TIMESTAMP",
            DateTime,
            [
                "'0044-03-15 10:00:00 BC'",
                "'infinity'",
                "'-infinity'",
                "'4714-11-24 00:00:00 BC'",
                "'294247-01-10 04:00:54.775806'",
            ],
        ),
        Col(
            "tz",
            "timestamptz",
            "TIMESTAMPTZ",
            DateTime,
            [
                "'0001-12-31 23:59:59.999999+00 BC'",
                "'infinity'",
                "'2024-02-29 12:00:00.5+05:30'",
                "'-infinity'",
                "'1900-01-01 00:00:00+00'",
            ],
        ),
        Col(
            "iv",
            "interval",
            "INTERVAL",
            Interval,
            [
                "'1 year 2 mons -3 days +04:05:06.5'",
                "'-178956970 years -8 mons -2147483648 days -2562047788:00:54.775807'::interval - '00:00:00.000001'",
                "'178956970 years 7 mons 2147483647 days 2562047788:00:54.775807'",
                "'0'",
                "'-00:00:00.000001'",
            ],
        ),
        Col(
            "u",
            "uuid",
            "UUID",
            Cast,
            [
                "'00000000-0000-0000-0000-000000000000'",
                "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
                "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
                "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12'",
                "'{a0eebc999c0b4ef8bb6d6bb9bd380a13}'",
            ],
        ),
        Col(
            "j",
            "json",
            "VARCHAR",
            Text,
            [
                r#"'{"b": 1, "a": [1, 2.50, 1e400]}'"#,
                r#"'"\ud800 lone surrogate"'"#,
                "'  [ ]  '",
                r#"'{"a":1,"a":2}'"#,
                "'null'",
            ],
        ),
        Col(
            "jb",
            "jsonb",
            "JSON",
            Cast,
            [
                r#"'{"b": 1, "a": [1, 2.50]}'"#,
                r#"'"\u00e9 \ud83d\ude00 \n"'"#,
                "'[]'",
                r#"'{"n": 123456789012345678901234567890123456789012345678901234567890}'"#,
                "'null'",
            ],
        ),
        Col(
            "x",
            "xml",
            "VARCHAR",
            Text,
            [r#"'<a b="1">t</a>'"#, "'text only'", r#"'<?xml version="1.0"?><r/>'"#, "''", "'<a>&amp;</a>'"],
        ),
        Col("bt", "bit(4)", "BIT", Cast, ["B'0000'", "B'1111'", "B'1010'", "B'0101'", "B'1000'"]),
        Col("vb", "varbit", "VARCHAR", Text, ["B''", "B'1'", "B'10101010101'", "B'0'", "B'111'"]),
        Col(
            "ip",
            "inet",
            "VARCHAR",
            Text,
            ["'192.168.0.1/24'", "'::1'", "'10.0.0.1'", "'2001:db8::ff00:42:8329/64'", "'0.0.0.0/0'"],
        ),
        Col("cr", "cidr", "VARCHAR", Text, ["'10.0.0.0/8'", "'::/0'", "'192.168.1.0/24'", "'2001:db8::/32'", "'1.2.3.4/32'"]),
        Col(
            "mac",
            "macaddr",
            "VARCHAR",
            Text,
            ["'08:00:2b:01:02:03'", "'ff:ff:ff:ff:ff:ff'", "'0800.2b01.0203'", "'00-00-00-00-00-00'", "'a1b2c3d4e5f6'"],
        ),
        Col(
            "mac8",
            "macaddr8",
            "VARCHAR",
            Text,
            [
                "'08:00:2b:01:02:03:04:05'",
                "'ff:ff:ff:ff:ff:ff:ff:ff'",
                "'08:00:2b:01:02:03'",
                "'00:00:00:00:00:00:00:00'",
                "'0102030405060708'",
            ],
        ),
        Col("en", "mood", "VARCHAR", Text, ["'sad'", "'happy'", "'ok'", "'sad'", "'happy'"]),
        Col("dm", "posint", "INTEGER", Cast, ["1", "2147483647", "5", "7", "9"]),
        Col("dn", "dmoney", "VARCHAR", Text, ["'NaN'", "'1.5'", "'-9999999999.99'", "'0'", "'3'"]),
        Col("db", "dbytes", "BLOB", Bytea, [r"'\x01'", r"'\x'", r"'\xff00'", r"'\x0a0b'", r"'\x7f'"]),
        Col("dd", "dday", "DATE", DateTime, ["'0044-03-15 BC'", "'infinity'", "'2024-02-29'", "'0001-01-01 BC'", "'-infinity'"]),
        Col("cp", "pair", "VARCHAR", Text, [r#"'(1,"a b")'"#, "'(,)'", r#"'(2,"x,y")'"#, r#"'(3,"")'"#, r#"'(-1,"\\")'"#]),
        Col("r4", "int4range", "VARCHAR", Text, ["'empty'", "'[1,10)'", "'(,)'", "'[5,]'", "'(1,2]'"]),
        Col(
            "rt",
            "tstzrange",
            "VARCHAR",
            Text,
            [
                r#"'["2024-01-01 00:00:00+00",infinity)'"#,
                "'empty'",
                "'(,)'",
                r#"'["0044-03-15 10:00:00+00 BC","2024-01-01 00:00:00+00"]'"#,
                r#"'[,"2000-01-01 00:00:00.5+00")'"#,
            ],
        ),
        Col("mr", "int4multirange", "VARCHAR", Text, ["'{}'", "'{[1,3),[5,7)}'", "'{(,)}'", "'{[1,2]}'", "'{[-5,0)}'"]),
        Col("pt", "point", "VARCHAR", Text, ["'(1,2)'", "'(-1.5,1e-300)'", "'(NaN,Infinity)'", "'(0,-0)'", "'(0.1,0.2)'"]),
        Col("ln", "line", "VARCHAR", Text, ["'{1,2,3}'", "'{0,-1,0}'", "'[(0,0),(1,1)]'", "'{1.5,0,-2}'", "'{1,1,0}'"]),
        Col(
            "ls",
            "lseg",
            "VARCHAR",
            Text,
            ["'[(0,0),(1,1)]'", "'[(-1,-1),(1e300,1e-300)]'", "'[(0,0),(0,0)]'", "'[(0.1,0.2),(0.3,0.4)]'", "'[(1,2),(3,4)]'"],
        ),
        Col("bx", "box", "VARCHAR", Text, ["'(1,1),(0,0)'", "'(0,0),(1,1)'", "'(-1,-1),(-2,-2)'", "'(0.5,0.5),(0.5,0.5)'", "'(3,4),(1,2)'"]),
        Col(
            "pa",
            "path",
            "VARCHAR",
            Text,
            ["'[(0,0),(1,1),(2,0)]'", "'((0,0),(1,1))'", "'[(0.1,0.2)]'", "'((1,2),(3,4),(5,6))'", "'[(-1,-1),(1,1)]'"],
        ),
        Col(
            "pg",
            "polygon",
            "VARCHAR",
            Text,
            ["'((0,0),(1,1),(1,0))'", "'((0,0))'", "'((0.1,0.2),(0.3,0.4))'", "'((-1,-1),(1,1),(1,-1),(-1,1))'", "'((5,5),(6,6),(7,5))'"],
        ),
        Col("ci", "circle", "VARCHAR", Text, ["'<(0,0),1>'", "'<(1.5,-2),1e-300>'", "'<(0,0),0>'", "'<(1,1),0.1>'", "'<(-1,-1),1e300>'"]),
        Col(
            "tv",
            "tsvector",
            "VARCHAR",
            Text,
            ["'a fat cat sat'", "''", r#"'''quoted'' word:1A,2B'"#, "to_tsvector('simple', 'The Fat Rats')", "'é:1'"],
        ),
        Col("tq", "tsquery", "VARCHAR", Text, ["'fat & rat'", "'!cat'", "'a <-> b'", "'x:*'", "'(a | b) & c'"]),
        Col("lsn", "pg_lsn", "VARCHAR", Text, ["'0/0'", "'FFFFFFFF/FFFFFFFF'", "'16/B374D848'", "'1/1'", "'0/1'"]),
        Col("rc", "regclass", "VARCHAR", Text, ["'pg_class'", "'pg_type'", "'pg_proc'", "'pg_attribute'", "'pg_namespace'"]),
        Col(
            "ai",
            "int[]",
            "INTEGER",
            a(Element::Cast),
            ["'{}'", "'{1,NULL,3}'", "'{{1,2},{3,4}}'", "'[0:2]={7,8,9}'", "'{{{-2147483648}},{{2147483647}}}'"],
        ),
        Col(
            "a8",
            "int8[]",
            "BIGINT",
            a(Element::Cast),
            ["'{-9223372036854775808,9223372036854775807}'", "'{}'", "'{NULL}'", "'[-3:-2][1:1]={{1},{2}}'", "'{0}'"],
        ),
        Col(
            "at",
            "text[]",
            "VARCHAR",
            a(Element::Text),
            [
                "'{}'",
                r#"'{"a,b","",NULL,"NULL","x\"y\\z"}'"#,
                "'{{a,b},{c,d}}'",
                r"ARRAY[E'tab\there', 'é 日本 😀', E'new\nline', ' padded ', '{}']",
                "'[-2:-1]={p,q}'",
            ],
        ),
        Col("ab", "bool[]", "BOOLEAN", a(Element::Bool), ["'{t,f,NULL}'", "'{}'", "'{{t},{f}}'", "'{t}'", "'[5:5]={f}'"]),
        Col(
            "af4",
            "float4[]",
            "FLOAT",
            a(Element::Float),
            ["'{NaN,Infinity,-Infinity,1e-45,-1.5}'", "'{3.4028235e+38,NULL}'", "'{}'", "'{{0.1,0.2},{0.3,0.4}}'", "'{1.17549435e-38}'"],
        ),
        Col(
            "af8",
            "float8[]",
            "DOUBLE",
            a(Element::Float),
            ["'{5e-324,1.7976931348623157e+308,NaN}'", "'{-Infinity}'", "'{}'", "'{{0.1},{-1e-300}}'", "'{1e-310,NULL}'"],
        ),
        Col(
            "an",
            "numeric[]",
            "VARCHAR",
            a(Element::Text),
            [
                "'{NaN,1.10,-Infinity,123456789012345678901234567890.5}'",
                "'{}'",
                "'{{1,2},{3,NULL}}'",
                "'{0.000001}'",
                "'{Infinity}'",
            ],
        ),
        Col(
            "am",
            "money[]",
            "DECIMAL(19,2)",
            a(Element::Money),
            ["'{1.00,-0.01}'", "'{}'", "'{-92233720368547758.08,92233720368547758.07}'", "'{NULL}'", "'{1234567.89}'"],
        ),
        Col(
            "aby",
            "bytea[]",
            "BLOB",
            a(Element::Bytea),
            [
                r"ARRAY['\x00ff'::bytea, NULL, '\x']",
                "'{}'",
                r"ARRAY[ARRAY['\x01'::bytea], ARRAY['\x02'::bytea]]",
                r"ARRAY['\xdeadbeef'::bytea]",
                "ARRAY[decode(repeat('00', 100), 'hex')]",
            ],
        ),
        Col(
            "ad",
            "date[]",
            "DATE",
            a(Element::DateTime),
            [
                "ARRAY['0044-03-15 BC'::date, 'infinity', NULL]",
                "'{}'",
                "ARRAY['-infinity'::date, '5874897-12-31']",
                "ARRAY['4714-11-24 BC'::date]",
                "'[0:0]={2024-02-29}'",
            ],
        ),
        Col(
            "ats",
            "timestamp[]",
            "TIMESTAMP",
            a(Element::DateTime),
            [
                "ARRAY['0044-03-15 10:00:00 BC'::timestamp, 'infinity']",
                "'{}'",
                "ARRAY[ARRAY['-infinity'::timestamp], ARRAY['2024-01-01 00:00:00.000001'::timestamp]]",
                "ARRAY['294247-01-10 04:00:54.775806'::timestamp, NULL]",
                "ARRAY['4714-11-24 00:00:00 BC'::timestamp]",
            ],
        ),
        Col(
            "atz",
            "timestamptz[]",
            "TIMESTAMPTZ",
            a(Element::DateTime),
            [
                "ARRAY['0001-12-31 23:59:59.999999+00 BC'::timestamptz, '-infinity', NULL]",
                "'{}'",
                "ARRAY['2024-02-29 12:00:00.5+05:30'::timestamptz]",
                "ARRAY['infinity'::timestamptz]",
                "ARRAY['1900-01-01 00:00:00+00'::timestamptz]",
            ],
        ),
        Col(
            "atm",
            "time[]",
            "TIME",
            a(Element::Cast),
            ["ARRAY['24:00:00'::time, '00:00:00.000001']", "'{}'", "ARRAY[NULL::time]", "ARRAY['12:00:00'::time]", "'{}'"],
        ),
        Col(
            "attz",
            "timetz[]",
            "TIMETZ",
            a(Element::TimeTz),
            [
                "ARRAY['10:00:00-00:00:15'::timetz, '24:00:00+15:59']",
                "'{}'",
                "ARRAY['00:00:00-15:59'::timetz]",
                "ARRAY[NULL::timetz]",
                "ARRAY['12:00:00+05:30'::timetz]",
            ],
        ),
        Col(
            "aiv",
            "interval[]",
            "INTERVAL",
            a(Element::Interval),
            [
                "ARRAY['1 year -2 days'::interval, '-00:00:01', NULL]",
                "'{}'",
                "ARRAY['-178956970 years -8 mons -2147483648 days -2562047788:00:54.775807'::interval - '00:00:00.000001']",
                "ARRAY[ARRAY['1 mon'::interval], ARRAY['-1 mon'::interval]]",
                "ARRAY['0'::interval]",
            ],
        ),
        Col(
            "au",
            "uuid[]",
            "UUID",
            a(Element::Cast),
            ["ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, NULL]", "'{}'", "'{}'", "'{}'", "'{}'"],
        ),
        Col(
            "aj",
            "json[]",
            "VARCHAR",
            a(Element::Text),
            [r#"ARRAY['{"a": 1}'::json, '"\ud800"', NULL]"#, "'{}'", r#"ARRAY['  [1, 2]  '::json]"#, "'{}'", "'{}'"],
        ),
        Col(
            "ajb",
            "jsonb[]",
            "JSON",
            a(Element::Cast),
            [r#"ARRAY['{"a": 1}'::jsonb, 'null', '[1, "x"]']"#, "'{}'", "ARRAY[NULL::jsonb]", "'{}'", "'{}'"],
        ),
        Col("abit", "bit(2)[]", "BIT", a(Element::Cast), ["ARRAY[B'01', B'10']", "'{}'", "ARRAY[NULL::bit(2)]", "'{}'", "'{}'"]),
        Col("avb", "varbit[]", "VARCHAR", a(Element::Text), ["ARRAY[B'101', B'']", "'{}'", "'{}'", "'{}'", "'{}'"]),
        Col("ach", "char(2)[]", "VARCHAR", a(Element::Text), ["ARRAY['a'::char(2), 'bc', NULL]", "'{}'", "'{}'", "'{}'", "'{}'"]),
        Col("ainet", "inet[]", "VARCHAR", a(Element::Text), ["'{192.168.0.1/24,::1}'", "'{}'", "'{}'", "'{}'", "'{}'"]),
        Col(
            "abx",
            "box[]",
            "VARCHAR",
            a(Element::Text),
            ["ARRAY['(1,1),(0,0)'::box, '(2,2),(1,1)']", "'{}'", "'{}'", "'{}'", "'{}'"],
        ),
        Col("arg", "int4range[]", "VARCHAR", a(Element::Text), [r#"'{"[1,2)",empty}'"#, "'{}'", "'{}'", "'{}'", "'{}'"]),
        Col("adm", "posint[]", "INTEGER", a(Element::Cast), ["ARRAY[1, 2]::posint[]", "'{}'", "'{{3},{4}}'", "'{}'", "'{}'"]),
        Col("aen", "mood[]", "VARCHAR", Text, ["'{sad,ok}'", "'{}'", "'{{sad},{happy}}'", "'[0:0]={ok}'", "'{NULL}'"]),
        Col("acp", "pair[]", "VARCHAR", Text, [r#"ARRAY['(1,"a b")'::pair, NULL]"#, "'{}'", "'{}'", "'{}'", "'{}'"]),
        Col(
            "big",
            "text",
            "VARCHAR",
            Text,
            ["(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 3000) i)", "'small'", "''", "'x'", "'y'"],
        ),
    ]
}

/// Settings that fix PostgreSQL's text forms for the comparison (the ones siphon's sessions use).
const PG_SESSION: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres';
    SET extra_float_digits = 3; SET lc_monetary = 'C'; SET bytea_output = 'hex';";

/// The PostgreSQL and DuckDB expressions reducing value `v` to its canonical text (or JSON).
fn canon_sql(canon: Canon, v: &str) -> (String, String) {
    let (pg, duck) = match canon {
        Canon::Text => (format!("format('%s', {v})"), v.to_string()),
        Canon::Cast | Canon::Float => (format!("format('%s', {v})"), format!("CAST({v} AS VARCHAR)")),
        Canon::Bool => (format!("format('%s', {v})"), format!("CASE WHEN {v} THEN 't' ELSE 'f' END")),
        Canon::Money => (format!("format('%s', {v}::numeric)"), format!("CAST({v} AS VARCHAR)")),
        Canon::Bytea => (format!("format('%s', {v})"), format!(r"'\x' || lower(hex({v}))")),
        Canon::DateTime => {
            (format!("format('%s', {v})"), format!(r"regexp_replace(CAST({v} AS VARCHAR), '^(.*) \(BC\)(.*)$', '\1\2 BC')"))
        }
        Canon::TimeTz => (
            format!("format('%s %s', {v}::time, extract(timezone FROM {v})::int)"),
            format!("CAST(CAST({v} AS TIME) AS VARCHAR) || ' ' || CAST(extract('timezone' FROM {v}) AS VARCHAR)"),
        ),
        Canon::Interval => (
            format!(
                "format('%s %s %s', (extract(year FROM {v}) * 12 + extract(month FROM {v}))::int, extract(day FROM {v})::int,
                        (extract(hour FROM {v}) * 3600000000 + extract(minute FROM {v}) * 60000000 + extract(microseconds FROM {v}))::bigint)"
            ),
            format!(
                "concat_ws(' ', datepart('year', {v}) * 12 + datepart('month', {v}), datepart('day', {v}),
                           datepart('hour', {v}) * 3600000000 + datepart('minute', {v}) * 60000000 + datepart('microseconds', {v}))"
            ),
        ),
        Canon::Array(element) => {
            let (pg_e, duck_e) = canon_sql(element.canon(), "e");
            (
                format!(
                    "json_build_object('dims', array_dims({v}), 'elements',
                       coalesce((SELECT json_agg({pg_e} ORDER BY o) FROM unnest({v}) WITH ORDINALITY AS u(e, o)), '[]'))"
                ),
                format!(
                    "{{'dims': CASE WHEN len({v}.lengths) = 0 THEN NULL ELSE array_to_string(list_transform(
                         list_zip({v}.lower_bounds, {v}.lengths), lambda p: '[' || p[1] || ':' || (p[1] + p[2] - 1) || ']'), '') END,
                       'elements': list_transform({v}.elements, lambda e: {duck_e})}}"
                ),
            )
        }
    };
    // `num_nulls`, not `IS NULL`: a composite whose fields are all NULL `IS NULL` in PostgreSQL.
    (
        format!("CASE WHEN num_nulls({v}) = 1 THEN NULL ELSE {pg} END"),
        format!("CASE WHEN {v} IS NULL THEN NULL ELSE {duck} END"),
    )
}

fn quoted(column: &str) -> String {
    format!("\"{column}\"")
}

/// Every row of the zoo on the source, canonical, keyed by id.
fn pg_zoo(db: &TestDb, cols: &[Col]) -> Vec<Value> {
    let exprs: Vec<String> = cols.iter().map(|c| format!("{} AS {}", canon_sql(c.3, &quoted(c.0)).0, c.0)).collect();
    let sql =
        format!("{PG_SESSION} SELECT to_json(r)::text FROM (SELECT id, {} FROM zoo) r ORDER BY id", exprs.join(", "));
    pg_rows(db, &sql).into_iter().map(|r| serde_json::from_str(&r[0]).expect("PostgreSQL's JSON")).collect()
}

/// Every row of the zoo in the replica, canonical, keyed by id.
fn duck_zoo(p: &Pipeline, cols: &[Col]) -> Vec<Value> {
    let exprs: Vec<String> = cols.iter().map(|c| format!("'{}': {}", c.0, canon_sql(c.3, &quoted(c.0)).1)).collect();
    let sql =
        format!("SELECT CAST(to_json({{'id': id, {}}}) AS VARCHAR) FROM public.zoo ORDER BY id", exprs.join(", "));
    let conn = duckdb::Connection::open_with_flags(
        &p.duckdb,
        duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap(),
    )
    .unwrap();
    conn.execute_batch("SET TimeZone = 'UTC'").unwrap();
    let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(|r| serde_json::from_str(&r.unwrap()).expect("DuckDB's JSON")).collect()
}

/// Whether two canonical values are the same; floats compare by value (NaN equal to NaN).
fn same(pg: &Value, duck: &Value, floats: bool) -> bool {
    match (pg, duck) {
        (Value::String(a), Value::String(b)) if floats => match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(x), Ok(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            _ => a == b, // an array's dims
        },
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y, floats)),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, x)| b.get(k).is_some_and(|y| same(x, y, floats)))
        }
        _ => pg == duck,
    }
}

fn assert_same_zoo(pg: &[Value], duck: &[Value], cols: &[Col]) {
    assert_eq!(duck.len(), pg.len(), "row count");
    for (p, d) in pg.iter().zip(duck) {
        assert_eq!(p["id"], d["id"]);
        for c in cols {
            let floats = matches!(c.3, Canon::Float | Canon::Array(Element::Float));
            assert!(
                same(&p[c.0], &d[c.0], floats),
                "row {} column {} ({}):\n  source:  {}\n  replica: {}",
                p["id"],
                c.0,
                c.1,
                p[c.0],
                d[c.0]
            );
        }
    }
}

#[test]
fn every_type_arrives_exactly_through_snapshot_and_stream() {
    let db = TestDb::new("zoo");
    // Defaults that would change every text form: siphon's sessions must override them.
    db.psql(&format!(
        "ALTER DATABASE {0} SET DateStyle = 'SQL, DMY'; ALTER DATABASE {0} SET IntervalStyle = 'sql_standard';
         ALTER DATABASE {0} SET extra_float_digits = 0; ALTER DATABASE {0} SET TimeZone = 'Asia/Kathmandu';
         ALTER DATABASE {0} SET bytea_output = 'escape';",
        db.name
    ));
    let cols = zoo();
    let defs: Vec<String> = cols.iter().map(|c| format!("{} {}", c.0, c.1)).collect();
    db.psql(&format!(
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
         CREATE DOMAIN posint AS int CHECK (VALUE > 0);
         CREATE DOMAIN dmoney0 AS numeric(12,2);
         CREATE DOMAIN dmoney AS dmoney0;
         CREATE DOMAIN dbytes AS bytea;
         CREATE DOMAIN dday AS date;
         CREATE TYPE pair AS (a int, b text);
         CREATE TABLE zoo (id int PRIMARY KEY, {});",
        defs.join(", ")
    ));
    let rows: Vec<String> = (0..5)
        .map(|r| format!("({}, {})", r + 1, cols.iter().map(|c| c.4[r]).collect::<Vec<_>>().join(", ")))
        .collect();
    db.psql(&format!("{PG_SESSION} INSERT INTO zoo VALUES {}; INSERT INTO zoo (id) VALUES (6);", rows.join(", ")));
    let stored: u64 = db.psql("SELECT pg_column_size(big) FROM zoo WHERE id = 1").trim().parse().unwrap();
    assert!(
        stored > 8192,
        "the big value must be TOASTed out of line ({stored} bytes) for the partial update to happen"
    );

    let p = Pipeline::new(&db, &["public.zoo"], "");
    let mut s = p.start();
    s.wait_synced(&db);
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    let names = names.join(", ");
    db.psql(&format!(
        "{PG_SESSION}
         INSERT INTO zoo SELECT id + 100, {names} FROM zoo;
         -- Whole rows replaced by other rows' values.
         UPDATE zoo z SET ({names}) = (SELECT {names} FROM zoo WHERE id = 3) WHERE z.id IN (102, 106);
         UPDATE zoo z SET ({names}) = (SELECT {names} FROM zoo WHERE id = 6) WHERE z.id = 105;
         -- An update that leaves the TOASTed value out: every other column is set by key.
         UPDATE zoo z SET (b, d, ts, tz, iv, m, by, ai, aby, ad, aiv, ajb, ttz) =
             (SELECT b, d, ts, tz, iv, m, by, ai, aby, ad, aiv, ajb, ttz FROM zoo WHERE id = 2) WHERE z.id IN (1, 101);
         DELETE FROM zoo WHERE id = 104;"
    ));
    s.wait_synced(&db);
    assert!(s.stop().success());

    // Each column's DuckDB type next to the expected one, both as DuckDB spells them.
    let pairs: Vec<String> = cols
        .iter()
        .map(|c| {
            let expected = if matches!(c.3, Canon::Array(_)) { array_type(c.2) } else { c.2.to_string() };
            format!("typeof(\"{}\"), typeof(CAST(NULL AS {expected}))", c.0)
        })
        .collect();
    let types = p.duck(&format!("SELECT {} FROM public.zoo LIMIT 1", pairs.join(", ")));
    for (c, pair) in cols.iter().zip(types[0].chunks(2)) {
        assert_eq!(pair[0], pair[1], "DuckDB type of {} ({})", c.0, c.1);
    }
    let pg = pg_zoo(&db, &cols);
    assert_eq!(pg.len(), 11);
    assert_same_zoo(&pg, &duck_zoo(&p, &cols), &cols);
}

#[test]
fn a_timestamp_beyond_duckdb_stops_the_table_with_an_error_naming_the_column() {
    let db = TestDb::new("far_future");
    db.psql(
        "CREATE TABLE far (id int PRIMARY KEY, at timestamp); INSERT INTO far VALUES (1, '294270-01-01 00:00:00');",
    );
    let p = Pipeline::new(&db, &["public.far"], "");
    let mut s = p.start();
    assert_eq!(s.wait_exit(), 1);
    let log = p.log();
    assert!(log.contains("public.far.at"), "the error names the column: {log}");
    assert!(log.contains("outside DuckDB's range"), "the error says why: {log}");
    assert!(!log.contains("294270"), "the error does not repeat the value: {log}");
}
