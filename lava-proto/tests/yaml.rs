//! Behaviour of `lava_proto::yaml`, checked against real PyYAML 6.0.3 with
//! libyaml: every expected string in the tables below was printed by
//! Python, not by this crate. Then the limits, and property tests: the
//! loader never panics on any input and reads back what the emitter writes.

// Inside a module so that every test name contains "yaml" (`cargo test yaml`).
mod pyyaml_compat {
    use std::time::{Duration, Instant};

    use lava_proto::yaml::{self, ErrorKind, Limits, Mapping, Tagged, Value, Warning};
    use proptest::prelude::*;

    /// `(document, expected)`: `Ok(line)` is what
    /// `yaml.dump(yaml.safe_load(document), default_flow_style=True,
    /// default_style='"', width=10**6, Dumper=yaml.CDumper)` printed (so it
    /// checks the loader and the emitter together); `Err(Some(line))` is a
    /// PyYAML construction or composition error reported at that line,
    /// `Err(None)` any other PyYAML error (scanner errors: only "it fails" is
    /// checked, the two parsers word and place them differently).
    const PYYAML_TABLE: &[(&str, Result<&str, Option<usize>>)] = &[
    ("v: 010", Ok("{\"v\": ! \"8\"}")),
    ("v: 0o10", Ok("{\"v\": \"0o10\"}")),
    ("v: 0b101", Ok("{\"v\": ! \"5\"}")),
    ("v: 0x1F", Ok("{\"v\": ! \"31\"}")),
    ("v: 0x_", Err(None)),
    ("v: 0b_", Err(None)),
    ("v: 1_000", Ok("{\"v\": ! \"1000\"}")),
    ("v: 1:30", Ok("{\"v\": ! \"90\"}")),
    ("v: -1:30", Ok("{\"v\": ! \"-90\"}")),
    ("v: 190:20:30", Ok("{\"v\": ! \"685230\"}")),
    ("v: 1:60", Ok("{\"v\": \"1:60\"}")),
    ("v: 1e3", Ok("{\"v\": \"1e3\"}")),
    ("v: 1.0e+3", Ok("{\"v\": ! \"1000.0\"}")),
    ("v: 1.0e3", Ok("{\"v\": \"1.0e3\"}")),
    ("v: 1.e+3", Ok("{\"v\": ! \"1000.0\"}")),
    ("v: .5", Ok("{\"v\": ! \"0.5\"}")),
    ("v: .", Ok("{\"v\": \".\"}")),
    ("v: 1.2.3", Ok("{\"v\": \"1.2.3\"}")),
    ("v: ._", Ok("{\"v\": \"._\"}")),
    ("v: ._1", Ok("{\"v\": \"._1\"}")),
    ("v: .inf", Ok("{\"v\": ! \".inf\"}")),
    ("v: -.inf", Ok("{\"v\": ! \"-.inf\"}")),
    ("v: +.INF", Ok("{\"v\": ! \".inf\"}")),
    ("v: .NaN", Ok("{\"v\": ! \".nan\"}")),
    ("v: -.nan", Ok("{\"v\": \"-.nan\"}")),
    ("v: 1:30.5", Ok("{\"v\": ! \"90.5\"}")),
    ("v: 1_0:30", Ok("{\"v\": ! \"630\"}")),
    ("v: +0", Ok("{\"v\": ! \"0\"}")),
    ("v: -0", Ok("{\"v\": ! \"0\"}")),
    ("v: 00", Ok("{\"v\": ! \"0\"}")),
    ("v: 09", Ok("{\"v\": \"09\"}")),
    ("v: 0_7", Ok("{\"v\": ! \"7\"}")),
    ("v: y", Ok("{\"v\": \"y\"}")),
    ("v: n", Ok("{\"v\": \"n\"}")),
    ("v: Y", Ok("{\"v\": \"Y\"}")),
    ("v: yes", Ok("{\"v\": ! \"true\"}")),
    ("v: No", Ok("{\"v\": ! \"false\"}")),
    ("v: oN", Ok("{\"v\": \"oN\"}")),
    ("v: OFF", Ok("{\"v\": ! \"false\"}")),
    ("v: ~", Ok("{\"v\": ! \"null\"}")),
    ("v: null", Ok("{\"v\": ! \"null\"}")),
    ("v: NULL", Ok("{\"v\": ! \"null\"}")),
    ("v: nUll", Ok("{\"v\": \"nUll\"}")),
    ("v: ", Ok("{\"v\": ! \"null\"}")),
    ("v: -9223372036854775808", Ok("{\"v\": ! \"-9223372036854775808\"}")),
    ("v: 9223372036854775807", Ok("{\"v\": ! \"9223372036854775807\"}")),
    ("v: 1.5_0", Ok("{\"v\": ! \"1.5\"}")),
    ("v: 1__0", Ok("{\"v\": ! \"10\"}")),
    ("v: 1_", Ok("{\"v\": ! \"1\"}")),
    ("v: +1", Ok("{\"v\": ! \"1\"}")),
    ("v: 1.0E+3", Ok("{\"v\": ! \"1000.0\"}")),
    ("v: 0.", Ok("{\"v\": ! \"0.0\"}")),
    ("v: -.5", Ok("{\"v\": \"-.5\"}")),
    ("v: +.5", Ok("{\"v\": \"+.5\"}")),
    ("v: 1_000.5", Ok("{\"v\": ! \"1000.5\"}")),
    ("v: .1_0", Ok("{\"v\": ! \"0.1\"}")),
    ("v: 0b", Ok("{\"v\": \"0b\"}")),
    ("v: 0x", Ok("{\"v\": \"0x\"}")),
    ("v: 1:2:3.5e+1", Ok("{\"v\": \"1:2:3.5e+1\"}")),
    ("v: 1:2:3", Ok("{\"v\": ! \"3723\"}")),
    ("v: 1:00", Ok("{\"v\": ! \"60\"}")),
    ("v: 0.1", Ok("{\"v\": ! \"0.1\"}")),
    ("v: -0.0", Ok("{\"v\": ! \"-0.0\"}")),
    ("v: 1e+16", Ok("{\"v\": \"1e+16\"}")),
    ("v: 12e03", Ok("{\"v\": \"12e03\"}")),
    ("v: 0x7fffffffffffffff", Ok("{\"v\": ! \"9223372036854775807\"}")),
    ("v: -0b1_0", Ok("{\"v\": ! \"-2\"}")),
    ("v: 0777", Ok("{\"v\": ! \"511\"}")),
    ("v: 08", Ok("{\"v\": \"08\"}")),
    ("v: True", Ok("{\"v\": ! \"true\"}")),
    ("v: FALSE", Ok("{\"v\": ! \"false\"}")),
    ("v: Off", Ok("{\"v\": ! \"false\"}")),
    ("v: on", Ok("{\"v\": ! \"true\"}")),
    ("v: NO", Ok("{\"v\": ! \"false\"}")),
    ("v: ~~", Ok("{\"v\": \"~~\"}")),
    ("v: null ", Ok("{\"v\": ! \"null\"}")),
    ("v: a: b", Err(None)),
    ("v: 3.14", Ok("{\"v\": ! \"3.14\"}")),
    ("v: +12.5e-3", Ok("{\"v\": ! \"0.0125\"}")),
    ("v: 6.8523015e+5", Ok("{\"v\": ! \"685230.15\"}")),
    ("v: 685.230_15e+03", Ok("{\"v\": ! \"685230.15\"}")),
    ("v: 685_230.15", Ok("{\"v\": ! \"685230.15\"}")),
    ("v: 190:20:30.15", Ok("{\"v\": ! \"685230.15\"}")),
    ("v: -.inf", Ok("{\"v\": ! \"-.inf\"}")),
    ("v: 0x_1", Ok("{\"v\": ! \"1\"}")),
    ("v: 0b1_", Ok("{\"v\": ! \"1\"}")),
    ("v: -", Err(None)),
    ("v: +", Ok("{\"v\": \"+\"}")),
    ("v: abc", Ok("{\"v\": \"abc\"}")),
    ("v: 'quoted'", Ok("{\"v\": \"quoted\"}")),
    ("v: 1-2", Ok("{\"v\": \"1-2\"}")),
    ("v: --1", Ok("{\"v\": \"--1\"}")),
    ("v: 0x1g", Ok("{\"v\": \"0x1g\"}")),
    ("v: 1:2:3:4:5", Ok("{\"v\": ! \"13403045\"}")),
    ("v: 1.5:2", Ok("{\"v\": \"1.5:2\"}")),
    ("v: 12:5a", Ok("{\"v\": \"12:5a\"}")),
    ("! \"3\"", Ok("! \"3\"")),
    ("! \"true\"", Ok("! \"true\"")),
    ("! \"null\"", Ok("! \"null\"")),
    ("! \"abc\"", Ok("\"abc\"")),
    ("! ''", Ok("! \"null\"")),
    ("! \"3\\n\"", Ok("! \"3\"")),
    ("! \"true\\n\"", Err(None)),
    ("! \"*\"", Err(Some(1))),
    ("! \"=\"", Err(Some(1))),
    ("! \"<<\"", Err(Some(1))),
    ("! 010", Ok("! \"8\"")),
    ("! 1.5", Ok("! \"1.5\"")),
    ("! \"1e3\"", Ok("\"1e3\"")),
    ("! |\n  12\n", Ok("! \"12\"")),
    ("!!int \"3\"", Ok("! \"3\"")),
    ("!!int \"abc\"", Err(None)),
    ("!!int \" 7\"", Ok("! \"7\"")),
    ("!!int \"\"", Err(None)),
    ("!!int \"--5\"", Ok("! \"5\"")),
    ("!!int \"0o17\"", Ok("! \"15\"")),
    ("!!int \"1:-30\"", Ok("! \"30\"")),
    ("!!int \"0b0b1\"", Ok("! \"1\"")),
    ("!!int \"1.5\"", Err(None)),
    ("!!int \"0x_10\"", Ok("! \"16\"")),
    ("!!float \"1e3\"", Ok("! \"1000.0\"")),
    ("!!float \"inf\"", Ok("! \".inf\"")),
    ("!!float \"abc\"", Err(None)),
    ("!!float \"\"", Err(None)),
    ("!!float \"0x10\"", Err(None)),
    ("!!float \"1_000\"", Ok("! \"1000.0\"")),
    ("!!float \" 2.5 \"", Ok("! \"2.5\"")),
    ("!!float \"3\"", Ok("! \"3.0\"")),
    ("!!float \"1:30\"", Ok("! \"90.0\"")),
    ("!!float \"-.INF\"", Ok("! \"-.inf\"")),
    ("!!bool \"y\"", Err(None)),
    ("!!bool \"TRUE\"", Ok("! \"true\"")),
    ("!!bool \"oN\"", Ok("! \"true\"")),
    ("!!null \"abc\"", Ok("! \"null\"")),
    ("!!str 3", Ok("\"3\"")),
    ("!!str", Ok("\"\"")),
    ("!!int", Err(None)),
    ("!!str [1]", Err(Some(1))),
    ("!!seq \"a\"", Err(Some(1))),
    ("!!map [1]", Err(Some(1))),
    ("!!seq {a: 1}", Err(Some(1))),
    ("!!str {a: 1}", Err(Some(1))),
    ("!!map {a: 1}", Ok("{\"a\": ! \"1\"}")),
    ("!!seq [1]", Ok("[! \"1\"]")),
    ("!<tag:yaml.org,2002:int> \"5\"", Ok("! \"5\"")),
    ("!<!> \"5\"", Ok("! \"5\"")),
    ("!!merge \"<<\"", Err(Some(1))),
    ("!!value \"=\"", Err(Some(1))),
    ("a: !!int 0x10", Ok("{\"a\": ! \"16\"}")),
    ("! [1, 2]", Ok("[! \"1\", ! \"2\"]")),
    ("! {a: 1}", Ok("{\"a\": ! \"1\"}")),
    ("!!str \"\"", Ok("\"\"")),
    ("!! \"x\"", Err(None)),
    ("{a: 1, a: 2}", Ok("{\"a\": ! \"2\"}")),
    ("{1: a, 1.0: b, true: c}", Ok("{! \"1\": \"c\"}")),
    ("{0: a, false: b, -0.0: c}", Ok("{! \"0\": \"c\"}")),
    ("[1]: x", Err(Some(1))),
    ("? [a, b]\n: c", Err(Some(1))),
    ("{{a: 1}: 2}", Err(Some(1))),
    ("a: *b", Err(Some(1))),
    ("a\n---\nb", Err(Some(2))),
    ("---\na\n...\n", Ok("\"a\"")),
    ("", Ok("! \"null\"")),
    ("# c\n", Ok("! \"null\"")),
    ("---", Ok("! \"null\"")),
    ("a: 1\n...\n---\n", Err(Some(3))),
    ("--- a\n--- b\n", Err(Some(2))),
    ("---\n...\n", Ok("! \"null\"")),
    ("\"\\x41\\u00e9\\U0001F600\\N\\_\\L\\P\\e\\0\\a\\/\"", Ok("\"A\\xE9\\U0001F600\\N\\_\\L\\P\\e\\0\\a/\"")),
    ("&a a: *a", Ok("{\"a\": \"a\"}")),
    ("%YAML 1.1\n--- a", Ok("\"a\"")),
    ("a: &A {x: 1, y: 2}\nb:\n  z: 0\n  <<: *A\n  x: 9\n", Ok("{\"a\": {\"x\": ! \"1\", \"y\": ! \"2\"}, \"b\": {\"x\": ! \"9\", \"y\": ! \"2\", \"z\": ! \"0\"}}")),
    ("A: &A {x: 1}\nB: &B {y: 2, x: 3}\nc:\n  <<: [*A, *B]\n  w: 0\n", Ok("{\"A\": {\"x\": ! \"1\"}, \"B\": {\"x\": ! \"3\", \"y\": ! \"2\"}, \"c\": {\"w\": ! \"0\", \"x\": ! \"1\", \"y\": ! \"2\"}}")),
    ("A: &A {x: 1}\nB: &B {y: 2, x: 3}\nc:\n  <<: *A\n  <<: *B\n", Ok("{\"A\": {\"x\": ! \"1\"}, \"B\": {\"x\": ! \"3\", \"y\": ! \"2\"}, \"c\": {\"x\": ! \"3\", \"y\": ! \"2\"}}")),
    ("A: &A {x: 1, <<: {q: 5}}\nc:\n  k: 1\n  <<: *A\n", Ok("{\"A\": {\"q\": ! \"5\", \"x\": ! \"1\"}, \"c\": {\"k\": ! \"1\", \"q\": ! \"5\", \"x\": ! \"1\"}}")),
    ("c:\n  <<: 3\n", Err(Some(2))),
    ("c:\n  <<: [1]\n", Err(Some(2))),
    ("c:\n  <<: [{a: 1}, [1]]\n", Err(Some(2))),
    ("c: {'<<': {a: 1}}\n", Ok("{\"c\": {\"<<\": {\"a\": ! \"1\"}}}")),
    ("c: {!!merge x: {a: 1}}\n", Ok("{\"c\": {\"a\": ! \"1\"}}")),
    ("c: {=: 1}\n", Ok("{\"c\": {\"=\": ! \"1\"}}")),
    ("c: =\n", Err(Some(1))),
    ("c: <<\n", Err(Some(1))),
    ("- <<\n", Err(Some(1))),
    ("<<\n", Err(Some(1))),
    ("=\n", Err(Some(1))),
    ("c:\n  <<: {a: 1}\n  a: 2\n  a: 3\n", Ok("{\"c\": {\"a\": ! \"3\"}}")),
    ("c:\n  <<: ~\n", Err(Some(2))),
    ("c:\n  <<: []\n", Ok("{\"c\": {}}")),
    ("c:\n  <<: {}\n  b: 1\n", Ok("{\"c\": {\"b\": ! \"1\"}}")),
    ("m: &m <<\nx: {*m : {a: 1}}\n", Err(Some(1))),
    ("a: |\n  line1\n  line2\n", Ok("{\"a\": \"line1\\nline2\\n\"}")),
    ("a: >\n  folded\n  text\n\n  para\n", Ok("{\"a\": \"folded text\\npara\\n\"}")),
    ("a: |-\n  x\n", Ok("{\"a\": \"x\"}")),
    ("a: |+\n  x\n\n", Ok("{\"a\": \"x\\n\\n\"}")),
    ("a: 'it''s'", Ok("{\"a\": \"it's\"}")),
    ("a: \"x\\ty\"", Ok("{\"a\": \"x\\ty\"}")),
    ("a: plain text # comment", Ok("{\"a\": \"plain text\"}")),
    ("a: 'multi\n  line'", Ok("{\"a\": \"multi line\"}")),
    ("- a\n- b:\n    c: d\n- [e, {f: g}]\n", Ok("[\"a\", {\"b\": {\"c\": \"d\"}}, [\"e\", {\"f\": \"g\"}]]")),
    ("{a: [1, 2, {b: c}], d: {e: f}}", Ok("{\"a\": [! \"1\", ! \"2\", {\"b\": \"c\"}], \"d\": {\"e\": \"f\"}}")),
    ("[a, b, c,]", Ok("[\"a\", \"b\", \"c\"]")),
    ("{a: 1,}", Ok("{\"a\": ! \"1\"}")),
    ("[a: 1, b]", Ok("[{\"a\": ! \"1\"}, \"b\"]")),
    ("? a\n? b\n: c\n", Ok("{\"a\": ! \"null\", \"b\": \"c\"}")),
    ("a:\n  - 1\n  - 2\nb:\n- 3\n", Ok("{\"a\": [! \"1\", ! \"2\"], \"b\": [! \"3\"]}")),
    ("key: value\n  bad: indent", Err(None)),
    ("[1, 2", Err(None)),
    ("{a: 1", Err(None)),
    ("a: b: c", Err(None)),
    ("'unterminated", Err(None)),
    ("\"bad \\q escape\"", Err(None)),
    ("- a\nb: c", Err(None)),
    ("a: [1, 2]]", Err(None)),
    ("a:\n\t- b", Err(None)),
    ("x: &anchor 5\ny: *anchor\n", Ok("{\"x\": ! \"5\", \"y\": ! \"5\"}")),
    ("a: &x 1\nb: &x 2\nc: *x\n", Err(Some(2))),
    ("a: b\nc: d\n...\n", Ok("{\"a\": \"b\", \"c\": \"d\"}")),
    ("{? [a]: 1}", Err(Some(1))),
    ("a: {b: }", Ok("{\"a\": {\"b\": ! \"null\"}}")),
    ("a: [ , ]", Err(None)),
    ("- - - x", Ok("[[[\"x\"]]]")),
    ("-\n-\n", Ok("[! \"null\", ! \"null\"]")),
    ("? \n: \n", Ok("{! \"null\": ! \"null\"}")),
    ("{a}", Ok("{\"a\": ! \"null\"}")),
    ("[a, {b}]", Ok("[\"a\", {\"b\": ! \"null\"}]")),
    ("a: 'x'\n\n\nb: 1", Ok("{\"a\": \"x\", \"b\": ! \"1\"}")),
    ("\u{feff}a: 1", Ok("{\"a\": ! \"1\"}")),
    ("a: \"\\u00e9\\xe9\u{e9}\"", Ok("{\"a\": \"\\xE9\\xE9\\xE9\"}")),
    ("\u{e9}: \u{fc}", Ok("{\"\\xE9\": \"\\xFC\"}")),
    ("\u{1f600}: 1", Ok("{\"\\U0001F600\": ! \"1\"}")),
    ("a: !!str 010", Ok("{\"a\": \"010\"}")),
    ("a: !!float 010", Ok("{\"a\": ! \"10.0\"}")),
    ("- !!null ''", Ok("[! \"null\"]")),
    ("a: yes\nb: no\nc: on\nd: off\ne: y\nf: n", Ok("{\"a\": ! \"true\", \"b\": ! \"false\", \"c\": ! \"true\", \"d\": ! \"false\", \"e\": \"y\", \"f\": \"n\"}")),
    ("version: 1.10\nother: 1.1.1", Ok("{\"other\": \"1.1.1\", \"version\": ! \"1.1\"}")),
    ("ip: 192.168.1.1\nmac: 00:11:22:33:44:55\ntime: 12:30:45\nport: 08:00", Ok("{\"ip\": \"192.168.1.1\", \"mac\": \"00:11:22:33:44:55\", \"port\": \"08:00\", \"time\": ! \"45045\"}")),
    // Line breaks: CRLF, CR, and YAML 1.1's NEL; LS and PS are kept in scalars.
    ("a: 1\r\nb: [x,\r\n  y]\r\n", Ok("{\"a\": ! \"1\", \"b\": [\"x\", \"y\"]}")),
    ("a: 1\rb: 2\r", Ok("{\"a\": ! \"1\", \"b\": ! \"2\"}")),
    ("a: |\r\n  x\r\n  y\r\n", Ok("{\"a\": \"x\\ny\\n\"}")),
    ("a: \"x\r\n  y\"", Ok("{\"a\": \"x y\"}")),
    ("a: 1\u{85}b: 2", Ok("{\"a\": ! \"1\", \"b\": ! \"2\"}")),
    ("\"x\u{85}y\"", Ok("\"x y\"")),
    ("a: |\n  x\u{85}  y\n", Ok("{\"a\": \"x\\ny\\n\"}")),
    ("x # c\u{85}", Ok("\"x\"")),
    ("\"x\u{2028}y\"", Ok("\"x\\Ly\"")),
    ("'x\u{2029}y'", Ok("\"x\\Py\"")),
];

