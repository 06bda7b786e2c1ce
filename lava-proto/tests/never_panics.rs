//! Decoding never panics, whatever bytes a peer sends (a bounded property
//! test that CI runs on every change).

use lava_proto::control::{Command, Message};
use lava_proto::log::{LogMessage, LogRecord, ResultRecord};
use proptest::prelude::*;

fn frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        "[0-9 +_-]{0,12}".prop_map(String::into_bytes),
        Just(lava_proto::xz::compress(b"job: 1\n")),
    ]
}

fn command_frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::sample::select(Command::ALL.to_vec()).prop_map(|c| c.name().as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 0..12),
    ]
}

fn messages() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (command_frame(), proptest::collection::vec(frame(), 0..9)).prop_map(|(first, mut rest)| {
        rest.insert(0, first);
        rest
    })
}

/// Text that looks like log lines: fragments of YAML flow syntax and tags.
fn yamlish() -> impl Strategy<Value = String> {
    let token = proptest::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ", ",
        ": ",
        "\"dt\"",
        "\"lvl\"",
        "\"msg\"",
        "\"results\"",
        "\"marker\"",
        "! ",
        "!!python/object/apply:decimal.Decimal ",
        "!!python/tuple ",
        "!!int ",
        "&a ",
        "*a",
        "\"",
        "'",
        "\\x",
        "\\u12",
        "3",
        "1.5",
        "yes",
        "<<",
        "\n",
        "  ",
        "- ",
        "? ",
        "|",
        ">",
        "\"case\"",
        "\"definition\"",
        "\"result\"",
        "\"pass\"",
    ]);
    proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn control_decode_never_panics(frames in messages()) {
        if let Ok(Message::End(end)) = Message::decode(&frames) {
            let _ = end.description();
        }
    }

    #[test]
    fn decode_accepts_exactly_what_encode_produces(frames in messages()) {
        // Whatever decodes must re-encode to the canonical form of the same
        // message, and that form decodes to the same message.
        if let Ok(message) = Message::decode(&frames) {
            prop_assert_eq!(Message::decode(&message.encode()).unwrap(), message);
        }
    }

    #[test]
    fn log_decode_never_panics(frames in proptest::collection::vec(frame(), 0..4)) {
        let _ = LogMessage::decode(&frames);
    }

    #[test]
    fn log_line_reader_never_panics(line in yamlish()) {
        if let Ok(record) = LogRecord::parse(&line) {
            let _ = ResultRecord::from_msg(&record.msg);
            let _ = record.to_line();
        }
    }

    #[test]
    fn log_line_reader_never_panics_on_random_text(line in any::<String>()) {
        let _ = LogRecord::parse(&line);
    }
}
