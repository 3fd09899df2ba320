//! Configuration: defaults, then an optional JSON file (`CONDUWUIT_CONFIG`), then
//! environment variables, each overriding the one before.

use std::fmt;
use std::path::PathBuf;

use crate::log::LogReload;

/// Rows the in-memory cache is built from when neither the file nor the environment says.
/// Chosen so that a cold start of the static debug binary takes over 1 s (README).
pub const DEFAULT_ROWS: usize = 150_000;

/// The server's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the static binary listens when no socket is passed in `LISTEN_FDS`.
    pub address: String,
    /// The SQLite database file (created with its directory if missing).
    pub database_path: PathBuf,
    /// Rows in the key-value table; start-up inserts the missing ones, then loads them all.
    pub rows: usize,
    /// The initial log filter (`tracing_subscriber::EnvFilter` directives).
    pub log: String,
    /// How the log filter changes at run time (`dynamic` or `layer`, see `log`).
    pub log_reload: LogReload,
    /// Worker threads of the tokio runtime.
    pub worker_threads: usize,
}

/// A setting that could not be read.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Default for Config {
    fn default() -> Config {
        Config {
            address: "127.0.0.1:8008".into(),
            database_path: PathBuf::from("data/conduwuit.db"),
            rows: DEFAULT_ROWS,
            log: "info".into(),
            log_reload: LogReload::Dynamic,
            worker_threads: 2,
        }
    }
}

impl Config {
    /// Reads the settings from the process: the file named by `CONDUWUIT_CONFIG` (a JSON
    /// object with the keys `address`, `database_path`, `rows`, `log`, `log_reload`,
    /// `worker_threads`), then `CONDUWUIT_ADDRESS` (or `HOTGEN_EXAMPLE_ADDR`),
    /// `CONDUWUIT_DATABASE_PATH`, `CONDUWUIT_ROWS`, `CONDUWUIT_LOG`, `CONDUWUIT_LOG_RELOAD`,
    /// `CONDUWUIT_WORKER_THREADS`.
    pub fn load() -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(file) = std::env::var_os("CONDUWUIT_CONFIG") {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| ConfigError(format!("{}: {e}", PathBuf::from(&file).display())))?;
            config
                .apply_json(&text)
                .map_err(|e| ConfigError(format!("{}: {}", PathBuf::from(&file).display(), e.0)))?;
        }
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(v) = env("CONDUWUIT_ADDRESS").or_else(|| env("HOTGEN_EXAMPLE_ADDR")) {
            config.address = v;
        }
        if let Some(v) = env("CONDUWUIT_DATABASE_PATH") {
            config.database_path = v.into();
        }
        if let Some(v) = env("CONDUWUIT_ROWS") {
            config.rows = v.parse().map_err(|_| ConfigError(format!("CONDUWUIT_ROWS={v} is not a number")))?;
        }
        if let Some(v) = env("CONDUWUIT_LOG") {
            config.log = v;
        }
        if let Some(v) = env("CONDUWUIT_LOG_RELOAD") {
            config.log_reload = log_reload(&v)
                .ok_or_else(|| ConfigError(format!("CONDUWUIT_LOG_RELOAD={v}: want dynamic or layer")))?;
        }
        if let Some(v) = env("CONDUWUIT_WORKER_THREADS") {
            config.worker_threads =
                v.parse().map_err(|_| ConfigError(format!("CONDUWUIT_WORKER_THREADS={v} is not a number")))?;
        }
        Ok(config)
    }

    fn apply_json(&mut self, text: &str) -> Result<(), ConfigError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        let obj = value.as_object().ok_or_else(|| ConfigError("not a JSON object".into()))?;
        for (key, v) in obj {
            let bad = || ConfigError(format!("`{key}` has the wrong type"));
            match key.as_str() {
                "address" => self.address = v.as_str().ok_or_else(bad)?.into(),
                "database_path" => self.database_path = v.as_str().ok_or_else(bad)?.into(),
                "rows" => self.rows = v.as_u64().ok_or_else(bad)? as usize,
                "log" => self.log = v.as_str().ok_or_else(bad)?.into(),
                "log_reload" => self.log_reload = v.as_str().and_then(log_reload).ok_or_else(bad)?,
                "worker_threads" => self.worker_threads = v.as_u64().ok_or_else(bad)? as usize,
                _ => return Err(ConfigError(format!("unknown key `{key}`"))),
            }
        }
        Ok(())
    }
}

fn log_reload(name: &str) -> Option<LogReload> {
    match name {
        "dynamic" => Some(LogReload::Dynamic),
        "layer" => Some(LogReload::Layer),
        _ => None,
    }
}