    #[test]
    fn agrees_with_pyyaml_table() {
        let mut failures = Vec::new();
        for (document, expected) in PYYAML_TABLE {
            let got = yaml::load(document);
            let ok = match (&got, expected) {
                (Ok(value), Ok(line)) => yaml::to_flow_line(value) == *line,
                (Err(err), Err(Some(line))) => err.line() == Some(*line),
                (Err(_), Err(None)) => true,
                _ => false,
            };
            if !ok {
                let got = got
                    .map(|v| yaml::to_flow_line(&v))
                    .map_err(|e| e.to_string());
                failures.push(format!("{document:?}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} mismatches:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// Lines printed by PyYAML 6.0.3 + libyaml (LAVA's dump settings) for 150
    /// random Python values: strings full of quotes, backslashes, control and
    /// non-ASCII characters, floats of every magnitude, 64-bit ints, decimals,
    /// keys longer than 128 bytes or with line breaks (`? key : value`), keys
    /// of mixed types (kept in insertion order).
    const PYYAML_LINES: &[&str] = &[
    "[[{? \",\\n!\\u4E2D\\\"Z:*|b\\0\\t\" : [! \"null\", !!python/object/apply:decimal.Decimal [\"-3\"], ! \"6770.902\", !!python/object/apply:decimal.Decimal [\"1.50\"]], \"0\\a\\U0001F600\": {! \"3\": \"\\P\\\\[\\rc\\L\\0\\L\\u4E2D[\", ! \"null\": \"1\", \"\": !!python/object/apply:decimal.Decimal [\"12.5\"]}, \"Z\\\\[#@\\xE9#\\_9\": \"_\\n\\L\\a\\x9F\\tc\\\"X|\"}, ! \"3030101827339461314\", \"|Z\\01\\x01@b\"]]",
    "\"'bY: {\\r\\r\"",
    "! \"false\"",
    "!!python/object/apply:decimal.Decimal [\"1E+2\"]",
    "[]",
    "[[{? \"\\e\\N'\\t\\x9F,\" : [! \"869.364\", \"`\\0\\\"*\\L>#9\"], \"{@*>\\uE000\\t}\": \"\\x01*\\uFEFF\"}, {? \"!b1\\0\\U0001F600\\LX\" : {}, \"[\\x9F\": {? \"\\r\\xE9\\\"|\\uD7FF\\_\\e\\uFFFE\\x01'\" : \"!]c`}\\t0\\a,\"}, ? \"\\N*'\" : ! \"null\"}, [[! \"null\", \" {\\ab\\\\\\uE000\\e!\\uE000\\e\\uD7FF\", ! \"1.3969114774861722e-144\"]]]]",
    "[[[], !!python/object/apply:decimal.Decimal [\"0.001\"], ! \"-4.3258153910025185e-183\"], \"_X\\r\\U0001F600\", [! \"false\"], ! \"null\"]",
    "[! \"-0.0006524288750077423\", ! \"1.0e-05\", [\"\\uD7FF!Y>-c\", \"\"]]",
    "! \"-355\"",
    "[\"_}ac\\r:!\"]",
    "[[\"{\\xE9\\u4E2D\\a'\", {? \"& ,\\x9F\\NX _\" : [], \"Z\\x9F:!\\\"@%\\xE9\\e%%\": \"\\x7F'\\r\\x01\\x01\\x7F@-:*\\uD7FF\", \"a\": [\" \\uFEFF\\x9F\\uFFFE|b'\", \"]\", !!python/object/apply:decimal.Decimal [\"1.50\"]], ? \"\\L![\\nY\" : ! \"null\", ? \"\\u4E2D>\\\\\\P\\t\" : ! \"7255.015\"}, \"\\r\\eY\"], {? \"\\0\\N\\x9F%#\\e|\\uFEFF\\e\\x7F\\x01\\tY\\e-\\n\\nZc\\uFFFE{ >&9\\uE000\\x7F`\\r\\uFEFF\\nX!'aZ\\uE000c}Xa\\PZ0>\\x9F\\e@\\L\\x7F\\uFEFF9\\uFFFE !'!|\\U0001F600@\\xE9\\u4E2D:\\L\\N\\x01\\N@X\\t\\rZ\\uE000_ \\rc\\U0001F600\\e\\L]_\\xE9\\r@\\u4E2D]`c\\\\'\\\\\\r\\uFFFE@\\0 \\U0001F600\\uE000\\r0[\\x01c\\u4E2D{\\x7F\\nY\\a9\\L\\U0001F600\\N\\0\\uE0001':\\uD7FFX\\uFEFF%\\x7F,\\uFEFF\\rX%\\uFFFE\" : [!!python/object/apply:decimal.Decimal [\"1.50\"], \"\\e_*\\U0001F600#0X\\a\"], ? \"%%\\P\" : \"\\x01\\P\\0@X`\\u4E2D\\L\\L\\a!\", \"19@\\uE000\\xE9'[\\x9FY>\": \"\\uFEFF\\e\"}]",
    "{}",
    "\"[\\r\\L]\\0\\_1}\\uFEFF\"",
    "{! \"-6887.54\": {? \"]\\r\\0![\" : [\"\", {\"0\": \",\\Pb}\\P'*,-c\\r9\", ? \"a\\0&\\e|\\x7F]*\\uFFFE\\\\\\uFEFF\\P\\\"\\U0001F600*}a\\P\\L}c9-\\t\\_,X' \\x9F-*|\\uE000\\\"\\NZ\\0*\\u4E2D:{}-\\_\\uFFFEc\\r@Y\\r\\x7F\\\"\\x01\\_\\\"\\\"\\nY|\\N\\x7F\\P|\\P#*1>\\0`_9}\\n#\\t\\uFFFE\\uE000\\uE000#[\\x7F b\\t0\\x7F@&1]_\\uE000\\\\\\_#\\u4E2D]\\uD7FFY!>\\0\\t\\x019\\u4E2D-\\U0001F6000[:>\\L[\\\\[%'*\" : !!python/object/apply:decimal.Decimal [\"1.50\"]}, ! \"54.194471746767526\"], ? \"|Z|@\\Na*\\uFEFF\" : [! \"-477\", {! \"false\": !!python/object/apply:decimal.Decimal [\"-3\"], ! \"true\": ! \"6.885856983041438e-17\"}]}}",
    "[[], \"\", {! \"5\": ! \"-842\", \",a-_@\\a\": !!python/object/apply:decimal.Decimal [\"12.5\"]}, [[\"}\", \"_{}\\x7F|\"], [\"\\r}\\uE000\\x9F\\x7F{\\x9F-\\\"`\\x9F\\uFFFE\", \"0\\\\\\xE9'0\\uD7FF\\r-\"], {\" >\": {? \"\\n\\x7F_\\x01\\\"\" : ! \"-436\", \"&-0\\uFFFE\": ! \"true\", \"{\\x01\\t]\\e |@\\x01\\a\": \"Y0*\"}, ? \"#*\\uE000&{]\\uE000c\\N\\U0001F600\" : [], \"%9!>,\\uFEFF\\uFEFF\": \"*\\\\|}\", \"{\": \"\\uD7FF\\x7F\\\\\\uD7FF\\u4E2D\\P\\\\\\xE9\"}]]",
    "!!python/object/apply:decimal.Decimal [\"-3\"]",
    "! \"400\"",
    "\"\\e\"",
    "[! \"398\", ! \"-300\", \"\\uFFFE\\a%Z,\", []]",
    "[! \"447\", [{? \"%\\N*0\\uFEFF9\" : \"\\xE9 \\L%\\u4E2D\\0\"}]]",
    "[[[], {? \"\\x9F\\P\\n#\\r*\\r{\" : ! \"false\", ? \"\\_},-\\N\" : [! \"-0.04121833099560095\"]}, [[\"\\x01 \\P\\r\\Nb\\e_\"], {\"\": \"-\\uFEFF%\\u4E2D\\uFFFE\\N%--\\L\", ? \"[*@\\x9F\\L&a0X\\e\\u4E2D]\" : \"0\\\" \\_\\x9F\\x9F1{\\n\\u4E2D\", \"`_\": \"\", ? \"b9%\\P:0\\x7FY\" : \"1,*\\0\\u4E2D\\P'{\\0\\nb\\P\", ? \"\\x7F\\x7F@&0-\\uFFFE}`!['\\r%\\U0001F600\\uE000:}\\e\\x01\\uD7FFZ-\\\\[\\L''\\u4E2D\\tY\\x7F* \\uE0000\\n ]#\\uFFFEaZ9'\\x7F:\\\\0*{\\01a{\\uFFFE\\uFFFE\\r@\\\\ \\r#\\uFFFE\\uD7FF:` ! %\\N,|*Y>\\uFEFF|X>\\\",\\naY\\uFEFF\\\":|\\e #\\t\\uFFFE@\\u4E2D\\uFEFFY\\_Y\\uE000\\P\\xE9 {\\n#\\x9F\\uFEFF\\N-`\\uFFFE_\\ac:c\\uFFFE\\uD7FF@%_\" : \"\\x9F\\U0001F600\\0\\xE9\"}], \"X\"]]",
    "!!python/object/apply:decimal.Decimal [\"0.001\"]",
    "!!python/object/apply:decimal.Decimal [\"-3\"]",
    "[\"b\\r_[\\Lc\\x9F\\xE9Z*'9\", [], {}]",
    "\"\\x01&\\uD7FF]\\x9F\\P@\"",
    "[! \"-726\", [\"\\001\\xE9\\uD7FF\\t\\09\", !!python/object/apply:decimal.Decimal [\"0.001\"]]]",
    "{! \"-7683374094093451.0\": \"\\uFFFE'[\\N'_\\a\\L\\x9F\", ! \"false\": {\"\\0a -\\uD7FF, \": {! \"false\": [\"\\U0001F600\\e c\\U0001F600#\"], ! \"true\": ! \"954\", ! \"5\": {}}, ? \"\\a1\\uE000\\uFFFEY\\L91\" : ! \"null\"}, ! \"2.4245885440758956e-63\": {? \" \\N\" : \"\\uFFFE\\t>\", \"c\\uE000]\": \"\\0\\a\\L\\t|[}\\_c9\\N\\x9F\"}, ! \"true\": {! \"-1\": {? \"&Y\\U0001F600\\P!\\x7F'\\uFEFF\" : ! \"null\", \"*-\\e\": {? \"\\n[\\t\\L9_Z:!#_\" : \"[\\\\\\U0001F600&*\\_\\P\\r\\u4E2D*\\e\\uD7FF\", \"\\\"\\a\\uFEFFY\\0\\_\": ! \"4474114735477204594\", \"}\\uFEFF\": \"a\", ? \"\\xE9c_\\e\\P*\\x9F\\0\\x9F-\\_\" : \"\\uFFFE%{\\t!\\uD7FF\\x9F\"}, \"c\": {? \"&}\\\"\\u4E2D\\L\\a\\_,\\uD7FF\\x9F0'\\t \\uE000\\P>:\\L\\xE9'\\a\\P[b:\\0\\uFEFFa\\uD7FF@0@[\\xE9a>-&X&\\x7F \\x7F][b\\a#\\t\\x9F]\\0\\x01\\\\0,\\P>1{>1'\\rYa\\e\\xE9\\x9F\\N_\\x9F\\ab\\nc*\\U0001F600\\u4E2D\\n\\0\\U0001F600]_Z%\\e\\L{0:#\\x9F>|*['_ @]_'*\\\"Z {\\x9F9%b@ \\\"\\uE000{\\a]\\U0001F600-\\t\\uFFFE\\\\%\\\"\\L>\\t,\\u4E2D\" : ! \"-875\", ? \"\\_@\\nY\\t\\x01a\\x01ZYc\" : \"}\\x9F\\x7F:\\L\\uD7FF\\\\\"}, ? \"\\NY19!X\\uD7FF\\L\\x01\\uE000\\x7F9\\0\\x01_\\x9F\\x7F%\\0,\\t\\x9F&\\U0001F600{>\\xE9-1\\uFEFF\\x9F>`\\U0001F600*1\\L*`\\P\\uE000`|a\\\\\\_\\P:: \\e}\\0\\U0001F600{\\e\\uD7FF,b[\\x7F'#1\\r \\N1\\\"0{X\\x7F*bc\\t\\0\\x7Fb0\\uFEFF\\n\\x01\\0Yc_\\r[\\N{\\e9\\r00\\Nc%\\0X\\uFFFE-a\\n\\x7F!{Y\\x7F\\xE9\\x9F'\\uFFFE-\\_\\a\\nY&\\\"#!\\_\\P\\x9FZ9\\uFEFF\\uFEFF\" : !!python/object/apply:decimal.Decimal [\"12.5\"], \"\\U0001F600\": ! \"5.498297669332495e+27\"}, ! \"-7.187594468256851e-10\": ! \"-.inf\", ! \"false\": !!python/object/apply:decimal.Decimal [\"0.001\"], ! \"true\": \"\\P\\LXa\\e&\\a>\"}}",
    "! \"-5931983526675500831\"",
    "! \"-425\"",
    "[[], \"\\uFFFE9bX\\x7F\", [[! \"1.0e+16\"], {\"\\t>Z\": {\"-\\x7F`\\a'\": !!python/object/apply:decimal.Decimal [\"1.50\"], \"1>!Z`\\\"\\x01\": ! \"false\", ? \"\\xE9\\_\\NX\\ra\\n'\" : \"c\\u4E2D&,\\0[\", ? \"\\uFEFF%\\nX!>`\\uD7FF\\n\\P\\\\'\" : ! \"8985479023395477716\"}, \"#>\\\\\\uFFFEb\": ! \"false\", ? \"`{\\n\\x01\\t\\xE9,\" : {\"\\x01\\uFEFF@a'X\": \"\\U0001F600\\U0001F600\\uFFFE{\\NZ\\uFFFE_Y\", ? \"\\U0001F600]b:#\\N#\" : ! \"582\"}, \"\\xE9,}\": {? \"Y\\N\\uFEFF0\\uE000\\xE9Z\\\"X\" : !!python/object/apply:decimal.Decimal [\"1.50\"], \"]_\\x7F\": ! \"-47649142320.02626\", ? \"}\\0#\\LZ\\uFEFF,&a|}\" : \"\\uFFFE:-\", ? \"\\L\\x9F|%\\uFEFF\\r|_[X\" : ! \"1.7693974648570814e-283\", ? \"\\P:'\\u4E2D\\xE9\\N9'\" : !!python/object/apply:decimal.Decimal [\"1.50\"]}}, {\"&-*\\U0001F600{X\\uE000>_\\a\\U0001F600\": \"#9_\\x01\\x7F:'\", \"-}\\xE9a\\x7F\\t\": [], \"a-b\": ! \"-42.34831781315778\", ? \"\\P09  0\\0\\_|#\\uD7FF>>9\\u4E2Db!_%a0b!ba\\_-ba}\\L&%'\\\\\\uD7FF\\u4E2D\\x01\\x01\\x7F[\\e\\uFFFE\\P\\N\\r\\xE9:\\Lc\\a0\\xE9\\uE000\\a\\0,Z&!\\a!\\00\\_}\\\\c\\x9Fac_\\uFEFF\\uFEFFXX_\\r`,\\t\\\\\\x011_\\LY#>b\\P\\N`}\\x9FaYa\\\\\\U0001F600,:}Xc\\uD7FF,\\uFFFE{\\r`\\\"\\a\\x01\\a \\uE0000 \\r'&\\L}\\x9F\\u4E2D:b\\u4E2D`\\0a]-c\\L@\" : {\"\\uFEFF-{@\\uD7FF&\": ! \"-691\"}}], [! \"710\", {! \"false\": {}, ! \"5\": {! \"-2\": ! \"-9601.0\", ? \"\\r\\e\" : ! \"8030875602201259432\", ! \"1\": ! \"-891061553860183627\"}}, \"\\uE000\\U0001F600]1\\a![&\\uFFFE\\uE000\\uFEFF0\"]]",
    "[[[! \"7072.58502\", \"1\\_b\\u4E2D_\", \"\\x7F\\xE9\\uFFFE\", ! \"-5.73860837405445e-20\"], [], {? \"1-\\r\\U0001F600\\x019\\L}9Z\" : {\"\": \"{][\\Pc\\0\\N##,{X\", \",`\\a:\\uFFFE\\xE9'\\u4E2D\": ! \"-1.5880689384640443e+127\", ? \"{\\N\\a_X\\uD7FF']Y\\a_\" : ! \"null\"}, ? \"_\\uFEFF\\uD7FF\\N1![c\\N\" : {? \"\\L\\uE000'\\N%\\U0001F6009_:X*]\" : ! \"535\"}, \"a\\x9F\\a\\uFFFE\\e\": [\", [\\u4E2D\\NZ\\u4E2D\", ! \"-2329.6854\", !!python/object/apply:decimal.Decimal [\"-3\"]], \"|1\\U0001F600\\uFFFE}%!\\uFEFF[\\e]\": [\"\\x9Fc|\\xE9'\\n\\uE000 \", \"*\", \"\\N\\x01\\_>c\"], \"}%}@:&*\\\"\": [! \"false\", \"\\uFFFE1][\\U0001F600&\\r\\a\\uFFFE\\e\\L\", \"a}\\u4E2D,YX>@\\xE9\\x7F\"]}, !!python/object/apply:decimal.Decimal [\"12.5\"]], {\"[:\": ! \"-513\", \"\\\\\\uE000\\\\\\0Y\\x9F{*\\x7F\": {? \"&\\L!\\uD7FF\\U0001F600\\0\\\\--|_\" : \"a\", \"*9\\\",*_:>09_\": {\"\\0Y\\e\": ! \"null\", \"\\a@a{,>}\": \"}9\\e\"}, \"b![\": ! \"3.5771203897555815e-10\", ? \"\\uFEFF\\P-%a\\e\\r[!\\x9F\\t1_\\u4E2D\\uFEFF@\\\\\\P\\U0001F600b\\\\\\P\\r%\\\"\\0:\\\"1_\\u4E2D`\\\"\\xE9\\N`@Y\\uE000_'|&\\N`\\x01\\uE000\\0YZ]]Y`}],\\a\\xE91\\x9F_*]-\\e:#00_X\\e}:\\u4E2D:\\P:]\\L\\uFEFF1\\L\\e\\\"&'9\\r\\\":a\\x7F\\uFFFE_\\uFFFE\\nc`%,|\\U0001F600 1&}#_X\\n\\e\\P#\\xE91\\uFEFF\\uE000\\\\@\" : !!python/object/apply:decimal.Decimal [\"12.5\"]}, ? \"b:\\uD7FF\\U0001F600Xb9\\_\\L\\uFFFE\\t`\" : ! \"12588699628267605\", ? \"\\_!\\n\\a|1|91 \\xE9\\x7F\" : ! \"6504.8069\", \"\\uE000!\\\\'\\uFFFE\\\">{\": {\"\": ! \"7720774576310611560\", \" -0\": ! \"3.598729320351512e+118\", ? \"9}}}_9c\\uE000c\\r9'\" : [\"\\L,\\P\\uFFFE>\", ! \"true\", ! \"5735.547\", \"\\uD7FF \\u4E2D-b\\La\\xE9\\uE000\\\"\"], ? \"\\U0001F600|Y- \\t\\x7FZ\\n\\uD7FF`\" : \"b\\P\\N\"}}, !!python/object/apply:decimal.Decimal [\"0.001\"], \"\\x9F1b\\x01@\\_\"]",
    "\"9\\x7F \\L{\\N&\\L\\U0001F600\\a`-\"",
    "\"\\uFFFE\\x9F0:\"",
    "{? \"\\rbY\\n-\\\"\\_'\\e\" : ! \"4084.145\", \"#]X\": ! \"769998441771317583\"}",
    "{? \"c\\r\\t\\0\" : {\",\\a9_\": [{}, \"9999\\L\\L\\\"%\", {\"*\\e\\uD7FF\\xE9\": ! \"null\", ? \"\\u4E2D\\P{\\U0001F600\\e\\t#}\" : !!python/object/apply:decimal.Decimal [\"1.50\"], \"\\uD7FF}\\uD7FF\\uFEFF:\\0\\a'{\\t\": \"\\e\\\\\\uFFFE\\0\\r\\\"\\_\\uFFFE\", \"\\uFEFFc%\": ! \"null\", \"\\uFEFF\\U0001F600\\U0001F600\\u4E2D\\a\\uE000\\a**[\\\"X\": \"\\\"}>:]1\"}]}, ! \"1\": {\":}\": [! \"1.0e-05\", ! \"5.140140741608713e-43\", \"`-[\\0'\\uFFFEaZ&\", \"\\x01\\n\\e\\uFEFF>@\\r\\x01\"], ! \"5\": {? \"%@9\\x01\\t\\uFEFF\\xE9\\N\\n\" : {? \"@\\n-a\\\"Z99*\" : \"\", \"\\\\]\\x9F_}\\t@_\": \"\", \"\\xE9\\x9F\": \"\\uD7FF>\\\"\\e0`@\\L\\n\\\\\"}, ? \">[\\Pc \\uFEFFb\\x7F\\x01\" : ! \"null\"}, ! \"null\": {! \"-2\": {\"\": ! \"false\", \"&X\\e\": \"\\_\\uFEFF\\uE0009>c#\\uFFFEZ\", \">{*\\U0001F600[\": ! \"6326543515205595789\"}, ! \"null\": {\"\\\"[\\xE9\\\\\\uE000\": \"1\\e\\_>\\0\\tc!|#%\\x7F\", \",|\\a\\_\\xE99\": \"%\\P\", \"Z\\uE000Z|1\\\\\": !!python/object/apply:decimal.Decimal [\"0.001\"], ? \"`>\\t_\\Na\\t[%\" : !!python/object/apply:decimal.Decimal [\"1.50\"], \"|`:\\x01\\\\b\": \"\\uE000 \\x01\\\\X|\\N\\\"&\"}, ! \"-3\": \"\\uE000}#Z!\\r!\\t\\n0\", \"X`\\e*\": \":\\n!\\uFFFE\"}}}",
    "!!python/object/apply:decimal.Decimal [\"1E+2\"]",
    "{? \"!\\L\\xE9\\n`\\e&\" : !!python/object/apply:decimal.Decimal [\"0.001\"], \"[9\\uFEFF\": [{? \"\\L\\a1>}\" : []}, \"\\x01\\x9Fa\\t\\L\\a\\0#Y,\", {}, [! \"null\", ! \"-0.0\", [!!python/object/apply:decimal.Decimal [\"1E+2\"]]]], \"\\uFFFE>c 'c}\\uFFFE\\e9![\": \"*\\uFFFE\\x7F\\_`\"}",
    "{? \"\\N\" : []}",
    "{! \"-4\": \"\\uFEFF\\xE9-} c\\uE000&\\u4E2D:-\", ! \"3\": \"*\\_\\P',\\uE000#\", \"\\uFEFF* ]\\x7F\\U0001F600\": ! \"null\", \"\\a\": \"X-\\r]\\U0001F600\\e\\\"*-b\", ! \"null\": ! \"-150\"}",
    "[! \"-5231865373452342310\", {\"\\\"\": {\"@\\\"\\uE000*{10\\x7F\": [], \"Z\\_\": \"\\uE000\\U0001F600\\uFEFF\\uFFFE\\x01 X!\\uE000\\uFEFF\\x9F\", ? \"\\\\&\\L\\a\\U0001F600|\" : \"\\r#&!c%\"}, ? \"0\\r\\x01-` \\x01\\N\\U0001F600\" : ! \"-8.384039046510484e+260\", \"9\": \"&\\u4E2D\\uFEFF0|&\\e\\x011\\uFEFF{\", ? \">'\\N\\\\@`\\uE0000\\uFEFF@\\uE000\" : \"@a|\\x9F{\\u4E2D \\L\\r\\P#_\", \"\\xE9\\e\\x9Fc\\0a,*#\": \",\\Nc\\uFFFE\\uD7FF\\L\\n09\\uD7FF>\"}]",
    "[!!python/object/apply:decimal.Decimal [\"12.5\"], [\"\\U0001F600:\\n\\uD7FF{Y\\a\\aY\"]]",
    "! \"1985478386639344406\"",
    "{! \"false\": !!python/object/apply:decimal.Decimal [\"12.5\"], ! \"1.1682892553617318e-20\": [[{\"\\e\\uD7FF\\t\\e1\": ! \"-1.0236755724103498e-23\", ? \"'9\\L'\\uD7FF-\" : !!python/object/apply:decimal.Decimal [\"-3\"], ? \"-\\P[&Z#\\t\\_\\u4E2D\" : ! \"867\", ? \"c#c\\\\}|b9>a'\\uE000\\x011@\\n|\\x7F\\0\\uFFFE@ \\Pa\\P \\N\\_}\\e\\\\\\x01\\u4E2D%@\\Pb{:|'\\u4E2D\\x9F_\\x7F\\x9Fa,\\0\\U0001F600\\__\\PY0`Z:\\x01\\\\ \\0\\U0001F600\\_\\uE000b\\\\\\x9F-{\\uFEFF]!!\\u4E2D\\\\\\xE9&,|*\\uFEFF\\uFEFF\\uD7FFY}a]\\a,\\uFEFF_\\x9F\\x9F\\U0001F600\\uFFFE:0\\a :1`\\uD7FF\\uFFFE\\u4E2D \\u4E2D:b%%`\\r\\L`cc\\x9F\\uFFFE\\u4E2D\\\\\\x01}>a\\t\\xE9,_\\L\" : \"\\u4E2D\\xE9\\_Y\\u4E2D\\r\", ? \"\\uD7FF1\\x9FY]\\N\\_-@\\uD7FF\\n\\x01\" : \"9,\\nc\\x9F\\uFEFF\"}, \"_#\\P\\uE000\\t%\\Na>\\_*'\", {\"%\\t\\xE9\\uFEFF1\\x01b\\u4E2D\": ! \"null\", ? \"'0]c:-\\n{ \\tb\\uFEFF* \\xE9@Z-\\x9F!\\xE99\\L,{\\_\\x7F\\uD7FF\\x7F\\L0[:%\\uFFFE:\\e`]\\\"!c1\\\\}X\\U0001F600\\xE9\\t\\x7F`&:0\\uE000}&%\\r%X]!\\L#cb>}>\\e`\\xE9\\0\\LZZ\\uE000\\\"}Y>\\x9F\\n#9_*9_ %#\\x7F>\\x01\\N[\\x010\\N\\uFFFE\\x01\\L!'\\x01\\r['\\L\\xE9\\n1:\\uFEFFc|\\0\\U0001F600!\\u4E2DY}|\\r\\uFFFE[\\a\" : \"\\r\\\\:\\0\\xE9\\x01\", ? \"@-\\n\\uE000\\L&\\L#{{\" : \"Y\\N1\"}], ! \"null\", {\"\": [], ? \"\\aa\\uFFFE&Z\\e\\L\" : {! \"-3804.946\": \"{\\x7F\\N*\", ! \"-2.4337341618541667e-16\": ! \"true\", ! \"false\": ! \"true\"}, \"\\tY\": ! \"-2505.5857\", \"\\\\\\u4E2D\\U0001F600|Y*,\": ! \"9273.24543\"}, \"\\uFEFF>%[\\uE000\"], ! \"true\": {? \",Z`\\\\\\L\\r\\x01!*#\" : ! \"-1722442330636038342\"}, ! \"8593.84\": {? \"\\n\\e0\" : ! \"5950.01\", ? \"\\e\\uFEFF`%c\\uD7FF|#\\r\" : [], \"0{\\_\\x9F\\uFFFE\\x01\\x9F\\e_'9\\uE000\": {\"\\0\\_\": {? \"c\\x7F_a!'*Y\\uD7FF\\L\" : \"@\\xE9\\t\\0\\x7F\\a#{\"}, ? \"\\\\9\\r\\uFFFEb9\\x01>c\\_\\U0001F600|\" : \"\\L]}\", ? \"\\LX1\\e\\U0001F600\\n]\" : {! \"1\": \"a\\NZ\\uD7FF\\u4E2D-:#Y9!\\uFFFE\", ! \"-1\": \"\\x01:\\\\Y#\\0\\x7F`\", \"\\\"Y1\\U0001F600\": ! \"true\", ! \"null\": \"[\"}}, ? \"1\\0\\x7F\\\\\\r\" : [{}, \"1*},\\t\\_`Z\\0\", {? \"\\r\\_\" : !!python/object/apply:decimal.Decimal [\"0.001\"], ? \"*#\\x7F*\\\\\\L[\\x7F|*\\e9\" : !!python/object/apply:decimal.Decimal [\"1.50\"], ? \"9{a[\\x9F\\uD7FF|a{\\e0\\N|!|\\\\{\\x9F*\\e\\a_a>\\uD7FF\\P\\0,\\a`\\uE000&-\\u4E2D}[Y\\N\\xE9\\0\\\\\\uE0000>[\\uFEFF\\e}\\uFEFFZ\\t\\_\\x9F\\uFEFF\\n%&@#\\uFFFE\\0b\\09\\n0{0#\\x9Fa\\uD7FF- 9'\\a\\0a\\uFEFF\\P@\\\"\\P`Y \\L \\e-\\_\\r\\_\\x01\\0X,Z\\t&\\uFEFF\\uD7FF\\NY\\L*_\\x9F\\\\\\x7F\\0>\\uE000`\\_Z\\x010&a!\\P9\\uD7FF\\e`\\U0001F600%\\x01]@*\\r\\x7Fa\\x7F\\N\\x9F\" : \"&%\", \"\\u4E2D9@Z\\U0001F600-!\\\"\": \",|\\e\"}, \"Yc@\\P\\rX`\\x9F\\\\\\a>a\"]}}",
    "\"!XaX\\uD7FF\\L-{\"",
    "\"\\x01\\_\\uD7FF{\\L\\u4E2D\\e\\t1' \\t\"",
    "[]",
    "! \"-9013.0\"",
    "!!python/object/apply:decimal.Decimal [\"-3\"]",
    "!!python/object/apply:decimal.Decimal [\"0.001\"]",
    "[\"\\uD7FF_b\\a#&\\u4E2Db\", ! \"5455294239272219480\"]",
    "{}",
    "{\"\\a\": !!python/object/apply:decimal.Decimal [\"0.001\"], ? \"Za\\\\]1*\\P\\xE9'\\xE9&\" : [{\"\": !!python/object/apply:decimal.Decimal [\"0.001\"], \" a,\": \"\", \"-\\xE9\": !!python/object/apply:decimal.Decimal [\"0.001\"], ? \"b{'\\uFEFF-\\P\\P\\\\\\a!\" : \"}\\r\\N\\t\\0\\uD7FF` \", ? \"\\uFFFE\\nY_\" : \"\\t:_\\\"\\x01\"}, !!python/object/apply:decimal.Decimal [\"0.001\"], {\"\\t\": \"\", ? \"&\\uFEFF\\P\\x01b]\\L1\" : {? \"\\a\\n\\_-_\\uD7FF\\xE9\\uD7FF\\0\\P{\\n\" : \"b\", ? \"\\nY9\\P@\\P@\" : ! \"-1768700041364482066\", \"\\_&\\uE000Y\": \"\\L#\\_\\uD7FF !@\\P&\", \"\\uFFFE1@\\e\": !!python/object/apply:decimal.Decimal [\"1.50\"]}, \"b& X\\xE9\": !!python/object/apply:decimal.Decimal [\"-3\"], \"\\u4E2D\": {! \"-5\": ! \"true\", ! \"false\": !!python/object/apply:decimal.Decimal [\"1.50\"], ! \"true\": !!python/object/apply:decimal.Decimal [\"1.50\"], ! \"4\": ! \"7.169565845064865e+21\"}}, \"1\\xE90bYX[!&>\\x7F\"]}",
    "! \"-6.461214167047591e+119\"",
    "!!python/object/apply:decimal.Decimal [\"1.50\"]",
    "[[! \"-7516711428512794893\", \"\\xE9\\uFEFF\\uD7FFc\"], ! \"false\", {\" ,\": ! \"false\", ? \"[\\P\\P}\\U0001F600\\t>>[-\" : ! \"-2.551628936292355e+201\", ? \"\\\\\\_\\uFEFF>\\r\\uFEFF\" : \" \\uFEFF\\\"-\\\"@\\u4E2D@c#\\xE9\\a\", \"{!_#\\x9FaZ\\\\\\U0001F600\": \"\\nc\\uFEFFb#\\P0\\uE000#\\_\\u4E2D\", ? \"\\uD7FF\\\\c\\N\\U0001F600\\t\" : {\"\\e\\\\\\U0001F600\\x01\\U0001F600\\uE000}- \": \"c*c\\uD7FFc\", \"&@>\": ! \"-6157734199788611575\"}}, [[[\"1{\\uFFFE\\\\\\U0001F600\\uFEFF\\e\", \"\\x9FX\\0\\uFEFF\\t\\\"\", ! \"true\", ! \"null\"], \"|\\a:\\_|\", !!python/object/apply:decimal.Decimal [\"-3\"]]]]",
    "!!python/object/apply:decimal.Decimal [\"1E+2\"]",
    "\"X\\_Yc\"",
    "[[!!python/object/apply:decimal.Decimal [\"1.50\"], !!python/object/apply:decimal.Decimal [\"1E+2\"], [!!python/object/apply:decimal.Decimal [\"0.001\"], {\"\\uFFFE#1|'\": \"\\N>\\P!\\P}1\\t[\\t9X\"}, {? \"\\n[Y}\\x01X\\P\\_*&\" : \"}0[\\\\{\\a\\uFEFF!\", \"#{0`:\\\"\\x7F:X\": !!python/object/apply:decimal.Decimal [\"1E+2\"], ? \"\\L\" : \"|\"}]], ! \"true\", {\"\\x01\": ! \"7.102012630681261e-59\", \" \": {\"-#\\\"\": ! \"true\", ? \"\\L\\L\\P*\\uFEFF\\0\\uFFFE\\\\\\r{ \" : ! \"null\"}, ? \"\\uFFFE>\\uE000\\uE000\\t>\\\"\\a\\L\\x9F0\\x9F\" : [\"\"]}]",
    "[{\"\": {? \"1|\\x7F\\x7F \\N{\" : !!python/object/apply:decimal.Decimal [\"1E+2\"], ? \"X\\0\\N1\\\"\\n\" : !!python/object/apply:decimal.Decimal [\"1.50\"]}, \"#\\x7F\\u4E2Dc\\uFFFE\\_\": \":\", ? \"\\N0!\" : [! \"3410478986905091344\"], ? \"\\uD7FF\\0\\x7F`0\\n\\n\\uE000\\uE000\" : \"X\\r\\\"\\x01\", \"\\uFFFE\\x01\": []}, \"@]>\\n\\uE000'} |\", {! \"false\": ! \"-3558.5\"}, [[\"\\\\\\t\\\"\", []], {\"\": [], ? \"|9*>\\r\\r\\uE000\" : !!python/object/apply:decimal.Decimal [\"12.5\"], \"|X\\u4E2D\\e\\_\\x7F|9\": \"X|\\x7F9@a\", ? \"\\uD7FFZ\\_:}\\\\\\uFFFE,\\\" \\a\\e\\U0001F600\\uFEFF_ \\uD7FF\\uFFFE\\\\\\\":[*&c`\\n\\x7F'\\u4E2D\\tZZ9%|\\\"\\L\\e-\\u4E2D\\x9F&\\uFFFE!c\\uFEFFXc\\x01\\0\\\"[*:\\Na1*\\P\\r#\\xE9`Y\\uFEFF*\\xE9,0>\\\"\\r\\x01\\L\\P_\\r\\\\%\\n\\U0001F600Y\\x9F\\e\\a]Z\\e\\x7F`\\N\\\"\\0*#\\e{1\\uE000]}\\U0001F600\\x7F\\e\\x7F\\P&\\n:\\uFFFE\\xE9\\uE000{!\\e \\n\\uD7FF|\\e\\n\\u4E2D\\N\\t \\a\\\\\" : {\"&\\uE000X\\uFFFE\\x7Fb#%'\": ! \"945.485\", \"a>\\t\\e\": ! \"-284\", ? \"\\U0001F600\\\\Y\\_,\\n\\uD7FF'1}_\" : !!python/object/apply:decimal.Decimal [\"0.001\"]}}, [[\",|@\\xE9\\U0001F600\", ! \"8133792223273276353\"]]]]",
    "!!python/object/apply:decimal.Decimal [\"1.50\"]",
    "\"0>9\"",
    "{\"\\x01:&{\": {\"\\t\\x9F\\uE000,a]\": ! \"false\", \"1c\": \"\\U0001F600,Z&,\\xE9-\", ? \"\\L{::, !\\x7F\\r\" : {! \"5.788794672293925e-287\": ! \"101893884766136058\", ! \"true\": [!!python/object/apply:decimal.Decimal [\"-3\"]]}, \"\\u4E2D_{,\\u4E2DX\\uFFFEa\": {\"\": \"&&\", ? \"-[\\x01\\uD7FF \\L1*\" : \"Y&\\uE000`a\"}}, \"\\t]%\\a\\uD7FF\\U0001F6001\\t{!\": \"0,a\\aY\", ? \"\\N:1! \\L\\\"\\u4E2D\\xE9\\0\" : ! \"-11.215\", \"\\uE000_\\_1\\_}Y\\_\\a#\": ! \"-2.901041548517963e+112\"}",
    "[\"\\\"'&a\\uD7FF\\a*a1\\\"\\\\*\"]",
    "\"Y%c0\\U0001F600\\\\ !`\\N!\"",
    "\"Y\\a*,9\\U0001F600X,@\"",
    "\":Z@\\xE9\\ecc\"",
    "\" \\\\a\\x9F\\xE9\\xE9\\x7F*>\"",
    "{\"\\e\\U0001F600@\\xE9['Y\": !!python/object/apply:decimal.Decimal [\"1E+2\"], ? \"1\\u4E2D*_:\\n>\" : {! \"false\": {? \"\\a\\nY\\uFEFFX0!-9\\uFFFE]c\" : [], \"ZZZ-\\x01\\x9F\\x010c'}\\a\": \"0\\uD7FFXc9\\r-9|\", \"ba[\": !!python/object/apply:decimal.Decimal [\"-3\"]}, ! \"1\": {}}, ? \"c_!\\x011\\x9F\\uFFFE\\r{\\uFFFE\\uFFFE\\xE9\\_Z[\\e_\\_b!:\\_\\uFFFE{:@!,\\0!'\\L\\xE9]>|`\\\"Z\\a\\r {a{Z [\\L!*\\r'\\uFFFE}@\\e\\N#\\ta\\uFEFF\\L1#c\\uFEFF %{\\uE000\\uE000\\uE000c\\e1%X\\0\\\\,9@9`&\\L{|\\t\\uD7FF\\u4E2D#{\\uFEFF\\n*aY]{\\P\\x01\\t\\rY%c\\_9-\\uFFFEcZ>1>\\uD7FF\\u4E2Da_\\uFEFF\" : \"`9\", ? \"\\_*\\r\\a\\L\\n\\x9Fc\\x01]\\n\" : \",%\\\"|\\N\\u4E2D\\uFFFE%\"}",
    "[! \"1.0e-05\", \"\\N>Yb\", {! \"-58.06283454507193\": {}, ! \"-2\": [[\"\\_\\tZ\\e\\\"\"], {? \"\\e\\\"\\uE000\\x7F\\t\\nc\\_|\" : \"\\0\\xE9,1\\uFFFE\\e1!\"}], ! \"false\": !!python/object/apply:decimal.Decimal [\"12.5\"], ! \"2.959099862568993e+24\": {\"\\a@>\\_%\": [\"\\\"c]\\e]\\uFEFF{\\x01]\", ! \"-1.8568284336261597e+183\", \"\\a\\uFEFF\\x9F\\uFFFE\\PX\"], \"%a`\\x01\\x7F\": !!python/object/apply:decimal.Decimal [\"12.5\"], ? \"Z|\\t*0\\x9F\\n\\nY\\uD7FFY\" : !!python/object/apply:decimal.Decimal [\"1E+2\"], \"\\uFEFF\": {}}}]",
    "[! \"187790468703306701\"]",
    "\"\\PY\"",
    "{\"{-:]\\e\": ! \"-3082177310649419163\", ? \"\\xE9\\uFFFE,]\\r\\uFEFF\\P|\" : ! \"4098449811.532785\"}",
    "{\">a'\\_,,\": [\"@\\r1\", ! \"7334.157\"], \"b \\U0001F600\": \"]\\uFEFFa>\", ? \"\\x7F1@\\P\\u4E2D\" : ! \"-82\", ? \"\\x7F\\L&b0&\" : \"\\x9F\\a\\u4E2D#\\x01\\e99\"}",
    "{? \"'*`X\\\\\\\\\\n}%\" : [{! \"-1\": ! \"-179\", \" \": {\"\": \"aZ\\\"\\r\\P#\", ? \"\\nX\\_-}'[\\e%\\r%}\" : \"X\\xE9[[-::\\x01\\r \"}, ? \"\\L}\\x7F\" : \"-!\\x9F\", ? \"&|a\\_\\N#\" : ! \"true\"}, ! \"null\"]}",
    "\"\\\"{#&* |[\\r\"",
    "{\"\\e\\uD7FF]>\\_\\0,\\u4E2D\": \":\\uFEFF\", \"c\\u4E2D\\\"c]\\x9F@@a\\uE000]\\t\": {}}",
    "[!!python/object/apply:decimal.Decimal [\"1E+2\"], {? \"9\\_>\\a\\uFFFE\\a\\uD7FF`\\uFFFE\\\"XY\\U0001F600\\uFFFE\\xE9#*-1!\\x7F\\uFEFFX#}\\N\\r\\t\\t|\\L\\P1_#]``\\t1-Z{&[\\uD7FF%b\\U0001F600\\u4E2Da_\\uFFFE -\\P\\uE000\\uD7FF_Y,\\0\\r@\\uE000\\uD7FF\\\"\\a&|ZaZ0]\\t\\uE000\\x01*Yc\\x7F,0\\uD7FF\\n>\\uFEFF|c{&'[9`c\\uFEFF&Z\\\"|1\\\\0%`\\x9F\\t,|,\\xE9\\aZ>%\\uD7FF&*\\uE000\\_b%-*\\n\\\"@\\uD7FF*\\n_\" : {! \"-5\": !!python/object/apply:decimal.Decimal [\"1.50\"], ! \"0\": [], ! \"true\": [! \"true\", \"a\\L:0!\"], ! \"5\": [\"`\\_9\\x7F\\L\\a \\_%\\t\\u4E2D\\N\", \"@\\uFEFF\\0\"], ! \"549.10217\": [\"\\u4E2D-!\\P-\\uFEFF1#\\\"\"]}}, [{\"\\x01&\\uD7FF\": \"Y\", \"\\a\\\"]ca\\x01\\\" 1'\": [], ? \"\\a{\\a\\r\" : {\"\": \" \", ? \"\\r!!\\x01\\0\\t\\t*}\" : ! \"null\", \"09\\t-!\\a\\x7F#!@\\e`\": ! \"false\"}, ? \"\\N[,\\n'\\x7F'\\P-\\uE000\\a\" : [! \"2327486567108948665\", ! \"-56834824510731928\", \"'|_,}\", !!python/object/apply:decimal.Decimal [\"1E+2\"]], ? \"\\x9F\\xE9\\uD7FFZZ\\P\\Lc`]%\\N\" : ! \"null\"}, ! \"7724120408321510917\", !!python/object/apply:decimal.Decimal [\"12.5\"]]]",
    "! \"1.0e+16\"",
    "{? \"\\U0001F600]a\\\\\\uFEFF\\aY0'\\u4E2D%\\uFEFF{0\\x7F9\\uE000c&*>!&\\x7F%{b`\\uD7FF\\x7F\\a\\e\\0*\\e#\\\\a\\uFEFF\\uFEFF\\U0001F600_#&,1*\\x9FX\\x7F@>c#0\\tc_]\\P -\\uD7FF]\\U0001F600]\\uD7FF:\\xE9\\x7F\\uFFFE\\uFEFF\\\":c%#%]_c`:{_]_Y\\n>Z]%|\\_:\\nZ\\a'|X\\x9F\\\\1\\uFEFF1ba\\uFFFEX#cZ|0\\u4E2D|[-\\Lba#9` \" : \">\\uFFFE>\\n>\\u4E2D\"}",
    "\"#\\P\"",
    "{? \"_]1#,\\Nb\\e>\\P\" : \"\", \"\\u4E2D\\\"0\\xE9_\\0\\\\'\\0\": [], ? \"\\U0001F600{\\Na\\ec%!\\e\\\"\" : []}",
    "! \"-9811.1924\"",
    "{? \"%\\r\\\\]\\0\\xE9Y\\n}\\x9F\" : {}, \"@\\\\\\\"\": ! \"-733\", ? \"\\N\\0\" : ! \"-3634841742758529696\", ? \"\\_\\uFEFFb\\n9`\\N:\\r\\uD7FFa\" : ! \"1.811790994079828e+189\"}",
    "{\"\\0\\\\\\0\\x01\\t\": [{}, {? \"\\r&!Y\\u4E2D\" : {? \"%\\u4E2D\\x9F0\\L\" : \"\\\\Yc0:\\t1\\uFEFF\\xE9\\uD7FF\", ? \"*X\\r{\\r\" : ! \"2214986383107771836\", \"Z\\uE000\\\\\\U0001F600\\x9F#`-1\\u4E2D \": \"[%9[%\\n\\Nc\", ? \"\\x9F1\\uFFFE]@\\_#\\L`\" : \"\\x01\\U0001F600>\\uE000*\\naa\\uD7FF \\\\a\", \"\\uE000#->}'\": \"0:\\t\"}, \",@\\t\\x01\\x7F\": \"\\uE000\\P\\u4E2D[*\\uFEFFcX#\", \"b\": ! \"667\", ? \"\\N:\\_\\r]>!\" : \"|\\N\\r\\x01Z\\\"\\LZb\\U0001F600@\"}, [[! \"-4.9205689508596136e-20\", ! \"true\", ! \"15018058.657618249\", \"_}9\\a\\\\a\"], {}, \"\\x7Fa\\u4E2D\\t\", {? \"\\x01\\r\\_\\r\\t\\P_>\\n@ 1\" : ! \"7117680417922995112\", ? \"\\a%\\N**\" : !!python/object/apply:decimal.Decimal [\"1.50\"], ? \"\\L\\r#\\P-] ,9Z\\n\" : !!python/object/apply:decimal.Decimal [\"1E+2\"], \"\\uD7FF&_,\": \"#]-% \\u4E2D\\U0001F600\", ? \"\\uFEFF]\\xE9\\r\\0\\U0001F600\" : \"\\ea1\\u4E2D_{\\_\"}], ! \"-7575246912921479632\"], ? \" \\0\\N\\n_%Z1\" : \"\\u4E2D#'\\uFEFF!'\\P|\", ? \"&\\n\\uFFFE\\uFEFF`@>\\L:\\P\\u4E2D\" : {? \"\\r\" : ! \"6.441990510498639e-52\", \"*`\": \"\", \"\\xE9%0\\uD7FF,}|}\\ea\\U0001F600\": {? \">\\n9%\\_\" : !!python/object/apply:decimal.Decimal [\"12.5\"], \"X\": {\"\\x01a1*\\\\_0c>'\": \"\\eX'[\\x01\\\"\\x9F\\U0001F600]\", ? \"|\\aZ\\_> {\\r\\P&bc\" : ! \"false\"}, ? \"\\u4E2Da*\\0[!}\\uFFFE_\\a0\\L\\xE9\\t\\t\\uFEFF\\x01c\\uD7FF\\uD7FF:\\L\\0\\a\\\\\\L\\L[9>\\U0001F600Z\\N\\uE000|&\\t_\\U0001F600\\x01\\P|\\a&\\u4E2D\\uFFFE!\\xE9&0@\\uD7FF 9\\N\\\"b\\L\\0\\uD7FF\\a{*\\L`\\nY\\u4E2D\\L%b\\uFEFF\\U0001F600\\L,\\0{&\\uFEFF[X*\\L#\\0\\U0001F600:9#c{>#{a\\t\\xE9\\uD7FFX_\\t\\u4E2D|%\\\"**-\\uE000Z&@0]\\uD7FF-_\\n%\\N\\x7F\\u4E2D\\\\\\n\\t\" : !!python/object/apply:decimal.Decimal [\"0.001\"], ? \"\\uE000-*\\x7F \\x9F-\\t9\\L\\uFEFF\\uFEFF\" : ! \"8062.29927\", \"\\uE000>\\uFEFF\": \"cac\"}, \"\\uFEFF]'\\x9F_\": {? \" \\n,\\e1c%,c\" : ! \"null\", ? \"*Xcb\\0{\\L`\\x9F|\" : {! \"-5\": ! \"false\", ! \"-8.142020509818703e-24\": ! \"-2.596105593820407e-280\", ! \"1.3958006029475549e+175\": ! \"994\"}, \"[\": ! \"-388460923391608236\", \"\\_ @,\": {! \"-5\": ! \"-1103195092204787757\"}}}, \":\\\"\\xE9\\e\": \"\\x9F%'\\t&\", ? \"b`-\\u4E2D\\n!1-c`}|\" : {}}",
    "{\"\": [[!!python/object/apply:decimal.Decimal [\"1.50\"], \"\\0>\\uE000\\_ :9c\", \"*\"], !!python/object/apply:decimal.Decimal [\"-3\"], {? \" ']\\P\" : [\"\\t\"], \"!1#&@\\uD7FFc\": ! \"7779.48453\", ? \"\\uE0001\\uFEFF\\r\\\"\\xE9Z\\x01,|\" : ! \"-5751228896558142391\"}], \"!0\\\\\": [[[!!python/object/apply:decimal.Decimal [\"1E+2\"], \"&\\x9F%%\\x7F%}\\x01b1\\N0\", ! \"-4.312779586531294e+49\", !!python/object/apply:decimal.Decimal [\"1.50\"]], {}], ! \"-7796.7\", [[], \"[,\\uE000}@&\\a\\r\\x9F\", [!!python/object/apply:decimal.Decimal [\"0.001\"], \"\\n}\\0\\ta}>\\x01\\u4E2D{`\\0\"], !!python/object/apply:decimal.Decimal [\"1E+2\"]], \"\"], ? \"b\\0\\uE000\\x01,\\a\\uFEFF&\\N\\\\_\\L\" : {\"9\": \"Z\\x01\\e}#`\\uFEFF\\\\[\\r\", \"\\u4E2D\\\"&\\_ [*\\0\\U0001F600\": {? \"\\L\" : {! \"false\": ! \"-2018.199\", ! \"true\": ! \"357087105435381037\"}, ? \"\\u4E2D{\\_Z\\u4E2D\\uFEFF`\\P,\" : {! \"4\": \"\\uE000:\\x7F#\\e[\\x9F\\u4E2D\\n#\", ! \"null\": !!python/object/apply:decimal.Decimal [\"1.50\"]}, \"\\uD7FF*Z|\\xE9\\t\\uD7FF\\U0001F600\\e>0\": \"#&\\x7F\\uFFFE\\r\\\"\\uE000Z\\P\\n\"}}, ? \"\\P\\r\\_#b\\N\\uE000\\uFEFF\\ra-\\n\\uFEFF\\x9F\\n\\r\\\"%`X_[\\\"9\\xE9\\uD7FF}:]>\\NY| \\x7F_,0\\rY:[Z\\x9F%* }@0':a\\0\\\\\\r\\\\\\uFEFF\\_ ,'0\\t\\uE000\\\"\\\\\\uFEFF \\uFEFF-!\\a\\N\\U0001F600\\e!\\uD7FF_\\\"\\r `|:a\\uD7FF\\L`'[b\\uFEFF}-{}]*\\uD7FF\\u4E2D,&@\\a[!\\u4E2D\\P*\\ab\\x7F}Y\\u4E2D`\\x7F\\a\\uFEFF>9\\r>\" : {! \"-9649.194\": [{? \"\\a\\t -X\\N\" : \"\", \"9\\0!\\xE9\": \"\\P\\x7F\\a\", ? \"9\\N\\uD7FF\\u4E2D9\\t\\x9F,]\" : ! \"3.8755860695082824e+203\", ? \"[\\t]\\n\" : ! \"7316.76\", ? \"]\\U0001F600b\\uE000\\x9F'{\\uE000'\\aa\\uD7FF\\e\\P\\Nb\\uFEFF,\\N\\xE9Z#,*,\\e\\0!>1\\u4E2D{\\0\\0\\uE000]{0a\\e9\\xE9\\N9\\Lc|\\0\\uD7FF_*9*>9\\uD7FFa'!\\xE9!!b%\\uFEFF\\x9F\\x7FX\\nc\\x01-\\n,|\\\"c%\\r\\x01|\\uE0001\\uD7FF\\\"\\u4E2Db]@\\x7F\\uFFFE\\uFEFF\\n\\P_\\\\1b\\N1\\uE000\\e9'\\r\\U0001F600\\uD7FFb\\\"|\\x7F\\N|aZX&|\\x01\\e1\" : ! \"-8054.4\"}, {\"\": \"]!\\P\\U0001F6001\\e\", \"% Y\\uFEFF[a\\\\_,c-\": !!python/object/apply:decimal.Decimal [\"0.001\"], \"0\": ! \"321\", ? \"0b\\L*@}0|_\\r\\t\\u4E2D!\\uE000Z\\tb\\aY\\r\\uFEFF]&bY\\uFFFE\\xE9\\x7F\\uFEFF]a!\\U0001F600_9\\uFEFFYb\\U0001F600*ZZ-\\\"\\0 ]\\xE9 _\\r\\a#\\eY\\xE9XX|\\U0001F600\\uFEFF#\\0\\x7F0{X`\\e\\t\\e\\\\\\ab\\N!-&\\uE000! X\\uFEFF\\xE9bZ\\L\\U0001F600\\e\\xE9\\t\\x7F`X!|&'\\U0001F600{\\e>!\\uFEFFa\\uD7FF0\\\\`'>\\uFEFF0{\\uFEFF-*!>\\\\|%\" : ! \".inf\", ? \">a\\x9F9\\0\\x01Z\\n\\uD7FF\\N\\x9F\\a\\U0001F6001':'0Yb:%11bc{\\P!\\_\\xE9_!\\xE9-%]:%\\\\1\\x7FZ1>\\L@\\r,_'!\\\\\\Lc0>\\U0001F600\\r\\_X\\PZ[\\r\\uFFFE\\P\\_\\x01 \\uFEFF\\x9F\\0%1\\r0\\e\\e \\t\\u4E2D\\P\\r%|\\P&\\e\\uE000}#a\\uD7FF\\P\\t\\0%b|\\\"\\xE9\\\\!\\uD7FF\\aX\\\"\\n_[|!\\uE000\\n\\_X\\\\0\\r\\t\\x7F\" : ! \"3.158727894097869e+182\"}, \"a9\"], ! \"false\": ! \"-2.2784769969588857e-29\", ! \"true\": ! \"4487.43887\", ! \"9573.97542\": [{}, {! \"-4952.7\": ! \"6725.3\", ! \"true\": \"\\uFEFF_@,\\U0001F600\\\\`c,1\\\"\\x7F\"}, !!python/object/apply:decimal.Decimal [\"-3\"], \"\"], ! \"97487274891.1506\": \"%`!1\\u4E2D\\a@'*#\\0\"}, \"\\uFFFE\\x01\\xE9#>\\uFEFF[\\x01\\x7F\": !!python/object/apply:decimal.Decimal [\"-3\"]}",
    "[{\"\": \"\\e\\\"\", ? \"_\\P}\" : [[!!python/object/apply:decimal.Decimal [\"1E+2\"], \"\\uFFFEa:\", !!python/object/apply:decimal.Decimal [\"1.50\"], !!python/object/apply:decimal.Decimal [\"1E+2\"]], {! \"false\": ! \"-21413118.395185716\", ! \"true\": \"-\\\\b\\0\\t\"}, {\"!\\x7F\": ! \"-8.74384717263098e-29\"}, \"\"], ? \"\\u4E2D\\Pa\\\\_0\\P%\\0c\" : {\"\": ! \"false\", \"%\\x9F\": \"\", ? \"{\\a\\N\" : {! \"null\": ! \"5.763094800238345e+249\", \"]\": \"\\\"Z\\a\\x7F\", ! \"-3\": \" |[\\P@X\\P-%\"}, \"\\U0001F600\\uFEFF\\uFEFF\\x01\\x01]\\u4E2D\\t 0]'\": ! \"-254\"}}, ! \"-8224468053384.277\", \"\\\\*\\uFFFE{\", {\"\": {\"\\acY\\u4E2D\\x9F\\x9F:\": ! \"-4.6664094114467414e-08\", \"[\\a\\\\\\t#\": \"|\\n'\", \"|\\\"!\\a\\_\": \"\\x01\", \"\\uFFFE1%\\tb\": {\"_\\uD7FF\\\"b\\\\]Y\": \"|{\", ? \"\\P\\U0001F600@#\" : \",}\\uFEFF}{\\a\\L{[\\U0001F600#%\", \"\\u4E2D]\\x01a[\\\"\\\"@c\\0:b\": \"_Z[\\x7Fc\\u4E2D>\\x01`\\\\[\"}}, \"9_\\u4E2D\": [{! \"false\": !!python/object/apply:decimal.Decimal [\"0.001\"], ! \"1\": \"\\e>\\_\", ! \"3\": !!python/object/apply:decimal.Decimal [\"12.5\"], ! \"865.0530936536798\": ! \"2311984015534731325\"}, {}, \"{b\\x01Y\"]}]",
    "{? \"@@\\_\\n\\r9Y\" : ! \"903\"}",
    "{}",
    "[! \"3.0492320756551156e+41\", {}, !!python/object/apply:decimal.Decimal [\"1E+2\"]]",
    "[[], {! \"false\": {}, ! \"4.877466042805556e-07\": {\"\\uE000\\U0001F600]_\": {\"\\uD7FF@\\U0001F600\": ! \"7881992381913746912\"}}, ! \"true\": !!python/object/apply:decimal.Decimal [\"-3\"]}]",
    "! \"146\"",
    "\"\\P\"",
    "\"\\x01Z\\uE000Y]|Z}0\\x7F\"",
    "{\"\\t\\uFFFE\": \"\"}",
    "{\"\": \":\\\"`\", \"\\eb\\a,\": [], ? \" @\\P'9\\x9F-\\P\\xE9\\\"Z\" : [\"\\0\\xE9_}\\L\", {? \"9\\a#\\n\\\"9\" : ! \"742\", \"_![{b%-X\": \"#b\\uE000>!a#9\", \"b\\_X\\e*X\\uFEFF\\uFFFE\\x9FX\": ! \"8918.89672\", \"\\_1\\t{:*\\t1\\u4E2D-|%\": {\"\\0:\": ! \"7.313055074391905e-09\", \"'!:_\": ! \"-7.428966173980059e+140\", \":#\": \"a\\_[\\t&%\\xE9\\x7F\", \"\\xE90\": ! \"-871\", \"\\uFEFF\\uD7FF\": \"!9\\t\\\\\\uFEFF@\\uE000\\uFEFF\\u4E2D*\"}}, \"\\0\\P\\xE9\", ! \"-2490366501584118916\"], \",`\\x7F\\\"\": \"\\uD7FF\\P\\a\\N\\\\\", \"\\uD7FFX9Yc\\a\\e>\\\\\": \",\"}",
    "\" \\uFEFF:\\uD7FF@b-\\P\\t\\U0001F600\\x01\"",
    "\"\\e\\uFFFE*\\u4E2D,9\"",
    "!!python/object/apply:decimal.Decimal [\"1.50\"]",
    "! \"8.04702952230017e+23\"",
    "!!python/object/apply:decimal.Decimal [\"-3\"]",
    "! \"-3456048457426937931\"",
    "!!python/object/apply:decimal.Decimal [\"-3\"]",
    "{\"\": {\"\": {\"\": \"\\_\\_9\\e%0\\\"\\n\\uFFFEb|\", \"_\\x7F `ZX\\x9F*\": \"'\\uE000X\\a\\0\\r\\uD7FF:\\x7F\", ? \"b_|\\u4E2D \\x9F}'*\\0\\P\\\\_a\\P!\\\"`b>*0\\r`Z`|}\\xE9\\t\\uFFFE\\x9F`\\n\\\\X%\\\\[\\U0001F600\\uD7FF\\t*:\\_c\\L:ba\\e\\x9Fa]\\\"9\\u4E2D\\e\\P_bZ \\a,0}-\\P&\\uD7FF\\_\\0#Zc\\a#\\uFEFF\\t_c1\\U0001F600{**:\\P\\xE9>\\0@:\\x7F11\\x7F\\0|\\a[\\n*\\U0001F600|:>`\\N\\uD7FF\\x7F\\x9FY{\\n\\t\\x9F\\\\`&a#Z\\uFEFF\\_\\\",\\n}\" : ! \"7264742464500189981\"}, \",`#\\0\": [\"\\0\", ! \"null\", \"\"], ? \"|\\xE9\\x01!\\n\\u4E2D\\\\\\N\\x7F\\xE9}c\" : \"Y1\\xE9\\\\\\x7F\\_\", ? \"\\u4E2D\\L\\x9F\\x9F#\\\"\\u4E2D:\" : \"}X\\x01{9%#\\uFEFF*1:\"}, ? \":'_c_9\\n0\" : {\"\": ! \"1777.92259\", \"}[\\uFFFE\": [], \"\\x9F\": \"\\t\"}, ? \">*\\P}\\N!\" : [{? \"\\0\\P\\a}-\\uFFFE\\n\" : [! \"991\", \"c\\x9F\", ! \"-820\"], ! \"null\": \"9],1-,]|\", ? \">\\t\\n&\\uE000Y]9[] [\" : !!python/object/apply:decimal.Decimal [\"12.5\"]}, {? \"\\a|\\\"Zc'\\\"\\N!`c|\" : \"%\\U0001F600|\\nX\\\\&\\_\", ? \"\\\"_\\_\\x9F\\P%\" : \"@\\_,@\\L*\\uE000\\t\\nX\\uD7FF}\", ? \"_b\\r]-\\x01\" : \"Z\\N]\\uE000\\t\\uE000\\uD7FF\\uFFFE|\\N|\\\"\"}, {? \"\\n19\\N\\U0001F600\\N\" : {? \"'a \\n\\uD7FF[\\x01\\xE9\\xE9\\xE9\\n@\\e']: -\\r -\\x7F\\r_\\x01\\_@*a\\uFFFEb\\t\\_||0Y'}{,`\\U0001F600'\\uE0000!\\x9F[\\__c#c[b\\_-1%\\tX'\\x01\\N,\\uE000[0\\N!c[\\_\\U0001F600Z0\\xE9|&*#1-Z\\x9F\\uFFFE0\\0b&'\\U0001F600\\x9F`\\0\\uD7FF\\rY\\N\\uFFFE\\uD7FF\\uFEFF},\\\\\\t\\_\\xE9\\x7F|&{\\P&b!9:\\u4E2D\\e@ Y\\\"Z\" : !!python/object/apply:decimal.Decimal [\"1E+2\"], ? \"\\x9F\\r\" : !!python/object/apply:decimal.Decimal [\"1E+2\"], ? \"\\P@\\\"\\uFEFF\\xE9\\u4E2D\\x9F\\u4E2D\\x01,\" : ! \"606\", \"\\uFFFEZ[]*\\0\\\"{\\U0001F600b\\u4E2D!\": ! \"true\"}, \"\\xE90}#\": ! \"6.300040873664177e+61\"}, !!python/object/apply:decimal.Decimal [\"0.001\"]], ? \"{_>\\n@!\" : ! \"-6.473007666001293e-177\"}",
    "{}",
    "!!python/object/apply:decimal.Decimal [\"0.001\"]",
    "[[\"]\\n#\\x9F#>9\\uD7FF]*\", []], !!python/object/apply:decimal.Decimal [\"-3\"]]",
    "! \"895\"",
    "!!python/object/apply:decimal.Decimal [\"12.5\"]",
    "! \"0.0\"",
    "! \"null\"",
    "[]",
    "\"\\uD7FF\\uFEFF\"",
    "{? \" @9|ZZ\\n\\t\\u4E2D\\uFFFE\\L9\" : !!python/object/apply:decimal.Decimal [\"0.001\"], ? \">\\x01\\e\\L0\\U0001F600\" : ! \"-2.730297555761761e-83\", \"]\": {\"'{#%X0\\00Z\\t\": !!python/object/apply:decimal.Decimal [\"12.5\"], \"|9ZY%\": [], ? \"\\xE9\\r\\x9F%\" : [[\"\\a!{,{\", \"{\\e10\"]]}, \"\\uFEFF{%*\\e\\x01\\uD7FF\\t\": {}}",
    "! \"-925\"",
    "[[], {\":\\0\\a9\": ! \"false\", \"\\u4E2D@Y9\": \"&|-\\r\\\"0{1Y\\0\\xE9\"}]",
    "! \"-405\"",
    "!!python/object/apply:decimal.Decimal [\"-3\"]",
    "! \"3.4173984786138853e-224\"",
    "[! \"-416\", \"\", {? \"\\\\%:\\e%\\u4E2D}\\u4E2D\\P\" : \"\"}, ! \"-130\"]",
    "! \"17\"",
    "[{? \"Y\\r#\\\":'\\uFEFFa\" : \"{\\xE9\\e\\P0{\\t:\\_{\", \"YXZZ%_9\\xE9\": \"c>c\\uFFFE\\t\", \"\\uFFFE\\x9F\\\"&]]\": {\"@\\_\": !!python/object/apply:decimal.Decimal [\"12.5\"], \"\\_@|\": \"\\P>\\e\\x01\\\"\\P\\r\"}}, [! \"7952.0\"], [{\"%\\_c\\\\\\e,\": [!!python/object/apply:decimal.Decimal [\"12.5\"], ! \"-463\", \"!\\x9Fb{\\u4E2D\\uFFFE\"], ! \"null\": ! \"1039818720942708738\"}, {}, \"[\"], \"\\\"@-:\\u4E2DZ\\0\"]",
    "! \"-2297384921700813921\"",
    "[[{\" >\\a9\\e#\\\"::\": !!python/object/apply:decimal.Decimal [\"1E+2\"], ? \":\\uFFFE\\x9Fa\\\"\\uFEFF\\N\\t\\099|\\_,'%\\xE9%\\\"_\\uE000\\r0\\uFEFF,,\\U0001F600!|\\r}\\uE000]0\\uFFFE\\x7F\\\\1&>_]*|Z c>}\\xE9\\_'\\a\\a\\x01YX\\eY'\\r`\\x7F{'\\t\\P{>_*\\N,[\\uFFFE\\N\\t]|\\x7F\\a>\\Na\\uFFFE\\u4E2D}\\r\\\"\\e{ _c\\n|\\x9F`[\\\\:{\\L\\e\\_\\P&\\P,-\\0:!`\\P\\e[}\\x01\\a\\0,&X%\\x9FZ\\_|\\uFEFF\\t\\U0001F600\\P\" : {\"\\xE9\": !!python/object/apply:decimal.Decimal [\"-3\"], ? \"\\U0001F600b|\\r\\N  \\t\\_\" : \":Y\\n\\L9\"}, \"a\": {\"`*\\uE000\": ! \"null\", ? \"\\_a\\xE9\\0#,\\n\\uFEFF\\P>9]\" : !!python/object/apply:decimal.Decimal [\"1.50\"], \"\\uD7FF\\xE9'\\x9Fc]\\u4E2D9a*b1\": ! \"1.2337051771961027e+19\"}, \"{[Z\\\\\": ! \"null\", \"\\uD7FF,]Z@\": ! \"-1.0484520199936834e+156\"}, {? \"%]X\\x7F[Y\\Nb\\e\" : [! \"1.0923951268883118e-16\"], \"@]|@{\\eX9\\\\\": ! \"47\", \"\\uFEFFa\": {! \"true\": \"]%@`\\_\"}}, \"0\\0\\_\\L\\0'\\P`\\xE9\", !!python/object/apply:decimal.Decimal [\"0.001\"]], ! \"-9.293495787382777e-08\", [{\"\": ! \"-766\", ? \"#_,Z\\P&:#\\uD7FF}\" : !!python/object/apply:decimal.Decimal [\"0.001\"], \"}\\uFEFF\\x9F#\\xE9\\\"X__\": \"\\uD7FF\\xE9 9-\", ? \"\\_*\\r*}\\r\\xE9Ya\\e[\\xE9Xc}c\\eZ#\\x7F\\x01a\\N\\uFFFE\\N\\U0001F600\\_\\x7F#\\L-\\u4E2DX\\t!X0@\\a@0Y#\\xE9}]!]c\\P\\__@ \\N\\a\\xE9\\L`\\n%}\\U0001F600%Z:\\N&\\uE000\\_9\\N|a \\_\\u4E2D\\t:,_\\L>\\P\\xE99{\\_1\\N\\uFFFEb\\uFFFE`[\\L\\uE000\\uE000\\N\\n\\u4E2D| b\\N::#\\_``X0\\t\\x7F\\P1Y\\r |''[\\\"XY\\x9F{@1Y}\\_\" : ! \"740.95452\", \"\\uE000\": {\"\": \"\\ra&`\\a\", \"%X*{-Y'\": ! \"false\", ? \"\\uFFFE-}Z\\u4E2D\\uFEFF*,\\tcY19\\x7F0:]\\0**\\x7F\\uFEFF'}\\\\@\\eb|\\x9F\\xE9-a\\x9F\\r,\\n_\\_\\r\\r\\r]\\0!:-\\x01\\uFFFEb]\\N>\\a11:\\P%|a\\uFFFE\\uFFFE\\x01@ \\0\\L[Y\\x9F%]\\uFFFE\\a\\\"\\n\\uFEFF#\\\"\\uFEFF}\\L#X \\n\\N\\uFFFEY%*1b#\\uE000a'&%_\\r\\x7FZ\\L\\uFFFE:\\U0001F600\\t\\uFEFFX:X\\e{\\x01[!]\\n\\t1\\0a\\N}X|@!%\\uE000`\\P\" : \"\\x9F\\U0001F600\\t\\U0001F600_\\t\\xE9&a@\"}}, !!python/object/apply:decimal.Decimal [\"0.001\"], \"\\r\\Lc:\", {\"\\a\\uE000\": ! \"false\", ? \",}\\u4E2D\\L\\e`\" : [\"\\x9F\\P\\_*\\U0001F600c1\\\\\", \":\", ! \"null\"], \"\\x7F]%\": [\"\\r@a1_#\", \"\\\\\\a:\", ! \"607\"], \"\\x9F\": ! \"-2.6225799999067147e-30\"}], []]",
    "! \"false\"",
    "{! \"true\": ! \"-26753.44908812123\", ! \"5\": [\"\", ! \"352\"]}",
    "\" %!\\uE000\\r\"",
    "{? \"*\\PX \\U0001F600\\uE000[\" : {}, \"-@&\\ta-\": [\"\\x7F#\", [[! \"true\", !!python/object/apply:decimal.Decimal [\"1E+2\"], ! \"7.95858372994725e+245\", ! \"false\"], [], ! \"-401\", {}], {\"\": {! \"null\": ! \"-3.1044967669173075e-58\", ! \"5\": ! \"108\", \":\": \"\\uFEFF*\\uD7FF*[%\"}, ? \"\\n-\\r# \" : ! \"-0.0007810377189431142\", \"9\": [\"\\_Z\\xE9\\L>\", !!python/object/apply:decimal.Decimal [\"12.5\"], ! \"true\", \",-\"], \"a``1\": ! \"-.inf\", \"c:\": \"\\uFEFFb[\"}, []], ? \"\\uFFFE![a\\x01\\r*\\\\\\uD7FF,_\\\\\" : ! \"39\", \"\\U0001F600\\x9FYb \\uFEFF\\x01:X\\uE000%\": [[{! \"-2485.8\": !!python/object/apply:decimal.Decimal [\"-3\"], ! \"-5\": !!python/object/apply:decimal.Decimal [\"1E+2\"], ! \"false\": !!python/object/apply:decimal.Decimal [\"1E+2\"], ! \"true\": ! \"3.3347782419225945e-67\", ! \"3\": \"\\uD7FFa}>\\r\\_&a1Z!a\"}, !!python/object/apply:decimal.Decimal [\"1.50\"]], [\"`\\r|\\a!\"]]}",
    "[{! \"false\": {\"\": {? \"-\\P\" : !!python/object/apply:decimal.Decimal [\"0.001\"], \"0'\": \"%\\n\\a&||_\\uE000\\x01\\_Y\"}, \"1\": {! \"3\": \"*@\"}, \"@{\\U0001F600@-!|{\": ! \"null\", \"|\\U0001F600\\\\\\uFEFF\": {\"\": \"b`'Y\", \"X1\": \"\\\\\", \"\\x9F#\": ! \"false\"}}, ! \"true\": !!python/object/apply:decimal.Decimal [\"-3\"]}]",
    "[]",
    "!!python/object/apply:decimal.Decimal [\"0.001\"]",
    "{}",
    "! \"null\"",
    "\"10]*\\P%>b_,0Z\"",
    "! \"185\"",
    "!!python/object/apply:decimal.Decimal [\"1E+2\"]",
    "\"X0\\uFEFF\\NZ\\n\\e\"",
    "!!python/object/apply:decimal.Decimal [\"12.5\"]",
    "! \"270\"",
    "[! \"-1.7040604109592094e-25\", !!python/object/apply:decimal.Decimal [\"-3\"], ! \"473\"]",
    "{? \" \\x7F\\n]`\\u4E2D0>\" : ! \"5139407861444839007\", ? \"1\\L\\x7F:\" : [\",\\xE9X}#&\"], ? \"Z\\L`@\\xE9\" : \"'\\U0001F600c\\r}b#\\uE000\\r*\"}",
    "\"\\a|:X\"",
    "[]",
    "{! \"true\": !!python/object/apply:decimal.Decimal [\"1.50\"], ! \"3\": [\"\"], ! \"4\": {! \"null\": {\"\": ! \"1357152224126296435\", \"0\\uFEFF&-\\uFEFFX&\": \"\\n\\u4E2D\\uD7FF-\\uFFFE\\r\\U0001F60019\\0\", ? \"9,\\uFEFF\\L\" : \"\\e\\P\", ? \"\\uD7FF&}\\L{\\uD7FF\\u4E2D\\uFFFE\\_\\x9F\\u4E2D\" : !!python/object/apply:decimal.Decimal [\"1.50\"]}, ! \"-3\": {! \"false\": {}, ! \"true\": \"\\x7F&\\xE9\\u4E2D#%\\uFEFF!\\e@\\uE000\"}, ! \"3\": {! \"false\": {\"\": \"[\\\"\\\"\\x7F\", ? \"\\N9Y\\e[&\\r\" : \"c'\\\"c\"}}}}",
    "! \"7483.21069\"",
    "[]",
    "! \"366\"",
    "! \"-206\"",
    "[]",
    "{? \"\\_\\P\" : []}",
    "{? \"0\\uFFFE:\\xE9\\x7F\\r]\\t\" : [[\":}0\\n\\e\", \"!#\\u4E2D\\PZ`\", \"'1\\u4E2DZ\\uFFFEb09%\"], ! \"-7.694302359162233e-161\", [!!python/object/apply:decimal.Decimal [\"12.5\"]]], ! \"null\": [[[!!python/object/apply:decimal.Decimal [\"12.5\"]], [], [\"\\x01\", ! \"5.90689754058753e+22\", !!python/object/apply:decimal.Decimal [\"-3\"], ! \"-1.8702846874035163e-18\"], [! \"-9873.0\", ! \"434\", ! \"null\"]]], \"\\\\\\U0001F600\\u4E2DZ\": [[[! \"8.837294146608754e+29\", \"\\n\\P\\uD7FF\\PX\\\"\\\"\\\"*Z\\P\\a\"], \"'\\u4E2D>\\P#1@-{#1\"], \"X !\"]}",
];

    #[test]
    fn pyyaml_lines_read_back_to_the_same_bytes() {
        for line in PYYAML_LINES {
            let value = yaml::load(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(yaml::to_flow_line(&value), *line);
        }
    }

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Mapping(
            entries
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        )
    }

    #[test]
    fn lava_log_lines_byte_for_byte() {
        // Built in insertion order that is not the sorted order.
        let extra = map(vec![("size", Value::Int(1024))]);
        let msg = map(vec![
            ("result", "pass".into()),
            ("namespace", "common".into()),
            ("level", "1.1.1".into()),
            ("extra", extra),
            ("duration", "3.14".into()),
            ("definition", "lava".into()),
            ("case", "http-download".into()),
        ]);
        let record = map(vec![
            ("msg", msg),
            ("lvl", "results".into()),
            ("dt", "2020-01-15T10:20:03.250000".into()),
        ]);
        let line = r#"{"dt": "2020-01-15T10:20:03.250000", "lvl": "results", "msg": {"case": "http-download", "definition": "lava", "duration": "3.14", "extra": {"size": ! "1024"}, "level": "1.1.1", "namespace": "common", "result": "pass"}}"#;
        assert_eq!(yaml::to_flow_line(&record), line);
        assert_eq!(yaml::load(line).unwrap(), record);

        let target = map(vec![
        ("dt", "2020-01-15T10:20:04.000001".into()),
        ("lvl", "target".into()),
        ("msg", "U-Boot 2019.01 (Jan 15 2020 - 10:20:04 +0000)\r\n\u{1b}[0m\tcaf\u{e9} \u{4e2d} \u{1F600}".into()),
    ]);
        assert_eq!(
            yaml::to_flow_line(&target),
            r#"{"dt": "2020-01-15T10:20:04.000001", "lvl": "target", "msg": "U-Boot 2019.01 (Jan 15 2020 - 10:20:04 +0000)\r\n\e[0m\tcaf\xE9 \u4E2D \U0001F600"}"#
        );

        let measurement = map(vec![
            ("case", "boot-ok".into()),
            ("measurement", Value::Decimal("12.5".into())),
            ("result", "pass".into()),
            ("units", "s".into()),
        ]);
        assert_eq!(
            yaml::to_flow_line(&measurement),
            r#"{"case": "boot-ok", "measurement": !!python/object/apply:decimal.Decimal ["12.5"], "result": "pass", "units": "s"}"#
        );
    }

    #[test]
    fn emitter_scalars_like_pyyaml() {
        // (value, what PyYAML + libyaml printed for the same Python value)
        let cases: Vec<(Value, &str)> = vec![
        (Value::Int(3), r#"! "3""#),
        (Value::Bool(true), r#"! "true""#),
        (Value::Bool(false), r#"! "false""#),
        (Value::Null, r#"! "null""#),
        (Value::Float(1.5), r#"! "1.5""#),
        (Value::Float(1e16), r#"! "1.0e+16""#),
        (Value::Float(1e15), r#"! "1000000000000000.0""#),
        (Value::Float(0.0001), r#"! "0.0001""#),
        (Value::Float(0.00001), r#"! "1.0e-05""#),
        (Value::Float(1e20), r#"! "1.0e+20""#),
        (Value::Float(-0.0), r#"! "-0.0""#),
        (Value::Float(f64::INFINITY), r#"! ".inf""#),
        (Value::Float(f64::NEG_INFINITY), r#"! "-.inf""#),
        (Value::Float(f64::NAN), r#"! ".nan""#),
        (Value::Float(5e-324), r#"! "5.0e-324""#),
        (Value::Float(f64::MAX), r#"! "1.7976931348623157e+308""#),
        (Value::Float(0.1), r#"! "0.1""#),
        (Value::Float(123456789.123), r#"! "123456789.123""#),
        (Value::Decimal("12.5".into()), r#"!!python/object/apply:decimal.Decimal ["12.5"]"#),
        (
            Value::from("tab\tdel\x7fbom\u{feff}e\u{e9}zh\u{4e2d}emoji\u{1F600}"),
            r#""tab\tdel\x7Fbom\uFEFFe\xE9zh\u4E2Demoji\U0001F600""#,
        ),
        (
            Value::from("\0\x07\x08\t\n\x0b\x0c\r\x1b\"\\\u{85}\u{a0}\u{2028}\u{2029}\x01\x1f\u{d7ff}\u{e000}\u{fffd}\u{fffe}"),
            r#""\0\a\b\t\n\v\f\r\e\"\\\N\_\L\P\x01\x1F\uD7FF\uE000\uFFFD\uFFFE""#,
        ),
        (Value::from(""), r#""""#),
        (Value::from("  a  "), r#""  a  ""#),
        (Value::from("'"), r#""'""#),
        (Value::from("true"), r#""true""#),
        (Value::from("3"), r#""3""#),
        (Value::Sequence(vec![]), "[]"),
        (Value::Mapping(Mapping::new()), "{}"),
        (
            Value::Sequence(vec![
                Value::Int(1),
                "a".into(),
                Value::Null,
                Value::Sequence(vec![]),
                Value::Mapping(Mapping::new()),
            ]),
            r#"[! "1", "a", ! "null", [], {}]"#,
        ),
    ];
        for (value, want) in cases {
            assert_eq!(yaml::to_flow_line(&value), want, "{value:?}");
        }
    }

    #[test]
    fn emitter_key_order_and_key_forms_like_pyyaml() {
        let mixed: Mapping = [
            (Value::Int(1), Value::from("a")),
            (Value::from("b"), Value::Int(2)),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            yaml::to_flow_line(&Value::Mapping(mixed)),
            r#"{! "1": "a", "b": ! "2"}"#
        );
        // {2: 'a', 1: 'b', True: 'c'} is {2: 'a', 1: 'c'} in Python.
        let numbers: Mapping = [
            (Value::Int(2), Value::from("a")),
            (Value::Int(1), Value::from("b")),
            (Value::Bool(true), Value::from("c")),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            yaml::to_flow_line(&Value::Mapping(numbers)),
            r#"{! "1": "c", ! "2": "a"}"#
        );
        let floats: Mapping = [
            (Value::Int(2), Value::from("a")),
            (Value::Float(1.5), Value::from("b")),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            yaml::to_flow_line(&Value::Mapping(floats)),
            r#"{! "1.5": "b", ! "2": "a"}"#
        );
        let none: Mapping = [(Value::Null, Value::Int(1))].into_iter().collect();
        assert_eq!(
            yaml::to_flow_line(&Value::Mapping(none)),
            r#"{! "null": ! "1"}"#
        );

        let long = map(vec![(&"a".repeat(129), Value::Int(1))]);
        assert_eq!(
            yaml::to_flow_line(&long),
            format!("{{? \"{}\" : ! \"1\"}}", "a".repeat(129))
        );
        let nested = map(vec![
            (
                "x",
                map(vec![(
                    &"a".repeat(200),
                    map(vec![(&"b".repeat(200), Value::Int(2))]),
                )]),
            ),
            ("y", Value::Int(1)),
        ]);
        assert_eq!(
            yaml::to_flow_line(&nested),
            format!(
                "{{\"x\": {{? \"{}\" : {{? \"{}\" : ! \"2\"}}}}, \"y\": ! \"1\"}}",
                "a".repeat(200),
                "b".repeat(200)
            )
        );
        assert_eq!(
            yaml::to_flow_line(&map(vec![("a\nb", Value::Int(1))])),
            r#"{? "a\nb" : ! "1"}"#
        );
        assert_eq!(
            yaml::to_flow_line(&map(vec![("a\u{85}b", Value::Int(1))])),
            r#"{? "a\Nb" : ! "1"}"#
        );
        // 100 ASCII + 14 × é = 128 bytes: still simple.
        let key = format!("{}{}", "a".repeat(100), "\u{e9}".repeat(14));
        assert_eq!(
            yaml::to_flow_line(&map(vec![(&key, Value::Int(1))])),
            format!("{{\"{}{}\": ! \"1\"}}", "a".repeat(100), "\\xE9".repeat(14))
        );
    }

    #[test]
    fn emitter_tags_like_libyaml() {
        let tagged = |tag: &str, value: Value| {
            Value::from(Tagged {
                tag: tag.into(),
                value,
            })
        };
        let cases = [
            (tagged("!foo", "x".into()), r#"!foo "x""#),
            (
                tagged("tag:example.com,2000:a", "x".into()),
                r#"!<tag:example.com,2000:a> "x""#,
            ),
            (
                tagged("tag:yaml.org,2002:python/name:os.system", "x".into()),
                r#"!!python/name:os.system "x""#,
            ),
            (
                tagged("tag:yaml.org,2002:a!b c", "x".into()),
                r#"!!a%21b%20c "x""#,
            ),
            (tagged("!a b", "x".into()), r#"!a%20b "x""#),
            (tagged("!a\u{e9}b", "x".into()), r#"!a%C3%A9b "x""#),
            (tagged("!a\u{1F600}b", "x".into()), r#"!a%F0%9F%98%80b "x""#),
            (tagged("!", "x".into()), r#"!<%21> "x""#),
            (tagged("!!", "x".into()), r#"!%21 "x""#),
            (
                tagged("tag:yaml.org,2002:", "x".into()),
                r#"!<tag:yaml.org,2002:> "x""#,
            ),
            (tagged("x", "x".into()), r#"!<x> "x""#),
            (
                tagged("!foo", map(vec![("a", "b".into())])),
                r#"!foo {"a": "b"}"#,
            ),
            (
                tagged("!foo", Value::Sequence(vec!["a".into()])),
                r#"!foo ["a"]"#,
            ),
        ];
        for (value, want) in cases {
            assert_eq!(yaml::to_flow_line(&value), want);
        }
        for c in "!\"#%<>\\^`{|}".chars() {
            let line = yaml::to_flow_line(&tagged(&format!("!a{c}b"), "x".into()));
            assert_eq!(line, format!("!a%{:02X}b \"x\"", u32::from(c)));
        }
        for c in "$&'()*+,-./:;=?@[]_~".chars() {
            let line = yaml::to_flow_line(&tagged(&format!("!a{c}b"), "x".into()));
            assert_eq!(line, format!("!a{c}b \"x\""));
        }
    }

    /// A job definition with YAML 1.1 corners; the expected line is PyYAML's
    /// dump of `yaml.safe_load` of it, with the alias PyYAML printed as
    /// `&id001`/`*id001` written out and the date kept as a string (PyYAML
    /// builds a `datetime.date`).
    #[test]
    fn lava_job_definition() {
        let job = r#"# A LAVA job definition with the YAML 1.1 corners people hit.
device_type: beaglebone-black
job_name: bbb smoke test
timeouts:
  job: {minutes: 15}
  action: &short {minutes: 05}
  connection: {seconds: 030}
priority: medium
visibility: public
metadata:
  build-version: 1.10
  git-sha: 0123e45
  port: 22:22
  enabled: on
  answer: n
  released: 2020-01-15
actions:
- deploy:
    timeout: *short
    to: tftp
    kernel:
      url: https://example.com/zImage
      type: zimage
    nfsrootfs:
      url: https://example.com/rootfs.tar.xz
      compression: xz
    os: debian
- boot:
    <<: {method: u-boot, commands: nfs}
    timeout: {<<: *short, seconds: 30}
    prompts: ['root@debian:~#', "/ # "]
    auto_login: {login_prompt: 'login:', username: root}
- test:
    timeout: {minutes: 5}
    definitions:
    - repository: http://git.linaro.org/lava-team/lava-functional-tests.git
      from: git
      path: lava-test-shell/smoke-tests-basic.yaml
      name: smoke-tests
      parameters: {VERBOSE: yes, COUNT: 0x10, RATIO: 1.5e+3, MODE: 0644}
notify:
  criteria: {status: finished}
  verbosity: quiet
  recipients:
  - to: {method: email, email: someone@example.com}
context:
  extra_kernel_args: "console=ttyO0,115200n8 root=/dev/nfs"
  test_character_delay: 10
"#;
        let document = yaml::load_with(job, &Limits::default()).unwrap();
        assert!(document.warnings.is_empty());
        let value = document.value;
        assert_eq!(yaml::to_flow_line(&value), JOB_LINE);
        // Dict order as Python has it (insertion order; merged keys first).
        let keys: Vec<&str> = value
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "device_type",
                "job_name",
                "timeouts",
                "priority",
                "visibility",
                "metadata",
                "actions",
                "notify",
                "context"
            ]
        );
        let boot = value.get("actions").unwrap().as_sequence().unwrap()[1]
            .get("boot")
            .unwrap();
        let keys: Vec<&str> = boot
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            ["method", "commands", "timeout", "prompts", "auto_login"]
        );
        let metadata = value.get("metadata").unwrap();
        assert_eq!(metadata.get("build-version"), Some(&Value::Float(1.1)));
        assert_eq!(metadata.get("port"), Some(&Value::Int(1342)));
        assert_eq!(metadata.get("answer"), Some(&Value::from("n")));
    }

    const JOB_LINE: &str = r#"{"actions": [{"deploy": {"kernel": {"type": "zimage", "url": "https://example.com/zImage"}, "nfsrootfs": {"compression": "xz", "url": "https://example.com/rootfs.tar.xz"}, "os": "debian", "timeout": {"minutes": ! "5"}, "to": "tftp"}}, {"boot": {"auto_login": {"login_prompt": "login:", "username": "root"}, "commands": "nfs", "method": "u-boot", "prompts": ["root@debian:~#", "/ # "], "timeout": {"minutes": ! "5", "seconds": ! "30"}}}, {"test": {"definitions": [{"from": "git", "name": "smoke-tests", "parameters": {"COUNT": ! "16", "MODE": ! "420", "RATIO": ! "1500.0", "VERBOSE": ! "true"}, "path": "lava-test-shell/smoke-tests-basic.yaml", "repository": "http://git.linaro.org/lava-team/lava-functional-tests.git"}], "timeout": {"minutes": ! "5"}}}], "context": {"extra_kernel_args": "console=ttyO0,115200n8 root=/dev/nfs", "test_character_delay": ! "10"}, "device_type": "beaglebone-black", "job_name": "bbb smoke test", "metadata": {"answer": "n", "build-version": ! "1.1", "enabled": ! "true", "git-sha": "0123e45", "port": ! "1342", "released": "2020-01-15"}, "notify": {"criteria": {"status": "finished"}, "recipients": [{"to": {"email": "someone@example.com", "method": "email"}}], "verbosity": "quiet"}, "priority": "medium", "timeouts": {"action": {"minutes": ! "5"}, "connection": {"seconds": ! "24"}, "job": {"minutes": ! "15"}}, "visibility": "public"}"#;

    #[test]
    fn python_tags_are_never_executed() {
        let v = yaml::load("m: !!python/object/apply:decimal.Decimal [\"1.5\"]").unwrap();
        assert_eq!(v.get("m"), Some(&Value::Decimal("1.5".into())));
        let v = yaml::load("!!python/tuple [1, two]").unwrap();
        assert_eq!(v, Value::Sequence(vec![Value::Int(1), "two".into()]));
        for (document, tag, inner) in [
            (
                "!!python/name:os.system",
                "tag:yaml.org,2002:python/name:os.system",
                Value::from(""),
            ),
            (
                "!!python/object/apply:os.system ['rm -rf /']",
                "tag:yaml.org,2002:python/object/apply:os.system",
                Value::Sequence(vec!["rm -rf /".into()]),
            ),
            ("!custom 3", "!custom", Value::from("3")),
            ("!<!custom> 3", "!custom", Value::from("3")),
            (
                "!!binary aGVsbG8=",
                "tag:yaml.org,2002:binary",
                Value::from("aGVsbG8="),
            ),
            (
                "!!set {a, b}",
                "tag:yaml.org,2002:set",
                map(vec![("a", Value::Null), ("b", Value::Null)]),
            ),
            (
                "%TAG !e! tag:example.com,2000:\n---\n!e!foo bar",
                "tag:example.com,2000:foo",
                Value::from("bar"),
            ),
        ] {
            let want = Value::from(Tagged {
                tag: tag.into(),
                value: inner,
            });
            assert_eq!(yaml::load(document).unwrap(), want, "{document}");
        }
        // Verbatim and shorthand spellings of core tags are the same tag.
        assert_eq!(
            yaml::load("!<tag:yaml.org,2002:int> \"5\"").unwrap(),
            Value::Int(5)
        );
        assert_eq!(
            yaml::load("%TAG !x! tag:yaml.org,2002:\n---\n!x!int \"5\"").unwrap(),
            Value::Int(5)
        );
        // Decimals must be well-formed.
        for bad in [
            "!!python/object/apply:decimal.Decimal [\"abc\"]",
            "!!python/object/apply:decimal.Decimal [1, 2]",
            "!!python/object/apply:decimal.Decimal \"1\"",
            "!!python/tuple {a: 1}",
        ] {
            assert_eq!(
                yaml::load(bad).unwrap_err().kind(),
                ErrorKind::Construct,
                "{bad}"
            );
        }
    }

    /// Where this loader knowingly differs from PyYAML (each was checked with
    /// PyYAML 6.0.3).
    #[test]
    fn known_differences_from_pyyaml() {
        // PyYAML builds datetime.date / datetime.datetime.
        assert_eq!(yaml::load("2020-01-15").unwrap(), Value::from("2020-01-15"));
        assert_eq!(
            yaml::load("!!timestamp 2020-01-15").unwrap(),
            Value::from("2020-01-15")
        );
        // PyYAML keeps big integers exact.
        assert_eq!(
            yaml::load("99999999999999999999").unwrap(),
            Value::Float(1e20)
        );
        assert_eq!(
            yaml::load("9223372036854775808").unwrap(),
            Value::Float((1u64 << 63) as f64)
        );
        // PyYAML refuses tabs outside quoted and block scalars, and empty keys
        // in flow collections; the parser here follows YAML 1.2 and accepts them.
        assert_eq!(
            yaml::load("\tkey: v").unwrap(),
            map(vec![("key", "v".into())])
        );
        assert_eq!(
            yaml::load("{: a}")
                .unwrap()
                .as_mapping()
                .unwrap()
                .get_value(&Value::Null),
            Some(&Value::from("a"))
        );
        // U+2028 and U+2029 are line breaks in YAML 1.1: PyYAML reads this
        // literal block as "x\u{2028}y\n".
        assert_eq!(
            yaml::load("a: |\n  x\u{2028}  y\n").unwrap(),
            map(vec![("a", "x\u{2028}  y\n".into())])
        );
        // PyYAML: "expected '<document start>', but found '<document end>'".
        assert_eq!(yaml::load("...\n").unwrap(), Value::Null);
        // PyYAML's SafeLoader refuses unknown tags; here they are opaque.
        assert!(matches!(
            yaml::load("!custom {a: 1}").unwrap(),
            Value::Tagged(_)
        ));
    }

    #[test]
    fn error_messages_name_the_place() {
        let cases = [
        ("a: b: c", "line 1 column 5: mapping values are not allowed in this context", ErrorKind::Syntax),
        ("a: 1\nb: *foo\n", "line 2 column 4: unknown alias *foo", ErrorKind::UnknownAlias),
        (
            "a\n---\nb",
            "line 2 column 1: expected a single document in the stream, but found another document",
            ErrorKind::MultipleDocuments,
        ),
        (
            "a: 1\n...\n---\n",
            "line 3 column 1: expected a single document in the stream, but found another document",
            ErrorKind::MultipleDocuments,
        ),
        ("x: !!int \"abc\"", "line 1 column 4: invalid literal for int() with base 10: \"abc\"", ErrorKind::Construct),
        (
            "c:\n  <<: 3\n",
            "line 2 column 7: expected a mapping or list of mappings for merging, but found scalar",
            ErrorKind::Construct,
        ),
        (
            "c:\n  <<: [{a: 1}, [1]]\n",
            "line 2 column 7: expected a mapping for merging, but found sequence",
            ErrorKind::Construct,
        ),
        ("{[1]: 2}", "line 1 column 2: found unhashable key (a sequence cannot be a mapping key)", ErrorKind::Construct),
        (
            "a: &x 1\nb: &x 2\n",
            "line 2 column 4: found duplicate anchor &x (first occurrence at line 1 column 4)",
            ErrorKind::DuplicateAnchor,
        ),
        ("&a [1, *a]", "line 1 column 8: alias *a is inside the node it refers to (recursive structures are not supported)", ErrorKind::RecursiveAlias),
        ("ok: 1\nbad: \u{1b}[0m", "line 2 column 6: unacceptable character #x001b: special characters are not allowed", ErrorKind::InvalidCharacter),
        ("a: =", "line 1 column 4: could not determine a constructor for the tag 'tag:yaml.org,2002:value' (quote '=' to use it as a string)", ErrorKind::Construct),
        ("- <<", "line 1 column 3: could not determine a constructor for the tag 'tag:yaml.org,2002:merge' (a '<<' merge key can only be a mapping key)", ErrorKind::Construct),
        ("! \"*\"", "line 1 column 1: could not determine a constructor for the tag 'tag:yaml.org,2002:yaml'", ErrorKind::Construct),
        ("!!str [1]", "line 1 column 1: expected a scalar node, but found sequence", ErrorKind::Construct),
        ("!!seq {a: 1}", "line 1 column 1: expected a sequence node, but found mapping", ErrorKind::Construct),
    ];
        for (document, message, kind) in cases {
            let err = yaml::load(document).unwrap_err();
            assert_eq!(err.to_string(), message, "{document:?}");
            assert_eq!(err.kind(), kind, "{document:?}");
            assert!(err.line().is_some() && err.column().is_some());
        }
    }

    #[test]
    fn size_limit_is_checked_first() {
        let big = format!("a: \"{}\"", "x".repeat(12_000_000 - 5));
        assert_eq!(big.len(), 12_000_000);
        let err = yaml::load(&big).unwrap_err();
        assert_eq!(
            err.to_string(),
            "document exceeds the 10485760-byte limit (12000000 bytes)"
        );
        assert_eq!(
            (err.kind(), err.line(), err.column()),
            (ErrorKind::TooLarge, None, None)
        );
        let small = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(yaml::load_with("0123456789", &small).is_ok());
        assert_eq!(
            yaml::load_with("01234567890", &small).unwrap_err().kind(),
            ErrorKind::TooLarge
        );
        assert_eq!(
            yaml::load_bytes(b"01234567890", &small).unwrap_err().kind(),
            ErrorKind::TooLarge
        );
    }

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn nesting_limit() {
        assert!(yaml::load(&nested(128)).is_ok());
        let err = yaml::load(&nested(129)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1 column 129: nesting deeper than 128 levels"
        );
        // Block nesting, one level per line.
        let block: String = (0..200)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let err = yaml::load(&block).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 129 column 129: nesting deeper than 128 levels"
        );
        let limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        assert!(yaml::load_with("a: {b: [1]}", &limits).is_ok());
        let err = yaml::load_with("a: {b: [[1]]}", &limits).unwrap_err();
        assert_eq!(
            (err.kind(), err.line(), err.column()),
            (ErrorKind::TooDeep, Some(1), Some(9))
        );
    }

    #[test]
    fn hostile_nesting_never_overflows_the_stack() {
        let n = 50_000;
        for document in [
            "[".repeat(n),
            "{a: ".repeat(n),
            "- ".repeat(n),
            "? ".repeat(n),
            "!!seq [".repeat(n),
            "&a [".repeat(n),
            "{[".repeat(n),
            "[\n".repeat(n),
            nested(n),
        ] {
            let err = yaml::load(&document).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::TooDeep, "{}: {err}", &document[..8]);
        }
    }

    #[test]
    fn aliases_cannot_exceed_the_depth_limit() {
        // 100 levels under an anchor, pasted 40 levels deep.
        let deep = format!("{}x{}", "[".repeat(100), "]".repeat(100));
        let document = format!(
            "a: &deep {deep}\nb: {}*deep{}\n",
            "[".repeat(40),
            "]".repeat(40)
        );
        let err = yaml::load(&document).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooDeep);
        assert_eq!(err.line(), Some(2));
        let document = format!(
            "a: &deep {deep}\nb: {}*deep{}\n",
            "[".repeat(26),
            "]".repeat(26)
        );
        assert!(yaml::load(&document).is_ok());
    }

    #[test]
    fn billion_laughs_fails_fast() {
        let mut document =
            String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let p = i - 1;
            document.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
        }
        let start = Instant::now();
        let err = yaml::load(&document).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AliasBomb);
        assert_eq!(
            err.to_string(),
            "line 5 column 45: alias expansion exceeds 100000 nodes (alias bomb?)"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        // The budget is the number of nodes copied.
        let limits = Limits {
            max_alias_expansion: 11 * 3,
            ..Limits::default()
        };
        let three = "- &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n- *a\n- *a\n- *a\n";
        assert!(yaml::load_with(three, &limits).is_ok());
        let four = format!("{three}- *a\n");
        assert_eq!(yaml::load_with(&four, &limits).unwrap_err().line(), Some(5));
    }

    #[test]
    fn anchors_and_aliases_copy_values() {
        let v = yaml::load("x: &a [1, &b {c: d}]\ny: [*a, *b]\nz: &s text\nw: *s\n").unwrap();
        let x = v.get("x").unwrap();
        assert_eq!(
            v.get("y").unwrap(),
            &Value::Sequence(vec![x.clone(), x.as_sequence().unwrap()[1].clone()])
        );
        assert_eq!(v.get("w"), Some(&Value::from("text")));
        // An anchored merge key, like PyYAML.
        let v = yaml::load("base: &base {a: 1}\nk: &m <<\n").unwrap_err();
        assert_eq!(v.kind(), ErrorKind::Construct);
        let v = yaml::load("- &m <<: {a: 1}\n- {*m : {b: 2}}\n").unwrap();
        assert_eq!(v.as_sequence().unwrap()[1], map(vec![("b", Value::Int(2))]));
    }

    #[test]
    fn merge_keys_follow_pyyaml() {
        let v =
            yaml::load("A: &A {x: 1}\nB: &B {y: 2, x: 3}\nc:\n  <<: [*A, *B]\n  w: 0\n").unwrap();
        let c = v.get("c").unwrap();
        let keys: Vec<&str> = c
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(keys, ["y", "x", "w"]);
        assert_eq!(c.get("x"), Some(&Value::Int(1)));
        let v = yaml::load("A: &A {x: 1, <<: {q: 5}}\nc:\n  k: 1\n  <<: *A\n").unwrap();
        let c = v.get("c").unwrap();
        let keys: Vec<&str> = c
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(keys, ["q", "x", "k"]);
        // Quoted "<<" is an ordinary key; `!!merge` makes any key a merge.
        assert_eq!(
            yaml::load("{'<<': {a: 1}}").unwrap(),
            map(vec![("<<", map(vec![("a", Value::Int(1))]))])
        );
        assert_eq!(
            yaml::load("{!!merge x: {a: 1}}").unwrap(),
            map(vec![("a", Value::Int(1))])
        );
    }

    #[test]
    fn duplicate_keys_warn_and_the_last_wins() {
        let document = yaml::load_with(
            "name: first\nother: 1\nlist:\n  - {a: 1, a: 2}\nname: second\n",
            &Limits::default(),
        )
        .unwrap();
        let keys: Vec<&str> = document
            .value
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(keys, ["name", "other", "list"]);
        assert_eq!(document.value.get("name"), Some(&Value::from("second")));
        assert_eq!(
        document.warnings,
        [
            Warning {
                line: 4,
                message: "duplicate key 'a' (first at line 4, again at line 4); the last value is used".into()
            },
            Warning {
                line: 5,
                message: "duplicate key 'name' (first at line 1, again at line 5); the last value is used".into()
            },
        ]
    );
        // Python dict keys: 1, 1.0 and true are one key.
        let document = yaml::load_with("{1: a, 1.0: b, true: c}", &Limits::default()).unwrap();
        assert_eq!(yaml::to_flow_line(&document.value), r#"{! "1": "c"}"#);
        assert_eq!(document.warnings.len(), 2);
        assert!(document.warnings[0]
            .message
            .starts_with("duplicate key ! \"1\""));
    }

    #[test]
    fn documents() {
        assert_eq!(yaml::load("").unwrap(), Value::Null);
        assert_eq!(yaml::load("# only a comment\n").unwrap(), Value::Null);
        assert_eq!(yaml::load("---\n").unwrap(), Value::Null);
        assert_eq!(yaml::load("---\na\n...\n").unwrap(), Value::from("a"));
        assert_eq!(
            yaml::load("\u{feff}a: 1").unwrap(),
            map(vec![("a", Value::Int(1))])
        );
    }

    #[test]
    fn bytes() {
        let limits = Limits::default();
        assert_eq!(
            yaml::load_bytes(b"\xef\xbb\xbfa: 1", &limits)
                .unwrap()
                .value,
            map(vec![("a", Value::Int(1))])
        );
        assert_eq!(
            yaml::load_bytes("\u{e9}: \u{fc}".as_bytes(), &limits)
                .unwrap()
                .value,
            map(vec![("\u{e9}", "\u{fc}".into())])
        );
        let err = yaml::load_bytes(b"a: 1\nb: caf\xe9\n", &limits).unwrap_err();
        assert_eq!(err.to_string(), "invalid UTF-8 at byte offset 11");
        assert_eq!(err.kind(), ErrorKind::InvalidUtf8);
        // UTF-16 is not accepted.
        assert_eq!(
            yaml::load_bytes(b"\xff\xfea\x00", &limits)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidUtf8
        );
    }

    #[test]
    fn many_small_mappings() {
        let text: String = (0..20_000)
            .map(|i| format!("- {{name: item-{i}, value: {i}, ok: yes}}\n"))
            .collect();
        let value = yaml::load(&text).unwrap();
        let items = value.as_sequence().unwrap();
        assert_eq!(items.len(), 20_000);
        assert_eq!(items[19_999].get("value"), Some(&Value::Int(19_999)));
        let keys: String = (0..5_000).map(|i| format!("k{i}: {i}\n")).collect();
        let value = yaml::load(&keys).unwrap();
        assert_eq!(value.as_mapping().unwrap().len(), 5_000);
        assert_eq!(value.get("k4999"), Some(&Value::Int(4999)));
    }

    // ---------------------------------------------------------------------------
    // Properties

    /// The loader may refuse anything, but only for a reason: never a panic
    /// (which `Internal` would report) and never a hang.
    fn check_no_internal_error(text: &str) -> Result<(), TestCaseError> {
        match yaml::load_with(text, &Limits::default()) {
            Err(err) if err.kind() == ErrorKind::Internal => {
                Err(TestCaseError::fail(format!("{text:?}: {err}")))
            }
            Err(err) => {
                prop_assert!(!err.to_string().is_empty());
                Ok(())
            }
            Ok(_) => Ok(()),
        }
    }

    const TOKENS: &[&str] = &[
        "[",
        "]",
        "{",
        "}",
        ":",
        ": ",
        ",",
        "- ",
        "-",
        "&a ",
        "&b ",
        "*a",
        "*b",
        "!!",
        "!!int ",
        "!!str ",
        "! ",
        "!x ",
        "!!python/tuple ",
        "\"",
        "'",
        "\\",
        "\n",
        "  ",
        " ",
        "\t",
        "<<",
        "<< : ",
        "? ",
        "?",
        "|",
        ">",
        "|-",
        "#",
        "%YAML 1.1\n",
        "%TAG !e! tag:e,2000:\n",
        "---",
        "...",
        "a",
        "b",
        "1",
        "0x1F",
        "1:30",
        "~",
        "yes",
        "=",
        ".inf",
        "\u{e9}",
        "\u{feff}",
        "\\x41",
        "\\u00e9",
        "@",
        "`",
        "%",
    ];

    fn yamlish() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|parts| parts.concat())
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<f64>()
                .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
                .prop_map(Value::Float),
            any::<String>().prop_map(Value::String),
            "[ -~\u{e9}\u{4e2d}\u{1F600}\t\n\r\u{85}\u{2028}]{0,20}".prop_map(Value::String),
            "[+-]?[0-9]{1,6}(\\.[0-9]{0,4})?([eE][+-]?[0-9]{1,2})?".prop_map(Value::Decimal),
        ]
    }

    fn key() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => "[a-z_]{1,10}".prop_map(Value::String),
            1 => scalar(),
            1 => "[a-z]{125,135}".prop_map(Value::String),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Sequence),
                prop::collection::vec((key(), inner.clone()), 0..6)
                    .prop_map(|entries| Value::Mapping(entries.into_iter().collect())),
                (
                    prop::sample::select(vec![
                        "!custom",
                        "tag:yaml.org,2002:python/name:x.y",
                        "tag:example.com,2000:app/t"
                    ]),
                    prop_oneof![
                        any::<String>().prop_map(Value::String),
                        prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Sequence),
                        prop::collection::vec((key(), inner), 0..3)
                            .prop_map(|entries| Value::Mapping(entries.into_iter().collect())),
                    ]
                )
                    .prop_map(|(tag, value)| Value::from(Tagged {
                        tag: tag.into(),
                        value
                    })),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn never_fails_internally_on_any_string(text in any::<String>()) {
            check_no_internal_error(&text)?;
        }

        #[test]
        fn never_fails_internally_on_printable_text(text in "[ -~\t\n\u{e9}\u{feff}]{0,300}") {
            check_no_internal_error(&text)?;
        }

        #[test]
        fn never_fails_internally_on_yamlish_text(text in yamlish()) {
            check_no_internal_error(&text)?;
        }

        #[test]
        fn never_fails_internally_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            if let Err(err) = yaml::load_bytes(&bytes, &Limits::default()) {
                prop_assert_ne!(err.kind(), ErrorKind::Internal, "{:?}: {}", bytes, err);
            }
        }

        #[test]
        fn emitted_lines_load_back_to_the_same_value(value in value()) {
            let line = yaml::to_flow_line(&value);
            prop_assert!(line.is_ascii() && !line.contains('\n'), "{}", line);
            let loaded = yaml::load(&line).map_err(|e| TestCaseError::fail(format!("{line}: {e}")))?;
            prop_assert_eq!(&loaded, &value, "{}", line);
            prop_assert_eq!(yaml::to_flow_line(&loaded), line);
        }
    }
}
