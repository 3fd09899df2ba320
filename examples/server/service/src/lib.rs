//! Business rules over the store: what a valid key and value are, and the counters.

use std::fmt;
use std::io;
use std::sync::atomic::Ordering;

use app_core::AppState;

/// Shown by `GET /version`.
pub const VERSION: &str = "service v1";

/// Longest key accepted, in bytes.
pub const MAX_KEY: usize = 128;
/// Largest value accepted, in bytes.
pub const MAX_VALUE: usize = 64 * 1024;

/// Why an operation was refused.
#[derive(Debug)]
pub enum ServiceError {
    /// The key is empty, too long, or has a character outside `[A-Za-z0-9._-]`.
    InvalidKey,
    /// The value is over [`MAX_VALUE`] bytes.
    TooLarge,
    /// The store could not write.
    Storage(io::Error),
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::InvalidKey => write!(f, "keys are 1 to {MAX_KEY} characters of A-Z a-z 0-9 . _ -"),
            ServiceError::TooLarge => write!(f, "values are at most {MAX_VALUE} bytes"),
            ServiceError::Storage(e) => write!(f, "storage error: {e}"),
        }
    }
}

/// Whether a put created the key or replaced its value.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    Created,
    Updated,
}

fn check_key(key: &str) -> Result<(), ServiceError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok { Ok(()) } else { Err(ServiceError::InvalidKey) }
}

/// Reads a value.
pub fn get_value(state: &AppState, key: &str) -> Result<Option<String>, ServiceError> {
    check_key(key)?;
    Ok(app_database::get(&state.store, key))
}

/// Writes a value durably (returns after fsync).
pub fn put_value(state: &AppState, key: &str, value: &str) -> Result<Stored, ServiceError> {
    check_key(key)?;
    if value.len() > MAX_VALUE {
        return Err(ServiceError::TooLarge);
    }
    match app_database::put(&state.store, key, value) {
        Ok(true) => Ok(Stored::Created),
        Ok(false) => Ok(Stored::Updated),
        Err(e) => Err(ServiceError::Storage(e)),
    }
}

/// Deletes a key; false when there was none.
pub fn delete_value(state: &AppState, key: &str) -> Result<bool, ServiceError> {
    check_key(key)?;
    app_database::delete(&state.store, key).map_err(ServiceError::Storage)
}

/// Counters for `GET /stats`.
#[derive(Debug)]
pub struct Stats {
    pub requests: u64,
    pub keys: usize,
    pub generations: u64,
    pub uptime_ms: u128,
}

/// Current counters.
pub fn stats(state: &AppState) -> Stats {
    Stats {
        requests: state.requests.load(Ordering::Relaxed),
        keys: app_database::len(&state.store),
        generations: state.generations.load(Ordering::Relaxed),
        uptime_ms: state.created.elapsed().map(|d| d.as_millis()).unwrap_or(0),
    }
}
