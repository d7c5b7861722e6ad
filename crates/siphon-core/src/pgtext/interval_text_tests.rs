//! Tests for the interval parser. `SERVER_SAMPLES` was produced by a
//! PostgreSQL 15.18 server (`IntervalStyle = postgres`) from 200 random
//! intervals, each line being `x::text|months|days|micros` where the fields
//! were computed exactly with
//! `extract(year from x) * 12 + extract(month from x)`, `extract(day from x)`
//! and `extract(hour from x) * 3600000000 + extract(minute from x) * 60000000
//! + extract(microsecond from x)` (numeric, so exact).

use super::*;

fn iv(months: i32, days: i32, micros: i64) -> PgInterval {
    PgInterval { months, days, micros }
}

fn kind(text: &str) -> IntervalErrorKind {
    parse_interval(text).expect_err("should not parse").kind
}

/// Documented examples and extremes, checked against PostgreSQL 15.
#[test]
fn examples() {
    let cases = [
        ("00:00:00", iv(0, 0, 0)),
        ("1 day", iv(0, 1, 0)),
        ("-1 days +02:03:04.5", iv(0, -1, 7_384_500_000)),
        ("1 year 2 mons 3 days 04:05:06.789012", iv(14, 3, 14_706_789_012)),
        ("-178000000 years", iv(-2_136_000_000, 0, 0)),
        ("1 mon -1 days", iv(1, -1, 0)),
        ("-00:00:00.000001", iv(0, 0, -1)),
        ("-11 mons", iv(-11, 0, 0)),
        ("1 mon", iv(1, 0, 0)),
        ("1 year", iv(12, 0, 0)),
        ("-3 days -04:00:00", iv(0, -3, -14_400_000_000)),
        ("100:00:00", iv(0, 0, 360_000_000_000)),
        ("11 mons 2 days -00:00:01", iv(11, 2, -1_000_000)),
        ("178956970 years 7 mons 2147483647 days 2562047788:00:54.775807", iv(i32::MAX, i32::MAX, i64::MAX)),
        ("-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808", iv(i32::MIN, i32::MIN, i64::MIN)),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_interval(text), Ok(expected), "{text}");
    }
}

#[test]
fn server_samples() {
    let mut count = 0;
    for line in SERVER_SAMPLES.lines() {
        let mut fields = line.split('|');
        let text = fields.next().expect("text");
        let mut num = || fields.next().expect("field").parse::<i64>().expect("number");
        let expected = PgInterval {
            months: i32::try_from(num()).expect("months"),
            days: i32::try_from(num()).expect("days"),
            micros: num(),
        };
        assert_eq!(parse_interval(text), Ok(expected), "{text}");
        count += 1;
    }
    assert_eq!(count, 200);
}

#[test]
fn fractions() {
    assert_eq!(parse_interval("00:00:00.5"), Ok(iv(0, 0, 500_000)));
    assert_eq!(parse_interval("00:00:00.05"), Ok(iv(0, 0, 50_000)));
    assert_eq!(parse_interval("00:00:01.000001"), Ok(iv(0, 0, 1_000_001)));
    assert_eq!(parse_interval("+01:00:00"), Ok(iv(0, 0, 3_600_000_000)));
    assert_eq!(parse_interval("1:00:00"), Ok(iv(0, 0, 3_600_000_000)));
}

#[test]
fn infinity() {
    assert_eq!(parse_interval("infinity"), Ok(PgInterval::INFINITY));
    assert_eq!(parse_interval("-infinity"), Ok(PgInterval::NEG_INFINITY));
}

#[test]
fn malformed() {
    use IntervalErrorKind::*;
    assert_eq!(kind(""), Empty);
    assert_eq!(kind("   "), Empty);
    assert_eq!(kind("1"), MissingUnit("1".into()));
    assert_eq!(kind("1 week"), UnknownUnit("week".into()));
    assert_eq!(kind("1 hour"), UnknownUnit("hour".into()));
    assert_eq!(kind("x days"), InvalidNumber("x".into()));
    assert_eq!(kind("- days"), InvalidNumber("-".into()));
    assert_eq!(kind("1.5 days"), InvalidNumber("1.5".into()));
    assert_eq!(kind("1 day 2 days"), UnitOutOfOrder("days".into()));
    assert_eq!(kind("1 day 2 mons"), UnitOutOfOrder("mons".into()));
    assert_eq!(kind("00:00:00 1 day"), TrailingText("1".into()));
    for bad in [
        "00:00",
        "00:60:00",
        "00:00:60",
        "00:0:00",
        "00:00:00.",
        "00:00:00.1234567",
        "a:00:00",
        ":00:00",
        "00:00:00:00",
        "00:00:0a",
        "--01:00:00",
        "00:00:00.-1",
    ] {
        assert!(matches!(kind(bad), InvalidTime(_)), "{bad}");
    }
}

