//! The service layer: start-up (filling and loading the cache), the logic the API calls,
//! and the background tasks of a generation, spawned on the runtime's handle and all
//! joined in `Services::stop` before the generation ends.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use conduwuit_core::rusqlite::Connection;
use conduwuit_core::tokio::task::JoinHandle;
use conduwuit_core::{Cache, Entry, Shutdown, State, StopSignal};
use tracing::{debug, info, info_span, warn};

/// This crate's part of `GET /version`.
pub fn version() -> &'static str {
    "service v1"
}

/// The row generated for index `i` when the table has fewer rows than configured.
pub fn sample_row(i: usize) -> (String, String) {
    let key = format!("k{i:07}");
    let value = serde_json::json!({
        "id": i,
        "name": format!("row {i}"),
        "tags": [format!("t{}", i % 97), format!("g{}", i % 13)],
        "body": "the quick brown fox jumps over the lazy dog, again and again, until the cache is warm",
    });
    (key, value.to_string())
}

/// The tags of a stored value: its `tags` array when it is a JSON object with one.
pub fn tags_of(value: &str) -> Vec<String> {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(serde_json::Value::Object(obj)) => obj
            .get("tags")
            .and_then(|t| t.as_array())
            .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Start-up work: inserts the rows the table lacks (up to `rows`), then reads every row,
/// parses it and builds the cache and its tag index.
pub fn load_cache(conn: &Connection, rows: usize) -> Result<Cache, String> {
    let _span = info_span!("load_cache", rows).entered();
    let t0 = Instant::now();
    let have = conduwuit_database::count(conn).map_err(|e| format!("count: {e}"))?;
    if have < rows {
        let added = conduwuit_database::insert_many(conn, &mut (have..rows).map(sample_row))
            .map_err(|e| format!("insert: {e}"))?;
        info!(added, ms = t0.elapsed().as_millis() as u64, "seeded the key-value table");
    }
    let mut cache = Cache::with_capacity(rows.max(have));
    conduwuit_database::for_each_row(conn, &mut |key, value| {
        cache.insert(key.to_string(), Entry { value: value.to_string(), tags: tags_of(value) });
    })
    .map_err(|e| format!("scan: {e}"))?;
    info!(rows = cache.len(), tags = cache.tags(), ms = t0.elapsed().as_millis() as u64, "cache built");
    Ok(cache)
}

/// The cached entry of `key`.
pub fn get(state: &State, key: &str) -> Option<Entry> {
    state.cache().get(key).cloned()
}

/// Stores `value` under `key` in the database, then in the cache; true when new.
pub fn put(state: &State, key: &str, value: &str) -> Result<bool, String> {
    let created = conduwuit_database::put(&state.db(), key, value).map_err(|e| e.to_string())?;
    state.cache_mut().insert(key.to_string(), Entry { value: value.to_string(), tags: tags_of(value) });
    Ok(created)
}

/// Up to `limit` keys tagged `tag` (in key order) and how many there are.
pub fn search(state: &State, tag: &str, limit: usize) -> (usize, Vec<String>) {
    let cache = state.cache();
    match cache.tagged(tag) {
        Some(keys) => (keys.len(), keys.iter().take(limit).cloned().collect()),
        None => (0, Vec::new()),
    }
}

/// The background tasks of one generation.
pub struct Services {
    shutdown: Shutdown,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl Services {
    /// Spawns the background tasks on the state's runtime.
    pub fn start(state: &'static State) -> Services {
        let (shutdown, stop) = Shutdown::new();
        let tasks = vec![
            ("stats", state.runtime.spawn(Box::pin(stats(state, stop.clone())))),
            ("checkpoint", state.runtime.spawn(Box::pin(checkpoint(state, stop)))),
        ];
        debug!(tasks = tasks.len(), "services started");
        Services { shutdown, tasks }
    }

    /// Stops the tasks and joins every one; returns how many panicked.
    pub async fn stop(self) -> usize {
        self.shutdown.trigger();
        let mut panicked = 0;
        for (name, task) in self.tasks {
            if task.await.is_err() {
                warn!(task = name, "background task panicked");
                panicked += 1;
            }
        }
        debug!(panicked, "services stopped");
        panicked
    }
}

/// Every 200 ms, notes the request rate.
async fn stats(state: &'static State, mut stop: StopSignal) {
    let mut last = state.requests.load(Ordering::Relaxed);
    while conduwuit_core::tokio::time::timeout(Duration::from_millis(200), stop.wait()).await.is_err() {
        let now = state.requests.load(Ordering::Relaxed);
        debug!(requests = now - last, rows = state.cache().len(), "stats");
        last = now;
    }
}

/// Every second, checkpoints SQLite's write-ahead log.
async fn checkpoint(state: &'static State, mut stop: StopSignal) {
    while conduwuit_core::tokio::time::timeout(Duration::from_secs(1), stop.wait()).await.is_err() {
        if let Err(e) = conduwuit_database::checkpoint(&state.db()) {
            warn!(error = %e, "checkpoint failed");
        }
    }
}
