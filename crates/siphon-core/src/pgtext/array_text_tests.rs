//! Tests for the array text parser and the JSON renderer.

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;
use std::borrow::Cow;

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn one_dim(elements: Vec<Option<String>>) -> PgArray {
    PgArray { dims: vec![elements.len()], lower_bounds: vec![1], elements }
}

fn kind(text: &str) -> ArrayErrorKind {
    parse_array(text).expect_err("should not parse").kind
}

#[test]
fn simple_one_dimensional() {
    assert_eq!(parse_array("{1,2,NULL}"), Ok(one_dim(vec![s("1"), s("2"), None])));
    assert_eq!(parse_array("{x}"), Ok(one_dim(vec![s("x")])));
}

#[test]
fn quoted_elements() {
    assert_eq!(parse_array(r#"{"a,b","c\"d",NULL,"NULL"}"#), Ok(one_dim(vec![s("a,b"), s("c\"d"), None, s("NULL")])));
    assert_eq!(
        parse_array("{\"\",\"\",\" a \",\"\\\\\",\"{}\",\"x\ty\"}"),
        Ok(one_dim(vec![s(""), s(""), s(" a "), s("\\"), s("{}"), s("x\ty")]))
    );
}

#[test]
fn empty_array() {
    assert_eq!(parse_array("{}"), Ok(PgArray::default()));
    assert_eq!(parse_array(" { } "), Ok(PgArray::default()));
}

#[test]
fn multi_dimensional() {
    assert_eq!(
        parse_array("{{1,2},{3,4}}"),
        Ok(PgArray { dims: vec![2, 2], lower_bounds: vec![1, 1], elements: vec![s("1"), s("2"), s("3"), s("4")] })
    );
    let arr = parse_array("{{{a},{b}},{{c},{NULL}},{{e},{f}}}").expect("parses");
    assert_eq!(arr.dims, vec![3, 2, 1]);
    assert_eq!(arr.elements.len(), 6);
    assert_eq!(arr.elements[3], None);
}

#[test]
fn dimension_decoration() {
    assert_eq!(
        parse_array("[0:1]={1,2}"),
        Ok(PgArray { dims: vec![2], lower_bounds: vec![0], elements: vec![s("1"), s("2")] })
    );
    let arr = parse_array("[-3:-2][1:2]={{1,2},{3,4}}").expect("parses");
    assert_eq!(arr.lower_bounds, vec![-3, 1]);
    assert_eq!(arr.dims, vec![2, 2]);
    // The `[ub]` form implies a lower bound of 1.
    assert_eq!(parse_array("[2]={1,2}"), Ok(one_dim(vec![s("1"), s("2")])));
    assert_eq!(kind("[1:3]={1,2}"), ArrayErrorKind::DimensionMismatch);
    assert_eq!(kind("[1:2]={{1,2},{3,4}}"), ArrayErrorKind::DimensionMismatch);
    assert_eq!(kind("[2:1]={1}"), ArrayErrorKind::BoundsReversed);
    assert_eq!(kind("[a:1]={1}"), ArrayErrorKind::InvalidBound);
    assert_eq!(kind("[99999999999:1]={1}"), ArrayErrorKind::InvalidBound);
    assert!(matches!(kind("[1:1]{1}"), ArrayErrorKind::UnexpectedChar { found: '{', .. }));
}

#[test]
fn input_side_leniency() {
    // array_out never prints these, but array_in accepts them.
    assert_eq!(parse_array("{ 1 , \"two\" ,\tthree\n}"), Ok(one_dim(vec![s("1"), s("two"), s("three")])));
    assert_eq!(parse_array(r"{a\,b,c\ ,nUlL,\NULL}"), Ok(one_dim(vec![s("a,b"), s("c "), None, s("NULL")])));
    assert_eq!(parse_array("{a b}"), Ok(one_dim(vec![s("a b")])));
}

#[test]
fn other_delimiter() {
    let arr = parse_array_with_delimiter("{(1,1),(0,0);(2,2),(1,1)}", ';').expect("parses");
    assert_eq!(arr.elements, vec![s("(1,1),(0,0)"), s("(2,2),(1,1)")]);
}

#[test]
fn unicode_elements() {
    assert_eq!(parse_array("{é,\"日本 語\",😀}"), Ok(one_dim(vec![s("é"), s("日本 語"), s("😀")])));
}

#[test]
fn malformed() {
    use ArrayErrorKind::*;
    assert_eq!(kind(""), UnexpectedEnd);
    assert_eq!(kind("{"), UnexpectedEnd);
    assert_eq!(kind("{1,2"), UnexpectedEnd);
    assert_eq!(kind("{\"abc"), UnexpectedEnd);
    assert_eq!(kind("{\"abc\\"), UnexpectedEnd);
    assert_eq!(kind("{{1},{2,3}}"), NotRectangular);
    assert_eq!(kind("{{1,2},{3}}"), NotRectangular);
    assert_eq!(kind("{{}}"), EmptySubArray);
    assert_eq!(kind("{{1},{}}"), EmptySubArray);
    assert_eq!(kind("{{{{{{{1}}}}}}}"), TooManyDimensions);
    assert!(parse_array("{{{{{{1}}}}}}").is_ok());
    for bad in ["{1,,2}", "{,}", "{1,}", "1", "{1}x", "{1}}", "{a\"b\"}", "{\"a\"b}", "{1,{2}}", "{{1},2}", "{a{b}"] {
        assert!(matches!(kind(bad), UnexpectedChar { .. } | UnexpectedEnd), "{bad}");
    }
}

#[test]
fn error_message() {
    let e = parse_array("{1,,2}").expect_err("malformed");
    assert_eq!(e.offset, 3);
    assert_eq!(e.to_string(), "malformed array literal at byte 3: unexpected ',' character, expected an element");
}

/// The elements as the caller's rewrite leaves them.
fn verbatim(text: &str) -> std::result::Result<Cow<'_, str>, ()> {
    Ok(Cow::Borrowed(text))
}

#[test]
fn struct_json_holds_shape_and_elements() {
    let arr = parse_array("[0:1][1:3]={{1,2,3},{4,5,NULL}}").expect("parses");
    assert_eq!(
        to_struct_json(&arr, verbatim),
        Ok(r#"{"lengths":[2,3],"lower_bounds":[0,1],"elements":["1","2","3","4","5",null]}"#.to_owned())
    );
    assert_eq!(
        to_struct_json(&PgArray::default(), verbatim),
        Ok(r#"{"lengths":[],"lower_bounds":[],"elements":[]}"#.to_owned())
    );
}

#[test]
fn struct_json_strings_are_escaped() {
    let arr = one_dim(vec![s("a\"b\\c\n\t\u{1}\u{1f}é"), None, s("")]);
    let json = to_struct_json(&arr, verbatim).expect("renders");
    assert!(json.ends_with(r#""elements":["a\"b\\c\n\t\u0001\u001fé",null,""]}"#), "{json}");
}

#[test]
fn struct_json_rewrites_each_element_and_stops_at_the_first_error() {
    let arr = one_dim(vec![s("a"), None, s("b")]);
    let upper = to_struct_json(&arr, |t| Ok::<_, ()>(Cow::Owned(t.to_uppercase())));
    assert_eq!(upper, Ok(r#"{"lengths":[3],"lower_bounds":[1],"elements":["A",null,"B"]}"#.to_owned()));
    let mut seen = Vec::new();
    let failed = to_struct_json(&arr, |t| {
        seen.push(t.to_owned());
        Err(t.len())
    });
    assert_eq!((failed, seen), (Err(1), vec!["a".to_owned()]));
}

/// Renders dims and lower bounds like the server's `array_dims`.
fn array_dims(arr: &PgArray) -> String {
    let pairs = arr.lower_bounds.iter().zip(&arr.dims);
    pairs.map(|(&lb, &n)| format!("[{lb}:{}]", i64::from(lb) + n as i64 - 1)).collect()
}

#[test]
fn server_samples() {
    for &(kind, text, json, dims) in SERVER_SAMPLES {
        let arr = parse_array(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(to_json(&arr, kind), json, "{text}");
        assert_eq!(array_dims(&arr), dims, "{text}");
        // The test renderer below agrees with the server.
        assert_eq!(array_out(&arr), text);
    }
}

/// How the server's `array_to_json` renders an element, to check parsed
/// elements against its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ElementKind {
    /// Numbers verbatim; `NaN`, `Infinity`, `-Infinity` as JSON strings.
    Number,
    /// `t` and `f` as `true` and `false`.
    Bool,
    /// JSON strings.
    String,
    /// Elements that are JSON themselves, verbatim.
    Json,
}

/// Renders `arr` like `array_to_json`: nested JSON arrays following `dims`.
fn to_json(arr: &PgArray, kind: ElementKind) -> String {
    fn level(out: &mut String, dims: &[usize], elements: &[Option<String>], kind: ElementKind) {
        let Some((&n, inner)) = dims.split_first() else {
            match (elements[0].as_deref(), kind) {
                (None, _) => out.push_str("null"),
                (Some(t), ElementKind::Number) if !t.contains(['N', 'I']) => out.push_str(t),
                (Some("t"), ElementKind::Bool) => out.push_str("true"),
                (Some("f"), ElementKind::Bool) => out.push_str("false"),
                (Some(t), ElementKind::Json) => out.push_str(t),
                (Some(t), _) => write_json_string(out, t),
            }
            return;
        };
        let stride: usize = inner.iter().product();
        out.push('[');
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            level(out, inner, &elements[i * stride..], kind);
        }
        out.push(']');
    }
    let mut out = String::new();
    if arr.dims.is_empty() {
        out.push_str("[]");
    } else {
        level(&mut out, &arr.dims, &arr.elements, kind);
    }
    out
}

// ---------------------------------------------------------------------------
// Property tests: render like the server's array_out, parse back.
// ---------------------------------------------------------------------------

/// `array_out`'s quoting decision for one element.
fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case("NULL")
        || s.chars().any(|c| matches!(c, '{' | '}' | '"' | ',' | '\\') || is_array_space(c))
}

fn render_element(out: &mut String, element: &Option<String>) {
    match element {
        None => out.push_str("NULL"),
        Some(text) if needs_quotes(text) => {
            out.push('"');
            for c in text.chars() {
                if matches!(c, '"' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        Some(text) => out.push_str(text),
    }
}

fn render_level(out: &mut String, dims: &[usize], elements: &[Option<String>]) {
    let Some((&n, inner)) = dims.split_first() else {
        render_element(out, &elements[0]);
        return;
    };
    let stride: usize = inner.iter().product();
    out.push('{');
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        render_level(out, inner, &elements[i * stride..]);
    }
    out.push('}');
}

/// Renders `arr` exactly like the server's `array_out`.
fn array_out(arr: &PgArray) -> String {
    let mut out = String::new();
    if arr.dims.is_empty() {
        return "{}".into();
    }
    if arr.lower_bounds.iter().any(|&lb| lb != 1) {
        for (&lb, &n) in arr.lower_bounds.iter().zip(&arr.dims) {
            let ub = i64::from(lb) + n as i64 - 1;
            out.push_str(&format!("[{lb}:{ub}]"));
        }
        out.push('=');
    }
    render_level(&mut out, &arr.dims, &arr.elements);
    out
}

fn arb_element() -> impl Strategy<Value = Option<String>> {
    let text = prop_oneof![any::<String>(), "[a-zA-Z0-9 ,{}\"\\\\\t\n.-]{0,6}", "(?i:null)", Just(String::new()),];
    proptest::option::weighted(0.85, text)
}

fn arb_array() -> impl Strategy<Value = PgArray> {
    let dims = vec(1usize..4, 1..4);
    let lower = prop_oneof![3 => Just(1i32), 1 => -5i32..5, 1 => any::<i32>()];
    dims.prop_flat_map(move |dims| {
        let total: usize = dims.iter().product();
        let lbs = vec(lower.clone(), dims.len());
        (Just(dims), lbs, vec(arb_element(), total))
    })
    .prop_map(|(dims, lower_bounds, elements)| PgArray { dims, lower_bounds, elements })
    .prop_filter("upper bound must fit in i32", |arr| {
        arr.lower_bounds.iter().zip(&arr.dims).all(|(&lb, &n)| i64::from(lb) + n as i64 - 1 <= i64::from(i32::MAX))
    })
}

/// Minimal JSON reader for an array of strings and nulls, to check
/// rendered elements independently of their writer.
fn read_json_strings(json: &str) -> Option<Vec<Option<String>>> {
    let mut chars = json.chars().peekable();
    let mut out = Vec::new();
    if chars.next()? != '[' {
        return None;
    }
    if chars.peek() == Some(&']') {
        chars.next();
        return chars.next().is_none().then_some(out);
    }
    loop {
        match chars.next()? {
            'n' => {
                let rest: String = chars.by_ref().take(3).collect();
                (rest == "ull").then_some(())?;
                out.push(None);
            }
            '"' => out.push(Some(read_json_string_body(&mut chars)?)),
            _ => return None,
        }
        match chars.next()? {
            ',' => {}
            ']' => return chars.next().is_none().then_some(out),
            _ => return None,
        }
    }
}

fn read_json_string_body(chars: &mut impl Iterator<Item = char>) -> Option<String> {
    let mut s = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(s),
            '\\' => s.push(match chars.next()? {
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'u' => {
                    let hex: String = chars.take(4).collect();
                    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                }
                c @ ('"' | '\\' | '/') => c,
                _ => return None,
            }),
            c if u32::from(c) < 0x20 => return None,
            c => s.push(c),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn parse_inverts_array_out(arr in arb_array()) {
        let text = array_out(&arr);
        prop_assert_eq!(parse_array(&text), Ok(arr));
    }

    #[test]
    fn struct_json_elements_roundtrip(arr in arb_array()) {
        let json = to_struct_json(&arr, verbatim).expect("renders");
        let lists = json.strip_prefix("{\"lengths\":").and_then(|j| j.strip_suffix('}')).expect("object");
        let (shape, elements) = lists.split_once(",\"elements\":").expect("elements");
        let dims: Vec<String> = arr.dims.iter().map(usize::to_string).collect();
        let lbs: Vec<String> = arr.lower_bounds.iter().map(i32::to_string).collect();
        prop_assert_eq!(shape, format!("[{}],\"lower_bounds\":[{}]", dims.join(","), lbs.join(",")));
        prop_assert_eq!(read_json_strings(elements), Some(arr.elements));
    }

    #[test]
    fn parse_never_panics(text in "[{}\",\\\\ NUL\\[\\]:=0-9a-z-]{0,40}") {
        let _ = parse_array(&text);
    }

    #[test]
    fn parse_arbitrary_strings_never_panics(text in any::<String>()) {
        if let Ok(arr) = parse_array(&text) {
            let total: usize = if arr.dims.is_empty() { 0 } else { arr.dims.iter().product() };
            prop_assert_eq!(total, arr.elements.len());
            prop_assert_eq!(arr.dims.len(), arr.lower_bounds.len());
        }
    }
}

/// `(kind, a::text, array_to_json(a)::text, array_dims(a))` from a
/// PostgreSQL 15.18 server, for random `text[]`, `float8[]`, `float4[]`,
/// `numeric[]`, `int4[]`, `bool[]` and `jsonb[]` values.
const SERVER_SAMPLES: &[(ElementKind, &str, &str, &str)] = &[
    (ElementKind::String, "{{NULL}}", "[[null]]", "[1:1][1:1]"),
    (ElementKind::String, "{{\"NuLl\",\"\",\"U😀N\\\"Z\"}}", "[[\"NuLl\",\"\",\"U😀N\\\"Z\"]]", "[1:1][1:3]"),
    (ElementKind::String, "{NULL,NULL,[}", "[null,null,\"[\"]", "[1:3]"),
    (ElementKind::String, "{{\"NULL \"},{NULL}}", "[[\"NULL \"],[null]]", "[1:2][1:1]"),
    (ElementKind::String, "{{\"}\u{1}{\",L,NULL}}", "[[\"}\\u0001{\",\"L\",null]]", "[1:1][1:3]"),
    (ElementKind::String, "{bZ}", "[\"bZ\"]", "[1:1]"),
    (ElementKind::String, "{{NULL},{\"\"}}", "[[null],[\"\"]]", "[1:2][1:1]"),
    (ElementKind::String, "{\"Nb\u{c}\"}", "[\"Nb\\f\"]", "[1:1]"),
    (ElementKind::String, "{\"\t\\\"\",\"\u{b}=\rU\n\",'}", "[\"\\t\\\"\",\"\\u000b=\\rU\\n\",\"'\"]", "[1:3]"),
    (ElementKind::String, "{{\"\t, =\"},{L},{NULL}}", "[[\"\\t, =\"],[\"L\"],[null]]", "[1:3][1:1]"),
    (ElementKind::String, "{{],\",\\\".:\n\",Z},{\"\",\"\",\"NuLl\"}}", "[[\"]\",\",\\\".:\\n\",\"Z\"],[\"\",\"\",\"NuLl\"]]", "[1:2][1:3]"),
    (ElementKind::String, "{NULL,\"\"}", "[null,\"\"]", "[1:2]"),
    (ElementKind::String, "{{\"L}.'\"}}", "[[\"L}.'\"]]", "[1:1][1:1]"),
    (ElementKind::String, "{\"é{\"}", "[\"é{\"]", "[1:1]"),
    (ElementKind::String, "{\"=lU\n\"}", "[\"=lU\\n\"]", "[1:1]"),
    (ElementKind::String, "{NULL}", "[null]", "[1:1]"),
    (ElementKind::String, "{\"\"}", "[\"\"]", "[1:1]"),
    (ElementKind::String, "{NULL}", "[null]", "[1:1]"),
    (ElementKind::String, "{{{\"b\u{c}\"},{\"\u{b},l\u{1}\t\u{c}\"},{.l}}}", "[[[\"b\\f\"],[\"\\u000b,l\\u0001\\t\\f\"],[\".l\"]]]", "[1:1][1:3][1:1]"),
    (ElementKind::String, "{\",L ]\u{b}\",\"\u{b}b\r.N\"}", "[\",L ]\\u000b\",\"\\u000bb\\r.N\"]", "[1:2]"),
    (ElementKind::String, "{U,\".U\\\\\u{b}\u{1}U\"}", "[\"U\",\".U\\\\\\u000b\\u0001U\"]", "[1:2]"),
    (ElementKind::String, "{\"{\\\\L\",U[a'':}", "[\"{\\\\L\",\"U[a'':\"]", "[1:2]"),
    (ElementKind::String, "{{NULL},{\"é\n\"},{\"\t[[\"}}", "[[null],[\"é\\n\"],[\"\\t[[\"]]", "[1:3][1:1]"),
    (ElementKind::String, "{{L.,\"\",\"\n\nN,Z\"},{\" .},\r\",\"\",NULL}}", "[[\"L.\",\"\",\"\\n\\nN,Z\"],[\" .},\\r\",\"\",null]]", "[1:2][1:3]"),
    (ElementKind::String, "{\"\r\u{c}LZ=\"}", "[\"\\r\\fLZ=\"]", "[1:1]"),
    (ElementKind::String, "{\"\rL\",NULL}", "[\"\\rL\",null]", "[1:2]"),
    (ElementKind::String, "{\"\\\\U\",l😀,\"]\\\\\"}", "[\"\\\\U\",\"l😀\",\"]\\\\\"]", "[1:3]"),
    (ElementKind::String, "{{\"\\\"]l\",\"b\rZ\r\",😀},{\"'{\rL]\",a,\"NuLl\"},{\"[=\u{1}}\",\"\ré\r\u{c}\\\\Z\",.😀}}", "[[\"\\\"]l\",\"b\\rZ\\r\",\"😀\"],[\"'{\\rL]\",\"a\",\"NuLl\"],[\"[=\\u0001}\",\"\\ré\\r\\f\\\\Z\",\".😀\"]]", "[1:3][1:3]"),
    (ElementKind::String, "{{\",\u{1}:b😀N\",\"\u{b}\u{c}=\",\"é, \"},{\"\",\"l\\\\\n\",]]\u{1}},{al,\",.:\\\\\",LU=😀}}", "[[\",\\u0001:b😀N\",\"\\u000b\\f=\",\"é, \"],[\"\",\"l\\\\\\n\",\"]]\\u0001\"],[\"al\",\",.:\\\\\",\"LU=😀\"]]", "[1:3][1:3]"),
    (ElementKind::String, "{{\"\r😀 ][L\",\" '\"},{\"NULL \",]Z}}", "[[\"\\r😀 ][L\",\" '\"],[\"NULL \",\"]Z\"]]", "[1:2][1:2]"),
    (ElementKind::String, "{\"\u{b}l{\",\"N\nNL l\"}", "[\"\\u000bl{\",\"N\\nNL l\"]", "[1:2]"),
    (ElementKind::String, "{{\"\\\\\u{b},\"}}", "[[\"\\\\\\u000b,\"]]", "[1:1][1:1]"),
    (ElementKind::String, "{{{\" bb'[\"},{\"é\u{c}]\"}}}", "[[[\" bb'[\"],[\"é\\f]\"]]]", "[1:1][1:2][1:1]"),
    (ElementKind::String, "{{\"😀😀\t\"},{\"}\\\".{😀\"},{\"\nL,'\u{c}\"}}", "[[\"😀😀\\t\"],[\"}\\\".{😀\"],[\"\\nL,'\\f\"]]", "[1:3][1:1]"),
    (ElementKind::String, "{{\"\\\\\\\\\u{c}\",\"\r\u{1}l{\u{c}\",\"\"},{\"\",\"\",\"]U\u{b}=\"}}", "[[\"\\\\\\\\\\f\",\"\\r\\u0001l{\\f\",\"\"],[\"\",\"\",\"]U\\u000b=\"]]", "[1:2][1:3]"),
    (ElementKind::String, "{LN'[[,NULL,\"\"}", "[\"LN'[[\",null,\"\"]", "[1:3]"),
    (ElementKind::String, "{{\"\\\"\t Ul\"}}", "[[\"\\\"\\t Ul\"]]", "[1:1][1:1]"),
    (ElementKind::String, "{\":U,\n\",\"N}\",.\u{1}}", "[\":U,\\n\",\"N}\",\".\\u0001\"]", "[1:3]"),
    (ElementKind::String, "{{lL},{\"[😀\u{c}[aL\"}}", "[[\"lL\"],[\"[😀\\f[aL\"]]", "[1:2][1:1]"),
    (ElementKind::String, "{a}", "[\"a\"]", "[1:1]"),
    (ElementKind::String, "{\"\u{c}U\u{c}\n\",\"}=é=é\"}", "[\"\\fU\\f\\n\",\"}=é=é\"]", "[1:2]"),
    (ElementKind::String, "{{{\"\",\"é=}\u{b}\"},{\"\",\"\\\\😀\"}},{{NULL,:=},{\"\",\"NULL \"}},{{NULL,\"Lab\u{c}Ua\"},{\"}😀\",\"\"}}}", "[[[\"\",\"é=}\\u000b\"],[\"\",\"\\\\😀\"]],[[null,\":=\"],[\"\",\"NULL \"]],[[null,\"Lab\\fUa\"],[\"}😀\",\"\"]]]", "[1:3][1:2][1:2]"),
    (ElementKind::String, "{\"\u{c}\u{1}\"}", "[\"\\f\\u0001\"]", "[1:1]"),
    (ElementKind::String, "{{{\"\u{1}😀{\"},{\"\t\u{1}:😀Ua\"},{\"😀\t \"}},{{\"\"},{L]😀},{NULL}}}", "[[[\"\\u0001😀{\"],[\"\\t\\u0001:😀Ua\"],[\"😀\\t \"]],[[\"\"],[\"L]😀\"],[null]]]", "[1:2][1:3][1:1]"),
    (ElementKind::String, "{{\"NULL \",\"{\u{1}L \u{b}\",NULL},{\"NULL\",\".😀U,=Z\",NULL}}", "[[\"NULL \",\"{\\u0001L \\u000b\",null],[\"NULL\",\".😀U,=Z\",null]]", "[1:2][1:3]"),
    (ElementKind::String, "{{\"😀{ '[\",\"b,L.[\",é😀b},{\"\n:{ZL\",aZZ,NULL}}", "[[\"😀{ '[\",\"b,L.[\",\"é😀b\"],[\"\\n:{ZL\",\"aZZ\",null]]", "[1:2][1:3]"),
    (ElementKind::String, "{\".\u{c}😀=a\u{b}\",\"\u{1}\n\r\",\"\\\"\"}", "[\".\\f😀=a\\u000b\",\"\\u0001\\n\\r\",\"\\\"\"]", "[1:3]"),
    (ElementKind::String, "{b,\"\nl😀U😀\"}", "[\"b\",\"\\nl😀U😀\"]", "[1:2]"),
    (ElementKind::String, "{\"\r.a\u{c}\n{\",\"}]\u{c}\\\\\u{1}\",\"\u{b}L\"}", "[\"\\r.a\\f\\n{\",\"}]\\f\\\\\\u0001\",\"\\u000bL\"]", "[1:3]"),
    (ElementKind::String, "{{{\"\\\"\r\\\"\",\"😀\t}\",\"é:Nb,\u{c}\"},{\"\",\"'aLb{😀\",\"\u{b}\u{1}[['\t\"},{\"\u{c},N\u{1}\",\"😀\n,{'\n\",NULL}},{{\"\u{b}.\u{c}\",\"\\\\Né\r{\",\"b\u{b}\"},{\".=\\\"}\u{b}\t\",\",}\nlN\",\u{1}},{\",\\\\\u{b}N,\",LN,\"bb\u{1}\t={\"}}}", "[[[\"\\\"\\r\\\"\",\"😀\\t}\",\"é:Nb,\\f\"],[\"\",\"'aLb{😀\",\"\\u000b\\u0001[['\\t\"],[\"\\f,N\\u0001\",\"😀\\n,{'\\n\",null]],[[\"\\u000b.\\f\",\"\\\\Né\\r{\",\"b\\u000b\"],[\".=\\\"}\\u000b\\t\",\",}\\nlN\",\"\\u0001\"],[\",\\\\\\u000bN,\",\"LN\",\"bb\\u0001\\t={\"]]]", "[1:2][1:3][1:3]"),
    (ElementKind::String, "{{\"\\\"\t\",\"l\u{c}=Ub\"}}", "[[\"\\\"\\t\",\"l\\f=Ub\"]]", "[1:1][1:2]"),
    (ElementKind::String, "{\" '\\\\😀\",\"null\",\"NuLl\"}", "[\" '\\\\😀\",\"null\",\"NuLl\"]", "[1:3]"),
    (ElementKind::String, "{NULL,\"\u{b},😀\",\"\u{1}\rN\"}", "[null,\"\\u000b,😀\",\"\\u0001\\rN\"]", "[1:3]"),
    (ElementKind::String, "{\"\u{1}:\u{b}\"}", "[\"\\u0001:\\u000b\"]", "[1:1]"),
    (ElementKind::String, "{{\"'[\\\\\",',\"\rN= \u{c}\"},{NULL,\". ]\n\\\"\",\"\u{b}\"}}", "[[\"'[\\\\\",\"'\",\"\\rN= \\f\"],[null,\". ]\\n\\\"\",\"\\u000b\"]]", "[1:2][1:3]"),
    (ElementKind::String, "{\u{1}Lél'Z,]Ub}", "[\"\\u0001Lél'Z\",\"]Ub\"]", "[1:2]"),
    (ElementKind::String, "{{{\"}é'= \u{b}\",\",\t\",:}}}", "[[[\"}é'= \\u000b\",\",\\t\",\":\"]]]", "[1:1][1:1][1:3]"),
    (ElementKind::String, "{{\"\u{1}bN\u{c}\",\"{:\"},{\"\u{c}L\u{1}aNa\",\"b😀😀\u{c}\u{c}\"}}", "[[\"\\u0001bN\\f\",\"{:\"],[\"\\fL\\u0001aNa\",\"b😀😀\\f\\f\"]]", "[1:2][1:2]"),
    (ElementKind::String, "{\"b}\u{1} ,\"}", "[\"b}\\u0001 ,\"]", "[1:1]"),
    (ElementKind::String, "{\"'la{\"}", "[\"'la{\"]", "[1:1]"),
    (ElementKind::Number, "{Infinity,1}", "[\"Infinity\",1]", "[1:2]"),
    (ElementKind::Number, "{1,3.14159,1e-300}", "[1,3.14159,1e-300]", "[1:3]"),
    (ElementKind::Number, "{1}", "[1]", "[1:1]"),
    (ElementKind::Number, "{3.14159}", "[3.14159]", "[1:1]"),
    (ElementKind::Number, "{{NULL,0},{2147483647,-1e-06}}", "[[null,0],[2147483647,-1e-06]]", "[1:2][1:2]"),
    (ElementKind::Number, "{{-1e-06,-Infinity,NULL},{3.14159,-Infinity,2147483647}}", "[[-1e-06,\"-Infinity\",null],[3.14159,\"-Infinity\",2147483647]]", "[1:2][1:3]"),
    (ElementKind::Number, "{NaN,123456789.123456789,NULL}", "[\"NaN\",123456789.123456789,null]", "[1:3]"),
    (ElementKind::Number, "{0,0,3.14159}", "[0,0,3.14159]", "[1:3]"),
    (ElementKind::Number, "{0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001,-0.000001,1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000,NaN}", "[0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001,-0.000001,1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000,\"NaN\"]", "[1:4]"),
    (ElementKind::Number, "{1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000,123456789.123456789}", "[1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000,123456789.123456789]", "[1:2]"),
    (ElementKind::Number, "{{1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000,0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001,Infinity},{1.5,NULL,0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001}}", "[[1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000,0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001,\"Infinity\"],[1.5,null,0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001]]", "[1:2][1:3]"),
    (ElementKind::Number, "{{NULL,123456789.123456789,NaN},{1.5,Infinity,123456789.123456789}}", "[[null,123456789.123456789,\"NaN\"],[1.5,\"Infinity\",123456789.123456789]]", "[1:2][1:3]"),
    (ElementKind::Number, "{-773,NULL,-451}", "[-773,null,-451]", "[1:3]"),
    (ElementKind::Number, "{936,-336,1,-1}", "[936,-336,1,-1]", "[1:4]"),
    (ElementKind::Number, "{780,1}", "[780,1]", "[1:2]"),
    (ElementKind::Number, "{751,-2147483648,750}", "[751,-2147483648,750]", "[1:3]"),
    (ElementKind::Number, "{{186,-450},{-2147483648,1}}", "[[186,-450],[-2147483648,1]]", "[1:2][1:2]"),
    (ElementKind::Number, "{{129,NULL,0},{532,-91,590}}", "[[129,null,0],[532,-91,590]]", "[1:2][1:3]"),
    (ElementKind::Number, "{1.25}", "[1.25]", "[1:1]"),
    (ElementKind::Number, "{1.25}", "[1.25]", "[1:1]"),
    (ElementKind::Number, "{1.25}", "[1.25]", "[1:1]"),
    (ElementKind::Number, "{1}", "[1]", "[1:1]"),
    (ElementKind::Number, "{{-Infinity,-1e-06},{-Infinity,1.5}}", "[[\"-Infinity\",-1e-06],[\"-Infinity\",1.5]]", "[1:2][1:2]"),
    (ElementKind::Number, "{{1.5,NULL,1},{-Infinity,1.25,Infinity}}", "[[1.5,null,1],[\"-Infinity\",1.25,\"Infinity\"]]", "[1:2][1:3]"),
    (ElementKind::Bool, "{NULL,NULL}", "[null,null]", "[1:2]"),
    (ElementKind::Bool, "{NULL,f}", "[null,false]", "[1:2]"),
    (ElementKind::Bool, "{f,NULL,NULL}", "[false,null,null]", "[1:3]"),
    (ElementKind::Bool, "{{f,t},{NULL,f}}", "[[false,true],[null,false]]", "[1:2][1:2]"),
    (ElementKind::Json, "{\"null\"}", "[null]", "[1:1]"),
    (ElementKind::Json, "{1.5}", "[1.5]", "[1:1]"),
    (ElementKind::Json, "{\"{\\\"k\\\": {\\\"n\\\": [true, false]}}\",\"\\\"str\\\\\\\"q\\\"\"}", "[{\"k\": {\"n\": [true, false]}},\"str\\\"q\"]", "[1:2]"),
    (ElementKind::Json, "{\"[1, 2, \\\"x,y\\\"]\",\"[1, 2, \\\"x,y\\\"]\",\"{}\"}", "[[1, 2, \"x,y\"],[1, 2, \"x,y\"],{}]", "[1:3]"),
    (ElementKind::String, "[0:1]={x,\"y z\"}", "[\"x\",\"y z\"]", "[0:1]"),
    (ElementKind::String, "[-5:-4]={x,\"y z\"}", "[\"x\",\"y z\"]", "[-5:-4]"),
    (ElementKind::String, "[2147483640:2147483641]={x,\"y z\"}", "[\"x\",\"y z\"]", "[2147483640:2147483641]"),
    (ElementKind::String, "[0:1][3:4]={{a,b},{c,NULL}}", "[[\"a\",\"b\"],[\"c\",null]]", "[0:1][3:4]"),
    (ElementKind::String, "{}", "[]", ""),
];
