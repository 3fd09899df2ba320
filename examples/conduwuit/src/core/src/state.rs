//! Everything that survives a reload: hotgen keeps one `State` in its state slot, so its
//! type and every type inside it belong to this frozen crate or to registry crates
//! (whose code is never unloaded either). The crates above only hold `&'static State`.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use crate::{Config, Log, Runtime};

/// One cached row: its JSON value as stored, and the tags indexed from it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: String,
    pub tags: Vec<String>,
}

/// The in-memory cache built at start-up from every row, with a tag index.
#[derive(Default)]
pub struct Cache {
    rows: HashMap<String, Entry>,
    by_tag: HashMap<String, BTreeSet<String>>,
}

impl Cache {
    /// An empty cache with room for `rows` rows.
    pub fn with_capacity(rows: usize) -> Cache {
        Cache { rows: HashMap::with_capacity(rows), by_tag: HashMap::new() }
    }

    /// Inserts or replaces `key`, keeping the tag index right; returns the previous entry.
    pub fn insert(&mut self, key: String, entry: Entry) -> Option<Entry> {
        for tag in &entry.tags {
            self.by_tag.entry(tag.clone()).or_default().insert(key.clone());
        }
        let old = self.rows.insert(key.clone(), entry);
        if let Some(old) = &old {
            for tag in &old.tags {
                if self.rows[&key].tags.contains(tag) {
                    continue;
                }
                if let Some(keys) = self.by_tag.get_mut(tag) {
                    keys.remove(&key);
                }
            }
        }
        old
    }

    /// The entry of `key`.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.rows.get(key)
    }

    /// Keys carrying `tag`, in order.
    pub fn tagged(&self, tag: &str) -> Option<&BTreeSet<String>> {
        self.by_tag.get(tag)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no row is cached.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Number of distinct tags.
    pub fn tags(&self) -> usize {
        self.by_tag.len()
    }
}

/// The server's state, built once per process (`conduwuit_router::boot`).
pub struct State {
    pub config: Config,
    pub log: Log,
    pub runtime: Runtime,
    db: Mutex<rusqlite::Connection>,
    cache: RwLock<Cache>,
    /// How long building this state took (open, migrations, cache).
    pub boot_time: Duration,
    /// When it was built.
    pub started: Instant,
    /// Requests answered since it was built.
    pub requests: AtomicU64,
    /// The generation running now (0 in the static binary).
    pub generation: AtomicU64,
    /// Generations run on this state (1 in the static binary).
    pub generations: AtomicU64,
}

impl State {
    /// Assembles the state from its parts.
    pub fn new(
        config: Config,
        log: Log,
        runtime: Runtime,
        db: rusqlite::Connection,
        cache: Cache,
        boot_time: Duration,
    ) -> State {
        State {
            config,
            log,
            runtime,
            db: Mutex::new(db),
            cache: RwLock::new(cache),
            boot_time,
            started: Instant::now(),
            requests: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            generations: AtomicU64::new(0),
        }
    }

    /// The open database (one connection; callers keep the lock briefly).
    pub fn db(&self) -> MutexGuard<'_, rusqlite::Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cache, for reading.
    pub fn cache(&self) -> RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The cache, for writing.
    pub fn cache_mut(&self) -> RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the start of generation `n`.
    pub fn begin_generation(&self, n: u64) {
        self.generation.store(n, Ordering::Relaxed);
        self.generations.fetch_add(1, Ordering::Relaxed);
    }
}
