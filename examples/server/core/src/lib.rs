//! The frozen layer: everything that must outlive a reload.
//!
//! Under `hotgen dev` this crate is a dylib linked with `-z nodelete`: it is loaded
//! once and never unloaded, so the types kept across generations ([`state::AppState`]
//! and the [`state::Store`] data it holds), the logger's globals and the worker pool's
//! thread code live here. A change in this crate restarts the host instead of reloading.
//!
//! Rule for the layers above: keep nothing across generations that points into their
//! own code (no boxed closures, trait objects, panic hooks or `fn` pointers); only plain
//! data whose types are defined here.

pub mod config;
pub mod log;
pub mod pool;
pub mod shutdown;
pub mod state;

/// Shown by `GET /version`; edit it to see a change in the frozen crate restart the host.
pub const VERSION: &str = "core v1";

pub use config::Config;
pub use pool::WorkerPool;
pub use state::{AppState, Store};
