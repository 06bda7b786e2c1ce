//! Exporting a job's test results in LAVA's shapes (docs/scheduler.md §7.4):
//! YAML and CSV records as LAVA's results API gives them, JUnit XML for CI
//! systems, and a plain table for people.
//!
//! ```
//! use lava_scheduler::model::{TestCase, TestResultCode};
//! use lava_scheduler::results::{export, Format};
//!
//! let case = TestCase {
//!     id: 7, job: 3, suite: "0_smoke".into(), set: None, name: "boot".into(),
//!     result: TestResultCode::Pass, measurement: Some("12.5".into()), units: "s".into(),
//!     metadata: None, start_log_line: Some(40), end_log_line: Some(41), logged: 0,
//! };
//! let csv = export(&[case], Format::Csv);
//! assert!(csv.starts_with("job,suite,result,measurement,unit,duration,timeout,logged,level,metadata,url,name,id,log_start_line,log_end_line\n"));
//! assert!(csv.contains("\"3\",\"0_smoke\",\"pass\",\"12.5\",\"s\""));
//! ```

use std::fmt::Write as _;

use lava_proto::time::UtcTime;
use lava_proto::yaml::{self, Mapping, Value};

use crate::model::{TestCase, TestResultCode};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// A YAML list of LAVA's test-case records.
    Yaml,
    /// LAVA's CSV columns, every field quoted.
    Csv,
    /// JUnit XML: one `testsuite` per LAVA suite.
    Junit,
}

impl Format {
    /// Parse `table`, `yaml`, `csv` or `junit`.
    pub fn parse(text: &str) -> Option<Format> {
        match text.to_ascii_lowercase().as_str() {
            "table" => Some(Format::Table),
            "yaml" => Some(Format::Yaml),
            "csv" => Some(Format::Csv),
            "junit" => Some(Format::Junit),
            _ => None,
        }
    }
}

/// Export `cases` (one job's, in storage order).
pub fn export(cases: &[TestCase], format: Format) -> String {
    match format {
        Format::Table => table(cases),
        Format::Yaml => yaml_records(cases),
        Format::Csv => csv(cases),
        Format::Junit => junit(cases),
    }
}

fn logged(case: &TestCase) -> String {
    UtcTime::from_unix(
        case.logged.div_euclid(1_000_000),
        (case.logged.rem_euclid(1_000_000)) as u32,
    )
    .to_string()
}

fn metadata(case: &TestCase) -> Mapping {
    case.metadata
        .as_deref()
        .and_then(|text| yaml::load(text).ok())
        .and_then(|v| v.as_mapping().cloned())
        .unwrap_or_default()
}

