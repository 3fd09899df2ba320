//! The state kept across generations. Its types are defined here, in the frozen crate,
//! so their layout and their drop code never change while the host runs.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

/// The key-value store's data: an open append-only log and the map replayed from it.
///
/// Only the data layout lives here; the operations (open, get, put, delete, compact)
/// are free functions of the `app_database` crate, so the store's code can be reloaded
/// while the open store itself is kept. Invariant kept by those functions: every entry
/// in `map` was written to `file` and fsynced before it was inserted.
pub struct Store {
    /// Path of the log file.
    pub path: PathBuf,
    /// The log, opened for appending; the lock also orders writers.
    pub file: Mutex<File>,
    /// Current contents.
    pub map: RwLock<HashMap<String, String>>,
    /// Records in the log file (puts and deletes), for deciding when to compact.
    pub records: AtomicU64,
}

/// Everything that survives a reload: the request counter and the open store.
pub struct AppState {
    /// Requests answered since the process started (every generation).
    pub requests: AtomicU64,
    /// Generations that have served with this state.
    pub generations: AtomicU64,
    /// The open store.
    pub store: Store,
    /// When the state was created (process start under `hotgen dev`).
    pub created: SystemTime,
}

impl AppState {
    /// Wraps an opened store.
    pub fn new(store: Store) -> AppState {
        AppState { requests: AtomicU64::new(0), generations: AtomicU64::new(0), store, created: SystemTime::now() }
    }

    /// Counts one request and returns its number (1, 2, ...).
    pub fn count_request(&self) -> u64 {
        self.requests.fetch_add(1, Ordering::Relaxed) + 1
    }
}
