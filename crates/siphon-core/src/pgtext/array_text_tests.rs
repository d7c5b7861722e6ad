//! Tests for the array text parser and the JSON renderer.

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn one_dim(elements: Vec<Option<String>>) -> PgArray {
    PgArray {
        dims: vec![elements.len()],
        lower_bounds: vec![1],
        elements,
    }
}

fn kind(text: &str) -> ArrayErrorKind {
    parse_array(text).expect_err("should not parse").kind
}

#[test]
fn simple_one_dimensional() {
    assert_eq!(
        parse_array("{1,2,NULL}"),
        Ok(one_dim(vec![s("1"), s("2"), None]))
    );
    assert_eq!(parse_array("{x}"), Ok(one_dim(vec![s("x")])));
}

#[test]
fn quoted_elements() {
    assert_eq!(
        parse_array(r#"{"a,b","c\"d",NULL,"NULL"}"#),
        Ok(one_dim(vec![s("a,b"), s("c\"d"), None, s("NULL")]))
    );
    assert_eq!(
        parse_array(r#"{"",""," a ","\\","{}","x\ty"}"#),
        Ok(one_dim(vec![
            s(""),
            s(""),
            s(" a "),
            s("\\"),
            s("{}"),
            s("x\ty")
        ]))
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
        Ok(PgArray {
            dims: vec![2, 2],
            lower_bounds: vec![1, 1],
            elements: vec![s("1"), s("2"), s("3"), s("4")],
        })
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
        Ok(PgArray {
            dims: vec![2],
            lower_bounds: vec![0],
            elements: vec![s("1"), s("2")],
        })
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
    assert!(matches!(
        kind("[1:1]{1}"),
        ArrayErrorKind::UnexpectedChar { found: '{', .. }
    ));
}

#[test]
fn input_side_leniency() {
    // array_out never prints these, but array_in accepts them.
    assert_eq!(
        parse_array("{ 1 , \"two\" ,\tthree\n}"),
        Ok(one_dim(vec![s("1"), s("two"), s("three")]))
    );
    assert_eq!(
        parse_array(r"{a\,b,c\ ,nUlL,\NULL}"),
        Ok(one_dim(vec![s("a,b"), s("c "), None, s("NULL")]))
    );
    assert_eq!(parse_array("{a b}"), Ok(one_dim(vec![s("a b")])));
}

#[test]
fn other_delimiter() {
    let arr = parse_array_with_delimiter("{(1,1),(0,0);(2,2),(1,1)}", ';').expect("parses");
    assert_eq!(arr.elements, vec![s("(1,1),(0,0)"), s("(2,2),(1,1)")]);
}

#[test]
fn unicode_elements() {
    assert_eq!(
        parse_array("{é,\"日本 語\",😀}"),
        Ok(one_dim(vec![s("é"), s("日本 語"), s("😀")]))
    );
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
    for bad in [
        "{1,,2}", "{,}", "{1,}", "1", "{1}x", "{1}}", "{a\"b\"}", "{\"a\"b}", "{1,{2}}",
        "{{1},2}", "{a{b}",
    ] {
        assert!(
            matches!(kind(bad), UnexpectedChar { .. } | UnexpectedEnd),
            "{bad}"
        );
    }
}

#[test]
fn error_message() {
    let e = parse_array("{1,,2}").expect_err("malformed");
    assert_eq!(e.offset, 3);
    assert_eq!(
        e.to_string(),
        "malformed array literal at byte 3: unexpected ',' character, expected an element"
    );
}

#[test]
fn json_numbers() {
    let arr = parse_array("{1,-2.5,1e+308,NaN,Infinity,-Infinity,NULL,0.000}").expect("parses");
    assert_eq!(
        to_json(&arr, ElementKind::Number),
        r#"[1,-2.5,1e+308,"NaN","Infinity","-Infinity",null,0.000]"#
    );
}

#[test]
fn json_bools() {
    let arr = parse_array("{t,f,NULL}").expect("parses");
    assert_eq!(to_json(&arr, ElementKind::Bool), "[true,false,null]");
}

#[test]
fn json_strings_are_escaped() {
    let arr = one_dim(vec![s("a\"b\\c\n\t\u{1}\u{1f}é"), None, s("")]);
    assert_eq!(
        to_json(&arr, ElementKind::String),
        r#"["a\"b\\c\n\t\u0001\u001fé",null,""]"#
    );
}

#[test]
fn json_elements_verbatim() {
    let arr = parse_array(r#"{"{\"a\": 1}","[1, 2]",NULL}"#).expect("parses");
    assert_eq!(to_json(&arr, ElementKind::Json), r#"[{"a": 1},[1, 2],null]"#);
}

#[test]
fn json_multi_dimensional_and_empty() {
    let arr = parse_array("{{1,2,3},{4,5,NULL}}").expect("parses");
    assert_eq!(to_json(&arr, ElementKind::Number), "[[1,2,3],[4,5,null]]");
    let arr = parse_array("{{{1},{2}}}").expect("parses");
    assert_eq!(to_json(&arr, ElementKind::Number), "[[[1],[2]]]");
    assert_eq!(to_json(&PgArray::default(), ElementKind::String), "[]");
    // Inconsistent hand-built arrays do not panic.
    let odd = PgArray {
        dims: vec![2, 2],
        lower_bounds: vec![1, 1],
        elements: vec![s("1")],
    };
    assert_eq!(to_json(&odd, ElementKind::Number), "[[1,null],[null,null]]");
}

#[test]
fn json_number_grammar() {
    for good in ["0", "-0", "12", "1.5", "-1.5e10", "1E-7", "0.0", "9e+0"] {
        assert!(is_json_number(good), "{good}");
    }
    for bad in [
        "", "-", "01", "1.", ".5", "+1", "1e", "1e+", "NaN", "Infinity", "1 ", "0x10", "1.2.3",
    ] {
        assert!(!is_json_number(bad), "{bad}");
    }
}

// ---------------------------------------------------------------------------
// Property tests: render like the server's array_out, parse back.
// ---------------------------------------------------------------------------

/// `array_out`'s quoting decision for one element.
fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case("NULL")
        || s.chars()
            .any(|c| matches!(c, '{' | '}' | '"' | ',' | '\\') || is_array_space(c))
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
    let text = prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 ,{}\"\\\\\t\n.-]{0,6}",
        "(?i:null)",
        Just(String::new()),
    ];
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
    .prop_map(|(dims, lower_bounds, elements)| PgArray {
        dims,
        lower_bounds,
        elements,
    })
    .prop_filter("upper bound must fit in i32", |arr| {
        arr.lower_bounds
            .iter()
            .zip(&arr.dims)
            .all(|(&lb, &n)| i64::from(lb) + n as i64 - 1 <= i64::from(i32::MAX))
    })
}

/// Minimal JSON reader for an array of strings and nulls, to check
/// `to_json` output independently of its writer.
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
    fn json_strings_roundtrip(elements in vec(arb_element(), 0..8)) {
        let arr = if elements.is_empty() { PgArray::default() } else { one_dim(elements.clone()) };
        let json = to_json(&arr, ElementKind::String);
        prop_assert_eq!(read_json_strings(&json), Some(elements));
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
