//! CURVE certificates in the text format of pyzmq's `zmq.auth`, which LAVA's
//! daemons read and LAVA's `create_certificate.py` writes.
//!
//! A key pair is two files: `NAME.key` holds the public key and can be
//! handed out; `NAME.key_secret` holds both keys and must stay on its
//! machine (written with mode 0600). Keys are 40-character Z85 strings.
//!
//! ```text
//! #   ****  Generated on 2026-11-26 02:32:25.000000 by lava-create-certificate  ****
//! #   (comment lines)
//!
//! metadata
//! curve
//!     public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
//!     secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
//! ```
//!
//! Reading is as lenient as pyzmq's: comment and blank lines are skipped,
//! section headers are not checked, the value is what follows the first `=`
//! with spaces, tabs and quotes trimmed; a `.key_secret` file also works
//! where a public certificate is expected.
//!
//! ```
//! use lava_proto::cert::{self, KeyPair};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let pair = KeyPair::generate().unwrap();
//! let (public, secret) = cert::write_pair(dir.path(), "worker1", &pair, false).unwrap();
//! assert_eq!(cert::load_public(&public).unwrap(), pair.public);
//! assert_eq!(cert::load_public(&secret).unwrap(), pair.public);
//! assert_eq!(cert::load_pair(&secret).unwrap(), pair);
//! assert!(cert::load_pair(&public).is_err()); // no secret key in NAME.key
//! ```

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::time::UtcTime;

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;

/// Errors of certificate handling. Messages name the file.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The certificate file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file has no `public-key` line.
    #[error("{path}: no public-key in the certificate")]
    NoPublicKey {
        /// The certificate file.
        path: PathBuf,
    },
    /// A secret key was needed but the file has none.
    #[error("{path}: no secret-key in the certificate (is this the public .key file instead of .key_secret?)")]
    NoSecretKey {
        /// The certificate file.
        path: PathBuf,
    },
    /// A key is not 40 characters of Z85.
    #[error("{path}: {which} is not a 40-character Z85 key")]
    BadKey {
        /// The certificate file.
        path: PathBuf,
        /// `public-key` or `secret-key`.
        which: &'static str,
    },
    /// The secret key does not belong to the public key in the same file.
    #[error("{path}: secret-key does not match public-key")]
    Mismatch {
        /// The certificate file.
        path: PathBuf,
    },
    /// Refusing to replace existing files.
    #[error("{path} already exists (use --force to overwrite)")]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// A certificate name that would escape the directory or is empty.
    #[error("invalid certificate name '{name}': use letters, digits, '.', '-' and '_'")]
    BadName {
        /// The rejected name.
        name: String,
    },
    /// The CURVE library failed (not built with libsodium).
    #[error("CURVE key generation failed: {0}")]
    Curve(String),
}

/// A CURVE public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; KEY_LEN]);

/// A CURVE secret key. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub [u8; KEY_LEN]);

impl PublicKey {
    /// The 40-character Z85 text.
    pub fn to_z85(&self) -> String {
        z85(&self.0)
    }

    /// Parse 40 characters of Z85.
    pub fn from_z85(text: &str) -> Option<Self> {
        unz85(text).map(PublicKey)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_z85())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_z85())
    }
}

impl SecretKey {
    /// The 40-character Z85 text. Handle with care: this is the secret.
    pub fn to_z85(&self) -> String {
        z85(&self.0)
    }

    /// Parse 40 characters of Z85.
    pub fn from_z85(text: &str) -> Option<Self> {
        unz85(text).map(SecretKey)
    }

    /// The public key that belongs to this secret key.
    pub fn public_key(&self) -> Result<PublicKey, CertError> {
        crate::ffi::curve_public(&self.0)
            .map(PublicKey)
            .map_err(|e| CertError::Curve(e.to_string()))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A CURVE key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The public half.
    pub public: PublicKey,
    /// The secret half.
    pub secret: SecretKey,
}

impl KeyPair {
    /// Generate a fresh key pair with libzmq (libsodium's random source).
    pub fn generate() -> Result<KeyPair, CertError> {
        let pair = zmq::CurveKeyPair::new().map_err(|e| CertError::Curve(e.to_string()))?;
        Ok(KeyPair {
            public: PublicKey(pair.public_key),
            secret: SecretKey(pair.secret_key),
        })
    }
}

/// What a certificate file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The public key (always present).
    pub public: PublicKey,
    /// The secret key (only in `.key_secret` files).
    pub secret: Option<SecretKey>,
}

/// Read a certificate file with pyzmq's rules.
pub fn load(path: &Path) -> Result<Certificate, CertError> {
    let text = fs::read(path).map_err(|source| CertError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&String::from_utf8_lossy(&text), path)
}

/// Parse certificate text; `path` is only used in errors.
pub fn parse(text: &str, path: &Path) -> Result<Certificate, CertError> {
    let mut public = None;
    let mut secret = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let slot = if line.starts_with("public-key") {
            &mut public
        } else if line.starts_with("secret-key") {
            &mut secret
        } else {
            continue;
        };
        let value = line
            .split_once('=')
            .map(|(_, v)| v.trim_matches([' ', '\t', '\'', '"']))
            .unwrap_or("");
        *slot = Some(value.to_string());
        if public.is_some() && secret.is_some() {
            break;
        }
    }
    let bad = |which| CertError::BadKey {
        path: path.to_path_buf(),
        which,
    };
    let public = public.ok_or_else(|| CertError::NoPublicKey {
        path: path.to_path_buf(),
    })?;
    let public = PublicKey::from_z85(&public).ok_or_else(|| bad("public-key"))?;
    let secret = match secret {
        None => None,
        Some(text) => Some(SecretKey::from_z85(&text).ok_or_else(|| bad("secret-key"))?),
    };
    Ok(Certificate { public, secret })
}

