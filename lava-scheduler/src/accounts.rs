//! Accounts: users, groups and API tokens, in the master's store.
//!
//! The store keeps what the HTTP service needs to decide who is asking:
//! a user's password as a PHC string made by the caller's key-derivation
//! function (never the password), and of each API token only its digest
//! (never the token). Hashing and token generation live with the HTTP
//! service (`lava-web`), so that this crate needs no cryptography.
//!
//! ```
//! use lava_scheduler::accounts::{Accounts, NewUser};
//! use lava_scheduler::SqlStore;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = SqlStore::open_url(&format!("sqlite://{}/lava.db", dir.path().display())).unwrap();
//! store.add_user(&NewUser::new("alice")).unwrap();
//! store.add_group("lkft").unwrap();
//! store.add_user_to_group("alice", "lkft").unwrap();
//! let id = store.add_token("alice", "ci", "digest-of-a-secret").unwrap();
//! let (user, token) = store.user_by_token_digest("digest-of-a-secret").unwrap().unwrap();
//! assert_eq!((user.username.as_str(), token.id), ("alice", id));
//! assert_eq!(user.groups, ["lkft"]);
//! ```

use crate::db::{Conn, Row};
use crate::error::StoreError;
use crate::model::{now_micros, ApiToken, Group, Timestamp, User};
use crate::store::SqlStore;

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The login name.
    pub username: String,
    /// Where notifications go.
    pub email: String,
    /// The password's PHC string, if the user may log in with a password.
    pub password_hash: Option<String>,
    /// An administrator.
    pub is_superuser: bool,
}

impl NewUser {
    /// An ordinary user without e-mail or password.
    pub fn new(username: impl Into<String>) -> NewUser {
        NewUser {
            username: username.into(),
            email: String::new(),
            password_hash: None,
            is_superuser: false,
        }
    }
}

/// Changes to an account; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// New e-mail address.
    pub email: Option<String>,
    /// New password hash (`Some(None)` removes the password).
    pub password_hash: Option<Option<String>>,
    /// Make or unmake an administrator.
    pub is_superuser: Option<bool>,
    /// Activate or deactivate.
    pub is_active: Option<bool>,
}

/// Users, groups and tokens.
pub trait Accounts {
    /// Add a user.
    fn add_user(&self, user: &NewUser) -> Result<User, StoreError>;
    /// One user, with their groups.
    fn user(&self, username: &str) -> Result<User, StoreError>;
    /// All users, by name.
    fn users(&self) -> Result<Vec<User>, StoreError>;
    /// Change a user.
    fn update_user(&self, username: &str, update: &UserUpdate) -> Result<User, StoreError>;
    /// Add a group.
    fn add_group(&self, name: &str) -> Result<Group, StoreError>;
    /// All groups, by name.
    fn groups(&self) -> Result<Vec<Group>, StoreError>;
    /// Put a user in a group.
    fn add_user_to_group(&self, username: &str, group: &str) -> Result<(), StoreError>;
    /// Store a token's digest for a user; returns the token's id.
    fn add_token(&self, username: &str, description: &str, digest: &str)
        -> Result<i64, StoreError>;
    /// A user's tokens (never the secrets).
    fn tokens(&self, username: &str) -> Result<Vec<ApiToken>, StoreError>;
    /// Revoke one of a user's tokens.
    fn remove_token(&self, username: &str, id: i64) -> Result<(), StoreError>;
    /// The active user owning the token with this digest, and the token
    /// (its `last_used` is updated at most once a minute).
    fn user_by_token_digest(&self, digest: &str) -> Result<Option<(User, ApiToken)>, StoreError>;
    /// Store a web session (the digest of its cookie) for a user, valid
    /// until `expires`; expired sessions of everyone are removed.
    fn add_session(
        &self,
        username: &str,
        digest: &str,
        expires: Timestamp,
    ) -> Result<(), StoreError>;
    /// The active user of an unexpired session.
    fn session_user(&self, digest: &str) -> Result<Option<User>, StoreError>;
    /// End a session (logout); ending an unknown one is not an error.
    fn remove_session(&self, digest: &str) -> Result<(), StoreError>;
}

const USER_COLUMNS: &str = "username, email, password_hash, is_superuser, is_active, date_joined";

