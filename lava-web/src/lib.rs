//! The HTTP side of LAVA in Rust: the front door that CI systems and people
//! use to reach a lab.
//!
//! - **XML-RPC** at `/RPC2` (and `/RPC2/`), the methods `lavacli` calls, with
//!   LAVA's fault codes (401, 403, 404, 400);
//! - **REST API v0.2** at `/api/v0.2/`, with DRF's pagination and LAVA's
//!   field names, as the `lava-api` crate and KernelCI read them;
//! - **accounts**: API tokens stored as digests, passwords with Argon2id,
//!   job visibility enforced on every read path, refusals logged with the
//!   user and the address;
//! - **notifications** when a job ends ([`Notifier`]): the job's `notify`
//!   callbacks and e-mail, sent from their own thread, retried with
//!   back-off, never in the master's way.
//!
//! The service talks to the store only. A job submitted here is a row like
//! any other; the master sees it through the store's change notifications.
//! See `docs/api.md` in the repository for the methods, shapes and limits.
//!
//! ```no_run
//! use lava_scheduler::SqlStore;
//! use lava_web::{Service, ServiceConfig};
//!
//! let store = SqlStore::open_url("sqlite:///var/lib/lava-server/lava.db")?;
//! let config = ServiceConfig::new("127.0.0.1:8000", "/var/lib/lava-server/default/media/job-output");
//! let service = Service::bind(store, config)?;
//! println!("listening on http://{}/", service.local_addr());
//! service.run_until_signal()?; // SIGINT or SIGTERM
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]
// Handlers return the answer to give (an axum `Response`) as their error,
// axum's idiom; its size does not matter on this path.
#![allow(clippy::result_large_err)]

mod auth;
mod error;
mod live;
mod logs;
mod metrics;
mod notify;
mod rest;
mod rpc;
mod secrets;
mod server;
mod ui;
mod views;

pub use error::WebError;
pub use live::BACKLOG_BYTES;
pub use logs::{LogSlice, LOG_BYTES_PER_CALL};
pub use notify::{Notifier, NotifyConfig, MAX_ATTEMPTS};
pub use secrets::{hash_password, new_token, token_digest, verify_password, TOKEN_LENGTH};
pub use server::{Service, ServiceConfig, API_VERSION, MAX_BODY_BYTES, MAX_PAGE};
