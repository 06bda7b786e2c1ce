//! The certificate file format, byte for byte (docs/protocol.md §13.1).
//!
//! The key pair in the golden files is the published CurveZMQ example pair
//! from libzmq's documentation, never a real secret.

use std::path::Path;

use lava_proto::cert::{self, KeyPair, PublicKey, SecretKey};
use lava_proto::time::UtcTime;

const GOLDEN_PUBLIC: &str = include_str!("golden/master.key");
const GOLDEN_SECRET: &str = include_str!("golden/master.key_secret");

fn example_pair() -> KeyPair {
    KeyPair {
        public: PublicKey::from_z85("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7").unwrap(),
        secret: SecretKey::from_z85("JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6").unwrap(),
    }
}

#[test]
fn writer_output_is_byte_exact() {
    let when = UtcTime::from_unix(1_579_083_072, 345_678);
    let pair = example_pair();
    assert_eq!(cert::public_text(&pair.public, &when), GOLDEN_PUBLIC);
    assert_eq!(cert::secret_text(&pair, &when), GOLDEN_SECRET);
}

#[test]
fn golden_files_load() {
    let pair = example_pair();
    let public = cert::parse(GOLDEN_PUBLIC, Path::new("master.key")).unwrap();
    assert_eq!((public.public, public.secret), (pair.public, None));
    let secret = cert::parse(GOLDEN_SECRET, Path::new("master.key_secret")).unwrap();
    assert_eq!(secret.public, pair.public);
    assert_eq!(secret.secret, Some(pair.secret));
}

#[test]
fn pyzmq_layout_with_other_comments_and_metadata_loads() {
    // What pyzmq's writer produces (own comment wording here), including a
    // metadata entry and CRLF line ends from a file edited on Windows.
    let text = "#   ****  Generated on 2017-02-01 09:00:00.123456 by pyzmq  ****\r\n\
                #   any comment\r\n\r\nmetadata\r\n    owner = \"lab\"\r\ncurve\r\n\
                \x20   public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\r\n\
                \x20   secret-key = \"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6\"\r\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slave.key_secret");
    std::fs::write(&path, text).unwrap();
    assert_eq!(cert::load_pair(&path).unwrap(), example_pair());
}

#[test]
fn missing_file_names_the_path() {
    let err = cert::load(Path::new("/nonexistent/dir/master.key")).unwrap_err();
    assert!(
        err.to_string().starts_with("/nonexistent/dir/master.key: "),
        "{err}"
    );
}
