//! The filters LAVA registers on its template environment after 2020.01,
//! so that current upstream templates render too.
//!
//! | filter | since | what it does |
//! |---|---|---|
//! | `shlex_quote` | 2024.01 | Python's `shlex.quote`: quotes a string for a POSIX shell |
//! | `yaml_quote` | 2024.01 | the value as one line of YAML in double-quoted flow style, as PyYAML's C dumper writes it (`"a"`, `! "3"`, `["a", ! "true"]`) |
//! | `qemu_guest_fs_interface(iface)` | 2026.07 | on an architecture: `iface` when it is not empty, else `ide` for `amd64`, `x86_64` and `i386` and `virtio` for the others |
//!
//! LAVA 2020.01 had none of them; a template that uses one fails to render
//! there, and renders here.

use minijinja::value::{Value as JValue, ValueKind};
use minijinja::{Error, ErrorKind};

use crate::context::to_yaml;

/// The architectures whose QEMU machine has an IDE controller.
const X86_ARCHS: [&str; 3] = ["amd64", "x86_64", "i386"];

/// `arch|qemu_guest_fs_interface(guestfs_interface)`.
pub(crate) fn qemu_guest_fs_interface(arch: JValue, interface: Option<JValue>) -> JValue {
    if let Some(interface) = interface {
        if interface.is_true() {
            return interface;
        }
    }
    let x86 = arch.as_str().is_some_and(|a| X86_ARCHS.contains(&a));
    JValue::from(if x86 { "ide" } else { "virtio" })
}

/// `value|shlex_quote`: the string unchanged when it only holds
/// characters a shell never interprets (ASCII letters, digits and
/// `@%+=:,./-_`), else in single quotes with each `'` written `'"'"'`;
/// `''` for the empty string.
pub(crate) fn shlex_quote(value: JValue) -> Result<JValue, Error> {
    let s = value.as_str().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("shlex_quote expects a string, got {}", value.kind()),
        )
    })?;
    Ok(JValue::from(shell_quote(s)))
}

/// Python's `shlex.quote`.
pub fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let safe = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\"'\"'"))
    }
}

/// `value|yaml_quote`.
pub(crate) fn yaml_quote(value: JValue) -> Result<JValue, Error> {
    if value.kind() == ValueKind::Undefined {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "yaml_quote of an undefined value",
        ));
    }
    let yaml = to_yaml(&value)?;
    Ok(JValue::from(lava_proto::yaml::to_flow_line(&yaml)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_is_shlex_quote() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("telnet-01:7000/a.b"), "telnet-01:7000/a.b");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\"'\"'s'");
        assert_eq!(shell_quote("é"), "'é'");
    }

    #[test]
    fn guest_fs_interface_defaults_by_architecture() {
        let f = |arch: &str, iface: Option<&str>| {
            qemu_guest_fs_interface(JValue::from(arch), iface.map(JValue::from)).to_string()
        };
        assert_eq!(f("amd64", None), "ide");
        assert_eq!(f("i386", Some("")), "ide");
        assert_eq!(f("arm64", None), "virtio");
        assert_eq!(f("arm64", Some("scsi")), "scsi");
        assert_eq!(
            qemu_guest_fs_interface(JValue::UNDEFINED, Some(JValue::UNDEFINED)).to_string(),
            "virtio"
        );
    }

    #[test]
    fn yaml_quote_writes_what_pyyaml_c_dumper_writes() {
        // Expected texts produced with PyYAML 6.0.3 (CSafeDumper,
        // default_style='"', flow style), as LAVA's yaml_quote does.
        let q = |v: JValue| yaml_quote(v).unwrap().to_string();
        assert_eq!(q(JValue::from("abc")), r#""abc""#);
        assert_eq!(q(JValue::from(3)), r#"! "3""#);
        assert_eq!(q(JValue::from(1.5)), r#"! "1.5""#);
        assert_eq!(q(JValue::from(true)), r#"! "true""#);
        assert_eq!(q(JValue::from(())), r#"! "null""#);
        assert_eq!(q(JValue::from(1e16)), r#"! "1.0e+16""#);
        assert_eq!(
            q(JValue::from(vec![JValue::from("a"), JValue::from(1)])),
            r#"["a", ! "1"]"#
        );
        assert_eq!(
            q(JValue::from_pairs([
                ("b", JValue::from(1)),
                ("a", JValue::from(vec![JValue::from(true)]))
            ])),
            r#"{"a": [! "true"], "b": ! "1"}"#
        );
        assert_eq!(q(JValue::from("é\t\n\"\\")), r#""\xE9\t\n\"\\""#);
    }
}