fn user_from(conn: &mut dyn Conn, row: &Row) -> Result<User, StoreError> {
    let username = row.text(0)?;
    let groups = conn
        .query(
            "SELECT g.name FROM user_groups u JOIN groups g ON g.id = u.group_id WHERE u.username = $1 ORDER BY g.name",
            &[username.as_str().into()],
        )?
        .iter()
        .map(|row| row.text(0))
        .collect::<Result<_, _>>()?;
    Ok(User {
        username,
        email: row.text(1)?,
        password_hash: row.opt_text(2)?,
        is_superuser: row.bool(3)?,
        is_active: row.bool(4)?,
        date_joined: row.int(5)?,
        groups,
    })
}

fn token_from(row: &Row) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: row.int(0)?,
        username: row.text(1)?,
        description: row.text(2)?,
        created: row.int(3)?,
        last_used: row.opt_int(4)?,
    })
}

fn user_in(conn: &mut dyn Conn, username: &str) -> Result<User, StoreError> {
    let row = conn
        .query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"),
            &[username.into()],
        )?
        .ok_or_else(|| StoreError::NotFound {
            kind: "user",
            name: username.to_string(),
        })?;
    user_from(conn, &row)
}

/// Names people type and URLs carry: letters, digits and `@.+-_`, as
/// Django's usernames.
fn check_name(kind: &str, name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 150
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Refused(format!(
            "{kind} name '{name}' is not valid: use 1 to 150 letters, digits and @.+-_"
        )))
    }
}

