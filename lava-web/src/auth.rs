//! Who is asking: credentials from the request, checked against the
//! store's token digests.
//!
//! - XML-RPC clients send HTTP Basic `USER:TOKEN` (lavacli writes them into
//!   the URL); the token must belong to that user.
//! - REST clients send `Authorization: Token TOKEN`.
//! - No credentials: an anonymous caller, who may read public data only.
//!
//! A bad credential is never treated as anonymous: the request is refused
//! (XML-RPC: HTTP 401; REST: 403), and the refusal is logged with the user
//! named and the client's address, never with the token.

use std::net::SocketAddr;

use axum::http::HeaderMap;
use base64::Engine as _;
use lava_scheduler::accounts::Accounts;
use lava_scheduler::model::{User, Viewer};

use crate::secrets::token_digest;
use crate::server::AppState;

/// An authenticated (or anonymous) caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The account, if any.
    pub user: Option<User>,
    /// Where the request came from.
    pub address: SocketAddr,
}

impl Caller {
    /// The visibility rules' view of the caller.
    pub fn viewer(&self) -> Viewer {
        self.user.as_ref().map_or(Viewer::Anonymous, User::viewer)
    }

    /// The username, or `anonymous`.
    pub fn name(&self) -> &str {
        self.user
            .as_ref()
            .map_or("anonymous", |u| u.username.as_str())
    }

    /// An administrator.
    pub fn is_superuser(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_superuser)
    }

    /// Log a refusal, for admins to grep (`[HTTP] refused`).
    pub fn refused(&self, what: &str, why: &str) {
        log::warn!(
            "[HTTP] refused {what} for {} from {}: {why}",
            self.name(),
            self.address
        );
    }
}

/// The client's address (the accept loop records it on every request).
pub(crate) fn peer(parts: &axum::http::request::Parts) -> SocketAddr {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// Credentials as sent.
enum Credentials {
    None,
    Basic { user: String, secret: String },
    Token(String),
    Malformed(&'static str),
}

fn credentials(headers: &HeaderMap) -> Credentials {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Credentials::None;
    };
    let Ok(value) = value.to_str() else {
        return Credentials::Malformed("the Authorization header is not text");
    };
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer") {
        if rest.is_empty() {
            return Credentials::Malformed("no token after 'Token'");
        }
        return Credentials::Token(rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        return match decoded.as_deref().and_then(|d| d.split_once(':')) {
            Some((user, secret)) if !user.is_empty() => Credentials::Basic {
                user: user.to_string(),
                secret: secret.to_string(),
            },
            _ => Credentials::Malformed("malformed Basic credentials"),
        };
    }
    Credentials::Malformed("unknown authorization scheme")
}

/// Why credentials were refused (the message is safe to log and answer).
#[derive(Debug)]
pub(crate) struct AuthFailure {
    pub user: String,
    pub reason: String,
}

/// Identify the caller of a request.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    address: SocketAddr,
) -> Result<Caller, AuthFailure> {
    let (claimed, token) = match credentials(headers) {
        Credentials::None => {
            return Ok(Caller {
                user: None,
                address,
            })
        }
        Credentials::Malformed(why) => {
            return Err(AuthFailure {
                user: "unknown".into(),
                reason: why.into(),
            })
        }
        Credentials::Basic { user, secret } => (Some(user), secret),
        Credentials::Token(token) => (None, token),
    };
    let digest = token_digest(&token);
    let found = state
        .blocking(move |s| s.store.user_by_token_digest(&digest))
        .await;
    let claimed_name = claimed.clone().unwrap_or_else(|| "unknown".into());
    match found {
        Ok(Some((user, _token))) => {
            if claimed.as_ref().is_some_and(|c| *c != user.username) {
                return Err(AuthFailure {
                    user: claimed_name,
                    reason: "the token belongs to another user".into(),
                });
            }
            Ok(Caller {
                user: Some(user),
                address,
            })
        }
        Ok(None) => Err(AuthFailure {
            user: claimed_name,
            reason: "unknown or revoked token, or inactive user".into(),
        }),
        Err(e) => Err(AuthFailure {
            user: claimed_name,
            reason: format!("the store failed: {e}"),
        }),
    }
}

impl AuthFailure {
    /// Log the refusal.
    pub fn log(&self, address: SocketAddr, path: &str) {
        log::warn!(
            "[HTTP] refused {path} for {} from {address}: invalid credentials ({})",
            self.user,
            self.reason
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(axum::http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn credentials_are_read_from_basic_and_token_headers() {
        assert!(matches!(credentials(&HeaderMap::new()), Credentials::None));
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:s3cret:x");
        match credentials(&header(&format!("Basic {basic}"))) {
            Credentials::Basic { user, secret } => {
                assert_eq!((user.as_str(), secret.as_str()), ("alice", "s3cret:x"))
            }
            _ => panic!("not basic"),
        }
        assert!(matches!(credentials(&header("Token abc")), Credentials::Token(t) if t == "abc"));
        assert!(matches!(
            credentials(&header("Token ")),
            Credentials::Malformed(_)
        ));
        assert!(matches!(
            credentials(&header("Basic !!!")),
            Credentials::Malformed(_)
        ));
        assert!(matches!(
            credentials(&header("Digest x")),
            Credentials::Malformed(_)
        ));
    }
}
