//! `lava-server manage users|groups|tokens ...`: accounts for the HTTP
//! service. Passwords are read from standard input (never from the command
//! line, where `ps` shows them); a token is printed once, when it is made,
//! and only its digest is stored.

use std::io::BufRead;

use clap::Subcommand;
use lava_scheduler::accounts::{Accounts, NewUser, UserUpdate};
use lava_scheduler::SqlStore;

use crate::output::{io_error, when, Db, Result};

/// The commands of this group.
#[derive(Subcommand)]
pub enum Users {
    /// Add a user.
    Add {
        /// The username.
        username: String,
        /// E-mail address (for job notifications).
        #[arg(long, default_value = "")]
        email: String,
        /// An administrator.
        #[arg(long)]
        superuser: bool,
        /// Read a password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Groups to join (they must exist).
        #[arg(long = "group")]
        groups: Vec<String>,
    },
    /// List users.
    List,
    /// Change a user.
    Update {
        /// The username.
        username: String,
        /// New e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Make an administrator.
        #[arg(long, conflicts_with = "no_superuser")]
        superuser: bool,
        /// No longer an administrator.
        #[arg(long)]
        no_superuser: bool,
        /// Let the user in again.
        #[arg(long, conflicts_with = "inactive")]
        active: bool,
        /// Keep the user out (tokens stop working).
        #[arg(long)]
        inactive: bool,
        /// Read a new password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Groups to join (they must exist).
        #[arg(long = "group")]
        groups: Vec<String>,
    },
}

/// The commands of this group.
#[derive(Subcommand)]
pub enum Groups {
    /// Add a group.
    Add {
        /// The name.
        name: String,
    },
    /// List groups.
    List,
}

/// The commands of this group.
#[derive(Subcommand)]
pub enum Tokens {
    /// Make a token for a user and print it (once: it is stored hashed).
    Add {
        /// The owner.
        #[arg(long)]
        user: String,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List a user's tokens (ids and descriptions; never the secrets).
    List {
        /// The owner.
        #[arg(long)]
        user: String,
    },
    /// Revoke a token, by id.
    Rm {
        /// The owner.
        #[arg(long)]
        user: String,
        /// The token's id (from `tokens list`).
        id: i64,
    },
}

fn password_from_stdin() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(io_error("cannot read the password from standard input"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(password)
}

fn hashed(password_stdin: bool) -> Result<Option<String>> {
    if !password_stdin {
        return Ok(None);
    }
    let password = password_from_stdin()?;
    Ok(Some(lava_web::hash_password(&password)?))
}

/// Run a `users` command.
pub fn run_users(command: Users, db: &Db) -> Result {
    let store = db.open()?;
    match command {
        Users::Add {
            username,
            email,
            superuser,
            password_stdin,
            groups,
        } => {
            let new = NewUser {
                username,
                email,
                password_hash: hashed(password_stdin)?,
                is_superuser: superuser,
            };
            user_add(&store, &new, &groups)
        }
        Users::List => user_list(&store),
        Users::Update {
            username,
            email,
            superuser,
            no_superuser,
            active,
            inactive,
            password_stdin,
            groups,
        } => {
            let update = UserUpdate {
                email,
                password_hash: hashed(password_stdin)?.map(Some),
                is_superuser: (superuser || no_superuser).then_some(superuser),
                is_active: (active || inactive).then_some(active),
            };
            user_update(&store, &username, &update, &groups)
        }
    }
}

fn user_add(store: &SqlStore, new: &NewUser, groups: &[String]) -> Result {
    store.add_user(new)?;
    for group in groups {
        store.add_user_to_group(&new.username, group)?;
    }
    println!("User {} added", new.username);
    Ok(())
}

fn user_list(store: &SqlStore) -> Result {
    for u in store.users()? {
        let mut flags = Vec::new();
        if u.is_superuser {
            flags.push("superuser".to_string());
        }
        if !u.is_active {
            flags.push("inactive".to_string());
        }
        if !u.groups.is_empty() {
            flags.push(format!("groups: {}", u.groups.join(", ")));
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", flags.join("; "))
        };
        println!("* {}{flags}", u.username);
    }
    Ok(())
}

fn user_update(store: &SqlStore, username: &str, update: &UserUpdate, groups: &[String]) -> Result {
    store.update_user(username, update)?;
    for group in groups {
        store.add_user_to_group(username, group)?;
    }
    println!("User {username} updated");
    Ok(())
}

/// Run a `groups` command.
pub fn run_groups(command: Groups, db: &Db) -> Result {
    let store = db.open()?;
    match command {
        Groups::Add { name } => println!("Group {} added", store.add_group(&name)?.name),
        Groups::List => {
            for g in store.groups()? {
                println!("* {}", g.name);
            }
        }
    }
    Ok(())
}

/// Run a `tokens` command.
pub fn run_tokens(command: Tokens, db: &Db) -> Result {
    let store = db.open()?;
    match command {
        Tokens::Add { user, description } => {
            let token = lava_web::new_token()?;
            store.add_token(&user, &description, &lava_web::token_digest(&token))?;
            // The only time the secret is shown.
            println!("{token}");
        }
        Tokens::List { user } => {
            for t in store.tokens(&user)? {
                let description = if t.description.is_empty() {
                    "-"
                } else {
                    &t.description
                };
                println!(
                    "* {}: {description} (created {}, last used {})",
                    t.id,
                    when(Some(t.created)),
                    when(t.last_used)
                );
            }
        }
        Tokens::Rm { user, id } => {
            store.remove_token(&user, id)?;
            println!("Token {id} of {user} revoked");
        }
    }
    Ok(())
}