impl Accounts for SqlStore {
    fn add_user(&self, user: &NewUser) -> Result<User, StoreError> {
        check_name("user", &user.username)?;
        self.database().transaction(|conn| {
            if conn
                .query_opt("SELECT 1 FROM users WHERE username = $1", &[user.username.as_str().into()])?
                .is_some()
            {
                return Err(StoreError::Exists {
                    kind: "user",
                    name: user.username.clone(),
                });
            }
            conn.execute(
                "INSERT INTO users (username, email, password_hash, is_superuser, is_active, date_joined) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    user.username.as_str().into(),
                    user.email.as_str().into(),
                    user.password_hash.clone().into(),
                    user.is_superuser.into(),
                    true.into(),
                    now_micros().into(),
                ],
            )?;
            log::info!(
                "[user {}] added{}",
                user.username,
                if user.is_superuser { " (superuser)" } else { "" }
            );
            user_in(conn, &user.username)
        })
    }

    fn user(&self, username: &str) -> Result<User, StoreError> {
        self.database().transaction(|conn| user_in(conn, username))
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.database().transaction(|conn| {
            let rows = conn.query(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"),
                &[],
            )?;
            rows.iter().map(|row| user_from(conn, row)).collect()
        })
    }

    fn update_user(&self, username: &str, update: &UserUpdate) -> Result<User, StoreError> {
        self.database().transaction(|conn| {
            let current = user_in(conn, username)?;
            let email = update.email.clone().unwrap_or(current.email);
            let password = update
                .password_hash
                .clone()
                .unwrap_or(current.password_hash);
            let superuser = update.is_superuser.unwrap_or(current.is_superuser);
            let active = update.is_active.unwrap_or(current.is_active);
            conn.execute(
                "UPDATE users SET email = $1, password_hash = $2, is_superuser = $3, is_active = $4 WHERE username = $5",
                &[
                    email.into(),
                    password.into(),
                    superuser.into(),
                    active.into(),
                    username.into(),
                ],
            )?;
            log::info!("[user {username}] updated (superuser: {superuser}, active: {active})");
            user_in(conn, username)
        })
    }

    fn add_group(&self, name: &str) -> Result<Group, StoreError> {
        check_name("group", name)?;
        self.database().transaction(|conn| {
            if conn
                .query_opt("SELECT 1 FROM groups WHERE name = $1", &[name.into()])?
                .is_some()
            {
                return Err(StoreError::Exists {
                    kind: "group",
                    name: name.to_string(),
                });
            }
            let id = conn
                .query_opt(
                    "INSERT INTO groups (name) VALUES ($1) RETURNING id",
                    &[name.into()],
                )?
                .ok_or_else(|| StoreError::database("INSERT ... RETURNING gave no row"))?
                .int(0)?;
            Ok(Group {
                id,
                name: name.to_string(),
            })
        })
    }

    fn groups(&self) -> Result<Vec<Group>, StoreError> {
        self.database().transaction(|conn| {
            conn.query("SELECT id, name FROM groups ORDER BY name", &[])?
                .iter()
                .map(|row| {
                    Ok(Group {
                        id: row.int(0)?,
                        name: row.text(1)?,
                    })
                })
                .collect()
        })
    }

    fn add_user_to_group(&self, username: &str, group: &str) -> Result<(), StoreError> {
        self.database().transaction(|conn| {
            user_in(conn, username)?;
            let group_id = conn
                .query_opt("SELECT id FROM groups WHERE name = $1", &[group.into()])?
                .ok_or_else(|| StoreError::NotFound {
                    kind: "group",
                    name: group.to_string(),
                })?
                .int(0)?;
            conn.execute(
                "INSERT INTO user_groups (username, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[username.into(), group_id.into()],
            )?;
            Ok(())
        })
    }

    fn add_token(
        &self,
        username: &str,
        description: &str,
        digest: &str,
    ) -> Result<i64, StoreError> {
        self.database().transaction(|conn| {
            user_in(conn, username)?;
            let id = conn
                .query_opt(
                    "INSERT INTO tokens (username, description, digest, created) VALUES ($1, $2, $3, $4) RETURNING id",
                    &[username.into(), description.into(), digest.into(), now_micros().into()],
                )?
                .ok_or_else(|| StoreError::database("INSERT ... RETURNING gave no row"))?
                .int(0)?;
            log::info!("[user {username}] token {id} added ({description})");
            Ok(id)
        })
    }

    fn tokens(&self, username: &str) -> Result<Vec<ApiToken>, StoreError> {
        self.database().transaction(|conn| {
            user_in(conn, username)?;
            conn.query(
                "SELECT id, username, description, created, last_used FROM tokens WHERE username = $1 ORDER BY id",
                &[username.into()],
            )?
            .iter()
            .map(token_from)
            .collect()
        })
    }

    fn remove_token(&self, username: &str, id: i64) -> Result<(), StoreError> {
        self.database().transaction(|conn| {
            let removed = conn.execute(
                "DELETE FROM tokens WHERE username = $1 AND id = $2",
                &[username.into(), id.into()],
            )?;
            if removed == 0 {
                return Err(StoreError::NotFound {
                    kind: "token",
                    name: format!("{id} of user {username}"),
                });
            }
            log::info!("[user {username}] token {id} revoked");
            Ok(())
        })
    }

    fn user_by_token_digest(&self, digest: &str) -> Result<Option<(User, ApiToken)>, StoreError> {
        let found = self.database().transaction(|conn| {
            let Some(row) = conn.query_opt(
                "SELECT id, username, description, created, last_used FROM tokens WHERE digest = $1",
                &[digest.into()],
            )?
            else {
                return Ok(None);
            };
            let token = token_from(&row)?;
            let user = user_in(conn, &token.username)?;
            Ok(user.is_active.then_some((user, token)))
        })?;
        // Recording the use is not worth a write per request.
        if let Some((_, token)) = &found {
            let now = now_micros();
            if token.last_used.is_none_or(|t| now - t > 60_000_000) {
                self.database().transaction(|conn| {
                    conn.execute(
                        "UPDATE tokens SET last_used = $1 WHERE id = $2",
                        &[now.into(), token.id.into()],
                    )
                })?;
            }
        }
        Ok(found)
    }

    fn add_session(
        &self,
        username: &str,
        digest: &str,
        expires: Timestamp,
    ) -> Result<(), StoreError> {
        let now = now_micros();
        self.database().transaction(|conn| {
            user_in(conn, username)?;
            conn.execute("DELETE FROM sessions WHERE expires < $1", &[now.into()])?;
            conn.execute(
                "INSERT INTO sessions (digest, username, created, expires) VALUES ($1, $2, $3, $4)",
                &[digest.into(), username.into(), now.into(), expires.into()],
            )?;
            Ok(())
        })
    }

    fn session_user(&self, digest: &str) -> Result<Option<User>, StoreError> {
        let now = now_micros();
        self.database().transaction(|conn| {
            let Some(row) = conn.query_opt(
                "SELECT username FROM sessions WHERE digest = $1 AND expires >= $2",
                &[digest.into(), now.into()],
            )?
            else {
                return Ok(None);
            };
            let user = user_in(conn, &row.text(0)?)?;
            Ok(user.is_active.then_some(user))
        })
    }

    fn remove_session(&self, digest: &str) -> Result<(), StoreError> {
        self.database().transaction(|conn| {
            conn.execute("DELETE FROM sessions WHERE digest = $1", &[digest.into()])?;
            Ok(())
        })
    }
}
