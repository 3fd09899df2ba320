//! Configuration from environment variables, with defaults.

use std::env;
use std::path::PathBuf;
use std::time::Duration;

use crate::log::Level;

/// The server's settings. Read once per generation (so a reload picks up nothing new
/// from the environment, but a restart does).
#[derive(Clone, Debug)]
pub struct Config {
    /// `HOTGEN_EXAMPLE_ADDR`: address the static binary binds when it inherits no socket.
    pub addr: String,
    /// `HOTGEN_EXAMPLE_STORE`: the store's append-only log file.
    pub store_path: PathBuf,
    /// `HOTGEN_EXAMPLE_WORKERS`: worker threads kept alive while idle.
    pub min_workers: usize,
    /// `HOTGEN_EXAMPLE_MAX_WORKERS`: upper bound on worker threads (one per busy connection).
    pub max_workers: usize,
    /// `HOTGEN_EXAMPLE_LOG`: error, warn, info or debug.
    pub log_level: Level,
    /// `HOTGEN_EXAMPLE_COMPACT_MS`: how often the store checks whether to compact its log.
    pub compact_every: Duration,
    /// `HOTGEN_EXAMPLE_IDLE_MS`: how long a keep-alive connection may stay idle.
    pub idle_timeout: Duration,
    /// `HOTGEN_EXAMPLE_STOP_GRACE_MS`: after stop, how long an open connection still
    /// waits for a request before it is closed (a keep-alive client may be sending).
    pub stop_grace: Duration,
}

impl Config {
    /// Reads the environment; an unparsable number falls back to the default with a warning.
    pub fn from_env() -> Config {
        let workers = number("HOTGEN_EXAMPLE_WORKERS", 4).max(1) as usize;
        Config {
            addr: env::var("HOTGEN_EXAMPLE_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_string()),
            store_path: env::var_os("HOTGEN_EXAMPLE_STORE")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("data/store.log")),
            min_workers: workers,
            max_workers: (number("HOTGEN_EXAMPLE_MAX_WORKERS", 256) as usize).max(workers),
            log_level: env::var("HOTGEN_EXAMPLE_LOG").ok().and_then(|s| Level::parse(&s)).unwrap_or(Level::Info),
            compact_every: Duration::from_millis(number("HOTGEN_EXAMPLE_COMPACT_MS", 5_000).max(10)),
            idle_timeout: Duration::from_millis(number("HOTGEN_EXAMPLE_IDLE_MS", 30_000).max(10)),
            stop_grace: Duration::from_millis(number("HOTGEN_EXAMPLE_STOP_GRACE_MS", 100)),
        }
    }
}

fn number(var: &str, default: u64) -> u64 {
    match env::var(var) {
        Ok(s) => s.trim().parse().unwrap_or_else(|_| {
            eprintln!("warn: {var}={s:?} is not a number; using {default}");
            default
        }),
        Err(_) => default,
    }
}
