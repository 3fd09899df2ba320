//! The key-value store: an append-only log on disk, replayed into a map on open.
//!
//! A write is acknowledged only after its record is fsynced, so no acknowledged write
//! is lost across reloads, restarts or crashes. The store's data ([`Store`]) is a type
//! of the frozen `app_core` crate and is kept across generations; this crate holds only
//! the code (free functions on `&Store`), so it can be reloaded while the store stays open.

mod compactor;
mod record;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, RwLock};

pub use app_core::Store;
pub use compactor::Compactor;
use record::{Op, Record};

/// Shown by `GET /version`.
pub const VERSION: &str = "database v1";

/// Per-thread scratch buffer for encoding records, reused across writes.
struct Scratch {
    buf: Vec<u8>,
    records: u64,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        app_core::debug!("thread encoded {} store records", self.records);
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch { buf: Vec::new(), records: 0 }) };
}

/// Opens (creating it and its directory if needed) the log at `path` and replays it.
/// A torn record at the end (a write that crashed before its fsync returned, so was
/// never acknowledged) is cut off. Errors: I/O errors, or a corrupt record before the end.
pub fn open(path: &Path) -> io::Result<Store> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let mut map = HashMap::new();
    let mut records = 0u64;
    let mut at = 0usize;
    while at < bytes.len() {
        match Record::decode(&bytes[at..]) {
            Some((rec, used)) => {
                match rec.op {
                    Op::Put => map.insert(rec.key, rec.value),
                    Op::Delete => map.remove(&rec.key),
                };
                records += 1;
                at += used;
            }
            None => {
                app_core::warn!(
                    "{}: cutting {} bytes of an unfinished record at offset {at}",
                    path.display(),
                    bytes.len() - at
                );
                file.set_len(at as u64)?;
                file.sync_all()?;
                break;
            }
        }
    }
    app_core::info!("opened {} ({} keys, {records} records)", path.display(), map.len());
    Ok(Store {
        path: path.to_path_buf(),
        file: Mutex::new(file),
        map: RwLock::new(map),
        records: std::sync::atomic::AtomicU64::new(records),
    })
}

/// The value stored under `key`.
pub fn get(store: &Store, key: &str) -> Option<String> {
    store.map.read().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
}

/// Number of keys.
pub fn len(store: &Store) -> usize {
    store.map.read().unwrap_or_else(|e| e.into_inner()).len()
}

/// Stores `value` under `key` durably; returns true when the key is new.
/// Returns only after the record is on disk (fsync). Errors: I/O errors, after which
/// the log is cut back so later records stay readable.
pub fn put(store: &Store, key: &str, value: &str) -> io::Result<bool> {
    let mut file = store.file.lock().unwrap_or_else(|e| e.into_inner());
    append(store, &mut file, &Record { op: Op::Put, key: key.to_string(), value: value.to_string() })?;
    let mut map = store.map.write().unwrap_or_else(|e| e.into_inner());
    Ok(map.insert(key.to_string(), value.to_string()).is_none())
}

/// Removes `key` durably; returns true when it existed (nothing is written otherwise).
pub fn delete(store: &Store, key: &str) -> io::Result<bool> {
    let mut file = store.file.lock().unwrap_or_else(|e| e.into_inner());
    if get(store, key).is_none() {
        return Ok(false);
    }
    append(store, &mut file, &Record { op: Op::Delete, key: key.to_string(), value: String::new() })?;
    Ok(store.map.write().unwrap_or_else(|e| e.into_inner()).remove(key).is_some())
}

/// Appends one record to the locked log and fsyncs it. Callers update the map while
/// still holding the file lock (lock order: file, then map), so the map always equals
/// a replay of the log.
fn append(store: &Store, file: &mut File, rec: &Record) -> io::Result<()> {
    let before = file.metadata()?.len();
    let written = SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        s.buf.clear();
        rec.encode(&mut s.buf);
        s.records += 1;
        file.write_all(&s.buf).and_then(|_| file.sync_data())
    });
    if let Err(e) = written {
        let _ = file.set_len(before);
        return Err(e);
    }
    store.records.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// True when the log holds many more records than keys.
pub fn should_compact(store: &Store) -> bool {
    store.records.load(Ordering::Relaxed) > 2 * len(store) as u64 + 64
}

/// Rewrites the log with one record per key: written to a temporary file, fsynced,
/// renamed over the log, directory fsynced. Writers wait; readers do not.
pub fn compact(store: &Store) -> io::Result<()> {
    let mut file = store.file.lock().unwrap_or_else(|e| e.into_inner());
    let map = store.map.read().unwrap_or_else(|e| e.into_inner());
    let tmp = store.path.with_extension("compact.tmp");
    let mut out = Vec::new();
    for (k, v) in map.iter() {
        Record { op: Op::Put, key: k.clone(), value: v.clone() }.encode(&mut out);
    }
    let mut t = File::create(&tmp)?;
    t.write_all(&out)?;
    t.sync_all()?;
    fs::rename(&tmp, &store.path)?;
    if let Some(dir) = store.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    *file = OpenOptions::new().read(true).append(true).open(&store.path)?;
    let before = store.records.swap(map.len() as u64, Ordering::Relaxed);
    app_core::debug!("compacted {}: {before} -> {} records", store.path.display(), map.len());
    Ok(())
}

#[cfg(test)]
mod tests;