fn level(case: &TestCase) -> String {
    if case.suite != "lava" {
        return String::new();
    }
    metadata(case)
        .get("level")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn line(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// The fields of LAVA's test-case record, in its CSV column order.
fn record(case: &TestCase) -> Vec<(&'static str, String)> {
    vec![
        ("job", case.job.to_string()),
        ("suite", case.suite.clone()),
        ("result", case.result.label().to_string()),
        (
            "measurement",
            case.measurement.clone().unwrap_or_else(|| "None".into()),
        ),
        ("unit", case.units.clone()),
        // LAVA's record never fills these two; the columns are kept so that
        // scripts written for LAVA's CSV keep working.
        ("duration", String::new()),
        ("timeout", String::new()),
        ("logged", logged(case)),
        ("level", level(case)),
        (
            "metadata",
            yaml::to_flow_line(&Value::Mapping(metadata(case))),
        ),
        ("url", format!("/results/testcase/{}", case.id)),
        ("name", case.name.clone()),
        ("id", case.id.to_string()),
        ("log_start_line", line(case.start_log_line)),
        ("log_end_line", line(case.end_log_line)),
    ]
}

fn csv(cases: &[TestCase]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::new();
    let header: Vec<&str> = record(&TestCase::default_like())
        .iter()
        .map(|(k, _)| *k)
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for case in cases {
        let fields: Vec<String> = record(case).iter().map(|(_, v)| quote(v)).collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

fn yaml_records(cases: &[TestCase]) -> String {
    let mut out = String::new();
    for case in cases {
        let mut map = Mapping::new();
        for (key, value) in record(case) {
            if key == "metadata" {
                map.insert(key, Value::Mapping(metadata(case)));
            } else if key != "duration" && key != "timeout" {
                map.insert(key, Value::String(value));
            }
        }
        let _ = writeln!(out, "- {}", yaml::to_flow_line(&Value::Mapping(map)));
    }
    if cases.is_empty() {
        out.push_str("[]\n");
    }
    out
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn junit(cases: &[TestCase]) -> String {
    let mut suites: Vec<(&str, Vec<&TestCase>)> = Vec::new();
    for case in cases {
        match suites.iter_mut().find(|(name, _)| *name == case.suite) {
            Some((_, list)) => list.push(case),
            None => suites.push((&case.suite, vec![case])),
        }
    }
    let count =
        |list: &[&TestCase], r: TestResultCode| list.iter().filter(|c| c.result == r).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
        cases.len(),
        cases
            .iter()
            .filter(|c| c.result == TestResultCode::Fail)
            .count(),
        cases
            .iter()
            .filter(|c| matches!(c.result, TestResultCode::Skip | TestResultCode::Unknown))
            .count()
    );
    for (suite, list) in &suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            xml(suite),
            list.len(),
            count(list, TestResultCode::Fail),
            count(list, TestResultCode::Skip) + count(list, TestResultCode::Unknown)
        );
        for case in list {
            let classname = match &case.set {
                Some(set) => format!("{suite}.{set}"),
                None => suite.to_string(),
            };
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\"",
                xml(&case.name),
                xml(&classname)
            );
            let mut body = String::new();
            if let Some(m) = &case.measurement {
                let _ = writeln!(
                    body,
                    "      <system-out>measurement: {} {}</system-out>",
                    xml(m),
                    xml(&case.units)
                );
            }
            match case.result {
                TestResultCode::Fail => body.push_str("      <failure message=\"fail\"/>\n"),
                TestResultCode::Skip => body.push_str("      <skipped/>\n"),
                TestResultCode::Unknown => body.push_str("      <skipped message=\"unknown\"/>\n"),
                TestResultCode::Pass => {}
            }
            if body.is_empty() {
                out.push_str("/>\n");
            } else {
                let _ = write!(out, ">\n{body}    </testcase>\n");
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn table(cases: &[TestCase]) -> String {
    let rows: Vec<[String; 4]> = cases
        .iter()
        .map(|c| {
            let name = match &c.set {
                Some(set) => format!("{set}/{}", c.name),
                None => c.name.clone(),
            };
            let measurement = c
                .measurement
                .as_ref()
                .map(|m| format!("{m} {}", c.units).trim().to_string())
                .unwrap_or_default();
            [
                c.suite.clone(),
                name,
                c.result.label().to_string(),
                measurement,
            ]
        })
        .collect();
    let headers = ["SUITE", "TEST CASE", "RESULT", "MEASUREMENT"];
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push = |cells: &[String; 4]| {
        let line: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    };
    push(&headers.map(str::to_string));
    for row in &rows {
        push(row);
    }
    let passed = cases
        .iter()
        .filter(|c| c.result == TestResultCode::Pass)
        .count();
    let failed = cases
        .iter()
        .filter(|c| c.result == TestResultCode::Fail)
        .count();
    let _ = writeln!(
        out,
        "{} test cases: {passed} passed, {failed} failed, {} other",
        cases.len(),
        cases.len() - passed - failed
    );
    out
}

impl TestCase {
    fn default_like() -> TestCase {
        TestCase {
            id: 0,
            job: 0,
            suite: String::new(),
            set: None,
            name: String::new(),
            result: TestResultCode::Unknown,
            measurement: None,
            units: String::new(),
            metadata: None,
            start_log_line: None,
            end_log_line: None,
            logged: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(
        id: i64,
        suite: &str,
        set: Option<&str>,
        name: &str,
        result: TestResultCode,
    ) -> TestCase {
        TestCase {
            id,
            job: 12,
            suite: suite.into(),
            set: set.map(Into::into),
            name: name.into(),
            result,
            metadata: Some(format!(
                r#"{{"case": "{name}", "definition": "{suite}", "level": "1.2", "result": "{}"}}"#,
                result.label()
            )),
            ..TestCase::default_like()
        }
    }

    fn sample() -> Vec<TestCase> {
        vec![
            case(1, "lava", None, "http-download", TestResultCode::Pass),
            case(2, "0_smoke", Some("boot"), "uname", TestResultCode::Fail),
            case(3, "0_smoke", None, "a<b", TestResultCode::Skip),
        ]
    }

    #[test]
    fn csv_has_lavas_columns_and_quotes_everything() {
        let text = export(&sample(), Format::Csv);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "job,suite,result,measurement,unit,duration,timeout,logged,level,metadata,url,name,id,log_start_line,log_end_line"
        );
        let first = lines.next().unwrap();
        assert!(
            first.starts_with(
                r#""12","lava","pass","None","","","","1970-01-01 00:00:00.000000","1.2","#
            ),
            "{first}"
        );
        assert!(
            first.ends_with(r#","/results/testcase/1","http-download","1","","""#),
            "{first}"
        );
        // The level is only reported for the lava suite.
        assert!(lines
            .next()
            .unwrap()
            .contains(r#""fail","None","","","","1970-01-01 00:00:00.000000","","#));
    }

    #[test]
    fn yaml_records_load_back() {
        let text = export(&sample(), Format::Yaml);
        let value = yaml::load(&text).unwrap();
        let records = value.as_sequence().unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(
            records[1].get("result").and_then(Value::as_str),
            Some("fail")
        );
        assert_eq!(
            records[1]
                .get("metadata")
                .and_then(|m| m.get("case"))
                .and_then(Value::as_str),
            Some("uname")
        );
        assert_eq!(
            records[0].get("url").and_then(Value::as_str),
            Some("/results/testcase/1")
        );
        assert_eq!(export(&[], Format::Yaml), "[]\n");
    }

    #[test]
    fn junit_groups_by_suite_and_escapes() {
        let text = export(&sample(), Format::Junit);
        assert!(
            text.contains(r#"<testsuites tests="3" failures="1" skipped="1">"#),
            "{text}"
        );
        assert!(
            text.contains(r#"<testsuite name="0_smoke" tests="2" failures="1" skipped="1">"#),
            "{text}"
        );
        assert!(
            text.contains(r#"<testcase name="uname" classname="0_smoke.boot">"#),
            "{text}"
        );
        assert!(
            text.contains(r#"<testcase name="a&lt;b" classname="0_smoke">"#),
            "{text}"
        );
        assert!(
            text.contains(r#"<testcase name="http-download" classname="lava"/>"#),
            "{text}"
        );
    }

    #[test]
    fn table_summarises() {
        let text = export(&sample(), Format::Table);
        assert!(
            text.starts_with("SUITE    TEST CASE      RESULT  MEASUREMENT\n"),
            "{text}"
        );
        assert!(
            text.ends_with("3 test cases: 1 passed, 1 failed, 1 other\n"),
            "{text}"
        );
    }
}