/// Load the public key of a certificate (`NAME.key` or `NAME.key_secret`).
pub fn load_public(path: &Path) -> Result<PublicKey, CertError> {
    load(path).map(|cert| cert.public)
}

/// Load a key pair from a `NAME.key_secret` file, checking that both keys
/// belong together.
pub fn load_pair(path: &Path) -> Result<KeyPair, CertError> {
    let cert = load(path)?;
    let secret = cert.secret.ok_or_else(|| CertError::NoSecretKey {
        path: path.to_path_buf(),
    })?;
    if secret.public_key()? != cert.public {
        return Err(CertError::Mismatch {
            path: path.to_path_buf(),
        });
    }
    Ok(KeyPair {
        public: cert.public,
        secret,
    })
}

/// The text of a public certificate.
pub fn public_text(public: &PublicKey, generated: &UtcTime) -> String {
    format!(
        "#   ****  Generated on {generated} by lava-create-certificate  ****\n\
         #   CURVE public certificate of a LAVA master or worker.\n\
         #   It holds no secret: copy it to the machines that must trust this\n\
         #   key (a worker's goes into the master's authorised directory,\n\
         #   the master's onto every worker).\n\
         \n\
         metadata\n\
         curve\n    public-key = \"{public}\"\n"
    )
}

/// The text of a secret certificate.
pub fn secret_text(pair: &KeyPair, generated: &UtcTime) -> String {
    format!(
        "#   ****  Generated on {generated} by lava-create-certificate  ****\n\
         #   CURVE secret certificate of a LAVA master or worker.\n\
         #   Keep it on this machine only, readable by the daemon alone.\n\
         \n\
         metadata\n\
         curve\n    public-key = \"{}\"\n    secret-key = \"{}\"\n",
        pair.public,
        pair.secret.to_z85()
    )
}

/// Whether `name` is a safe certificate file stem.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Write `DIR/NAME.key` (mode 0644) and `DIR/NAME.key_secret` (mode 0600),
/// creating `DIR` if needed.
///
/// Without `overwrite`, nothing is written if either file exists. Each file
/// is written to a temporary name and renamed into place, so a reader never
/// sees half a certificate and the secret is never readable by others.
pub fn write_pair(
    dir: &Path,
    name: &str,
    pair: &KeyPair,
    overwrite: bool,
) -> Result<(PathBuf, PathBuf), CertError> {
    if !valid_name(name) {
        return Err(CertError::BadName {
            name: name.to_string(),
        });
    }
    fs::create_dir_all(dir).map_err(|source| CertError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let public_path = dir.join(format!("{name}.key"));
    let secret_path = dir.join(format!("{name}.key_secret"));
    if !overwrite {
        for path in [&public_path, &secret_path] {
            if path.symlink_metadata().is_ok() {
                return Err(CertError::Exists { path: path.clone() });
            }
        }
    }
    let now = UtcTime::now();
    write_atomically(&secret_path, secret_text(pair, &now).as_bytes(), 0o600)?;
    write_atomically(
        &public_path,
        public_text(&pair.public, &now).as_bytes(),
        0o644,
    )?;
    Ok((public_path, secret_path))
}

fn write_atomically(path: &Path, data: &[u8], mode: u32) -> Result<(), CertError> {
    let io = |source| CertError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have removed bits from `mode`; never add any.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(data)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

fn z85(key: &[u8; KEY_LEN]) -> String {
    zmq::z85_encode(key).expect("32 bytes is a multiple of 4")
}

fn unz85(text: &str) -> Option<[u8; KEY_LEN]> {
    if text.len() != 40 {
        return None;
    }
    zmq::z85_decode(text).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    const SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

    #[test]
    fn secret_derives_its_public_key() {
        // The key pair from the CurveZMQ test vectors (RFC 32).
        let secret = SecretKey::from_z85(SECRET).unwrap();
        assert_eq!(secret.public_key().unwrap().to_z85(), PUBLIC);
    }

    #[test]
    fn parsing_is_as_lenient_as_pyzmq() {
        let text =
            "  # comment\n\n  whatever\n public-key='rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7'\t\n";
        let cert = parse(text, Path::new("x.key")).unwrap();
        assert_eq!(cert.public.to_z85(), PUBLIC);
        assert!(cert.secret.is_none());
    }

    #[test]
    fn errors_name_the_file_and_problem() {
        let err = parse("metadata\ncurve\n", Path::new("/etc/w.key")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/w.key: no public-key in the certificate"
        );
        let err = parse("public-key = \"short\"", Path::new("w.key")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "w.key: public-key is not a 40-character Z85 key"
        );
    }

    #[test]
    fn mismatched_pair_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let other = KeyPair::generate().unwrap();
        let path = dir.path().join("bad.key_secret");
        fs::write(
            &path,
            format!(
                "curve\n public-key = \"{}\"\n secret-key = \"{SECRET}\"\n",
                other.public
            ),
        )
        .unwrap();
        assert!(matches!(load_pair(&path), Err(CertError::Mismatch { .. })));
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let pair = KeyPair {
            public: PublicKey::from_z85(PUBLIC).unwrap(),
            secret: SecretKey::from_z85(SECRET).unwrap(),
        };
        assert!(!format!("{pair:?}").contains(SECRET));
    }

    #[test]
    fn names_cannot_escape_the_directory() {
        for bad in ["", ".", "..", "../x", "a/b", "x y"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(valid_name("worker-01.lab_a"));
    }
}
