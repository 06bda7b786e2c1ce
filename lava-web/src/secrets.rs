//! Passwords and API tokens: what is stored is never the secret.
//!
//! - Passwords are hashed with Argon2id (the `argon2` crate's defaults, a
//!   random salt per password) into a PHC string.
//! - Tokens are 48 random characters from the operating system's generator;
//!   the store keeps their SHA-256 digest. A token is high-entropy, so a
//!   fast digest is enough, and the lookup by digest needs no per-user salt.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use crate::error::WebError;

/// The alphabet of tokens: lower-case letters and digits, as LAVA's.
const TOKEN_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// The length of a new token.
pub const TOKEN_LENGTH: usize = 48;

fn random_bytes(n: usize) -> Result<Vec<u8>, WebError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| WebError::Random(e.to_string()))?;
    Ok(buf)
}

/// A new random API token (shown once to its owner; store [`token_digest`]).
pub fn new_token() -> Result<String, WebError> {
    let mut token = String::with_capacity(TOKEN_LENGTH);
    while token.len() < TOKEN_LENGTH {
        for b in random_bytes(64)? {
            // rejection sampling keeps every character equally likely
            if (b as usize) < 256 - 256 % TOKEN_ALPHABET.len() && token.len() < TOKEN_LENGTH {
                token.push(TOKEN_ALPHABET[b as usize % TOKEN_ALPHABET.len()] as char);
            }
        }
    }
    Ok(token)
}

/// The digest the store keeps for a token (lower-case hex SHA-256).
pub fn token_digest(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hash a password into a PHC string (Argon2id, random salt).
pub fn hash_password(password: &str) -> Result<String, WebError> {
    if password.is_empty() {
        return Err(WebError::Refused("a password cannot be empty".into()));
    }
    let salt =
        SaltString::encode_b64(&random_bytes(16)?).map_err(|e| WebError::Random(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| WebError::Refused(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches a PHC string made by [`hash_password`].
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_digest_matches() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), TOKEN_LENGTH);
        assert!(a.bytes().all(|c| TOKEN_ALPHABET.contains(&c)));
        assert_ne!(a, b);
        assert_eq!(token_digest(&a), token_digest(&a));
        assert_ne!(token_digest(&a), token_digest(&b));
        assert_eq!(token_digest(&a).len(), 64);
    }

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("correct horse"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a phc string"));
        assert!(hash_password("").is_err());
    }
}