#[test]
fn out_of_range() {
    use IntervalErrorKind::*;
    assert_eq!(kind("178956971 years"), OutOfRange(Field::Months));
    assert_eq!(kind("178956970 years 8 mons"), OutOfRange(Field::Months));
    assert_eq!(kind("99999999999999999999 years"), OutOfRange(Field::Months));
    assert_eq!(kind("2147483648 days"), OutOfRange(Field::Days));
    assert_eq!(kind("2562047788:00:54.775808"), OutOfRange(Field::Time));
    assert_eq!(kind("9999999999999999999:00:00"), OutOfRange(Field::Time));
    assert_eq!(
        parse_interval("2147483648 days").expect_err("range").to_string(),
        "invalid input syntax for type interval: \"2147483648 days\": days out of range"
    );
}

/// Formats like the server's `EncodeInterval` with `IntervalStyle =
/// postgres` (checked against the server samples below).
fn pg_format(i: PgInterval) -> String {
    let (year, mon) = (i.months / 12, i.months % 12);
    let hour = i.micros / 3_600_000_000;
    let min = i.micros % 3_600_000_000 / 60_000_000;
    let sec = i.micros % 60_000_000 / 1_000_000;
    let fsec = i.micros % 1_000_000;
    let mut out = String::new();
    let (mut is_zero, mut is_before) = (true, false);
    for (value, unit) in [(year, "year"), (mon, "mon"), (i.days, "day")] {
        if value == 0 {
            continue;
        }
        let space = if is_zero { "" } else { " " };
        let plus = if is_before && value > 0 { "+" } else { "" };
        let plural = if value != 1 { "s" } else { "" };
        out.push_str(&format!("{space}{plus}{value} {unit}{plural}"));
        is_before = value < 0;
        is_zero = false;
    }
    if is_zero || i.micros != 0 {
        let space = if is_zero { "" } else { " " };
        let minus = hour < 0 || min < 0 || sec < 0 || fsec < 0;
        let sign = if minus {
            "-"
        } else if is_before {
            "+"
        } else {
            ""
        };
        let (h, m, s) = (hour.unsigned_abs(), min.unsigned_abs(), sec.unsigned_abs());
        out.push_str(&format!("{space}{sign}{h:02}:{m:02}:{s:02}"));
        if fsec != 0 {
            let digits = format!("{:06}", fsec.unsigned_abs());
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
    }
    out
}

#[test]
fn formatter_matches_server() {
    for line in SERVER_SAMPLES.lines() {
        let text = line.split('|').next().expect("text");
        let parsed = parse_interval(text).expect("parses");
        assert_eq!(pg_format(parsed), text);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]

    #[test]
    fn parse_inverts_server_format(months: i32, days: i32, micros: i64) {
        let value = iv(months, days, micros);
        let text = pg_format(value);
        proptest::prop_assert_eq!(parse_interval(&text), Ok(value), "{}", text);
    }

    #[test]
    fn parse_never_panics(text in "[-+ 0-9:.a-z]{0,40}") {
        let _ = parse_interval(&text);
    }
}

const SERVER_SAMPLES: &str = "\
-1 mons +90705775 days -00:00:04.703946|-1|90705775|-4703946
-4074 years -7 mons +3 days 00:00:00.000043|-48895|3|43
248 years 4 mons 488 days 1634739:29:21.427905|2980|488|5885062161427905
-8 days +00:00:08.674417|0|-8|8674417
-00:00:00.022783|0|0|-22783
-11154080 days +00:00:00.000003|0|-11154080|3
-2111 years -4 mons -525432 days|-25336|-525432|0
-2209608 years -9 mons +453304887 days 00:36:44.142003|-26515305|453304887|2204142003
539021 years 11 mons -00:01:28.973024|6468263|0|-88973024
90113112 days -00:00:00.036611|0|90113112|-36611
00:00:00|0|0|0
4977 days 00:00:00.535411|0|4977|535411
6710080 years 10 mons 2331669:50:25.111185|80520970|0|8394011425111185
-550 days -3054:49:23.120337|0|-550|-10997363120337
6438 years 9 mons|77265|0|0
4 mons|4|0|0
1443248 years 9 mons 65904108 days 24170610:28:01.825632|17318985|65904108|87014197681825632
-39198 days|0|-39198|0
-52073 years +00:05:20.259113|-624876|0|320259113
00:00:00|0|0|0
-7 mons -91101485 days +05:32:33.324501|-7|-91101485|19953324501
972386 days|0|972386|0
-6 years -1 mons -79046 days|-73|-79046|0
93057720 days -01:19:02.455762|0|93057720|-4742455762
333 years 5 mons -00:00:00.035666|4001|0|-35666
-24354 years -5 mons -86 days +135:14:30.840339|-292253|-86|486870840339
-1 mons +27657 days|-1|27657|0
-73160 days -00:13:46.881079|0|-73160|-826881079
8 mons|8|0|0
00:00:00|0|0|0
-162054 years -3 mons -595776 days -81853:39:27.687965|-1944651|-595776|-294673167687965
-6667839 years -9 mons|-80014077|0|0
00:00:00.000007|0|0|7
-15434165 years -4 mons +149450 days|-185209984|149450|0
4 days -01:50:43.377253|0|4|-6643377253
1043816 years 9 mons 00:00:00.000672|12525801|0|672
2289 days 02:20:45.847331|0|2289|8445847331
367580 years 11 mons 926793377 days|4410971|926793377|0
-6 years -7 mons|-79|0|0
-2672633 years -4 mons -18:10:26.640821|-32071600|0|-65426640821
5 mons 00:13:43.565323|5|0|823565323
219137 days|0|219137|0
-449 years -3 mons +00:27:46.163617|-5391|0|1666163617
8 mons|8|0|0
-3 mons +48995 days 25000:00:39.841716|-3|48995|90000039841716
965 days 2564:13:44.57396|0|965|9231224573960
6075987 years 5 mons 24 days -00:00:00.072506|72911849|24|-72506
-5445 days|0|-5445|0
39204514 years 9 mons -58301809 days -00:00:08.001735|470454177|-58301809|-8001735
-19848 years -11 mons -367124 days -9531:19:09.475773|-238187|-367124|-34312749475773
46165431 days 00:00:00.009145|0|46165431|9145
00:00:00|0|0|0
-4153852 days -255005467:37:32.874496|0|-4153852|-918019683452874496
594 years 2 mons 2 days 00:12:51.714249|7130|2|771714249
-131694 days +00:00:00.061358|0|-131694|61358
-9 mons -00:00:01.790972|-9|0|-1790972
47 years 9 mons 1002:30:28.092381|573|0|3609028092381
17331 days|0|17331|0
1850 years 7 mons 31572 days 00:00:00.134168|22207|31572|134168
-2172824 years -9 mons -79554619 days +1780543:08:26.865207|-26073897|-79554619|6409955306865207
6647 years 10 mons 354 days|79774|354|0
5183 years 4 mons 00:00:00.000068|62200|0|68
-10 days -46:51:10.09512|0|-10|-168670095120
-9 years -2 mons -00:00:00.000003|-110|0|-3
-2 mons +2175:00:31.809588|-2|0|7830031809588
655185 years 1 mon 145570 days 00:00:36.888071|7862221|145570|36888071
3072788 years 4 mons 4984 days 00:00:00.046839|36873460|4984|46839
89 days 395:58:08.308407|0|89|1425488308407
990294 years 11 mons|11883539|0|0
2451 years 3 mons 00:00:00.000008|29415|0|8
5838726 years -191266 days +67166:21:07.518655|70064712|-191266|241798867518655
63008697 days 00:00:04.454952|0|63008697|4454952
-8 mons|-8|0|0
-92172 days -00:00:00.958535|0|-92172|-958535
-517 days +26:14:21.530788|0|-517|94461530788
23863923 days -16643:06:07.955176|0|23863923|-59915167955176
5018 years 11 mons 788613956 days 00:00:01.906293|60227|788613956|1906293
951 years 8 mons -504038 days|11420|-504038|0
8882866 days 00:00:00.000003|0|8882866|3
-60040 years -6 mons -105:03:33.315964|-720486|0|-378213315964
22 years 7 mons -17243:12:10.938149|271|0|-62075530938149
-114974 years|-1379688|0|0
-5007 years -10 mons -844171 days +48:03:06.787897|-60094|-844171|172986787897
50359699 years 5 mons -46557942 days|604316393|-46557942|0
-325289 days -00:13:40.41311|0|-325289|-820413110
-7 years +26918 days 00:00:00.000006|-84|26918|6
72312 years 6 mons -4847 days +00:00:06.187476|867750|-4847|6187476
-8 mons -96474655 days +00:00:00.077536|-8|-96474655|77536
1 year 1 mon -981867 days|13|-981867|0
-5162987 years -3 mons -00:00:00.046609|-61955847|0|-46609
757 years 2 mons 00:00:00.000272|9086|0|272
-8937 days|0|-8937|0
68156461 years 6 mons 00:00:00.008015|817877538|0|8015
-57 years -4 mons -15018:50:50.968239|-688|0|-54067850968239
5 years 11 mons -12409 days +17:34:32.930403|71|-12409|63272930403
-3 years -2 mons -651 days -00:00:00.018442|-38|-651|-18442
-1 mons +788042 days 5393:13:46.075404|-1|788042|19415626075404
-27060:04:04.539731|0|0|-97416244539731
00:00:00|0|0|0
2 years 11 mons -6350815 days -2626874:00:35.907668|35|-6350815|-9456746435907668
14755028 years 1 mon 2 days|177060337|2|0
304 years 7 mons 2713 days -1197303:24:51.972848|3655|2713|-4310292291972848
00:00:00|0|0|0
4 days -02:20:19.564119|0|4|-8419564119
4851012 years 8 mons -16480 days|58212152|-16480|0
18816 years 7 mons 223984:04:08.754726|225799|0|806342648754726
-543890 years -3 mons +4085418 days -246:24:20.426969|-6526683|4085418|-887060426969
-956874890 days +00:00:00.004513|0|-956874890|4513
-8 days -00:04:41.470544|0|-8|-281470544
-09:02:59.80485|0|0|-32579804850
-1 days +00:00:00.354336|0|-1|354336
-17736057 years -11 mons +00:00:00.000958|-212832695|0|958
5445 years 6 mons -22131257 days +00:00:00.000006|65346|-22131257|6
6425933 years 1 mon 338761294 days|77111197|338761294|0
-7904008 years -6 mons +44585530 days -00:00:00.000008|-94848102|44585530|-8
-510 years -4 mons|-6124|0|0
957 days -00:01:14.492086|0|957|-74492086
-6 years -11 mons +49864628 days -00:01:02.495883|-83|49864628|-62495883
-7738 years -4 mons -12636 days +120:39:55.981874|-92860|-12636|434395981874
-4579 years -1 mons +00:00:54.507141|-54949|0|54507141
6 years 2 mons 70 days 02:15:05.164336|74|70|8105164336
-776006 years -10 mons +7 days 00:00:00.000025|-9312082|7|25
145 days 00:00:02.541858|0|145|2541858
00:00:00.000086|0|0|86
-296303 years -9 mons -00:00:00.000005|-3555645|0|-5
-992:46:15.561377|0|0|-3573975561377
-39730 years -8 mons +66265:41:26.53103|-476768|0|238556486531030
-58980 years -7 mons -1989 days -1460788:00:31.239391|-707767|-1989|-5258836831239391
02:30:17.278149|0|0|9017278149
-105 years -5 mons -68071 days|-1265|-68071|0
6 days 00:01:39.393998|0|6|99393998
-61030 years -7 mons|-732367|0|0
559073791 days 00:00:00.0029|0|559073791|2900
-730 years -4 mons -54455042 days +268:10:11.953572|-8764|-54455042|965411953572
-5 days -00:00:00.933748|0|-5|-933748
1132688:37:00.206979|0|0|4077679020206979
00:00:00.008803|0|0|8803
-1 mons +94 days|-1|94|0
618 years 9 mons 604848603 days 00:00:00.000095|7425|604848603|95
1 mon -1489 days|1|-1489|0
170162 days -00:00:00.093397|0|170162|-93397
-158 years -7 mons +920 days 00:00:00.008303|-1903|920|8303
215850 years 6 mons 218036223:53:50|2590206|0|784930406030000000
-8332 days -00:00:32.988207|0|-8332|-32988207
93465075 days 00:00:00.0044|0|93465075|4400
-7 mons -85 days|-7|-85|0
00:00:00|0|0|0
-89562 days -01:04:21.758522|0|-89562|-3861758522
-425909 years -3 mons -00:16:05.941066|-5110911|0|-965941066
-3705 years -9 mons +48 days -00:00:00.000693|-44469|48|-693
-161:34:03.6109|0|0|-581643610900
68749115 days|0|68749115|0
787136 years 3 mons -1243088:55:05.809336|9445635|0|-4475120105809336
-12 years +8 days|-144|8|0
15311 years 1 mon -17755 days +00:06:37.211496|183733|-17755|397211496
7314 years 3 mons -57005 days -00:00:49.76465|87771|-57005|-49764650
2 mons -191278:47:06.302652|2|0|-688603626302652
-8 mons +2676:05:28.074573|-8|0|9633928074573
5040 years 1 mon -02:01:54.425739|60481|0|-7314425739
-1 mons -73105 days +00:11:30.084961|-1|-73105|690084961
-3622297 years -10 mons -9470791:17:24.358812|-43467574|0|-34094848644358812
-4 years -4 mons -01:10:24.626453|-52|0|-4224626453
110595 years 7 mons -44:35:39.29594|1327147|0|-160539295940
-256989 days|0|-256989|0
-838979 days +19:38:07.400736|0|-838979|70687400736
-7918 years -3 mons|-95019|0|0
92539185 days|0|92539185|0
748582 years 4 mons|8982988|0|0
729 days -13026:57:15.72963|0|729|-46897035729630
79 years 8 mons 67 days -00:00:00.004269|956|67|-4269
-1141238 years -9 mons +991672892 days 8650789:34:16.916276|-13694865|991672892|31142842456916276
-6815 years -7 mons -85 days -00:00:00.000007|-81787|-85|-7
-00:00:00.000198|0|0|-198
-564655 years -2 mons +00:00:00.092199|-6775862|0|92199
4 days|0|4|0
-7408559 years -1 mons -247465677 days -00:11:16.281408|-88902709|-247465677|-676281408
-430774 years -8 mons|-5169296|0|0
7768 years 8 mons 95 days 00:00:00.039233|93224|95|39233
28267177 years 11 mons 151633040:19:25.854976|339206135|0|545878945165854976
37 years 6 mons|450|0|0
5 years 5 mons -11848:07:50.046938|65|0|-42653270046938
7 years 2 mons|86|0|0
6 mons 1269 days 7721358:46:50.33634|6|1269|27796891610336340
3300465 years 2 mons 6481 days -00:00:06.130014|39605582|6481|-6130014
21510:43:58.229662|0|0|77438638229662
-47078 days|0|-47078|0
00:00:00|0|0|0
00:00:00|0|0|0
-91442779 days +00:00:00.731545|0|-91442779|731545
-4770482 years -6 mons -9 days -00:00:00.47743|-57245790|-9|-477430
-636811626 days|0|-636811626|0
00:00:00.444035|0|0|444035
-6977 years -6 mons +88450 days 184381549:39:25.395968|-83730|88450|663773578765395968
2 mons 84867058 days|2|84867058|0
28997570 days -00:00:01.02375|0|28997570|-1023750
00:00:00|0|0|0
33326 years 2 mons 00:00:00.007438|399914|0|7438
49955 years 3 mons 461722 days -00:00:03.998509|599463|461722|-3998509
5 mons 35088928 days 00:00:00.006388|5|35088928|6388
-4 mons -8174 days -00:12:04.833973|-4|-8174|-724833973";
